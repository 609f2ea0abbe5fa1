"""Measure on this device (Edge & cloud): the button, the browser component that runs the student's ONNX files with
onnxruntime-web (ui/device_component/, shipped inside the package: no CDN), and what the browser measured beside
the server's figure for the same file, with why they differ. Streamlit only: the files and the checks of what the
browser sends are the engine's (lab.deploy.browser_models, browser_result), the job service.device_jobs'.

    device_view.section(s)      # the page's one call

The component is mounted only after the button, under a new run id each time: a rerun sends its arguments again
(the files too), and the browser measures once per run id. Its answer is checked before anything is kept.
"""

from __future__ import annotations

import mimetypes
import secrets
import time
from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

from dashboard.lab import claims, fmt
from dashboard.lab.deploy import browser_models, browser_result
from dashboard.lab.deploy.browser_models import BrowserModel, BrowserSet
from dashboard.lab.measure import figures
from dashboard.lab.serving import onnx_export
from dashboard.service import device_jobs
from dashboard.service.sessions import Session
from dashboard.ui import glossary, status

RUNTIME_VERSION = "1.30.0"   # onnxruntime-web, as shipped in device_component/ (its README says from where)
COMPONENT_DIR = Path(__file__).with_name("device_component")
WASM_FILE = COMPONENT_DIR / "ort-wasm-simd-threaded.wasm"
# The browser checks the runtime it keeps (IndexedDB) against this size; a missing file is said on the page.
WASM_BYTES = WASM_FILE.stat().st_size if WASM_FILE.is_file() else 0
RUN_KEY, AFTER_JOB_KEY, ERROR_KEY = "device_run", "device_after_job", "device_error"

# Streamlit sends a component's files with the type Python's mimetypes guesses: a module script must be JavaScript.
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/javascript", ".mjs")
_component = components.declare_component("device_measure", path=str(COMPONENT_DIR))


def _pending(s: Session, bset: BrowserSet | None) -> str | None:
    """The run id this tab asked its browser to measure, if any (a new one once the files' job has made them)."""
    g = st.session_state
    if g.get(AFTER_JOB_KEY) and not s.busy:
        del g[AFTER_JOB_KEY]
        if bset is not None:
            g[RUN_KEY] = secrets.token_hex(8)
    if g.get(RUN_KEY) and bset is None:   # the model changed since: nothing to measure
        del g[RUN_KEY]
    return g.get(RUN_KEY)


def mount(bset: BrowserSet, run_id: str) -> dict | None:
    """The browser component running `bset`'s files under `run_id` (measured once per run id, however often a rerun
    mounts it again); what the browser sent back, unchecked, or None while it measures. benchmarks/browser_device.py
    mounts it too."""
    files = {f"model_{i}": m.onnx for i, m in enumerate(bset.models)}
    return _component(run_id=run_id, models=[m.name for m in bset.models], example=bset.example,
                      shape=list(bset.shape), input_name=onnx_export.INPUT_NAME, output_name=onnx_export.OUTPUT_NAME,
                      runtime_version=RUNTIME_VERSION, wasm_bytes=WASM_BYTES, height=40, default=None,
                      key=f"device_measure_{run_id}", **files)


def _measure(s: Session, bset: BrowserSet, run_id: str) -> None:
    """Mount the component for `run_id`; keep what it sends back once it has, or say why it was refused."""
    value = mount(bset, run_id)
    if value is None:
        return
    del st.session_state[RUN_KEY]
    try:
        device_jobs.keep_browser_result(s, bset, value, run_id)
    except browser_result.BadBrowserResult as exc:
        st.session_state[ERROR_KEY] = f"Your browser's figures were not kept: {exc}."


def section(s: Session) -> None:
    """The whole part: what it does, the button, the files' job, the browser measuring, then its figures."""
    st.subheader("Measured on your device")
    st.markdown("**Measure on this device** runs your model's versions in *this* browser, on the computer or phone "
                "you are holding: exported to ONNX here, then run by onnxruntime-web (WebAssembly, 1 thread). Your "
                "device's times come back to this page beside this server's for the same file.")
    if not WASM_BYTES:
        st.error("This copy of the app is missing its browser runtime (ui/device_component/): reinstall it.")
        return
    kept = st.session_state.setdefault("versions_kept", {})
    bset = device_jobs.current(s, kept)
    button = st.container()   # above the browser's line, drawn once this run knows whether it still measures
    run_id = _pending(s, bset)
    if run_id is not None:
        _measure(s, bset, run_id)
    if button.button("Measure on this device", icon=":material/smartphone:", key="device_measure",
                     disabled=s.busy or st.session_state.get(RUN_KEY) is not None,
                     help="The first time, this browser downloads the 14 MB runtime from this server and keeps it."):
        st.session_state.pop(ERROR_KEY, None)
        if bset is None:
            if status.started(lambda: device_jobs.start_browser_files(s, kept), "{}"):
                st.session_state[AFTER_JOB_KEY] = True
                st.rerun()
        else:
            _measure(s, bset, st.session_state.setdefault(RUN_KEY, secrets.token_hex(8)))
    status.job_panel(s, ("device",), key="device")
    if error := st.session_state.get(ERROR_KEY):
        st.error(error, icon=":material/error:")
    if bset is not None and bset.runs:
        shown(bset, bset.runs[-1])


# --- what was measured ------------------------------------------------------------------------------------------

def _server(m: BrowserModel) -> str:
    if m.server_p50_ms is None:
        return "not measured"
    return f"{fmt.ms(m.server_p50_ms)} / {fmt.ms(m.server_p95_ms)}" + (figures.DISTURBED if m.server_disturbed else "")


UNSTEADY = " (unsteady)"
NOT_STEADY = "n/a: unsteady"


def _device(t: browser_result.DeviceTiming) -> str:
    return f"{fmt.ms(t.p50_ms)} / {fmt.ms(t.p95_ms)}" + ("" if t.steady else UNSTEADY)


def _versus(t: browser_result.DeviceTiming, m: BrowserModel) -> str:
    """Your device's p50 against this server's, in words built from the two figures shown (none on an unsteady or
    disturbed one)."""
    if m.server_p50_ms is None:
        return "n/a"
    if m.server_disturbed:
        return figures.NOT_SHOWN
    if not t.steady:
        return NOT_STEADY
    return claims.compare(t.p50_ms, m.server_p50_ms, more="slower", less="faster")


def _answers(t: browser_result.DeviceTiming) -> str:
    if t.max_diff is None:
        return "not checked"
    return ("same" if t.agrees else "different") + f" (largest logit difference {t.max_diff:.1g})"


def rows(bset: BrowserSet, run: browser_result.DeviceRun) -> list[dict]:
    """One row per file: your device's p50 / p95, this server's, the two compared, whether the answers match."""
    out = []
    several = any(m.stands_for != [m.name] for m in bset.models)
    for m in bset.models:
        t = run.timing(m.name)
        row = {"version": m.name}
        if several:   # a file that stands for more than one measured version (fp32 and onnxruntime-fp32)
            row["for your versions"] = ", ".join(m.stands_for) or "(none measured: the baseline)"
        out.append(row | {"your device: p50 / p95": _device(t), "this server: p50 / p95": _server(m),
                          "your device vs this server (p50)": _versus(t, m), "answers": _answers(t),
                          "file": fmt.size(m.size_bytes)})
    return out


def _against_fp32(a: float, b: float) -> str:
    word = claims.compare(a, b, more="slower than", less="faster than", same="about as fast as")
    return f"ran {word} fp32 ({fmt.ms(a)} against {fmt.ms(b)})"


def _int8_words(bset: BrowserSet, run: browser_result.DeviceRun) -> str:
    """Each int8 file against fp32, in the browser and on this server, in words built from the figures above, and
    whether the browser's came out as WebAssembly's kernels lead one to expect (int8 no faster than fp32)."""
    fp32, fp32_t = bset.model(browser_models.FP32), run.timing(browser_models.FP32)
    parts = []
    for m in bset.models:
        t = run.timing(m.name)
        if m.computes == browser_models.FP32 or fp32 is None or fp32_t is None or t is None:
            continue
        if not (t.steady and fp32_t.steady):
            which = " and ".join(f"{x.name}'s" for x in (fp32_t, t) if not x.steady)
            parts.append(f"**{m.name}** against fp32 in your browser: not compared, {which} figure"
                         f"{'s are' if ' and ' in which else ' is'} unsteady (press the button again with nothing "
                         "else running on your device).")
            continue
        text = f"In your browser **{m.name}** " + _against_fp32(t.p50_ms, fp32_t.p50_ms)
        if m.server_p50_ms and fp32.server_p50_ms and not (m.server_disturbed or fp32.server_disturbed):
            text += "; on this server it " + _against_fp32(m.server_p50_ms, fp32.server_p50_ms)
        faster = claims.direction(t.p50_ms / fp32_t.p50_ms, "slower", "faster", "same") == "faster"
        parts.append(text + (". Not what the browser's kernels lead one to expect (below): measure again with "
                             "nothing else running on your device." if faster else "."))
    return " ".join(parts)


def why_they_differ(bset: BrowserSet) -> str:
    """The reasons a browser's figure is not the server's: how each runtime computes (no measurement decides it)."""
    features = ", ".join(bset.machine_features) or "its own vector instructions"
    return claims.statement(
        "**Why they differ.** The browser runs WebAssembly: its SIMD is 128 bits wide and has no int8 dot-product "
        "instruction (x86's VNNI, Arm's SDOT), while this server's native ONNX Runtime uses its CPU's own "
        f"instructions, here {features}. So in a browser int8 arithmetic has no fast path of its own, and dynamic "
        "int8 also converts the activations to int8 on every call. Your device is also not this server: its cores, "
        "clock speed, power settings and whatever else it is running change its figures too, so the ratio mixes the "
        "runtime and the hardware. Both sides ran one thread, one image per call.")


def how_measured(bset: BrowserSet, run: browser_result.DeviceRun) -> str:
    step = f"a {fmt.ms(run.timer_step_ms)} step" if run.timer_step_ms else "a coarse step"
    calls = sorted({t.calls_per_batch for t in run.timings})
    batches = sorted({t.batches for t in run.timings})
    return (f"**Your device**: {run.runtime}; the page's clock has {step}, so calls were timed in batches "
            f"({calls[0] if len(calls) == 1 else f'{calls[0]} to {calls[-1]}'} calls each, "
            f"{batches[-1]} batches per version, after two 300 ms warm-up passes over every version) and divided: "
            f"p50 and {glossary.term('p95')} are over those batch means, which smooth out single slow calls; "
            f"*unsteady*: their p95 is over {browser_result.STEADY_SPREAD:g} times their p50 (your device was doing "
            "something else meanwhile), and no comparison is built on it. The runtime came from "
            f"{run.runtime_from}. **This server** ({bset.machine}): the same files in native ONNX Runtime, "
            "1 thread, the median and p95 of single calls"
            + (", " + "; ".join(f"{m.name}'s from {m.server_source}" for m in bset.models if m.server_source)
               if any(m.server_source for m in bset.models) else "")
            + ". **Answers**: the largest difference between the two runtimes' outputs (logits) for the same test "
            "image.")


def shown(bset: BrowserSet, run: browser_result.DeviceRun) -> None:
    """The latest browser measurement: what the device is, the table, the int8 sentences, why, what was left out."""
    st.markdown(f"**Measured on your device**: {run.device} (as the browser reports itself), at "
                f"{time.strftime('%H:%M', time.localtime(run.measured_at))}.")
    st.table(rows(bset, run), hide_index=True)   # a few rows: an HTML table, read as text (and by the e2e test)
    st.caption(how_measured(bset, run))
    if words := _int8_words(bset, run):
        st.markdown(words)
    st.markdown(why_they_differ(bset))
    if bset.left_out:
        st.caption("Not run in the browser: " + "; ".join(f"**{k}** ({why})" for k, why in bset.left_out.items()) + ".")


__all__ = ["NOT_STEADY", "RUNTIME_VERSION", "UNSTEADY", "WASM_BYTES", "mount", "rows", "section", "shown",
           "why_they_differ"]
