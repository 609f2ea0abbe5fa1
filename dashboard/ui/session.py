"""This browser's Session (service.sessions), found through its session cookie.

The Session lives on the server under a random token. The browser holds the token in an HttpOnly
cookie that dashboard/entry.py sets on the page (read here with st.context.cookies), so a refresh,
or a second tab of the same browser, finds the same Session: a job keeps running and nothing is
lost. Another browser, or the same address pasted in a chat, has no cookie: a new, empty session.
No address carries the token. Where the cookie does not arrive (a host that serves app.py without
the entry file, or strips cookies), the token is kept in this browser's localStorage instead
(ui.browser_storage). The app tells the service layer which Streamlit sessions (tabs) are still
connected, so a session whose tabs all closed has its job cancelled and, later, is forgotten.
"""

from __future__ import annotations

import time

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard.service.room_guard import COOKIE, valid_token
from dashboard.service.sessions import REGISTRY, RoomFull, Session
from dashboard.ui import browser_storage

KEY = "train_infer_lab"   # st.session_state[KEY]: this tab's session token, while its websocket lives
OLD_PARAM = "s"           # earlier versions put the token in the address: removed from it on sight


def _tab_connected(tab_id: str) -> bool:
    """Whether a Streamlit session (a browser tab) still has its websocket open."""
    if not Runtime.exists():
        return True  # AppTest and scripts: no server to ask
    return Runtime.instance().is_active_session(tab_id)


def cookie_token() -> str | None:
    """The session token in this browser's cookie, when it has one of the right form."""
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no request context (AppTest, a script): no cookie
        return None
    return value if valid_token(value) else None


def _from_a_browser() -> bool:
    """Whether this run came from a browser's websocket (which always sends a Host header), not AppTest or a
    script: only a browser can answer the browser-storage fallback."""
    try:
        return bool(st.context.headers.get("host"))
    except Exception:  # noqa: BLE001 - no request context at all
        return False


def kept_by(s: Session) -> str:
    """How this browser keeps its session: "cookie", "browser storage" or "this tab" (AppTest, scripts)."""
    return getattr(s, "kept_by", "this tab")


def get() -> Session:
    """This browser's Session: the one its cookie (or browser storage) names, else a new one."""
    if OLD_PARAM in st.query_params:
        del st.query_params[OLD_PARAM]   # an old bookmark's token: never read, gone from the address bar
    s = REGISTRY.get(st.session_state.get(KEY))
    if s is None:
        how, token = "cookie", cookie_token()
        if token is None and _from_a_browser():
            how, token = "browser storage", browser_storage.token()
            if token is None:   # its first run: the browser answers with the token and the page runs again
                st.caption("Opening your session...")
                st.stop()
        elif token is None:
            how = "this tab"
        s = REGISTRY.get(token)
        if s is None:
            try:
                s = REGISTRY.create(token)
            except RoomFull as exc:
                st.error(str(exc), icon=":material/group_off:")
                st.stop()
        s.kept_by = how
    REGISTRY.tab_connected = _tab_connected
    st.session_state[KEY] = s.token
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


__all__ = ["COOKIE", "KEY", "Session", "cookie_token", "get", "kept_by", "page"]
