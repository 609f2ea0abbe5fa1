"""lab.serving.onnx_export: the file runs in ONNX Runtime at any batch size and gives PyTorch's logits."""

from __future__ import annotations

import time

import numpy as np
import onnxruntime as ort  # a regular dependency, as are onnx and onnxscript
import pytest
import torch
from torch import nn

from dashboard.lab.serving import onnx_export
from dashboard.lab.training.models import MODEL_NAMES, ModelSpec, build_model


@pytest.fixture(autouse=True)
def _nothing_kept():
    """Each test starts with no file kept from an earlier export (onnx_export.made), so it meets the exporter."""
    onnx_export.made.clear()
    yield
    onnx_export.made.clear()


def _tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 10)).eval()


def _check_runs_and_agrees(model_bytes: bytes, module: nn.Module, shape: tuple[int, ...]) -> None:
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    for batch in (1, 7):
        x = torch.randn(batch, *shape)
        got = session.run(None, {"images": x.numpy()})[0]
        with torch.inference_mode():
            want = module(x).numpy()
        assert got.shape == (batch, 10)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


@pytest.mark.slow  # 1.4-2.4 s on 2 busy cores: the first dynamo export in a process loads onnxscript
def test_dynamo_export_of_a_tiny_model_runs_in_onnxruntime_and_agrees():
    module = _tiny()
    model_bytes, how = onnx_export.export(module, torch.zeros(1, 1, 8, 8))
    assert how == onnx_export.DYNAMO
    _check_runs_and_agrees(model_bytes, module, (1, 8, 8))


def test_falls_back_to_the_legacy_exporter_and_says_why(monkeypatch):
    def broken(module, example):
        raise RuntimeError("dynamo could not trace this\nsecond line")

    monkeypatch.setattr(onnx_export, "_dynamo", broken)
    module = _tiny()
    model_bytes, how = onnx_export.export(module, torch.zeros(1, 1, 8, 8))
    assert how.startswith(onnx_export.LEGACY) and "RuntimeError: dynamo could not trace this" in how
    assert "second line" not in how
    _check_runs_and_agrees(model_bytes, module, (1, 8, 8))


def test_says_onnxscript_is_missing_when_it_is(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxscript", None)  # what a broken install gives: ImportError on import
    _, how = onnx_export.export(_tiny(), torch.zeros(1, 1, 8, 8))
    assert how.endswith("the dynamo exporter failed: onnxscript is not installed")


def test_both_exporters_failing_raises_with_both_reasons(monkeypatch):
    monkeypatch.setattr(onnx_export, "_dynamo", lambda m, x: (_ for _ in ()).throw(RuntimeError("first")))
    monkeypatch.setattr(onnx_export, "_legacy", lambda m, x: (_ for _ in ()).throw(ValueError("second")))
    with pytest.raises(RuntimeError, match="dynamo exporter: RuntimeError: first; legacy exporter: ValueError: second"):
        onnx_export.export(_tiny(), torch.zeros(1, 1, 8, 8))


@pytest.mark.slow  # ~1 s per export with the dynamo exporter, six of them
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)], ids=["digits", "cifar10"])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_exports_with_dynamo_and_agrees(name, shape):
    module = build_model(ModelSpec(name, shape), torch.Generator().manual_seed(0)).eval()
    start = time.perf_counter()
    model_bytes, how = onnx_export.export(module, torch.zeros(1, *shape))
    print(f"{name} {shape}: {how}, {time.perf_counter() - start:.2f} s, {len(model_bytes) / 1024:.0f} KiB")
    assert how == onnx_export.DYNAMO
    _check_runs_and_agrees(model_bytes, module, shape)


@pytest.fixture
def counted_exports(monkeypatch) -> list[bytes]:
    """The maintained exporter replaced by one that gives new bytes each call; the list holds what it gave."""
    given: list[bytes] = []

    def exporter(module, example):
        given.append(f"file {len(given)}".encode())
        return given[-1]

    monkeypatch.setattr(onnx_export, "_dynamo", exporter)
    return given


def test_the_same_model_is_exported_once_and_anything_that_changes_the_file_exports_again(counted_exports):
    module, example = _tiny(), torch.zeros(1, 1, 8, 8)
    first, how = onnx_export.export(module, example)
    assert how == onnx_export.DYNAMO
    assert onnx_export.export(module, example) == (first, how)
    assert onnx_export.export(_tiny(), example)[0] == first        # a fresh copy with the same weights
    assert len(counted_exports) == 1

    with torch.no_grad():
        module[0].weight[0, 0, 0, 0] += 1.0                       # one weight
    assert onnx_export.export(module, example)[0] == counted_exports[-1] != first
    module.train()                                                 # train mode exports another graph
    onnx_export.export(module, example)
    module.eval()
    onnx_export.export(module, torch.zeros(1, 1, 12, 12))          # another input shape
    module[2].kernel_size = 4                                      # a setting that is not a weight
    onnx_export.export(module, example)
    assert len(counted_exports) == 5


class Scaled(nn.Module):
    """A module whose setting is a plain attribute, not printed and not a weight."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def test_a_plain_attribute_that_changes_the_graph_exports_again(counted_exports):
    module, example = nn.Sequential(Scaled(2.0), _tiny()), torch.zeros(1, 1, 8, 8)
    onnx_export.export(module, example)
    module[0].factor = 3.0
    onnx_export.export(module, example)
    assert len(counted_exports) == 2


def test_the_same_bytes_in_another_dtype_or_shape_export_again(counted_exports):
    module, example = _tiny(), torch.zeros(1, 1, 8, 8)
    for buffer in (torch.zeros(4), torch.zeros(4, dtype=torch.int32), torch.zeros(2, 2)):   # 16 zero bytes each
        module.register_buffer("offset", buffer)
        onnx_export.export(module, example)
    assert len(counted_exports) == 3


def test_a_module_with_hooks_is_exported_every_time(counted_exports):
    module, example = _tiny(), torch.zeros(1, 1, 8, 8)
    module[0].register_forward_pre_hook(lambda m, args: None)
    onnx_export.export(module, example)
    onnx_export.export(module, example)
    assert len(counted_exports) == 2


def test_only_the_last_few_files_are_kept(counted_exports):
    example = torch.zeros(1, 1, 8, 8)
    models = []
    for i in range(onnx_export.KEPT_FILES + 1):
        models.append(_tiny())
        with torch.no_grad():
            models[-1][0].bias.fill_(float(i))
        onnx_export.export(models[-1], example)
    onnx_export.export(models[-1], example)                      # the newest is kept
    assert len(counted_exports) == onnx_export.KEPT_FILES + 1
    onnx_export.export(models[0], example)                       # the oldest was let go
    assert len(counted_exports) == onnx_export.KEPT_FILES + 2


def test_a_fallback_is_not_kept_and_the_maintained_exporter_is_tried_again(monkeypatch):
    tried = []

    def broken(module, example):
        tried.append(1)
        raise RuntimeError("dynamo could not trace this")

    monkeypatch.setattr(onnx_export, "_dynamo", broken)
    monkeypatch.setattr(onnx_export, "_legacy", lambda module, example: b"legacy file")
    module = _tiny()
    assert onnx_export.export(module, torch.zeros(1, 1, 8, 8))[0] == b"legacy file"
    assert onnx_export.export(module, torch.zeros(1, 1, 8, 8))[0] == b"legacy file"
    assert len(tried) == 2
