"""Your model as files to take away: ONNX (any runtime, any batch size), a PyTorch state_dict, and a
short script that runs either elsewhere, preprocessing images as the lab does.

    files = bundle(trained)             # the trained model: .onnx, .pt, snippet
    files = bundle(trained, variant)    # a variant, in the formats it has (each missing one says why)
    files.onnx, files.pt, files.snippet, files.file_name("onnx")

    onnx_file(trained), pt_file(trained), snippet(trained)   # one file at a time (the page's buttons)

The ONNX file has one input "images" (N, C, H, W float32, normalised) and one output "logits"
(N, classes), the batch dimension dynamic (lab.serving.onnx_export). The .pt file is a `state_dict`: it
loads into the same architecture built from the registry (`dashboard.lab.training.models.build_model`),
so it exists only for models whose layer shapes are a registry model's (not for removed channels).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import torch
from torch import nn

from dashboard.lab.inputs import data
from dashboard.lab.serving import onnx_export, runtimes
from dashboard.lab.training.models import MODEL_NAMES, ModelSpec, build_model
from dashboard.lab.training.train import TrainedModel
from dashboard.lab.training.variant import Variant

ONNX_MIME = "application/octet-stream"
PT_MIME = "application/octet-stream"
SNIPPET_MIME = "text/x-python"


class NotExportable(ValueError):
    """This model has no file in this format; the message says why, in one line."""


@dataclass
class ModelFiles:
    """One model's files. A format it has no file in has None and says why in its `*_how`."""

    stem: str                 # file names without extension, e.g. "cnn-digits"
    title: str                # what the model is, one line
    spec: ModelSpec | None    # the registry architecture the .pt loads into
    onnx: bytes | None
    onnx_how: str             # which exporter made the file, or why there is none
    pt: bytes | None
    pt_how: str               # what the file loads into, or why there is none
    snippet: str              # how to run the files elsewhere (Python)

    def file_name(self, kind: str) -> str:
        return _file_name(self.stem, kind)


def stem(trained: TrainedModel, variant: str | None = None) -> str:
    """File names for a model: "<model>-<dataset>[-<variant>]" in characters every file system takes."""
    parts = [trained.spec.name, trained.dataset] + ([variant] if variant and variant != "fp32" else [])
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", "-".join(parts))


def file_name(trained: TrainedModel, kind: str, variant: str | None = None) -> str:
    """The download's file name: kind "onnx", "pt" or "snippet"."""
    return _file_name(stem(trained, variant), kind)


def _file_name(stem_: str, kind: str) -> str:
    return {"onnx": f"{stem_}.onnx", "pt": f"{stem_}.pt", "snippet": f"run_{stem_.replace('-', '_')}.py"}[kind]


def onnx_bytes(module: nn.Module, in_shape: tuple[int, int, int]) -> tuple[bytes, str]:
    """A float module as ONNX bytes (dynamic batch) and which exporter made them."""
    return runtimes.export_float(module, in_shape)


def state_dict_bytes(module: nn.Module) -> bytes:
    """`torch.save(module.state_dict())` with contiguous tensors (loads with weights_only=True)."""
    state = {k: v.detach().contiguous().clone() for k, v in module.state_dict().items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def registry_spec(module: nn.Module, like: ModelSpec) -> ModelSpec | None:
    """The registry architecture whose state_dict has exactly this module's keys and shapes (trying
    `like` first), or None (e.g. channels removed: the layers are narrower than any registry model)."""
    shapes = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    for name in [like.name] + [n for n in MODEL_NAMES if n != like.name]:
        spec = ModelSpec(name, like.in_shape, like.num_classes)
        with torch.device("meta"):
            fresh = build_model(spec)
        if {k: tuple(v.shape) for k, v in fresh.state_dict().items()} == shapes:
            return spec
    return None


def _float_module(variant: Variant) -> nn.Module:
    """The float32 PyTorch model behind a variant, or NotExportable saying why there is none."""
    if not variant.available or variant.module is None:
        raise NotExportable(f"{variant.name} is not available here: {variant.note}")
    module = getattr(variant.module, "float_module", variant.module)  # compiled: the model it compiled
    if isinstance(module, runtimes.OrtModule):
        raise NotExportable(f"{variant.name} is an ONNX Runtime model: its file is ONNX only")
    if any("quantized" in type(m).__module__ for m in module.modules()):
        raise NotExportable(f"{variant.name} is a torch.ao int8 graph: it has no ONNX export here, and its "
                            "state_dict reloads only after the same prepare/convert steps")
    if any(t.dtype != torch.float32 for t in [*module.parameters(), *module.buffers()]):
        raise NotExportable(f"{variant.name} holds 16-bit weights: download fp32's files and convert where it runs")
    return module


def _variant_onnx(variant: Variant, in_shape) -> tuple[bytes, str]:
    if variant.available and isinstance(variant.module, runtimes.OrtModule):
        return variant.saved_bytes(), f"the file ONNX Runtime ran ({variant.saved_as})"
    return onnx_bytes(_float_module(variant), in_shape)


def bundle(trained: TrainedModel, variant: Variant | None = None) -> ModelFiles:
    """Every file of the trained model (variant None or fp32) or of one variant; a format that cannot
    be made has None and the reason. Raises NotExportable only when there is no file at all."""
    name = variant.name if variant is not None else "fp32"
    in_shape = trained.spec.in_shape
    title = (f"{trained.spec.name} trained on {trained.dataset}" + ("" if name == "fp32" else f", {name}"))
    onnx = pt = spec = None
    try:
        onnx, onnx_how = _variant_onnx(variant, in_shape) if variant is not None else onnx_bytes(trained.module, in_shape)
    except NotExportable as exc:
        onnx_how = str(exc)
    except Exception as exc:  # noqa: BLE001  an exporter failure: say so, the .pt may still exist
        onnx_how = f"ONNX export failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    try:
        module = _float_module(variant) if variant is not None else trained.module
        spec = registry_spec(module, trained.spec)
        if spec is None:
            raise NotExportable(f"{name}'s layer shapes are no registry model's (e.g. channels removed): "
                                "its state_dict would load into nothing you can build; use the ONNX file")
        pt, pt_how = state_dict_bytes(module), f"state_dict of build_model({_spec_code(spec)})"
    except NotExportable as exc:
        pt_how = str(exc)
    if onnx is None and pt is None:
        raise NotExportable(f"{name} has no file to download: {onnx_how}")
    files = ModelFiles(stem(trained, name), title, spec, onnx, onnx_how, pt, pt_how, "")
    files.snippet = _snippet(trained, files)
    return files


# ---------------------------------------------------------------- the page's buttons, one file each


def onnx_file(trained: TrainedModel) -> bytes:
    """The trained model as ONNX (dynamic batch)."""
    return onnx_bytes(trained.module, trained.spec.in_shape)[0]


def pt_file(trained: TrainedModel) -> bytes:
    """The trained model's state_dict."""
    return state_dict_bytes(trained.module)


def snippet(trained: TrainedModel) -> str:
    """How to run the trained model's two files elsewhere (no export needed to write it)."""
    files = ModelFiles(stem(trained), f"{trained.spec.name} trained on {trained.dataset}", trained.spec,
                       b"", "", b"", "", "")
    return _snippet(trained, files)


def _spec_code(spec: ModelSpec) -> str:
    return f"ModelSpec({spec.name!r}, {tuple(spec.in_shape)!r}, {spec.num_classes})"


def _snippet(trained: TrainedModel, files: ModelFiles) -> str:
    info = data.CATALOG.get(trained.dataset)
    c, h, w = trained.spec.in_shape
    mean = tuple(info.mean) if info else (0.5,) * c
    std = tuple(info.std) if info else (0.5,) * c
    classes = list(info.classes) if info else [str(i) for i in range(trained.spec.num_classes)]
    accuracy = f", {100 * trained.test_accuracy:.2f} % test accuracy in the lab" if trained.test_accuracy else ""
    present = [(n, f) for n, f in ((files.file_name("onnx"), files.onnx), (files.file_name("pt"), files.pt))
               if f is not None]
    lines = [
        f'"""Run your Train & Infer Lab model outside the lab: {files.title}{accuracy}.',
        "",
        f"Files: {', '.join(n for n, f in present)} (put them next to this script).",
        f"Input: images as uint8 arrays shaped (N, {c}, {h}, {w}), values 0-255, channels first"
        + (" (white digit on black, as MNIST)" if info and info.classes == data.DIGIT_CLASSES else "") + ".",
        '"""',
        "import numpy as np",
        "",
        f"MEAN = np.array({list(mean)!r}, dtype=np.float32).reshape(1, -1, 1, 1)",
        f"STD = np.array({list(std)!r}, dtype=np.float32).reshape(1, -1, 1, 1)",
        f"CLASSES = {classes!r}",
        "",
        "",
        "def preprocess(images: np.ndarray) -> np.ndarray:",
        '    """What the lab does before every forward pass: scale to 0..1, then normalise each channel."""',
        "    return ((images.astype(np.float32) / 255.0 - MEAN) / STD).astype(np.float32)",
        "",
        "",
        f"images = np.zeros((4, {c}, {h}, {w}), dtype=np.uint8)  # your images here",
        "x = preprocess(images)",
    ]
    if files.onnx is not None:
        lines += [
            "",
            "# 1. ONNX Runtime (pip install onnxruntime numpy): no PyTorch needed; any batch size.",
            "import onnxruntime as ort",
            "",
            f'session = ort.InferenceSession("{files.file_name("onnx")}", providers=["CPUExecutionProvider"])',
            f'logits = session.run(["{onnx_export.OUTPUT_NAME}"], {{"{onnx_export.INPUT_NAME}": x}})[0]',
            'print("ONNX Runtime:", [CLASSES[i] for i in logits.argmax(1)])',
        ]
    if files.pt is not None and files.spec is not None:
        lines += [
            "",
            "# 2. PyTorch: build the same architecture from the lab's code, then load your weights",
            "#    (the lab installed: pip install <folder of the lab>, or run this inside that folder).",
            "import torch",
            "from dashboard.lab.training.models import ModelSpec, build_model",
            "",
            f"model = build_model({_spec_code(files.spec)})",
            f'model.load_state_dict(torch.load("{files.file_name("pt")}", weights_only=True))',
            "model.eval()",
            "with torch.inference_mode():",
            "    logits = model(torch.from_numpy(x))",
            'print("PyTorch:", [CLASSES[i] for i in logits.argmax(1).tolist()])',
        ]
    elif files.pt_how:
        lines += ["", f"# No PyTorch file: {files.pt_how}"]
    return "\n".join(lines) + "\n"


def variant_files(trained: TrainedModel, variants: list[Variant]) -> dict[str, ModelFiles | str]:
    """Each variant's files, or the one-line reason it has none."""
    out: dict[str, ModelFiles | str] = {}
    for v in variants:
        try:
            out[v.name] = bundle(trained, v)
        except NotExportable as exc:
            out[v.name] = str(exc)
    return out


__all__ = ["ModelFiles", "NotExportable", "bundle", "file_name", "onnx_bytes", "onnx_file", "pt_file", "registry_spec",
           "snippet", "state_dict_bytes", "stem", "variant_files"]
