"""Inference energy per image: warm up, meter repeated windows, report the median and its spread.

A single short window is noisy (CodeCarbon samples, the scheduler, caches), so the protocol is:
CodeCarbon's one-off detection paid first (warm_up), `warmup` unmetered batches, then `repeats`
metered windows of at least `min_seconds` each; the figure is the median per-image energy and
the spread is max / min over the windows.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from dashboard.lab.energy.assumptions import EnergySettings
from dashboard.lab.energy.grid import J_PER_KWH, co2_grams
from dashboard.lab.energy.reading import EnergyReading
from dashboard.lab.energy.tracker import meter, warm_up


@dataclass
class PerImageEnergy:
    """Inference energy per image: the median over repeated, warmed-up windows, and its spread."""

    phase: str
    joules_per_image: float        # median over the windows
    co2_grams_per_image: float
    cost_per_image: float
    currency: str
    spread: float                  # max / min of the per-window figures (1.0 = perfectly steady)
    readings: list[EnergyReading]
    images: list[int]              # images processed in each window
    method: str
    measured: bool

    @property
    def settings(self) -> EnergySettings:
        """The assumptions the figures are priced under (every window shares them)."""
        return self.readings[0].settings

    @property
    def per_window(self) -> list[float]:
        return [r.joules / n for r, n in zip(self.readings, self.images)]

    @property
    def images_per_second(self) -> float:
        s = sum(r.duration_s for r in self.readings)
        return sum(self.images) / s if s > 0 else 0.0

    def with_settings(self, settings: EnergySettings) -> PerImageEnergy:
        return _per_image_result(self.phase, [r.with_settings(settings) for r in self.readings], self.images)

    def to_dict(self) -> dict:
        """The JSON of a variant's `energy`: the figures, and the readings that re-price them."""
        return {"joules_per_image": self.joules_per_image, "co2_grams_per_image": self.co2_grams_per_image,
                "cost_per_image": self.cost_per_image, "currency": self.currency, "spread": round(self.spread, 4),
                "windows": len(self.readings), "measured": self.measured, "method": self.method,
                "phase": self.phase, "images": list(self.images), "per_window": self.per_window,
                "images_per_second": self.images_per_second, "readings": [r.to_dict() for r in self.readings]}

    @classmethod
    def from_dict(cls, d: dict) -> PerImageEnergy:
        """Back from to_dict() (the readings carry everything; the figures are recomputed)."""
        return per_image_from(d["phase"], [EnergyReading.from_dict(r) for r in d["readings"]], d["images"])


def per_image_from(phase: str, readings: list[EnergyReading], images: list[int]) -> PerImageEnergy:
    """Energy per image from metered windows that processed `images` images each (median, spread)."""
    if not readings or len(readings) != len(images) or min(images) <= 0:
        raise ValueError("need one positive image count per metered window")
    return _per_image_result(phase, readings, images)


def _per_image_result(phase: str, readings: list[EnergyReading], images: list[int]) -> PerImageEnergy:
    per = [r.joules / n for r, n in zip(readings, images)]
    median = statistics.median(per)
    spread = max(per) / min(per) if min(per) > 0 else math.inf
    first = readings[0]
    methods = sorted({r.method for r in readings})
    return PerImageEnergy(
        phase=phase, joules_per_image=median,
        co2_grams_per_image=co2_grams(median, first.country_iso),
        cost_per_image=median / J_PER_KWH * first.settings.price_per_kwh,
        currency=first.currency, spread=spread, readings=readings, images=list(images),
        method=methods[0] if len(methods) == 1 else "mixed: " + " | ".join(methods),
        measured=all(r.measured for r in readings))


def per_image(run_batch: Callable[[], int], *, phase: str, min_seconds: float = 2.0, repeats: int = 5,
              warmup: int = 3, settings: EnergySettings | None = None) -> PerImageEnergy:
    """Energy per image of `run_batch` (one batch of inference, returns how many images it did).

    `warmup` batches, then `repeats` metered windows of at least `min_seconds` each. Takes no
    compute slot: hold service.slot.COMPUTE around the job that calls it.
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    if not (min_seconds >= 0):
        raise ValueError("min_seconds must be zero or positive")
    settings = settings or EnergySettings()
    settings.validate()
    warm_up()
    for _ in range(max(warmup, 0)):
        run_batch()
    readings, images = [], []
    for _ in range(repeats):
        n = 0
        with meter(phase, settings=settings) as r:
            t0 = time.perf_counter()
            while True:
                done = int(run_batch())
                if done <= 0:
                    raise ValueError("run_batch() must return how many images it processed (> 0)")
                n += done
                if time.perf_counter() - t0 >= min_seconds:
                    break
        readings.append(r)
        images.append(n)
    return _per_image_result(phase, readings, images)
