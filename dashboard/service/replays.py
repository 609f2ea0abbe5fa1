"""The Run of show page's job: a bundled replay (a run measured earlier, course.replay) loaded as the
session's model and results at once, labelled with where and when it was measured.

Not yet through the compute backend (service.backend): with a Ray cluster configured, this job (it only loads a
file) still runs in this process, in the COMPUTE slot.
"""

from __future__ import annotations

import dataclasses

from dashboard.course import replay
from dashboard.lab.inputs import data
from dashboard.lab.inputs.data import DatasetUnavailable
from dashboard.lab.measure import layer_flops, memory
from dashboard.lab.training.inspect import inspect_model
from dashboard.lab.training.models import weights_digest
from dashboard.service import runs
from dashboard.service.jobs import DONE, FAILED, RUNNER, Busy, Job
from dashboard.service.measuring import MeasureOutcome, adopt_measure
from dashboard.service.sessions import DataChoice, Session, copy_results, state_bytes


def load_replay(s: Session, name: str) -> Job:
    """The bundled replay `name` (assets/presets/NAME.json, course.replay) as the session's model and
    results, labelled with where and when they were measured, never as measured now. ValueError (one
    line) for a missing or broken replay, Busy while a job runs: the session then keeps what it had.

    A light job in the compute slot: nothing is timed, but the model's inspection, memory and FLOPs
    per layer (predictions and counts, the same on any machine) take about a second of CPU for the
    cnn, which must not land inside another user's measurement."""
    if s.busy:
        raise Busy(f"Your {s.job.kind} is under way; load the replay when it has ended.")
    r = replay.load(name)   # checked down to its weights before anything is queued
    t = r.trained
    choice = DataChoice(t.dataset, t.config.train_images, t.config.augment)
    loaded: dict[str, data.Dataset] = {}

    def prepare(job: Job) -> None:
        try:
            loaded["ds"] = choice.load()
        except DatasetUnavailable as exc:
            raise ValueError(f"The replay {name!r} needs the {t.dataset} data, which cannot be loaded here: "
                             f"{exc}") from exc

    def body(job: Job) -> tuple:
        inspection = inspect_model(t.module, loaded["ds"], layout=t.layout)
        mem = memory.compare_memory(t.module, t.spec.in_shape, batch_size=t.config.batch_size,
                                    optimizer=t.config.optimizer, lr=t.config.lr)
        per_layer = layer_flops.flops_by_layer(t.module, t.spec.in_shape, optimizer=t.config.optimizer)
        return inspection, mem, per_layer

    def finish(job: Job) -> None:
        if job.state == FAILED:
            s.notify("error", f"Loading the replay failed: {job.error} What you had before is kept.")
            return
        if job.state != DONE:
            s.notify("info", f"Loading the replay was {job.state} ({job.stop_reason}); what you had is kept.")
            return
        inspection, mem, per_layer = job.result
        record, note = r.record, r.label
        s.set_model(dataclasses.replace(t, module=None), choice, r.steps, record.training_energy, inspection,
                    weights=state_bytes(t.module), digest=weights_digest(t.module), memory=mem, layer_flops=per_layer)
        s.edge_runs = r.edge_runs_for(s.digest)   # the Edge page's figures, when the replay carries them
        adopt_measure(s, MeasureOutcome(record, record.results), note, demo=r.demo)
        readings = [record.training_energy, *(x for res in record.results for e in (res.energy, res.energy_batch1)
                                              if e is not None for x in e.readings)]
        runs.add(s, "replay", dataclasses.replace(record, results=copy_results(record.results)), readings,
                 source=note)
        s.notify("info", f"Loaded *{r.title}*, {note}. Open **Compress & benchmark** or **Training vs "
                         "inference** to show it; **Measure afresh** there measures it on this server now.")

    return RUNNER.submit(s.token, Job("replay", f"loading the replay {name}", 1.5), body, prepare=prepare,
                         finish=finish)
