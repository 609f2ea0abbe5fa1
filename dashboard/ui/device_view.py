"""Measure on this device (Edge & cloud): the button, the browser component that runs the student's ONNX files with
onnxruntime-web (ui/device_component/, shipped inside the package: no CDN), and what the browser measured beside
the server's figure for the same file, with why they differ. Streamlit only: the files and the checks of what the
browser sends are the engine's (lab.deploy.browser_models, browser_result), the job service.device_jobs'.

    device_view.section(s)      # the page's one call

The component is mounted only after the button, under a new run id each time: a rerun sends its arguments again
(the files too), and the browser measures once per run id. Its answer is checked before anything is kept.
"""

from __future__ import annotations

import dataclasses
import mimetypes
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

import streamlit as st
import streamlit.components.v1 as components

from dashboard.lab import claims, fmt
from dashboard.lab.deploy import browser_models, browser_result
from dashboard.lab.deploy.browser_models import BrowserModel, BrowserSet
from dashboard.lab.measure import figures
from dashboard.lab.serving import onnx_export
from dashboard.service import device_jobs, pairing
from dashboard.service.sessions import Session
from dashboard.ui import glossary, presenter, status

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
                      runtime_version=RUNTIME_VERSION, wasm_bytes=WASM_BYTES,
                      timing=dataclasses.asdict(browser_models.BROWSER_TIMING), height=40, default=None,
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
    phone_section(s, bset)
    here, phone = device_jobs.latest(bset), device_jobs.latest(bset, paired=True)
    if here is not None or phone is not None:
        shown(bset, here, phone)
        st.page_link("app_pages/board.py", label="Post these figures to your class's board",
                     icon=":material/leaderboard:")


# --- Measure on my phone: a one-time pairing code, its link and QR code -----------------------------------------

PAIR_KEY = "device_pair_code"   # st.session_state: the code this tab showed last
POLL_S = 2.0                    # how often the laptop's page looks for the phone's result while a code is live
LOCALHOST = ("localhost", "127.0.0.1", "::1", "0.0.0.0", "[::1]")


def _make_code(s: Session, bset: BrowserSet) -> None:
    st.session_state.pop(ERROR_KEY, None)
    try:
        st.session_state[PAIR_KEY] = pairing.PAIRS.make(s, bset).code
    except pairing.PairingError as exc:
        st.session_state[ERROR_KEY] = str(exc)


def address_note(base: str | None, typed: bool) -> None:
    """Whether a phone can open the link's address, and what to do when it cannot."""
    host = urlsplit(base).hostname if base else None
    if base is None:
        st.caption("This app's address is not known here: open the link's address on your phone by hand.")
    elif host in LOCALHOST or (host or "").startswith("127."):
        st.warning("This is this computer's own address (localhost): your phone cannot open it. Open the app on "
                   "this laptop at the server's network address instead (for example http://192.168.1.20:8501; "
                   "the README's *A phone in the room* says how), then press the button again.",
                   icon=":material/wifi_off:")
    elif not typed:
        st.caption("The link uses the address this browser opened the app at: your phone must be on the same "
                   "network (the room's Wi-Fi). If it cannot open it, the README's *A phone in the room* says why.")


def _pairing_status(s: Session, bset: BrowserSet) -> None:
    """The code's QR code and link while it waits; that the phone measures once it opened it; the page drawn again
    once the phone's figures arrived."""
    code = st.session_state.get(PAIR_KEY)
    p = pairing.PAIRS.get(code) if code else None
    if p is None:
        return
    if p.spent or not p.live(time.time()):
        del st.session_state[PAIR_KEY]
        if p.refused:
            st.session_state[ERROR_KEY] = f"Your phone's figures were not kept: {p.refused.rstrip('.')}."
        elif not p.spent:
            st.session_state[ERROR_KEY] = ("The pairing code expired before your phone sent its figures: press "
                                           "**Measure on my phone** for a new one.")
        st.rerun(scope="app")   # the phone's figures are in the session now (the table shows them), or it expired

    base, typed = presenter.room_address(s, "edge")
    url = pairing.link(base, code)
    if p.claimed_by is not None:
        st.info("Your phone opened the link and is measuring: its figures appear here when it is done (keep its "
                "screen on).", icon=":material/smartphone:")
        return
    qr, words = st.columns([1, 2], vertical_alignment="center")
    if url.startswith(("http://", "https://")):
        qr.image(presenter.qr_png(url, scale=6), width=200)
    words.markdown("Scan the code with your phone's camera, or type the link:")
    words.code(url, language=None, wrap_lines=True)
    words.caption(f"Pairing code **{code}**: it works once, until "
                  f"{_at(p.made_at + pairing.TTL_S)}. The link carries this code "
                  "and nothing else: your phone gets your model's files to measure, never your session, and its "
                  "figures come back to this page.")
    with words:
        address_note(base, typed)


def phone_section(s: Session, bset: BrowserSet | None) -> None:
    """Measure on my phone: the button that makes a pairing code for the session's files, then its link and QR
    code, redrawn every POLL_S while the code is live."""
    st.markdown("**Measure on my phone** runs the same files in your phone's browser: scan a code, keep the page "
                "open for a minute, and its times land here beside this browser's.")
    if bset is None:
        st.caption("Press **Measure on this device** first: it makes your model's files, which your phone then runs "
                    "too.")
        return
    st.button("Measure on my phone", icon=":material/qr_code_2:", key="device_phone", disabled=s.busy,
              on_click=_make_code, args=(s, bset),
              help=f"A one-time pairing code, valid {pairing.TTL_S / 60:.0f} minutes, as a QR code and a link.")
    code = st.session_state.get(PAIR_KEY)
    live = code is not None and (p := pairing.PAIRS.get(code)) is not None and p.live(time.time())

    @st.fragment(run_every=POLL_S if live else None)
    def status_of_code() -> None:
        _pairing_status(s, bset)

    status_of_code()


# --- what was measured ------------------------------------------------------------------------------------------

def _server(m: BrowserModel) -> str:
    if m.server_p50_ms is None:
        return "not measured"
    return f"{fmt.ms(m.server_p50_ms)} / {fmt.ms(m.server_p95_ms)}" + (figures.DISTURBED if m.server_disturbed else "")


UNSTEADY = " (unsteady)"
NOT_STEADY = "n/a: unsteady"


def device_cell(t: browser_result.DeviceTiming | None) -> str:
    """A browser's p50 / p95 per call, labelled when its batches spread (ui.phone_view shows the phone's too)."""
    if t is None:
        return "not measured"
    return f"{fmt.ms(t.p50_ms)} / {fmt.ms(t.p95_ms)}" + ("" if t.steady else UNSTEADY)


def _versus(t: browser_result.DeviceTiming | None, m: BrowserModel) -> str:
    """A browser's p50 against this server's, in words built from the two figures shown (none on an unsteady or
    disturbed one)."""
    if t is None or m.server_p50_ms is None:
        return "n/a"
    if m.server_disturbed:
        return figures.NOT_SHOWN
    if not t.steady:
        return NOT_STEADY
    return claims.compare(t.p50_ms, m.server_p50_ms, more="slower", less="faster")


def _answers(t: browser_result.DeviceTiming | None) -> str:
    if t is None or t.max_diff is None:
        return "not checked"
    return ("same" if t.agrees else "different") + f" (largest logit difference {t.max_diff:.1g})"


HERE = "this browser"


def _all_answers(timed: list[tuple[str, browser_result.DeviceTiming]]) -> str:
    """Whether each browser's answers match native ONNX Runtime's: one cell, each browser named only when they
    do not all match."""
    checked = [(who, t) for who, t in timed if t.max_diff is not None]
    if len(checked) > 1 and all(t.agrees for _, t in checked):
        return f"same in both (largest logit difference {max(t.max_diff for _, t in checked):.1g})"
    if len(timed) == 1:
        return _answers(timed[0][1])
    return "; ".join(f"{who}: {_answers(t)}" for who, t in timed)


def phone_name(run: browser_result.DeviceRun) -> str:
    """The paired device's column, by its class: 'your phone', 'your tablet'."""
    return f"your {run.device_class}"


def rows(bset: BrowserSet, here: browser_result.DeviceRun | None,
         phone: browser_result.DeviceRun | None = None) -> list[dict]:
    """One row per file: this server's p50 / p95, this browser's and the paired phone's (where measured), each
    browser's against the server, whether the answers match native ONNX Runtime's."""
    out = []
    several = any(m.stands_for != [m.name] for m in bset.models)
    runs = [(HERE, here), *([(phone_name(phone), phone)] if phone is not None else [])]
    for m in bset.models:
        row = {"version": m.name}
        if several:   # a file that stands for more than one measured version (fp32 and onnxruntime-fp32)
            row["for your versions"] = ", ".join(m.stands_for) or "(none measured: the baseline)"
        row["this server: p50 / p95"] = _server(m)
        timed = [(who, run.timing(m.name) if run is not None else None) for who, run in runs]
        row |= {f"{who}: p50 / p95": device_cell(t) for who, t in timed}
        row |= {f"{who} vs this server (p50)": _versus(t, m) for who, t in timed}
        row["answers"] = _all_answers([(who, t) for who, t in timed if t is not None])
        out.append(row | {"file": fmt.size(m.size_bytes)})
    return out


def _against_fp32(a: float, b: float) -> str:
    word = claims.compare(a, b, more="slower than", less="faster than", same="about as fast as")
    return f"ran {word} fp32 ({fmt.ms(a)} against {fmt.ms(b)})"


def _int8_words(bset: BrowserSet, run: browser_result.DeviceRun, where: str = "in your browser") -> str:
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
            parts.append(f"**{m.name}** against fp32 {where}: not compared, {which} figure"
                         f"{'s are' if ' and ' in which else ' is'} unsteady (press the button again with nothing "
                         "else running on your device).")
            continue
        text = f"{where[0].upper()}{where[1:]} **{m.name}** " + _against_fp32(t.p50_ms, fp32_t.p50_ms)
        if m.server_p50_ms and fp32.server_p50_ms and not (m.server_disturbed or fp32.server_disturbed):
            text += "; on this server it " + _against_fp32(m.server_p50_ms, fp32.server_p50_ms)
        faster = claims.direction(t.p50_ms / fp32_t.p50_ms, "slower", "faster", "same") == "faster"
        parts.append(text + (". Not what the browser's kernels lead one to expect (below): measure again with "
                             "nothing else running on your device." if faster else "."))
    return " ".join(parts)


def phone_vs_here(bset: BrowserSet, here: browser_result.DeviceRun, phone: browser_result.DeviceRun) -> str:
    """Each file on the phone against this browser, in words built from the two figures in the table (none on an
    unsteady one): the same files and the same runtime, so what is left between them is the hardware."""
    who, parts = phone_name(phone), []
    for m in bset.models:
        a, b = phone.timing(m.name), here.timing(m.name)
        if a is None or b is None:
            continue
        if not (a.steady and b.steady):
            parts.append(f"**{m.name}**: not compared (unsteady)")
            continue
        word = claims.compare(a.p50_ms, b.p50_ms, more="slower than", less="faster than", same="about as fast as")
        parts.append(f"**{m.name}** ran {word} in this browser ({fmt.ms(a.p50_ms)} against {fmt.ms(b.p50_ms)})")
    return f"On {who}, " + "; ".join(parts) + "." if parts else ""


def why_they_differ(bset: BrowserSet, phone: browser_result.DeviceRun | None = None) -> str:
    """The reasons a browser's figure is not the server's, and a phone's not a laptop's: how each runtime computes
    and what each device is (no measurement decides it)."""
    features = ", ".join(bset.machine_features) or "its own vector instructions"
    return claims.statement(
        "**Why they differ.** The browser runs WebAssembly: its SIMD is 128 bits wide and has no int8 dot-product "
        "instruction (x86's VNNI, Arm's SDOT), while this server's native ONNX Runtime uses its CPU's own "
        f"instructions, here {features}. So in a browser int8 arithmetic has no fast path of its own, and dynamic "
        "int8 also converts the activations to int8 on every call. Your device is also not this server: its cores, "
        "clock speed, power settings and whatever else it is running change its figures too, so the ratio mixes the "
        "runtime and the hardware. Both sides ran one thread, one image per call."
        + ("" if phone is None else
           f" **Your {phone.device_class} and this browser** ran the same files with the same runtime, so what "
           f"separates those two columns is the {phone.device_class} itself: its cores are built to save power "
           "(lower clocks, smaller caches), its system may run the page on a small efficiency core, and it slows "
           "itself down when it is warm, on battery saver or its screen dims. Its chip may have int8 dot-product "
           "instructions (Arm's SDOT), but WebAssembly cannot reach them, so int8 has no fast path there either."))


def how_measured(bset: BrowserSet, run: browser_result.DeviceRun) -> str:
    step = f"a {fmt.ms(run.timer_step_ms)} step" if run.timer_step_ms else "a coarse step"
    calls = sorted({t.calls_per_batch for t in run.timings})
    batches = sorted({t.batches for t in run.timings})
    return (f"**Your device**: {run.runtime}; the page's clock has {step}, so calls were timed in batches "
            f"({calls[0] if len(calls) == 1 else f'{calls[0]} to {calls[-1]}'} calls each, "
            f"{batches[-1]} batches per version, after two {browser_models.BROWSER_TIMING.warmup_ms:g} ms warm-up "
            "passes over every version) and divided: "
            f"p50 and {glossary.term('p95')} are over those batch means, which smooth out single slow calls; "
            f"*unsteady*: their p95 is over {browser_result.STEADY_SPREAD:g} times their p50 (your device was doing "
            "something else meanwhile), and no comparison is built on it. The runtime came from "
            f"{run.runtime_from}. **This server** ({bset.machine}): the same files in native ONNX Runtime, "
            "1 thread, the median and p95 of single calls"
            + (", " + "; ".join(f"{m.name}'s from {m.server_source}" for m in bset.models if m.server_source)
               if any(m.server_source for m in bset.models) else "")
            + ". **Answers**: the largest difference between the two runtimes' outputs (logits) for the same test "
            "image.")


def _at(when: float) -> str:
    """A time of day on this server's clock, as the page shows it: '14:05'."""
    return time.strftime('%H:%M', time.localtime(when))


def round_trips(here: browser_result.DeviceRun | None, phone: browser_result.DeviceRun | None) -> str:
    """The round trips to this server as measured from each browser, '' when none was."""
    parts = [f"from {who}: {fmt.ms(r.round_trip_ms)}" for who, r in ((HERE, here), ("your phone" if phone is None
             else phone_name(phone), phone)) if r is not None and r.round_trip_ms is not None]
    if not parts:
        return ""
    n = max(len(r.round_trips_ms) for r in (here, phone) if r is not None)
    return ("**Round trip to this server, measured from your browser**: " + "; ".join(parts)
            + f" (the median of up to {n} small requests to the server's health check, after one that opens the "
            "connection). **Cloud or device** below can use it beside the typical networks.")


def shown(bset: BrowserSet, here: browser_result.DeviceRun | None,
          phone: browser_result.DeviceRun | None = None) -> None:
    """The latest measurements, this browser's and the paired phone's: what each device is, the table, the int8
    sentences, the phone against this browser, why they differ, what was left out."""
    if here is not None:
        st.markdown(f"**Measured on your device**: {here.device} (as the browser reports itself), "
                    f"at {_at(here.measured_at)}.")
    if phone is not None:
        st.markdown(f"**Measured on {phone_name(phone)}** (paired): {phone.device} (as its browser reports itself), "
                    f"at {_at(phone.measured_at)}.")
    st.table(rows(bset, here, phone), hide_index=True)   # a few rows: an HTML table, read as text (and by the e2e)
    st.caption(how_measured(bset, here or phone))
    if trips := round_trips(here, phone):
        st.markdown(trips)
    for run, where in ((here, "in your browser"), (phone, f"on {phone_name(phone)}" if phone else "")):
        if run is not None and (words := _int8_words(bset, run, where)):
            st.markdown(words)
    if here is not None and phone is not None and (words := phone_vs_here(bset, here, phone)):
        st.markdown(words)
    st.markdown(why_they_differ(bset, phone))
    if bset.left_out:
        st.caption("Not run in the browser: " + "; ".join(f"**{k}** ({why})" for k, why in bset.left_out.items()) + ".")


__all__ = ["HERE", "NOT_STEADY", "PAIR_KEY", "RUNTIME_VERSION", "UNSTEADY", "WASM_BYTES", "device_cell", "mount",
           "phone_name", "phone_section", "round_trips", "rows", "section", "shown", "why_they_differ"]
