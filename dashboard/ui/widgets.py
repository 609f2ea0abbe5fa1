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


def save_all(s: Session) -> None:
    """Keep every form's values that this run received, before any page draws.

    A page saves its form when its run ends; a user who changes a widget and at once clicks
    another page interrupts that run, and the new page would not draw the widget, so its value
    would be lost. The app calls this first on every run, while the values are still there."""
    for values in s.forms.values():
        for key in values:
            if key in st.session_state:
                values[key] = st.session_state[key]


def save(s: Session, form: str, defaults: dict[str, Any]) -> dict[str, Any]:
    values = {key: st.session_state.get(key, default) for key, default in defaults.items()}
    s.forms[form] = values
    return values
