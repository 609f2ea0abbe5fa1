"""Widget values that survive a page change.

Streamlit forgets a keyed widget's value when a run does not draw it (another page was open).
So each page's form lives in the Session: restore() puts it back before the widgets are drawn,
save() copies what the user set after.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.service.sessions import Session


def restore(s: Session, form: str, defaults: dict[str, Any]) -> None:
    saved = s.forms.setdefault(form, dict(defaults))
    for key, default in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = saved.get(key, default)


def save(s: Session, form: str, defaults: dict[str, Any]) -> dict[str, Any]:
    values = {key: st.session_state.get(key, default) for key, default in defaults.items()}
    s.forms[form] = values
    return values
