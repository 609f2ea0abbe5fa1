"""Fewer bits per number: int8 (dynamic, static) through lab.compression.quantize, bf16 / fp16 where the CPU runs them natively."""

from __future__ import annotations

import copy

import torch
from torch import nn

from dashboard.lab import hardware
from dashboard.lab.compression import quantize
from dashboard.lab.training.variant import Variant, has_conv, unavailable, with_stats

_LABELS = {**hardware.X86_FEATURES, **hardware.ARM_FEATURES}


def int8_dynamic(b) -> Variant:
    """Linear weights int8, activations quantized per batch at run time."""
    trained = b.trained
    module = quantize.dynamic_int8(copy.deepcopy(trained.module).eval())
    conv = has_conv(trained.module)
    v = Variant(b.name, module,
                f"Linear weights int8, activations quantized per batch at run time ({quantize.DYNAMIC_PATH})",
                note="convolutions stay fp32: dynamic quantization covers Linear layers only" if conv
                else "every layer is Linear, so the whole model runs int8 matmuls")
    return with_stats(v, trained.module, trained.spec.in_shape)


def int8_static(b, float_module: nn.Module | None = None, how_prefix: str = "") -> Variant:
    """Whole graph int8, activation ranges calibrated on training images."""
    trained, dataset, settings = b.trained, b.dataset, b.settings
    float_module = float_module if float_module is not None else trained.module
    images = dataset.prepare(dataset.train_images[:settings.calibration_images])
    try:
        module, engine = quantize.static_int8(float_module, images)
    except Exception as exc:  # an engine missing or an op it cannot quantize: say so, keep going
        return unavailable(b.name, "static int8", f"static int8 failed here: {exc}".splitlines()[0])
    feats = hardware.describe("cpu").features
    accel = [f for f in ("amx_int8", "avx512_vnni", "avx_vnni", "asimddp") if f in feats]
    v = Variant(b.name, module,
                f"{how_prefix}static int8 weights and activations, ranges calibrated on "
                f"{len(images)} training images ({quantize.static_path(engine)})",
                note=(f"int8 kernels use {', '.join(accel)}" if accel else "no int8 dot-product "
                      "instructions detected: int8 gains will be small") + "; file = int8 state_dict, "
                     "reloading it needs the same prepare/convert steps",
                saved_as="torch.save(state_dict) of the converted int8 graph",
                details={"engine": engine, "calibration_images": settings.calibration_images})
    return with_stats(v, float_module, trained.spec.in_shape)


def half(b, dtype: torch.dtype) -> Variant:
    """bf16 / fp16 weights and activations, offered only where the CPU has native support."""
    trained, name = b.trained, b.name
    hw = hardware.describe("cpu")
    if name == "bf16":
        native = [f for f in ("amx_bf16", "avx512_bf16", "bf16") if hw.has(f)]
        supported = native and torch.backends.mkldnn.is_available() and _mkldnn_supports("bf16")
        missing = ("this CPU has no AVX512-BF16 / AMX-BF16 (ARM: BF16) instructions: bf16 would be "
                   "converted in software and run slower than fp32")
    else:
        native = [f for f in ("amx_fp16",) if hw.has(f)]
        supported = native and torch.backends.mkldnn.is_available() and _mkldnn_supports("fp16")
        missing = ("this CPU has no AMX-FP16: fp16 convolutions and matmuls would run through "
                   "conversions, slower than fp32 (fp16 pays off on GPUs and AMX-FP16 CPUs)")
    if not supported:
        return unavailable(name, name, missing)
    module = copy.deepcopy(trained.module).eval().to(dtype)
    v = Variant(name, module, f"weights and activations in {name} (16-bit floats), eager PyTorch",
                note=f"native {name} instructions: {', '.join(_LABELS.get(f, f) for f in native)}",
                dtype=dtype, details={"native": native})
    return with_stats(v, trained.module, trained.spec.in_shape)


def _mkldnn_supports(kind: str) -> bool:
    check = getattr(torch.ops.mkldnn, f"_is_mkldnn_{kind}_supported", None)
    try:
        return bool(check()) if check is not None else True
    except RuntimeError:
        return False
