"""The lessons' "what you should see", held against the student's own measurements.

    check("zeros-not-faster", session_results)           # -> CheckOutcome("matches", "Your pruned-...")
    check("training-costs-more", results, trained)

Each check reads measured results (lab.bench.BenchResult, lab.train.TrainedModel) and says, in
one short paragraph with the student's numbers and their units, whether they show what the lesson
says (`matches`), show something else and what that may mean (`differs`), or cannot say yet
because the result it needs was not measured (`no result`, with what to run). A check never
computes a metric: it compares figures the benchmark already measured. Its thresholds are wide on
purpose: a shared or busy machine moves timings by tens of percent, and a lesson's point (zeros
are not faster, int8 is about 4x smaller) is far larger than that.

Only types are imported from bench and train, so loading the lessons does not load torch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import fmt

if TYPE_CHECKING:
    from .bench import BenchResult
    from .train import TrainedModel

MATCHES, DIFFERS, NO_RESULT = "matches", "differs", "no result"

# A speed-up in this band is "about the same speed" as fp32: wider than timing noise on a shared
# machine, far narrower than the 10x a naive reading of "90 % zeros" expects.
SAME_SPEED = (0.8, 1.25)
FASTER = 1.1            # removed channels count as faster from 10 % up, at batch 1 or at the big batch
# 1 byte per weight instead of 4 makes the file ~4x smaller; per-layer scales, fp32 biases and the
# file's structure do not shrink, so a small model lands nearer 3x (measured: 3.9x for the default
# cnn, 3.8x for the mlp, 3.0x for the tiny-cnn).
INT8_SMALLER = (2.8, 4.5)
# Training's forward + backward against the forward alone: ~3x, a little less because the first
# layer computes no gradient for the input image (measured: 2.95 cnn, 2.82 tiny-cnn, 2.15 mlp).
TRAIN_RATIO = (2.5, 3.5)


@dataclass(frozen=True)
class CheckOutcome:
    status: str   # "matches" | "differs" | "no result"
    text: str     # one paragraph of markdown, the student's numbers with their units


Check = Callable[["Sequence[BenchResult]", "TrainedModel | None"], CheckOutcome]


def check(name: str, results: Sequence[BenchResult] | None, trained: TrainedModel | None = None) -> CheckOutcome:
    """Hold a lesson's claim against the student's results; ValueError for a name that is no check."""
    if name not in CHECKS:
        raise ValueError(f"unknown check {name!r}; the checks are {', '.join(CHECKS)}")
    return CHECKS[name](list(results or []), trained)


# ------------------------------------------------------------------ small pieces

def _ms(value: float) -> str:
    """A p50 latency in ms as measured ('0.209 ms'; fmt.ms would say '209 µs')."""
    return f"{value:.3g} ms"


def _available(results: Sequence[BenchResult]) -> dict[str, BenchResult]:
    return {r.name: r for r in results if r.available}


def _highest(ok: dict[str, BenchResult], pattern: str) -> tuple[BenchResult, int] | None:
    """The variant whose name fits `pattern` (one group: its percent) with the highest percent."""
    found = [(r, int(m.group(1))) for name, r in ok.items() if (m := re.fullmatch(pattern, name))]
    return max(found, key=lambda x: x[1]) if found else None


def _speeds(r: BenchResult) -> list[tuple[str, str, float]]:
    """(regime, spread key, speed-up against fp32) for each regime measured."""
    out = []
    if r.speedup_batch1 is not None:
        out.append(("one image at a time", "speedup_batch1", r.speedup_batch1))
    if r.speedup_batch256 is not None:
        out.append((f"at batch {r.batch_size}", "speedup_batch256", r.speedup_batch256))
    return out


def _speed_text(speeds: list[tuple[str, str, float]]) -> str:
    """'1.02× fp32's speed one image at a time and 0.98× at batch 256'."""
    parts = [f"{fmt.times(s)} {regime}" for regime, _, s in speeds]
    first, *rest = parts
    head, _, tail = first.partition(" ")
    return " and ".join([f"{head} fp32's speed {tail}", *rest])


def _spread_text(r: BenchResult, key: str) -> str:
    s = r.spread.get(key) if r.spread else None
    return f" (from {fmt.times(s['min'])} to {fmt.times(s['max'])} over the rounds)" if s else ""


# ------------------------------------------------------------------ the checks

def zeros_not_faster(results: Sequence[BenchResult], trained: TrainedModel | None = None) -> CheckOutcome:
    """Lesson 4: zeroed weights run at about fp32's speed; removed channels run faster."""
    ok = _available(results)
    found = _highest(ok, r"pruned-unstructured-(\d+)")
    if found is None or not _speeds(found[0]):
        return CheckOutcome(NO_RESULT, "No zeroed-weights version measured yet. On **Compress & benchmark**, measure "
                                       "**pruned-unstructured-90** (and **pruned-channels-50** beside it), then "
                                       "come back.")
    zeros, percent = found
    zs = _speeds(zeros)
    sparsity = f"{zeros.sparsity * 100:.0f} %" if zeros.sparsity is not None else f"{percent} %"
    latency = (f" (p50 latency {_ms(zeros.latency_ms_batch1_p50)} per image)"
               if zeros.latency_ms_batch1_p50 is not None else "")
    head = f"Your **{zeros.name}** ({sparsity} of its weights are zero) ran at {_speed_text(zs)}{latency}."
    lo, hi = SAME_SPEED
    outside = [(regime, key, s) for regime, key, s in zs if not lo <= s <= hi]
    if outside:
        regime, key, s = outside[0]
        direction = "faster" if s > hi else "slower"
        return CheckOutcome(DIFFERS, head + f" That is clearly {direction} {regime}{_spread_text(zeros, key)}, which "
                            "the lesson does not expect: dense kernels multiply every zero, so the work is the same. "
                            "The usual cause is the machine, not the model: another program (or another student on a "
                            "shared server) was busy during some rounds. A wide spread over the rounds says so; "
                            "measure again on a quieter machine.")
    channels = _highest(ok, r"pruned-channels-(\d+)")
    if channels is None or not _speeds(channels[0]):
        return CheckOutcome(MATCHES, head + " About the same speed, as the lesson says: the zeros are still "
                            "multiplied. Measure **pruned-channels-50** too to see what removing work does.")
    ch = channels[0]
    cs = _speeds(ch)
    flops = (f" ({fmt.flops(ch.flops)} per image against {fmt.flops(zeros.flops)})" if ch.flops and zeros.flops else "")
    if max(s for _, _, s in cs) >= FASTER:
        return CheckOutcome(MATCHES, head + f" About the same speed, as the lesson says. Your **{ch.name}** has "
                            f"fewer, smaller layers{flops} and ran at {_speed_text(cs)}: removed work is saved "
                            "time, zeros are not.")
    return CheckOutcome(DIFFERS, head + f" About the same speed, as expected. But your **{ch.name}**{flops} ran at "
                        f"{_speed_text(cs)}: not faster, though it does less arithmetic. In a very small model a "
                        "call's fixed costs (Python, starting each layer, moving data) can outweigh the arithmetic, "
                        "so removing work barely shows, most of all one image at a time; a busy machine can also "
                        "hide it. Try a larger model or measure again.")


def int8_smaller(results: Sequence[BenchResult], trained: TrainedModel | None = None) -> CheckOutcome:
    """Lessons 2 and 3: the int8-static file is about 4x smaller than fp32's."""
    ok = _available(results)
    fp32, int8 = ok.get("fp32"), ok.get("int8-static")
    if fp32 is None or int8 is None or not fp32.size_bytes or not int8.size_bytes:
        return CheckOutcome(NO_RESULT, "No int8 file measured yet. On **Compress & benchmark**, measure **fp32** and "
                                       "**int8-static** together, then come back.")
    ratio = fp32.size_bytes / int8.size_bytes
    head = (f"Your fp32 model's file is {fmt.size(fp32.size_bytes)}, the int8-static one {fmt.size(int8.size_bytes)}: "
            f"**{fmt.times(ratio)} smaller**.")
    lo, hi = INT8_SMALLER
    if lo <= ratio <= hi:
        why = " About 4×, as the lesson says: each weight takes 1 byte instead of 4."
        if ratio < 4:
            why += (" The per-layer scales, the biases (kept in 32 bits) and the file's structure do not shrink, "
                    + ("which keeps it a little under 4×." if ratio >= 3.5 else
                       "which keeps it under 4×: in a model this small they are a larger share."))
        return CheckOutcome(MATCHES, head + why)
    if ratio < lo:
        return CheckOutcome(DIFFERS, head + " Less than the lesson's 4×. The parts that stay 32-bit (biases, scales, "
                            "layers that were not quantized) and the file's fixed structure weigh more in a very "
                            "small model, and a model whose weights sit mostly in layers left in fp32 shrinks little.")
    return CheckOutcome(DIFFERS, head + " More than 4×, which 1 byte instead of 4 alone cannot give: the two files "
                        "were probably saved differently (one of them compressed, or with extra data): compare their "
                        "'saved as' under All measurements.")


def training_costs_more(results: Sequence[BenchResult], trained: TrainedModel | None = None) -> CheckOutcome:
    """Lesson 1: a training step costs about 3x the FLOPs per image of an inference."""
    if trained is None:
        return CheckOutcome(NO_RESULT, "No trained model yet. Train one on the **Train** page, then come back.")
    fp32 = _available(results).get("fp32")
    forward = fp32.flops if fp32 is not None and fp32.flops else trained.cost.inference_flops_per_image
    train = trained.cost.train_flops_per_image
    if not forward or not train:
        return CheckOutcome(NO_RESULT, "The FLOPs of your model were not counted, so there is nothing to compare.")
    ratio = train / forward
    head = (f"One training image costs your model {fmt.flops(train)} (forward + backward), one inference "
            f"{fmt.flops(forward)} (forward only): **{fmt.times(ratio)}**.")
    lo, hi = TRAIN_RATIO
    if lo <= ratio <= hi:
        return CheckOutcome(MATCHES, head + " Close to 3×, as the lesson says: the backward pass costs about twice the "
                            "forward pass. It comes out a little under 3 because the first layer computes no "
                            "gradient for the input image.")
    if ratio < lo:
        return CheckOutcome(DIFFERS, head + " Under the lesson's 3×. The backward pass computes two things per layer, "
                            "the gradient for the weights and the one passed back to the layer before, except in the "
                            "first layer, which has no layer before it. When the first layer holds most of a model's "
                            "work, as in the mlp (its first layer takes every pixel), the ratio falls towards 2×.")
    return CheckOutcome(DIFFERS, head + " Over 3×, more than a forward and a backward pass explain. Check that the "
                        "fp32 version measured on Compress & benchmark is the model you trained: train and measure "
                        "again, then compare.")


# the name a lesson's front matter gives -> the check (its docstring says what it holds the results to)
CHECKS: dict[str, Check] = {
    "zeros-not-faster": zeros_not_faster,
    "int8-smaller": int8_smaller,
    "training-costs-more": training_costs_more,
}
