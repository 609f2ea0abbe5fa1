"""The Train page's pieces: its settings (folded into one line once there are curves to show), the live
panel that follows a training (curves and figures), the code of one step, and the look inside the
trained model. Streamlit drawing only: the widgets' keys, defaults and values are course.forms', the
figures are train_charts', the numbers are the engine's."""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st

from dashboard.course import code_view, forms
from dashboard.lab import claims, fmt, settings
from dashboard.lab.inputs import data
from dashboard.lab.training.models import REGISTRY
from dashboard.lab.training.outcome import OPTIMIZER_NAMES
from dashboard.lab.training.train import precision_choices
from dashboard.service.jobs import Job
from dashboard.service.sessions import Session
from dashboard.ui import status, train_charts

SETTINGS_OPEN = "train_settings_open"   # the folded settings' open state (an expander's key)
FOLD_NEXT = "train_fold_settings"       # set when Train was pressed: the next run folds the settings (see the curves)


@dataclass(frozen=True)
class Shown:
    """What the page follows, read once as the run starts: the session's job and whether it holds the slot,
    the training running here or inside the demo, or the training that failed."""

    job: Job | None
    busy: bool
    live: Job | None
    failed_run: Job | None

    @classmethod
    def of(cls, s: Session) -> Shown:
        job = s.job
        live = job if job is not None and job.active and job.kind in ("training", "demo") else None
        failed = job if (job is not None and job.kind == "training" and job.state == "failed"
                         and job.view.get("steps")) else None
        return cls(job, s.busy, live, failed)

    def other_job(self) -> Job | None:
        """The session's job when it is active but not a training this page follows (a compress, ...)."""
        return self.job if self.job is not None and self.job.active and self.live is None else None

    def folded(self, s: Session) -> bool:
        """Once there are curves to show, the settings fold into one line, so that on a laptop or a projector
        (1366x768, 1280x720) the curves sit right under the button, in the first screen."""
        return s.trained is not None or self.live is not None or self.failed_run is not None


def fold_settings_next_run() -> None:
    st.session_state[FOLD_NEXT] = True


def settings_label(s: Session, busy: bool) -> str:
    """The folded settings' label: what the shown model was trained with. It must not follow the widgets:
    a new label is a new expander, which would close under the student's hand at each change."""
    if busy:
        return "Settings (locked while the job runs)"
    c = s.trained.config if s.trained is not None else None
    if c is None:
        return "Settings"
    return (f"Settings (this model: {c.model} on {c.dataset}, {c.epochs} epoch{'s' if c.epochs != 1 else ''}, "
            f"batch {c.batch_size}, {OPTIMIZER_NAMES.get(c.optimizer, c.optimizer)} at learning rate {c.lr:g})")


def settings_box(s: Session, shown: Shown):
    """Where the settings go, and where the Train button goes: folded, an expander with the button beside it
    on one row; open, a plain container (the button's row comes after it: None)."""
    if st.session_state.pop(FOLD_NEXT, False):
        st.session_state[SETTINGS_OPEN] = False
    if not shown.folded(s):
        return st.container(), None
    top, button_box = st.columns([5, 1])
    return top.expander(settings_label(s, shown.busy), icon=":material/tune:", key=SETTINGS_OPEN, on_change="rerun"), button_box


def _use_bundled_digits() -> None:
    st.session_state["train_dataset"] = "digits"


def settings_widgets(busy: bool) -> None:
    """The settings, in two columns; their choices and ranges are course.forms' (a link offers the same)."""
    f = forms.field
    left, right = st.columns(2)
    with left:
        st.selectbox("Dataset", f("train_dataset").allowed(), key="train_dataset", disabled=busy,
                     format_func=lambda n: data.CATALOG[n].title,
                     help="The bundled digits work offline. The others download on first use (needs internet).")
        if (failed := data.last_failure(st.session_state["train_dataset"])) is not None:
            st.warning(f"Could not load this dataset here at {time.strftime('%H:%M', time.localtime(failed[0]))}: "
                       f"{failed[1]}", icon=":material/cloud_off:")
            st.button("Use the bundled digits instead", on_click=_use_bundled_digits, icon=":material/inventory_2:")
        st.selectbox("Model", f("train_model").allowed(), key="train_model", disabled=busy,
                     format_func=lambda n: REGISTRY[n].title)
        epochs = f("train_epochs")
        st.slider("Epochs (passes over the training images)", epochs.lo, epochs.high(), key=epochs.key,
                  disabled=busy)
        st.select_slider("Batch size (images per step)", f("train_batch").allowed(), key="train_batch", disabled=busy)
    with right:
        st.select_slider("Learning rate (peak)", f("train_lr").allowed(),
                         key="train_lr", disabled=busy, format_func=lambda v: f"{v:g}",
                         help="How big each weight update is. Too high and the loss explodes; too low and it crawls.")
        st.radio("Optimizer", f("train_optimizer").allowed(), key="train_optimizer", horizontal=True, disabled=busy,
                 format_func={"adam": "Adam", "sgd": "SGD with momentum"}.get)
        seed = f("train_seed")
        st.number_input("Seed (same seed, same result)", seed.lo, seed.high(), key=seed.key, disabled=busy)
        with st.expander("More settings"):
            st.select_slider("Training images", f("train_images").allowed(), key="train_images",   # 0: all
                             disabled=busy, format_func=lambda n: "all" if n == 0 else f"{n:,}",
                             help="Fewer images: a quicker run and a worse model.")
            st.toggle("Augment (random shifts and rotations)", key="train_augment", disabled=busy)
            st.radio("Learning-rate schedule", f("train_schedule").allowed(), key="train_schedule", horizontal=True,
                     disabled=busy, format_func={"onecycle": "warm up, then anneal", "constant": "constant"}.get)
            precision, labels = f("train_precision"), precision_choices("auto")
            if st.session_state.get(precision.key) not in labels:
                st.session_state[precision.key] = precision.default()
            st.radio("Precision", precision.allowed(), key=precision.key, horizontal=True, disabled=busy,
                     format_func=labels.get,
                     help="bf16 mixed precision runs the forward pass in 16-bit floats where this machine has native "
                          "bf16 instructions; it is offered only there.")
            st.caption(f"PyTorch threads: {settings.current().threads}, set by the server for every job. Conv nets "
                       "train in the channels-last memory layout on the CPU (the one its convolution routines are "
                       "built for; same result).")


def button_row():
    """The Train button's place under open settings."""
    button_box, _ = st.columns([1, 5])
    return button_box


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


def live_panel(s: Session, shown: Shown, *, demo_train_share: float) -> None:
    """While a training runs (here or inside the demo), its curves, redrawn every poll; afterwards the final
    model's. `demo_train_share`: the part of the demo's progress that is its training."""
    live, failed_run = shown.live, shown.failed_run

    @st.fragment(run_every=status.poll_every(s) if live is not None else None)
    def panel() -> None:
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
            if current.kind == "demo" and current.progress >= demo_train_share:
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
            st.error(f"The training failed: {current.error} The curves below show how it went.",
                     icon=":material/error:")
            view = current.view
            curves_and_metrics(view["steps"], view.get("epochs", []), None, "Energy", "n/a",
                               "The run did not finish: no test accuracy for it.")
            return
        if s.trained is not None:
            _trained_panel(s)
            return
        st.info("Choose your settings and press **Train**.", icon=":material/arrow_upward:")

    panel()


def _trained_panel(s: Session) -> None:
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
    place = s.trained_place
    if place is not None and place.remote:   # in this server's process nothing is said, as always
        st.caption(f"Trained on {place.name}: its speed and energy are that machine's.")


def code_of_one_step() -> None:
    """The code of one training step and of one inference, read from the lab's files; drawn only while open."""
    code = st.expander("The code of one training step, and of one inference", icon=":material/code:",
                       key="train_code", on_change="rerun")
    if code.open:
        code.caption("Read from the lab's own files as this page is drawn: the code that runs when you press Train, "
                     "and when a model answers. `self.loss_fn` is the cross-entropy loss.")
        for title, source in code_view.training_and_inference():
            code.markdown(f"**{title}**")
            code.code(source, language="python")


def inside_the_model(t, insp) -> None:
    """The trained model `t` seen through its inspection `insp`: sample predictions, confusion matrix,
    weights, first-layer filters."""
    st.divider()
    st.subheader("Inside the trained model")
    st.caption(f"{t.spec.name} on {t.dataset}: {fmt.pct(t.test_accuracy)} test accuracy, "
               f"{t.cost.params:,} parameters, {fmt.flops(t.cost.inference_flops_per_image)} per image for a "
               f"prediction and {fmt.flops(t.cost.train_flops_per_image)} for a training step"
               + ("" if t.completed else " (its last finite weights, from before the loss overflowed)"
                  if t.outcome is not None and t.outcome.kind == "diverged" else " (stopped early: partly trained)")
               + ".")
    tabs = st.tabs(["Sample predictions", "Confusion matrix", "Weights", "First-layer filters"])
    with tabs[0]:
        _samples(t, insp)
    with tabs[1]:
        confused = insp.confusion.most_confused(3)
        st.caption("Rows: the true class; columns: what the model said. The diagonal is right; everything else "
                   "is a mistake." + (" Most confused: " + "; ".join(f"{a} taken for {b} ({n} image{'s' if n != 1 else ''})"
                                                                     for a, b, n in confused) if confused else ""))
        st.plotly_chart(train_charts.confusion_heatmap(insp.confusion.counts, insp.confusion.classes),
                        key="train_confusion")
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


def _samples(t, insp) -> None:
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
