"""The room together in the real Chromium (issue 24, points 1 and 2): a presenter and two students, each in a browser
context of their own (their own cookie, their own session). Both students turn on *Follow the presenter*; the
presenter sends the room to step 1, moves on twice, and each student's page follows without a reload; the presenter
opens the step's question, both students answer it on their own pages (one under a nickname, one anonymously, one
changing their mind), the presenter's count shows both, and the reveal shows the distribution beside the measured
value and the closest predictions by nickname, on the presenter's screen and on the students'. Screenshots at
1366x768 go to the test's tmp_path (paths printed: pytest -s)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browse import SETTLE_S, no_exception, open_app, screen, settle, sidebar, unlock_presenter

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1366, "height": 768}
FOLLOW_S = 30_000   # ms: a follower's page moves within a few seconds (a 2 s tick); room for a busy machine


def arrive(browser, app_url: str) -> Page:
    """One person's laptop: a browser context of their own (their own cookie and session), on the app's home."""
    context = browser.new_context(viewport=LAPTOP, color_scheme="light")
    context.set_default_timeout(SETTLE_S)
    page = context.new_page()
    open_app(page, app_url)
    return page


def student(browser, app_url: str) -> Page:
    page = arrive(browser, app_url)
    toggle = sidebar(page).get_by_text("Follow the presenter", exact=True)
    toggle.click()
    expect(sidebar(page).get_by_text(re.compile(r"Following the presenter"))).to_be_visible(timeout=FOLLOW_S)
    return page


def lands_on(page: Page, heading: str) -> None:
    """The follower's page became `heading`'s, by itself (no click, no reload here)."""
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible(timeout=FOLLOW_S)
    settle(page)
    no_exception(page)


def answer(page: Page, value: str, nickname: str | None) -> None:
    panel = page.get_by_test_id("stVerticalBlock").filter(has_text="The presenter asks").last
    expect(panel).to_be_visible(timeout=FOLLOW_S)
    panel.get_by_label("Your prediction (×)", exact=True).fill(value)
    if nickname is not None:
        panel.get_by_label("Nickname (optional)", exact=True).fill(nickname)
    panel.get_by_role("button", name=re.compile(r"(Send|Change) my answer")).click()
    settle(page)
    expect(page.get_by_text(re.compile(rf"Your answer: {re.escape(value)}"))).to_be_visible(timeout=SETTLE_S)


def test_students_follow_the_presenter_answer_the_question_and_see_the_reveal(app_url, browser, tmp_path,
                                                                             server_log_clean):
    presenter = arrive(browser, app_url)
    unlock_presenter(presenter)
    expect(sidebar(presenter).get_by_text("Follow the presenter")).to_have_count(0)   # the presenter leads
    ada, bo = student(browser, app_url), student(browser, app_url)

    presenter.goto(f"{app_url}/present?mode=present")
    expect(presenter.get_by_role("heading", name=re.compile("Step 1 of 6"))).to_be_visible(timeout=SETTLE_S)
    settle(presenter)
    presenter.get_by_role("button", name=re.compile(r"Send them (to this step|here again)")).click()
    settle(presenter)
    expect(presenter.get_by_text("Students who follow you are on this step")).to_be_visible(timeout=SETTLE_S)
    for page in (ada, bo):
        lands_on(page, "Train & Infer Lab")
    for title, heading in (("Step 2 of 6: Train a model live", "Train a model"),
                           ("Step 3 of 6: Compress and measure", "Compress & benchmark")):
        presenter.get_by_role("button", name="Next").click()
        settle(presenter)
        expect(presenter.get_by_role("heading", name=title)).to_be_visible(timeout=SETTLE_S)
        for page in (ada, bo):
            lands_on(page, heading)

    presenter.get_by_role("button", name="Open the question for the room").click()
    settle(presenter)
    count = presenter.get_by_test_id("stMetricValue")
    expect(count).to_have_text("0", timeout=SETTLE_S)
    answer(ada, "3", "Ada")
    answer(bo, "1.5", None)
    answer(bo, "0.9", None)   # a change of mind replaces the first answer: still two answers
    expect(count).to_have_text("2", timeout=FOLLOW_S)   # the presenter's count, redrawn while it is open
    presenter.mouse.move(0, 0)
    screen(presenter, tmp_path, "presenter-answers-arriving", "Question for the room")
    expect(ada.get_by_text("Following the presenter: step 3 of 6")).to_be_visible()
    ada.mouse.move(0, 0)
    screen(ada, tmp_path, "student-following-answered")

    presenter.get_by_role("button", name="Reveal").click()
    settle(presenter)
    no_exception(presenter)
    expect(presenter.get_by_role("heading", name=re.compile(r"Measured: [\d.]+×"))).to_be_visible(timeout=SETTLE_S)
    expect(presenter.get_by_text(re.compile(r"The room's median prediction, 1\.95× \(2 answers\), is "))).to_be_visible()
    chart = presenter.get_by_test_id("stPlotlyChart")
    expect(chart.locator(".main-svg").first).to_be_attached()
    expect(chart.get_by_text("1 · measured")).to_have_count(1)   # Bo's 0.9× in the measured value's bar
    closest = presenter.locator('[data-testid="room-closest"] tbody tr')
    expect(closest).to_have_count(2)
    expect(closest.nth(0)).to_contain_text("anonymous0.90×")   # Bo, nearer the measured value than Ada
    expect(closest.nth(1)).to_contain_text(re.compile(r"Ada3\.00×[\d.]+× higher"))
    presenter.mouse.move(0, 0)
    screen(presenter, tmp_path, "presenter-revealed", "Question for the room")

    for page, said in ((ada, r"You predicted 3\.00×: [\d.]+× higher than measured"),
                       (bo, r"You predicted 0\.90×: ")):
        expect(page.get_by_text(re.compile(said))).to_be_visible(timeout=FOLLOW_S)
    screen(ada, tmp_path, "student-revealed")

    # Leaving: a student who turns following off stays where they go, whatever the presenter does.
    sidebar(bo).get_by_text("Follow the presenter", exact=True).click()
    settle(bo)
    sidebar(bo).get_by_role("link", name="Results", exact=True).click()
    expect(bo.get_by_role("heading", name="Results", level=1)).to_be_visible(timeout=SETTLE_S)
    presenter.get_by_role("button", name="Next").click()
    settle(presenter)
    lands_on(ada, "Training vs inference")   # the one still following moves on
    expect(bo.get_by_role("heading", name="Results", level=1)).to_be_visible()
    expect(bo.get_by_text("The presenter asks")).to_have_count(0)
    sidebar(bo).get_by_text("Follow the presenter", exact=True).click()   # rejoining catches up at once
    lands_on(bo, "Training vs inference")
    for c in (presenter.context, ada.context, bo.context):
        c.close()
