"""The Edge & cloud page at 1280x720 (a projector) in the real Chromium: after the demo, "Measure all four
profiles" fills in which versions fit each device and the cloud-vs-device comparison; every chart's text
stays inside its chart. Screenshots go to the test's tmp_path; their paths are printed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from tests.e2e.browse import TRAIN_S, chart_shots, chart_text_problems, charts_drawn, go, no_exception, open_app, screen, settle

LINK = "Edge & cloud"
MEASURE_S = 180_000   # ms: four profiles x the demo's five versions on 2 busy cores, with margin

pytestmark = pytest.mark.e2e


def test_edge_page_reads_at_1280x720(app_url, projector_page, tmp_path, server_log_clean):  # noqa: F811
    page = projector_page
    open_app(page, app_url)
    go(page, "Home", "Train & Infer Lab")
    page.get_by_role("button", name="Run the whole demo", exact=True).click()
    expect(page.get_by_text(re.compile(r"Demo done"))).to_be_visible(timeout=TRAIN_S)
    settle(page)
    go(page, LINK, LINK)
    page.get_by_role("button", name="Measure all four profiles", exact=True).click()
    expect(page.get_by_text(re.compile(r"Measured every version under 4 device profiles"))).to_be_visible(
        timeout=MEASURE_S)
    settle(page)
    no_exception(page)
    page.get_by_text("Microcontroller-class", exact=True).click()
    settle(page)
    expect(page.get_by_text(re.compile(r"versions fit microcontroller-class"))).to_be_visible()
    charts_drawn(page)
    screen(page, tmp_path, "edge-1")
    for n, heading in enumerate((re.compile("versions fit"), "Cloud or device: one request"), start=2):
        screen(page, tmp_path, f"edge-{n}", heading)
    page.get_by_test_id("stPlotlyChart").nth(1).evaluate("e => e.scrollIntoView({block: 'start'})")
    screen(page, tmp_path, "edge-cloud")
    chart_shots(page, tmp_path, "edge")
    problems = chart_text_problems(page)
    assert not problems, problems
    no_exception(page)
