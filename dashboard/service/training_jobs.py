"""The Train page's training as a job: live curves, a Stop at the next step, and what the session keeps.

`start_training` checks the request against the server's caps, then queues a job (service.jobs) whose
heavy part, `train_task`, runs the engine's training stage (lab.pipeline.train) through the compute backend
(service.backend: in this process, or on a Ray worker) from plain data. `Live` is what a server adds to any
training, this one or the demo's (service.measuring): the curves and energy so far in `job.view` after every
step and piece, and the job's Stop handed to the run. A TrainingOutcome is what either job hands the session.
This module also learns how fast this server trains, which is what every job's wait estimate is made of.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch

from dashboard.lab import pipeline
from dashboard.lab.inputs import data
from dashboard.lab.training import metered_training
from dashboard.lab.training.models import weights_digest
from dashboard.lab.training.train import EpochEvent, TrainConfig, TrainedModel, Training
from dashboard.service import backend, runs
from dashboard.service.jobs import CANCELLED, DONE, FAILED, RUNNER, STOPPED, Job
from dashboard.service.sessions import DataChoice, Session, state_bytes

CHUNK_S = 1.0  # training work per metered piece: the live curves' energy so far moves this often

# Training images per second of this server for 28x28 grey images, learnt from every training
# (first guesses for a 2-core laptop-class CPU): what the wait estimates are made of.
_rates: dict[str, float] = {"mlp": 40_000.0, "cnn": 6_000.0, "tiny-cnn": 20_000.0}


def _size(dataset: str) -> float:
    """An image's values relative to a 28x28 grey digit (CIFAR-10: 3.9x)."""
    c, h, w = data.CATALOG[dataset].shape
    return c * h * w / (28 * 28)


def _learn_rate(trained: TrainedModel) -> None:
    if trained.train_seconds > 0.5:
        seen = trained.images_per_second * _size(trained.dataset)
        _rates[trained.spec.name] = 0.5 * _rates.get(trained.spec.name, seen) + 0.5 * seen


def estimate(config: TrainConfig, images: int, variants: int = 0) -> float:
    """Seconds a job should take once it runs: its training images at this server's rate, plus
    about 1.5 s per variant made and measured (the timing windows are fixed)."""
    rate = _rates.get(config.model, 5_000.0) / _size(config.dataset)
    return images / rate + 1.5 * variants + 1.0


@dataclass
class TrainingOutcome:
    """What a training job hands the session: the stage (its model's module is None) and the weights as bytes."""

    stage: pipeline.TrainingStage
    weights: bytes
    digest: str                    # service.shared.weights_digest
    choice: DataChoice
    place: backend.Place = field(default_factory=backend.Place)   # where it was trained (this server, a Ray node)

    @property
    def trained(self) -> TrainedModel:
        return self.stage.trained

    def model(self) -> dict:
        """Session.set_model's arguments: this model and what describes it."""
        t = self.stage
        return dict(trained=t.trained, choice=self.choice, steps=t.steps, training_energy=t.energy,
                    inspection=t.inspection, weights=self.weights, digest=self.digest,
                    evaluation_energy=t.evaluation_energy, memory=t.memory, layer_flops=t.layer_flops,
                    place=self.place)


def learnt(out: TrainingOutcome) -> TrainingOutcome:
    """A training that came back to the app: its speed goes into the wait estimates."""
    _learn_rate(out.trained)
    return out


def outcome(stage: pipeline.TrainingStage, choice: DataChoice, place: backend.Place) -> TrainingOutcome:
    """A finished training stage as the session keeps it (the weights as bytes, no live module): plain data,
    made where the training ran, `place` (service.backend.place_of the task's channel)."""
    module = stage.trained.module
    kept = dataclasses.replace(stage, trained=dataclasses.replace(stage.trained, module=None))
    return TrainingOutcome(kept, state_bytes(module), weights_digest(module), choice, place)


class Live:
    """What a server adds to a training (lab.pipeline.train's on_start, on_event, on_piece): the run shown
    in `job.view` as it goes (steps, epochs, energy so far) and stopped at its next step on a Stop. `job` is
    the Job or, on a Ray worker, its channel (service.backend): the same calls either way."""

    def __init__(self, job: Job, config: TrainConfig) -> None:
        self.job, self.config = job, config

    def start(self, run: Training) -> None:
        self.job.on_stop(run.stop)   # a Stop ends the training at its next step, not at the end of its piece
        self.job.show(steps=[], epochs=[], total_steps=run.total_steps, config=self.config,
                      threads=torch.get_num_threads())

    def event(self, event) -> None:
        self.job.add("epochs" if isinstance(event, EpochEvent) else "steps", event)

    def piece(self, m: metered_training.MeteredTraining) -> None:
        self.job.show(energy_so_far=m.steps)


def train_task(job: Job, config: TrainConfig, choice: DataChoice, energy_settings) -> TrainingOutcome:
    """The training's heavy part, from plain data (run by the backend, here or on a worker)."""
    shown = Live(job, config)
    stage = pipeline.train(config, choice.load(), chunk_s=CHUNK_S, describe=True, energy_settings=energy_settings,
                           on_progress=job.report, should_stop=lambda: job.stopping,
                           on_start=shown.start, on_event=shown.event, on_piece=shown.piece)
    return outcome(stage, choice, backend.place_of(job))


def start_training(s: Session, config: TrainConfig) -> Job:
    """Queue a live training; the Train page draws job.view while it runs."""
    config = dataclasses.replace(config, threads=None)  # the thread count is the server's, not a request's
    config.validate()
    choice = DataChoice(config.dataset, config.train_images, config.augment)
    images = pipeline.check_budget(config, data.TRAIN_SIZES.get(config.dataset, 0))
    job = Job("training", f"training {config.model} on {config.dataset}", estimate(config, images),
              slot=backend.job_slot())
    job.view["config"] = config

    def prepare(job: Job) -> None:
        if job.slot is backend.COMPUTE:   # trained here: loaded (perhaps downloaded) with no compute slot held
            job.message = f"loading {data.CATALOG[config.dataset].title}"
            choice.load()                 # kept in lab.inputs.data's shared arrays for the task

    def body(job: Job) -> TrainingOutcome:
        return learnt(backend.current().run(job, train_task, config, choice, s.settings))

    def finish(job: Job) -> None:
        out = job.result
        if job.state in (DONE, STOPPED) and out is not None:
            # Whatever became of it (lab.training.outcome), the run is the session's model now: the Train page
            # shows its curves and says what happened; a diverged run keeps its last finite weights.
            s.set_model(**out.model())
            t, o = out.trained, out.trained.outcome
            kind = o.kind if o is not None else "ok"
            stopped = not t.completed and kind != "diverged"
            runs.add_training(s, outcome="diverged" if kind == "diverged" else "stopped by you" if stopped
                              else "completed" if kind == "ok" else kind, place=out.place)
            if kind == "diverged":
                s.notify("error", diverged_notice(o))
            elif stopped:
                s.notify("info", f"Training stopped after {t.samples_seen:,} images; the partly trained "
                                 f"model ({100 * t.test_accuracy:.1f} % test accuracy) is kept and can be "
                                 "compressed." + (f" {o.title}: {o.summary}." if kind != "ok" else ""))
            elif kind == "ok":
                on = f" on {out.place.name}" if out.place.remote else ""   # in this process: as it always said
                s.notify("success", f"Training finished{on}: {100 * t.test_accuracy:.1f} % test accuracy "
                                    f"after {len(t.history)} epoch{'s' if len(t.history) != 1 else ''}.")
            else:
                s.notify("warning", f"{o.title}: {o.summary}. {o.advice}")
        elif job.state == FAILED:
            runs.add_failed(s, "training", config.to_dict(), f"failed: {job.error}", place=backend.place_of(job))
            s.notify("error", f"Training failed: {job.error} Your previous model and results are kept.")
        elif job.state == CANCELLED:
            s.notify("info", f"Training cancelled before it started ({job.stop_reason}).")

    return RUNNER.submit(s.token, job, body, prepare=prepare, finish=finish)


def diverged_notice(o) -> str:
    """What the session is told of a training that diverged (lab.training.outcome.Outcome)."""
    return f"{o.title}: {o.summary}. {o.advice} The Train page shows the curves up to that point."
