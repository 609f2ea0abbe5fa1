"""The run of show's questions for the room (course.room_questions): a step's question checked as it loads (a bad
one costs the step only its question, with the reason), an answer checked against its question, the room's
measured value from the class board's posts or else a replay, and the reveal: the distribution, the closest
predictions by nickname (anonymous without one), the words that compare them following the numbers."""

from __future__ import annotations

import json

import pytest

from dashboard.course import replay, room_questions as rq, run_of_show
from dashboard.course.room_questions import Answer, Measured, Question
from tests.service.board_kit import result

SPEEDUP = Question("How many times as fast?", "int8-speedup-batch1")
ACCURACY = Question("What accuracy?", "cnn-accuracy", low=50.0)
FITS = Question("Which fits?", "fits-microcontroller", ("fp32", "int8", "channels then int8", "none"))


def lesson():
    r = replay.peek("lesson")
    return r.label, r.evidence()


def test_the_bundled_run_of_show_asks_a_number_and_a_choice_with_their_units():
    asked = {s.key: s.question for s in run_of_show.steps() if s.question is not None}
    assert set(asked) == {"train", "compress", "edge"} and run_of_show.step_errors() == []
    assert (asked["compress"].kind, asked["compress"].unit) == (rq.NUMBER, "×")
    assert (asked["train"].kind, asked["train"].unit) == (rq.NUMBER, "%")
    assert asked["edge"].kind == rq.CHOICE and len(asked["edge"].options) == 4
    for q in asked.values():   # each can be held against the bundled lesson replay
        found, _ = rq.measured(q, [], None, lesson)
        assert found is not None and found.source.startswith("a replay: measured on"), q.measure


@pytest.mark.parametrize("raw, why", [
    ("a string", "must be a table"),
    ({"measure": "cnn-accuracy"}, "text must be 1 to 200 characters"),
    ({"text": "x" * 201, "measure": "cnn-accuracy"}, "text must be 1 to 200"),
    ({"text": "Q?", "measure": "mood"}, "its measure 'mood' is not one the lab can measure"),
    ({"text": "Q?", "measure": "cnn-accuracy", "unit": "%"}, "fields the lab does not read: unit"),
    ({"text": "Q?", "measure": "cnn-accuracy", "low": 90, "high": 80}, "low < high, within 0 to 100 %"),
    ({"text": "Q?", "measure": "cnn-accuracy", "high": 150}, "within 0 to 100 %"),
    ({"text": "Q?", "measure": "int8-speedup-batch1", "low": 0}, "within 0.01 to 1000 ×"),
    ({"text": "Q?", "measure": "cnn-accuracy", "low": "1"}, "its range must be numbers"),
    ({"text": "Q?", "measure": "cnn-accuracy", "options": ["a", "b"]}, "takes no options"),
    ({"text": "Q?", "measure": "fits-microcontroller", "options": ["a", "b"]}, "give 4 options"),
    ({"text": "Q?", "measure": "fits-microcontroller", "options": ["a", "b", "c", "x" * 61]}, "give 4 options"),
    ({"text": "Q?", "measure": "fits-microcontroller", "options": ["a", "b", "c", "A"]}, "two of its options are the same"),
    ({"text": "Q?", "measure": "fits-microcontroller", "options": list("abcd"), "low": 1}, "options, not a range"),
])
def test_a_question_that_cannot_be_asked_is_refused_with_its_reason(raw, why):
    q, problem = rq.parse(raw)
    assert q is None and why in problem


def test_a_steps_bad_question_costs_it_only_its_question():
    text = ('[[steps]]\nkey = "a"\ntitle = "A"\npage = "train"\nnotes = ["one", "two", "three"]\n'
            'question = { text = "Q?", measure = "mood" }\n')
    steps, errors = run_of_show.load_steps(text)
    assert [s.key for s in steps] == ["a"] and steps[0].question is None
    assert errors == ["run_of_show.toml: step 1 (a): its question was left out: its measure 'mood' is not one the lab "
                      f"can measure (the measures: {', '.join(rq.MEASURES)})."]


def test_an_answer_is_checked_against_its_question():
    assert SPEEDUP.check(4) == 4.0 and ACCURACY.check(97.5) == 97.5 and FITS.check(3) == 3.0
    with pytest.raises(ValueError, match=r"from 50.0 % to 100 %: 12.0 % is outside that range"):
        ACCURACY.check(12)
    for bad in (float("nan"), "97", True, None):
        with pytest.raises(ValueError, match="Answer with a number"):
            ACCURACY.check(bad)
    for bad in (4, -1, 1.0, True):
        with pytest.raises(ValueError, match="Pick one of the 4 options"):
            FITS.check(bad)
    assert [SPEEDUP.shown(0.761), ACCURACY.shown(97.6), FITS.shown(2)] == ["0.76×", "97.6 %", "channels then int8"]


def test_the_boards_speed_up_is_fp32s_median_over_int8s_within_one_model_and_dataset():
    rows = [result(variant="fp32", latency_ms=0.3), result(variant="fp32", latency_ms=0.5),
            result(variant="int8-static", latency_ms=0.8),
            result(variant="int8-static", latency_ms=0.1, model="mlp"),   # another model: not mixed in
            result(variant="pruned-channels-50", latency_ms=0.05)]
    found, why = rq.measured(SPEEDUP, rows, "ROOM-1", lesson)
    assert found.value == pytest.approx(0.4 / 0.8) and why == ""
    assert found.text == "int8-static takes 800 µs per image at batch 1, fp32 400 µs: int8-static is 2.00× slower"
    assert found.source == "the class board of ROOM-1 (the medians of 2 fp32 entries and 1 int8-static entry of the cnn on digits)"
    found, why = rq.measured(SPEEDUP, rows[:2], "ROOM-1", lesson)   # no int8-static posted: the replay's
    assert found.source.startswith("a replay") and why == "the class board of ROOM-1 holds no posts that give it yet"
    assert rq.measured(SPEEDUP, rows, None, lambda: None) == (None, "no class code is set on your Class board page")


def test_the_reveal_of_numbers_a_histogram_the_median_against_the_measured_and_the_closest_by_name():
    found = Measured(0.76, "int8-static 466 µs against fp32 355 µs per image at batch 1", "a replay")
    answers = [Answer(4.0, "Ada"), Answer(0.8, None), Answer(2.0, "Bob"), Answer(1.0, "Cy"), Answer(0.3, "Di")]
    r = rq.reveal(SPEEDUP, answers, found)
    assert r.n == 5 and sum(b.count for b in r.bars) == 5
    assert [b.label for b in r.bars] == ["0.25–0.5×", "0.5–1×", "1–2×", "2–4×", "4–8×"]
    assert [b.label for b in r.bars if b.measured] == ["0.5–1×"]
    assert r.summary == "The room's median prediction, 1.00× (5 answers), is 1.32× higher than measured: 0.76×."
    assert [(c.nickname, c.answer, c.off) for c in r.closest] == [
        ("anonymous", "0.80×", "1.05× higher"), ("Cy", "1.00×", "1.32× higher"), ("Di", "0.30×", "2.53× lower")]
    assert rq.yours(SPEEDUP, 4.0, found) == "You predicted 4.00×: 5.26× higher than measured."


def test_the_reveal_of_percentages_speaks_in_points_and_of_a_choice_in_counts():
    found = Measured(97.6, "of the test images right", "a replay")
    r = rq.reveal(ACCURACY, [Answer(90.0, "Ada"), Answer(99.0, None), Answer(97.0, "Bob")], found)
    assert r.summary == "The room's median prediction, 97.0 % (3 answers), is −0.6 points from what was measured: 97.6 %."
    assert r.closest[0].nickname == "Bob" and r.closest[0].off == "−0.6 points"
    assert all(b.label.endswith(" %") for b in r.bars) and sum(b.measured for b in r.bars) == 1
    pick = rq.reveal(FITS, [Answer(2.0, "Ada"), Answer(1.0, "Bob"), Answer(2.0, None)], Measured(2.0, "x", "y"))
    assert [(b.label, b.count, b.measured) for b in pick.bars] == [
        ("fp32", 0, False), ("int8", 1, False), ("channels then int8", 2, True), ("none", 0, False)]
    assert pick.summary == "2 of 3 answers picked what was measured: channels then int8."
    assert [c.nickname for c in pick.closest] == ["Ada", "anonymous"]
    assert rq.reveal(FITS, [], None).summary == "0 answers; nothing measured to hold them against."


def test_the_replays_figures_are_the_ones_it_holds():
    label, ev = lesson()
    doc = json.loads((replay.folder() / "lesson.json").read_text())
    int8 = next(r for r in doc["variants"] if r["name"] == "int8-static")
    speed, _ = rq.measured(SPEEDUP, [], None, lesson)
    assert speed.value == int8["speedup_batch1"]
    fits, why = rq.measured(FITS, [], "ROOM-1", lesson)
    assert fits.value == 2 and fits.text == "pruned-channels-50+int8-static fits the 256 KiB budget"
    assert why == "the class board holds no device-profile runs"
