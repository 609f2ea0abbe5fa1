"""Measure on my phone, the phone's side: the small page a pairing link opens (`/?pair=CODE`, routed by
dashboard/app.py before any session is looked up). It runs the files of the laptop's session that made the code with
the same browser component as Measure on this device (ui.device_view.mount) and sends the result there through
service.pairing. Streamlit only.

This page never looks a session up: not by the browser's cookie (the phone has its own, from the room's guard,
which names no session of the student's), not by the address (which carries the code alone). What it holds is the
code, the files to run and, once sent, its own figures; the laptop's page shows them beside its own.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard.lab import fmt
from dashboard.lab.deploy import browser_result
from dashboard.service import pairing
from dashboard.ui import device_view

SENT_KEY = "phone_sent"   # st.session_state: this page's run, once the laptop's session kept it


def requested() -> bool:
    """Whether this page run was opened by a pairing link."""
    return pairing.PARAM in st.query_params


def _tab() -> str:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "script"


def _sent(run: browser_result.DeviceRun) -> None:
    st.success("Sent: your phone's figures are on your laptop's **Edge & cloud** page now, beside the server's and "
               "the laptop's own. You can close this page.", icon=":material/check_circle:")
    st.markdown(f"**Measured on this {run.device_class}**: {run.device} (as the browser reports itself).")
    st.table([{"version": t.name, "p50 / p95 per call": device_view.device_cell(t)} for t in run.timings],
             hide_index=True)
    if run.round_trip_ms is not None:
        st.caption(f"Round trip from this {run.device_class} to the server: {fmt.ms(run.round_trip_ms)} (the median "
                   f"of {len(run.round_trips_ms)} requests).")


def page() -> None:
    """The whole page: the code claimed, the files run in this browser, the result sent to the laptop."""
    st.title("Measure on my phone")
    if (run := st.session_state.get(SENT_KEY)) is not None:
        _sent(run)
        return
    code = st.query_params.get(pairing.PARAM, "")
    try:
        p = pairing.PAIRS.claim(code, _tab())
    except pairing.PairingError as exc:
        st.error(str(exc), icon=":material/link_off:")
        return
    n, size = len(p.bset.models), sum(m.size_bytes for m in p.bset.models)
    st.markdown(f"This page runs the {fmt.plural(n, 'version')} of the model your laptop showed the code "
                f"for ({fmt.size(size)} of ONNX files) in this phone's browser, with onnxruntime-web on one thread, "
                "and sends the times to your laptop's page. Keep this page open and the screen on until it says "
                "*Sent*: it takes about a minute.")
    st.caption("The first time, this browser downloads the 14 MB runtime from the server and keeps it. Nothing "
               "else of your session is on this page: your model's results stay on the laptop.")
    value = device_view.mount(p.bset, p.run_id)
    if value is None:
        return
    try:
        run = pairing.PAIRS.deliver(code, _tab(), value)
    except (pairing.PairingError, browser_result.BadBrowserResult) as exc:
        st.error(f"Your phone's figures were not kept: {exc}", icon=":material/error:")
        return
    st.session_state[SENT_KEY] = run
    st.rerun()


__all__ = ["SENT_KEY", "page", "requested"]
