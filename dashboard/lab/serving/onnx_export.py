"""A model to an ONNX file with torch's maintained exporter (torch.export + onnxscript).

    onnx_bytes, how = export(module, example_input)

The file has one input "images" and one output "logits", both with a dynamic batch dimension
named "batch". The dynamo-based exporter (`torch.onnx.export(..., dynamo=True)`, needs the
onnxscript package) is used; the legacy TorchScript exporter only when that one fails, and `how`
then says why. onnx and onnxscript (and onnxruntime, to run the file) are regular dependencies.
"""

from __future__ import annotations

import io
import warnings

import torch
from torch import nn

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
    """
    try:
        return _dynamo(module, example_input), DYNAMO
    except Exception as exc:  # noqa: BLE001  any failure of the maintained exporter: try the old one
        reason = ("onnxscript is not installed" if isinstance(exc, ImportError) and "onnxscript" in str(exc)
                  else _first_line(exc))
    try:
        return _legacy(module, example_input), f"{LEGACY}; the dynamo exporter failed: {reason}"
    except Exception as exc:
        raise RuntimeError(f"ONNX export failed: dynamo exporter: {reason}; legacy exporter: "
                           f"{_first_line(exc)}") from exc
