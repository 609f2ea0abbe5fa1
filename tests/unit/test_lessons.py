"""The course's lessons (lessons/NN-*.md), their parser, the glossary and the "what you should see" checks.

The shipped lessons are checked as content (every lesson loads, links to a real page, cites real
sources with URLs, has a fair quiz); the parser is checked on lessons written here, well-formed and
malformed, in a folder of their own; the checks on real BenchResult and TrainedModel objects.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import tomllib
from importlib import resources

import pytest

from dashboard.course import lesson_checks, lessons, shareable
from dashboard.lab import claims, energy, fmt
from dashboard.lab.measure.bench import BenchResult
from dashboard.lab.deploy.edge import EdgeRun, Fit, default_profiles
from dashboard.lab.energy import EnergyReading, EnergySettings
from dashboard.course.lesson_checks import DIFFERS, MATCHES, NO_RESULT, check
from dashboard.course.lessons import (
    PAGES,
    LessonError,
    glossary_anchor,
    load_glossary,
    load_lessons,
    parse_lesson,
    score,
)
from dashboard.lab.training.models import ModelSpec, build_model, model_cost
from dashboard.lab.training.train import TrainConfig, TrainedModel

GLOSSARY_TERMS = ("latency", "throughput", "p50", "p95", "FLOP", "MAC", "batch", "epoch", "parameter", "activation",
                  "inference", "training", "quantization", "int8", "bf16", "pruning", "distillation", "PUE",
                  "gCO2e/kWh", "kWh", "joule", "RAPL", "edge device", "round-trip time", "roofline",
                  "memory bandwidth", "ONNX", "runtime")
PRESETS = ("lesson-train", "lesson-diverge", "lesson-compress", "lesson-energy", "lesson-edge")


@pytest.fixture(scope="module")
def shipped():
    found, errors = load_lessons()
    return found, errors


def lesson_files():
    root = resources.files("dashboard.lessons")
    return sorted(f for f in root.iterdir() if f.is_file() and lessons.LESSON_FILE.match(f.name))


# ------------------------------------------------------------------ the shipped lessons

def test_every_shipped_lesson_loads_without_an_error(shipped):
    found, errors = shipped
    assert [e.message for e in errors] == []
    assert [f.name for f in lesson_files()] == [f"{x.slug}.md" for x in sorted(found, key=lambda x: x.slug)]


def test_the_course_is_six_lessons_in_order_1_to_6(shipped):
    found, _ = shipped
    assert [x.order for x in found] == [1, 2, 3, 4, 5, 6]
    assert all(x.title and x.minutes > 0 and x.objectives for x in found)


def test_each_lesson_opens_a_page_of_the_app(shipped):
    found, _ = shipped
    for x in found:
        assert x.page in PAGES, x.slug
    assert {x.page for x in found} >= {"train", "hardware", "edge", "compress", "compare"}


def test_presets_named_by_lessons_exist():
    found, _ = load_lessons()
    named = {x.preset for x in found if x.preset}
    assert named <= set(PRESETS), "lessons may only name the presets the course defines"
    path = resources.files("dashboard.lessons") / "presets.toml"
    defined = set(tomllib.loads(path.read_text(encoding="utf-8"))["presets"])   # [presets.NAME] tables
    assert named <= defined, f"presets missing from presets.toml: {sorted(named - defined)}"
    assert named <= set(shareable.presets()), f"presets that do not load: {shareable.preset_errors()}"


def test_each_check_named_by_a_lesson_exists(shipped):
    found, _ = shipped
    named = {x.check for x in found if x.check}
    assert named == set(lesson_checks.CHECKS)


def test_every_quiz_has_3_to_5_questions_each_with_exactly_one_right_answer(shipped):
    found, _ = shipped
    for x in found:
        assert 3 <= len(x.quiz) <= 5, x.slug
        for q in x.quiz:
            assert len(q.options) >= 2 and 0 <= q.answer < len(q.options) and q.explanation, (x.slug, q.text)
        raw = x.sections["Quiz"].split("### Q:")[1:]
        assert [len(re.findall(r"^- \[[xX]\]", block, re.MULTILINE)) for block in raw] == [1] * len(x.quiz), x.slug


def test_every_reference_resolves_and_every_source_is_cited(shipped):
    found, _ = shipped
    for x in found:
        cited = set()
        for name, text in x.sections.items():
            if name != "Sources":
                for m in re.finditer(r"\[(\d+(?:\s*,\s*\d+)*)\](?!\()", text):
                    cited |= {int(n) for n in m.group(1).split(",")}
        assert cited, f"{x.slug} cites no source"
        assert cited <= set(range(1, len(x.sources) + 1)), x.slug
        assert cited == set(range(1, len(x.sources) + 1)), f"{x.slug}: uncited sources"


def test_every_source_has_a_url_and_a_year(shipped):
    found, _ = shipped
    for x in found:
        for n, entry in enumerate(x.sources, start=1):
            assert re.search(r"https?://\S+", entry), f"{x.slug} source {n}"
            assert re.search(r"\b(19|20)\d\d\b|n\.d\.", entry), f"{x.slug} source {n} has no year"


def test_every_lesson_has_its_sections_a_prediction_and_the_four_readers(shipped):
    found, _ = shipped
    for x in found:
        assert list(x.sections) == list(lessons.SECTIONS), x.slug
        assert 2 <= len(x.prediction.options) <= 4 and x.prediction.question.endswith("?"), x.slug
        assert list(x.perspectives) == list(lessons.AUDIENCES), x.slug
        assert all(x.perspectives.values())


def test_lesson_four_asks_whether_zeros_are_faster(shipped):
    found, _ = shipped
    four = next(x for x in found if x.order == 4)
    assert four.prediction.question == "Will a model with 90 % of its weights set to zero be faster?"
    assert (four.page, four.preset, four.check) == ("compress", "lesson-compress", "zeros-not-faster")


def test_loading_the_lessons_loads_neither_torch_nor_streamlit():
    code = ("import sys, dashboard.course.lessons as m; m.load_lessons(); "
            "print('torch' in sys.modules, 'streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "False"]


# ------------------------------------------------------------------ the parser, on lessons written here

GOOD = """+++
title = "A lesson"
order = {order}
minutes = 10
objectives = ["Learn a thing."]
page = "compress"
check = "zeros-not-faster"
+++
# A lesson

## Lesson
A fact [1], another [1, 2].

## Figure
![Accuracy against time](figure:accuracy-vs-latency)

```
## not a heading: inside a diagram
```

## Predict, then check
Is it faster?

- Yes
- No

## What you should see
It is not [2].

## What it means for you
**Developer:** Measure.

**Product manager:** Ask.

**Business leader choosing hardware:** Compare.

**Policymaker weighing energy and access:** Report.

## Sources
1. Someone, "A paper", A venue, 2020,
   https://example.org/a
2. Someone else, "Another", A venue, 2021, https://example.org/b

## Quiz
### Q: First?
- [ ] no
- [x] yes
> Because [1].

### Q: Second?
- [X] yes
- [ ] no
> Because.
> Really.

### Q: Third?
- [ ] no
- [ ] no
- [x] yes
> Because.
"""


def good(order: int = 1) -> str:
    return GOOD.format(order=order)


def test_a_well_formed_lesson_parses_into_its_parts():
    x = parse_lesson("01-a-lesson", good())
    assert (x.slug, x.title, x.order, x.minutes, x.page, x.preset, x.check) == (
        "01-a-lesson", "A lesson", 1, 10, "compress", None, "zeros-not-faster")
    assert list(x.sections) == list(lessons.SECTIONS)
    assert "## not a heading" in x.sections["Figure"]
    assert x.figures == ["accuracy-vs-latency"]
    assert x.sources == ['Someone, "A paper", A venue, 2020, https://example.org/a',
                         'Someone else, "Another", A venue, 2021, https://example.org/b']
    assert (x.prediction.question, x.prediction.options) == ("Is it faster?", ["Yes", "No"])
    assert x.perspectives["Product manager"] == "Ask."
    assert [(q.text, q.answer) for q in x.quiz] == [("First?", 1), ("Second?", 0), ("Third?", 2)]
    assert x.quiz[1].explanation == "Because. Really."


MALFORMED = {
    "bad TOML": (lambda t: t.replace('title = "A lesson"', 'title = "A lesson'), "not valid TOML"),
    "no front matter": (lambda t: t.replace("+++\n", "", 1), "no front matter"),
    "missing field": (lambda t: t.replace('page = "compress"\n', ""), "has no 'page'"),
    "wrong type": (lambda t: t.replace("minutes = 10", 'minutes = "ten"'), "'minutes' must be a whole number"),
    "unknown field": (lambda t: t.replace("minutes = 10", "minutes = 10\nminuts = 3"), "unknown front-matter field"),
    "unknown page": (lambda t: t.replace('page = "compress"', 'page = "lessons"'), "is not a page of the app"),
    "unknown check": (lambda t: t.replace('"zeros-not-faster"', '"zeros-are-faster"'), "is not a check"),
    "two right answers": (lambda t: t.replace("- [ ] no\n- [x] yes\n> Because [1].", "- [x] no\n- [x] yes\n> B."),
                          "quiz question 1 has 2 right answers"),
    "no right answer": (lambda t: t.replace("- [X] yes", "- [ ] yes"), "quiz question 2 has 0 right answers"),
    "no explanation": (lambda t: t.replace("> Because.\n> Really.\n", ""), "quiz question 2 has no explanation"),
    "too few questions": (lambda t: t[:t.index("### Q: Third?")], "the quiz needs 3 to 5 questions"),
    "missing section": (lambda t: t.replace("## What you should see\nIt is not [2].\n", ""),
                        "missing section '## What you should see'"),
    "unknown section": (lambda t: t.replace("## Sources", "## Sorces"), "unknown section '## Sorces'"),
    "reference without source": (lambda t: t.replace("It is not [2].", "It is not [3]."),
                                 "reference [3] in '## What you should see' has no source 3"),
    "source without URL": (lambda t: t.replace(", https://example.org/b", ""), "source 2 has no URL"),
    "one option to predict": (lambda t: t.replace("- Yes\n- No", "- Yes"), "needs 2 to 4 options"),
    "a reader missing": (lambda t: t.replace("**Product manager:** Ask.", "Ask."),
                         "no paragraph starting '**Product manager:**'"),
}


@pytest.mark.parametrize("kind", MALFORMED)
def test_a_malformed_lesson_is_isolated_with_a_one_line_message(tmp_path, kind):
    broken, expected = MALFORMED[kind]
    bad_text = broken(good(order=2))
    assert bad_text != good(order=2), "the mutation must change the lesson"
    (tmp_path / "01-fine.md").write_text(good(order=1), encoding="utf-8")
    (tmp_path / "02-broken.md").write_text(bad_text, encoding="utf-8")
    (tmp_path / "03-also-fine.md").write_text(good(order=3), encoding="utf-8")
    (tmp_path / "glossary.md").write_text("# Glossary\n\n### thing\nA thing.\n", encoding="utf-8")  # not a lesson

    found, errors = load_lessons(tmp_path)

    assert [x.slug for x in found] == ["01-fine", "03-also-fine"]
    assert len(errors) == 1
    e = errors[0]
    assert e.slug == "02-broken" and e.message.startswith("02-broken.md: ") and "\n" not in e.message
    assert expected in e.message, e.message
    with pytest.raises(LessonError, match=re.escape(expected)):
        parse_lesson("02-broken", bad_text)


def test_a_duplicated_order_keeps_the_first_file_and_names_both(tmp_path):
    (tmp_path / "01-first.md").write_text(good(order=1), encoding="utf-8")
    (tmp_path / "02-second.md").write_text(good(order=1), encoding="utf-8")
    (tmp_path / "03-third.md").write_text(good(order=2), encoding="utf-8")
    found, errors = load_lessons(tmp_path)
    assert [(x.slug, x.order) for x in found] == [("01-first", 1), ("03-third", 2)]
    assert [e.slug for e in errors] == ["02-second"]
    assert "order 1 is already taken by 01-first.md" in errors[0].message


def test_lessons_are_sorted_by_order_not_by_file_name(tmp_path):
    (tmp_path / "01-late.md").write_text(good(order=5), encoding="utf-8")
    (tmp_path / "02-early.md").write_text(good(order=2), encoding="utf-8")
    found, errors = load_lessons(str(tmp_path))
    assert errors == [] and [x.slug for x in found] == ["02-early", "01-late"]


def test_an_unreadable_lesson_is_an_error_too(tmp_path):
    (tmp_path / "01-fine.md").write_text(good(order=1), encoding="utf-8")
    (tmp_path / "02-binary.md").write_bytes(b"\xff\xfe\x00not utf-8")
    found, errors = load_lessons(tmp_path)
    assert [x.slug for x in found] == ["01-fine"]
    assert errors[0].message.startswith("02-binary.md: cannot be read")


# ------------------------------------------------------------------ quiz scoring

def test_score_counts_right_answers_among_those_given():
    x = parse_lesson("01-a-lesson", good())        # right answers: 1, 0, 2
    assert score(x, {}) == lessons.Score(0, 0, 3)
    assert score(x, {0: 1, 1: 0, 2: 2}) == lessons.Score(3, 3, 3)
    assert score(x, {0: 0, 2: 2}) == lessons.Score(1, 2, 3)
    # unanswered (None), a stale question index, an option out of range: not counted
    assert score(x, {0: None, 1: 0, 7: 1, 2: 9}) == lessons.Score(1, 1, 3)


# ------------------------------------------------------------------ the glossary

def test_the_glossary_defines_every_term_of_the_course():
    g = load_glossary()
    assert set(GLOSSARY_TERMS) <= set(g), f"missing: {sorted(set(GLOSSARY_TERMS) - set(g))}"
    for term, definition in g.items():
        sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"(])", definition) if s]
        assert 1 <= len(sentences) <= 3, (term, sentences)


def test_glossary_anchors_are_stable_slugs_one_per_term():
    assert glossary_anchor("gCO2e/kWh") == "gco2e-kwh"
    assert glossary_anchor("round-trip time") == "round-trip-time"
    assert glossary_anchor("p95") == "p95"
    assert glossary_anchor("Memory bandwidth") == glossary_anchor("memory bandwidth")
    anchors = [glossary_anchor(t) for t in load_glossary()]
    assert len(anchors) == len(set(anchors)) and all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", a) for a in anchors)


def test_a_missing_glossary_is_empty_not_an_error(tmp_path):
    assert load_glossary(tmp_path) == {}


# ------------------------------------------------------------------ the checks, on real result objects

def result(name: str, **kw) -> BenchResult:
    return BenchResult(name, True, "", **kw)


def untrained(model: str) -> TrainedModel:
    """A real TrainedModel around a freshly built module with its counted FLOPs (no training needed for FLOPs)."""
    spec = ModelSpec(model)
    module = build_model(spec).eval()
    return TrainedModel(spec, "digits", TrainConfig(model=model), module, test_accuracy=0.1, seconds=0.0,
                        train_seconds=0.0, samples_seen=0, completed=False, cost=model_cost(module, spec.in_shape))


def measured_compress(zeros=(1.02, 0.98), channels=(1.64, 2.47), **zeros_extra) -> list[BenchResult]:
    """The default cnn's figures from one run of benchmarks/compress.py, editable per test."""
    out = [result("fp32", speedup_batch1=1.0, speedup_batch256=1.0, flops=8_482_304, size_bytes=1_689_869,
                  latency_ms_batch1_p50=0.213),
           result("pruned-unstructured-50", speedup_batch1=1.0, speedup_batch256=1.0, sparsity=0.5, flops=8_482_304),
           result("pruned-unstructured-90", speedup_batch1=zeros[0], speedup_batch256=zeros[1], sparsity=0.9,
                  flops=8_482_304, size_bytes=1_689_933, latency_ms_batch1_p50=0.209, **zeros_extra)]
    if channels is not None:
        out.append(result("pruned-channels-50", speedup_batch1=channels[0], speedup_batch256=channels[1],
                          flops=2_234_112, size_bytes=426_765))
    return out


def test_zeros_not_faster_matches_the_benchmarks_figures():
    o = check("zeros-not-faster", measured_compress())
    assert o.status == MATCHES
    assert "pruned-unstructured-90" in o.text and "90 %" in o.text and "1.02×" in o.text and "0.98×" in o.text
    assert "0.209 ms" in o.text and "pruned-channels-50" in o.text and "2.47×" in o.text
    assert "2.23 MFLOP" in o.text and "8.48 MFLOP" in o.text


def test_zeros_not_faster_without_channels_still_matches_and_asks_for_them():
    o = check("zeros-not-faster", measured_compress(channels=None))
    assert o.status == MATCHES and "pruned-channels-50" in o.text


def test_zeros_not_faster_differs_when_zeros_came_out_faster_and_says_why():
    spread = {"speedup_batch1": {"min": 0.9, "median": 1.6, "max": 2.4}}
    o = check("zeros-not-faster", measured_compress(zeros=(1.6, 1.0), spread=spread))
    assert o.status == DIFFERS
    assert "1.60×" in o.text and "faster" in o.text and "from 0.90× to 2.40×" in o.text and "busy" in o.text


def test_zeros_not_faster_differs_when_removed_channels_are_not_faster():
    o = check("zeros-not-faster", measured_compress(channels=(0.98, 1.03)))
    assert o.status == DIFFERS and "at best about the same speed as fp32" in o.text and "fixed costs" in o.text


@pytest.mark.parametrize("results", [None, [], [result("fp32", speedup_batch1=1.0)],
                                     [BenchResult("pruned-unstructured-90", False, "failed")]])
def test_zeros_not_faster_has_no_result_without_a_zeroed_version(results):
    o = check("zeros-not-faster", results)
    assert o.status == NO_RESULT and "pruned-unstructured-90" in o.text


def test_int8_smaller_matches_about_4x_with_the_sizes():
    o = check("int8-smaller", [result("fp32", size_bytes=1_689_869), result("int8-static", size_bytes=434_389)])
    assert o.status == MATCHES and "1.61 MiB" in o.text and "424 KiB" in o.text and "3.89×" in o.text


def test_int8_smaller_matches_a_small_model_nearer_3x_and_says_why():
    o = check("int8-smaller", [result("fp32", size_bytes=110_157), result("int8-static", size_bytes=36_309)])
    assert o.status == MATCHES and "3.03×" in o.text and "model this small" in o.text


@pytest.mark.parametrize(("int8_bytes", "says"), [(600_000, "Less than"), (100_000, "More than")])
def test_int8_smaller_differs_when_far_from_4x(int8_bytes, says):
    o = check("int8-smaller", [result("fp32", size_bytes=943_381), result("int8-static", size_bytes=int8_bytes)])
    assert o.status == DIFFERS and says in o.text


@pytest.mark.parametrize("results", [None, [result("fp32", size_bytes=1000)],
                                     [result("fp32", size_bytes=1000), result("int8-static", size_bytes=None)]])
def test_int8_smaller_has_no_result_without_both_files(results):
    assert check("int8-smaller", results).status == NO_RESULT


def test_training_costs_more_matches_for_the_cnn():
    cnn = untrained("cnn")
    o = check("training-costs-more", [result("fp32", flops=cnn.cost.inference_flops_per_image)], cnn)
    assert o.status == MATCHES
    assert "25 MFLOP" in o.text and "8.48 MFLOP" in o.text and "2.95×" in o.text


def test_training_costs_more_uses_the_trained_cost_when_fp32_was_not_measured():
    o = check("training-costs-more", None, untrained("tiny-cnn"))
    assert o.status == MATCHES and "2.82×" in o.text


def test_training_costs_more_differs_for_a_really_trained_mlp(tiny_trained):
    o = check("training-costs-more", [], tiny_trained)
    assert o.status == DIFFERS and "first layer" in o.text and "2.15×" in o.text


def test_training_costs_more_differs_when_the_measured_fp32_is_another_model():
    cnn, tiny = untrained("cnn"), untrained("tiny-cnn")
    o = check("training-costs-more", [result("fp32", flops=tiny.cost.inference_flops_per_image)], cnn)
    assert o.status == DIFFERS and "Over 3×" in o.text


def test_training_costs_more_has_no_result_without_a_trained_model():
    assert check("training-costs-more", [result("fp32", flops=1000)]).status == NO_RESULT


def test_an_unknown_check_is_a_value_error():
    with pytest.raises(ValueError, match="unknown check"):
        check("zeros-are-faster", [])


# ------------------------------------------------------------------ every prediction is checked

def test_every_lesson_that_predicts_has_a_check_and_a_replay_to_fall_back_on(shipped):
    found, _ = shipped
    assert all(x.check and x.replay for x in found), [x.slug for x in found if not (x.check and x.replay)]
    assert len({x.check for x in found}) == len(found)   # one check per lesson, each its own


def test_lesson_three_opens_the_microcontroller_profile_and_checks_its_prediction(shipped):
    found, _ = shipped
    three = next(x for x in found if x.order == 3)
    assert (three.page, three.preset, three.check) == ("edge", "lesson-edge", "fits-microcontroller")
    assert shareable.presets()["lesson-edge"].values == {"edge_profile": "microcontroller"}
    assert "256 KB" in three.prediction.question


def option(shipped, order: int, outcome) -> str:
    """The text of the lesson's prediction option that a check's outcome gives."""
    lesson = next(x for x in shipped[0] if x.order == order)
    return lesson.prediction.options[outcome.answer]


# Lesson 3: the default cnn under the microcontroller-class profile, as measured by benchmarks/edge.py.
KIB = 1024


def micro_run(*fits: Fit, budget: int | None = 256 * KIB) -> EdgeRun:
    profile = dataclasses.replace(default_profiles(2)["microcontroller"], memory_budget=budget)
    for f in fits:
        f.memory_budget = budget
    return EdgeRun(profile, list(fits), "test CPU")


def fit(name: str, weights_kib: float | None = None, activations_kib: float = 12.0) -> Fit:
    if weights_kib is None:
        return Fit(name, False, "computes in floating point; this device runs 8-bit integers only")
    return Fit(name, True, weights_bytes=int(weights_kib * KIB), activation_bytes=int(activations_kib * KIB),
               latency_ms=0.5, latency_budget_ms=200.0, accuracy=0.97)


CNN_SIZES = [result("fp32", size_bytes=1_689_869), result("int8-static", size_bytes=434_389),
             result("pruned-channels-50+int8-static", size_bytes=118_000)]


def test_fits_microcontroller_matches_when_only_channels_then_int8_fits(shipped):
    run = micro_run(fit("fp32"), fit("int8-static", 424), fit("pruned-channels-50+int8-static", 115))
    with claims.recording() as said:
        o = check("fits-microcontroller", CNN_SIZES, edge_runs={"microcontroller": run})
    assert o.status == MATCHES and option(shipped, 3, o) == "Channels removed, then int8 static"
    assert "fp32** cannot run there" in o.text and "1.61 MiB" in o.text
    assert "424 KiB + 12 KiB = 436 KiB" in o.text and "over the budget" in o.text and "it fits" in o.text
    # Each comparing phrase was made by lab.claims from the figures shown beside it.
    compares = {c.text: c for c in said if c.kind == "compare"}
    over = next(c for t, c in compares.items() if t.endswith("over the budget"))
    assert over.operands == (436 * KIB, 256 * KIB) and over.text in o.text
    under = next(c for t, c in compares.items() if t.endswith("under the budget"))
    assert under.operands == (127 * KIB, 256 * KIB)
    assert any(c.kind == "sum" and c.result == 436 * KIB for c in said)


def test_fits_microcontroller_says_none_fits_a_larger_model(shipped):
    run = micro_run(fit("fp32"), fit("int8-static", 1800), fit("pruned-channels-50+int8-static", 470))
    o = check("fits-microcontroller", [], edge_runs={"microcontroller": run})
    assert o.status == DIFFERS and option(shipped, 3, o) == "None of them" and "tiny-cnn" in o.text


def test_fits_microcontroller_says_int8_alone_fits_a_smaller_model(shipped):
    run = micro_run(fit("fp32"), fit("int8-static", 40), fit("pruned-channels-50+int8-static", 12))
    o = check("fits-microcontroller", [], edge_runs={"microcontroller": run})
    assert o.status == DIFFERS and option(shipped, 3, o) == "int8 static" and "int8 alone brings it under" in o.text


def test_fits_microcontroller_asks_for_the_combined_version_when_it_was_not_measured():
    run = micro_run(fit("fp32"), fit("int8-static", 424))
    o = check("fits-microcontroller", CNN_SIZES[:2], edge_runs={"microcontroller": run})
    assert o.status == NO_RESULT and o.answer is None and "pruned-channels-50+int8-static" in o.text
    assert "436 KiB" in o.text   # what was measured is still said


@pytest.mark.parametrize("runs", [{}, {"phone": None}])
def test_fits_microcontroller_has_no_result_without_that_profile(runs):
    o = check("fits-microcontroller", CNN_SIZES, edge_runs={k: v for k, v in runs.items() if v})
    assert o.status == NO_RESULT and "Microcontroller-class" in o.text


def test_fits_microcontroller_needs_a_memory_budget():
    run = micro_run(fit("int8-static", 424), budget=None)
    assert check("fits-microcontroller", [], edge_runs={"microcontroller": run}).status == NO_RESULT


# Lessons 5 and 6: energy readings as the meter makes them where it estimates (CodeCarbon's figures in
# `base`), without running anything.

def estimated(phase: str, cpu_s: float, wall_s: float = 1.0) -> EnergyReading:
    base = {"threads": 2, "cpu_measured_by": None, "gpu_measured_by": None, "cpu_watts_per_thread": 4.0,
            "cpu_watts_source": "CodeCarbon's estimate (test)", "cpu_joules_measured": 0.0,
            "cpu_joules_estimated": 4.0 * cpu_s, "cpu_seconds_estimated": cpu_s, "ram_joules": 3.0 * wall_s,
            "ram_watts": 3.0, "ram_source": "CodeCarbon's RAM model (test)", "gpu_joules": 0.0,
            "codecarbon_co2_grams": None, "fallback_reason": None}
    settings = EnergySettings(country_iso=energy.WORLD)
    return EnergyReading(phase, duration_s=wall_s, cpu_seconds=cpu_s, base=base, settings=settings).with_settings(
        settings)


def test_only_carbon_moves_keeps_the_energy_and_scales_co2_by_the_grids(shipped):
    training = estimated("training", cpu_s=20.0, wall_s=10.0)
    with claims.recording() as said:
        o = check("only-carbon-moves", training_energy=training, settings=EnergySettings(pue=1.2))
    assert o.status == MATCHES and option(shipped, 5, o) == "Only the CO2e goes down; the energy stays the same"
    assert "Poland's grid" in o.text and "France's grid" in o.text and "exactly the same energy" in o.text
    assert "less CO₂e" in o.text
    assert "(estimated)" in o.text
    # Under the student's own PUE (1.2): the joules shown are the re-priced ones.
    assert fmt.energy(training.with_settings(EnergySettings(pue=1.2)).joules) in o.text
    co2 = next(c for c in said if c.kind == "compare" and c.word == "less CO₂e")
    (grids,) = [c for c in said if c.kind == "ratio"]
    assert grids.result == pytest.approx(1 / co2.result)   # the CO2e moved exactly as the grids' intensities


def test_only_carbon_moves_has_no_result_without_training_energy():
    assert check("only-carbon-moves").status == NO_RESULT


def fp32_with_energy(cpu_s_per_1000: float) -> BenchResult:
    per_image = energy.per_image_from("inference:fp32", [estimated("inference:fp32", cpu_s_per_1000)], [1000])
    return result("fp32", size_bytes=1_689_869, energy=per_image, energy_batch1=per_image)


def test_inference_dominates_a_year_of_a_million_requests(shipped):
    training = estimated("training", cpu_s=40.0, wall_s=20.0)
    with claims.recording() as said:
        o = check("inference-dominates", [fp32_with_energy(0.2)], training_energy=training)
    assert o.status == MATCHES and option(shipped, 6, o) == "Over 90 %"
    assert "365,000,000 inferences ×" in o.text and "more than the training" in o.text
    (product,) = [c for c in said if c.kind == "product"]
    assert product.operands[0] == 365e6 and product.text in o.text


def test_inference_dominates_differs_when_training_outweighs_the_year(shipped):
    training = estimated("training", cpu_s=4e6, wall_s=2e6)   # weeks of training against a cheap inference
    o = check("inference-dominates", [fp32_with_energy(0.01)], training_energy=training)
    assert o.status == DIFFERS and option(shipped, 6, o) in ("Under 10 %", "About half")


def test_inference_dominates_has_no_result_without_both_energies():
    assert check("inference-dominates", [fp32_with_energy(0.2)]).status == NO_RESULT
    assert check("inference-dominates", [result("fp32")], training_energy=estimated("training", 1.0)).status == NO_RESULT


# The older checks give the option their numbers support too.

def test_the_first_checks_answer_with_their_lessons_options(shipped):
    assert option(shipped, 4, check("zeros-not-faster", measured_compress())) == "No, about the same speed"
    assert option(shipped, 4, check("zeros-not-faster", measured_compress(zeros=(2.1, 1.9)))) == \
        "Yes, about twice as fast"
    two = check("int8-smaller", [result("fp32", size_bytes=1_689_869), result("int8-static", size_bytes=434_389)])
    assert option(shipped, 2, two) == "About 4 times smaller"
    cnn = untrained("cnn")
    assert option(shipped, 1, check("training-costs-more", [], cnn)) == "About 3 times as many"


def test_a_disturbed_speed_up_is_never_held_against_the_lesson():
    zeros = measured_compress(disturbed={"speedup_batch1": "busy", "speedup_batch": "busy"})
    o = check("zeros-not-faster", zeros)
    assert o.status == NO_RESULT and "disturbed" in o.text


def test_training_costs_more_reads_a_replays_training_block_without_a_model():
    cnn = untrained("cnn")
    o = check("training-costs-more", [], training=cnn.summary())
    assert o.status == MATCHES and "2.95×" in o.text
