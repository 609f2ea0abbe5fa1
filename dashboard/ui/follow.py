"""Follow the presenter: a sidebar toggle, off until a student turns it on (kept in their session, so a refresh
keeps it), and while it is on a small fragment that asks for the room's step every FOLLOW_S seconds. When the
presenter has moved since this session last went along, it opens that step's page (with the step's preset, as
the step's link does); when a question was opened, closed or revealed, it redraws the page, whose top then shows
it (ui.room_questions). Leaving is the toggle; turning it on again goes to the room's step at once.

A tick costs one cached read (service.room.Room.snapshot: the database at most once a second for every tab of
the server) and one caption: thirty followers are fifteen small fragment runs a second, and no page is drawn
again unless something changed.
"""

from __future__ import annotations

import streamlit as st

from dashboard.course import run_of_show, shareable
from dashboard.service import authority
from dashboard.service.board import BoardUnavailable
from dashboard.service.room import Room, RoomState
from dashboard.service.sessions import Session
from dashboard.ui import status

KEY = "follow_presenter"        # the toggle's widget key
VERSION = "follow_version"      # st.session_state: the room's version this tab's page was drawn with
FOLLOW_S = 2.0                  # how often a follower asks where the room is
FOLLOW_MEASURING_S = 4.0        # ... while the student's own job measures (status.POLL_MEASURING_S says why)


def room_state() -> tuple[Room | None, RoomState | None]:
    """This server's room and its state now (cached), or (None, None) when its database cannot be reached
    (the server log says why; a follower's page carries on without it)."""
    try:
        room = Room.configured()
        return room, room.snapshot()
    except BoardUnavailable:
        return None, None


def _toggled(s: Session) -> None:
    s.following = bool(st.session_state.get(KEY))
    if s.following:
        s.followed = -1   # joining again: go to the room's step now, whenever the presenter moved there


def sidebar(s: Session) -> bool:
    """The toggle, and while it is on the follower's fragment; whether this tab follows the presenter (the
    presenter leads, so has no toggle)."""
    if authority.is_presenter(s):
        return False
    if KEY not in st.session_state:
        st.session_state[KEY] = s.following
    st.sidebar.toggle("Follow the presenter", key=KEY, on_change=_toggled, args=(s,),
                      help="Your page goes where the presenter goes in the run of show, within a few seconds, and "
                           "shows the questions the presenter asks the room. Turn it off to go your own way; turn it "
                           "on again to catch up.")
    if not s.following:
        return False
    _, state = room_state()
    st.session_state[VERSION] = state.version if state is not None else None   # what this run draws
    job = s.job
    measuring = job is not None and job.active and job.kind in status.MEASURING_KINDS
    with st.sidebar:
        st.fragment(_tick, run_every=FOLLOW_MEASURING_S if measuring else FOLLOW_S)(s)
    return True


def _tick(s: Session) -> None:
    """One look at the room: go to its step if the presenter moved, redraw the page if a question changed."""
    _, state = room_state()
    if state is None:
        st.caption("Following the presenter: the room cannot be reached right now.")
        return
    steps = run_of_show.steps()
    i, step = next(((i, x) for i, x in enumerate(steps) if x.key == state.step_key), (None, None))
    page = run_of_show.bundled_pages().get(step.page) if step is not None else None
    if page is not None and state.step_seq != s.followed and page.url_path != "present":
        s.followed = state.step_seq
        st.session_state[VERSION] = state.version
        st.switch_page(page.script, query_params={shareable.PRESET_PARAM: step.preset} if step.preset else None)
    if st.session_state.get(VERSION) != state.version:
        st.session_state[VERSION] = state.version
        st.rerun(scope="app")   # a question opened, closed or was revealed: the page's top shows it
    st.caption(f":material/co_present: Following the presenter: step {i + 1} of {len(steps)}, *{step.title}*."
               if step is not None else ":material/co_present: Following the presenter, who has not started yet.")


# --- the presenter's side: where the followers are ---------------------------------------------------

def send(s: Session, step_key: str) -> None:
    """Send the students who follow to a step (the presenter's move: checked where it runs, service.room)."""
    try:
        Room.configured().move(s, step_key)
    except (authority.NotPresenter, BoardUnavailable, ValueError) as e:
        s.notify("error", str(e))


def presenter_line(s: Session, steps: list, i: int) -> None:
    """Under the Run of show's step title: where the students who follow are, and a button that sends them to
    the step shown (again, for those who wandered off)."""
    _, state = room_state()
    if state is None:
        st.caption("The room's state cannot be reached right now: students who follow you stay where they are.")
        return
    where = next(((k, x) for k, x in enumerate(steps) if x.key == state.step_key), None)
    left, right = st.columns([4, 1.4], vertical_alignment="center")
    if where is None:
        left.caption(":material/groups: Students who follow you have not been sent to a step yet.")
    elif where[0] == i:
        left.caption(":material/groups: Students who follow you are on this step: its page opened on their devices.")
    else:
        left.caption(f":material/groups: Students who follow you are on step {where[0] + 1}, *{where[1].title}*.")
    right.button("Send them here again" if where is not None and where[0] == i else "Send them to this step",
                 icon=":material/group_add:", key="ros_send", width="stretch", on_click=send, args=(s, steps[i].key))
