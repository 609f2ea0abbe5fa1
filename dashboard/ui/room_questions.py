"""Predict together, then measure: the question the presenter opens at a run-of-show step, as each side sees it.

- A student who follows the presenter (ui.follow) finds it at the top of whatever page they are on: a number with
  its unit, or one of the options, and an optional nickname; one answer per session, a new one replaces it until
  the presenter closes or reveals; then what was measured, and their own answer beside it.
- The presenter, on the Run of show page, opens the step's question, watches the answers arrive (their count,
  redrawn every few seconds), closes it and reveals: the answers' distribution beside the room's measured value
  (the class board's posts, else the step's replay), the closest predictions named by nickname.

Streamlit only: what a question is and what its answers say are course.room_questions's, where they are stored and
who may do what service.room's (the presenter's actions check the key there). Nicknames are what students typed:
they appear only HTML-escaped, as text, never in markdown.
"""

from __future__ import annotations

import html

import streamlit as st

from dashboard.course import room_questions, run_of_show
from dashboard.course.room_questions import CHOICE, Question
from dashboard.service import authority, incidents
from dashboard.service.board import BoardUnavailable
from dashboard.service.board_posts import MAX_NICKNAME, clean_class_code
from dashboard.service.room import REVEALED, Room, Round
from dashboard.service.sessions import Session
from dashboard.ui import board_view, follow, incident, room_charts
from dashboard.ui.share import plain

COUNT_S = 2.0           # how often the presenter's count of answers is redrawn while a question is open
FORM = "room"           # the Session's saved form: the nickname a student last answered under


# --- a student's side ------------------------------------------------------------------------------

def student_panel(s: Session) -> None:
    """At the top of a follower's page: the questions open now, and the outcome of the current step's question
    once it is closed or revealed. Nothing when there is none. Drawn before the page, so an error here is one
    line (ui.incident), never the page's end."""
    try:
        _student_panel(s)
    except incident.PASS_THROUGH:
        raise
    except Exception as exc:  # noqa: BLE001 - one line with an incident id; the page below still draws
        st.error(incidents.student_line(exc, "the room's questions"), icon=":material/error:")


def _student_panel(s: Session) -> None:
    room, state = follow.room_state()
    if room is None:
        return
    shown = state.open_rounds()
    current = state.latest(state.step_key) if state.step_key else None
    if current is not None and not current.is_open:
        shown.append(current)
    steps = {x.key: (i, x) for i, x in enumerate(run_of_show.steps())}
    for r in shown:
        if r.step_key not in steps or steps[r.step_key][1].question is None:
            continue   # the run of show changed since it was opened
        i, step = steps[r.step_key]
        with st.container(border=True, key=f"room_question_{r.id}"):
            st.markdown(f":material/quiz: **The presenter asks** · step {i + 1}, {step.title}")
            st.markdown(f"##### {step.question.text}")
            try:
                _student_round(s, room, r, step.question)
            except BoardUnavailable as e:
                board_view.unavailable(e)


def _student_round(s: Session, room: Room, r: Round, q: Question) -> None:
    mine = room.answer_of(r.id, s.public_id)
    if r.is_open:
        _answer_form(s, room, r, q, mine)
    elif r.state == REVEALED and r.measured is not None:
        st.markdown(f"**Measured: {q.shown(r.measured.value)}** ({plain(r.measured.text)}).")
        st.caption(f"From {plain(r.measured.source)}.")
        st.markdown(room_questions.yours(q, mine.value, r.measured) if mine else "You did not answer this one.")
    elif r.state == REVEALED:
        st.caption("Revealed: nothing was measured to hold the answers against.")
    else:
        st.caption("Answers are closed: the presenter reveals them next."
                   + (f" Your answer: {q.shown(mine.value)}." if mine else ""))


def _answer_form(s: Session, room: Room, r: Round, q: Question, mine) -> None:
    value_key, nick_key = f"room_value_{r.id}", f"room_nick_{r.id}"
    if nick_key not in st.session_state:   # the nickname last used, else the one typed on the class board
        saved = s.forms.get(FORM, {}).get("nickname") or s.forms.get("board", {}).get(board_view.NICK_KEY) or ""
        st.session_state[nick_key] = saved
    with st.form(f"room_answer_{r.id}", border=False, enter_to_submit=True):
        left, right = st.columns([3, 2], vertical_alignment="bottom")
        with left:
            if q.kind == CHOICE:
                st.radio("Your prediction", range(len(q.options)), format_func=lambda i: q.options[i], index=None,
                         key=value_key)
            else:
                lo, hi = q.bounds
                st.number_input(f"Your prediction ({q.unit})", min_value=lo, max_value=hi, value=None, key=value_key,
                                step=0.1, format="%.2f" if q.unit == "×" else "%.1f",
                                placeholder=f"a number from {q.shown(lo)} to {q.shown(hi)}")
        with right:
            st.text_input("Nickname (optional)", key=nick_key, max_chars=MAX_NICKNAME,
                          help="Shown to the room if your prediction is among the closest; empty: anonymous. One "
                               "another session uses (on the class board, or for this question) is refused.")
        # Keyed: its label changes once an answer is stored, and a click on the old label must still count.
        st.form_submit_button("Change my answer" if mine else "Send my answer", type="primary",
                              icon=":material/send:", key=f"room_send_{r.id}", on_click=_send,
                              args=(s, room, r, q, value_key, nick_key))
    if (refused := st.session_state.pop(f"room_refused_{r.id}", None)) is not None:
        st.warning(plain(refused), icon=":material/warning:")
    if mine is not None:
        st.caption(f":material/check_circle: Your answer: **{plain(q.shown(mine.value))}**"
                   + (" (anonymous)" if not mine.nickname else "")
                   + ". One answer per session: sending another replaces it, until the presenter closes the question.")
    else:
        st.caption("One answer per session: sending another replaces it, until the presenter closes the question.")


def _send(s: Session, room: Room, r: Round, q: Question, value_key: str, nick_key: str) -> None:
    """The answer form's submit, before the run that follows (which then draws the answer stored, or why not)."""
    value, nickname = st.session_state.get(value_key), st.session_state.get(nick_key) or ""
    try:
        if value is None:
            raise ValueError("Pick an option first." if q.kind == CHOICE else "Type a number first.")
        room.answer(r.id, int(value) if q.kind == CHOICE else float(value), owner=s.public_id, nickname=nickname)
    except (ValueError, BoardUnavailable) as e:   # out of range, a bad or taken nickname, closed, too often, no DB
        st.session_state[f"room_refused_{r.id}"] = str(e)
    else:
        s.forms.setdefault(FORM, {})["nickname"] = nickname


# --- the presenter's side --------------------------------------------------------------------------

def _act(s: Session, action, *args) -> None:
    """A presenter's button: the action (which checks the key itself), its refusal as one line."""
    try:
        action(s, *args)
    except (authority.NotPresenter, ValueError, BoardUnavailable) as e:
        s.notify("error", plain(str(e)))


def class_code(s: Session) -> str | None:
    """The class code on the presenter's Class board page: whose posts hold the room's measured values."""
    code = str(s.forms.get("board", {}).get(board_view.CLASS_KEY) or "").strip()
    try:
        return clean_class_code(code) if code else None
    except ValueError:
        return None


def presenter_panel(s: Session, step) -> None:
    """The step's question for the room: open it, the answers arriving, close, reveal; and the questions of
    other steps still open. Nothing for a step without a question and no question open."""
    try:
        room = Room.configured()
        state = room.snapshot()
    except BoardUnavailable as e:
        if step.question is not None:
            board_view.unavailable(e)
        return
    others = [r for r in state.open_rounds() if r.step_key != step.key]
    if step.question is None and not others:
        return
    if step.question is not None:
        _step_question(s, room, state.latest(step.key), step)
    if others:
        titles = {x.key: (i, x.title) for i, x in enumerate(run_of_show.steps())}
        for r in others:
            i, title = titles.get(r.step_key, (None, r.step_key))
            left, right = st.columns([4, 1], vertical_alignment="center")
            left.caption(f"Still open: the question of step {'' if i is None else i + 1} ({title}).")
            right.button("Close it", key=f"room_close_other_{r.id}", on_click=_act, args=(s, room.close, r.id),
                         width="stretch")


def _step_question(s: Session, room: Room, r: Round | None, step) -> None:
    q: Question = step.question
    st.subheader("Question for the room", anchor="question-for-the-room")
    st.markdown(f"**{q.text}**")
    code = class_code(s)
    what = (f"One of {len(q.options)} options" if q.kind == CHOICE else
            f"A number in {q.unit}, from {q.shown(q.bounds[0])} to {q.shown(q.bounds[1])}")
    source = (f"the class board of {code} (your Class board page's class code), else the step's replay"
              if code else "the step's replay (type a class code on the Class board page to use the room's posts)")
    if r is None or r.state != REVEALED:   # how it works, until the reveal takes the room
        st.caption(f"{what}, held against {q.how.what}: from {source}. Students who follow you answer on their own "
                   "devices, one answer per session.")
    if r is None or r.state == REVEALED:
        if r is not None:
            _revealed(room, r, q)
        st.button("Open the question for the room" if r is None else "Ask it again (a new round)",
                  type="primary" if r is None else "secondary", icon=":material/quiz:", key=f"room_open_{step.key}",
                  on_click=_act, args=(s, room.open, step.key, code))
        return
    left, middle, right = st.columns([2, 1, 1], vertical_alignment="center")
    with left:
        _live_count(room, r)
    if r.is_open:
        middle.button("Close answers", icon=":material/block:", key=f"room_close_{r.id}", width="stretch",
                      on_click=_act, args=(s, room.close, r.id))
    right.button("Reveal", type="primary", icon=":material/visibility:", key=f"room_reveal_{r.id}", width="stretch",
                 on_click=_act, args=(s, room.reveal, r.id))


def _live_count(room: Room, r: Round) -> None:
    """The answers so far, redrawn every COUNT_S seconds while the question is open."""

    @st.fragment(run_every=COUNT_S if r.is_open else None)
    def count() -> None:
        try:
            n = room.count(r.id)
        except BoardUnavailable as e:
            board_view.unavailable(e)
            return
        state = "open: answers arriving" if r.is_open else "closed: no more answers"
        st.metric(f"Answers ({state})", f"{n}", border=True)

    count()


def _revealed(room: Room, r: Round, q: Question) -> None:
    """The reveal: the answers' distribution beside the measured value, and the closest predictions."""
    reveal = room_questions.reveal(q, room.answers(r.id), r.measured)
    chart, words = st.columns([1.1, 1], gap="large")
    with chart:
        st.plotly_chart(room_charts.answers(reveal, choice=q.kind == CHOICE, unit=q.unit), key=f"room_chart_{r.id}",
                        config={"displaylogo": False})
    with words:
        if r.measured is not None:
            st.markdown(f"#### Measured: {q.shown(r.measured.value)}")
            st.markdown(plain(r.measured.text) + ".")
        else:
            st.markdown("#### Nothing measured to hold the answers against")
        st.markdown(plain(reveal.summary))
        if reveal.closest:
            st.markdown("**Closest predictions**" if q.kind != CHOICE else "**Who picked what was measured**")
            st.html(closest_table(reveal.closest))
        if r.measured is not None:   # where the figure comes from, last: the room reads the figure first
            st.caption(f"Measured value from {plain(r.measured.source)}."
                       + (f" Not from the class board: {plain(r.board_note)}." if r.board_note else ""))
        elif r.board_note:
            st.caption(plain(r.board_note) + ", and the step's replay does not hold it either.")


def closest_table(closest) -> str:
    """The closest predictions as an HTML table, every cell escaped: a nickname is what a student typed, shown as
    text (never markdown, which would make "www.example.org" a link), large enough for the back of the room."""
    cell = 'style="padding:0.2rem 0.8rem 0.2rem 0;text-align:left"'
    head = "".join(f"<th {cell}>{h}</th>" for h in ("nickname", "prediction", "vs measured"))
    rows = "".join(f"<tr><td {cell}><b>{html.escape(c.nickname)}</b></td><td {cell}>{html.escape(c.answer)}</td>"
                   f"<td {cell}>{html.escape(c.off)}</td></tr>" for c in closest)
    return (f'<table data-testid="room-closest" style="border-collapse:collapse;font-size:1.1rem">'
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
