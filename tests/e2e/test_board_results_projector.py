"""The Class board and Results at a projector's 1280x720 in the real Chromium: run the demo from Home, post
two of its measured versions to a class's board (one under a nickname that looks like HTML: it must show as
typed, as text), then open Results and its chart of the runs. Screenshots go to the test's tmp_path; their
paths are printed (pytest -s shows them)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from tests.e2e.browse import TRAIN_S, chart_shots, chart_text_problems, charts_drawn, go, no_exception, open_app, screen, settle, unlock_presenter


pytestmark = pytest.mark.e2e

HOSTILE = "<b>x</b>"


def type_into(page: Page, label: str, text: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(text)
    field.press("Enter")
    settle(page)


def post(page: Page, nickname: str, version: str) -> None:
    type_into(page, "Your nickname", nickname)
    page.get_by_test_id("stSelectbox").filter(has_text="Which of your measured versions").click()
    page.get_by_role("option", name=re.compile(rf"^{re.escape(version)}:")).click()
    settle(page)
    page.get_by_role("button", name="Post to the board", exact=True).click()
    expect(page.get_by_text(re.compile(r"Posted to ROOM-E2E"))).to_be_visible()
    settle(page)
    no_exception(page)


def tables_cut_off(page: Page) -> list[str]:
    """Every table of the page whose columns run past its right edge (a projected table is not scrolled)."""
    widths = page.get_by_test_id("stDataFrame").evaluate_all(
        "ds => ds.map(d => { const s = d.querySelector('.dvn-scroller'); return [s.scrollWidth, s.clientWidth]; })")
    return [f"table {i}: {w} px of columns in {c} px" for i, (w, c) in enumerate(widths) if w > c]


def presenter_mode(page: Page, on: bool) -> None:
    toggle = (page.get_by_test_id("stSidebar").get_by_test_id("stCheckbox").filter(has_text="Presenter mode")
              .locator('input[type="checkbox"]'))
    if on and toggle.count() == 0:
        unlock_presenter(page)   # the presenter key first (it turns presenter mode on)
        settle(page)
    if toggle.is_checked() != on:
        page.get_by_test_id("stSidebar").get_by_text("Presenter mode", exact=True).click()
        settle(page)
    expect(toggle).to_be_checked(checked=on)


def test_board_and_results_read_at_1280x720(app_url, projector_page, tmp_path, server_log_clean):  # noqa: F811
    page = projector_page
    open_app(page, app_url)
    page.get_by_role("button", name="Run the whole demo", exact=True).click()
    expect(page.get_by_text(re.compile(r"Demo done"))).to_be_visible(timeout=TRAIN_S)
    settle(page)

    go(page, "Class board", "Class board")
    screen(page, tmp_path, "board-0-empty")
    type_into(page, "Class code", "room-e2e")
    expect(page.get_by_role("heading", name="Everyone in ROOM-E2E")).to_be_visible()
    post(page, "Ana", "int8-static")
    post(page, HOSTILE, "fp32")
    main = page.get_by_test_id("stMain")
    # The nickname is drawn as text: no <b> element came out of it anywhere on the page.
    expect(main.locator("b", has_text=re.compile(r"^x$"))).to_have_count(0)
    expect(page.get_by_test_id("stDataFrame")).not_to_have_count(0)
    no_exception(page)
    assert not tables_cut_off(page), tables_cut_off(page)
    screen(page, tmp_path, "board-1")
    screen(page, tmp_path, "board-2", "Challenges")
    screen(page, tmp_path, "board-3", "Everyone in ROOM-E2E")
    page.get_by_test_id("stDataFrame").last.screenshot(path=str(tmp_path / "board-table.png"))
    print(f"screenshot: {tmp_path / 'board-table.png'}")

    # What the room sees: presenter mode (larger type), with the room's link and the clear behind a confirmation.
    presenter_mode(page, True)
    expect(page.get_by_role("button", name="Clear the board")).to_be_visible()
    assert not tables_cut_off(page), tables_cut_off(page)   # larger type, and still every column in sight
    screen(page, tmp_path, "board-presenter-1", "Challenges")
    screen(page, tmp_path, "board-presenter-2", "Everyone in ROOM-E2E")
    page.get_by_text("Link to ROOM-E2E's board for the room").click()
    expect(page.get_by_text(re.compile(r"board\?class=ROOM-E2E"))).to_be_visible()
    page.get_by_role("button", name="Clear the board").click()
    clear = page.get_by_role("button", name="Clear this class's board")
    expect(clear).to_be_disabled()
    screen(page, tmp_path, "board-presenter-3")
    page.keyboard.press("Escape")
    presenter_mode(page, False)
    no_exception(page)

    go(page, "Results", "Results")
    expect(page.get_by_role("heading", name="Your experiments side by side")).to_be_visible()
    charts_drawn(page)
    screen(page, tmp_path, "results-1", "Your experiments side by side")
    chart_shots(page, tmp_path, "results-time")
    problems = chart_text_problems(page)
    assert not problems, problems
    page.get_by_test_id("stRadio").get_by_text("model size", exact=True).click()
    # Wait for the new figure itself: while the page reruns, the old chart may still be on it.
    expect(page.get_by_test_id("stPlotlyChart").locator(".gtitle", has_text="Accuracy vs model size")).to_be_visible()
    settle(page)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(1)
    charts_drawn(page)
    screen(page, tmp_path, "results-2", "Your experiments side by side")
    chart_shots(page, tmp_path, "results-size")
    problems = chart_text_problems(page)
    assert not problems, problems
    no_exception(page)
