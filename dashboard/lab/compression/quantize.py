"""int8 quantization behind one small API: the only module that touches torch's quantization stacks.

    module, engine = static_int8(float_module, calibration_images)   # whole graph int8
    module = dynamic_int8(float_module)                               # Linear layers int8
    static_path(engine), DYNAMIC_PATH                                 # what the UI says was used

Path: torch.ao.quantization (FX graph mode for static, quantize_dynamic for dynamic), both
deprecated in torch 2.14, kept after measuring torchao's replacements against them
(benchmarks/quantization.py -> benchmarks/results/quantization.json; default cnn, bundled digits,
2 threads, 2-vCPU x86 VM with AMX-int8, torch 2.14.1, torchao 0.18.0):

- static: FX int8 ran 14.7x fp32 eager (4.3x fp32 channels_last) at batch 256, no compiler
  needed. torchao's PT2E (X86InductorQuantizer) reached 14.1x (0.97x FX per round, 0.87-1.10)
  only under torch.compile, which needs a C++ compiler on the server at run time (checked:
  InvalidCxxCompiler without one), compiles per batch shape (11.5 s cold for three shapes), and
  with dynamic shapes failed at the third batch size. Without a compiler the PT2E graph ran at
  0.52x fp32 (lowered to oneDNN int8 ops by hand: 1.48x), and 5x FX's batch-1 latency.
- dynamic: torchao's quantize_(Int8DynamicActivationInt8WeightConfig()) ran eagerly at 0.96x
  fp32 throughput (torch.ao: 1.01x) and 2.5x torch.ao's batch-1 latency; only compiled was it faster.

Move when torch removes torch.ao, or a compiler-free torchao path is at least as fast as FX.

Warnings: torch.ao warns that it is deprecated on every call. Those specific messages are
filtered (by category and message text, see _TORCH_AO_DEPRECATIONS) around these calls only;
every other warning, including ones the user's model raises during calibration, reaches the caller.
"""

from __future__ import annotations

import copy
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

# The deprecation notices torch 2.14.1's torch.ao.quantization emits for the calls below, found by
# running static_int8 and dynamic_int8 with `python -W always` and recording every warning:
#
# 1. DeprecationWarning "torch.ao.quantization is deprecated and will be removed in 2.10. For
#    migrations of users: ..." from prepare_fx, convert_fx and quantize_dynamic (twice: once for
#    the caller, once from inside torch/ao/quantization/quantize.py), on every call.
# 2. UserWarning "Please use quant_min and quant_max to specify the range for observers.
#    reduce_range will be deprecated in a future release of PyTorch." from every observer that
#    torch's own default x86 qconfig (get_default_qconfig_mapping("x86"): HistogramObserver with
#    reduce_range=True) creates: ~120 per prepare_fx of the cnn.
# 3. UserWarning "torch.quantize_per_tensor, torch.quantize_per_channel and other quantized tensor
#    creation functions ... are deprecated ..." (a C++ TORCH_WARN_ONCE: the first quantized tensor
#    of the process, made by convert_fx when it packs the weights).
#
# Why the user cannot act on them: they name APIs the lab calls, not anything a user chose; the
# migration they ask for is this module's job (see the module docstring for why it has not moved).
# When to remove: when this module stops calling torch.ao.quantization (torch removes it, or the
# lab moves to torchao), or when a torch upgrade changes the messages: then these filters match
# nothing, tests/unit/test_quantize.py's "no DeprecationWarning escapes" test fails, and the new
# text must be looked at before it is filtered.
_TORCH_AO_DEPRECATIONS: tuple[tuple[type[Warning], str], ...] = (
    (DeprecationWarning, r"torch\.ao\.quantization is deprecated and will be removed"),
    (UserWarning, re.escape("Please use quant_min and quant_max to specify the range for observers.")),
    (UserWarning, re.escape("torch.quantize_per_tensor, torch.quantize_per_channel and other quantized "
                            "tensor creation functions")),
)

DYNAMIC_PATH = "torch.ao.quantization.quantize_dynamic"
STATIC_PATH_REASON = (
    "FX graph mode (torch.ao.quantization, deprecated in torch 2.14) is kept: measured on the lab's cnn, "
    "torchao's PT2E int8 matches it only under torch.compile (0.97x FX), which needs a C++ compiler on the "
    "server at run time; without one PT2E ran slower than fp32 (benchmarks/quantization.py)")


def engine(supported: list[str] | None = None) -> str | None:
    """The int8 backend: x86 (fbgemm + oneDNN) on x86-64, qnnpack on ARM, fbgemm on old builds; None if none."""
    engines = torch.backends.quantized.supported_engines if supported is None else supported
    for name in ("x86", "qnnpack", "fbgemm", "onednn"):
        if name in engines:
            return name
    return None


_auto_engine = engine  # static_int8's `engine` argument shadows the function


def static_path(engine_name: str) -> str:
    """How static_int8 made the model, for the UI: e.g. 'FX graph mode, x86 engine'."""
    return f"FX graph mode, {engine_name} engine"


@contextmanager
def torch_ao_deprecations_filtered() -> Iterator[None]:
    """Hide exactly torch.ao's own deprecation notices (_TORCH_AO_DEPRECATIONS) inside the block.

    warnings.catch_warnings swaps the process-wide filter list: two threads inside at once can
    leave one of these filters installed after both leave. They match only torch.ao's own
    messages, so a leaked one hides nothing else."""
    with warnings.catch_warnings():
        for category, message in _TORCH_AO_DEPRECATIONS:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


def static_int8(float_module: nn.Module, calibration_images: torch.Tensor,
                engine: str | None = None) -> tuple[nn.Module, str]:
    """Post-training static int8: observe activation ranges on `calibration_images` (normalised,
    N x C x H x W, fed in batches of 256), then convert. Returns (int8 module, engine used).

    Sets torch.backends.quantized.engine (process-wide, like torch's thread count): the packed
    weights are made for that engine and must run on it. The float module is not modified.
    Raises RuntimeError when this torch build has no quantized CPU engine.
    """
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    chosen = engine or _auto_engine()
    if chosen is None:
        raise RuntimeError("this torch build has no quantized CPU engine")
    if len(calibration_images) == 0:
        raise ValueError("static int8 needs at least one calibration image")
    torch.backends.quantized.engine = chosen
    module = copy.deepcopy(float_module).eval().to(memory_format=torch.contiguous_format)
    with torch_ao_deprecations_filtered():
        prepared = prepare_fx(module, get_default_qconfig_mapping(chosen), (calibration_images[:1],))
        with torch.inference_mode():
            for start in range(0, len(calibration_images), 256):
                prepared(calibration_images[start:start + 256])
        return convert_fx(prepared).eval(), chosen


def dynamic_int8(module: nn.Module) -> nn.Module:
    """Linear layers with int8 weights, activations quantized per batch at run time; the rest stays
    fp32 (convolutions included). Returns a new module; `module` is not modified."""
    with torch_ao_deprecations_filtered():
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(module).eval(), {nn.Linear},
                                                      dtype=torch.qint8)
