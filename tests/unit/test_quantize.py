"""lab.compression.quantize: int8 that really is int8 and still agrees with fp32, and warnings filtered precisely."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from dashboard.lab.compression import quantize


class Tiny(nn.Module):
    """Conv + ReLU + pool + two Linear layers on 1 x 8 x 8 images: every kind of layer the lab's models have."""

    def __init__(self, warn: bool = False):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Linear(4 * 4 * 4, 16), nn.ReLU(), nn.Linear(16, 10))
        self.warn = warn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.warn:  # runs when FX traces the model: a warning of the model's own, not torch.ao's
            warnings.warn("the model's own warning", UserWarning, stacklevel=2)
        return self.classifier(torch.flatten(self.features(x), 1))


@pytest.fixture
def tiny():
    g = torch.Generator().manual_seed(0)
    model = Tiny().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return model, torch.randn(128, 1, 8, 8, generator=g)


@pytest.fixture(autouse=True)
def _keep_engine():
    before = torch.backends.quantized.engine
    yield
    torch.backends.quantized.engine = before


def _int8_weights(module: nn.Module) -> list[str]:
    """Names of the layers whose weights are stored as int8 (torch.ao's packed quantized layers)."""
    names = []
    for name, m in module.named_modules():
        weight = getattr(m, "weight", None)
        w = weight() if callable(weight) else weight
        if isinstance(w, torch.Tensor) and w.dtype == torch.qint8:
            names.append(name)
    return names


def test_engine_prefers_x86_then_qnnpack_and_says_none_when_there_is_none():
    assert quantize.engine(["fbgemm", "qnnpack", "x86"]) == "x86"
    assert quantize.engine(["fbgemm", "qnnpack"]) == "qnnpack"
    assert quantize.engine(["none"]) is None
    assert quantize.engine() in (*torch.backends.quantized.supported_engines, None)


def test_static_int8_agrees_with_fp32_and_its_weights_are_int8(tiny):
    model, images = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}
    q, engine = quantize.static_int8(model, images)
    assert engine == quantize.engine() and torch.backends.quantized.engine == engine
    assert len(_int8_weights(q)) == 3  # the conv and both Linear layers
    with torch.inference_mode():
        ref, out = model(images), q(images)
    # On the calibration images no value is clipped: only int8 rounding, a few % of the output
    # range (3 % here: the x86 engine keeps activations to 7 bits). An uncalibrated model is far off.
    print(f"max |int8 - fp32| = {float((out - ref).abs().max()):.4f}, output range {float(ref.abs().max()):.2f}")
    assert (out - ref).abs().max() <= 0.05 * ref.abs().max()
    assert (out.argmax(1) == ref.argmax(1)).float().mean() >= 0.9
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # input untouched
    assert quantize.static_path(engine) == f"FX graph mode, {engine} engine"


def test_static_int8_refuses_without_an_engine_or_images(tiny, monkeypatch):
    model, images = tiny
    with pytest.raises(ValueError, match="calibration image"):
        quantize.static_int8(model, images[:0])
    monkeypatch.setattr(quantize, "_auto_engine", lambda: None)
    with pytest.raises(RuntimeError, match="no quantized CPU engine"):
        quantize.static_int8(model, images)


def test_dynamic_int8_makes_every_linear_int8_and_leaves_the_conv_fp32(tiny):
    model, images = tiny
    q = quantize.dynamic_int8(model)
    assert sorted(_int8_weights(q)) == ["classifier.0", "classifier.2"]
    assert type(q.features[0]) is nn.Conv2d and type(model.classifier[0]) is nn.Linear  # input untouched
    with torch.inference_mode():
        ref, out = model(images), q(images)
    assert (out - ref).abs().max() <= 0.05 * ref.abs().max()
    assert "quantize_dynamic" in quantize.DYNAMIC_PATH


def test_no_deprecation_warning_escapes_but_the_models_own_warnings_do(tiny):
    model, images = tiny
    warning_model = Tiny(warn=True).eval()
    warning_model.load_state_dict(model.state_dict())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quantize.static_int8(warning_model, images[:32])
        quantize.dynamic_int8(model)
    escaped = [f"{w.category.__name__}: {w.message}" for w in caught
               if issubclass(w.category, (DeprecationWarning, FutureWarning, PendingDeprecationWarning))]
    assert escaped == []
    assert not any("reduce_range will be deprecated" in str(w.message) for w in caught)
    assert any("the model's own warning" in str(w.message) for w in caught)


def test_the_filter_matches_torch_aos_messages_only():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quantize.torch_ao_deprecations_filtered():
            warnings.warn("torch.ao.quantization is deprecated and will be removed in 2.10. ...", DeprecationWarning)
            warnings.warn("some other library is deprecated", DeprecationWarning)
            warnings.warn("torch.ao.quantization is deprecated and will be removed in 2.10. ...", UserWarning)
        warnings.warn("torch.ao.quantization is deprecated and will be removed in 2.10. ...", DeprecationWarning)
    assert [(w.category, str(w.message)[:20]) for w in caught] == [
        (DeprecationWarning, "some other library i"),   # another deprecation passes
        (UserWarning, "torch.ao.quantizatio"),          # the same text in another category passes
        (DeprecationWarning, "torch.ao.quantizatio"),   # outside the block nothing is filtered
    ]
