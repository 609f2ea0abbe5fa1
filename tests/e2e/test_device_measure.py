"""Measure on this device in the real Chromium, with no network beyond the app (every other request is aborted):
after the demo, Edge & cloud's button makes the measured versions' ONNX files, onnxruntime-web (shipped in the
package) runs each in this browser, and its p50 / p95 arrive in the session for every version, numbers above 0 in
the table, still there after a reload; measured again after the reload, the 14 MB runtime comes from the browser's
own storage, not the network. A 1366x768 screenshot of the figures goes to the test's tmp_path (its path printed)."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect
from tests.e2e.browse import TRAIN_S, go, no_exception, open_app, screen, settle

LINK = "Edge & cloud"
MEASURE_S = 300_000   # ms: the versions made again, four files exported and timed here, then run in the browser
VERSIONS = ["fp32", "pruned-channels-50", "int8-dynamic", "int8-static"]   # the demo's, as browser files
MS = {"ms": 1.0, "µs": 1e-3, "ns": 1e-6, "s": 1e3}

pytestmark = pytest.mark.e2e


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.,]+) (ms|µs|ns|s)", text.strip()).groups()
    return float(number.replace(",", "")) * MS[unit]


def device_figures(page) -> dict[str, tuple[float, float]]:
    """The table's 'your device: p50 / p95' per version, in ms."""
    table = page.get_by_test_id("stTable").filter(has_text="your device: p50 / p95")
    expect(table).to_be_visible()
    headers = [h.inner_text().strip() for h in table.locator("thead th").all()]
    col, name = headers.index("your device: p50 / p95"), headers.index("version")
    out = {}
    for row in table.locator("tbody tr").all():
        cells = [c.inner_text().strip() for c in row.locator("td, th").all()]
        p50, p95 = cells[col].removesuffix(" (unsteady)").split(" / ")   # labelled when its batches spread
        out[cells[name]] = (_ms(p50), _ms(p95))
    return out


def measure(page) -> None:
    page.get_by_role("button", name="Measure on this device", exact=True).click()
    expect(page.get_by_text(re.compile(r"Measured on your device: a computer: .*Chrom"))).to_be_visible(
        timeout=MEASURE_S)
    settle(page)
    no_exception(page)


def test_the_browser_measures_every_version_offline(app_url, browser, tmp_path, server_log_clean):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, color_scheme="light")
    context.set_default_timeout(30_000)
    host, outside, wasm = urlparse(app_url).netloc, [], []

    def only_the_app(route) -> None:
        if urlparse(route.request.url).netloc == host:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_app)
    page = context.new_page()
    page.on("request", lambda r: wasm.append(r.url) if r.url.endswith(".wasm") else None)
    try:
        open_app(page, app_url)
        page.get_by_role("button", name="Run the whole demo", exact=True).click()
        expect(page.get_by_text(re.compile(r"Demo done"))).to_be_visible(timeout=TRAIN_S)
        settle(page)
        go(page, LINK, LINK)
        measure(page)
        first = device_figures(page)
        assert sorted(first) == sorted(VERSIONS)
        assert all(0 < p50 <= p95 for p50, p95 in first.values()), first
        assert len(wasm) == 1 and urlparse(wasm[0]).netloc == host, wasm   # the runtime, from the app itself
        expect(page.get_by_text(re.compile(r"The runtime came from the server \(the first time"))).to_be_visible()
        heading = page.get_by_role("heading", name="Measured on your device", exact=True)
        heading.evaluate("e => e.scrollIntoView({block: 'start'})")
        screen(page, tmp_path, "device-1366")
        page.get_by_text("Why they differ.").evaluate("e => e.scrollIntoView({block: 'center'})")
        screen(page, tmp_path, "device-1366-why")

        # In the session, not only in the page: a reload (a new Streamlit session, the same lab session) shows them.
        page.reload()
        settle(page)
        go(page, LINK, LINK)
        assert device_figures(page) == first
        measure(page)   # again: the runtime now comes from this browser's storage
        expect(page.get_by_text(re.compile(r"The runtime came from this browser's storage"))).to_be_visible()
        assert len(wasm) == 1, wasm
        second = device_figures(page)
        assert sorted(second) == sorted(VERSIONS) and all(0 < p50 <= p95 for p50, p95 in second.values())
        print(f"requests aborted (not to the app): {outside}")
    finally:
        context.close()
