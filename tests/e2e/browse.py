"""Driving the real app in Chromium as a student would: wait for a script run to end, change page
through the sidebar, press Train, check the charts as drawn, take the projector's screenshots, type the
presenter key. Plain functions on a Playwright page, called many times within a test: a module, not
fixtures (the fixtures, a server and a browser, are in tests/e2e/conftest.py)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.keys import E2E_PRESENTER_KEY

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
EXCEPTION = '[data-testid="stException"]'
PAGE_HEADINGS = {  # sidebar link -> the page's title (st.title)
    "Home": "Train & Infer Lab",
    "Train": "Train a model",
    "Compress & benchmark": "Compress & benchmark",
    "Training vs inference": "Training vs inference",
    "Results": "Results",
}
TRAIN_S = 180_000      # ms: one epoch of the bundled digits on 2 busy cores, with margin
SETTLE_S = 60_000
GRACE_S = 5            # s: the browser tests' server stops a job this long after its last tab closed (conftest.py)



def settle(page: Page, timeout: float = SETTLE_S) -> None:
    """Wait until the script run the last action caused has finished."""
    page.wait_for_selector(IDLE, state="attached", timeout=timeout)


def no_exception(page: Page) -> None:
    expect(page.locator(EXCEPTION)).to_have_count(0)


def sidebar(page: Page):
    return page.get_by_test_id("stSidebar")


def go(page: Page, link: str, heading: str) -> None:
    """Change page through the sidebar navigation (a URL change would start a new session)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link, exact=True).click()
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible(timeout=SETTLE_S)
    settle(page)
    no_exception(page)


def open_app(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name=PAGE_HEADINGS["Home"], level=1)).to_be_visible(timeout=SETTLE_S)
    settle(page)
    no_exception(page)


def slider_input(page: Page, label: str):
    # The accessible name repeats the label (aria-labelledby); the input's aria-label is exact.
    return page.locator(f'input[type="range"][aria-label="{label}"]')


def set_slider(page: Page, label: str, key: str, expected: str, *presses: str) -> None:
    """Move a slider with the keyboard, as a user can, and wait for the app to take the value."""
    slider = slider_input(page, label)
    slider.focus()
    slider.press(key)
    for extra in presses:
        slider.press(extra)
    expect(slider).to_have_attribute("aria-valuetext", expected)
    slider.blur()
    settle(page)


def train(page: Page, timeout: float = TRAIN_S) -> float:
    """Press Train, wait for the 'finished' notice; return the test accuracy (%). (A short run may end
    before the page has drawn its Stop button: the stop flow has a test of its own.)"""
    page.get_by_role("button", name="Train", exact=True).click()
    done = page.get_by_text(re.compile(r"Training finished: [\d.]+ % test accuracy"))
    expect(done).to_be_visible(timeout=timeout)
    settle(page)
    no_exception(page)
    return float(re.search(r"([\d.]+) % test accuracy", done.inner_text()).group(1))


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


# Resolves once `e` (or, with none, the page) has kept its place for one animation frame, at most ~2 s of frames.
_STILL = """e => new Promise(resolve => {
    let last = null, frames = 0;
    const step = () => {
        const top = e ? e.getBoundingClientRect().top : 0;
        if ((last !== null && top === last) || ++frames > 120) return resolve();
        last = top;
        requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
})"""


def painted(page: Page, target=None) -> None:
    """Wait until what a scroll brought into view is painted and still (`target`, a locator, has stopped moving),
    before a screenshot: a condition, not a fixed pause."""
    if target is None:
        page.evaluate(_STILL, None)
    else:
        target.evaluate(_STILL)


def screen(page: Page, folder, name: str, heading: str | None = None) -> None:
    """The 1280x720 screen a projector shows, scrolled to `heading` if given."""
    target = None
    if heading:
        target = page.get_by_role("heading", name=heading).first
        target.scroll_into_view_if_needed()
        target.evaluate("e => e.scrollIntoView({block: 'start'})")
    painted(page, target)
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


def unlock_presenter(page: Page, key: str = E2E_PRESENTER_KEY) -> None:
    """Type the presenter key in the sidebar's Presenter box, as the presenter does (the page is open)."""
    box = sidebar(page).get_by_label("Presenter key", exact=True)
    if not box.is_visible():
        sidebar(page).get_by_text("Presenter", exact=True).click()
    box.fill(key)
    mode = sidebar(page).get_by_text("Presenter mode")
    for _ in range(3):
        sidebar(page).get_by_role("button", name="Unlock").click()
        try:
            mode.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            # The full suite once saw the click lost on a loaded machine: the key still in the box, no message. A
            # presenter clicks again; a key the server refused clears the box, and then the check below fails.
            if not box.is_visible() or box.input_value() != key:
                break
    expect(mode).to_be_visible(timeout=30_000)


def root_font_px(page: Page, settled_at: float | None = None) -> float:
    """The page's root font size (px). With `settled_at`, first waits up to SETTLE_S for it to become that:
    presenter mode's larger type lands with the rerun after the toggle, not at once."""
    read = "parseFloat(getComputedStyle(document.documentElement).fontSize)"
    if settled_at is not None:
        try:
            page.wait_for_function(f"{read} === {settled_at}", timeout=SETTLE_S)
        except PlaywrightTimeout:
            pass   # the assertion that follows says what it was
    return float(page.evaluate(read))

