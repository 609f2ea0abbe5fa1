"""A Variant: a model ready for inference, how it was made, and what a fair benchmark needs to run it.

Also the small steps every technique shares: counting its parameters and FLOPs, and choosing the
faster input memory layout for a conv net (`choose_layout`, applied once by compress.make_variants).
"""

from __future__ import annotations

import copy
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from dashboard.lab.inputs.data import Dataset
from dashboard.lab.training.models import count_nonzero_params, count_params, flops_per_image
from dashboard.lab.serial import to_plain


@dataclass
class Variant:
    """A model ready for inference, how it was made, and what a benchmark needs to run it fairly."""

    name: str
    module: nn.Module | None            # None when not available here
    how_made: str
    available: bool = True
    note: str = ""                      # why unavailable, or what to notice
    layout: str = "contiguous"          # input memory format: "contiguous" or "channels_last"
    dtype: torch.dtype = torch.float32  # input dtype the module expects
    params: int = 0
    nonzero_params: int = 0
    flops: int = 0                      # per image, of the float graph (int8 does the same MACs)
    sparsity: float | None = None       # fraction of zero weights in conv/linear layers
    accuracy_before_finetune: float | None = None
    build_seconds: float = 0.0
    saved_as: str = "torch.save(state_dict)"
    details: dict = field(default_factory=dict)
    serialize: Callable[[], bytes] | None = field(default=None, repr=False)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised fp32 images -> what the module takes (dtype, memory layout)."""
        if self.dtype != torch.float32:
            x = x.to(self.dtype)
        if self.layout == "channels_last" and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Logits as fp32 for normalised fp32 images; the conversions count as inference work."""
        if self.module is None:
            raise RuntimeError(f"variant {self.name} is not available here: {self.note}")
        return self.module(self.prepare(x)).float()

    def saved_bytes(self) -> bytes:
        """The file this variant would be deployed as (what size_bytes measures)."""
        if self.serialize is not None:
            return self.serialize()
        buf = io.BytesIO()
        torch.save(self.module.state_dict(), buf)
        return buf.getvalue()

    def to_dict(self) -> dict:
        d = to_plain(self, exclude=("module", "serialize"))
        d["build_seconds"] = round(self.build_seconds, 3)
        return d


def unavailable(name: str, what: str, reason: str) -> Variant:
    """A variant that cannot be made here, with the one-line reason the page shows."""
    return Variant(name, None, what, available=False, note=reason)


def has_conv(module: nn.Module) -> bool:
    """True for conv nets, float or quantized (torch.ao's QuantizedConv2d/ConvReLU2d are not nn.Conv2d)."""
    return any(isinstance(m, nn.Conv2d) or ("Conv" in type(m).__name__ and type(m).__name__.endswith("2d"))
               for m in module.modules())


def prunable_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """Conv and Linear layers in order: the weights pruning and the sensitivity scan work on."""
    return [(n, m) for n, m in module.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def weight_sparsity(module: nn.Module) -> float:
    """Fraction of exact zeros among conv/linear weights (biases are not pruned)."""
    total = zeros = 0
    for _, layer in prunable_layers(module):
        w = layer.weight
        total += w.numel()
        zeros += int((w == 0).sum())
    return zeros / total if total else 0.0


def with_stats(variant: Variant, float_module: nn.Module, shape: tuple[int, int, int]) -> Variant:
    """Params and FLOPs from the float graph: quantized modules hide weights from .parameters()."""
    variant.params = count_params(float_module)
    variant.nonzero_params = count_nonzero_params(float_module)
    variant.flops = flops_per_image(float_module, shape)
    if variant.sparsity is None:
        variant.sparsity = round(weight_sparsity(float_module), 5)
    return variant


def choose_layout(variant: Variant, dataset: Dataset, seconds: float = 0.3) -> Variant:
    """Conv nets: time contiguous vs channels_last at batch 256, one call of each in turn, best call of each;
    keep the faster."""
    if variant.module is None or not has_conv(variant.module):
        return variant
    x = dataset.test_tensors(256)[0]
    candidates = {}
    for layout in ("contiguous", "channels_last"):
        v = copy.copy(variant)
        v.layout = layout
        if layout == "channels_last":
            try:
                v.module = copy.deepcopy(variant.module).to(memory_format=torch.channels_last)
            except (RuntimeError, TypeError):
                v.module = variant.module  # quantized graphs: only the input changes layout
        candidates[layout] = v
    fastest = {k: math.inf for k in candidates}
    with torch.inference_mode():
        for v in candidates.values():
            v(x)  # warm-up: oneDNN picks kernels on the first call per layout
        # One call of each layout in turn, not a round of one then a round of the other: a slow spell of this
        # machine (a busy room, a processor lent elsewhere) then falls on both alike. In a busy room, rounds of
        # ~70 ms each once picked fp32's contiguous layout, 2x slower at batch 256 than the channels_last a quiet
        # machine picks. The best call of each: a neighbour's load only ever slows a call down, and a layout
        # decision should follow what the kernels can do, not who else was busy.
        calls, start = 0, time.perf_counter()
        while calls < 3 or time.perf_counter() - start < seconds:
            for layout, v in candidates.items():
                t0 = time.perf_counter()
                v(x)
                fastest[layout] = min(fastest[layout], time.perf_counter() - t0)
            calls += 1
    best_of = {k: len(x) / t for k, t in fastest.items()}
    best = max(best_of, key=best_of.get)
    other = "contiguous" if best == "channels_last" else "channels_last"
    chosen = candidates[best]
    chosen.details = {**variant.details, "layout_ips_batch256": {k: round(s) for k, s in best_of.items()},
                      "layout_threads": torch.get_num_threads()}
    layout_note = f"{best} layout ({best_of[best] / best_of[other]:.2f}x {other} at batch 256 here)"
    chosen.note = f"{chosen.note}; {layout_note}" if chosen.note else layout_note
    return chosen
