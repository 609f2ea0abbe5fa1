"""Compress & benchmark: make the trained model smaller or faster, measure every version side by side.
Layout only: the form is course.forms', the pieces are ui.compress_view's."""

import streamlit as st

from dashboard.course import forms
from dashboard.lab import claims
from dashboard.lab.compression.compress import CompressSettings
from dashboard.service import measuring
from dashboard.ui import compress_view, session, share, status, widgets

s = session.page("Compress & benchmark", claims.statement(
                 "Inference is what a model does for the rest of its life, so making it cheaper pays off on every "
                 "request. Pick techniques, then measure every version on the same test images, in turns, on one machine "
                 "(which one is said beside the figures)."))

# Before the model check: a link opened before training keeps its settings for when there is a model.
share.apply_query(s, "compress", None, "compress")
status.require_model(s, "there is nothing to compress yet.")

compress_view.about_the_model(s.trained)
FORM = forms.defaults("compress")
widgets.restore(s, "compress", FORM)
compress_view.settings_widgets()
values = widgets.save(s, "compress", FORM)
share.share_link(FORM, "compress")

names, compress_settings = forms.compress_plan(values)
st.caption("Will make and measure: " + ", ".join(names) + ". fp32 (the trained model) is always the baseline.")
if st.button("Compress & measure", type="primary", icon=":material/speed:", disabled=s.busy):
    if status.started(lambda: measuring.start_compress(s, names, compress_settings),
                      "These settings cannot run: {}. Your model and earlier results are kept."):
        st.rerun()
if s.busy and s.job.kind not in ("compress", "sensitivity"):
    st.caption(f"Your {s.job.kind} is under way; compress once it has ended.")
status.job_panel(s, ("compress",), key="compress")

if not s.results:
    st.stop()


def measure_again(label: str, key: str) -> None:
    """A button that measures the same versions again, for this session only (never served from the cache)."""
    if st.button(label, icon=":material/refresh:", disabled=s.busy, key=key):
        rs = s.results_settings
        if status.started(lambda: measuring.start_compress(s, rs.get("variants", names),
                                                           CompressSettings(**rs.get("compress", {})), fresh=True), "{}"):
            st.rerun()


measured = compress_view.Measured.of(s)
compress_view.how_measured(measured, s.results_note)
compress_view.notices(measured, s.results_note, measure_again)
compress_view.table(measured)
compress_view.all_measurements(measured)
compress_view.charts_of(measured, s.settings.country_iso)
compress_view.why_so(measured)

st.divider()
st.subheader("Sensitivity scan")
st.caption("Prune one layer at a time to increasing sparsity and measure accuracy: layers whose line stays flat "
           "can lose many weights; steep ones cannot. This is how to choose per-layer pruning ratios.")
if st.button("Run sensitivity scan", icon=":material/query_stats:", disabled=s.busy):
    if status.started(lambda: measuring.start_sensitivity(s), "{}"):
        st.rerun()
status.job_panel(s, ("sensitivity",), key="sensitivity")
if s.sensitivity is not None:
    compress_view.sensitivity_chart(s.sensitivity)

compress_view.downloads(s, s.trained)
