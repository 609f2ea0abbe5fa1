"""The Run of show in presenter mode at 1280x720, a projector's size, in the real Chromium: ?mode=present
makes the type larger, two steps on, a replay loaded, Compress opened for the room with the replay's
label. The QR code on the page, as drawn, decodes to the students' link. Screenshots go to the test's
tmp_path; their paths are printed (pytest -s shows them)."""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import Page, expect
from tests.e2e.browse import SETTLE_S, no_exception, root_font_px, screen, settle, unlock_presenter


pytestmark = pytest.mark.e2e


def read_qr(png: bytes) -> list:
    import zxingcpp
    from PIL import Image

    return zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))


def qr_text(page: Page) -> list[str]:
    """What the page's QR code says, read from its pixels as drawn."""
    return [r.text for r in read_qr(page.get_by_test_id("stImage").locator("img").first.screenshot())]


def click(page: Page, name: str) -> None:
    page.get_by_role("button", name=name).first.click()
    settle(page)
    no_exception(page)
    page.mouse.move(0, 0)   # no tooltip over the screenshot


def test_run_of_show_on_a_projector(app_url, projector_page, tmp_path, server_log_clean):  # noqa: F811
    page = projector_page
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Train & Infer Lab", level=1)).to_be_visible(timeout=SETTLE_S)
    unlock_presenter(page)   # the presenter key first: Run of show and presenter mode are the presenter's
    page.goto(f"{app_url}/present?mode=present")
    expect(page.get_by_role("heading", name="Run of show", level=1)).to_be_visible(timeout=SETTLE_S)
    settle(page)
    no_exception(page)
    # Presenter mode: 1.25x Streamlit's 16 px. The style block arrives with the run's elements, which a
    # loaded machine may paint a moment after the run is idle: wait for it (up to SETTLE_S), then check.
    page.wait_for_function("getComputedStyle(document.documentElement).fontSize === '20px'", timeout=SETTLE_S)
    assert root_font_px(page, settled_at=20) == 20
    expect(page).not_to_have_url(re.compile(r"mode=present"))
    expect(page.get_by_role("heading", name=re.compile("Step 1 of 6"))).to_be_visible()
    assert qr_text(page) == [f"{app_url}/"]
    screen(page, tmp_path, "present-step-1")

    click(page, "Next")
    expect(page.get_by_role("heading", name=re.compile("Step 2 of 6: Train a model live"))).to_be_visible()
    assert qr_text(page) == [f"{app_url}/train?preset=lesson-train"]
    expect(page).to_have_url(re.compile(r"step=2"))
    screen(page, tmp_path, "present-step-2")
    click(page, "Show the QR code full screen")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    page.wait_for_timeout(500)   # the dialog's opening animation
    png = dialog.get_by_test_id("stImage").locator("img").first.screenshot()
    assert [r.text for r in read_qr(png)] == [f"{app_url}/train?preset=lesson-train"]
    screen(page, tmp_path, "present-step-2-qr-full-screen")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    click(page, "Next")
    expect(page.get_by_role("heading", name=re.compile("Step 3 of 6: Compress and measure"))).to_be_visible()
    assert qr_text(page) == [f"{app_url}/compress?preset=lesson-compress"]
    click(page, "Load the replay")
    expect(page.get_by_text(re.compile(r"Loaded: .*, a replay: measured on .* not now on this server"))
           ).to_be_visible(timeout=SETTLE_S)
    expect(page.get_by_test_id("stSidebar").get_by_text(re.compile("Your model comes from a replay"))).to_be_visible()
    screen(page, tmp_path, "present-step-3-replay")

    click(page, "Open Compress & benchmark for the room")
    expect(page.get_by_role("heading", name="Compress & benchmark", level=1)).to_be_visible(timeout=SETTLE_S)
    settle(page)
    no_exception(page)
    expect(page.get_by_text(re.compile(r"These figures were a replay: measured on"))).to_be_visible()
    expect(page.get_by_role("slider").first).to_be_visible()   # drawn, not a placeholder, in the screenshot
    assert root_font_px(page, settled_at=20) == 20   # still presenter mode, on another page of the tab
    screen(page, tmp_path, "present-compress")
    screen(page, tmp_path, "present-compress-table", "Side by side")
