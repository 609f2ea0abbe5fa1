"""Compress the session's model and measure every variant: the glue between the pages and the engine.

Both the Compress page and the Home page's demo go through lab.pipeline.run, the same function
as the CLI's `run` command; on top, each variant's energy per image is metered with
lab.bench.per_image_energy and the PerImageEnergy kept, so the user's assumptions (country,
watts, PUE) can be changed afterwards without re-running.
"""

from __future__ import annotations

import copy
from collections.abc import Callable


from dashboard.lab import bench, pipeline, sensitivity as lab_sensitivity
from dashboard.lab.bench import BenchSettings
from dashboard.lab.compress import CompressSettings
from dashboard.lab.slot import COMPUTE, Waiting
from dashboard.ui import runs
from dashboard.ui.session import Session

ProgressFn = Callable[[float, str], None]
# Shorter than the benchmark script's defaults so a student waits seconds, not minutes; the
# interleaved rounds and warm-up keep it fair. Energy: 3 windows of 0.7 s per variant.
APP_BENCH = BenchSettings(rounds=3, batch1_min_calls=100, batch1_min_seconds=0.5, batch_min_seconds=0.6)
ENERGY_WINDOW_S, ENERGY_REPEATS = 0.7, 3


def compress_and_measure(s: Session, names: list[str], settings: CompressSettings, *,
                         on_progress: ProgressFn, on_wait: Callable[[Waiting], None] | None = None,
                         kind: str = "compress & measure", span: tuple[float, float] = (0.0, 1.0)) -> None:
    """Make the variants, measure them on the same test set, keep them in the session, log the run."""
    lo, hi = span
    prog = lambda f, m: on_progress(lo + (hi - lo) * f, m)  # noqa: E731
    trained, data = s.trained, s.trained_on
    # One hold around every step: the engine's own holds nest inside it (the slot is re-entrant),
    # and a second user waits once, seeing their place in line.
    with COMPUTE.hold(kind, on_wait=on_wait):
        record = pipeline.run(trained.config, names, dataset=data, trained=trained, compress_settings=settings,
                              bench_settings=APP_BENCH, training_energy=False,
                              on_progress=lambda f, m: prog(0.8 * f, m))
        batch = data.test_tensors(APP_BENCH.batch_size)[0]
        live = [v for v in record.variants if v.available and v.module is not None]
        per_image = {}
        for i, v in enumerate(live):
            prog(0.8 + 0.2 * i / max(len(live), 1), f"energy per image of {v.name}")
            per_image[v.name] = bench.per_image_energy(v, batch, min_seconds=ENERGY_WINDOW_S,
                                                       repeats=ENERGY_REPEATS, warmup=2, settings=s.settings)
    record.training_energy = s.training_energy.summary() if s.training_energy else None
    for r in record.results:
        if r.name in per_image:
            r.energy = bench.energy_block(per_image[r.name], len(batch))
    pipeline.add_breakeven(record)
    s.new_model_results(record.variants, record.results, per_image, settings)
    readings = ([s.training_energy] if kind == "demo" else []) + [r for e in per_image.values() for r in e.readings]
    runs.add(s, kind, record, readings)
    prog(1.0, f"measured {len(record.results)} versions")


def sensitivity(s: Session, *, on_progress: ProgressFn, on_wait: Callable[[Waiting], None] | None = None) -> None:
    with COMPUTE.hold("sensitivity scan", on_wait=on_wait):
        # A copy: the scan zeroes weights one layer at a time (and restores them), the user's model stays untouched.
        s.sensitivity = lab_sensitivity.scan(copy.deepcopy(s.trained.module), s.trained_on, on_progress=on_progress)
