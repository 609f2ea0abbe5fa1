"""A lesson, end to end, in the real Chromium at a projector's 1280x720: after a short training, open
Lessons, open lesson 4 ("Smaller, faster models"), predict (Try it waits for it), Try it lands on
Compress with the lesson's preset applied, come back, answer the quiz, see the score on the lesson
and in the course list; a glossary link lands on its term. Screenshots of the list, the reader and
the quiz go to the test's tmp_path; their paths are printed (pytest -s shows them)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from dashboard.course import lessons
from dashboard.ui import glossary
from tests.e2e.browse import go, no_exception, open_app, painted, screen, set_slider, settle, train

pytestmark = pytest.mark.e2e

SLUG = "04-smaller-faster-models"
TITLE = "4. Smaller, faster models"


def keyed(page: Page, key: str):
    """The element Streamlit drew for a widget key (its container carries the class st-key-<key>)."""
    return page.locator(f".st-key-{key}")


def shot(page: Page, folder, name: str, top) -> None:
    """The 1280x720 screen with `top` (a locator) at its top."""
    top.evaluate("e => e.scrollIntoView({block: 'start'})")
    painted(page, top)
    path = folder / f"screen-{name}.png"
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")


def click_option(page: Page, key: str, option: str) -> None:
    keyed(page, key).get_by_text(option, exact=True).click()
    settle(page)
    no_exception(page)


def test_a_lesson_from_prediction_to_quiz(app_url, projector_page, tmp_path, server_log_clean):  # noqa: F811
    page = projector_page
    lesson = next(x for x in lessons.load_lessons()[0] if x.slug == SLUG)
    open_app(page, app_url)
    # A model to compress: one short epoch.
    go(page, "Train", "Train a model")
    set_slider(page, "Epochs (passes over the training images)", "Home", "1")
    page.get_by_text("More settings").click()
    set_slider(page, "Training images", "Home", "1,000", "ArrowRight", "ArrowRight")
    train(page)
    # Show me the code: the real training step, drawn only once opened.
    page.get_by_text("The code of one training step, and of one inference").click()
    settle(page)
    expect(page.get_by_test_id("stCode").filter(has_text="loss.backward()")).to_have_count(1)
    shot(page, tmp_path, "train-code", page.get_by_text("The code of one training step, and of one inference"))

    # The course.
    go(page, "Lessons", "Lessons")
    expect(page.get_by_text("not started")).to_have_count(6)
    screen(page, tmp_path, "lessons-list")
    open_button = keyed(page, f"lessons_open_{SLUG}").get_by_role("button")
    open_button.scroll_into_view_if_needed()   # lesson 4's card is below the first screen
    open_button.click()
    expect(page.get_by_role("heading", name=TITLE, level=2)).to_be_visible()
    settle(page)
    no_exception(page)
    expect(page.get_by_role("heading", name=TITLE, level=2)).to_be_in_viewport()   # the reader opens at its top
    assert f"lesson={SLUG}" in page.url
    screen(page, tmp_path, "lesson-reader")
    screen(page, tmp_path, "lesson-figure", "Figure")

    # Predict, then Try it.
    try_it = page.get_by_role("button", name="Try it", exact=True)
    expect(try_it).to_be_disabled()
    click_option(page, f"lesson_predict_{SLUG}", "No, about the same speed")
    expect(try_it).to_be_enabled()
    screen(page, tmp_path, "lesson-predict", "Predict, then check")
    expect(page.get_by_text("You predicted:")).to_be_visible()
    try_it.click()
    expect(page.get_by_role("heading", name="Compress & benchmark", level=1)).to_be_visible(timeout=60_000)
    settle(page)
    no_exception(page)
    # The preset: zeroed weights 90 %, channels 50 %, int8 static and ONNX Runtime; int8 dynamic off.
    plan = page.get_by_text(re.compile(r"^Will make and measure:"))
    expect(plan).to_have_text(re.compile(r"fp32, pruned-unstructured-90, pruned-channels-50, int8-static, "
                                         r"onnxruntime-fp32\."))
    box = page.get_by_test_id("stCheckbox").filter(has_text="ONNX Runtime").first.get_by_role("checkbox")
    expect(box).to_be_checked()
    expect(page.get_by_test_id("stWarning")).to_have_count(0)   # nothing in the link was refused
    assert "preset=" not in page.url
    screen(page, tmp_path, "compress-with-preset")

    # Back to the lesson by the bar above the page: the prediction kept; the quiz, all right.
    back = page.get_by_role("button", name=f"Back to lesson 4: {lesson.title}")
    expect(back).to_be_visible()
    back.click()
    expect(page.get_by_role("heading", name=f"4. {lesson.title}")).to_be_visible(timeout=60_000)
    settle(page)
    expect(page.get_by_role("button", name=re.compile("^Back to lesson"))).to_have_count(0)
    expect(page.get_by_role("heading", name=TITLE, level=2)).to_be_visible()
    expect(keyed(page, f"lesson_predict_{SLUG}").get_by_role("radio", name="No, about the same speed")).to_be_checked()
    for i, q in enumerate(lesson.quiz):
        click_option(page, f"lesson_quiz_{SLUG}_{i}", q.options[q.answer])
        expect(keyed(page, f"lesson_quiz_{SLUG}_{i}_done")).to_be_visible()
    expect(page.get_by_text(f"Your score: {len(lesson.quiz)} of {len(lesson.quiz)}.")).to_be_visible()
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
    screen(page, tmp_path, "lesson-quiz", "Quiz")
    shot(page, tmp_path, "lesson-score", keyed(page, f"lesson_quiz_{SLUG}_{len(lesson.quiz) - 1}_done"))
    keyed(page, "lessons_back_end").get_by_role("button").click()   # the one under the quiz
    settle(page)
    expect(page.get_by_role("heading", name="Lessons", level=1)).to_be_in_viewport()   # the list from its top
    expect(page.get_by_text(f"quiz: {len(lesson.quiz)} of {len(lesson.quiz)} right")).to_be_visible()
    expect(page.get_by_text("not started")).to_have_count(5)
    screen(page, tmp_path, "lessons-list-after")
    screen(page, tmp_path, "glossary", "Glossary")


def test_a_glossary_link_lands_on_its_term(app_url, projector_page, tmp_path, server_log_clean):  # noqa: F811
    """The link another page's text makes (ui.glossary.term), opened as Streamlit opens it: a new tab."""
    page = projector_page
    page.goto(f"{app_url.rstrip('/')}/{glossary.href('p95')}")
    expect(page.get_by_role("heading", name="Lessons", level=1)).to_be_visible(timeout=60_000)
    settle(page)
    no_exception(page)
    first = page.locator(".st-key-lessons_term")
    expect(first).to_contain_text("The time that 95 % of calls beat")
    expect(first).to_be_in_viewport()
    screen(page, tmp_path, "glossary-p95")
    # Its "glossary" link goes to the whole glossary on the same page, where p95 has its own heading.
    first.get_by_role("link", name="glossary").click()
    expect(page.get_by_role("heading", name="Glossary", level=2)).to_be_in_viewport()
    expect(page.locator("h3#p95")).to_have_count(1)
