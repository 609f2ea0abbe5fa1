"""Home, Compress, Training vs inference, Train and Results at 1280x720, a projector's size, in the real Chromium: every chart's text stays
inside the chart, the legend clear of the title, in-plot names clear of each other. Screenshots (the
first screen and the whole page, and each chart) go to the test's tmp_path; their paths are printed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from test_app_flow import TRAIN_S, go, no_exception, open_app, server_log_clean, settle, sidebar  # noqa: F401

from dashboard.ui.status import POLL_SERVER_S

pytestmark = pytest.mark.e2e

def _overlap(a: dict, b: dict, slack: float = 1.0) -> bool:
    return (a["x"] + slack < b["x"] + b["width"] and b["x"] + slack < a["x"] + a["width"]
            and a["y"] + slack < b["y"] + b["height"] and b["y"] + slack < a["y"] + a["height"])


def chart_text_problems(page: Page) -> list[str]:
    """Text that leaves its chart, in-plot names that overlap, a legend over a title: as drawn."""
    problems = []
    for i, chart in enumerate(page.get_by_test_id("stPlotlyChart").all()):
        if not chart.is_visible():   # in a closed tab or expander: nothing drawn to check
            continue
        chart.scroll_into_view_if_needed()
        box = chart.locator(".main-svg").first.bounding_box()
        title = chart.locator(".gtitle").first
        name = title.text_content() if title.count() else f"chart {i}"
        texts = [t.bounding_box() for t in chart.locator(".gtitle, .xtitle, .ytitle, .legendtext").all()]
        for t in texts:
            if t and (t["x"] < box["x"] - 1 or t["x"] + t["width"] > box["x"] + box["width"] + 1
                      or t["y"] < box["y"] - 1 or t["y"] + t["height"] > box["y"] + box["height"] + 1):
                problems.append(f"{name}: text cut off at the chart's edge")
        labels = [t.bounding_box() for t in chart.locator(".textpoint text").all()]
        labels = [b for b in labels if b and b["width"] > 0]
        for j, a in enumerate(labels):
            if any(_overlap(a, b) for b in labels[j + 1:]):
                problems.append(f"{name}: two in-plot labels overlap")
        legend = chart.locator(".legend").first
        if (title.count() and legend.count() and legend.bounding_box()
                and _overlap(title.bounding_box(), legend.bounding_box())):
            problems.append(f"{name}: the legend covers the title")
        # Plotly's tool bar, shown while the pointer is over the chart, keeps to its strip.
        chart.hover()
        bar = chart.locator(".modebar").first
        bar_box = bar.bounding_box() if bar.count() else None
        if bar_box and bar_box["width"] > 0:
            for t in chart.locator(".gtitle, .legend, .annotation").all():
                if (b := t.bounding_box()) and _overlap(bar_box, b):
                    problems.append(f"{name}: the tool bar covers {t.text_content()[:40]!r}")
    return problems


def charts_drawn(page: Page) -> None:
    """Wait until every chart on the page has drawn its SVG (plotly draws after the page settles)."""
    for chart in page.get_by_test_id("stPlotlyChart").all():
        expect(chart.locator(".main-svg").first).to_be_attached()


def screen(page: Page, folder, name: str, heading: str | None = None) -> None:
    """The 1280x720 screen a projector shows, scrolled to `heading` if given."""
    if heading:
        page.get_by_role("heading", name=heading).first.scroll_into_view_if_needed()
        page.get_by_role("heading", name=heading).first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    path = folder / f"screen-{name}.png"
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")


def chart_shots(page: Page, folder, prefix: str) -> None:
    """Each chart of the page on its own, as drawn: <prefix>-chart-<i>.png."""
    for i, chart in enumerate(page.get_by_test_id("stPlotlyChart").all()):
        chart.scroll_into_view_if_needed()
        path = folder / f"{prefix}-chart-{i}.png"
        chart.screenshot(path=str(path))
        print(f"screenshot: {path}")


def live_curves_in_first_screen(page: Page, watcher: Page, app_url: str, tmp_path) -> None:
    """Press Train on a page that has a model: the live curves are in the first 720 px, under the folded
    settings, without scrolling. Meanwhile another student opens the app: their sidebar says the server
    is training, and stops saying so once it has ended (it used to stay, drawn once)."""
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_role("button", name="Stop training")).to_be_visible(timeout=TRAIN_S)
    curves = page.get_by_test_id("stPlotlyChart").first
    expect(curves.locator(".legendtext", has_text="training batches")).to_be_visible(timeout=TRAIN_S)
    box = curves.bounding_box()
    screen(page, tmp_path, "train-live")
    assert box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"], box
    open_app(watcher, app_url)
    expect(sidebar(watcher)).to_contain_text("Server: running a training")
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
