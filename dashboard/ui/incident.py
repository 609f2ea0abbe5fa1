"""A page that fails shows one plain line, never a traceback: `run_page(page)` in app.py runs every page.

The error's detail goes to the server log under an incident id (service.incidents); the page shows the
error's own message when a user can cause it, else "Something went wrong on the server (incident ...)".
Streamlit's control flow (st.rerun, st.stop, st.switch_page raise exceptions of their own) passes through.
"""

from __future__ import annotations

import streamlit as st
from streamlit.errors import FragmentHandledException
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from dashboard.service import incidents

# Raised by st.rerun / st.switch_page (RerunException) and st.stop (StopException), both
# ScriptControlException (a BaseException, so `except Exception` would miss them anyway); and by a fragment
# whose error Streamlit has already handled and shown (FragmentHandledException). Never ours to catch.
PASS_THROUGH = (ScriptControlException, FragmentHandledException)


def run_page(page) -> None:
    """`page.run()`, with any error it raises recorded and shown as one line (`st.error`)."""
    try:
        page.run()
    except PASS_THROUGH:
        raise
    except Exception as exc:  # noqa: BLE001 - every error ends here rather than as a traceback on the page
        st.error(incidents.student_line(exc, f"page {_name(page)}"), icon=":material/error:")


def on_script_error(exc: Exception) -> bool:
    """For `st.App(..., on_script_error=...)`: an error outside any page's own handling (a widget's callback,
    a fragment's rerun) is recorded and shown as one line instead of Streamlit's own box. Returns True:
    Streamlit shows nothing more."""
    try:
        st.error(incidents.student_line(exc, "the app"), icon=":material/error:")
    except Exception:  # noqa: BLE001 - no script context to draw in: the log has it all the same
        incidents.record(exc, "the app")
    return True


def _name(page) -> str:
    return str(getattr(page, "url_path", "") or getattr(page, "title", "") or "")
