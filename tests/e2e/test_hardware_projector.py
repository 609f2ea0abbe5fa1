"""The Hardware page at 1280x720 (a projector) in the real Chromium: on a fresh session it says what needs
a model; after the demo and "Measure this machine" every chart's text stays inside its chart and no
in-plot names overlap. Screenshots (screens and each chart) go to the test's tmp_path; their paths are printed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from tests.e2e.browse import TRAIN_S, chart_shots, chart_text_problems, charts_drawn, go, no_exception, open_app, screen, settle

LINK = "Hardware"                                # the sidebar's name for it (st.Page title in app.py)
HEADING = "Hardware: how close to the limit"     # the page's own title
MEASURE_S = 120_000                              # ms: peaks and threads x batch, on 2 busy cores, with margin

pytestmark = pytest.mark.e2e


def test_hardware_page_reads_at_1280x720(app_url, projector_page, tmp_path, server_log_clean):  # noqa: F811
    page = projector_page
    open_app(page, app_url)
    go(page, LINK, HEADING)
    expect(page.get_by_text("Train a model first").first).to_be_visible()
    screen(page, tmp_path, "hardware-fresh")

    go(page, "Home", "Train & Infer Lab")
    page.get_by_role("button", name="Run the whole demo", exact=True).click()
    expect(page.get_by_text(re.compile(r"Demo done"))).to_be_visible(timeout=TRAIN_S)
    settle(page)
    go(page, LINK, HEADING)
    page.get_by_role("button", name="Measure this machine", exact=True).click()
    expect(page.get_by_text(re.compile(r"Measured this machine's peaks"))).to_be_visible(timeout=MEASURE_S)
    settle(page)
    no_exception(page)
    charts_drawn(page)
    screen(page, tmp_path, "hardware-1")
    for n, heading in enumerate(("How close your model gets", "More threads: who gains", "CPU vs GPU",
                                 "Your training on other chips"), start=2):
        screen(page, tmp_path, f"hardware-{n}", heading)
    page.get_by_test_id("stPlotlyChart").nth(1).evaluate("e => e.scrollIntoView({block: 'start'})")
    screen(page, tmp_path, "hardware-shares")
    chart_shots(page, tmp_path, "hardware")
    problems = chart_text_problems(page)
    assert not problems, problems
    no_exception(page)
