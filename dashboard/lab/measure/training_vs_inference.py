"""What one image costs in training against inference, each in a stated regime, and break-evens.

Three regimes, each with all of its figures measured in that regime (no mixing):

- training: the student's run, at its batch size. Time and energy have one scope, the training
  steps (lab.training.metered_training.SCOPE); FLOPs are forward + backward per image
  (torch.utils.flop_counter; the optimizer's elementwise update is not counted).
- real-time inference: one image per call (batch 1), as an app answering one user waits.
- serving inference: a full batch per call (batch 256), as a server that gathers requests.

Time per image is the figure every page shows for that version (lab.measure.figures): real-time, the
median batch-1 call (p50, its p95 beside it in `seconds_p95`); serving, one over the images per second at the
benchmark's batch. Energy per image is metered over those same timed calls. A regime whose timing
stayed disturbed (BenchResult.disturbed) keeps its figures, labelled, but gives no ratio or
break-even: `ratio` and `breakeven` are None for it.

Inference FLOPs per image are the same in both regimes: batching changes how much time and
energy each FLOP costs (per-call overhead, idle cores), not how many FLOPs an image needs.
Break-even: the inferences after which serving has used as much energy as the training did,
once per inference regime.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dashboard.lab.energy import EnergyReading, PerImageEnergy, kind
from dashboard.lab.energy.footprint import breakeven_inferences
from dashboard.lab.measure.bench import BenchResult
from dashboard.lab.serial import Record

TRAINING, REALTIME, SERVING = "training", "real-time", "serving"


@dataclass(frozen=True)
class Regime(Record):
    """Per-image cost of one way of running the model; None where it was not measured."""

    key: str
    title: str
    batch: int
    seconds: float | None
    flops: float | None
    joules: float | None
    co2_grams: float | None
    energy_kind: str            # "measured" or "estimated" (or "not metered")
    breakeven: float | None     # inferences until they have used the training's energy (inference only)
    disturbed: str = ""         # why its timed windows stayed disturbed ("": checked quiet)
    seconds_p95: float | None = None    # real-time only: the slow calls a user also feels (`seconds` is the p50)


@dataclass(frozen=True)
class TrainingVsInference(Record):
    """The three regimes of one model side by side, and what its training processed and used."""

    training: Regime
    realtime: Regime
    serving: Regime
    training_joules: float | None   # energy of the training steps (its scope: lab.training.metered_training.SCOPE)
    training_images: int            # images those steps processed

    @property
    def regimes(self) -> tuple[Regime, Regime, Regime]:
        return self.training, self.realtime, self.serving

    def ratio(self, metric: str, against: str) -> float | None:
        """Training's figure over an inference regime's (REALTIME or SERVING); None where one is missing,
        or measured in disturbed windows (FLOPs are counted, so they always compare)."""
        other = self.realtime if against == REALTIME else self.serving
        if other.disturbed and metric != "flops":
            return None
        a, b = getattr(self.training, metric), getattr(other, metric)
        return a / b if a and b else None


def _breakeven(training_joules: float | None, per_image: float | None) -> float | None:
    if training_joules is None or not per_image:
        return None
    return breakeven_inferences(training_joules, per_image)


def _inference(key: str, title: str, batch: int, seconds: float | None, flops: float | None,
               e: PerImageEnergy | None, training_joules: float | None, disturbed: str,
               seconds_p95: float | None = None) -> Regime:
    j = e.joules_per_image if e is not None else None
    return Regime(key, title, batch, seconds, flops, j, e.co2_grams_per_image if e is not None else None,
                  kind(e) if e is not None else "not metered",
                  None if disturbed else _breakeven(training_joules, j), disturbed, seconds_p95)


def compare(trained, training_energy: EnergyReading | None, result: BenchResult,
            realtime_energy: PerImageEnergy | None, serving_energy: PerImageEnergy | None) -> TrainingVsInference:
    """The three regimes from a TrainedModel, the energy of its training steps, and one measured
    variant (`result`) with its per-image energy at batch 1 and at its batch size, under the
    user's current assumptions (pass them re-priced: Session.per_image_energy and friends)."""
    n = max(int(trained.samples_seen), 1)
    tj = training_energy.joules if training_energy is not None else None
    training = Regime(
        TRAINING, "training step", int(trained.config.batch_size),
        trained.train_seconds / n if trained.train_seconds > 0 else None,
        float(trained.cost.train_flops_per_image),
        tj / n if tj is not None else None,
        training_energy.co2_grams / n if training_energy is not None else None,
        kind(training_energy) if training_energy is not None else "not metered", None)
    flops = float(result.flops) if result.flops else None
    p50, p95 = result.latency_ms_batch1_p50, result.latency_ms_batch1_p95
    ips = result.throughput_batch256_ips
    realtime = _inference(REALTIME, "real-time inference", 1, p50 / 1000 if p50 else None,
                          flops, realtime_energy, tj, result.disturbed.get("batch1", ""),
                          p95 / 1000 if p95 else None)
    serving = _inference(SERVING, "serving inference", int(result.batch_size),
                         1 / ips if ips and math.isfinite(ips) and ips > 0 else None,
                         flops, serving_energy, tj, result.disturbed.get("batch", ""))
    return TrainingVsInference(training, realtime, serving, tj, n)


def in_your_terms(joules: float, per_inference_joules: float | None,
                  inferences_per_day: float) -> tuple[float | None, float | None]:
    """A published energy as the student's own: how many of their inferences use as much, and how many
    days of their projection (`inferences_per_day`); None where the student's figure is missing or 0."""
    if not per_inference_joules:
        return None, None
    per_day = per_inference_joules * inferences_per_day
    return joules / per_inference_joules, (joules / per_day if per_day else None)
