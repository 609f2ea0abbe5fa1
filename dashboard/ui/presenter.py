"""Presenter mode: the sidebar toggle, `?mode=present`, larger type for a projector; the QR code.

Presenter mode is this tab's, never the room's: it lives in the Session's saved forms (so a refresh
keeps it) and changes only how this browser draws the pages. `?mode=present` turns it on and then
leaves the address bar, so the Train and Compress pages, which read their link's settings, never see
a parameter they do not know. Settings that affect everyone stay the server's: the thread count has
no widget at all (settings.current().threads, TRAIN_INFER_LAB_THREADS).
"""

from __future__ import annotations

import functools
import io

import segno
import streamlit as st

from dashboard.lab import settings
from dashboard.service import authority
from dashboard.service.sessions import REGISTRY, Session
from dashboard.ui import diagnostics, session, widgets

KEY = "presenter_mode"       # the toggle's widget key
FORM = {KEY: False}          # kept in the Session under "presenter" (ui.widgets)
PARAM, ON = "mode", "present"  # ?mode=present

# Streamlit sizes its text in rem, so a larger root font scales every line of it: 20 px is 1.25x the
# default 16 px. Charts (plotly draws in px) get the room's width instead: the page's side padding shrinks.
CSS = """<style id="presenter-mode">
html { font-size: 20px !important; }
[data-testid="stMainBlockContainer"] { max-width: 100% !important; padding-left: 2.5rem !important;
  padding-right: 2.5rem !important; padding-top: 3rem !important; }
[data-testid="stSidebar"] { font-size: 0.9rem; }
.stMarkdownEllipsis, .stMarkdownEllipsis p { white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important; }
</style>"""
# (The last rule: a button's label wraps instead of ending in "..." when the larger type outgrows its column.)

MODEL_RUNS = ("training", "demo", "replay")   # the runs that give a session its model (service.runs)


def secret_key() -> str | None:
    """st.secrets["presenter_key"] where a secrets file gives one, else None (no file: Streamlit raises)."""
    try:
        value = st.secrets.get("presenter_key")
    except Exception:  # noqa: BLE001 - StreamlitSecretNotFoundError, a malformed file: no key from there
        return None
    return str(value) if value else None


KEY_INPUT, ASKED = "presenter_key_typed", "presenter_key_asked"


def _unlock(s: Session) -> None:
    ok, line = authority.unlock(s, st.session_state.get(KEY_INPUT, ""))
    st.session_state[KEY_INPUT] = ""   # the key does not stay in the widget
    if ok:
        st.session_state[KEY] = True    # a presenter who unlocks wants presenter mode
        s.forms.setdefault("presenter", {})[KEY] = True
    s.notify("success" if ok else "error", line)


def _lock(s: Session) -> None:
    authority.lock(s)
    st.session_state[KEY] = False
    s.forms.setdefault("presenter", {})[KEY] = False


def setup(s: Session) -> None:
    """Called by app.py on every run, before the page: the presenter's key box or controls, presenter mode's
    styling, where the model comes from, and the way back to a lesson (lesson_view.trail)."""
    authority.configure(secret_key())
    widgets.restore(s, "presenter", FORM)
    if PARAM in st.query_params:
        asked = str(st.query_params.get(PARAM, "")).strip().lower() == ON
        del st.query_params[PARAM]   # any value leaves the address; only "present" asks for something
        if asked and authority.is_presenter(s):
            st.session_state[KEY] = True
            s.forms["presenter"][KEY] = True
        elif asked:
            st.session_state[ASKED] = True
    if not authority.is_presenter(s):
        st.session_state[KEY] = False
        with st.sidebar.expander("Presenter", icon=":material/key:", expanded=bool(st.session_state.get(ASKED))):
            with st.form("presenter_unlock", border=False, enter_to_submit=True):
                st.text_input("Presenter key", type="password", key=KEY_INPUT, max_chars=128,
                              help="Whoever runs the room has it (the server's log prints it at start when none "
                                   "was set). It gives this session the presenter's controls.")
                st.form_submit_button("Unlock", icon=":material/lock_open:", on_click=_unlock, args=(s,),
                                      key="presenter_unlock")
    else:
        st.sidebar.toggle("Presenter mode", key=KEY,
                          help="Larger type for a projector, and the Run of show page's notes. Only this browser "
                               "tab changes; `?mode=present` in the address turns it on.")
        st.sidebar.button("Give up the presenter's controls", icon=":material/lock:", key="presenter_lock",
                          on_click=_lock, args=(s,))
        with st.sidebar:
            diagnostics.panel(s)   # the server's state, for the presenter only
    widgets.save(s, "presenter", FORM)
    if (note := replay_note(s)) is not None:
        # On every page, in or out of presenter mode: the Train and comparison pages draw the model's
        # curves and figures without saying where they were measured.
        st.sidebar.info(f"Your model comes from {note}.", icon=":material/replay:")
    if is_on():
        st.sidebar.caption(f"Threads stay the server's setting: {settings.current().threads} for everyone.")
        st.html(CSS)
    # Above every page a lesson's Try it led to: the way back to the lesson, and the model it may have replaced.
    from dashboard.ui import lesson_view   # here: lesson_view's share links import this module
    lesson_view.trail(s)


def replay_note(s: Session) -> str | None:
    """Where the session's model was measured when it comes from a replay (its run's label), else None.
    The model's run is the first that gave a model after it came (a restored model brings its own count)."""
    came = next((r for r in list(s.runs)[s.model_runs_before:]
                 if r.kind in MODEL_RUNS and not r.outcome.startswith("failed")), None)
    return came.source if came is not None and came.kind == "replay" and s.trained is not None else None


def is_on() -> bool:
    """Whether this tab is in presenter mode: only ever for a session that gave the presenter key."""
    s = REGISTRY.get(st.session_state.get(session.KEY))
    return bool(st.session_state.get(KEY)) and s is not None and authority.is_presenter(s)


# The room's address, typed on the Run of show page and kept in the Session's saved forms (ui.widgets).
ROOM_FORM, ROOM_KEY = "present", "ros_base"
SERVER_SEEN = ("This address is how the server sees it, which phones in the room may not reach: set the room's "
               "address on **Run of show**.")


def room_address(s: Session, page_url_path: str) -> tuple[str | None, bool]:
    """(the app's address for the room's links and QR codes, whether it is the one the presenter typed).
    Typed on Run of show: that one; else the address as this server sees the browser (app_url), else None."""
    typed = str(s.forms.get(ROOM_FORM, {}).get(ROOM_KEY) or "").strip()
    if typed.startswith(("http://", "https://")):
        return typed.rstrip("/"), True
    return app_url(page_url_path), False


def app_url(page_url_path: str) -> str | None:
    """The app's address as the browser sees it (no page, no query), from the current page's URL; None
    where Streamlit does not know it (AppTest, a script)."""
    try:
        url = st.context.url
    except Exception:  # noqa: BLE001 - a context without it: no address to give
        return None
    if not url:
        return None
    url = url.rstrip("/")
    return url.removesuffix("/" + page_url_path) if page_url_path else url


@functools.lru_cache(maxsize=64)
def qr_png(text: str, *, scale: int = 10) -> bytes:
    """`text` as a QR code in PNG: `scale` pixels per module, the standard 4-module quiet zone, error
    correction M (a projector's glare and a phone at 10 m still read it). Cached: the pairing code's fragment
    draws it every few seconds, the Run of show and class board pages on every rerun (4-6 ms each)."""
    buf = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()
