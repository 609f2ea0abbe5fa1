"""Run of show: the workshop one step at a time, for the presenter (lessons/run_of_show.toml).

Each step: its notes, a button that opens its page (with its preset) for the room, its replay where it
has one, and the link + QR code that open the same page and preset on the students' devices. Moving on sends
the students who follow the presenter to the step's page; a step's question is opened, watched and revealed
above the notes.
`?step=N` opens step N (from 1); the address follows the step shown, so a refresh stays on it.
Layout only: the sections are ui.present_view's.
"""

import streamlit as st

from dashboard.course import run_of_show
from dashboard.service import authority, replays
from dashboard.service.jobs import Busy
from dashboard.ui import present_view, room_questions, session, status

s = session.page("Run of show", "The workshop one step at a time: the notes are for your eyes, the link and "
                                "QR code for the room.")
if not authority.is_presenter(s):
    # Reached by its address without the key: the page is the presenter's (app.py lists it only for them).
    st.info("Run of show is the presenter's page. Type the presenter key in the sidebar's **Presenter** box "
            "to open it; the room follows along on the pages it opens.", icon=":material/lock:")
    st.stop()
for problem in run_of_show.step_errors():
    st.warning(problem, icon=":material/warning:")
steps = run_of_show.steps()
if not steps:
    st.error("No steps to show: lessons/run_of_show.toml has none that load.")
    st.stop()
pages = run_of_show.bundled_pages()

i = present_view.step_shown(s, steps)
step, page = steps[i], pages[steps[i].page]
present_view.step_bar(s, steps, i)
room_questions.presenter_panel(s, step)

main, room = st.columns([1.1, 1], gap="large")
with main:
    # What the presenter clicks first, then what they read.
    present_view.open_for_room(step, page)
    if step.replay and (described := present_view.replay_described(step.replay)) is not None:
        if present_view.replay_button(s, step):
            try:
                job = replays.load_replay(s, step.replay)
            except (Busy, ValueError) as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                job.wait(10)   # about a second when the compute slot is free; else its progress shows
                st.rerun()
        status.job_panel(s, ("replay",), key="ros_replay_job")
        present_view.replay_loaded(s, *described)
    present_view.notes(s, step)
    present_view.threads_note()

with room:
    present_view.for_the_students(s, step, pages)
