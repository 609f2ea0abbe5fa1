"""Shareable settings: a link's query parameters round-trip the Train and Compress widgets, anything
else a link can say is refused with a sentence that never echoes markup, and the presets load."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from dashboard.course import forms, shareable
from dashboard.lab import settings
from dashboard.course.shareable import parse

BAD_TEXT = ["<script>alert(1)</script>", "../../etc/passwd", "..\\..\\windows", "%3Cscript%3E", "", " ",
            "nan", "NaN", "inf", "-inf", "1e999", "x" * 65, "a" * 10_000, "🙂", "\x00", "1;rm -rf /",
            "\"'><img src=x onerror=alert(1)>", "[a](javascript:alert(1))", "**bold**", ":red[x]", "$x$", "٣", "１"]


@pytest.fixture
def caps():
    """Lower this server's caps for one test, then read the environment again."""
    def lower(**limits):
        base = settings.load({})[0]
        settings.override(replace(base, limits=replace(base.limits, **limits)))
    yield lower
    settings.override(None)


def valid_values(page: str) -> dict[str, list]:
    """Every value each widget offers on this server (ranges walked by their step)."""
    out = {}
    for s in shareable.schema(page).values():
        if s.kind is bool:
            out[s.key] = [False, True]
        elif s.allowed() is not None:
            out[s.key] = s.allowed()
        else:
            n = round((s.high() - s.lo) / s.step)
            grid = [round(s.lo + k * s.step, 10) for k in range(n + 1)]
            out[s.key] = [int(v) for v in grid] if s.kind is int else grid
    return out


@pytest.mark.parametrize("page", shareable.PAGES)
def test_every_single_value_round_trips(page):
    for key, values in valid_values(page).items():
        for value in values:
            query = shareable.encode({key: value}, page)
            assert parse(query, page) == ({key: value} if query else {}, []), (key, value, query)
            if not query:   # only the default is left out
                assert value == forms.defaults(page)[key]


@pytest.mark.parametrize("page", shareable.PAGES)
def test_many_combinations_round_trip_and_links_carry_only_changes(page):
    choices = valid_values(page)
    rng = random.Random(0)
    for _ in range(500):
        values = {k: rng.choice(v) for k, v in choices.items()}
        query = shareable.encode(values, page)
        parsed, notices = parse(query, page)
        assert notices == []
        assert {**forms.defaults(page), **parsed} == values
        changed = {k for k, v in values.items() if v != forms.defaults(page)[k]}
        assert {shareable.schema(page)[p].key for p in query} == changed
    assert shareable.encode(forms.defaults(page), page) == {}
    # And without leaving out the defaults (what a preset link says).
    everything = shareable.encode(forms.defaults(page), page, changed_only=False)
    assert parse(everything, page) == (forms.defaults(page), [])


def test_readable_spellings():
    values, notices = parse({"epochs": "5", "lr": "1e-3", "augment": "ON", "images": "all", "model": " MLP ",
                             "batch": ["32", "128"], "opt": "sgd", "schedule": "constant"}, "train")
    assert notices == []
    assert values == {"train_epochs": 5, "train_lr": 0.001, "train_augment": True, "train_images": 0,
                      "train_model": "mlp", "train_batch": 128, "train_optimizer": "sgd", "train_schedule": "constant"}
    assert shareable.encode({"train_lr": 1.0, "train_augment": True, "c": 1}, "train") == {"lr": "1", "augment": "on"}
    values, _ = parse({"temp": "2.5", "alpha": "0.3", "prune": "off", "calib": "64"}, "compress")
    assert values == {"c_temperature": 2.5, "c_alpha": 0.3, "c_unstructured": False, "c_calibration": 64}


@pytest.mark.parametrize("page", shareable.PAGES)
@pytest.mark.parametrize("bad", BAD_TEXT)
def test_bad_text_in_any_setting_is_refused_without_echoing_markup(page, bad):
    for param, s in shareable.schema(page).items():
        values, notices = parse({param: bad}, page)
        if s.kind is bool and bad.strip().lower() in ("on", "off", "true", "false", "yes", "no", "1", "0"):
            continue
        assert values == {}, (param, bad)
        assert len(notices) == 1 and param in notices[0], (param, bad, notices)
        for notice in notices:
            assert not set("<>&\"`[]*$\\") & set(notice.replace("'", "")), notice
            assert len(notice) < 300


def test_wrong_types_out_of_range_and_off_the_grid():
    cases = {
        "train": {"epochs": ["0", "11", "2.5", "three", "-1", "99999999999"], "seed": ["-1", "10001", "1.5"],
                  "batch": ["48", "1024", "64.0", "0"], "lr": ["0.5", "0", "-1", "2", "0x1"],
                  "model": ["resnet", "cnn2"], "dataset": ["imagenet", "/etc/passwd"], "images": ["100", "70000"],
                  "augment": ["2", "maybe"], "opt": ["rmsprop"], "schedule": ["cosine"], "precision": ["fp8", "int8"]},
        "compress": {"prune_pct": ["5", "33", "100", "90.5"], "channels_pct": ["55", "95", "0"],
                     "finetune": ["6", "-1"], "finetune_prune": ["4"], "calib": ["100", "8192"],
                     "temp": ["0.5", "10.5", "1.25", "nan", "inf"], "alpha": ["1.1", "-0.1", "0.25", "NaN"],
                     "int8": ["2"], "onnx": ["yes please"]},
    }
    for page, params in cases.items():
        for param, bads in params.items():
            for bad in bads:
                values, notices = parse({param: bad}, page)
                assert values == {} and len(notices) == 1, (param, bad, values, notices)
                assert notices[0].startswith(f"The link's setting {param}=")


def test_not_text_and_odd_queries_never_raise():
    for query in ({"epochs": 5}, {"epochs": None}, {"epochs": []}, {"epochs": [None]}, {"epochs": b"5"},
                  {"epochs": ["5", 6]}, {5: "5"}, {None: None}, {"": ""}, {"x" * 10_000: "1"}, {"<script>": "1"}):
        values, notices = parse(query, "train")
        assert values == {} or values == {"train_epochs": 5}
        assert all("<script>" not in n for n in notices)
    assert parse({"epochs": ["3", "5"]}, "train") == ({"train_epochs": 5}, [])   # the last one, as st.query_params

    class Broken(dict):
        def items(self):
            raise RuntimeError("no")
    assert parse(Broken(), "train")[0] == {}


def test_unknown_names_get_one_sentence_and_the_session_token_none():
    values, notices = parse({"s": "abc123", "embed": "true", "epochs": "4"}, "train")
    assert values == {"train_epochs": 4} and notices == []
    values, notices = parse({"epoch": "4", "prune": "on", "<script>x</script>": "1", "a": "1", "b": "2"}, "train")
    assert values == {} and len(notices) == 1
    assert "'epoch'" in notices[0] and "'prune'" in notices[0] and "2 more" in notices[0]
    assert "<script>" not in notices[0]


def test_a_notice_quotes_at_most_20_characters():
    values, notices = parse({"model": "m" * 60}, "train")
    assert values == {} and "'" + "m" * 20 + "'..." in notices[0] and "m" * 21 not in notices[0]
    assert "too long" in parse({"model": "m" * 65}, "train")[1][0]
    assert "m" * 20 not in parse({"model": "m" * 65}, "train")[1][0]   # refused unread


def test_values_above_the_server_caps_are_refused(caps):
    assert parse({"epochs": "8", "batch": "512", "images": "20000", "finetune": "5"}, "train")[0] == {
        "train_epochs": 8, "train_batch": 512, "train_images": 20000}
    caps(max_epochs=4, max_batch_size=64, max_train_images=1000, max_finetune_epochs=1, max_calibration_images=256)
    values, notices = parse({"epochs": "8", "batch": "512", "images": "20000", "seed": "1"}, "train")
    assert values == {"train_seed": 1}
    assert len(notices) == 3 and all("server's cap" in n for n in notices)
    assert "at most 4" in notices[0] and "at most 64" in notices[1] and "at most 1000" in notices[2]
    values, notices = parse({"finetune": "3", "finetune_prune": "1", "calib": "1024"}, "compress")
    assert values == {"c_finetune_unstructured": 1} and len(notices) == 2
    assert forms.defaults("train")["train_epochs"] == 3
    caps(max_epochs=2)
    assert forms.defaults("train")["train_epochs"] == 2
    settings.override(None)
    assert parse({"epochs": "8"}, "train") == ({"train_epochs": 8}, [])


def test_an_unknown_page_is_a_programming_error():
    with pytest.raises(ValueError):
        parse({}, "home")


# ---------------------------------------------------------------- presets

def test_the_bundled_presets_load_and_parse_cleanly():
    assert shareable.preset_errors() == []
    p = shareable.presets()
    assert set(p) == {"lesson-train", "lesson-diverge", "lesson-compress", "lesson-energy", "lesson-edge"}
    for name, preset in p.items():
        assert preset.title and preset.page in shareable.PAGES
        assert parse(preset.params, preset.page) == (preset.values, [])
        query = shareable.preset_query(name)
        page = query.pop("page")
        assert page == preset.page and parse(query, page) == (preset.values, [])
    assert p["lesson-train"].values == {"train_dataset": "digits", "train_model": "cnn", "train_epochs": 3,
                                        "train_batch": 64}
    assert p["lesson-diverge"].values == {"train_lr": 1.0}
    assert p["lesson-energy"].values == {"train_model": "mlp", "train_epochs": 2}
    c = p["lesson-compress"].values
    assert (c["c_unstructured"], c["c_unstructured_pct"], c["c_channels"], c["c_channels_pct"]) == (True, 90, True, 50)
    assert c["c_int8_static"] and c["c_onnx"] and not c["c_distilled"]
    assert p["lesson-edge"].values == {"edge_profile": "microcontroller"} and p["lesson-edge"].page == "edge"
    assert shareable.preset_link("lesson-diverge") == "train?lr=1"
    assert shareable.preset_link("lesson-energy", "https://lab.example/") == "https://lab.example/train?model=mlp&epochs=2"


def test_the_presets_are_read_once_per_caps_and_a_lower_cap_still_drops_one(caps, monkeypatch):
    shareable.presets()
    calls = []
    monkeypatch.setattr(shareable, "load_presets", lambda *a, **k: calls.append(a) or ({}, []))
    assert "lesson-train" in shareable.presets() and calls == []   # a page's rerun parses no TOML
    shareable.presets().clear()                                     # a caller's change is its own copy
    assert "lesson-train" in shareable.presets()
    monkeypatch.undo()
    caps(max_epochs=2)                                              # lesson-train asks for 3 epochs
    assert "lesson-train" not in shareable.presets()
    assert any("lesson-train" in e and "epochs" in e for e in shareable.preset_errors())
    settings.override(None)
    assert "lesson-train" in shareable.presets()


def test_a_link_can_name_a_preset_and_change_it():
    assert parse({"preset": "lesson-energy", "epochs": "5"}, "train") == (
        {"train_model": "mlp", "train_epochs": 5}, [])
    for bad in ("lesson-compress", "no-such", "<script>", "x" * 100):
        values, notices = parse({"preset": bad}, "train")
        assert values == {} and len(notices) == 1 and "<script>" not in notices[0]


GOOD = """
[presets.fine]
title = "Fine"
page = "train"
params = { epochs = 2, lr = 0.01, augment = true }
"""


@pytest.mark.parametrize("bad,where", [
    ('[presets.broken]\ntitle = "B"\npage = "train"\nparams = { lr = "fast" }', "lr"),
    ('[presets.broken]\ntitle = "B"\npage = "train"\nparams = { epochs = 500 }', "epochs"),
    ('[presets.broken]\ntitle = "B"\npage = "train"\nparams = { prune = true }', "prune"),
    ('[presets.broken]\ntitle = "B"\npage = "train"\nparams = { model = ["cnn"] }', "model"),
    ('[presets.broken]\ntitle = "B"\npage = "train"\nparams = { s = "token" }', "s "),
    ('[presets.broken]\ntitle = "B"\npage = "compress"\nparams = { alpha = nan }', "alpha"),
    ('[presets.broken]\ntitle = "B"\npage = "home"\nparams = {}', "page"),
    ('[presets.broken]\npage = "train"\nparams = {}', "title"),
    ('[presets.broken]\ntitle = "B"\npage = "train"\nparams = { preset = "fine" }', "preset"),
    ('[presets.broken]\ntitle = "B"\npage = "train"\nparams = { lr = "<script>x" }', "lr"),
])
def test_a_malformed_preset_is_left_out_with_its_name_and_parameter(bad, where):
    found, errors = shareable.load_presets(GOOD + "\n" + bad)
    assert list(found) == ["fine"]                       # the good one still loads
    assert found["fine"].values == {"train_epochs": 2, "train_lr": 0.01, "train_augment": True}
    assert len(errors) == 1 and "'broken'" in errors[0] and where in errors[0], errors
    assert "<script>" not in errors[0]


def test_text_that_is_not_toml_gives_no_presets_and_one_error():
    found, errors = shareable.load_presets("[presets.x\ntitle = ")
    assert found == {} and len(errors) == 1 and "not valid TOML" in errors[0]
    assert shareable.load_presets("") == ({}, [])


def test_the_presets_file_is_installed_with_the_package():
    import tomllib
    from pathlib import Path
    root = Path(shareable.__file__).parents[2]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert (root / "lessons" / shareable.PRESET_FILE).is_file()
    assert any(Path(shareable.PRESET_FILE).match(p) for p in patterns["dashboard.lessons"])


def test_the_learning_rate_goes_past_1_for_the_lesson_on_divergence():
    values, notices = parse({"lr": "10"}, "train")
    assert values == {"train_lr": 10.0} and notices == []
    assert max(forms.LEARNING_RATES) == 10.0 and list(forms.LEARNING_RATES) == sorted(forms.LEARNING_RATES)
    assert parse({"lr": "30"}, "train")[1]   # still a list: a value it does not offer is refused


def test_edge_opens_on_a_named_device_profile_and_refuses_others():
    from dashboard.lab.deploy import edge
    assert set(forms.EDGE_PROFILES) == set(edge.default_profiles(2))   # the page's profiles, written out
    assert parse({"profile": "microcontroller"}, "edge") == ({"edge_profile": "microcontroller"}, [])
    values, notices = parse({"profile": "<b>toaster</b>"}, "edge")
    assert values == {} and "profile" in notices[0] and "<" not in notices[0]
    assert shareable.preset_link("lesson-edge") == "edge?profile=microcontroller"
