"""lab.serving.runtimes: ONNX Runtime fp32 and int8 and compiled PyTorch agree with eager PyTorch, or say why they are not there."""

from __future__ import annotations

import io

import onnx
import pytest
import torch

from dashboard.lab.serving import onnx_export, runtimes
from dashboard.lab.measure.bench import predictions
from dashboard.lab.compression.compress import CompressSettings, make_variants
from dashboard.lab.training.models import ModelSpec, build_model
from dashboard.lab.training.train import TrainConfig, train

# No layout timing (seconds per variant), a small calibration set, no fine-tune: this is about agreement.
QUICK = CompressSettings(try_channels_last=False, calibration_images=256, finetune_epochs_channels=0)


@pytest.fixture(scope="module")
def cnn(tiny_digits):
    """A cnn after one epoch on 512 digits (about a second on one thread)."""
    return train(TrainConfig(model="cnn", epochs=1, batch_size=64, threads=1), tiny_digits)


@pytest.fixture(scope="module")
def ort_variants(cnn, tiny_digits):
    torch.set_num_threads(1)
    return {v.name: v for v in make_variants(cnn, tiny_digits, ["onnxruntime-fp32", "onnxruntime-int8"], QUICK)}


def _logits(variant, dataset) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([variant(x) for x, _ in dataset.batches("test", 100)])


def _accuracy(variant, dataset) -> float:
    return float((predictions(variant, dataset) == dataset.test_labels).float().mean())


def test_session_options_are_the_measured_ones():
    import onnxruntime as ort

    o = runtimes.session_options(2)
    assert (o.intra_op_num_threads, o.inter_op_num_threads) == (2, 1)
    assert o.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert o.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert o.get_session_config_entry("session.intra_op.allow_spinning") == "1"


def test_onnxruntime_fp32_agrees_with_pytorch(ort_variants, tiny_digits):
    fp32, ort_fp32 = ort_variants["fp32"], ort_variants["onnxruntime-fp32"]
    assert ort_fp32.available, ort_fp32.note
    want, got = _logits(fp32, tiny_digits), _logits(ort_fp32, tiny_digits)
    assert (want.argmax(1) == got.argmax(1)).float().mean() >= 0.99
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert ort_fp32.details["session"]["graph_optimization_level"] == "ORT_ENABLE_ALL"
    assert onnx.load_from_string(ort_fp32.saved_bytes()).graph.input[0].name == onnx_export.INPUT_NAME


def test_onnxruntime_int8_is_static_qdq_smaller_and_within_two_points(ort_variants, tiny_digits):
    fp32, q = ort_variants["fp32"], ort_variants["onnxruntime-int8"]
    assert q.available, q.note
    assert q.details["quantizer"].endswith("quantize_static") and q.details["format"] == "QDQ"
    assert q.details["per_channel"] and q.details["calibration_images"] == 256
    ops = {n.op_type for n in onnx.load_from_string(q.saved_bytes()).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    # int8 weights: about a quarter of the fp32 file (scales and zero points on top).
    assert len(q.saved_bytes()) < 0.35 * len(ort_variants["onnxruntime-fp32"].saved_bytes())
    # 256 test images: one image is 0.39 points; the bound is 2 points (5 images).
    drop = _accuracy(fp32, tiny_digits) - _accuracy(q, tiny_digits)
    assert drop <= 0.02, f"int8 lost {drop:.2%} against fp32"
    agree = (predictions(q, tiny_digits) == predictions(fp32, tiny_digits)).float().mean()
    assert agree >= 0.97


def test_onnxruntime_int8_falls_back_to_dynamic_and_says_why(cnn, tiny_digits, monkeypatch):
    import onnxruntime.quantization as q

    def broken(*args, **kwargs):
        raise RuntimeError("an op the static quantizer cannot handle\nmore")

    monkeypatch.setattr(q, "quantize_static", broken)
    v = make_variants(cnn, tiny_digits, ["onnxruntime-int8"], QUICK)[1]
    assert v.available, v.note
    assert v.details["quantizer"].endswith("quantize_dynamic")
    assert v.details["why_dynamic"] == "quantize_static failed: an op the static quantizer cannot handle"
    assert "activations quantized per batch at run time" in v.how_made
    assert _logits(v, tiny_digits).shape == (tiny_digits.n_test, 10)


def test_an_export_failure_makes_the_variant_unavailable_not_the_run(cnn, tiny_digits, monkeypatch):
    monkeypatch.setattr(onnx_export, "export", lambda m, x: (_ for _ in ()).throw(RuntimeError("no export\nhere")))
    made = {v.name: v for v in make_variants(cnn, tiny_digits, ["onnxruntime-fp32", "onnxruntime-int8"], QUICK)}
    assert made["onnxruntime-fp32"].note == "ONNX export or load failed: no export"
    assert not made["onnxruntime-int8"].available and "no export" in made["onnxruntime-int8"].note
    assert made["fp32"].available


def test_pruned_onnxruntime_runs_the_pruned_weights(cnn, tiny_digits):
    torch.set_num_threads(1)
    made = {v.name: v for v in make_variants(cnn, tiny_digits, ["pruned-channels-50", "pruned-channels-50+onnxruntime"],
                                             QUICK)}
    pruned, ort_pruned = made["pruned-channels-50"], made["pruned-channels-50+onnxruntime"]
    assert ort_pruned.available, ort_pruned.note
    assert ort_pruned.params == pruned.params < cnn.cost.params
    torch.testing.assert_close(_logits(ort_pruned, tiny_digits), _logits(pruned, tiny_digits), rtol=1e-4, atol=1e-4)


@pytest.mark.slow  # ~6 s: inductor compiles two graphs (batch 1, a dynamic batch); the fast tier checks
# agreement in test_each_compiled_model_keeps_its_own_graphs
def test_compiled_agrees_with_eager_or_is_unavailable_with_a_reason(cnn, tiny_digits):
    torch.set_num_threads(1)
    made = {v.name: v for v in make_variants(cnn, tiny_digits, ["compiled"], QUICK)}
    v, fp32 = made["compiled"], made["fp32"]
    if not v.available:  # e.g. no C++ compiler on this host: said, not crashed
        assert v.module is None and v.note.startswith("torch.compile failed here:")
        return
    assert v.details["cold_compile_seconds"] > 0 and len(v.details["compile_seconds"]) == len(
        runtimes.COMPILE_WARMUP_BATCHES)
    assert "cold compile" in v.note and v.layout == fp32.layout
    torch.testing.assert_close(_logits(v, tiny_digits), _logits(fp32, tiny_digits), rtol=1e-4, atol=1e-4)
    # What the bench feeds it (tensors made outside inference_mode, batch 1 and 256) was compiled
    # before: no compile lands inside a measurement.
    from torch._dynamo.utils import counters

    before = counters["stats"]["unique_graphs"]
    x = tiny_digits.test_tensors()[0]
    with torch.inference_mode():
        v(x[:1]), v(x[:1].repeat(256, 1, 1, 1))
    assert counters["stats"]["unique_graphs"] == before
    # Saved as the float weights (it is compiled again where it is loaded).
    assert torch.load(io.BytesIO(v.saved_bytes()), weights_only=True).keys() == cnn.module.state_dict().keys()


def test_each_compiled_model_keeps_its_own_graphs():
    # Two models of one class: a graph shared between them (dynamo's cache per code object) would
    # answer for the wrong weights or, past 8 models, quietly run eagerly.
    spec = ModelSpec("tiny-cnn", (1, 8, 8))
    a = build_model(spec, torch.Generator().manual_seed(1)).eval()
    b = build_model(spec, torch.Generator().manual_seed(2)).eval()
    x = torch.randn(3, 1, 8, 8)
    try:
        ca, info = runtimes.compile_module(a, x, batches=((3, False),))
        cb, _ = runtimes.compile_module(b, x, batches=((3, False),))
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"torch.compile does not run here: {exc}")
    with torch.inference_mode():
        torch.testing.assert_close(ca(x), a(x), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(cb(x), b(x), rtol=1e-5, atol=1e-5)
    assert info["max_abs_diff_vs_eager"] < 1e-4 and info["cold_compile_seconds"] > 0


def test_compiled_without_a_cxx_compiler_is_unavailable_with_the_reason(cnn, tiny_digits, monkeypatch):
    # What a host without gcc gives (inductor's InvalidCxxCompiler), produced where it starts.
    def no_compiler(*args, **kwargs):
        from torch._inductor.exc import InvalidCxxCompiler

        raise InvalidCxxCompiler()

    monkeypatch.setattr(runtimes, "compile_module", no_compiler)
    v = make_variants(cnn, tiny_digits, ["compiled"], QUICK)[1]
    assert not v.available and v.module is None
    assert v.note.startswith("torch.compile failed here: torch.compile needs a C++ compiler")


def test_a_broken_onnxruntime_install_is_said_not_crashed(cnn, tiny_digits, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    made = {v.name: v for v in make_variants(cnn, tiny_digits, ["onnxruntime-fp32", "onnxruntime-int8"], QUICK)}
    for name in ("onnxruntime-fp32", "onnxruntime-int8"):
        assert not made[name].available and "onnxruntime is not installed" in made[name].note
