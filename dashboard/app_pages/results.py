"""Results: every run of this session side by side on a chart and in one table, the energy assumptions,
downloads, clear all. Layout only: the sections are ui.results_view's."""

import streamlit as st

from dashboard.lab import settings
from dashboard.ui import assumptions, results_view, session

s = session.page("Results",
                 "Every run of this session, newest last: finished, stopped or failed. It stays on this server while "
                 "you come back with this page's link (a refresh keeps it) and is forgotten "
                 f"{settings.current().session_keep_minutes:g} minutes after its last tab closed. Nothing leaves the "
                 "server unless you download it.")

# The assumptions first: the table and every download below are priced with them.
assumptions.assumptions_panel(s, "results")

if not s.runs:
    st.info("No runs yet. Train a model or run the whole demo, and each run will appear here.",
            icon=":material/history:")
    st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
else:
    if results_view.side_by_side(s):
        st.subheader("Every run")
    results_view.every_run(s)
    results_view.energy_parts(s)
    results_view.downloads(s)
    st.divider()
    confirm = st.checkbox("Yes, forget this session's model, measurements and runs")
    if st.button("Clear all", icon=":material/delete:", disabled=not confirm or s.busy):
        s.clear()
        s.notify("success", "Cleared. The lab is empty again; your settings are kept.")
        st.rerun()
