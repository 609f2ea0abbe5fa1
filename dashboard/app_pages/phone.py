"""Measure on my phone: the page a pairing link opens on a phone (`/?pair=CODE`), outside the navigation and
without a session of its own (dashboard/app.py routes it). Layout only: ui.phone_view."""

from dashboard.ui import phone_view

phone_view.page()
