"""Home, Compress, Training vs inference, Train and Results at 1280x720, a projector's size, in the real Chromium: every chart's text stays
inside the chart, the legend clear of the title, in-plot names clear of each other. Screenshots (the
first screen and the whole page, and each chart) go to the test's tmp_path; their paths are printed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from dashboard.ui.status import POLL_SERVER_S
from tests.e2e.browse import (TRAIN_S, chart_shots, chart_text_problems, charts_drawn, go, no_exception, open_app,
                               screen, set_slider, settle, sidebar)

pytestmark = pytest.mark.e2e

def live_curves_in_first_screen(page: Page, watcher: Page, app_url: str, tmp_path) -> None:
    """Press Train on a page that has a model: the live curves are in the first 720 px, under the folded
    settings, without scrolling. Meanwhile another student opens the app: their sidebar says the server
    is training, and stops saying so once it has ended (it used to stay, drawn once). Ten epochs, stopped
    once the watcher has seen it: it is still running whenever the watcher looks, and nobody waits for it."""
    page.get_by_text(re.compile(r"^Settings \(this model")).click()
    settle(page)
    set_slider(page, "Epochs (passes over the training images)", "End", "10")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_role("button", name="Stop training")).to_be_visible(timeout=TRAIN_S)
    curves = page.get_by_test_id("stPlotlyChart").first
    expect(curves.locator(".legendtext", has_text="training batches")).to_be_visible(timeout=TRAIN_S)
    box = curves.bounding_box()
    screen(page, tmp_path, "train-live")
    assert box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"], box
    open_app(watcher, app_url)
    expect(sidebar(watcher)).to_contain_text("Server: running a training")
    page.get_by_role("button", name="Stop training", exact=True).click()
    expect(page.get_by_role("heading", name="Inside the trained model")).to_be_visible(timeout=TRAIN_S)
    settle(page)
    expect(sidebar(watcher)).not_to_contain_text("Server:", timeout=3 * POLL_SERVER_S * 1000)


def test_pages_read_at_1280x720(app_url, projector_page, browser, tmp_path, server_log_clean):  # noqa: F811
    page = projector_page
    open_app(page, app_url)
    charts_drawn(page)
    screen(page, tmp_path, "home-1")
    screen(page, tmp_path, "home-2", "The path through the lab")
    screen(page, tmp_path, "home-3", "This machine")
    assert not chart_text_problems(page)
    expect(page.get_by_role("heading", name="Where the numbers come from")).to_be_visible()
    expect(page.get_by_text("int8 engines")).to_be_hidden()   # technical list behind an expander

    page.get_by_role("button", name="Run the whole demo", exact=True).click()
    expect(page.get_by_text(re.compile(r"Demo done"))).to_be_visible(timeout=TRAIN_S)
    settle(page)
    no_exception(page)

    go(page, "Compress & benchmark", "Compress & benchmark")
    expect(page.get_by_role("heading", name="Side by side")).to_be_visible()
    charts_drawn(page)
    screen(page, tmp_path, "compress-1", "Side by side")
    page.get_by_test_id("stTable").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    screen(page, tmp_path, "compress-2")
    page.get_by_test_id("stPlotlyChart").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    screen(page, tmp_path, "compress-3")
    page.get_by_test_id("stPlotlyChart").nth(2).evaluate("e => e.scrollIntoView({block: 'start'})")
    screen(page, tmp_path, "compress-4")
    page.get_by_role("heading", name="Why did it come out so?").click()
    page.get_by_text("int8: slower at batch 1, faster at batch 256?").click()
    screen(page, tmp_path, "compress-5", "Why did it come out so?")
    chart_shots(page, tmp_path, "compress")
    problems = chart_text_problems(page)
    assert not problems, problems
    expect(page.get_by_role("heading", name="Why did it come out so?")).to_be_visible()
    no_exception(page)

    # Training vs inference, after the demo: three regimes, memory, FLOPs per layer, break-even.
    go(page, "Training vs inference", "Training vs inference")
    expect(page.get_by_role("heading", name="One image, three ways of running the model")).to_be_visible()
    charts_drawn(page)
    for n, heading in enumerate(("One image, three ways of running the model",
                                 "Memory: what a training step holds that an inference does not",
                                 "FLOPs per layer: forward and backward", "Energy: what these figures are made of",
                                 "Break-even: when inference has cost as much as training", "Lifetime projection",
                                 "From this lab to real systems"), start=1):
        screen(page, tmp_path, f"compare-{n}", heading)
    chart_shots(page, tmp_path, "compare")
    problems = chart_text_problems(page)
    assert not problems, problems
    no_exception(page)

    go(page, "Train", "Train a model")
    charts_drawn(page)
    screen(page, tmp_path, "train-1", "Inside the trained model")   # (its other charts sit in closed tabs)
    watcher = browser.new_context(viewport=page.viewport_size, color_scheme="light").new_page()
    try:
        go(page, "Results", "Results")
        go(page, "Train", "Train a model")   # drawn afresh, at the top
        live_curves_in_first_screen(page, watcher, app_url, tmp_path)
    finally:
        watcher.context.close()
    problems = chart_text_problems(page)
    assert not problems, problems
    go(page, "Results", "Results")
    screen(page, tmp_path, "results-1")
    no_exception(page)
