"""The Lessons page (AppTest): the course with progress, each lesson's reader (predict before Try it,
the check on the student's own results, the quiz and its score kept in the Session), a malformed
lesson file shown as one error while the others open, the glossary's anchors; and the Train page's
"show me the code"."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from tests.app.drive import button, finish_job, fresh, give_measured, open_page, session, train_tiny

from dashboard.course import lesson_checks, lessons, replay, shareable
from dashboard.lab import claims, fmt
from dashboard.ui import glossary, lesson_view

PAGE = "app_pages/lessons.py"
APP_PY = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
SMALLER = "04-smaller-faster-models"


@pytest.fixture(scope="module")
def course():
    found, errors = lessons.load_lessons()
    assert not errors
    return {x.slug: x for x in found}


def open_lesson(at, slug: str):
    """From the course list, the lesson's Open button."""
    if not any(b.key == f"lessons_open_{slug}" for b in at.button):
        button(at, "All lessons").click().run()
    at.button(key=f"lessons_open_{slug}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def test_the_course_lists_every_lesson_with_its_minutes_objectives_and_progress(course):
    at = open_page(fresh(), PAGE)
    cards = "\n".join(texts(at.markdown))
    for x in course.values():
        assert f"**{x.order}. {x.title}**" in cards and f"{x.minutes} min" in cards
        assert all(o in cards for o in x.objectives)
    assert cards.count("not started") == len(course)
    assert [b.label for b in at.button].count("Open") == len(course)
    assert not at.error


def test_every_lesson_opens_in_the_reader_and_is_marked_read(course):
    at = open_page(fresh(), PAGE)
    for x in course.values():
        open_lesson(at, x.slug)
        assert texts(at.header)[0] == f"{x.order}. {x.title}"
        assert texts(at.subheader)[:7] == list(lessons.SECTIONS)
        assert at.radio[0].label == x.prediction.question and at.radio[0].value is None
        assert [t.label for t in at.tabs] == list(lessons.AUDIENCES)
        assert len(at.radio) == 1 + len(x.quiz)
        assert not at.error
        assert session(at).lessons[x.slug]["read"] is True
        assert at.query_params[lesson_view.QUERY] == x.slug   # the address reopens it
    button(at, "All lessons").click().run()
    assert "\n".join(texts(at.markdown)).count(":blue-badge[read]") == len(course)


def test_the_sources_are_numbered_links(course):
    at = open_lesson(open_page(fresh(), PAGE), SMALLER)
    listing = next(m for m in texts(at.markdown) if m.startswith("1. "))
    for n, entry in enumerate(course[SMALLER].sources, start=1):
        url = re.search(r"https?://\S+", entry).group(0)
        assert f"\n{n}. " in "\n" + listing and f"[{url}]({url})" in listing


def test_a_link_opens_a_lesson_and_a_wrong_one_says_so(course):
    at = fresh()
    at.query_params[lesson_view.QUERY] = SMALLER
    open_page(at, PAGE)
    assert texts(at.header)[0] == "4. Smaller, faster models"
    at = fresh()
    at.query_params[lesson_view.QUERY] = "99-no-such-lesson"
    open_page(at, PAGE)
    assert any("There is no lesson" in w.value for w in at.warning)
    assert [b.label for b in at.button].count("Open") == len(course)   # the list instead
    assert lesson_view.QUERY not in at.query_params


def test_try_it_waits_for_a_prediction_then_opens_compress_with_the_lesson_preset(course):
    at = open_lesson(open_page(fresh(), PAGE), SMALLER)
    assert button(at, "Try it").disabled
    assert not any("With your results" in i.value for i in at.info)   # no spoiler before predicting
    at.radio[0].set_value(2).run()   # "No, about the same speed"
    assert not button(at, "Try it").disabled
    s = session(at)
    assert s.lessons[SMALLER]["prediction"] == "No, about the same speed"
    # Without a measurement of their own: the lesson's replay, labelled as one, says whether they were right,
    # and a caption says what to run for their own.
    label = replay.peek(course[SMALLER].replay).label
    outcome = lesson_checks.held(course[SMALLER].check, replay.peek(course[SMALLER].replay).evidence(s.settings))
    box = next(b.value for b in [*at.success, *at.warning] if "You predicted" in b.value)
    assert f"**With a replay's results** ({label})" in box and outcome.text in box
    assert "You predicted: *No, about the same speed*" in box
    assert ("**Right**: the replay says so too." in box) is (outcome.answer == 2)
    assert any("No zeroed-weights version measured yet" in c.value and "your own run" in c.value for c in at.caption)
    button(at, "Try it").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert texts(at.title) == ["Compress & benchmark"]
    preset = shareable.presets()[course[SMALLER].preset]
    assert preset.page == "compress"
    assert s.forms["compress"] | preset.values == s.forms["compress"]   # every setting of the preset applied
    assert s.forms["compress"]["c_onnx"] is True and s.forms["compress"]["c_int8_dynamic"] is False
    assert set(at.query_params) == set()   # applied, then gone from the address
    assert button(at, "Back to lesson 4: Smaller, faster models")   # the way back, above the page
    # Back on Lessons (here by the sidebar): the same lesson, the prediction kept, and no bar any more.
    open_page(at, PAGE)
    assert texts(at.header)[0] == "4. Smaller, faster models" and at.radio[0].value == 2
    assert not any(b.label.startswith("Back to lesson") for b in at.button)
    open_page(at, "app_pages/compress.py")
    assert not any(b.label.startswith("Back to lesson") for b in at.button)


@pytest.mark.parametrize("slug,title,form", [
    ("03-edge-ai", "Edge & cloud", None),                                 # its preset opens a profile, not a form
    ("05-energy-cost-carbon", "Train a model", {"train_model": "mlp", "train_epochs": 2}),   # the preset's page
])
def test_try_it_opens_the_lessons_page_or_its_presets(slug, title, form):
    at = open_lesson(open_page(fresh(), PAGE), slug)
    at.radio[0].set_value(0).run()
    # The prediction is recalled, and held against the lesson's replay while the student has no run of their own.
    assert any("You predicted" in box.value for box in [*at.info, *at.success, *at.warning])
    button(at, "Try it").click().run()
    assert not at.exception and texts(at.title) == [title]
    if form is not None:
        assert session(at).forms["train"] | form == session(at).forms["train"]
        assert at.selectbox(key="train_model").value == "mlp" and at.slider(key="train_epochs").value == 2


def test_a_preset_this_server_cannot_open_still_opens_the_page_and_says_so(monkeypatch):
    monkeypatch.setattr(shareable, "presets", dict)   # none loads here, e.g. a value this server's caps refuse
    at = open_lesson(open_page(fresh(), PAGE), SMALLER)
    at.radio[0].set_value(2).run()
    assert any(c.value == "Opens **Compress & benchmark**. " + lesson_view.KEEPS for c in at.caption)
    button(at, "Try it").click().run()
    assert texts(at.title) == ["Compress & benchmark"]
    assert any("lesson-compress" in w.value.replace("\\", "") and "set them by hand" in w.value for w in at.warning)


def quiz_key(i: int) -> str:
    return f"lesson_quiz_{SMALLER}_{i}"


def test_the_quiz_scores_right_and_wrong_and_try_again_clears_it(course):
    x = course[SMALLER]
    n = len(x.quiz)
    wrong = (x.quiz[1].answer + 1) % len(x.quiz[1].options)
    at = open_lesson(open_page(fresh(), PAGE), SMALLER)
    for i, q in enumerate(x.quiz):   # question 2 wrong, the others right
        at.radio(key=quiz_key(i)).set_value(q.answer if i != 1 else wrong).run()
        assert not at.exception
        assert quiz_key(i) not in [r.key for r in at.radio]   # an answer is final until Try again
    s = session(at)
    assert s.lessons[SMALLER]["quiz"] == {i: q.answer if i != 1 else wrong for i, q in enumerate(x.quiz)}
    assert lessons.score(x, s.lessons[SMALLER]["quiz"]) == lessons.Score(n - 1, n, n)
    assert len(at.success) == n - 1 and len(at.error) == 1
    assert x.quiz[1].explanation in at.error[0].value and x.quiz[1].options[x.quiz[1].answer] in at.error[0].value
    shown = "\n".join(texts(at.markdown))
    assert f"radio_button_checked: **{x.quiz[1].options[wrong]}**" in shown   # the student's answer, as text
    assert f"Your score: {n - 1} of {n}" in shown
    button(at, "All lessons").click().run()
    assert f":orange-badge[quiz: {n - 1} of {n} right]" in "\n".join(texts(at.markdown))
    # Kept across the list and back; then Try again, and all right.
    open_lesson(at, SMALLER)
    assert len(at.radio) == 1 and f"Your score: {n - 1} of {n}" in "\n".join(texts(at.markdown))
    button(at, "Try again").click().run()
    assert s.lessons[SMALLER]["quiz"] == {} and [r.value for r in at.radio[1:]] == [None] * n
    for i, q in enumerate(x.quiz):
        at.radio(key=quiz_key(i)).set_value(q.answer).run()
    assert lessons.score(x, s.lessons[SMALLER]["quiz"]).correct == n and not at.error
    button(at, "All lessons").click().run()
    assert f":green-badge[quiz: {n} of {n} right]" in "\n".join(texts(at.markdown))


def test_next_leads_through_the_course_in_order(course):
    at = open_lesson(open_page(fresh(), PAGE), "01-training-vs-inference")
    for x in list(course.values())[1:]:
        button(at, f"Next: {x.order}. {x.title}").click().run()
        assert not at.exception and texts(at.header)[0] == f"{x.order}. {x.title}"
    assert not any(b.label.startswith("Next:") for b in at.button)   # the last lesson
    # The selectbox changes lesson; cleared, it goes back to the list.
    at.selectbox(key=lesson_view.PICK).set_value(SMALLER).run()
    assert texts(at.header)[0] == "4. Smaller, faster models" and at.query_params[lesson_view.QUERY] == SMALLER
    at.selectbox(key=lesson_view.PICK).set_value(None).run()
    assert not at.exception and [b.label for b in at.button].count("Open") == len(course)
    assert lesson_view.QUERY not in at.query_params


def test_the_check_holds_the_lesson_against_the_students_own_training(course):
    at = fresh()
    train_tiny(at)
    s = session(at)
    open_lesson(open_page(at, PAGE), "01-training-vs-inference")
    at.radio[0].set_value(1).run()
    outcome = lesson_checks.check("training-costs-more", s.results, s.trained)
    assert outcome.status in (lesson_checks.MATCHES, lesson_checks.DIFFERS)
    shown = {lesson_checks.MATCHES: at.success, lesson_checks.DIFFERS: at.warning}[outcome.status]
    box = next(b.value for b in shown if "With your results" in b.value)
    assert outcome.text in box and "You predicted: *About 3 times as many*" in box


def write_course(folder: Path, broken: str) -> None:
    for f in resources.files("dashboard.lessons").iterdir():
        if f.is_file() and lessons.LESSON_FILE.match(f.name):
            (folder / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "07-broken.md").write_text(broken, encoding="utf-8")


def test_a_malformed_lesson_is_one_error_line_and_the_others_still_open(tmp_path, monkeypatch, course):
    write_course(tmp_path, '+++\ntitle = "Broken"\norder = 7\nminutes = 5\nobjectives = ["x"]\npage = "train"\n+++\n'
                           "## Lesson\nOnly this.\n")
    monkeypatch.setenv(lesson_view.ROOT_ENV, str(tmp_path))
    at = open_page(fresh(), PAGE)
    assert len(at.error) == 1
    shown = at.error[0].value.replace("\\", "")   # as the student reads it (markup is escaped)
    assert shown == "A lesson could not be loaded: 07-broken.md: missing section '## Figure'"
    assert [b.label for b in at.button].count("Open") == len(course)
    open_lesson(at, SMALLER)
    assert texts(at.header)[0] == "4. Smaller, faster models"
    # The folder has no glossary: the bundled one is shown.
    assert "p95" in texts(at.subheader)


def test_a_figure_the_lab_draws_is_drawn_and_an_unknown_one_named(tmp_path, monkeypatch):
    first = (resources.files("dashboard.lessons") / "01-training-vs-inference.md").read_text(encoding="utf-8")
    head, rest = first.split("## Figure", 1)
    rest = rest[rest.index("## Predict, then check"):]
    (tmp_path / "01-figures.md").write_text(
        head + "## Figure\n\nBefore.\n\n![The two loops](figure:training-vs-inference)\n\n"
               "![A chart](figure:no-such-chart)\n\nAfter.\n\n" + rest, encoding="utf-8")
    monkeypatch.setenv(lesson_view.ROOT_ENV, str(tmp_path))
    at = open_lesson(open_page(fresh(), PAGE), "01-figures")
    assert len(at.get("plotly_chart")) == 1
    captions = texts(at.caption)
    missing = [c.replace("\\", "") for c in captions if "is missing" in c]
    assert "The two loops" in captions
    assert len(missing) == 1 and missing[0] == ("(The figure A chart is missing: this lab draws no figure named "
                                                "no-such-chart; it draws training-vs-inference.)")
    assert "Before." in texts(at.markdown) and "After." in texts(at.markdown)


def test_an_unreadable_lessons_folder_is_an_error_not_a_broken_page(tmp_path, monkeypatch):
    monkeypatch.setenv(lesson_view.ROOT_ENV, str(tmp_path / "missing"))
    at = open_page(fresh(), PAGE)
    assert len(at.error) == 1 and "cannot be read" in at.error[0].value


def test_every_glossary_term_has_its_anchor_and_the_links_point_there():
    at = open_page(fresh(), PAGE)
    terms = lessons.load_glossary()
    anchors = {h.value: h.proto.anchor for h in at.subheader}
    for term in terms:
        assert anchors[term] == lessons.glossary_anchor(term)
    assert glossary.term("p95") == "[p95](lessons?term=p95)"
    assert glossary.term("Latency", "latency") == "[Latency](lessons?term=latency)"
    assert glossary.href("gCO2e/kWh") == "lessons?term=gco2e-kwh"


def test_a_glossary_link_shows_its_term_first_and_a_wrong_one_says_so():
    terms = lessons.load_glossary()
    at = fresh()
    at.query_params[glossary.QUERY] = "gco2e-kwh"
    open_page(at, PAGE)
    first = at.markdown[0].value
    assert first.startswith("**gCO2e/kWh**") and terms["gCO2e/kWh"] in first
    button(at, "Close").click().run()
    assert glossary.QUERY not in at.query_params and not at.markdown[0].value.startswith("**gCO2e/kWh**")
    at = fresh()
    at.query_params[glossary.QUERY] = "no-such-term"
    open_page(at, PAGE)
    assert any("The glossary has no term" in w.value for w in at.warning)


def test_every_page_a_lesson_or_preset_may_open_is_a_page_of_the_app():
    app = APP_PY.read_text(encoding="utf-8")
    for url in lessons.PAGES | set(shareable.PAGES):
        page = lesson_view.app_page(url)
        assert (APP_PY.parent / page.script).is_file()
        if url:
            assert re.search(rf'st\.Page\("{re.escape(page.script)}", title="{re.escape(page.title)}".*'
                             rf'url_path="{url}"', app)
        else:
            assert page.default and re.search(rf'st\.Page\("{re.escape(page.script)}", title="Home".*default=True', app)
    assert lesson_view.app_page("compress").title == "Compress & benchmark"


def test_the_train_page_shows_the_real_code_of_a_step_and_an_inference():
    at = open_page(fresh(), "app_pages/train.py")
    assert "The code of one training step, and of one inference" in [e.label for e in at.expander]
    assert not at.code   # drawn only when opened
    at.session_state["train_code"] = True
    at.run()
    codes = [c for c in at.code]
    assert [c.language for c in codes] == ["python"] * 3
    assert "loss.backward()" in codes[0].value and "inference_mode" in codes[1].value
    assert any("dashboard/lab/training/train.py, lines" in m for m in texts(at.markdown))



# ------------------------------------------------------------------ Try it leads back, and keeps the student's model

ENERGY = "05-energy-cost-carbon"


def test_try_it_leads_back_to_the_lesson_and_offers_the_replaced_model_in_one_click(course):
    at = fresh()
    train_tiny(at, seed=1)                       # the student's own model, before the lesson
    s = session(at)
    first, first_accuracy = s.digest, s.trained.test_accuracy
    open_lesson(open_page(at, PAGE), ENERGY)
    at.radio[0].set_value(1).run()
    button(at, "Try it").click().run()
    assert texts(at.title) == ["Train a model"]
    back = f"Back to lesson 5: {course[ENERGY].title}"
    assert button(at, back) and not any(b.label.startswith("Restore") for b in at.button)   # nothing replaced yet
    # The lesson's preset trains another model (fewer images here, so the test is quick): it replaces the first ...
    # (AppTest runs the page it last opened, not the one the app switched to: open it.)
    open_page(at, "app_pages/train.py")
    assert at.selectbox(key="train_model").value == "mlp" and at.slider(key="train_epochs").value == 2
    at.select_slider(key="train_images").set_value(500)
    at.slider(key="train_epochs").set_value(1)
    at.number_input(key="train_seed").set_value(0)
    at.run()
    button(at, "Train").click()
    at.run()
    finish_job(at)
    assert s.digest != first
    second = s.digest
    # ... which comes back in one click, with what was measured on it; the one it replaced is kept in turn.
    button(at, f"Restore your earlier model (mlp, {fmt.pct(first_accuracy)})").click().run()
    assert s.digest == first and s.trained.test_accuracy == first_accuracy and s.previous.values["digest"] == second
    assert any("Your earlier model is back" in x.value for x in at.success)
    assert [r.kind for r in s.runs] == ["training", "training"]   # the runs stay as they were
    # Back to the lesson: the bar goes, the check reads the model now in the session.
    button(at, back).click().run()
    assert texts(at.header)[0] == f"5. {course[ENERGY].title}"
    assert not any(b.label.startswith("Back to lesson") for b in at.button)
    box = next(b.value for b in at.success if "With your results" in b.value)
    assert "exactly the same energy" in box and "**Right**: your run says so too." in box
    assert any(b.label.startswith("Restore your earlier model (mlp") for b in at.button)   # and the other back


def test_lesson_three_opens_the_microcontroller_and_checks_the_prediction_on_the_students_run(course, tiny_measured):
    at = fresh()
    give_measured(at, tiny_measured)             # an mlp: fp32 and int8-static measured (the run's one, copied)
    open_lesson(open_page(at, PAGE), "03-edge-ai")
    at.radio[0].set_value(2).run()               # "Channels removed, then int8 static"
    button(at, "Try it").click().run()
    assert texts(at.title) == ["Edge & cloud"] and at.radio(key="edge_profile").value == "microcontroller"
    open_page(at, "app_pages/edge.py")
    button(at, "Measure under Microcontroller-class").click().run()
    finish_job(at)
    button(at, "Back to lesson 3: Edge AI").click().run()
    s = session(at)
    outcome = lesson_checks.held("fits-microcontroller", lesson_view.evidence(s))
    assert outcome.status != lesson_checks.NO_RESULT
    shown = {lesson_checks.MATCHES: at.success, lesson_checks.DIFFERS: at.warning}[outcome.status]
    box = next(b.value for b in shown if "With your results" in b.value)
    assert outcome.text in box and "int8-static" in box
    # The small mlp's int8 version fits on its own: the run answers "int8 static", not the student's guess.
    assert "You predicted: *Channels removed, then int8 static*. Your run says: **int8 static**." in box


def test_every_lessons_reader_says_only_what_its_numbers_say(course, tiny_trained):
    """The consistency check (tests/app/test_consistency.py) on each lesson's reader, prediction made and
    quiz answered, for a session with the awkward measurements: every comparing word is a claim of lab.claims
    (the course's own text as claims.statement) and every claim holds against its operands."""
    from tests.app.consistency_check import claim_problems, measured_session, page_texts, text_problems

    at = measured_session("awkward", tiny_trained)
    open_page(at, PAGE)
    for x in course.values():
        open_lesson(at, x.slug)
        at.radio[0].set_value(0).run()
        for i, q in enumerate(x.quiz):
            at.radio(key=f"lesson_quiz_{x.slug}_{i}").set_value((q.answer + i) % len(q.options)).run()
        with claims.recording() as recorded:
            at.run()
        problems = [p for c in recorded for p in claim_problems(c)] + text_problems(page_texts(at), recorded)
        assert not problems, (x.slug, problems)
        assert any(c.kind != "statement" for c in recorded), x.slug   # each check compared this session's numbers
