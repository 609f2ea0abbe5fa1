"""The Run of show page's sections: the step a link asks for (?step=N) and the buttons that move on (the
students who follow the presenter move with them: ui.follow), the row of steps, opening a step's page for
the room, its replay, the presenter's notes (figures from this session's model or the step's replay), and
the link and QR code for the students. Streamlit drawing only: the steps, their links and notes are
course.run_of_show's, the QR code and room address ui.presenter's."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import streamlit as st

from dashboard.course import replay, run_of_show, shareable
from dashboard.lab import settings
from dashboard.service.sessions import Session
from dashboard.ui import follow, lesson_view, presenter, widgets

STEP_KEY, PARAM_KEY = "ros_step", "ros_step_param"   # the step shown (from 0); the ?step= value last applied
LOCALHOST = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


def step_shown(s: Session, steps: list) -> int:
    """The step to show (from 0): ?step=N applied once per value (the buttons move on from there; students who
    follow go there too), kept in range; the address then follows it, so a refresh stays on it."""
    n = len(steps)
    raw = st.query_params.get("step")
    if raw is not None and st.session_state.get(PARAM_KEY) != raw:
        st.session_state[PARAM_KEY] = raw
        if re.fullmatch(r"[0-9]{1,3}", raw) and 1 <= int(raw) <= n:
            st.session_state[STEP_KEY] = int(raw) - 1
            follow.send(s, steps[int(raw) - 1].key)
        else:
            st.warning(f"The link's step {shareable.quote(raw)} is not one of steps 1 to {n}; it was ignored.",
                       icon=":material/link_off:")
    i = min(max(int(st.session_state.get(STEP_KEY, 0)), 0), n - 1)
    st.session_state[STEP_KEY] = i
    st.query_params["step"] = st.session_state[PARAM_KEY] = str(i + 1)
    return i


def move(s: Session, steps: list, by: int) -> None:
    """Previous / Next: the step shown here, and the room's (students who follow go to its page)."""
    i = min(max(st.session_state.get(STEP_KEY, 0) + by, 0), len(steps) - 1)
    st.session_state[STEP_KEY] = i
    follow.send(s, steps[i].key)


def step_bar(s: Session, steps: list, i: int) -> None:
    """Previous, the row of steps (the one shown in bold), Next; then the step's title and where the students
    who follow are."""
    n = len(steps)
    left, middle, right = st.columns([1.6, 6, 1.6], vertical_alignment="center")
    left.button("Previous", icon=":material/arrow_back:", on_click=move, args=(s, steps, -1), disabled=i == 0,
                width="stretch", key="ros_prev")
    middle.caption(" → ".join(f"**{k + 1} {x.key.capitalize()}**" if k == i else f"{k + 1} {x.key.capitalize()}"
                              for k, x in enumerate(steps)))
    right.button("Next", icon=":material/arrow_forward:", on_click=move, args=(s, steps, 1), disabled=i == n - 1,
                 width="stretch", key="ros_next")
    st.subheader(f"Step {i + 1} of {n}: {steps[i].title}")
    follow.presenter_line(s, steps, i)


def open_for_room(step, page) -> None:
    """The button that opens the step's page (with its preset) in this tab, for the room to see."""
    preset = shareable.presets().get(step.preset) if step.preset else None
    if st.button(f"Open {page.title} for the room", type="primary", icon=":material/open_in_new:",
                 key=f"ros_open_{step.key}"):
        st.switch_page(page.script, query_params={shareable.PRESET_PARAM: step.preset} if step.preset else None)
    if preset is not None:
        st.caption(f"With the preset *{preset.title}*: its settings fill in the page's widgets.")


def replay_described(name: str) -> tuple[str, str] | None:
    """The step's replay's (title, label), or None after saying why it cannot be loaded."""
    try:
        return replay.describe(name)
    except replay.ReplayError as exc:
        st.error(str(exc), icon=":material/error:")
        return None


def replay_button(s: Session, step) -> bool:
    return st.button("Load the replay", icon=":material/replay:", disabled=s.busy, key=f"ros_replay_{step.key}",
                     help="Results measured earlier, loaded at once, so the demo depends neither on the "
                          "room's network nor on this server's CPU. Replaces this session's model and results.")


def replay_loaded(s: Session, title: str, label: str) -> None:
    loaded = s.results_note == label
    st.caption(("**Loaded:** " if loaded else "") + f"*{title}*, {label}."
               + (" The sidebar says so on every page, Compress beside its table." if loaded else ""))


def notes(s: Session, step) -> None:
    """The presenter's notes. Figures in a note come from this session's model, else the step's replay:
    never typed by hand."""
    with st.expander("Presenter notes", expanded=True, icon=":material/speaker_notes:"):
        sources = [] if s.trained is None else [
            ("this session's model" + (f" ({note})" if (note := presenter.replay_note(s)) else ", measured here"),
             lesson_view.evidence(s))]
        if step.replay and (shown := lesson_view.replay_evidence(step.replay, s)) is not None:
            sources.append((f"the step's replay ({shown[0]})", shown[1]))
        lines, used = run_of_show.render_notes(step, sources)
        st.markdown("\n".join(f"- {line}" for line in lines))
        if used:
            st.caption("Figures in these notes: from " + " and ".join(used) + ".")


def threads_note() -> None:
    """In presenter mode: threads are the server's, not a setting anyone changes."""
    if presenter.is_on():
        threads = settings.current().threads
        st.caption(f"Threads are the server's setting: {threads} for everyone (TRAIN_INFER_LAB_THREADS); no page "
                   "lets anyone change it. The Edge & cloud page's per-profile *Threads* slider only limits that "
                   f"device profile's own measurement, up to the server's {threads}.")


@st.dialog("Scan to open it on your device", width="large")
def large_qr(link: str) -> None:
    """The QR code as large as the projected screen allows: for the back of the room."""
    code, words = st.columns([1, 1], vertical_alignment="center")
    code.image(presenter.qr_png(link, scale=16), width=480)   # fits a 720-pixel-high screen with the title
    words.markdown(f"#### Or type\n\n### {link}")
    words.caption("It opens the same page and settings in a session of your own.")


def address_notice(base: str | None, typed: bool) -> None:
    """Whether the room can reach the address the link uses, and what to type when it cannot."""
    host = urlsplit(base).hostname if base else None
    entered = st.session_state[presenter.ROOM_KEY].strip()
    if entered and not typed:
        st.warning("The room's address must start with http:// or https://; the links use the address the server "
                   "sees until it does.", icon=":material/link_off:")
    if base is None:
        st.caption("The app's address is not known here: type the room's address below to get a QR code.")
    elif host in LOCALHOST:
        st.warning("This is this computer's own address: phones in the room cannot open it. Type the address "
                   "the room reaches below (for example http://192.168.1.20:8501).", icon=":material/wifi_off:")
    elif not typed:
        st.caption("This address is how the server sees it: if phones in the room cannot open it, type the "
                   "room's address below.")


def for_the_students(s: Session, step, pages) -> None:
    """The step's link and QR code for the room, and the room's address they use. The address typed here is
    kept in the session: it survives opening a page for the room and coming back, and the class board's link
    and QR code use it too (presenter.room_address)."""
    st.subheader("For the students")
    address_form = {presenter.ROOM_KEY: ""}
    widgets.restore(s, presenter.ROOM_FORM, address_form)
    base, typed = presenter.room_address(s, "present")
    link = run_of_show.step_link(step, base, pages)
    if base is not None:
        st.image(presenter.qr_png(link), width=400)
    st.code(link, language=None, wrap_lines=True)
    if base is not None and st.button("Show the QR code full screen", icon=":material/qr_code_2:", key="ros_qr_big"):
        large_qr(link)
    address_notice(base, typed)
    with st.expander("The room's address", expanded=not typed):
        st.text_input("Address students open (without a page)", key=presenter.ROOM_KEY, max_chars=200,
                      placeholder=presenter.app_url("present") or "http://192.168.1.20:8501",
                      help="Empty: the address this browser shows. Behind a proxy or on a laptop, type the address "
                           "the room's devices reach; the class board's link and QR code use it too.")
    widgets.save(s, presenter.ROOM_FORM, address_form)
    st.caption("Opens the same page" + (" and preset" if step.preset else "") + " in a session of their own: "
               "their own model and results, not yours.")
