"""Train: choose data, model and settings; watch it learn; look inside the result."""

import time

import streamlit as st

from dashboard.course import code_view, shareable
from dashboard.lab import claims, fmt, settings
from dashboard.lab.inputs import data
from dashboard.lab.training.models import MODEL_NAMES, REGISTRY
from dashboard.lab.training.outcome import OPTIMIZER_NAMES
from dashboard.lab.training.train import OPTIMIZERS, TrainConfig, precision_choices
from dashboard.service import work
from dashboard.service.jobs import Busy
from dashboard.ui import session, share, status, train_charts, widgets

s = session.page("Train a model",
                 "Training shows the model labelled images batch by batch and adjusts its weights to reduce the loss. "
                 "Watch the loss fall and the accuracy rise; stop whenever you like.")

caps = settings.current().limits
precisions = precision_choices("auto")
FORM = {  # widget key -> default; kept in the Session so a page change does not reset them
    # 3 epochs (not the engine's 6) keep a live run under ten seconds on a 2-core laptop.
    "train_dataset": "digits", "train_model": "cnn", "train_epochs": min(3, caps.max_epochs), "train_batch": 64,
    "train_lr": TrainConfig().lr, "train_optimizer": "adam", "train_seed": 0, "train_images": 0,
    "train_augment": False, "train_schedule": "onecycle", "train_precision": "fp32",
}
share.apply_query(s, "train", FORM, "train")
widgets.restore(s, "train", FORM)
busy = s.busy
job = s.job
live = job if job is not None and job.active and job.kind in ("training", "demo") else None
failed_run = job if (job is not None and job.kind == "training" and job.state == "failed"
                     and job.view.get("steps")) else None
SETTINGS_OPEN = "train_settings_open"   # the folded settings' open state (an expander's key)
if st.session_state.pop("train_fold_settings", False):   # set when Train was pressed: see the curves
    st.session_state[SETTINGS_OPEN] = False


def use_bundled_digits() -> None:
    st.session_state["train_dataset"] = "digits"


def settings_label() -> str:
    """The folded settings' label: what the shown model was trained with. It must not follow the widgets:
    a new label is a new expander, which would close under the student's hand at each change."""
    if busy:
        return "Settings (locked while the job runs)"
    c = s.trained.config if s.trained is not None else None
    if c is None:
        return "Settings"
    return (f"Settings (this model: {c.model} on {c.dataset}, {c.epochs} epoch{'s' if c.epochs != 1 else ''}, "
            f"batch {c.batch_size}, {OPTIMIZER_NAMES.get(c.optimizer, c.optimizer)} at learning rate {c.lr:g})")


# Once there are curves to show, the settings fold into one line, so that on a laptop or a projector
# (1366x768, 1280x720) the curves sit right under the button, in the first screen.
folded = s.trained is not None or live is not None or failed_run is not None
if folded:   # the folded settings and the Train button on one row
    top, button_box = st.columns([5, 1])
    form_box = top.expander(settings_label(), icon=":material/tune:", key=SETTINGS_OPEN, on_change="rerun")
else:
    form_box = st.container()
with form_box:
    left, right = st.columns(2)
with left:
    st.selectbox("Dataset", list(data.CATALOG), key="train_dataset", disabled=busy,
                 format_func=lambda n: data.CATALOG[n].title,
                 help="The bundled digits work offline. The others download on first use (needs internet).")
    if (failed := data.last_failure(st.session_state["train_dataset"])) is not None:
        st.warning(f"Could not load this dataset here at {time.strftime('%H:%M', time.localtime(failed[0]))}: "
                   f"{failed[1]}", icon=":material/cloud_off:")
        st.button("Use the bundled digits instead", on_click=use_bundled_digits, icon=":material/inventory_2:")
    st.selectbox("Model", MODEL_NAMES, key="train_model", disabled=busy, format_func=lambda n: REGISTRY[n].title)
    st.slider("Epochs (passes over the training images)", 1, caps.max_epochs, key="train_epochs", disabled=busy)
    st.select_slider("Batch size (images per step)", [b for b in shareable.BATCH_SIZES if b <= caps.max_batch_size],
                     key="train_batch", disabled=busy)
with right:
    st.select_slider("Learning rate (peak)", list(shareable.LEARNING_RATES),
                     key="train_lr", disabled=busy, format_func=lambda v: f"{v:g}",
                     help="How big each weight update is. Too high and the loss explodes; too low and it crawls.")
    st.radio("Optimizer", OPTIMIZERS, key="train_optimizer", horizontal=True, disabled=busy,
             format_func={"adam": "Adam", "sgd": "SGD with momentum"}.get)
    st.number_input("Seed (same seed, same result)", 0, 10_000, key="train_seed", disabled=busy)
    with st.expander("More settings"):
        sizes = [n for n in shareable.TRAIN_IMAGES if n <= caps.max_train_images]   # 0: all
        st.select_slider("Training images", sizes, key="train_images",
                         disabled=busy, format_func=lambda n: "all" if n == 0 else f"{n:,}",
                         help="Fewer images: a quicker run and a worse model.")
        st.toggle("Augment (random shifts and rotations)", key="train_augment", disabled=busy)
        st.radio("Learning-rate schedule", ["onecycle", "constant"], key="train_schedule", horizontal=True,
                 disabled=busy, format_func={"onecycle": "warm up, then anneal", "constant": "constant"}.get)
        if st.session_state.get("train_precision") not in precisions:
            st.session_state["train_precision"] = "fp32"
        st.radio("Precision", list(precisions), key="train_precision", horizontal=True, disabled=busy,
                 format_func=precisions.get,
                 help="bf16 mixed precision runs the forward pass in 16-bit floats where this machine has native "
                      "bf16 instructions; it is offered only there.")
        st.caption(f"PyTorch threads: {settings.current().threads}, set by the server for every job. Conv nets "
                   "train in the channels-last memory layout on the CPU (the one its convolution routines are built "
                   "for; same result).")
form = widgets.save(s, "train", FORM)
with form_box:
    share.share_link(FORM, "train")

if not folded:
    button_box, _ = st.columns([1, 5])
start = button_box.button("Train", type="primary", disabled=busy, icon=":material/play_arrow:", width="stretch")
if start:
    config = TrainConfig(model=form["train_model"], dataset=form["train_dataset"], epochs=form["train_epochs"],
                         batch_size=form["train_batch"], lr=form["train_lr"], optimizer=form["train_optimizer"],
                         schedule=form["train_schedule"], seed=int(form["train_seed"]),
                         augment=form["train_augment"], train_images=form["train_images"] or None,
                         precision=form["train_precision"])
    try:
        work.start_training(s, config)
    except Busy as exc:
        st.error(str(exc))
    except ValueError as exc:
        st.error(f"These settings cannot train: {exc}.")
    else:
        st.session_state["train_fold_settings"] = True
        st.rerun()  # redraw with the settings locked and folded, and the live panel polling

if job is not None and job.active and live is None:
    button_box.caption(f"Your {job.kind} is under way.")


def curves_and_metrics(steps, epochs, reading, energy_label: str, accuracy: str, accuracy_help: str) -> None:
    """The curves first (what a student watches), then the figures under them."""
    st.plotly_chart(train_charts.training_curves(steps, epochs), key="train_curves")
    last = steps[-1] if steps else None
    m = st.columns(4)
    m[0].metric("Speed (images/s)", f"{last.images_per_second:,.0f}" if last else "starting...",
                help="Training images per second of engine time.")
    m[1].metric("Elapsed (engine time)", fmt.seconds(last.elapsed_s) if last else "0 s",
                help="Time inside the training loop: its steps and the test after each epoch; not the wait "
                     "for a free slot, loading the data or drawing this page.")
    m[2].metric("Test accuracy", accuracy, help=accuracy_help)
    with m[3]:
        status.energy_badge(reading, label=energy_label)


@st.fragment(run_every=status.poll_every(s) if live is not None else None)
def live_panel() -> None:
    """While a training runs (here or inside the demo), its curves; afterwards the final model's."""
    current = s.job
    if live is not None and (current is not live or not live.active):
        st.rerun(scope="app")  # it ended: the whole page shows the result
    if live is not None and "steps" not in live.view:
        status.job_progress(live, stop_label="Stop training" if live.kind == "training" else "Stop",
                            key="train_wait")   # queued, or loading its data
        return
    if live is not None:
        current, view = live, live.view
        status.job_progress(current, stop_label="Stop training" if current.kind == "training" else "Stop",
                            key="train_stop")
        if current.kind == "demo" and current.progress >= work.DEMO_TRAIN_SHARE:
            # The demo has moved on to measuring: redrawing the curves every second would take CPU
            # from its measurement. They come back when it ends.
            st.caption("Training is done; the demo is now making and measuring the compressed versions.")
            return
        epochs = view.get("epochs", [])
        curves_and_metrics(view.get("steps", []), epochs, view.get("energy_so_far"), "Energy so far",
                           fmt.pct(epochs[-1].test_accuracy) if epochs else "after epoch 1",
                           "Measured on images the model never trains on, after each epoch.")
        return
    if failed_run is not None and current is failed_run:
        st.error(f"The training failed: {current.error} The curves below show how it went.", icon=":material/error:")
        view = current.view
        curves_and_metrics(view["steps"], view.get("epochs", []), None, "Energy", "n/a",
                           "The run did not finish: no test accuracy for it.")
        return
    if s.trained is not None:
        outcome = s.trained.outcome
        # lab.training.outcome's words are built from the run's own numbers (its tests check them): stated as such.
        if outcome is not None and not outcome.ok:   # say what went wrong before the numbers that show it
            show = st.error if outcome.level == "error" else st.warning
            show(f"**{outcome.title}.** {claims.statement(outcome.explanation)} **What to try:** "
                 f"{claims.statement(outcome.advice)}",
                 icon=":material/error:" if outcome.level == "error" else ":material/warning:")
        elif outcome is not None and outcome.advice:
            st.info(claims.statement(outcome.advice), icon=":material/lightbulb:")
        diverged = outcome is not None and outcome.kind == "diverged"
        curves_and_metrics(s.steps, s.trained.history, s.training_energy_now(), "Training energy",
                           fmt.pct(s.trained.test_accuracy),
                           "Measured on images the model never trains on, on the model as it ended"
                           + (": its last weights before the loss overflowed." if diverged else "."))
        return
    st.info("Choose your settings and press **Train**.", icon=":material/arrow_upward:")


live_panel()

code = st.expander("The code of one training step, and of one inference", icon=":material/code:",
                   key="train_code", on_change="rerun")   # drawn only while open
if code.open:
    code.caption("Read from the lab's own files as this page is drawn: the code that runs when you press Train, "
                 "and when a model answers. `self.loss_fn` is the cross-entropy loss.")
    for title, source in code_view.training_and_inference():
        code.markdown(f"**{title}**")
        code.code(source, language="python")

if s.trained is not None and live is None:
    t = s.trained
    st.divider()
    st.subheader("Inside the trained model")
    st.caption(f"{t.spec.name} on {t.dataset}: {fmt.pct(t.test_accuracy)} test accuracy, "
               f"{t.cost.params:,} parameters, {fmt.flops(t.cost.inference_flops_per_image)} per image for a "
               f"prediction and {fmt.flops(t.cost.train_flops_per_image)} for a training step"
               + ("" if t.completed else " (its last finite weights, from before the loss overflowed)"
                  if t.outcome is not None and t.outcome.kind == "diverged" else " (stopped early: partly trained)")
               + ".")
    insp = s.inspection
    tabs = st.tabs(["Sample predictions", "Confusion matrix", "Weights", "First-layer filters"])
    with tabs[0]:
        # What the model answers overall comes first: a model that says one class to everything gets
        # every image of that class right, and a grid of those ✓ would read as a success.
        n_test = int(insp.confusion.counts.sum())
        st.caption(f"What the model answers over all {n_test:,} test images: "
                   + ", ".join(f"'{c}' {100 * x:.0f} %" for c, x in insp.answers()) + ".")
        if (dominant := insp.dominant()) is not None:
            c, x = dominant
            st.warning(f"The model answers '{c}' for {100 * x:.0f} % of the test images: it has collapsed onto one "
                       f"answer. The ✓ tiles below are images of '{c}' it gets right only because it says '{c}' to "
                       "(almost) everything, not because it learned them.", icon=":material/warning:")
        wrong = sum(not x.correct for x in insp.samples)
        extra = wrong / max(len(insp.samples), 1) > (1 - t.test_accuracy) + 0.05
        st.caption(f"{len(insp.samples)} test images: {wrong} mistakes (✗) and {len(insp.samples) - wrong} right (✓). "
                   f"Overall the model gets {fmt.pct(1 - t.test_accuracy)} of the test images wrong"
                   + ("; the gallery is picked to hold at least a quarter of mistakes, so there is something to "
                      "look at" if extra else "") +
                   ". Caption: ✓ right or ✗ true→predicted, and how sure the model was.")
        per_row = 8
        for r in range(0, len(insp.samples), per_row):
            for col, x in zip(st.columns(per_row), insp.samples[r:r + per_row]):
                mark = "✓" if x.correct else f"✗ {x.label}→"
                col.image(x.image, clamp=True, width="stretch",
                          caption=f"{mark} {x.predicted} · {100 * x.confidence:.0f} %")
    with tabs[1]:
        confused = insp.confusion.most_confused(3)
        st.caption("Rows: the true class; columns: what the model said. The diagonal is right; everything else "
                   "is a mistake." + (" Most confused: " + "; ".join(f"{a} taken for {b} ({n} image{'s' if n != 1 else ''})"
                                                                     for a, b, n in confused) if confused else ""))
        st.plotly_chart(train_charts.confusion_heatmap(insp.confusion.counts, insp.confusion.classes), key="train_confusion")
    with tabs[2]:
        st.caption("How each layer's weights are spread. Training starts from small random values; what you see "
                   "is where learning moved them. Pruning, on Compress & benchmark, sets many of them to exactly zero.")
        st.plotly_chart(train_charts.weight_histograms(insp.histograms), key="train_hist")
    with tabs[3]:
        fl = insp.first_layer
        if fl is None:
            st.info("This model's first layer cannot be drawn as images.")
        else:
            what = ("each 3×3 filter the first convolution slides over the image" if fl.kind == "conv"
                    else "what each first-layer neuron responds to, drawn at the image's size")
            st.caption(f"{fl.layer}: {what} (showing {len(fl.images)} of {fl.total}). Purple: positive weight, "
                       "orange: negative, white: near zero.")
            st.plotly_chart(train_charts.first_layer_filters(fl.images), key="train_filters")
