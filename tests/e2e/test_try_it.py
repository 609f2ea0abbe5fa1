"""Try it yourself in the real Chromium at 1280x720: after the demo, draw a 7 on the canvas with the mouse and
every version of the model answers, with the steps that prepared the drawing. Screenshots go to the test's
tmp_path; their paths are printed (pytest -s shows them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.e2e.browse import TRAIN_S, go, no_exception, open_app, painted, settle


pytestmark = pytest.mark.e2e

PREDICT_S = 120_000   # ms: the first image makes the demo's versions again (one fine-tune epoch) on 2 busy cores
# A 7 as a student draws it on the 280 x 280 canvas: the top bar, then the long stroke down.
SEVEN = [(70, 55), (205, 55), (125, 235)]


def draw(page: Page, points: list[tuple[int, int]]) -> None:
    """One stroke through `points` (canvas pixels) with the mouse, in small moves as a hand makes them."""
    canvas = page.locator("canvas.upper-canvas")    # Fabric.js draws on the upper of its two canvases
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and box["width"] == 280, box
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + points[0][0], y0 + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x0 + x, y0 + y, steps=25)
    page.mouse.up()


def shot(page: Page, folder: Path, name: str) -> None:
    """The 1280x720 screen as a projector shows it."""
    painted(page)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")


def test_draw_a_digit_and_every_version_answers(app_url, projector_page, tmp_path):
    page = projector_page
    open_app(page, app_url)
    page.get_by_role("button", name="Run the whole demo", exact=True).click()
    expect(page.get_by_text(re.compile(r"Demo done"))).to_be_visible(timeout=TRAIN_S)
    settle(page)

    go(page, "Try it yourself", "Try it yourself")
    expect(page.locator("canvas.upper-canvas")).to_be_visible()
    shot(page, tmp_path, "try-it-0-empty")
    draw(page, SEVEN)

    verdict = page.get_by_text(re.compile(r"All \d+ versions say|The versions disagree"))
    expect(verdict).to_be_visible(timeout=PREDICT_S)
    settle(page)
    no_exception(page)
    table = page.get_by_test_id("stTable").first
    for name in ("fp32", "pruned-unstructured-90", "pruned-channels-50", "int8-dynamic", "int8-static"):
        expect(table.get_by_text(name, exact=True)).to_be_visible()
    fp32 = table.locator("tr").filter(has_text=re.compile(r"^fp32"))
    cells = fp32.locator("td").all_inner_texts()    # version, says, 2nd, 3rd, this call, test accuracy
    assert re.fullmatch(r"\d\s\(\d+\.\d\s%\)", cells[1]), cells           # its top answer with a confidence
    assert re.fullmatch(r"[\d.]+\s(µs|ms|s)", cells[4]), cells           # the latency of that call
    print(f"the demo's fp32 says {cells[1]} for the drawn 7; verdict: {verdict.inner_text()}")
    assert cells[1].startswith("7"), cells
    expect(page.get_by_text("Centred by mass in 28x28")).to_be_attached()
    shot(page, tmp_path, "try-it-1")
    page.get_by_role("heading", name="How your image was prepared").evaluate(
        "e => e.scrollIntoView({block: 'start'})")
    shot(page, tmp_path, "try-it-2")


def test_a_photo_from_the_camera_is_taken_checked_and_answered(app_url, camera_page, tmp_path):
    """Chromium's fake camera (a moving test pattern) stands in for a webcam: the photo st.camera_input sends
    passes the content checks and goes through the steps; whatever it shows, the page answers or says why not.
    (The demo is served from the first test's identical run: no second training.)"""
    page = camera_page
    open_app(page, app_url)
    page.get_by_role("button", name="Run the whole demo", exact=True).click()
    expect(page.get_by_text(re.compile(r"Demo done"))).to_be_visible(timeout=TRAIN_S)
    settle(page)
    go(page, "Try it yourself", "Try it yourself")
    page.get_by_text("Take a photo", exact=True).click()
    settle(page)
    camera = page.get_by_test_id("stCameraInput")
    expect(camera.locator("video")).to_be_visible()
    page.wait_for_function("() => [...document.querySelectorAll('video')].some(v => v.readyState >= 2)")
    shot(page, tmp_path, "try-it-camera-live")
    camera.get_by_role("button", name="Take Photo").click()
    answered = page.get_by_text(re.compile(r"All \d+ versions say|The versions disagree|Nothing to recognise"))
    expect(answered).to_be_visible(timeout=PREDICT_S)
    settle(page)
    no_exception(page)
    expect(page.get_by_test_id("stAlertContentWarning")).to_have_count(0)   # not refused as a file
    print(f"the fake camera's picture: {answered.inner_text()}")
    shot(page, tmp_path, "try-it-camera")
