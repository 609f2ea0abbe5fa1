"""Train: choose data, model and settings; watch it learn; look inside the result."""

import streamlit as st

from dashboard.lab.data import CATALOG, DatasetUnavailable
from dashboard.lab.inspect import inspect_model
from dashboard.lab.models import MODEL_NAMES, REGISTRY
from dashboard.lab.slot import COMPUTE
from dashboard.lab.train import OPTIMIZERS, TrainConfig
from dashboard.ui import charts, fmt, live, session, status, widgets

s = session.page("Train a model",
                 "Training shows the model labelled images batch by batch and adjusts its weights to reduce the loss. "
                 "Watch the loss fall and the accuracy rise; stop whenever you like.")

FORM = {  # widget key -> default; kept in the Session so a page change does not reset them
    # 3 epochs (not the engine's 6) keep a live run under ten seconds on a 2-core laptop.
    "train_dataset": "digits", "train_model": "cnn", "train_epochs": 3, "train_batch": 64, "train_lr": TrainConfig().lr,
    "train_optimizer": "adam", "train_seed": 0, "train_images": 0, "train_augment": False,
    "train_schedule": "onecycle", "train_threads": 0,
}
widgets.restore(s, "train", FORM)
busy = s.training

left, right = st.columns(2)
with left:
    st.selectbox("Dataset", list(CATALOG), key="train_dataset", disabled=busy,
                 format_func=lambda n: CATALOG[n].title,
                 help="The bundled digits work offline. The others download on first use (needs internet).")
    st.selectbox("Model", MODEL_NAMES, key="train_model", disabled=busy, format_func=lambda n: REGISTRY[n].title)
    st.slider("Epochs (passes over the training images)", 1, 10, key="train_epochs", disabled=busy)
    st.select_slider("Batch size (images per step)", [16, 32, 64, 128, 256], key="train_batch", disabled=busy)
with right:
    st.select_slider("Learning rate (peak)", [0.0001, 0.0003, 0.001, 0.002, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
                     key="train_lr", disabled=busy, format_func=lambda v: f"{v:g}",
                     help="How big each weight update is. Too high and the loss explodes; too low and it crawls.")
    st.radio("Optimizer", OPTIMIZERS, key="train_optimizer", horizontal=True, disabled=busy,
             format_func={"adam": "Adam", "sgd": "SGD with momentum"}.get)
    st.number_input("Seed (same seed, same result)", 0, 10_000, key="train_seed", disabled=busy)
    with st.expander("More settings"):
        st.select_slider("Training images", [0, 500, 1000, 2000, 4000, 8000, 20000], key="train_images",
                         disabled=busy, format_func=lambda n: "all" if n == 0 else f"{n:,}",
                         help="Fewer images: a quicker run and a worse model.")
        st.toggle("Augment (random shifts and rotations)", key="train_augment", disabled=busy)
        st.radio("Learning-rate schedule", ["onecycle", "constant"], key="train_schedule", horizontal=True,
                 disabled=busy, format_func={"onecycle": "warm up, then anneal", "constant": "constant"}.get)
        st.number_input("CPU threads (0 = leave as is)", 0, 64, key="train_threads", disabled=busy,
                        help="Process-wide: on a shared server this changes it for everyone.")
form = widgets.save(s, "train", FORM)

b1, b2, _ = st.columns([1, 1, 4])
start = b1.button("Train", type="primary", disabled=busy, icon=":material/play_arrow:")
stop = b2.button("Stop training", disabled=not busy, icon=":material/stop:")

if start:
    config = TrainConfig(model=form["train_model"], dataset=form["train_dataset"], epochs=form["train_epochs"],
                         batch_size=form["train_batch"], lr=form["train_lr"], optimizer=form["train_optimizer"],
                         schedule=form["train_schedule"], seed=int(form["train_seed"]),
                         threads=form["train_threads"] or None, augment=form["train_augment"])
    try:
        with st.spinner(f"Loading {CATALOG[config.dataset].title}..."):
            data = session.dataset(config.dataset, max_train=form["train_images"] or None, augment=config.augment)
        live.start(s, config, data)
    except DatasetUnavailable as exc:
        st.error(f"{exc}", icon=":material/cloud_off:")
    except ValueError as exc:
        st.error(f"These settings cannot train: {exc}.")
    else:
        st.rerun()  # redraw with the settings locked and the Stop button live
if stop and s.training:
    live.stop(s)
    st.rerun()


@st.fragment(run_every=0.2 if busy else None)
def live_panel() -> None:
    """Draw the last completed chunk, then train the next one (so the page never looks stale)."""
    run = s.live
    if run is not None:
        steps, epochs, total = run.steps, run.epochs, run.run.total_steps
        last = steps[-1] if steps else None
        st.progress(run.run.progress, text=f"Training: step {run.run.step:,} of {total:,}"
                                           + (f", epoch {last.epoch} of {run.config.epochs}" if last else ""))
        reading, energy_label = live.energy_so_far(run), "Energy so far"
    elif s.trained is not None:
        steps, epochs, last = s.steps, s.trained.history, (s.steps[-1] if s.steps else None)
        reading, energy_label = s.training_energy, "Training energy"
    else:
        st.info("Choose your settings and press **Train**.", icon=":material/arrow_upward:")
        return
    m = st.columns(4)
    m[0].metric("Speed", fmt.rate(last.images_per_second) if last else "starting...",
                help="Training images per second of engine time.")
    m[1].metric("Elapsed (engine time)", fmt.seconds(last.elapsed_s) if last else "0 s")
    if run is None:  # finished or stopped: the final model's own evaluation, also mid-epoch
        m[2].metric("Test accuracy", fmt.pct(s.trained.test_accuracy),
                    help="Measured on images the model never trains on, on the model as it ended.")
    else:
        m[2].metric("Test accuracy", fmt.pct(epochs[-1].test_accuracy) if epochs else "after epoch 1",
                    help="Measured on images the model never trains on, after each epoch.")
    with m[3]:
        status.energy_badge(reading, label=energy_label)
    st.plotly_chart(charts.training_curves(steps, epochs), key="train_curves")
    if s.training:
        waiting = st.empty()
        live.advance(s, on_wait=status.waiting_line(waiting))
        waiting.empty()
        if not s.training:   # finished (or diverged) in this chunk: redraw the whole page
            st.rerun()


live_panel()

if s.trained is not None and not s.training:
    t = s.trained
    st.divider()
    st.subheader("Inside the trained model")
    st.caption(f"{t.spec.name} on {t.dataset}: {fmt.pct(t.test_accuracy)} test accuracy, "
               f"{t.cost.params:,} parameters, {fmt.flops(t.cost.inference_flops_per_image)} per image for a "
               f"prediction and {fmt.flops(t.cost.train_flops_per_image)} for a training step"
               + ("" if t.completed else " (stopped early: partly trained)") + ".")
    if s.inspection is None:
        with COMPUTE.hold("inspecting a model"):
            s.inspection = inspect_model(t.module, s.trained_on)
    insp = s.inspection
    tabs = st.tabs(["Sample predictions", "Confusion matrix", "Weights", "First-layer filters"])
    with tabs[0]:
        wrong = sum(not x.correct for x in insp.samples)
        st.caption(f"{len(insp.samples)} test images, {wrong} of them picked among the mistakes. "
                   "Caption: ✓ right or ✗ true→predicted, and how sure the model was.")
        per_row = 8
        for r in range(0, len(insp.samples), per_row):
            for col, x in zip(st.columns(per_row), insp.samples[r:r + per_row]):
                mark = "✓" if x.correct else f"✗ {x.label}→"
                col.image(x.image, clamp=True, width="stretch",
                          caption=f"{mark} {x.predicted} · {100 * x.confidence:.0f} %")
    with tabs[1]:
        confused = insp.confusion.most_confused(3)
        st.caption("Rows: the true class; columns: what the model said. The diagonal is right; everything else "
                   "is a mistake." + (" Most confused: " + "; ".join(f"{a} taken for {b} ({n}×)" for a, b, n in confused)
                                      if confused else ""))
        st.plotly_chart(charts.confusion_heatmap(insp.confusion.counts, insp.confusion.classes), key="train_confusion")
    with tabs[2]:
        st.caption("How each layer's weights are spread. Training starts from small random values; what you see "
                   "is where learning moved them. Pruning will later set many of them to exactly zero.")
        st.plotly_chart(charts.weight_histograms(insp.histograms), key="train_hist")
    with tabs[3]:
        fl = insp.first_layer
        if fl is None:
            st.info("This model's first layer cannot be drawn as images.")
        else:
            what = ("each 3×3 filter the first convolution slides over the image" if fl.kind == "conv"
                    else "what each first-layer neuron responds to, drawn at the image's size")
            st.caption(f"{fl.layer}: {what} (showing {len(fl.images)} of {fl.total}). Purple: positive weight, "
                       "orange: negative, white: near zero.")
            st.plotly_chart(charts.first_layer_filters(fl.images), key="train_filters")
