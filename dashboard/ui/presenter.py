"""Presenter mode: the sidebar toggle, `?mode=present`, larger type for a projector; the QR code.

Presenter mode is this tab's, never the room's: it lives in the Session's saved forms (so a refresh
keeps it) and changes only how this browser draws the pages. `?mode=present` turns it on and then
leaves the address bar, so the Train and Compress pages, which read their link's settings, never see
a parameter they do not know. Settings that affect everyone stay the server's: the thread count has
no widget at all (settings.current().threads, TRAIN_INFER_LAB_THREADS).
"""

from __future__ import annotations

import io

import segno
import streamlit as st

from dashboard.lab import settings
from dashboard.service.sessions import Session
from dashboard.ui import widgets

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


def setup(s: Session) -> None:
    """Called by app.py on every run, before the page: presenter mode's toggle and styling."""
    widgets.restore(s, "presenter", FORM)
    if st.query_params.get(PARAM) == ON:
        st.session_state[KEY] = True
        s.forms["presenter"][KEY] = True
        del st.query_params[PARAM]
    st.sidebar.toggle("Presenter mode", key=KEY,
                      help="Larger type for a projector, and the Run of show page's notes. Only this browser tab "
                           "changes; `?mode=present` in the address turns it on.")
    widgets.save(s, "presenter", FORM)
    if (note := replay_note(s)) is not None:
        # On every page, in or out of presenter mode: the Train and comparison pages draw the model's
        # curves and figures without saying where they were measured.
        st.sidebar.info(f"Your model comes from {note}.", icon=":material/replay:")
    if is_on():
        st.sidebar.caption(f"Threads stay the server's setting: {settings.current().threads} for everyone.")
        st.html(CSS)


def replay_note(s: Session) -> str | None:
    """Where the session's model was measured when it comes from a replay (its run's label), else None."""
    last = next((r for r in reversed(list(s.runs)) if r.kind in MODEL_RUNS and not r.outcome.startswith("failed")),
                None)
    return last.source if last is not None and last.kind == "replay" and s.trained is not None else None


def is_on() -> bool:
    """Whether this tab is in presenter mode."""
    return bool(st.session_state.get(KEY))


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


def qr_png(text: str, *, scale: int = 10) -> bytes:
    """`text` as a QR code in PNG: `scale` pixels per module, the standard 4-module quiet zone, error
    correction M (a projector's glare and a phone at 10 m still read it)."""
    buf = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()
