"""How close each measured model version came to this machine's peak: arithmetic on measurements.

    achieved(results, peaks) -> [Achieved]      # one per version and regime (batch 1, batch 256)

A version's achieved rate is the work it does per image times the images it served per second:
FLOPs per image (lab.training.models: 1 multiply-add = 2 FLOPs, counted on the float graph, so a pruned
model's zeros count as the dense kernels still multiply them) x images/s at the benchmark's batch
(throughput), or / the median batch-1 latency. Its share is that rate over the peak of its number
format measured by lab.measure.peak (fp32 versions against the fp32 matmul peak, int8-* against the int8
peak, bf16 against the bf16 one). Both figures are measured here; the share is only as like-for-like
as their thread counts, which each Achieved carries.

Why a small call reaches little of the peak: the peak needs thousands of multiply-adds per number
loaded, and enough independent work for every core; one image through a small layer has neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dashboard.lab.measure.bench import BenchResult
from dashboard.lab.measure.peak import Peaks


@dataclass
class Achieved:
    name: str                  # the version, e.g. "int8-static"
    format: str                # the number format it computes in: fp32, bf16, fp16, int8
    batch: int                 # images per call: 1 (latency) or the benchmark's batch (throughput)
    flops_per_call: float
    gops: float                # achieved billions of operations per second
    peak_gops: float | None    # the peak of its format here, None when none was measured
    peak_op: str
    threads: int               # the benchmark's threads
    peak_threads: int
    disturbed: str = ""        # why the rate or its peak is not a checked figure (lab.measure.quiet); "" when both are

    @property
    def checked_share(self) -> float | None:
        """The share, only when both of its figures were measured in quiet windows (None otherwise): what
        a page may state as "% of peak"."""
        return None if self.disturbed else self.share

    @property
    def share(self) -> float | None:
        """Achieved over peak (0..1; a little above 1 is timing noise), None without a peak."""
        return self.gops / self.peak_gops if self.peak_gops else None

    @property
    def regime(self) -> str:
        return f"batch {self.batch}"


def number_format(name: str) -> str:
    """The number format a version's arithmetic runs in, from its name (lab.compression.compress's names)."""
    if "int8" in name:
        return "int8"
    if name in ("bf16", "fp16"):
        return name
    return "fp32"


def achieved(results: Sequence[BenchResult], peaks: Peaks) -> list[Achieved]:
    """Each measured version's rate at batch 1 and at its benchmark batch, against its format's peak."""
    out = []
    for r in results:
        if not r.available or not r.flops:
            continue
        fmt = number_format(r.name)
        best = peaks.best(fmt)
        regimes = []
        if r.latency_ms_batch1_p50:
            regimes.append((1, r.flops / (r.latency_ms_batch1_p50 / 1e3), r.disturbed.get("batch1", "")))
        if r.throughput_batch256_ips:
            regimes.append((r.batch_size, r.flops * r.throughput_batch256_ips, r.disturbed.get("batch", "")))
        for batch, flops_per_s, disturbed in regimes:
            why = (f"its speed is disturbed ({disturbed})" if disturbed else
                   f"the {fmt} peak is disturbed ({best.disturbed})" if best is not None and best.disturbed else "")
            out.append(Achieved(r.name, fmt, batch, float(r.flops) * batch, flops_per_s / 1e9,
                                best.gops if best else None, best.op if best else "", r.threads, peaks.threads, why))
    return out


def training_rate(trained, peaks: Peaks) -> Achieved | None:
    """The student's training as a rate: training FLOPs per image x images/s during the training steps,
    against the peak of the precision it trained in (fp32, or bf16 with autocast)."""
    if trained is None or trained.train_seconds <= 0 or not trained.cost.train_flops_per_image:
        return None
    fmt = trained.precision if trained.precision in ("bf16", "fp16") else "fp32"
    best = peaks.best(fmt)
    batch = trained.config.batch_size
    return Achieved("training", fmt, batch, float(trained.cost.train_flops_per_image) * batch,
                    trained.cost.train_flops_per_image * trained.images_per_second / 1e9,
                    best.gops if best else None, best.op if best else "", trained.config.threads or 0, peaks.threads,
                    f"the {fmt} peak is disturbed ({best.disturbed})" if best is not None and best.disturbed else "")


__all__ = ["Achieved", "achieved", "number_format", "training_rate"]
