"""Compress the session's model and measure every variant: the glue between the pages and the engine.

Both the Compress page and the Home page's demo go through lab.pipeline.run, the same function
as the CLI's `run` command, with per-image energy on; each result's PerImageEnergy is kept in
the session, so the user's assumptions (country, watts, PUE) can be changed afterwards without
re-running.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from dashboard.lab import pipeline, sensitivity as lab_sensitivity
from dashboard.lab.bench import BenchSettings
from dashboard.lab.compress import CompressSettings
from dashboard.lab.slot import COMPUTE, Waiting
from dashboard.ui import runs
from dashboard.ui.session import Session

ProgressFn = Callable[[float, str], None]
# Shorter than the benchmark script's defaults so a student waits seconds, not minutes; the
# interleaved rounds and warm-up keep it fair. Energy: 3 windows of 0.7 s per variant.
APP_BENCH = BenchSettings(rounds=3, batch1_min_calls=100, batch1_min_seconds=0.5, batch_min_seconds=0.6,
                          energy=True, energy_min_seconds=0.7, energy_repeats=3)


def compress_and_measure(s: Session, names: list[str], settings: CompressSettings, *,
                         on_progress: ProgressFn, on_wait: Callable[[Waiting], None] | None = None,
                         kind: str = "compress & measure", span: tuple[float, float] = (0.0, 1.0)) -> None:
    """Make the variants, measure them (energy per image too) on the same test set, keep the results in
    the session, log the run."""
    lo, hi = span
    # One hold around every step: the engine's own holds nest inside it (the slot is re-entrant),
    # and a second user waits once, seeing their place in line.
    with COMPUTE.hold(kind, on_wait=on_wait):
        record = pipeline.run(s.trained.config, names, dataset=s.trained_on, trained=s.trained,
                              compress_settings=settings, bench_settings=APP_BENCH, training_energy=False,
                              energy_settings=s.settings, on_progress=lambda f, m: on_progress(lo + (hi - lo) * f, m))
    record.training_energy = s.training_energy.summary() if s.training_energy else None
    pipeline.add_breakeven(record)
    s.results = record.results
    readings = ([s.training_energy] if kind == "demo" else []) + [
        reading for r in record.results if r.per_image is not None for reading in r.per_image.readings]
    runs.add(s, kind, record, readings)
    on_progress(hi, f"measured {len(record.results)} versions")


def sensitivity(s: Session, *, on_progress: ProgressFn, on_wait: Callable[[Waiting], None] | None = None) -> None:
    with COMPUTE.hold("sensitivity scan", on_wait=on_wait):
        # A copy: the scan zeroes weights one layer at a time (and restores them), the user's model stays untouched.
        s.sensitivity = lab_sensitivity.scan(copy.deepcopy(s.trained.module), s.trained_on, on_progress=on_progress)
