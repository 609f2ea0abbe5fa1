"""Compress & benchmark: make the trained model smaller or faster, measure every version side by side."""

import streamlit as st

from dashboard.lab import energy, hardware, settings
from dashboard.lab.compress import CompressSettings, technique
from dashboard.service import activity, explain, work
from dashboard.service.jobs import Busy
from dashboard.ui import charts, fmt, session, status, widgets

s = session.page("Compress & benchmark",
                 "Inference is what a model does for the rest of its life, so making it cheaper pays off on every "
                 "request. Pick techniques, then measure every version on the same test images, in turns, on this machine.")

status.require_model(s, "there is nothing to compress yet.")

t = s.trained
st.markdown(f"Compressing **{t.spec.name}** trained on **{t.dataset}** "
            f"({fmt.pct(t.test_accuracy)} test accuracy{'' if t.completed else ', stopped early'}).")
d = CompressSettings()
FORM = {"c_unstructured": True, "c_unstructured_pct": 90, "c_channels": True, "c_channels_pct": 50,
        "c_int8_dynamic": True, "c_int8_static": True, "c_combo": False, "c_bf16": False, "c_fp16": False,
        "c_distilled": False, "c_onnx": False, "c_finetune": 1, "c_finetune_unstructured": 0,
        "c_calibration": d.calibration_images, "c_temperature": d.distill_temperature, "c_alpha": d.distill_alpha}
widgets.restore(s, "compress", FORM)

cols = st.columns(3)
with cols[0].container(border=True):
    st.markdown("**Pruning**")
    st.checkbox(technique("pruned-unstructured").label, key="c_unstructured")
    st.slider("Weights set to zero (%)", 10, 95, step=5, key="c_unstructured_pct")
    st.checkbox(technique("pruned-channels").label, key="c_channels")
    st.slider("Channels / neurons removed (%)", 10, 90, step=10, key="c_channels_pct")
with cols[1].container(border=True):
    st.markdown("**Quantization (8-bit integers)**")
    st.checkbox(technique("int8-dynamic").label, key="c_int8_dynamic")
    st.checkbox(technique("int8-static").label, key="c_int8_static")
    st.checkbox(technique("pruned-channels+int8-static").label, key="c_combo")
    st.markdown("**Half precision**")
    st.checkbox(technique("bf16").label, key="c_bf16",
                help="Offered only where this CPU runs it natively; otherwise shown as unavailable.")
    st.checkbox(technique("fp16").label, key="c_fp16")
with cols[2].container(border=True):
    st.markdown("**Distillation and runtimes**")
    st.checkbox("Distil into a tiny CNN (and train it without the teacher, to compare)", key="c_distilled")
    st.checkbox(technique("onnxruntime-fp32").label, key="c_onnx")
    with st.expander("Settings"):
        caps = settings.current().limits
        st.slider("Fine-tune epochs after removing channels", 0, min(5, caps.max_finetune_epochs), key="c_finetune")
        st.slider("Fine-tune epochs after zeroing weights", 0, min(3, caps.max_finetune_epochs),
                  key="c_finetune_unstructured")
        st.select_slider("Calibration images for int8 static",
                         [n for n in (64, 256, 1024, 4096) if n <= caps.max_calibration_images], key="c_calibration")
        st.slider("Distillation temperature", 1.0, 10.0, step=0.5, key="c_temperature")
        st.slider("Weight of the teacher's soft targets (alpha)", 0.0, 1.0, step=0.1, key="c_alpha")
f = widgets.save(s, "compress", FORM)

unstructured, channels = {"percent": f["c_unstructured_pct"]}, {"percent": f["c_channels_pct"]}
chosen = [("pruned-unstructured", "c_unstructured", unstructured), ("pruned-channels", "c_channels", channels),
          ("int8-dynamic", "c_int8_dynamic", {}), ("int8-static", "c_int8_static", {}),
          ("pruned-channels+int8-static", "c_combo", channels), ("bf16", "c_bf16", {}), ("fp16", "c_fp16", {}),
          ("onnxruntime-fp32", "c_onnx", {}), ("student-baseline", "c_distilled", {}), ("distilled", "c_distilled", {})]
names = ["fp32"] + [technique(key).name(**params) for key, box, params in chosen if f[box]]
compress_settings = CompressSettings(finetune_epochs_channels=f["c_finetune"],
                            finetune_epochs_unstructured=f["c_finetune_unstructured"],
                            calibration_images=f["c_calibration"], distill_temperature=f["c_temperature"],
                            distill_alpha=f["c_alpha"])
st.caption("Will make and measure: " + ", ".join(names) + ". fp32 (the trained model) is always the baseline.")

if st.button("Compress & measure", type="primary", icon=":material/speed:", disabled=s.busy):
    try:
        work.start_compress(s, names, compress_settings)
    except Busy as exc:
        st.error(str(exc))
    except ValueError as exc:
        st.error(f"These settings cannot run: {exc}. Your model and earlier results are kept.")
    else:
        st.rerun()
if s.busy and s.job.kind not in ("compress", "sensitivity"):
    st.caption(f"Your {s.job.kind} is under way; compress once it has ended.")
status.job_panel(s, ("compress",), key="compress")

results = s.results
if not results:
    st.stop()

st.divider()
st.subheader("Side by side")
hw = hardware.describe()
threads = next((r.threads for r in results if r.threads), hw.threads)  # what the measurement used
rounds = next((r.rounds for r in results if r.rounds), 0)
st.caption(f"Measured on {hw.cpu} with {threads} PyTorch thread(s); CPU features: "
           f"{', '.join(hw.feature_labels) or 'none detected'}. Latency: median (p50) and 95th percentile (p95) "
           f"of single-image calls after warm-up. Throughput: batches of 256. Every figure is the median of "
           f"{rounds} interleaved rounds; the spread table below gives their range.")
if s.results_note:
    c1, c2 = st.columns([4, 1])
    c1.info(f"These figures were {s.results_note}; they were not measured again for you.", icon=":material/share:")
    if c2.button("Measure afresh", icon=":material/refresh:", disabled=s.busy, key="c_fresh"):
        rs = s.results_settings
        try:
            work.start_compress(s, rs.get("variants", names), CompressSettings(**rs.get("compress", {})), fresh=True)
        except (Busy, ValueError) as exc:
            st.error(str(exc))
        else:
            st.rerun()
last = next((r for r in reversed(s.runs) if r.record.results), None)
if last is not None and (last.record.interference or {}).get("notable"):
    st.warning(activity.sentence(last.record.interference), icon=":material/group:")
ok = [r for r in results if r.available]


def _range(spread: dict | None, digits: int) -> str:
    return f"{spread['min']:,.{digits}f} – {spread['max']:,.{digits}f}" if spread else ""


rows = []
for r in results:
    e = s.per_image_energy(r.name)
    rows.append({
        "variant": r.name,
        "accuracy (%)": round(100 * r.accuracy, 2) if r.available else None,
        "agrees with fp32 (%)": round(100 * r.agreement, 2) if r.available else None,
        "size (KiB)": round(r.size_bytes / 1024, 1) if r.available else None,
        "parameters": r.params, "non-zero parameters": r.nonzero_params,
        "MFLOP per image": round(r.flops / 1e6, 3) if r.flops else None,
        "batch-1 p50 (ms)": r.latency_ms_batch1_p50, "batch-1 p95 (ms)": r.latency_ms_batch1_p95,
        "batch-256 (images/s)": round(r.throughput_batch256_ips) if r.throughput_batch256_ips else None,
        "speed-up batch 1 (x)": r.speedup_batch1, "speed-up batch 256 (x)": r.speedup_batch256,
        "energy per 1,000 images (J)": round(1000 * e.joules_per_image, 4) if e else None,
        "CO2e per 1,000 images (mg)": round(1e6 * e.co2_grams_per_image, 4) if e else None,
        "energy method": e.method if e else "",
        "note": r.note,
    })
st.dataframe(rows, hide_index=True, width="stretch")
with st.expander("Spread over the rounds (min – max)"):
    st.dataframe([{
        "variant": r.name,
        "batch-1 p50 (ms)": _range(r.spread.get("latency_ms_batch1_p50"), 4),
        "batch-256 (images/s)": _range(r.spread.get("throughput_batch256_ips"), 0),
        "speed-up batch 1 (x)": _range(r.spread.get("speedup_batch1"), 2),
        "speed-up batch 256 (x)": _range(r.spread.get("speedup_batch256"), 2),
        "energy per image, max / min (x)": f"{r.energy.spread:.2f}" if r.energy else "",
    } for r in ok], hide_index=True, width="stretch")

names_ok = [r.name for r in ok]
a, b = st.columns(2)
a.plotly_chart(charts.accuracy_vs_time(names_ok, [r.latency_ms_batch1_p50 for r in ok],
                                       [r.accuracy for r in ok], batch=1), key="c_pareto1")
b.plotly_chart(charts.accuracy_vs_time(names_ok, [1000 / r.throughput_batch256_ips if r.throughput_batch256_ips else None
                                                  for r in ok], [r.accuracy for r in ok], batch=256), key="c_pareto256")
a, b = st.columns(2)
a.plotly_chart(charts.bars(names_ok, [r.speedup_batch1 for r in ok], title="Speed-up at batch 1",
                           axis="speed-up over fp32 (x; right of the dashed line is faster)", reference=1.0,
                           suffix="×"), key="c_speed1")
b.plotly_chart(charts.bars(names_ok, [r.speedup_batch256 for r in ok], title="Speed-up at batch 256",
                           axis="speed-up over fp32 (x; right of the dashed line is faster)", reference=1.0,
                           suffix="×"), key="c_speed256")
a, b = st.columns(2)
a.plotly_chart(charts.bars(names_ok, [r.size_bytes / 1024 for r in ok], title="Size on disk",
                           axis="saved file (KiB)", suffix=" KiB"), key="c_size")
energies = [s.per_image_energy(r.name) for r in ok]
kind = energy.kind(*energies) if all(energies) else "estimated"
b.plotly_chart(charts.bars(names_ok, [1000 * e.joules_per_image if e else None for e in energies],
                           title=f"Energy per 1,000 images ({kind})", axis=f"{kind} energy (J per 1,000 images)",
                           suffix=" J"), key="c_energy")
methods = sorted({e.method for e in energies if e})
st.caption("Energy: " + (" | ".join(methods) if methods else "not measured") +
           f". CO₂e uses the grid of {s.settings.country_iso} (change it on Training vs inference).")
a.plotly_chart(charts.bars(names_ok, [1e6 * e.co2_grams_per_image if e else None for e in energies],
                           title=f"CO₂e per 1,000 images ({kind})", axis=f"{kind} CO₂e (mg per 1,000 images)",
                           suffix=" mg"), key="c_co2")

with b:
    if why := explain.for_results([r.name for r in results]):
        st.markdown("**Why did it come out so?**")
    for title, text in why:
        with st.expander(title):
            st.markdown(text)
    for r in results:
        if not r.available:
            st.warning(f"**{r.name}** not available here: {r.note}")

st.divider()
st.subheader("Sensitivity scan")
st.caption("Prune one layer at a time to increasing sparsity and measure accuracy: layers whose line stays flat "
           "can lose many weights; steep ones cannot. This is how to choose per-layer pruning ratios.")
if st.button("Run sensitivity scan", icon=":material/query_stats:", disabled=s.busy):
    try:
        work.start_sensitivity(s)
    except (Busy, ValueError) as exc:
        st.error(str(exc))
    else:
        st.rerun()
status.job_panel(s, ("sensitivity",), key="sensitivity")
if s.sensitivity is not None:
    sc = s.sensitivity
    st.plotly_chart(charts.sensitivity([f"{x.layer} ({x.kind}, {x.params:,} weights)" for x in sc.layers],
                                       sc.sparsities, sc.accuracy_table(), sc.baseline_accuracy), key="c_sens")
