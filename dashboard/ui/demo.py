"""The Home page's "Run the whole demo": one button, the job's progress, and where its figures come from."""

from __future__ import annotations

import streamlit as st

from dashboard.lab.settings import LimitExceeded
from dashboard.service import authority, measuring
from dashboard.service.jobs import Busy
from dashboard.service.sessions import Session
from dashboard.ui import status


def _start(s: Session, fresh: bool) -> None:
    try:
        measuring.start_demo(s, fresh=fresh)
    except (Busy, LimitExceeded, ValueError, authority.NotPresenter) as exc:
        s.notify("error", str(exc))


def button(s: Session) -> None:
    busy = s.busy
    clicked = st.button("Run the whole demo", type="primary", icon=":material/rocket_launch:", disabled=busy,
                        help="Trains a CNN for 2 epochs on the bundled digits, makes 4 compressed versions, "
                             "measures all 5 and fills in every page.")
    if clicked:
        _start(s, fresh=False)
        st.rerun()
    job = s.job
    if job is not None and job.active:
        if job.kind != "demo":
            st.caption(f"Your {job.kind} is under way; the demo can start when it has ended.")
        status.job_panel(s, ("demo",), key="demo")
        return
    if s.results_note and s.results_settings.get("demo"):
        st.caption(f"The demo's figures on every page were {s.results_note}; they were not measured again for you.")
        # Only the presenter's: it replaces the figures every student is served (measuring.start_demo checks it too).
        if authority.is_presenter(s) and st.button(
                "Measure afresh for everyone", icon=":material/refresh:", key="demo_fresh",
                help="Runs the whole demo again on this server now and replaces the shared figures."):
            _start(s, fresh=True)
            st.rerun()
