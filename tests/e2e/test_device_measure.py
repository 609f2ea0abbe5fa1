"""Measure on this device in the real Chromium, with no network beyond the app (every other request is aborted):
after the demo, Edge & cloud's button makes the measured versions' ONNX files, onnxruntime-web (shipped in the
package) runs each in this browser, and its p50 / p95 arrive in the session for every version, numbers above 0 in
the table, still there after a reload; measured again after the reload, the 14 MB runtime comes from the browser's
own storage, not the network. Measure on my phone: the pairing link (the code alone: not the laptop's cookie) opened
in a second browser context with no cookies of the first, a phone's user agent and viewport and its CPU throttled 4x
(CDP), measures the same files there, and the phone's figures land in the laptop's page in a column of their own;
the link opened again is refused. 1366x768 screenshots of the figures (and the phone's page at a phone's viewport)
go to the test's tmp_path (their paths printed)."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect
from tests import quick_timing
from tests.e2e.browse import SETTLE_S, TRAIN_S, go, no_exception, open_app, screen, settle

LINK = "Edge & cloud"
MEASURE_S = 300_000   # ms: the versions made again, four files exported and timed here, then run in the browser
VERSIONS = ["fp32", "pruned-channels-50", "int8-dynamic", "int8-static"]   # the demo's, as browser files
MS = {"ms": 1.0, "µs": 1e-3, "ns": 1e-6, "s": 1e3}
HERE, PHONE = "this browser: p50 / p95", "your phone: p50 / p95"
PHONE_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/150.0.0.0 "
            "Mobile Safari/537.36")

pytestmark = pytest.mark.e2e


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.,]+) (ms|µs|ns|s)", text.strip()).groups()
    return float(number.replace(",", "")) * MS[unit]


def elsewhere(host: str) -> re.Pattern:
    """Every address but the app's (host:port): routed, to be aborted. The app's own requests are not routed at all,
    so they do not wait on this test's handler."""
    return re.compile(rf"^(?!https?://{re.escape(host)}/)")


def device_figures(page, column: str = HERE) -> dict[str, tuple[float, float]]:
    """The table's `column` (this browser's or the phone's p50 / p95) per version, in ms."""
    table = page.get_by_test_id("stTable").filter(has_text=column)
    expect(table).to_be_visible()
    headers = [h.inner_text().strip() for h in table.locator("thead th").all()]
    col, name = headers.index(column), headers.index("version")
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


def pair_a_phone(page, browser, only_the_app, tmp_path) -> None:
    """Measure on my phone, from the laptop's page: the link opened in a phone's browser (a context of its own,
    no cookies of the laptop's), measured there, its figures in the laptop's table; the link refused a second time."""
    page.get_by_role("button", name="Measure on my phone", exact=True).click()
    settle(page)
    link = page.get_by_test_id("stCode").filter(has_text="?pair=").inner_text().strip()
    page.get_by_role("button", name="Measure on my phone", exact=True).evaluate(
        "e => e.scrollIntoView({block: 'start'})")
    screen(page, tmp_path, "device-1366-qr")
    laptop_cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "til_session")
    assert re.fullmatch(r"http://[^/?]+/\?pair=[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", link), link
    assert laptop_cookie not in link

    phone = browser.new_context(viewport={"width": 412, "height": 915}, user_agent=PHONE_UA, is_mobile=True,
                                has_touch=True, color_scheme="light")
    phone.set_default_timeout(30_000)
    phone.route(elsewhere(urlparse(link).netloc), only_the_app)
    try:
        mobile = phone.new_page()
        phone.new_cdp_session(mobile).send("Emulation.setCPUThrottlingRate", {"rate": 4})   # a phone's slower core
        mobile.goto(link)
        expect(mobile.get_by_text(re.compile(r"^Sent: your phone's figures"))).to_be_visible(timeout=MEASURE_S)
        settle(mobile)
        no_exception(mobile)
        assert all(c["value"] != laptop_cookie for c in phone.cookies() if c["name"] == "til_session")
        mobile.evaluate("window.scrollTo(0, 0)")
        screen(mobile, tmp_path, "phone-412")

        # In the laptop's page, without touching it: its fragment looks for the phone's figures every 2 s.
        expect(page.get_by_text(re.compile(r"Measured on your phone \(paired\): a phone: Chrome 150 on Android 14"))
               ).to_be_visible(timeout=SETTLE_S)
        settle(page)
        figures = device_figures(page, PHONE)
        assert sorted(figures) == sorted(VERSIONS) and all(0 < a <= b for a, b in figures.values()), figures
        assert device_figures(page, HERE).keys() == figures.keys()          # beside this browser's, still there

        again = phone.new_page()
        again.goto(link)
        expect(again.get_by_text(re.compile(r"This pairing code was used already"))).to_be_visible(timeout=SETTLE_S)
    finally:
        phone.close()


def test_the_browser_measures_every_version_offline(app_url, browser, tmp_path, server_log_clean):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, color_scheme="light")
    context.set_default_timeout(30_000)
    host, outside, wasm = urlparse(app_url).netloc, [], []

    def only_the_app(route) -> None:
        assert urlparse(route.request.url).netloc != host, route.request.url   # the app's own are not routed
        outside.append(route.request.url)
        route.abort()

    context.route(elsewhere(host), only_the_app)
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
        # Timed as the server told it (the browser tests' server: tests/quick_timing.py), not as measure.js would alone.
        t = quick_timing.BROWSER_TIMING
        expect(page.get_by_text(f"{t['rounds'] * t['batches_per_round']} batches per version, after two "
                                f"{t['warmup_ms']:g} ms warm-up passes")).to_be_visible()
        heading = page.get_by_role("heading", name="Measured on your device", exact=True)
        heading.evaluate("e => e.scrollIntoView({block: 'start'})")
        screen(page, tmp_path, "device-1366")
        page.get_by_text("Why they differ.").evaluate("e => e.scrollIntoView({block: 'center'})")
        screen(page, tmp_path, "device-1366-why")

        pair_a_phone(page, browser, only_the_app, tmp_path)
        page.get_by_role("heading", name="Measured on your device", exact=True).evaluate(
            "e => e.scrollIntoView({block: 'start'})")
        screen(page, tmp_path, "device-1366-phone")
        page.get_by_text("Why they differ.").evaluate("e => e.scrollIntoView({block: 'center'})")
        screen(page, tmp_path, "device-1366-phone-why")

        # In the session, not only in the page: a reload (a new Streamlit session, the same lab session) shows them.
        page.reload()
        settle(page)
        go(page, LINK, LINK)
        assert device_figures(page) == first
        measure(page)   # again: the runtime now comes from this browser's storage
        expect(page.get_by_text(re.compile(r"The runtime came from this browser's storage"))).to_be_visible(
            timeout=MEASURE_S)   # the earlier figures stay on the page while it measures again
        assert len(wasm) == 1, wasm
        second = device_figures(page)
        assert sorted(second) == sorted(VERSIONS) and all(0 < p50 <= p95 for p50, p95 in second.values())
        print(f"requests aborted (not to the app): {outside}")
    finally:
        context.close()
