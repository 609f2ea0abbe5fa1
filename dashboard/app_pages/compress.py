"""Compress & benchmark: make the trained model smaller or faster, measure every version side by side."""

import streamlit as st

from dashboard.course import shareable
from dashboard.lab import claims, energy, fmt, hardware, settings
from dashboard.lab.measure import figures
from dashboard.lab.compression.compress import CompressSettings, technique
from dashboard.service import work
from dashboard.service.jobs import Busy
from dashboard.ui import charts, compress_charts, explain, session, share, status, widgets

s = session.page("Compress & benchmark", claims.statement(
                 "Inference is what a model does for the rest of its life, so making it cheaper pays off on every "
                 "request. Pick techniques, then measure every version on the same test images, in turns, on this machine."))

# Before the model check: a link opened before training keeps its settings for when there is a model.
share.apply_query(s, "compress", None, "compress")
status.require_model(s, "there is nothing to compress yet.")

t = s.trained
st.markdown(f"Compressing **{t.spec.name}** trained on **{t.dataset}** "
            f"({fmt.pct(t.test_accuracy)} test accuracy{fmt.ended(t)}).")
if t.outcome is not None and not t.outcome.ok:
    # lab.training.outcome's words (its tests check them against the run's numbers): "ln 10 = 2.30", "train longer".
    st.warning(claims.statement(f"{t.outcome.title}: {t.outcome.summary}.") + " Compressing a model that did not "
               "learn measures speed and size honestly, but its accuracy figures say little. Train it again first. "
               + claims.statement(t.outcome.advice), icon=":material/warning:")
d = CompressSettings()
FORM = {"c_unstructured": True, "c_unstructured_pct": 90, "c_channels": True, "c_channels_pct": 50,
        "c_int8_dynamic": True, "c_int8_static": True, "c_combo": False, "c_bf16": False, "c_fp16": False,
        "c_distilled": False, "c_onnx": False, "c_onnx_int8": False, "c_onnx_pruned": False, "c_finetune": 1, "c_finetune_unstructured": 0,
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
    st.checkbox(technique("onnxruntime-fp32").label, key="c_onnx",
                help="The same model run by ONNX Runtime, an engine built for inference only.")
    st.checkbox(technique("onnxruntime-int8").label, key="c_onnx_int8")
    st.checkbox(technique("pruned-channels+onnxruntime").label, key="c_onnx_pruned",
                help="Uses the 'Channels / neurons removed' setting and its fine-tuning.")
    st.caption("Compiled PyTorch (torch.compile) is measured by the command line and benchmarks/compress.py: "
               "its first call compiles for 10 to 25 s, too long for a shared server's queue.")
    with st.expander("Settings"):
        caps = settings.current().limits
        st.slider("Fine-tune epochs after removing channels", 0, min(5, caps.max_finetune_epochs), key="c_finetune")
        st.slider("Fine-tune epochs after zeroing weights", 0, min(3, caps.max_finetune_epochs),
                  key="c_finetune_unstructured")
        st.select_slider("Calibration images for int8 static",
                         [n for n in shareable.CALIBRATION_IMAGES if n <= caps.max_calibration_images], key="c_calibration")
        st.slider("Distillation temperature", 1.0, 10.0, step=0.5, key="c_temperature")
        st.slider("Weight of the teacher's soft targets (alpha)", 0.0, 1.0, step=0.1, key="c_alpha")
f = widgets.save(s, "compress", FORM)
share.share_link(FORM, "compress")

unstructured, channels = {"percent": f["c_unstructured_pct"]}, {"percent": f["c_channels_pct"]}
chosen = [("pruned-unstructured", "c_unstructured", unstructured), ("pruned-channels", "c_channels", channels),
          ("int8-dynamic", "c_int8_dynamic", {}), ("int8-static", "c_int8_static", {}),
          ("pruned-channels+int8-static", "c_combo", channels), ("bf16", "c_bf16", {}), ("fp16", "c_fp16", {}),
          ("onnxruntime-fp32", "c_onnx", {}), ("onnxruntime-int8", "c_onnx_int8", {}),
          ("pruned-channels+onnxruntime", "c_onnx_pruned", channels),
          ("student-baseline", "c_distilled", {}), ("distilled", "c_distilled", {})]
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
batch = next((r.batch_size for r in results if r.batch_size), 256)
where = "on the replay's machine" if s.results_note.startswith("a replay") else "on this machine"
st.caption(f"Measured {where} with {threads} PyTorch thread{'s' if threads != 1 else ''}, every version on "
           f"the same test images, in turns. Each figure is the median of {rounds} round{'s' if rounds != 1 else ''}. "
           f"*batch 1*: one image per call, as an app "
           f"answering one user; *batch {batch}*: {batch} images per call, as a server that groups requests.")


def measure_again(label: str, key: str) -> None:
    """A button that measures the same versions again, for this session only (never served from the cache)."""
    if st.button(label, icon=":material/refresh:", disabled=s.busy, key=key):
        rs = s.results_settings
        try:
            work.start_compress(s, rs.get("variants", names), CompressSettings(**rs.get("compress", {})), fresh=True)
        except (Busy, ValueError) as exc:
            st.error(str(exc))
        else:
            st.rerun()


if s.results_note:
    c1, c2 = st.columns([4, 1])
    c1.info(f"These figures were {s.results_note}; they were not measured again for you.", icon=":material/share:")
    with c2:
        measure_again("Measure afresh", "c_fresh")
disturbed = [r for r in results if figures.why(r)]
if disturbed:
    c1, c2 = st.columns([4, 1])
    which = "; ".join(f"{r.name} ({', '.join(w for k, w in figures.WHAT.items() if r.is_disturbed(k))})"
                      for r in disturbed)
    c1.warning(f"**Disturbed figures:** {which}. {figures.NOTICE} Measure again when the room is quieter.",
               icon=":material/group:")
    with c1.expander("Why each one is disturbed"):
        st.markdown("\n".join(f"- **{r.name}**, {line}" for r in disturbed for line in figures.why(r)))
    with c2:
        measure_again("Measure again", "c_again")
ok = [r for r in results if r.available]
fp32 = next((r for r in ok if r.name == "fp32"), None)
# Every energy figure on this page is re-priced under the user's current assumptions (country,
# watts, PUE), never read from the stored measurement as it was priced then.
energies = {r.name: s.per_image_energy(r.name) for r in results}
energies_1 = {r.name: s.per_image_energy(r.name, batch=1) for r in results}
kind = energy.kind(*[e for e in energies.values() if e]) if any(energies.values()) else "estimated"


def _scaled(v: float | None, factor: float) -> float | None:
    return None if v is None else v * factor


def _cell(v: float | None, show) -> str:
    return "–" if v is None else show(v)


# The compact table: what a student compares, every number formatted with its unit in the header,
# headers that wrap (st.table) so it fits a projector without scrolling; the rest in the expander.
st.table([{
    "version": r.name,
    "accuracy (%)": _cell(r.accuracy if r.available else None, lambda v: f"{100 * v:.2f}"),
    "size (KiB)": _cell(r.size_bytes if r.available else None, lambda v: charts.num(v / 1024)),
    "time per image, batch 1 (median call)": figures.batch1(r) if r.available else "–",
    f"throughput, batch {batch}": figures.throughput(r) if r.available else "–",
    "speed-up, batch 1": figures.speedup(r, fp32, figures.BATCH1) if r.available else "–",
    f"speed-up, batch {batch}": figures.speedup(r, fp32, figures.BATCH) if r.available else "–",
    # Energy is metered over the same timed windows as the throughput: disturbed with it.
    f"energy per 1,000 images (J, {kind})": _cell(energies[r.name].joules_per_image if energies[r.name] else None,
                                                  lambda v: charts.num(1000 * v, trim=False)
                                                  + (figures.DISTURBED if r.is_disturbed(figures.BATCH) else "")),
} for r in results], hide_index=True, border="horizontal")
st.markdown("\n".join(f"- **{r.name}**: {explain.plain(r, fp32)}" for r in results))
if layout_note := explain.layout(results):
    st.caption(layout_note)


def _range(spread: dict | None, digits: int) -> str:
    return f"{spread['min']:,.{digits}f} – {spread['max']:,.{digits}f}" if spread else ""


with st.expander("All measurements (every column, the technical notes, the spread over the rounds)"):
    st.caption(f"CPU: {hw.cpu}; features: {', '.join(hw.feature_labels) or 'none detected'}. Latency: median "
               f"(p50) and 95th percentile (p95) of single-image calls after warm-up. Throughput: batches of "
               f"{batch}. Energy under your current assumptions (change them on Training vs inference).")
    st.dataframe([{
        "version": r.name,
        "accuracy (%)": round(100 * r.accuracy, 2) if r.available and r.accuracy is not None else None,
        "agrees with fp32 (%)": round(100 * r.agreement, 2) if r.available and r.agreement is not None else None,
        "size (KiB)": round(r.size_bytes / 1024, 1) if r.available and r.size_bytes else None,
        "zlib-compressed size (KiB)": round(r.size_bytes_zlib / 1024, 1) if r.size_bytes_zlib else None,
        "parameters": r.params, "non-zero parameters": r.nonzero_params,
        "MFLOP per image": round(r.flops / 1e6, 3) if r.flops else None,
        "batch-1 p50 (ms)": r.latency_ms_batch1_p50, "batch-1 p95 (ms)": r.latency_ms_batch1_p95,
        f"batch-{batch} (images/s)": round(r.throughput_batch256_ips) if r.throughput_batch256_ips else None,
        "speed-up batch 1 (x)": figures.speedup_value(r, fp32, figures.BATCH1),
        f"speed-up batch {batch} (x)": figures.speedup_value(r, fp32, figures.BATCH),
        "disturbed": "; ".join(figures.why(r)),
        f"energy per 1,000 images, batch {batch} (J)": (round(1000 * energies[r.name].joules_per_image, 4)
                                                        if energies[r.name] else None),
        "energy per 1,000 images, batch 1 (J)": (round(1000 * energies_1[r.name].joules_per_image, 4)
                                                 if energies_1[r.name] else None),
        "CO2e per 1,000 images (mg)": (round(1e6 * energies[r.name].co2_grams_per_image, 4)
                                       if energies[r.name] else None),
        "energy method": energies[r.name].method if energies[r.name] else "",
        "memory layout": r.layout,
        "saved as": r.saved_as,
        "how it was made": r.how_made,
        "note": r.note,
    } for r in results], hide_index=True, width="stretch",
        column_config={"version": st.column_config.TextColumn("version", pinned=True)})
    st.markdown("**Spread over the rounds (min – max)**")
    st.dataframe([{
        "version": r.name,
        "batch-1 p50 (ms)": _range(r.spread.get("latency_ms_batch1_p50"), 4),
        f"batch-{batch} (images/s)": _range(r.spread.get("throughput_batch256_ips"), 0),
        "speed-up batch 1 (x)": _range(r.spread.get("speedup_batch1"), 2),
        f"speed-up batch {batch} (x)": _range(r.spread.get("speedup_batch256"), 2),
        "energy per image, max / min (x)": f"{energies[r.name].spread:.2f}" if energies[r.name] else "",
    } for r in ok], hide_index=True, width="stretch",
        column_config={"version": st.column_config.TextColumn("version", pinned=True)})

names_ok = [r.name for r in ok]
# The chart's legend (ui.compress_charts.accuracy_vs_time) defines its line: a fixed statement, decided by no measurement.
claims.statement("nothing else is both faster and more accurate")
labels_ok = [r.name + (figures.DISTURBED if r.disturbed else "") for r in ok]
st.plotly_chart(compress_charts.accuracy_vs_time(labels_ok, [r.latency_ms_batch1_p50 for r in ok],
                                        [r.accuracy for r in ok], batch=1), key="c_pareto1")
st.plotly_chart(compress_charts.accuracy_vs_time(labels_ok, [1000 / r.throughput_batch256_ips if r.throughput_batch256_ips
                                                   else None for r in ok], [r.accuracy for r in ok], batch=batch),
                key="c_pareto256")
st.caption("Each mark is one version of your model (hover for its figures). The time axis is logarithmic: each "
           "gridline step multiplies the time, so equal distances are equal ratios. The accuracy axis is zoomed "
           "in to the measured range. The dashed line joins the best trade-offs: "
           + claims.statement("no other version is both faster and more accurate than one on the line") + ".")
a, b = st.columns(2)
# A bar's number is the table's speed-up cell (figures.speedup); a disturbed one has no bar.
a.plotly_chart(charts.bars(names_ok, [figures.speedup_value(r, fp32, figures.BATCH1) for r in ok],
                           title="Speed-up at batch 1", axis="times fp32's speed (×; dashed line: fp32)",
                           reference=1.0, label=fmt.times), key="c_speed1")
b.plotly_chart(charts.bars(names_ok, [figures.speedup_value(r, fp32, figures.BATCH) for r in ok],
                           title=f"Speed-up at batch {batch}", axis="times fp32's speed (×; dashed line: fp32)",
                           reference=1.0, label=fmt.times), key="c_speed256")
a, b = st.columns(2)
a.plotly_chart(charts.amounts(names_ok, [r.size_bytes / 1024 if r.size_bytes else None for r in ok],
                              title="Size on disk", axis="saved file", unit="KiB"), key="c_size")
b.plotly_chart(charts.amounts(names_ok, [_scaled(energies[n].joules_per_image, 1000) if energies[n] else None
                                         for n in names_ok],
                              title=f"Energy per 1,000 images ({kind})", axis=f"{kind} energy, batch {batch}",
                              unit="J"), key="c_energy")
a, b = st.columns(2)
a.plotly_chart(charts.amounts(names_ok, [_scaled(energies[n].co2_grams_per_image, 1e6) if energies[n] else None
                                         for n in names_ok],
                              title=f"CO₂e per 1,000 images ({kind})", axis=f"{kind} CO₂e, batch {batch}",
                              unit="mg"), key="c_co2")
b.caption(("Energy **measured** by the processor's energy counters" if kind == "measured" else
           "Energy **estimated**: the processor time each version used × an assumed power, plus memory by "
           "CodeCarbon's model (this machine gives no power counters to read)")
          + f". CO₂e = energy × the carbon intensity of the grid of {energy.country(s.settings.country_iso).name}. "
          "Change the country or the watts on Training vs inference: every figure here follows. The exact method "
          "is in *All measurements*.")

why = explain.for_results(results)
missing = [r for r in results if not r.available]
if why or missing:
    st.subheader("Why did it come out so?")
    for title, text in why:
        with st.expander(title):
            st.markdown(text)
    for r in missing:
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
    st.plotly_chart(compress_charts.sensitivity([f"{x.layer} ({x.kind}, {x.params:,} weights)" for x in sc.layers],
                                       sc.sparsities, sc.accuracy_table(), sc.baseline_accuracy), key="c_sens")

# ---- Download your model (lab.deploy.export): files are made when a button is clicked, not on every rerun.
from dashboard.lab.deploy import export as model_export  # noqa: E402
from dashboard.service import exports  # noqa: E402

st.divider()
st.subheader("Download your model")
st.caption(f"Your trained {t.spec.name} as files to use outside the lab. **ONNX**: runs in ONNX Runtime "
           "(Python, C++, C#, JavaScript, phones) at any batch size, no PyTorch needed. **PyTorch weights**: "
           "the state_dict, loaded into the same architecture built from the lab's code. The **script** "
           "runs both, preparing images exactly as the lab does.")
dl = st.columns(3)
dl[0].download_button("ONNX file", data=lambda: exports.onnx_in_turn(s),
                      file_name=model_export.file_name(t, "onnx"), mime=model_export.ONNX_MIME, on_click="ignore",
                      icon=":material/download:", key="c_dl_onnx")
dl[1].download_button("PyTorch weights (.pt)", data=lambda: model_export.pt_file(s.trained_model()),
                      file_name=model_export.file_name(t, "pt"), mime=model_export.PT_MIME, on_click="ignore",
                      icon=":material/download:", key="c_dl_pt")
dl[2].download_button("How to run it elsewhere (.py)", data=model_export.snippet(t),
                      file_name=model_export.file_name(t, "snippet"), mime=model_export.SNIPPET_MIME,
                      on_click="ignore", icon=":material/code:", key="c_dl_snippet")
