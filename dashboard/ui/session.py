"""This browser tab's Session (service.sessions), found through the page's URL.

The Session lives on the server under a random token; the URL carries it (`?s=...`), so a
refresh, or the same link in a second tab, finds the same Session: a job keeps running and
nothing is lost. A new tab without the token is a new user. The app tells the service layer
which Streamlit sessions (tabs) are still connected, so a session whose tabs all closed has its
job cancelled and, later, is forgotten.
"""

from __future__ import annotations

import time

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard.service.sessions import REGISTRY, Session

KEY = "train_infer_lab"   # st.session_state[KEY]: this tab's session token
PARAM = "s"               # the URL's query parameter with the same token


def _tab_connected(tab_id: str) -> bool:
    """Whether a Streamlit session (a browser tab) still has its websocket open."""
    if not Runtime.exists():
        return True  # AppTest and scripts: no server to ask
    return Runtime.instance().is_active_session(tab_id)


def get() -> Session:
    """This tab's Session: the one its URL names if the server still has it, else a new one."""
    token = st.session_state.get(KEY) or st.query_params.get(PARAM)
    s = REGISTRY.get(token)
    if s is None:
        s = REGISTRY.create()
        if token:
            s.notify("info", "The session in this link is no longer on the server (it restarted, or the session "
                             "was closed for a long time): you start afresh.")
    REGISTRY.tab_connected = _tab_connected
    st.session_state[KEY] = s.token
    if st.query_params.get(PARAM) != s.token:
        st.query_params[PARAM] = s.token
    ctx = get_script_run_ctx()
    if ctx is not None:
        s.tabs.add(ctx.session_id)
    s.last_seen = time.time()
    return s


def page(title: str, caption: str | None = None) -> Session:
    """Every page's opening: this user's Session, the title, the caption, then pending notices."""
    s = get()
    st.title(title)
    if caption:
        st.caption(caption)
    # Always one container, empty or not: a notice shown once must not shift the elements below it,
    # or the next run draws every widget under a new position and the old copies linger while it runs.
    with st.container():
        for level, text in s.take_notices():
            {"error": st.error, "warning": st.warning, "success": st.success}.get(level, st.info)(text)
    return s


__all__ = ["KEY", "PARAM", "Session", "get", "page"]
