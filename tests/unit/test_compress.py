"""Compression variants on the bundled digits: sparsity, shapes, accuracy, sizes, honesty."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from dashboard.lab import hardware
from dashboard.lab.compression import compress, quantize
from dashboard.lab.measure.bench import predictions
from dashboard.lab.compression.compress import TECHNIQUES, CompressSettings, make_variants, parse, resolve_names, technique
from dashboard.lab.compression.sensitivity import scan
from dashboard.lab.training.variant import Variant, weight_sparsity

NAMES = ["fp32", "pruned-unstructured-90", "pruned-channels-50", "int8-dynamic", "int8-static", "bf16", "fp16",
         "student-baseline", "distilled", "pruned-channels-50+int8-static", "onnxruntime-fp32"]
# Short fine-tunes keep the suite fast; the defaults (3 epochs) are what the benchmark measures.
QUICK = CompressSettings(finetune_epochs_channels=1, finetune_epochs_unstructured=1, distill_epochs=2,
                         try_channels_last=False)


@pytest.fixture(scope="module")
def teacher(cnn_trained):
    """The default cnn, three epochs on the bundled digits (conftest's, the one test_train.py checks reaches 97 %)."""
    return cnn_trained


@pytest.fixture(scope="module")
def variants(teacher, digits):   # on torch's threads: 2 on a 2-core machine, 1 in each of `pytest -n 2`'s workers
    return {v.name: v for v in make_variants(teacher, digits, NAMES, QUICK)}


def accuracy(variant, dataset) -> float:
    return float((predictions(variant, dataset) == dataset.test_labels).float().mean())


def test_names_resolve_with_fp32_first_and_unknown_names_rejected():
    assert resolve_names("int8-static, pruned-channels-30") == ["fp32", "int8-static", "pruned-channels-30"]
    assert resolve_names("all")[0] == "fp32" and "distilled" in resolve_names("all")
    for bad in ("bogus", "pruned-channels-0", "pruned-channels-100", "pruned-channels-50+int8-dynamic", "",
                "pruned-channels-5x", "int8-static-50"):
        with pytest.raises(ValueError, match="variant"):
            resolve_names(bad)


def test_the_registry_makes_and_reads_back_every_name_form():
    for t in TECHNIQUES:
        params = {p: 40 for p in t.params}
        name = t.name(**params)
        assert parse(name) == (t, params), name
        assert (t.pattern or t.key).replace("{percent}", "N") in compress.name_help()
    assert technique("pruned-channels+int8-static").name(percent=50) == "pruned-channels-50+int8-static"
    with pytest.raises(ValueError):
        technique("pruned-channels").name(percent=100)
    assert {compress.explanation(n) for n in ("int8-dynamic", "pruned-channels-50+int8-static")} == {"int8"}
    assert compress.explanation("fp32") is None and compress.explanation("nonsense") is None
    assert all(t.explain in (None, *compress.EXPLANATIONS) for t in TECHNIQUES)


def test_the_training_a_request_costs_counts_a_shared_fine_tune_once():
    s = CompressSettings(finetune_epochs_channels=3, finetune_epochs_unstructured=1, distill_epochs=2)
    assert s.training_images(["fp32", "int8-static", "bf16"], 1000, teacher_epochs=5) == 0
    assert s.training_images(["pruned-channels-50"], 1000, 5) == 3000
    assert s.training_images(["pruned-channels-50", "pruned-channels-50+int8-static"], 1000, 5) == 3000
    assert s.training_images(["pruned-channels-30+int8-static", "pruned-channels-50"], 1000, 5) == 6000
    assert s.training_images(["pruned-unstructured-90", "student-baseline", "distilled"], 1000, 5) == 5000
    assert CompressSettings().training_images(["distilled"], 1000, teacher_epochs=4) == 4000


@pytest.mark.slow  # makes every variant of the trained cnn (conftest's cnn_trained)
def test_every_requested_variant_is_made_in_order(variants):
    assert list(variants) == NAMES
    assert all(v.how_made for v in variants.values())


@pytest.mark.slow  # makes every variant of the trained cnn (conftest's cnn_trained)
def test_unstructured_sparsity_within_one_point_of_the_request(teacher, digits, variants):
    v = variants["pruned-unstructured-90"]
    assert abs(v.sparsity - 0.90) <= 0.01
    assert abs(weight_sparsity(v.module) - 0.90) <= 0.01
    assert v.params == variants["fp32"].params and v.nonzero_params < 0.2 * v.params
    assert not any(n.endswith("weight_orig") for n in v.module.state_dict())  # pruning made permanent
    other = make_variants(teacher, digits, ["pruned-unstructured-35"],
                          CompressSettings(finetune_epochs_unstructured=0, try_channels_last=False))[1]
    assert abs(other.sparsity - 0.35) <= 0.01


@pytest.mark.slow  # makes every variant of the trained cnn (conftest's cnn_trained)
def test_channel_pruning_shrinks_params_and_flops_and_keeps_the_output_shape(variants):
    fp32, pruned = variants["fp32"], variants["pruned-channels-50"]
    assert pruned.params < 0.5 * fp32.params
    assert pruned.flops < 0.5 * fp32.flops
    assert pruned.details["widths"][-1] == 10
    for n in (1, 7):
        assert pruned(torch.zeros(n, 1, 28, 28)).shape == (n, 10)
    assert pruned.accuracy_before_finetune is not None


@pytest.mark.slow  # makes every variant of the trained cnn (conftest's cnn_trained)
def test_every_variant_but_the_students_stays_within_1_5_points_of_fp32(digits, variants):
    base = accuracy(variants["fp32"], digits)
    for name, v in variants.items():
        if not v.available or name in ("distilled", "student-baseline"):
            continue
        assert accuracy(v, digits) >= base - 0.015, name


@pytest.mark.slow  # makes every variant of the trained cnn (conftest's cnn_trained)
def test_int8_files_are_at_most_30_percent_of_fp32(variants):
    fp32 = len(variants["fp32"].saved_bytes())
    for name in ("int8-static", "int8-dynamic", "pruned-channels-50+int8-static"):
        assert len(variants[name].saved_bytes()) <= 0.30 * fp32, name
    # Unstructured zeros are still stored: the file does not shrink.
    assert len(variants["pruned-unstructured-90"].saved_bytes()) >= 0.95 * fp32


@pytest.mark.slow  # makes every variant of the trained cnn (conftest's cnn_trained)
def test_distilled_student_is_reported_next_to_the_same_student_without_a_teacher(digits, variants):
    d, b = variants["distilled"], variants["student-baseline"]
    assert d.params == b.params < 0.1 * variants["fp32"].params
    assert d.details["temperature"] == QUICK.distill_temperature and d.details["alpha"] == QUICK.distill_alpha
    assert "temperature" not in b.details
    assert accuracy(d, digits) > 0.85 and accuracy(b, digits) > 0.85
    assert not torch.equal(d.module.classifier[-1].weight, b.module.classifier[-1].weight)


@pytest.mark.slow  # makes every variant of the trained cnn (conftest's cnn_trained)
def test_unavailable_variants_say_why(teacher, digits, variants, monkeypatch):
    for v in variants.values():
        if not v.available:
            assert v.module is None and len(v.note) > 20
            with pytest.raises(RuntimeError, match="not available"):
                v(torch.zeros(1, 1, 28, 28))
    if importlib.util.find_spec("onnxruntime") is None:
        assert "onnxruntime is not installed" in variants["onnxruntime-fp32"].note
    # A CPU without bf16 instructions: bf16 is refused with the reason.
    plain = hardware.describe("cpu").__class__(**{**hardware.describe("cpu").to_dict(), "features": ("avx2",)})
    monkeypatch.setattr(hardware, "describe", lambda device="auto": plain)
    v = make_variants(teacher, digits, ["bf16"], QUICK)[1]
    assert not v.available and "BF16" in v.note


@pytest.mark.slow  # makes every variant of the trained cnn (conftest's cnn_trained)
def test_static_int8_falls_back_to_qnnpack_where_x86_is_missing(teacher, digits):
    if "qnnpack" not in torch.backends.quantized.supported_engines:
        pytest.skip("this torch build has no qnnpack")
    before = torch.backends.quantized.engine
    try:
        images = digits.prepare(digits.train_images[:256])
        module, engine = quantize.static_int8(teacher.module, images, engine="qnnpack")
        v = Variant("int8-static", module, "qnnpack")
        assert engine == "qnnpack" and accuracy(v, digits) >= teacher.test_accuracy - 0.015
    finally:
        torch.backends.quantized.engine = before


@pytest.mark.slow  # makes every variant of the trained cnn (conftest's cnn_trained)
def test_fp32_layout_choice_is_stated(teacher, digits):
    v = make_variants(teacher, digits, ["fp32"], CompressSettings(layout_seconds=0.05))[0]
    assert v.layout in ("contiguous", "channels_last")
    assert v.layout in v.note and set(v.details["layout_ips_batch256"]) == {"contiguous", "channels_last"}
    ips = v.details["layout_ips_batch256"]
    assert ips[v.layout] == max(ips.values())  # the faster layout is the baseline
    # ... and at which thread count, so lab.measure.bench holds the measurement's calls to that speed only at it
    assert v.details["layout_threads"] == torch.get_num_threads()


@pytest.mark.slow  # makes every variant of the trained cnn (conftest's cnn_trained)
def test_make_variants_reports_progress_and_stops_when_asked(teacher, digits):
    seen = []
    out = make_variants(teacher, digits, ["int8-dynamic", "int8-static"], QUICK,
                        on_progress=lambda f, m: seen.append(f), should_stop=lambda: len(seen) >= 1)
    assert [v.name for v in out] == ["fp32"]  # stopped before the second variant
    assert seen == sorted(seen) and all(0 <= f <= 1 for f in seen)


@pytest.mark.slow  # makes every variant of the trained cnn (conftest's cnn_trained)
def test_sensitivity_scan_has_one_curve_per_prunable_layer(teacher, digits):
    before = {k: v.clone() for k, v in teacher.module.state_dict().items()}
    result = scan(teacher.module, digits, (0.0, 0.5, 0.95), test_limit=500)
    assert [layer.layer for layer in result.layers] == ["features.0", "features.3", "classifier.0", "classifier.2"]
    assert [layer.kind for layer in result.layers] == ["Conv2d", "Conv2d", "Linear", "Linear"]
    assert all(len(layer.accuracies) == 3 and layer.accuracies[0] == result.baseline_accuracy for layer in result.layers)
    assert result.test_images == 500 and len(result.accuracy_table()) == 4
    assert min(layer.accuracies[-1] for layer in result.layers) < result.baseline_accuracy - 0.05
    for k, v in teacher.module.state_dict().items():
        assert torch.equal(v, before[k]), k  # the scan leaves the model as it was
