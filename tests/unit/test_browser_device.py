"""Measure on this device, the engine's part: which ONNX files a browser gets for the measured versions, that they
are real files native ONNX Runtime runs (and times, quiet-checked, or reads from Compress), and that what a
browser sends back is checked: bad, missing or negative numbers get a clear message and nothing is kept."""

from __future__ import annotations

import dataclasses
import math

import onnx
import pytest

from dashboard.lab.compression.compress import CompressSettings, make_variants
from dashboard.lab.deploy import browser_models as bm
from dashboard.lab.deploy import browser_result as br
from dashboard.lab.measure.bench import BenchResult
from dashboard.lab.training.train import TrainConfig, train

DEMO_NAMES = ["fp32", "pruned-unstructured-90", "pruned-channels-50", "int8-dynamic", "int8-static"]
QUICK = dataclasses.replace(bm.SERVER_BENCH, rounds=1, batch1_min_calls=5, batch1_min_seconds=0.01,
                            batch_min_seconds=0.01, warmup_seconds=0.01, quiet_wait_s=0.2, retry_budget_s=2.0)


@pytest.fixture(scope="module")
def cnn(tiny_digits):
    """A tiny-cnn after one epoch on the tiny digits (channels to remove), and its demo versions."""
    trained = train(TrainConfig(model="tiny-cnn", epochs=1, batch_size=64, threads=1), tiny_digits)
    settings = CompressSettings(try_channels_last=False, calibration_images=64, finetune_epochs_channels=0,
                                finetune_epochs_unstructured=0)
    names = DEMO_NAMES + ["onnxruntime-fp32"]
    return trained, make_variants(trained, tiny_digits, names, settings), names


@pytest.fixture(scope="module")
def bset(cnn, tiny_digits):
    trained, variants, names = cnn
    return bm.export_set(variants, trained, tiny_digits, names, calibration_images=64, key=("k",))


# --- which files ------------------------------------------------------------------------------------------------

def test_the_demo_versions_give_fp32_int8_and_pruned_files_and_say_why_the_rest_are_left_out():
    files, left_out = bm.plan(DEMO_NAMES + ["onnxruntime-fp32", "onnxruntime-int8", "pruned-channels-50+onnxruntime",
                                            "bf16", "pruned-channels-50+int8-static"])
    assert list(files) == ["fp32", "pruned-channels-50", "int8-dynamic", "int8-static"]
    assert files["fp32"] == ["fp32", "onnxruntime-fp32"]      # one file, two measured versions
    assert files["int8-static"] == ["int8-static", "onnxruntime-int8"]
    assert files["pruned-channels-50"] == ["pruned-channels-50", "pruned-channels-50+onnxruntime"]
    assert set(left_out) == {"pruned-unstructured-90", "bf16", "pruned-channels-50+int8-static"}
    assert "zeroed weights stay in dense layers" in left_out["pruned-unstructured-90"]   # each its own reason
    assert "16-bit floats" in left_out["bf16"]
    assert "two techniques together" in left_out["pruned-channels-50+int8-static"]


def test_fp32_is_always_sent_and_the_number_of_files_is_bounded():
    files, _ = bm.plan(["int8-static"])
    assert list(files)[0] == "fp32"
    many = [f"pruned-channels-{p}" for p in (10, 20, 30, 40, 50, 60, 70)]
    files, left_out = bm.plan(many)
    assert len(files) == bm.MAX_FILES
    assert all(f"at most {bm.MAX_FILES}" in why for why in left_out.values()) and left_out


def test_the_files_are_onnx_that_native_onnx_runtime_runs_with_its_answers_kept(bset, cnn):
    trained, variants, _ = cnn
    assert [m.name for m in bset.models] == ["fp32", "pruned-channels-50", "int8-dynamic", "int8-static"]
    assert "pruned-unstructured-90" in bset.left_out
    by = {m.name: m for m in bset.models}
    ops = {m.name: {n.op_type for n in onnx.load_from_string(m.onnx).graph.node} for m in bset.models}
    assert "QuantizeLinear" in ops["int8-static"] and by["int8-static"].computes == "int8-static"
    assert "DynamicQuantizeLinear" in ops["int8-dynamic"] and by["int8-dynamic"].computes == "int8-dynamic"
    assert by["pruned-channels-50"].size_bytes < by["fp32"].size_bytes   # channels really removed
    for m in bset.models:
        assert len(m.reference) == trained.spec.num_classes and all(math.isfinite(x) for x in m.reference)
    assert bset.shape == (1, *trained.spec.in_shape) and len(bset.example) == 4 * math.prod(bset.shape)
    # ONNX Runtime already ran fp32's file on Compress: the browser gets that very file.
    ort_fp32 = next(v for v in variants if v.name == "onnxruntime-fp32")
    assert by["fp32"].onnx == ort_fp32.saved_bytes() and "onnxruntime-fp32" in by["fp32"].how


@pytest.mark.usefixtures("windows_count_as_quiet")
def test_the_server_times_each_file_on_one_thread_or_reads_a_quiet_compress_figure(bset, tiny_digits, monkeypatch):
    monkeypatch.setattr(bm, "SERVER_BENCH", QUICK)
    fresh = dataclasses.replace(bset, models=[dataclasses.replace(m) for m in bset.models])
    known = [BenchResult("onnxruntime-fp32", True, "", threads=1, latency_ms_batch1_p50=0.5, latency_ms_batch1_p95=0.7,
                         accuracy=0.5)]
    timed = []
    real = bm.bench.measure
    monkeypatch.setattr(bm.bench, "measure", lambda vs, *a, **k: timed.extend(v.name for v in vs) or real(vs, *a, **k))
    bm.fill_server_figures(fresh, tiny_digits, known=known, known_from="Compress & benchmark")
    fp32 = fresh.model("fp32")
    assert (fp32.server_p50_ms, fp32.server_source) == (0.5, "Compress & benchmark")
    assert timed == ["pruned-channels-50", "int8-dynamic", "int8-static"]
    for m in fresh.models[1:]:
        assert 0 < m.server_p50_ms <= m.server_p95_ms and m.accuracy is not None and not m.server_source
    # A figure at another thread count is another regime: timed again, not read.
    other = dataclasses.replace(bset, models=[dataclasses.replace(bset.model("fp32"))])
    bm.fill_server_figures(other, tiny_digits, known=[dataclasses.replace(known[0], threads=2)])
    assert other.model("fp32").server_source == "" and other.model("fp32").server_p50_ms != 0.5


# --- what the browser sends back --------------------------------------------------------------------------------

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/150.0.0.0 Safari/537.36"


def good(bset) -> dict:
    return {"run_id": "r1", "error": None, "user_agent": UA, "hardware_concurrency": 2, "runtime_version": "1.30.0",
            "timer_step_ms": 0.1, "runtime_from": "storage",
            "versions": [{"name": m.name, "p50_ms": 0.2, "p95_ms": 0.3, "batches": 30, "calls_per_batch": 50,
                          "logits": list(m.reference)} for m in reversed(bset.models)]}


def test_a_good_result_is_read_in_the_files_order_with_the_device_described(bset):
    run = br.parse(good(bset), "r1", bset.models)
    assert [t.name for t in run.timings] == [m.name for m in bset.models]
    assert all(t.p50_ms == 0.2 and t.p95_ms == 0.3 and t.agrees for t in run.timings)
    assert run.device == "a computer: Headless Chrome 150 on Linux (x86-64), 2 logical cores"
    assert run.runtime == "onnxruntime-web 1.30.0, WebAssembly (SIMD), 1 thread"
    assert run.runtime_from == "this browser's storage" and run.timer_step_ms == 0.1


def _set(d: dict, path: str, value):
    d = dict(d, versions=[dict(v) for v in d["versions"]])
    if path.startswith("v."):
        d["versions"][0][path[2:]] = value
    else:
        d[path] = value
    return d


@pytest.mark.parametrize("path,value,says", [
    ("v.p50_ms", -0.2, "must be more than 0"),
    ("v.p50_ms", 0, "must be more than 0"),
    ("v.p50_ms", None, "is missing"),
    ("v.p50_ms", "0.2", "not a number"),
    ("v.p50_ms", True, "not a number"),
    ("v.p50_ms", math.nan, "not a finite number"),
    ("v.p50_ms", math.inf, "not a finite number"),
    ("v.p50_ms", 1e9, "more than the 60000 allowed"),
    ("v.p95_ms", 0.1, "is below its p50"),
    ("v.batches", 0, "must be at least 1"),
    ("v.batches", 2.5, "whole number"),
    ("v.calls_per_batch", None, "is missing"),
    ("v.logits", [0.1, 0.2], "not the model's"),
    ("v.logits", "x", "not the model's"),
    ("hardware_concurrency", -4, "must be at least 1"),
    ("hardware_concurrency", "8", "not a number"),
    ("user_agent", "x" * 1000, "longer than"),
    ("user_agent", None, "is missing"),
    ("runtime_version", "<script>", "not a version number"),
    ("run_id", "r0", "another measurement"),
    ("versions", "fp32", "no list of versions"),
    ("error", "WebAssembly.instantiate(): out of memory", "your browser could not run the models: WebAssembly"),
    ("round_trip_ms", [], "a list of 1 to 20 times"),
    ("round_trip_ms", [1.0] * 21, "a list of 1 to 20 times"),
    ("round_trip_ms", "5", "a list of 1 to 20 times"),
    ("round_trip_ms", [2.0, 0], "round trip to the server must be more than 0"),
    ("round_trip_ms", [2.0, math.inf], "round trip to the server is not a finite number"),
    ("round_trip_ms", [1e6], "more than the 10000 allowed"),
])
def test_a_bad_result_is_refused_with_a_clear_message(bset, path, value, says):
    with pytest.raises(br.BadBrowserResult, match=says.replace("(", r"\(")):
        br.parse(_set(good(bset), path, value), "r1", bset.models)


def test_every_version_must_come_back_exactly_once(bset):
    missing = good(bset)
    missing["versions"] = missing["versions"][1:]
    with pytest.raises(br.BadBrowserResult, match="missing: "):
        br.parse(missing, "r1", bset.models)
    twice = good(bset)
    twice["versions"] = twice["versions"] + twice["versions"][:1]
    with pytest.raises(br.BadBrowserResult, match="exactly once"):
        br.parse(twice, "r1", bset.models)
    with pytest.raises(br.BadBrowserResult, match="no result"):
        br.parse(None, "r1", bset.models)


def test_answers_that_differ_from_native_onnx_runtime_are_said_so(bset):
    raw = good(bset)
    raw["versions"][0]["logits"] = [x + 0.5 for x in raw["versions"][0]["logits"]]
    run = br.parse(raw, "r1", bset.models)
    t = run.timing(raw["versions"][0]["name"])
    assert t.agrees is False and t.max_diff == pytest.approx(0.5)


@pytest.mark.parametrize("ua,cores,said", [
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile "
     "Safari/537.36", 8, "a phone: Chrome 140 on Android 14, 8 logical cores"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
     "Mobile/15E148 Safari/604.1", None, "a phone: Safari 17 on iOS"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 "
     "Safari/537.36 Edg/140.0.0.0", 1, "a computer: Edge 140 on Windows, 1 logical core"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:133.0) Gecko/20100101 Firefox/133.0", 10,
     "a computer: Firefox 133 on macOS, 10 logical cores"),
    ("curl/8", None, "a device: a browser on an unknown system"),
])
def test_the_device_is_described_from_what_the_browser_says(ua, cores, said):
    assert br.describe(ua, cores) == said


def test_a_wide_spread_between_the_batches_makes_a_figure_unsteady(bset):
    raw = good(bset)
    raw["versions"][0]["p95_ms"] = 0.2 * br.STEADY_SPREAD * 1.01   # p50 0.2: a p95 just past the spread allowed
    run = br.parse(raw, "r1", bset.models)
    assert not run.timing(raw["versions"][0]["name"]).steady
    others = [t for t in run.timings if t.name != raw["versions"][0]["name"]]
    assert len(others) == len(bset.models) - 1 and all(t.steady for t in others)


def test_the_round_trip_to_the_server_is_the_median_of_the_requests_timed(bset):
    assert br.parse(good(bset), "r1", bset.models).round_trip_ms is None   # none sent: none shown
    run = br.parse(good(bset) | {"round_trip_ms": [5.0, 1.0, 3.0, 100.0]}, "r1", bset.models, paired=True)
    assert run.round_trip_ms == 4.0 and run.round_trips_ms == [5.0, 1.0, 3.0, 100.0]
    assert run.paired and run.device_class == "computer"
