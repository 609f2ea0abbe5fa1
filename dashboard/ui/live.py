"""Driving the engine's training iterator one chunk at a time, between page redraws.

Each chunk takes the process-wide compute slot and an energy meter, advances the iterator for
about a second, and returns; the page draws, then asks for the next chunk. So a refresh or a
page change never leaves the slot held, and a Stop lands between chunks. No Streamlit here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dashboard.lab import energy
from dashboard.lab.data import Dataset
from dashboard.lab.slot import Waiting
from dashboard.lab.train import EpochEvent, StepEvent, TrainConfig, Training, TrainingDiverged
from dashboard.ui.session import LiveTraining, Session

CHUNK_S = 1.0   # engine work per redraw: long enough to be efficient, short enough to feel live


def start(s: Session, config: TrainConfig, dataset: Dataset, *, log_run: bool = True) -> None:
    """Begin a training (the model is built here; no step is taken yet)."""
    s.live = LiveTraining(Training(config, dataset), dataset, log_run=log_run)


def advance(s: Session, *, budget_s: float = CHUNK_S, on_wait: Callable[[Waiting], None] | None = None) -> None:
    """Train for about `budget_s`, then return. Finishes the run when the iterator ends."""
    with s.lock:
        live = s.live
        if live is None or live.finished:
            return
        steps: list[StepEvent] = []
        epochs: list[EpochEvent] = []
        done = False
        try:
            # The meter holds the process-wide compute slot for the chunk (lab.slot.COMPUTE).
            with energy.meter("training", on_wait=on_wait, settings=s.settings) as reading:
                deadline = time.perf_counter() + budget_s
                while time.perf_counter() < deadline:
                    try:
                        event = next(live.run)
                    except StopIteration:
                        done = True
                        break
                    (epochs if isinstance(event, EpochEvent) else steps).append(event)
        except TrainingDiverged as exc:
            s.live = None
            s.notify("error", f"{exc} Your previous model and results are kept.")
            return
        live.steps.extend(steps)
        live.epochs.extend(epochs)
        live.energy.append(reading)
        if done:
            finish(s)


def stop(s: Session) -> None:
    """Stop between chunks and keep the partly trained model."""
    live = s.live
    if live is None or live.finished:
        return
    live.run.stop()  # a flag: a chunk running in another script thread ends at its next step
    with s.lock:
        if s.live is not live or live.finished:
            return  # that chunk reached the end and finished the run already
        with energy.meter("training", settings=s.settings) as reading:
            for _ in live.run:  # returns at the next step boundary: accounts the time, ends the epoch loop
                pass
        live.energy.append(reading)
        finish(s)


def finish(s: Session) -> None:
    """Make the run's model this session's current model and record the run."""
    with s.lock:
        live = s.live
        if live is None or live.finished:
            return
        live.finished = True  # claimed: a second caller (a Stop racing the last chunk) returns above
        _finish(s, live)


def _finish(s: Session, live: LiveTraining) -> None:
    try:
        trained = live.run.result()
    except TrainingDiverged as exc:
        s.live = None
        s.notify("error", f"{exc} Your previous model and results are kept.")
        return
    s.new_model()
    s.trained, s.trained_on, s.steps = trained, live.dataset, list(live.steps)
    s.training_energy = energy_so_far(live)
    s.live = None
    if live.log_run:
        from dashboard.ui import runs  # late: runs needs the session module loaded first
        runs.add_training(s)
    if trained.completed:
        s.notify("success", f"Training finished: {100 * trained.test_accuracy:.1f} % test accuracy "
                            f"after {len(trained.history)} epoch(s).")
    else:
        s.notify("info", f"Training stopped after {trained.samples_seen:,} images; the partly trained model "
                         f"({100 * trained.test_accuracy:.1f} % test accuracy) is kept and can be compressed.")


def energy_so_far(live: LiveTraining):
    return energy.combine(live.energy, "training") if live.energy else None
