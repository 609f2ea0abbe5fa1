"""Training vs inference: what one image costs in training against inference, each in its own regime.
Layout only: the comparison is the engine's (lab.measure.training_vs_inference), the sections ui.tvi_view's."""

import streamlit as st

from dashboard.lab import claims
from dashboard.lab.compression.compress import CompressSettings
from dashboard.lab.measure.training_vs_inference import REALTIME, compare
from dashboard.service import measuring
from dashboard.service.jobs import Busy
from dashboard.ui import assumptions, explain, session, status, tvi_view

s = session.page("Training vs inference",
                 "Training is paid once; inference is paid on every request. Here is what each costs, from your own "
                 "runs on the machine that ran them, and when the cheap-but-frequent side overtakes the "
                 "expensive-but-once side.")

status.require_model(s, "this page compares *your* training with *your* model's inference.")
assumptions.assumptions_panel(s, key_prefix="cmp")

# --- inference side: which measured variant ----------------------------------------------------------
measured = [r for r in s.results if r.available and r.energy is not None]
if not measured:
    st.warning("Your model's inference has not been measured yet. Measure the fp32 model now (a few seconds), "
               "or compress and measure several versions on the Compress page.", icon=":material/speed:")
    if st.button("Measure inference", type="primary", icon=":material/speed:", disabled=s.busy):
        try:
            measuring.start_compress(s, ["fp32"], CompressSettings(), kind="measure fp32")
        except (Busy, ValueError) as exc:
            st.error(str(exc))
        else:
            st.rerun()
    status.job_panel(s, ("compress",), key="measure")
    st.stop()

pick = st.selectbox("Inference by which version of your model?", [r.name for r in measured], key="cmp_variant",
                    help="Compressed versions make inference cheaper; training stays what it was.")
result = next(r for r in measured if r.name == pick)
train_energy = s.training_energy_now()
realtime_energy, serving_energy = s.per_image_energy(pick, batch=1), s.per_image_energy(pick)
tvi = compare(s.trained, train_energy, result, realtime_energy, serving_energy)
_, rt, sv = tvi.regimes   # training, real-time, serving
tvi_view.machines(s)
tvi_view.disturbed_notice(result, pick)

tvi_view.per_image(tvi, result)
tvi_view.reading_it(tvi)
tvi_view.latency_or_throughput(tvi, result)
tvi_view.memory(s)
if s.layer_flops is not None:
    tvi_view.layer_flops(s.layer_flops)

st.subheader("Energy: what these figures are made of")
assumptions.energy_parts(s, {"training steps": train_energy, "real-time inference": realtime_energy,
                             "serving inference": serving_energy})
tvi_view.energy_parts_note(s, tvi)

st.subheader("Break-even: when inference has cost as much as training")
if tvi.training_joules is None:
    st.info("Training energy was not metered for this model, so there is no break-even to show.")
    st.stop()
tvi_view.breakeven(tvi)

st.subheader("Lifetime projection")
per_day, days, regime = tvi_view.lifetime_widgets(sv)
chosen = rt if regime == REALTIME else sv
if chosen.joules is None:
    st.info("This regime's energy was not measured for this version.")
    st.stop()
if chosen.disturbed:
    st.info("This regime's figures for this version are disturbed (the server was busy while they were measured), "
            "so no projection is built on them: measure again on Compress & benchmark, or pick the other regime.")
    st.stop()
projection = tvi_view.lifetime(s, tvi, chosen, per_day, days)
tvi_view.published_figures(pick, chosen, sv, regime, per_day, days, projection)

st.markdown(claims.statement(explain.text("training-vs-inference")))   # the teaching text: decided by no measurement
