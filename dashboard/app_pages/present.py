"""Run of show: the workshop one step at a time, for the presenter (lessons/run_of_show.toml).

Each step: its notes, a button that opens its page (with its preset) for the room, its replay where it
has one, and the link + QR code that open the same page and preset on the students' devices.
`?step=N` opens step N (from 1); the address follows the step shown, so a refresh stays on it.
"""

import re
from urllib.parse import urlsplit

import streamlit as st

from dashboard.course import replay, run_of_show, shareable
from dashboard.lab import settings
from dashboard.service import authority, replays
from dashboard.service.jobs import Busy
from dashboard.ui import lesson_view, presenter, session, status, widgets

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
n = len(steps)

# ?step=N, applied once per value (the buttons below move on from there).
raw = st.query_params.get("step")
if raw is not None and st.session_state.get("ros_step_param") != raw:
    st.session_state["ros_step_param"] = raw
    if re.fullmatch(r"[0-9]{1,3}", raw) and 1 <= int(raw) <= n:
        st.session_state["ros_step"] = int(raw) - 1
    else:
        st.warning(f"The link's step {shareable.quote(raw)} is not one of steps 1 to {n}; it was ignored.",
                   icon=":material/link_off:")
i = min(max(int(st.session_state.get("ros_step", 0)), 0), n - 1)
st.session_state["ros_step"] = i
st.query_params["step"] = st.session_state["ros_step_param"] = str(i + 1)


def move(by: int) -> None:
    st.session_state["ros_step"] = min(max(st.session_state.get("ros_step", 0) + by, 0), n - 1)


step = steps[i]
page = pages[step.page]


@st.dialog("Scan to open it on your device", width="large")
def large_qr(link: str) -> None:
    """The QR code as large as the projected screen allows: for the back of the room."""
    code, words = st.columns([1, 1], vertical_alignment="center")
    code.image(presenter.qr_png(link, scale=16), width=480)   # fits a 720-pixel-high screen with the title
    words.markdown(f"#### Or type\n\n### {link}")
    words.caption("It opens the same page and settings in a session of your own.")

left, middle, right = st.columns([1.6, 6, 1.6], vertical_alignment="center")
left.button("Previous", icon=":material/arrow_back:", on_click=move, args=(-1,), disabled=i == 0,
            width="stretch", key="ros_prev")
middle.caption(" → ".join(f"**{k + 1} {x.key.capitalize()}**" if k == i else f"{k + 1} {x.key.capitalize()}"
                          for k, x in enumerate(steps)))
right.button("Next", icon=":material/arrow_forward:", on_click=move, args=(1,), disabled=i == n - 1,
             width="stretch", key="ros_next")
st.subheader(f"Step {i + 1} of {n}: {step.title}")

main, room = st.columns([1.1, 1], gap="large")
with main:
    # What the presenter clicks first, then what they read.
    preset = shareable.presets().get(step.preset) if step.preset else None
    if st.button(f"Open {page.title} for the room", type="primary", icon=":material/open_in_new:",
                 key=f"ros_open_{step.key}"):
        st.switch_page(page.script, query_params={shareable.PRESET_PARAM: step.preset} if step.preset else None)
    if preset is not None:
        st.caption(f"With the preset *{preset.title}*: its settings fill in the page's widgets.")

    if step.replay:
        try:
            title, label = replay.describe(step.replay)
        except replay.ReplayError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            if st.button("Load the replay", icon=":material/replay:", disabled=s.busy, key=f"ros_replay_{step.key}",
                         help="Results measured earlier, loaded at once, so the demo depends neither on the "
                              "room's network nor on this server's CPU. Replaces this session's model and results."):
                try:
                    job = replays.load_replay(s, step.replay)
                except (Busy, ValueError) as exc:
                    st.error(str(exc), icon=":material/error:")
                else:
                    job.wait(10)   # about a second when the compute slot is free; else its progress shows
                    st.rerun()
            status.job_panel(s, ("replay",), key="ros_replay_job")
            st.caption(("**Loaded:** " if s.results_note == label else "") + f"*{title}*, {label}."
                       + (" The sidebar says so on every page, Compress beside its table." if s.results_note == label
                          else ""))

    with st.expander("Presenter notes", expanded=True, icon=":material/speaker_notes:"):
        # Figures in a note come from this session's model, else the step's replay: never typed by hand.
        sources = [] if s.trained is None else [
            ("this session's model" + (f" ({note})" if (note := presenter.replay_note(s)) else ", measured here"),
             lesson_view.evidence(s))]
        if step.replay and (shown := lesson_view.replay_evidence(step.replay, s)) is not None:
            sources.append((f"the step's replay ({shown[0]})", shown[1]))
        notes, used = run_of_show.render_notes(step, sources)
        st.markdown("\n".join(f"- {note}" for note in notes))
        if used:
            st.caption("Figures in these notes: from " + " and ".join(used) + ".")

    if presenter.is_on():
        threads = settings.current().threads
        st.caption(f"Threads are the server's setting: {threads} for everyone (TRAIN_INFER_LAB_THREADS); no page "
                   "lets anyone change it. The Edge & cloud page's per-profile *Threads* slider only limits that "
                   f"device profile's own measurement, up to the server's {threads}.")

with room:
    st.subheader("For the students")
    # The room's address typed here is kept in the session: it survives opening a page for the room and
    # coming back, and the class board's link and QR code use it too (presenter.room_address).
    address_form = {presenter.ROOM_KEY: ""}
    widgets.restore(s, presenter.ROOM_FORM, address_form)
    base, typed = presenter.room_address(s, "present")
    link = run_of_show.step_link(step, base, pages)
    if base is not None:
        st.image(presenter.qr_png(link), width=400)
    st.code(link, language=None, wrap_lines=True)
    if base is not None and st.button("Show the QR code full screen", icon=":material/qr_code_2:", key="ros_qr_big"):
        large_qr(link)
    host = urlsplit(base).hostname if base else None
    entered = st.session_state[presenter.ROOM_KEY].strip()
    if entered and not typed:
        st.warning("The room's address must start with http:// or https://; the links use the address the server "
                   "sees until it does.", icon=":material/link_off:")
    if base is None:
        st.caption("The app's address is not known here: type the room's address below to get a QR code.")
    elif host in ("localhost", "127.0.0.1", "::1", "0.0.0.0"):
        st.warning("This is this computer's own address: phones in the room cannot open it. Type the address "
                   "the room reaches below (for example http://192.168.1.20:8501).", icon=":material/wifi_off:")
    elif not typed:
        st.caption("This address is how the server sees it: if phones in the room cannot open it, type the "
                   "room's address below.")
    with st.expander("The room's address", expanded=not typed):
        st.text_input("Address students open (without a page)", key=presenter.ROOM_KEY, max_chars=200,
                      placeholder=presenter.app_url("present") or "http://192.168.1.20:8501",
                      help="Empty: the address this browser shows. Behind a proxy or on a laptop, type the address "
                           "the room's devices reach; the class board's link and QR code use it too.")
    widgets.save(s, presenter.ROOM_FORM, address_form)
    st.caption("Opens the same page" + (" and preset" if step.preset else "") + " in a session of their own: "
               "their own model and results, not yours.")
