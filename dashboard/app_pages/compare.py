"""Training vs inference: what one training image costs against one prediction, from this user's runs."""

import streamlit as st

from dashboard.lab import energy, footprint
from dashboard.lab.compress import CompressSettings
from dashboard.lab.energy import EnergySettings
from dashboard.lab.inspect import training_vs_inference
from dashboard.service import explain, work
from dashboard.service.jobs import Busy
from dashboard.ui import charts, fmt, session, status

s = session.page("Training vs inference",
                 "Training is paid once; inference is paid on every request. Here is what each costs on this machine, "
                 "from your own runs, and when the cheap-but-frequent side overtakes the expensive-but-once side.")

status.require_model(s, "this page compares *your* training with *your* model's inference.")

# --- the user's assumptions: country, watts, PUE, price -------------------------------------------
cfg = s.settings
with st.expander("Assumptions: electricity grid, power, data-centre overhead, price", expanded=False):
    places = energy.countries()
    isos = [c.iso for c in places]
    names = {c.iso: f"{c.name} ({c.gco2_per_kwh:.0f} gCO₂e/kWh)" for c in places}
    a, b = st.columns(2)
    iso = a.selectbox("Electricity grid (country)", isos, index=isos.index(cfg.country_iso) if cfg.country_iso in isos else 0,
                      format_func=names.get, key="cmp_country",
                      help="CO₂ per kWh from CodeCarbon's bundled data; changing it recomputes, it does not re-run.")
    cpu_w = b.number_input("CPU power at full load (W, 0 = CodeCarbon's estimate)", 0.0, 1000.0,
                           value=float(cfg.cpu_watts or 0.0), step=5.0, key="cmp_cpu_w")
    pue = a.slider("PUE (data-centre overhead; 1.0 = a laptop)", 1.0, 2.5, value=float(cfg.pue), step=0.05, key="cmp_pue")
    # Up to 1000 per kWh: prices are in the server's currency (31 JPY/kWh is an ordinary price).
    price = b.number_input(f"Electricity price ({cfg.currency} per kWh)", 0.0, 1000.0,
                           value=min(float(cfg.price_per_kwh), 1000.0), step=0.01, format="%.4f", key="cmp_price")
    new = EnergySettings(country_iso=iso, cpu_watts=cpu_w or None, pue=pue, price_per_kwh=price, currency=cfg.currency)
    try:
        new.validate()
    except ValueError as exc:
        st.warning(f"{exc}. Keeping the previous assumptions.")
    else:
        s.energy_settings = cfg = new
    st.caption(f"Price source: {cfg.price_source}.")
    st.markdown(explain.text("energy"))

# --- inference side: which measured variant ----------------------------------------------------------
measured = [r for r in s.results if r.available and r.energy is not None]
if not measured:
    st.warning("Your model's inference has not been measured yet. Measure the fp32 model now (a few seconds), "
               "or compress and measure several versions on the Compress page.", icon=":material/speed:")
    if st.button("Measure inference", type="primary", icon=":material/speed:", disabled=s.busy):
        try:
            work.start_compress(s, ["fp32"], CompressSettings(), kind="measure fp32")
        except (Busy, ValueError) as exc:
            st.error(str(exc))
        else:
            st.rerun()
    status.job_panel(s, ("compress",), key="measure")
    st.stop()

names = [r.name for r in measured]
pick = st.selectbox("Inference by which version of your model?", names, key="cmp_variant",
                    help="Compressed versions make inference cheaper; training stays what it was.")
result = next(r for r in measured if r.name == pick)
per_image = s.per_image_energy(pick)
train_energy = s.training_energy_now()
tvi = training_vs_inference(s.trained, train_energy, (result.latency_ms_batch1_p50 or 0) / 1000 or None,
                            result.flops, per_image.joules_per_image, per_image.co2_grams_per_image)

kind_t = energy.kind(train_energy) if train_energy is not None else "estimated"
kind_i = energy.kind(per_image)
kind = kind_t if kind_t == kind_i else "training " + kind_t + ", inference " + kind_i

# --- per image ------------------------------------------------------------------------------------
st.subheader("One image: a training step vs an inference")
def _times(metric: str) -> str:
    ratio = tvi.ratio(metric)
    return f"{ratio:,.3g}×" if ratio else "n/a"


st.markdown(
    "| per image | one training step | one inference | training / inference |\n|---|---|---|---|\n"
    f"| time | {fmt.seconds(tvi.training.seconds)} | {fmt.seconds(tvi.inference.seconds)} | {_times('seconds')} |\n"
    f"| FLOPs | {fmt.flops(tvi.training.flops)} | {fmt.flops(tvi.inference.flops)} | {_times('flops')} |\n"
    f"| energy ({kind}) | {fmt.energy(tvi.training.joules)} | {fmt.energy(tvi.inference.joules)} | {_times('joules')} |\n"
    f"| CO₂e ({kind}) | {fmt.co2(tvi.training.co2_grams)} | {fmt.co2(tvi.inference.co2_grams)} | {_times('co2_grams')} |")
st.caption(f"Training time: training seconds / images processed (batches of {s.trained.config.batch_size}). "
           "Inference time: median single-image latency. FLOPs: torch.utils.flop_counter; a training step is "
           "forward + backward.")
st.plotly_chart(charts.per_image_comparison([
    ("Time", "s", tvi.training.seconds, tvi.inference.seconds),
    ("FLOPs", "FLOP", tvi.training.flops, tvi.inference.flops),
    (f"Energy ({kind})", "J", tvi.training.joules, tvi.inference.joules),
    (f"CO₂e ({kind})", "g", tvi.training.co2_grams, tvi.inference.co2_grams),
]), key="cmp_per_image")
st.caption(f"Training energy ({kind_t}): {train_energy.method if train_energy else 'not metered'}. "
           f"Inference energy ({kind_i}, per image at batch {result.batch_size}, median of {len(per_image.readings)} "
           f"windows, spread {per_image.spread:.2f}x): {per_image.method}.")

# --- break-even ----------------------------------------------------------------------------------
st.subheader("Break-even: when inference has cost as much as training")
if tvi.breakeven_inferences is None:
    st.info("Training energy was not metered for this model, so there is no break-even to show.")
else:
    st.markdown(f"Your training used **{fmt.energy(tvi.training_joules)}** ({kind_t}) over {tvi.training_images:,} "
                f"training images. One inference with **{pick}** uses **{fmt.energy(tvi.inference.joules)}** "
                f"({kind_i}). After **{fmt.count(tvi.breakeven_inferences)} inferences**, serving the model has used "
                "as much energy as training it did.")
    st.plotly_chart(charts.breakeven(tvi.training_joules, tvi.inference.joules, tvi.breakeven_inferences, kind),
                    key="cmp_breakeven")

    # --- lifetime --------------------------------------------------------------------------------
    st.subheader("Lifetime projection")
    a, b = st.columns(2)
    per_day = a.select_slider("Requests per day", [100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000],
                              value=100_000, format_func=fmt.count, key="cmp_requests")
    days = b.slider("Days in service (days)", 1, 3650, 365, key="cmp_days")
    proj = footprint.project_lifetime(tvi.training_joules, tvi.inference.joules, requests_per_day=per_day,
                                      days=days, settings=cfg)
    m = st.columns(4)
    m[0].metric(f"Total energy ({kind})", f"{proj.total.kwh:.3g} kWh")
    m[1].metric(f"Total CO₂e ({kind})", f"{proj.total.co2_kg:.3g} kg", help=f"Grid: {proj.country_iso}, "
                                                                  f"{proj.grid_gco2_per_kwh:.0f} gCO₂e/kWh")
    m[2].metric(f"Electricity cost ({kind} energy)", f"{proj.total.cost:.3g} {proj.total.currency}")
    m[3].metric("Share spent on inference", fmt.pct(proj.inference_share),
                help=f"Inference overtakes training after {proj.breakeven_days:.3g} days.")
    st.plotly_chart(charts.lifetime(days, proj.training.kwh, proj.inference.kwh, f"kWh, {kind}"), key="cmp_lifetime")
    with st.expander(f"What is that in everyday terms? ({kind} energy)"):
        eq = footprint.equivalents(proj.total.joules, cfg)
        st.dataframe([{"about as much as": f"{e['count']:.3g} {e['unit']}", "source": e["source"], "note": e["note"]}
                      for e in eq], hide_index=True, width="stretch")

st.markdown(explain.text("training-vs-inference"))
