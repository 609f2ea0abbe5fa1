"""Replays (course.replay, replays.load_replay, `python -m dashboard.course replay`): a replay's JSON loaded into a
fresh session shows the same table as the JSON, labelled as measured then, never now; its weights make
a real model; a broken file is one line and the session keeps what it had. And the room's QR code."""

from __future__ import annotations

import base64
import dataclasses
import json
import tomllib
from pathlib import Path

import pytest
import torch

from dashboard.course import replay
from dashboard.course.__main__ import main
from dashboard.service import replays, runs, versions
from dashboard.service.jobs import Busy
from dashboard.service.sessions import Session

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "assets" / "presets"


def table(results) -> list[tuple]:
    """The columns a student compares: name, accuracy, batch-1 latency, throughput."""
    return [(r["name"], r["accuracy"], r["latency_ms_batch1_p50"], r["throughput_batch256_ips"]) if isinstance(r, dict)
            else (r.name, r.accuracy, r.latency_ms_batch1_p50, r.throughput_batch256_ips) for r in results]


@pytest.fixture(scope="module")
def demo_json() -> dict:
    return json.loads((PRESETS / "demo.json").read_text())


@pytest.fixture(scope="module")
def loaded(demo_json) -> Session:
    s = Session()
    job = replays.load_replay(s, "demo")
    assert job.wait(60) and job.state == "done", job.error
    return s


def test_every_bundled_replay_is_small_complete_and_packaged():
    files = sorted(PRESETS.glob("*.json"))
    assert {p.stem for p in files} == set(replay.names()) and {"demo", "lesson"} <= set(replay.names())
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for path in files:
        assert path.stat().st_size < 2_000_000, path.name
        assert any(path.relative_to(ROOT / "assets").match(p) for p in patterns["dashboard.assets"]), path.name
        doc = json.loads(path.read_text())
        r = replay.read(path.read_bytes(), path.stem)
        assert r.record.completed and all(x.available for x in r.record.results)
        assert r.trained.spec.name == "cnn" and r.steps and r.trained.history
        assert doc["training"]["model"] == "cnn" and doc["hardware"]["cpu"]
        # The cnn's float32 weights would not fit 2 MB: float16, answering as the measured model did.
        assert r.weights_dtype == "float16" and r.agreement >= 0.99


def test_a_replay_loads_into_a_fresh_session_with_the_same_table_as_its_json(loaded, demo_json):
    s = loaded
    assert table(s.results) == table(demo_json["variants"])
    assert [r.size_bytes for r in s.results] == [v["size_bytes"] for v in demo_json["variants"]]
    assert s.trained.test_accuracy == pytest.approx(demo_json["training"]["test_accuracy"], abs=1e-5)
    assert len(s.steps) == len(demo_json["replay"]["steps"]) and len(s.trained.history) == 2
    assert s.training_energy is not None
    assert s.training_energy.joules == pytest.approx(demo_json["training"]["energy"]["joules"])
    # Labelled as measured there and then, never now.
    hw = demo_json["hardware"]
    threads = demo_json["variants"][0]["threads"]
    assert s.results_note == (f"a replay: measured on {hw['cpu']} at {demo_json['created_at'][:10]} "
                              f"{demo_json['created_at'][11:16]} {demo_json['created_at'][-5:]} with {threads} threads, "
                              "not now on this server")
    assert s.results_settings["demo"] is True and s.results_settings["variants"] == demo_json["settings"]["variants"]
    # Results lists it as a replay, with the same label.
    (row,) = runs.table(s)
    assert row["what"] == "replay" and row["figures"] == s.results_note and row["variants measured"] == 5
    # Whatever the Train and comparison pages draw for a model is there.
    assert s.inspection is not None and s.memory is not None and s.layer_flops is not None


def test_the_replays_weights_make_a_real_model_that_predicts(loaded, demo_json, digits):
    module = loaded.trained_model().module
    x, y = next(digits.batches("test", 2000))
    with torch.inference_mode():
        predicted = module(x).argmax(1)
    accuracy = float((predicted == y).float().mean())
    fp32 = next(v for v in demo_json["variants"] if v["name"] == "fp32")
    assert predicted.shape == y.shape
    assert accuracy == pytest.approx(fp32["accuracy"], abs=0.005)   # float16 storage: within half a point
    assert loaded.digest and versions.versions(loaded, {}).names == demo_json["settings"]["variants"]


def _broken(doc: dict) -> dict[str, bytes]:
    good = json.dumps(doc).encode()
    weights = base64.b64decode(doc["replay"]["weights"]["data"])
    flipped = json.loads(good)
    flipped["replay"]["weights"]["data"] = base64.b64encode(weights[:-1] + bytes([weights[-1] ^ 1])).decode()
    no_block = {k: v for k, v in doc.items() if k != "replay"}
    future = json.loads(good)
    future["replay"]["format"] = 99
    wrong_model = json.loads(good)
    wrong_model["replay"]["model"]["spec"]["name"] = "mlp"
    stopped = json.loads(good)
    stopped["stopped"] = "measure"
    return {"not-json": b"{this is not json", "cut-short": good[: len(good) // 2],
            "checksum": json.dumps(flipped).encode(), "run-report": json.dumps(no_block).encode(),
            "future": json.dumps(future).encode(), "wrong-model": json.dumps(wrong_model).encode(),
            "stopped": json.dumps(stopped).encode(), "binary": bytes(range(256))}


def test_a_broken_replay_is_one_line_and_the_session_keeps_what_it_had(loaded, demo_json, tmp_path, monkeypatch):
    for name, raw in _broken(demo_json).items():
        (tmp_path / "presets").mkdir(exist_ok=True)
        (tmp_path / "presets" / f"{name}.json").write_bytes(raw)
    monkeypatch.setattr(replay, "folder", lambda: tmp_path / "presets")
    s = loaded
    before = (s.trained, s.results, s.results_note, list(s.runs), s.digest)
    expected = {"not-json": "is not valid JSON", "cut-short": "is not valid JSON",
                "checksum": "do not match their checksum", "run-report": "has no 'replay' block",
                "future": "format is 99", "wrong-model": "do not load into a mlp model",
                "stopped": "stopped during measure", "binary": "is not valid JSON"}
    for name, why in expected.items():
        with pytest.raises(ValueError) as info:
            replays.load_replay(s, name)
        message = str(info.value)
        assert "\n" not in message and len(message) < 300, message
        assert f"The replay {name!r} cannot be used" in message and why in message, message
        assert (s.trained, s.results, s.results_note, list(s.runs), s.digest) == before
    with pytest.raises(ValueError, match=r"There is no replay named 'missing' \(bundled: binary, checksum"):
        replays.load_replay(s, "missing")
    with pytest.raises(ValueError, match="is not a replay's name"):
        replays.load_replay(s, "../secrets")


def test_no_replay_while_the_session_has_a_job(monkeypatch):
    s = Session()
    monkeypatch.setattr(Session, "busy", property(lambda self: True))
    monkeypatch.setattr(Session, "job", property(lambda self: type("J", (), {"kind": "training"})()))
    with pytest.raises(Busy, match="Your training is under way"):
        replays.load_replay(s, "demo")
    assert s.trained is None and s.results == []


def test_the_cli_writes_a_replay_the_app_reads_back(tiny_digits, monkeypatch, tmp_path, capsys,
                                                  windows_count_as_quiet):
    monkeypatch.setattr("dashboard.lab.pipeline.load_dataset", lambda *a, **k: tiny_digits)
    out = tmp_path / "presets" / "tiny-mlp.json"
    rc = main(["replay", "--model", "mlp", "--epochs", "1", "--threads", "1", "--quiet", "--quick", "--no-energy",
               "--variants", "fp32,int8-dynamic", "--out", str(out)])
    stdout = capsys.readouterr().out
    assert rc == 0
    doc = json.loads(out.read_text())
    r = replay.read(out.read_bytes(), "tiny-mlp")
    assert r.name == doc["replay"]["name"] == "tiny-mlp" and "mlp trained 1 epoch on digits" in r.title
    assert table(r.record.results) == table(doc["variants"]) and [x.name for x in r.record.results] == ["fp32", "int8-dynamic"]
    assert r.weights_dtype == "float32" and r.agreement is None   # the mlp's weights fit as they are
    assert r.trained.test_accuracy == pytest.approx(doc["training"]["test_accuracy"], abs=1e-5) and len(r.steps) > 0
    assert "with 1 thread, not now on this server" in r.label and f"shown as: {r.label}" in stdout
    # The page's cheap description agrees with the full load.
    monkeypatch.setattr(replay, "folder", lambda: out.parent)
    replay.peek.cache_clear()
    try:
        assert replay.describe("tiny-mlp") == (r.title, r.label)
        assert replay.peek("tiny-mlp").edge_runs == [] and r.edge_runs == []   # made without --edge
    finally:
        replay.peek.cache_clear()


def test_a_replay_made_with_edge_carries_every_profile_and_a_session_shows_them(tiny_digits, monkeypatch, tmp_path,
                                                                               capsys, windows_count_as_quiet):
    from dashboard.course import lesson_checks
    from dashboard.lab.deploy import edge

    monkeypatch.setattr("dashboard.lab.pipeline.load_dataset", lambda *a, **k: tiny_digits)
    monkeypatch.setattr("dashboard.lab.inputs.data.load_dataset", lambda *a, **k: tiny_digits)
    out = tmp_path / "presets" / "tiny-edge.json"
    rc = main(["replay", "--model", "mlp", "--epochs", "1", "--threads", "1", "--quiet", "--quick", "--no-energy",
               "--variants", "fp32,int8-static", "--edge", "--out", str(out)])
    stdout = capsys.readouterr().out
    assert rc == 0 and "Microcontroller-class:" in stdout
    doc = json.loads(out.read_text())
    assert [run["profile"]["key"] for run in doc["replay"]["edge"]] == list(edge.default_profiles(1))
    r = replay.read(out.read_bytes(), "tiny-edge")
    micro = next(run for run in r.edge_runs if run.profile.key == "microcontroller")
    fp32, int8 = micro.fit("fp32"), micro.fit("int8-static")
    assert not fp32.runnable and "floating point" in fp32.why_not          # int8-only device: as measured
    assert int8.runnable and int8.activation_bytes > 0 and int8.weights_bytes == next(
        x.size_bytes for x in r.record.results if x.name == "int8-static")   # the file measured, read back
    assert int8.fits_memory is (int8.memory_bytes <= 256 * 1024) and micro.profile.memory_budget == 256 * 1024
    # Loaded into a session: keyed to its model and versions exactly as the Edge & cloud page asks.
    monkeypatch.setattr(replay, "folder", lambda: out.parent)
    s = Session()
    job = replays.load_replay(s, "tiny-edge")
    assert job.wait(60) and job.state == "done", job.error
    runs_for = r.edge_runs_for(s.digest)
    assert set(runs_for) == set(edge.default_profiles(1))
    assert runs_for["microcontroller"].key[:2] == (s.digest, tuple(versions.versions(s, {}).names))
    # ... and lesson 3's check reads it: an mlp's int8 version is small enough on its own.
    o = lesson_checks.check("fits-microcontroller", r.record.results, edge_runs=runs_for)
    assert o.status != lesson_checks.NO_RESULT and "int8-static" in o.text
    # peek: the same device runs without loading the model.
    replay.peek.cache_clear()
    try:
        seen = replay.peek("tiny-edge")
        assert seen.trained is None and [x.to_dict() for x in seen.edge_runs] == [x.to_dict() for x in r.edge_runs]
    finally:
        replay.peek.cache_clear()


def test_a_replay_refuses_device_runs_of_other_versions(tiny_digits, monkeypatch, tmp_path):
    from dashboard.lab.deploy import edge

    doc = json.loads((PRESETS / "demo.json").read_text())
    record = replay.read(json.dumps(doc).encode(), "demo")
    fits = [edge.Fit("something-else", True)]
    run = edge.EdgeRun(edge.default_profiles(1)["phone"], fits, "cpu")
    with pytest.raises(ValueError, match="no more and no fewer"):
        replay.make(dataclasses.replace(record.record, trained=record.trained), name="x", title="x", edge_runs=[run])


def test_the_cli_refuses_a_bad_replay_name_before_any_work(tmp_path, capsys):
    rc = main(["replay", "--out", str(tmp_path / "Bad Name.json"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "a replay's name is lower-case letters" in err
    assert not (tmp_path / "Bad Name.json").exists()


@pytest.mark.parametrize("link", [
    "http://192.168.1.20:8501/train?preset=lesson-train",
    "https://train-infer-lab.streamlit.app/compress?preset=lesson-compress",
    "https://lab.example.org/",
])
def test_the_qr_code_decodes_to_the_link(link):
    import io

    import zxingcpp
    from PIL import Image

    from dashboard.ui import presenter

    png = presenter.qr_png(link)
    image = Image.open(io.BytesIO(png))
    assert image.width >= 250   # about 10 pixels per module: readable from the back of a room once projected
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [link]


def test_loading_a_replay_waits_for_the_compute_slot():
    import threading

    from dashboard.service.jobs import QUEUED
    from dashboard.service.slot import COMPUTE

    release, holding = threading.Event(), threading.Event()

    def holder() -> None:
        with COMPUTE.hold("someone else's measurement"):
            holding.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    holding.wait(5)
    s = Session()
    job = replays.load_replay(s, "demo")
    assert not job.wait(0.5) and job.state == QUEUED and s.trained is None
    release.set()
    t.join()
    assert job.wait(60) and s.trained is not None and s.results_note.startswith("a replay")


def test_a_replay_refuses_figures_that_stayed_disturbed():
    # A replay is shown to a room as "measured on <cpu> at <date>": a busy moment of its machine is not.
    doc = json.loads((PRESETS / "demo.json").read_text())
    r = replay.read(json.dumps(doc).encode(), "demo")
    results = [dataclasses.replace(x) for x in r.record.results]
    results[1].disturbed = {"batch1": "its threads waited 40 ms for a processor during 50 ms of timing"}
    record = dataclasses.replace(r.record, trained=r.trained, results=results)
    with pytest.raises(ValueError, match=f"stayed disturbed: {results[1].name}. Make it again on a quiet machine"):
        replay.make(record, name="x", title="x")
