"""What `streamlit run dashboard/entry.py` serves: the app (dashboard/app.py) behind the room's guard
(service.room_guard): a session cookie for each browser, Streamlit's internal metrics closed.

Errors in widget callbacks get an incident id like a page's (ui.incident). At start, once, the server's
log gets the settings' errors and, when no key was set, the presenter key generated for this run.
"""

from __future__ import annotations

import streamlit as st
from starlette.middleware import Middleware

from dashboard.lab import settings
from dashboard.service import authority
from dashboard.service.room_guard import RoomGuard
from dashboard.ui import incident, presenter

settings.log_errors()
authority.configure(presenter.secret_key())
# An error outside a page's own run (a widget's callback) is one line with an incident id too (ui.incident).
app = st.App("app.py", middleware=[Middleware(RoomGuard)], on_script_error=incident.on_script_error)
