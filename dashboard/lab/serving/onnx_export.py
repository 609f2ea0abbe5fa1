"""A model to an ONNX file with torch's maintained exporter (torch.export + onnxscript).

    onnx_bytes, how = export(module, example_input)

The file has one input "images" and one output "logits", both with a dynamic batch dimension
named "batch". The dynamo-based exporter (`torch.onnx.export(..., dynamo=True)`, needs the
onnxscript package) is used; the legacy TorchScript exporter only when that one fails, and `how`
then says why. onnx and onnxscript (and onnxruntime, to run the file) are regular dependencies.

A maintained export takes 0.5-1 s of CPU here, and one model is exported several times: ONNX Runtime's
fp32 and int8 versions start from the same file, and so do the browser's files and the download. So the
last few files made are kept, keyed by what decides the file (`fingerprint`: the modules, their settings
and train/eval modes, every weight's bytes, the example's shape), and the same model is not exported again.
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from collections import OrderedDict

import torch
from torch import nn

from dashboard.lab.training.models import weights_digest

INPUT_NAME = "images"
OUTPUT_NAME = "logits"
DYNAMO = "torch.onnx dynamo exporter (torch.export + onnxscript)"
LEGACY = "legacy TorchScript ONNX exporter"

# The legacy exporter's own deprecation notices (torch 2.14.1), found with `python -W always`:
# one says the legacy exporter is in use, one comes from a helper it calls internally. Filtered by
# text only around the fallback call: the fallback is already reported through `how` (with the
# reason the maintained exporter failed), so the user has nothing further to act on. Remove with
# the fallback, once the dynamo exporter has been seen to handle every model the lab offers.
_LEGACY_DEPRECATIONS: tuple[tuple[str, str], ...] = (
    (r"You are using the legacy TorchScript-based ONNX export", ""),
    (r"The feature will be removed\. Please remove usage of this function",
     r"torch\.onnx\._internal\.torchscript_exporter\.utils"),
)


KEPT_FILES = 8   # at most ~3.3 MB each (the mlp on CIFAR-10 colour images): under 30 MB in all


class _Made:
    """The last KEPT_FILES files the maintained exporter made, newest last; safe to use from any thread."""

    def __init__(self) -> None:
        self._files: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            if key in self._files:
                self._files.move_to_end(key)
            return self._files.get(key)

    def put(self, key: str, onnx_bytes: bytes) -> None:
        with self._lock:
            self._files[key] = onnx_bytes
            self._files.move_to_end(key)
            while len(self._files) > KEPT_FILES:
                self._files.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._files.clear()


made = _Made()


def fingerprint(module: nn.Module, example: torch.Tensor) -> str | None:
    """What decides the exported file, hashed: each submodule's class, printed settings and plain attributes
    (its train/eval mode among them), every parameter's and buffer's name, dtype and shape, their bytes
    (training.models.weights_digest), and the example's shape and dtype. None (not kept) for a module with
    hooks or quantized tensors, whose behaviour those do not capture."""
    h = hashlib.blake2b(digest_size=20)
    h.update(f"{tuple(example.shape)} {example.dtype}".encode())
    for name, sub in module.named_modules():
        if sub._forward_hooks or sub._forward_pre_hooks:
            return None
        plain = sorted((k, v) for k, v in vars(sub).items()
                       if not k.startswith("_") and isinstance(v, (bool, int, float, str, tuple)))
        h.update(f"{name} {type(sub).__module__}.{type(sub).__qualname__} {sub.extra_repr()} {plain}".encode())
    tensors = module.state_dict()
    if not all(isinstance(t, torch.Tensor) and not t.is_quantized for t in tensors.values()):
        return None
    h.update(f"{[(name, t.dtype, tuple(t.shape)) for name, t in tensors.items()]}".encode())
    h.update(weights_digest(module).encode())
    return h.hexdigest()


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in f"{type(exc).__name__}: {exc}".splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:200]


def _dynamo(module: nn.Module, example: torch.Tensor) -> bytes:
    import onnxscript  # noqa: F401  torch's dynamo exporter runs on it: a missing install is named here, not deep inside torch

    batch = torch.export.Dim("batch")
    program = torch.onnx.export(module, (example,), dynamo=True, input_names=[INPUT_NAME],
                                output_names=[OUTPUT_NAME], dynamic_shapes=({0: batch},), verbose=False)
    if program is None:  # only for dynamo=False; guards against a changed return contract
        raise RuntimeError("torch.onnx.export returned no ONNXProgram")
    return program.model_proto.SerializeToString()


def _legacy(module: nn.Module, example: torch.Tensor) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        for message, where in _LEGACY_DEPRECATIONS:
            warnings.filterwarnings("ignore", message=message, category=DeprecationWarning, module=where)
        torch.onnx.export(module, (example,), buf, dynamo=False, input_names=[INPUT_NAME],
                          output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
    return buf.getvalue()


def export(module: nn.Module, example_input: torch.Tensor) -> tuple[bytes, str]:
    """(the ONNX file's bytes, which exporter made it and, for the fallback, why).

    `module` should be in eval mode (it is exported as it is); `example_input` is one batch of
    normalised images (any batch size: the batch dimension is exported as dynamic).
    Raises when both exporters fail (the legacy one's error, with the dynamo one's in the message).
    A file the maintained exporter made for the same model (see `fingerprint`) is reused; a fallback is not kept.
    """
    key = fingerprint(module, example_input)
    kept = made.get(key) if key else None
    if kept is not None:
        return kept, DYNAMO
    try:
        onnx_bytes = _dynamo(module, example_input)
        if key:
            made.put(key, onnx_bytes)
        return onnx_bytes, DYNAMO
    except Exception as exc:  # noqa: BLE001  any failure of the maintained exporter: try the old one
        reason = ("onnxscript is not installed" if isinstance(exc, ImportError) and "onnxscript" in str(exc)
                  else _first_line(exc))
    try:
        return _legacy(module, example_input), f"{LEGACY}; the dynamo exporter failed: {reason}"
    except Exception as exc:
        raise RuntimeError(f"ONNX export failed: dynamo exporter: {reason}; legacy exporter: "
                           f"{_first_line(exc)}") from exc
