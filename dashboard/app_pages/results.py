"""Results: every run of this session in one table, downloads, clear all."""

import streamlit as st

from dashboard.lab import settings
from dashboard.service import runs
from dashboard.ui import session

s = session.page("Results",
                 "Every run of this session, newest last: finished, stopped or failed. It stays on this server while "
                 "you come back with this page's link (a refresh keeps it) and is forgotten "
                 f"{settings.current().session_keep_minutes:g} minutes after its last tab closed. Nothing leaves the "
                 "server unless you download it.")

if not s.runs:
    st.info("No runs yet. Train a model or run the whole demo, and each run will appear here.",
            icon=":material/history:")
    st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
else:
    st.dataframe(runs.table(s), hide_index=True, width="stretch")
    st.caption("Energy figures say how they were obtained in the 'energy method' column: *measured* by "
               "hardware counters, or *estimated* from CPU time and assumed watts. 'figures' says whether a run was "
               "measured for you or served from an identical run measured earlier on this server; 'outcome' says "
               "whether it finished, was stopped, or failed.")
    c1, c2, c3, _ = st.columns([1, 1, 1.3, 1])
    c1.download_button("Download CSV", runs.to_csv(s), file_name="train-infer-lab-runs.csv",
                       mime="text/csv", icon=":material/download:", on_click="ignore")
    c2.download_button("Download JSON", runs.to_json(s), file_name="train-infer-lab-runs.json",
                       mime="application/json", icon=":material/download:", on_click="ignore")
    c3.download_button("Download emissions.csv", runs.emissions_csv(s), file_name="emissions.csv",
                       mime="text/csv", icon=":material/download:", on_click="ignore",
                       help="Every energy reading in CodeCarbon's emissions.csv format: its own tools can read it.")
    st.divider()
    confirm = st.checkbox("Yes, forget this session's model, measurements and runs")
    if st.button("Clear all", icon=":material/delete:", disabled=not confirm or s.busy):
        s.clear()
        s.notify("success", "Cleared. The lab is empty again; your settings are kept.")
        st.rerun()
