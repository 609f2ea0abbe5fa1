"""Where the session cookie does not arrive: the session token kept in this browser's localStorage.

A few lines of JavaScript bundled here (a Streamlit v2 component, no files to serve): it reads the
token this browser stored, or makes one with the browser's cryptographic random generator and
stores it, and hands it to the app. Like the cookie, it stays in this browser and never enters an
address; unlike the HttpOnly cookie, the page's own scripts could read it, so the cookie is used
wherever it arrives.
"""

from __future__ import annotations

import streamlit as st

from dashboard.service.room_guard import valid_token

STORE_KEY = "til_session"

_JS = """
export default function(component) {
    const { setStateValue } = component;
    let token = null;
    try { token = window.localStorage.getItem("%(key)s"); } catch (e) { token = null; }
    if (!token || !/^[0-9a-f]{32}$/.test(token)) {
        const bytes = new Uint8Array(16);
        window.crypto.getRandomValues(bytes);
        token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
        try { window.localStorage.setItem("%(key)s", token); } catch (e) { /* private mode: this tab only */ }
    }
    setStateValue("token", token);
}
""" % {"key": STORE_KEY}

_component = st.components.v2.component("train_infer_lab_session_store", js=_JS)


def token() -> str | None:
    """This browser's stored token; None on the first run, before the browser has answered."""
    result = _component(key="til_session_store", on_token_change=lambda: None)
    value = getattr(result, "token", None)
    return value if isinstance(value, str) and valid_token(value) else None
