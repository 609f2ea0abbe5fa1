"""The run of show (lessons/run_of_show.toml, course.run_of_show): it loads whole, every step opens a page
the app has with a preset and a replay that exist, a bad step is isolated with its reason, links."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from dashboard.course import lesson_checks, lessons, replay, run_of_show, shareable
from dashboard.lab import claims, fmt

ROOT = Path(__file__).resolve().parents[2]
APP_TEXT = (ROOT / "dashboard" / "app.py").read_text(encoding="utf-8")
STEPS_TEXT = (ROOT / "lessons" / "run_of_show.toml").read_text(encoding="utf-8")

GOOD = """
[[steps]]
key = "train"
title = "Train"
page = "train"
preset = "lesson-train"
replay = "demo"
notes = ["one", "two", "three"]
"""


def _step(key: str, title: str | None = "A step", *, page: str = "train", notes: tuple[str, ...] = ("a", "b", "c"),
          **more: str) -> str:
    """One [[steps]] table (a field given None is left out)."""
    fields = {"key": key, "title": title, "page": page, **more, "notes": list(notes)}
    return "\n[[steps]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in fields.items() if v is not None)


def test_the_bundled_run_of_show_loads_whole_in_order():
    assert run_of_show.step_errors() == []
    steps = run_of_show.steps()
    assert [s.key for s in steps] == ["intro", "train", "compress", "compare", "edge", "quiz"]
    for s in steps:
        assert s.title and run_of_show.MIN_NOTES <= len(s.notes) <= run_of_show.MAX_NOTES
        assert all(len(n) > 20 for n in s.notes), s.key   # sentences a presenter reads, not stubs


def test_every_step_opens_a_page_that_app_py_declares():
    # app.py is read as text (importing it would run Streamlit): every url_path it gives, and its default page.
    url_paths = set(re.findall(r'url_path="([^"]+)"', APP_TEXT))
    assert {"train", "compress", "compare", "edge", "lessons", "present"} <= url_paths
    assert re.search(r'st\.Page\("app_pages/home\.py".*default=True', APP_TEXT)
    for step in tomllib.loads(STEPS_TEXT)["steps"]:
        assert step["page"] in url_paths | {run_of_show.HOME}, step["key"]
    # ... and the parser the page uses finds the same pages, with the scripts st.switch_page takes.
    pages = run_of_show.app_pages(APP_TEXT)
    assert set(pages) == url_paths | {run_of_show.HOME}
    assert pages["home"].default and pages["home"].script == "app_pages/home.py"
    assert pages["try-it"].script == "app_pages/try_it.py" and pages["compress"].title == "Compress & benchmark"
    for page in pages.values():
        assert (ROOT / "dashboard" / page.script).is_file(), page.script


def test_every_preset_named_exists_for_its_page_and_every_replay_is_bundled():
    presets = shareable.presets()
    named = tomllib.loads(STEPS_TEXT)["steps"]
    assert any("preset" in s for s in named) and any("replay" in s for s in named)
    for step in named:
        if "preset" in step:
            assert step["preset"] in presets, step["key"]
            assert presets[step["preset"]].page == step["page"], step["key"]
        if "replay" in step:
            assert (ROOT / "assets" / "presets" / f"{step['replay']}.json").is_file(), step["replay"]
            assert step["replay"] in replay.names()


def test_a_bad_step_is_left_out_with_its_reason_and_the_others_load():
    text = GOOD + "".join([
        _step("no-title", title=None),
        _step("nowhere", "A page the app does not have", page="nowhere"),
        _step("short", "Too few notes", notes=["a", "b"]),
        _step("train", "The same key again"),
        _step("Bad Key", "x"),
        _step("typo", "A preset and a replay that do not exist", page="compress", preset="lesson-nope", replay="nope"),
        _step("wrong-page", "A preset for another page", page="compress", preset="lesson-train"),
    ])
    steps, errors = run_of_show.load_steps(text, pages={"train", "compress"}, presets=shareable.presets(),
                                           replays={"demo"})
    by_key = {s.key: s for s in steps}
    assert list(by_key) == ["train", "typo", "wrong-page"]
    assert by_key["train"].preset == "lesson-train" and by_key["train"].replay == "demo"
    # A missing preset or replay costs the step only that: the room still gets the page.
    assert by_key["typo"].preset is None and by_key["typo"].replay is None
    assert by_key["wrong-page"].preset is None
    text_of = "\n".join(errors)
    for expected in ("step 2 (no-title) was left out: it needs a title",
                     "step 3 (nowhere) was left out: the page 'nowhere' is not one of the app's",
                     "step 4 (short) was left out: its notes must be a list of 3 to 6 lines",
                     "step 5 (train) was left out: its key is used by an earlier step",
                     "step 6: its key must be lower-case",
                     "the preset 'lesson-nope' is not one this lab offers",
                     "the replay 'nope' is not in assets/presets",
                     "the preset lesson-train is for the train page, not compress"):
        assert expected in text_of, (expected, errors)
    assert len(errors) == 8 and all("\n" not in e for e in errors)


@pytest.mark.parametrize("text, message", [
    ("[[steps]\nkey=", "is not valid TOML"),
    ("steps = 3", "'steps' must be a list"),
    ("", "has no [[steps]]"),
])
def test_a_file_that_is_not_a_run_of_show_gives_no_steps_and_one_sentence(text, message):
    steps, errors = run_of_show.load_steps(text)
    assert steps == [] and len(errors) == 1 and message in errors[0]


def test_the_students_link_opens_the_same_page_and_preset():
    steps = {s.key: s for s in run_of_show.steps()}
    base = "https://lab.example.org/workshop"
    assert run_of_show.step_link(steps["train"], base) == f"{base}/train?preset=lesson-train"
    assert run_of_show.step_link(steps["compress"], base + "/") == f"{base}/compress?preset=lesson-compress"
    assert run_of_show.step_link(steps["intro"], base) == f"{base}/"   # Home is the app's own address
    assert run_of_show.step_link(steps["quiz"], base) == f"{base}/lessons"
    assert run_of_show.step_link(steps["train"], None) == "train?preset=lesson-train"
    # The preset a link names is one the Train page reads back into its widgets.
    values, notices = shareable.parse({"preset": "lesson-train"}, "train")
    assert notices == [] and values == shareable.presets()["lesson-train"].values


# ---------------------------------------------------------------- notes built from the figures, replays that hold them

HAND_WRITTEN_FIGURE = re.compile(r"\d[\d.,]*\s*(?:x|×|%|ms|s|seconds|minutes|MB|MiB|KB|KiB|J|W)(?![\w])")


def test_no_note_states_a_figure_by_hand():
    for step in tomllib.loads(STEPS_TEXT)["steps"]:
        for note in step["notes"]:
            figures = set(HAND_WRITTEN_FIGURE.findall(run_of_show.NOTE_FACT.sub("", note)))
            # 256 KiB is the microcontroller's RAM as lesson 3 states it (the device's datasheet), no measurement.
            assert figures <= {"256 KiB"}, (step["key"], note)


def test_a_note_is_filled_in_from_the_first_source_with_figures_else_said_without_one():
    demo = replay.peek("demo")
    (step,) = run_of_show.load_steps(_step("compress", page="compress", notes=(
        "Point at size: {sizes}.", "Accuracy: {accuracy}.", "Fits: {edge-fits}.")))[0]
    with claims.recording() as said:
        notes, used = run_of_show.render_notes(step, [("your session", lesson_checks.Evidence()),
                                                      ("the replay", demo.evidence())])
    assert used == ["the replay"]
    sizes = {r.name: r.size_bytes for r in demo.record.results}
    assert notes[0].startswith("Point at size: fp32's file is 1.61 MiB: ") and "int8-static 3.89× smaller" in notes[0]
    compare = next(c for c in said if c.kind == "compare" and c.text == "3.89× smaller")
    assert compare.operands == (sizes["fp32"], sizes["int8-static"]) and compare.text in notes[0]
    assert "about the same size (1.61 MiB)" in notes[0]   # zeroed weights: inside the band, said so
    fp32 = next(r for r in demo.record.results if r.name == "fp32")
    assert f"fp32 answers {fmt.pct(fp32.accuracy)} of the test images right" in notes[1]
    # Neither source has device runs: the point without a figure.
    assert notes[2] == "Fits: " + run_of_show.FACTS["edge-fits"].otherwise + "."
    notes, used = run_of_show.render_notes(step, [])
    assert used == [] and not any(HAND_WRITTEN_FIGURE.search(n) for n in notes)


def test_a_note_naming_no_known_figure_leaves_its_step_out():
    steps, errors = run_of_show.load_steps(GOOD + _step("odd", notes=("a {speedup}", "b", "c")))
    assert [s.key for s in steps] == ["train"]
    assert len(errors) == 1 and "{speedup}" in errors[0] and "{sizes}" in errors[0]


def test_a_replay_without_what_its_step_shows_is_dropped_with_the_reason():
    demo = replay.peek("demo")
    text = _step("edge", page="edge", replay="demo") + _step("compress", page="compress", replay="demo")
    steps, errors = run_of_show.load_steps(text, replays={"demo": demo})
    by_key = {s.key: s for s in steps}
    assert by_key["edge"].replay is None and by_key["compress"].replay == "demo"
    assert errors == ["run_of_show.toml: step 1 (edge): the replay demo holds no device-profile runs (a replay made "
                      "with --edge), which its page shows; the step has no replay."]
    assert run_of_show.missing("compare", demo) is None and run_of_show.missing("train", demo) is None


def test_the_edge_step_opens_lesson_threes_profile_and_asks_its_question():
    step = next(s for s in tomllib.loads(STEPS_TEXT)["steps"] if s["key"] == "edge")
    assert step["preset"] == "lesson-edge" and step["replay"] == "lesson"
    assert any("{edge-fits}" in n for n in step["notes"])
    lesson, _ = lessons.load_lessons()
    three = next(x for x in lesson if x.order == 3)
    options = [o.lower() for o in three.prediction.options]
    question = next(n for n in step["notes"] if n.startswith("Ask the room first"))
    assert all(word in question.lower() for word in ("fp32", "int8", "channels removed", "none"))
    assert len(options) == 4
