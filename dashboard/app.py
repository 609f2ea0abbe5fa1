"""Train & Infer Lab: the Streamlit script. Page config, navigation, the shared sidebar.

Served through dashboard/entry.py (`streamlit run dashboard/entry.py`), which adds the session cookie
and closes Streamlit's internal metrics; `streamlit run dashboard/app.py` still works, with the
session kept in the browser's storage instead (ui.session)."""

from __future__ import annotations

import streamlit as st

from dashboard.lab import energy, hardware
from dashboard.service import authority
from dashboard.ui import follow, incident, phone_view, presenter, room_questions, session, status, widgets

# This run's own torch work on one thread: the cores are the compute slot's job's (lab.hardware.one_thread_here).
hardware.one_thread_here()
st.set_page_config(page_title="Train & Infer Lab", page_icon=":material/model_training:", layout="wide")

PAGES = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/lessons.py", title="Lessons", icon=":material/school:", url_path="lessons"),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("app_pages/compress.py", title="Compress & benchmark", icon=":material/compress:", url_path="compress"),
    st.Page("app_pages/try_it.py", title="Try it yourself", icon=":material/draw:", url_path="try-it"),
    st.Page("app_pages/compare.py", title="Training vs inference", icon=":material/balance:", url_path="compare"),
    st.Page("app_pages/hardware.py", title="Hardware", icon=":material/memory:", url_path="hardware"),
    st.Page("app_pages/edge.py", title="Edge & cloud", icon=":material/devices:", url_path="edge"),
    st.Page("app_pages/results.py", title="Results", icon=":material/table_chart:", url_path="results"),
    st.Page("app_pages/board.py", title="Class board", icon=":material/leaderboard:", url_path="board"),
]
# The presenter's script for the workshop: in the navigation of the session that gave the presenter key only
# (the page checks it too).
PRESENT = st.Page("app_pages/present.py", title="Run of show", icon=":material/co_present:", url_path="present")
# A phone opened by Edge & cloud's pairing link (/?pair=CODE): its small measuring page alone, before any session
# is looked up, so the phone neither finds nor makes one (ui.phone_view).
PHONE = st.Page("app_pages/phone.py", title="Measure on my phone", icon=":material/smartphone:", url_path="phone")


@st.cache_resource(show_spinner="Starting the lab...")
def _warm_up_once() -> bool:
    """Once per server, on the first page: CodeCarbon's one-off hardware detection (~1.5 s), so
    it does not land inside the first user's measurement. (Not in a background thread: its
    imports raced the page's own imports of pandas.)"""
    energy.warm_up()
    return True


_warm_up_once()
if phone_view.requested():
    incident.run_page(st.navigation([PHONE], position="hidden"))
    st.stop()
s = session.get()
page = st.navigation(PAGES + ([PRESENT] if authority.is_presenter(s) else []))
widgets.save_all(s)
status.sidebar(s)
following = follow.sidebar(s)
presenter.setup(s)
if following:
    room_questions.student_panel(s)   # the presenter's open questions, above the page
incident.run_page(page)
