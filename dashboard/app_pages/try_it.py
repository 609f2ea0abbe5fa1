"""Try it yourself: draw, upload or photograph an image; every version of your model says what it sees.
Layout only: the image's source, check and preparation, and the answers are ui.try_it_view's."""

import streamlit as st

from dashboard.service import versions
from dashboard.service.jobs import Busy
from dashboard.ui import session, status, try_it_view, widgets

s = session.page("Try it yourself",
                 "Give your model an image of your own. It is first made to look like the training images, "
                 "step by step, then every version of your model says what it sees, and how long that took.")
status.require_model(s, "this page asks your model, and its compressed versions, what your image shows.")

setup = try_it_view.Setup.of(s)
FORM = {try_it_view.SOURCE_KEY: setup.choices[0]}
widgets.restore(s, "try_it", FORM)
try_it_view.keep_source_valid(setup)

left, right = st.columns([5, 7], gap="medium")
with left:
    st.radio("Your image", setup.choices, key=try_it_view.SOURCE_KEY, format_func=try_it_view.SOURCES.get,
             horizontal=True)
    widgets.save(s, "try_it", FORM)
    source = st.session_state[try_it_view.SOURCE_KEY]
    raw, drawing = try_it_view.image_from(source, setup)
    prepared = try_it_view.prepared_from(setup, raw, drawing)
    try_it_view.tip(source, setup)

kept = try_it_view.kept_versions(s)
with right:
    st.subheader("What each version says")
    if raw is None and drawing is None:
        try_it_view.nothing_yet(source)
    elif prepared is not None:
        wanted = (s.digest, prepared.digest)
        answers = try_it_view.answer_for(s, wanted)
        if answers is None and try_it_view.to_start(wanted):
            if s.busy:
                try_it_view.waiting_for(s)
            else:
                try:
                    job = versions.start_prediction(s, prepared, kept)
                except (Busy, ValueError) as exc:
                    st.warning(str(exc))
                else:
                    try_it_view.started(wanted)
                    job.wait(2.0)   # a prediction with kept versions ends in milliseconds: show it in this run
                    answers = try_it_view.answer_for(s, wanted)
        try_it_view.answers_or_progress(s, wanted, answers)
    try_it_view.only_fp32(s)

if prepared is not None:
    try_it_view.how_prepared(setup, prepared)
