"""Settings in the page's link: a shared link (or a preset) fills in the widgets, and a
"Link to these settings" element gives the link of what the student set.

The checking is course.shareable's; here only Streamlit: the query, the widgets' state, the notices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard.course import shareable
from dashboard.service.sessions import REGISTRY, Session
from dashboard.ui import presenter, session

APPLIED = "share_applied_{page}"   # st.session_state: the query this tab has applied on that page
# Markdown and HTML punctuation: st.warning renders markdown, and a notice must show as typed.
_MARKUP = frozenset("\\`*_{}[]()<>#+-!|~$:&")


def plain(text: str) -> str:
    """`text` for a markdown element, shown as typed: every markup character backslash-escaped."""
    return "".join("\\" + c if c in _MARKUP else c for c in text)


def apply_query(s: Session, form: str, defaults: Mapping[str, Any] | None, page: str) -> None:
    """Put the settings of this page's link into its widgets (call before widgets.restore).

    Each distinct query is applied once per tab, so a rerun does not undo the student's later
    changes; the applied parameters then leave the address bar (a refresh keeps what the student
    set, and the address never names settings the widgets no longer have). The values go into the
    widgets' state and the Session's saved form, so a page that stops early (no model yet) still
    has them for later. Notices for refused values show here, in plain text."""
    slot = st.container()   # always drawn, so notices never shift the widgets below between runs
    query = {name: st.query_params.get_all(name) for name in st.query_params}
    ours = {name: tuple(v) for name, v in query.items() if name not in shareable.IGNORED}
    if not ours:
        return
    stamp = sorted(ours.items())
    mark = APPLIED.format(page=page)
    if st.session_state.get(mark) == stamp:
        return
    st.session_state[mark] = stamp
    values, notices = shareable.parse(query, page)
    saved = s.forms.setdefault(form, dict(defaults or {}))
    for key, value in values.items():
        st.session_state[key] = value
        saved[key] = value
    for name in ours:
        del st.query_params[name]
    with slot:
        for notice in notices:
            st.warning(plain(notice), icon=":material/link_off:")


def share_link(defaults: Mapping[str, Any], page: str) -> None:
    """A small "Link to these settings" element: the page's link with the settings that differ from
    the defaults (never the session token: a shared link gives settings, not this session), under the
    room's address when the presenter typed one on Run of show, else the address this browser shows."""
    values = {key: st.session_state.get(key, default) for key, default in defaults.items()}
    params = shareable.encode(values, page)
    s = REGISTRY.get(st.session_state.get(session.KEY))
    room, typed = presenter.room_address(s, page) if s is not None else (None, False)
    if typed:
        base = f"{room}/{page}"
    else:
        try:
            base = st.context.url   # the page's full address, without its query; None outside a browser
        except Exception:  # noqa: BLE001 - an older or test context without it: the relative link
            base = None
    text = shareable.link("", params, base)
    with st.expander("Link to these settings", icon=":material/link:"):
        if text:
            st.code(text, language=None)
        st.caption(("Anyone who opens it gets these settings on this page, not your model or results."
                    if params else "These are the default settings: the page's own address opens them.")
                   + (" " + presenter.SERVER_SEEN if presenter.is_on() and not typed else ""))
