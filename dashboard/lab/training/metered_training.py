"""A training run metered in pieces, with the training steps and the test evaluations apart.

The per-image cost of training (time and energy) has one scope: the training steps (forward,
loss, backward, optimizer update). The test evaluation after each epoch is real work too, but
it is inference on the test set, so it is metered in windows of its own and reported beside
the training, never mixed into it. Time and energy therefore cover exactly the same work:
`TrainedModel.train_seconds` (engine time of the steps) and `steps` (their energy).

    result = metered.run(Training(config, dataset), settings=s.settings, chunk_s=1.0)
    result.steps, result.evaluation   # EnergyReadings (None when nothing of that kind ran)

Each piece lasts about `chunk_s` seconds and ends early where an epoch's evaluation is due,
so the live page sees the energy so far move while a piece never straddles the two kinds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dashboard.lab import energy
from dashboard.lab.training.train import EpochEvent, StepEvent, Training

STEPS_PHASE, EVAL_PHASE = "training", "training: test evaluation after each epoch"
SCOPE = ("training steps only (forward, loss, backward, optimizer update), for time and energy alike; "
         "the test evaluation after each epoch is metered apart")


@dataclass
class MeteredTraining:
    steps: energy.EnergyReading | None = None        # the training steps
    evaluation: energy.EnergyReading | None = None   # the per-epoch test evaluations
    step_readings: list[energy.EnergyReading] = field(default_factory=list)
    eval_readings: list[energy.EnergyReading] = field(default_factory=list)


def _epoch_end(run: Training, event: StepEvent) -> bool:
    """True when this step was the last of its epoch: the next event is the test evaluation."""
    return event.step % run.steps_per_epoch == 0


def run(run: Training, *, settings: energy.EnergySettings | None = None, chunk_s: float = 1.0,
        on_event: Callable[[StepEvent | EpochEvent], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_piece: Callable[[MeteredTraining], None] | None = None) -> MeteredTraining:
    """Iterate `run` to its end, each piece under its own energy meter; `on_piece` after each."""
    out = MeteredTraining()
    stop = should_stop or (lambda: False)
    done, evaluating = False, False
    while not done:
        phase = EVAL_PHASE if evaluating else STEPS_PHASE
        events = 0
        with energy.meter(phase, settings=settings) as reading:
            deadline = time.perf_counter() + chunk_s
            while True:
                if stop():
                    run.stop()  # ends at the next step boundary, keeping the weights so far
                try:
                    event = next(run)
                except StopIteration:
                    done = True
                    break
                events += 1
                if on_event is not None:
                    on_event(event)
                if evaluating:            # the evaluation piece holds exactly one EpochEvent
                    evaluating = False
                    done = run.step >= run.total_steps
                    break
                if isinstance(event, StepEvent) and _epoch_end(run, event):
                    evaluating = True
                    break
                if time.perf_counter() >= deadline:
                    break
        if events == 0:
            continue  # the run had already ended: an empty window measures nothing of it
        (out.eval_readings if phase == EVAL_PHASE else out.step_readings).append(reading)
        out.steps = energy.combine(out.step_readings, STEPS_PHASE) if out.step_readings else None
        out.evaluation = energy.combine(out.eval_readings, EVAL_PHASE) if out.eval_readings else None
        if on_piece is not None:
            on_piece(out)
    return out
