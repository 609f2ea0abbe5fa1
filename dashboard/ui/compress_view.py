"""The Compress & benchmark page's pieces: the techniques to pick, and the measured versions side by side
(the compact table, every measurement, the charts, why it came out so), the sensitivity scan's chart and
the model's downloads. Streamlit drawing only: the widgets' keys, defaults and ranges are course.forms',
the figures compress_charts' and charts', every number the engine's (lab.measure.figures formats them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from dashboard.course import forms
from dashboard.lab import claims, energy, fmt, hardware
from dashboard.lab.compression.compress import technique
from dashboard.lab.deploy import export as model_export
from dashboard.lab.measure import figures
from dashboard.lab.measure.bench import BenchResult
from dashboard.service import exports
from dashboard.service.sessions import Session
from dashboard.ui import charts, compress_charts, explain


def about_the_model(t) -> None:
    """Which model is compressed, and a warning when its training went wrong."""
    st.markdown(f"Compressing **{t.spec.name}** trained on **{t.dataset}** "
                f"({fmt.pct(t.test_accuracy)} test accuracy{fmt.ended(t)}).")
    if t.outcome is not None and not t.outcome.ok:
        # lab.training.outcome's words (its tests check them against the run's numbers): "ln 10 = 2.30", "train longer".
        st.warning(claims.statement(f"{t.outcome.title}: {t.outcome.summary}.") + " Compressing a model that did not "
                   "learn measures speed and size honestly, but its accuracy figures say little. Train it again first. "
                   + claims.statement(t.outcome.advice), icon=":material/warning:")


def _slider(label: str, key: str) -> None:
    f = forms.field(key)
    st.slider(label, f.lo, f.high(), step=f.step, key=key)


def settings_widgets() -> None:
    """The techniques in three boxes, and their settings; ranges and choices are course.forms'."""
    cols = st.columns(3)
    with cols[0].container(border=True):
        st.markdown("**Pruning**")
        st.checkbox(technique("pruned-unstructured").label, key="c_unstructured")
        _slider("Weights set to zero (%)", "c_unstructured_pct")
        st.checkbox(technique("pruned-channels").label, key="c_channels")
        _slider("Channels / neurons removed (%)", "c_channels_pct")
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
            _slider("Fine-tune epochs after removing channels", "c_finetune")
            _slider("Fine-tune epochs after zeroing weights", "c_finetune_unstructured")
            st.select_slider("Calibration images for int8 static", forms.field("c_calibration").allowed(),
                             key="c_calibration")
            _slider("Distillation temperature", "c_temperature")
            _slider("Weight of the teacher's soft targets (alpha)", "c_alpha")


@dataclass(frozen=True)
class Measured:
    """The session's measured versions as this page shows them: the regime they were measured in, and every
    energy figure re-priced under the student's current assumptions (country, watts, PUE), never read from
    the stored measurement as it was priced then."""

    results: list[BenchResult]
    ok: list[BenchResult]            # the versions this machine could run
    fp32: BenchResult | None         # every speed-up's baseline
    hw: hardware.HardwareInfo
    threads: int
    rounds: int
    batch: int
    energies: dict                   # name -> per-image energy at `batch` (None: not metered)
    energies_1: dict                 # ... at batch 1
    kind: str                        # measured or estimated
    machine: str = ""                # the compute cluster's node that measured them ("": this server)

    @classmethod
    def of(cls, s: Session) -> Measured:
        results = s.results
        place = s.results_place   # a Ray node's figures name that node and its CPU, not this server's
        remote = place is not None and place.remote and bool(place.hardware)
        hw = hardware.HardwareInfo.from_dict(place.hardware) if remote else hardware.describe()
        ok = [r for r in results if r.available]
        energies = {r.name: s.per_image_energy(r.name) for r in results}
        return cls(results, ok, next((r for r in ok if r.name == "fp32"), None), hw,
                   threads=next((r.threads for r in results if r.threads), hw.threads),   # what the measurement used
                   rounds=next((r.rounds for r in results if r.rounds), 0),
                   batch=next((r.batch_size for r in results if r.batch_size), 256),
                   energies=energies, energies_1={r.name: s.per_image_energy(r.name, batch=1) for r in results},
                   kind=energy.kind(*[e for e in energies.values() if e]) if any(energies.values()) else "estimated",
                   machine=place.name if remote else "")


def how_measured(m: Measured, results_note: str) -> None:
    st.divider()
    st.subheader("Side by side")
    where = ("on the replay's machine" if results_note.startswith("a replay") else
             f"on {m.machine}" if m.machine else "on this machine")
    st.caption(f"Measured {where} with {m.threads} PyTorch thread{'s' if m.threads != 1 else ''}, every version on "
               f"the same test images, in turns. Each figure is the median of {m.rounds} "
               f"round{'s' if m.rounds != 1 else ''}. *batch 1*: one image per call, as an app "
               f"answering one user; *batch {m.batch}*: {m.batch} images per call, as a server that groups requests.")


def notices(m: Measured, results_note: str, measure_again: Callable[[str, str], None]) -> None:
    """Figures served from elsewhere, and disturbed figures, each with its button to measure again
    (`measure_again(label, key)` draws it)."""
    if results_note:
        c1, c2 = st.columns([4, 1])
        c1.info(f"These figures were {results_note}; they were not measured again for you.", icon=":material/share:")
        with c2:
            measure_again("Measure afresh", "c_fresh")
    disturbed = [r for r in m.results if figures.why(r)]
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


def _scaled(v: float | None, factor: float) -> float | None:
    return None if v is None else v * factor


def _cell(v: float | None, show) -> str:
    return "–" if v is None else show(v)


def table(m: Measured) -> None:
    """The compact table: what a student compares, every number formatted with its unit in the header,
    headers that wrap (st.table) so it fits a projector without scrolling; the rest in all_measurements."""
    batch, fp32, energies, kind = m.batch, m.fp32, m.energies, m.kind
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
    } for r in m.results], hide_index=True, border="horizontal")
    st.markdown("\n".join(f"- **{r.name}**: {explain.plain(r, fp32)}" for r in m.results))
    if layout_note := explain.layout(m.results):
        st.caption(layout_note)


def _range(spread: dict | None, digits: int) -> str:
    return f"{spread['min']:,.{digits}f} – {spread['max']:,.{digits}f}" if spread else ""


def all_measurements(m: Measured) -> None:
    """Every column, the technical notes and the spread over the rounds, folded."""
    batch, fp32, energies, energies_1, hw = m.batch, m.fp32, m.energies, m.energies_1, m.hw
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
        } for r in m.results], hide_index=True, width="stretch",
            column_config={"version": st.column_config.TextColumn("version", pinned=True)})
        st.markdown("**Spread over the rounds (min – max)**")
        st.dataframe([{
            "version": r.name,
            "batch-1 p50 (ms)": _range(r.spread.get("latency_ms_batch1_p50"), 4),
            f"batch-{batch} (images/s)": _range(r.spread.get("throughput_batch256_ips"), 0),
            "speed-up batch 1 (x)": _range(r.spread.get("speedup_batch1"), 2),
            f"speed-up batch {batch} (x)": _range(r.spread.get("speedup_batch256"), 2),
            "energy per image, max / min (x)": f"{energies[r.name].spread:.2f}" if energies[r.name] else "",
        } for r in m.ok], hide_index=True, width="stretch",
            column_config={"version": st.column_config.TextColumn("version", pinned=True)})


def charts_of(m: Measured, country_iso: str) -> None:
    """Accuracy against time at batch 1 and at the server's batch, then speed-up, size, energy and CO2e."""
    ok, fp32, batch, energies, kind = m.ok, m.fp32, m.batch, m.energies, m.kind
    names_ok = [r.name for r in ok]
    # The chart's legend (compress_charts.accuracy_vs_time) defines its line: a fixed statement, decided by no
    # measurement.
    claims.statement("nothing else is both faster and more accurate")
    labels_ok = [r.name + (figures.DISTURBED if r.disturbed else "") for r in ok]
    st.plotly_chart(compress_charts.accuracy_vs_time(labels_ok, [r.latency_ms_batch1_p50 for r in ok],
                                                     [r.accuracy for r in ok], batch=1), key="c_pareto1")
    st.plotly_chart(compress_charts.accuracy_vs_time(
        labels_ok, [1000 / r.throughput_batch256_ips if r.throughput_batch256_ips else None for r in ok],
        [r.accuracy for r in ok], batch=batch), key="c_pareto256")
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
              + f". CO₂e = energy × the carbon intensity of the grid of {energy.country(country_iso).name}. "
              "Change the country or the watts on Training vs inference: every figure here follows. The exact method "
              "is in *All measurements*.")


def why_so(m: Measured) -> None:
    """What explains the figures (explain.for_results), and the versions this machine could not run."""
    why = explain.for_results(m.results)
    missing = [r for r in m.results if not r.available]
    if why or missing:
        st.subheader("Why did it come out so?")
        for title, text in why:
            with st.expander(title):
                st.markdown(text)
        for r in missing:
            st.warning(f"**{r.name}** not available here: {r.note}")


def sensitivity_chart(sc) -> None:
    st.plotly_chart(compress_charts.sensitivity([f"{x.layer} ({x.kind}, {x.params:,} weights)" for x in sc.layers],
                                                sc.sparsities, sc.accuracy_table(), sc.baseline_accuracy),
                    key="c_sens")


def downloads(s: Session, t) -> None:
    """The trained model as files (lab.deploy.export): made when a button is clicked, not on every rerun."""
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
