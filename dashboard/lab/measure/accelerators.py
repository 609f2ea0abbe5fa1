"""Published peak rates of accelerators, each with its source, and the student's training scaled onto them.

    scale_up(train_flops, utilisation=0.4) -> [ScaleUp]   # seconds on each, an estimate

The peaks are data, in accelerators.toml beside this file: one entry a chip, each with its source.
Nothing here is measured: each peak is as the vendor states it (dense, no sparsity), and a time is
training FLOPs / (peak x utilisation). Real training keeps a chip busy only part of the time
(waiting on memory, on the host, on small layers), so the utilisation is an assumption, stated
with every figure. The int8 chips are inference engines: they cannot run this training at all, and
their figure only shows the scale of their arithmetic.

Left out on purpose: a plain Cortex-M microcontroller without an NPU. Vendors publish its speed in
CoreMark or DMIPS, not in operations per second, and a figure derived from clock x SIMD width would
be ours, not published.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

from dashboard.lab.serial import Record

UTILISATION = 0.4   # share of the peak a well-fed training run sustains (an assumption, said so)
LABEL = "estimate from published peaks, not measured here"


@dataclass(frozen=True)
class Accelerator(Record):
    key: str
    name: str
    kind: str                 # "datacenter GPU", "cloud TPU", ...
    ops_per_s: float          # the published peak, dense
    format: str               # the number format that peak is for
    value_text: str           # the figure as the source states it
    source: str               # who publishes it, which document, year
    url: str
    can_train: bool           # False for inference-only chips
    note: str = ""


def _published() -> tuple[Accelerator, ...]:
    """The entries of accelerators.toml, in its order (a data file: one table, one row a chip)."""
    text = resources.files(__package__).joinpath("accelerators.toml").read_text(encoding="utf-8")
    return tuple(Accelerator(**entry) for entry in tomllib.loads(text)["accelerator"])


ACCELERATORS: tuple[Accelerator, ...] = _published()


@dataclass
class ScaleUp:
    accelerator: Accelerator
    seconds: float            # train_flops / (peak x utilisation)
    utilisation: float


def training_flops(trained) -> float:
    """FLOPs the student's training did: training FLOPs per image (forward + backward) x images seen."""
    return float(trained.cost.train_flops_per_image) * trained.samples_seen


def scale_up(train_flops: float, utilisation: float = UTILISATION,
             accelerators: tuple[Accelerator, ...] = ACCELERATORS) -> list[ScaleUp]:
    """How long `train_flops` would take on each accelerator at `utilisation` of its published peak."""
    if not 0 < utilisation <= 1:
        raise ValueError("utilisation must be above 0 and at most 1")
    return [ScaleUp(a, train_flops / (a.ops_per_s * utilisation), utilisation) for a in accelerators]


__all__ = ["ACCELERATORS", "LABEL", "UTILISATION", "Accelerator", "ScaleUp", "scale_up", "training_flops"]
