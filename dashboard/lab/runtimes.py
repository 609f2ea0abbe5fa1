"""The model in a runtime built for inference: ONNX Runtime, from the ONNX file lab.onnx_export writes."""

from __future__ import annotations

import copy
import importlib.util

import torch
from torch import nn

from . import onnx_export
from .variant import Variant, unavailable, with_stats


def onnxruntime_fp32(b) -> Variant:
    """The fp32 model exported to ONNX and run by ONNX Runtime: what a deployment runtime gets."""
    trained = b.trained
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        return unavailable(b.name, "ONNX Runtime", "onnxruntime is not installed (pip install 'train-infer-lab[onnx]')")
    try:
        import onnxruntime as ort

        example = torch.zeros(1, *trained.spec.in_shape)
        model_bytes, exporter = onnx_export.export(copy.deepcopy(trained.module).eval(), example)
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        return unavailable(b.name, "ONNX Runtime", f"ONNX export or load failed: {exc}".splitlines()[0])
    v = Variant(b.name, OrtModule(session),
                f"the fp32 model exported to ONNX ({exporter}), run by ONNX Runtime {ort.__version__} (CPU provider)",
                note=f"{options.intra_op_num_threads} ORT threads, set when the session was made",
                saved_as="ONNX file", serialize=lambda: model_bytes)
    return with_stats(v, trained.module, trained.spec.in_shape)


class OrtModule(nn.Module):
    """An ONNX Runtime session called like a torch module (fp32 tensors in, logits out)."""

    def __init__(self, session):
        super().__init__()
        self.session = session

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.session.run(None, {"images": x.contiguous().numpy()})[0]
        return torch.from_numpy(out)
