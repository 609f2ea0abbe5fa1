"""What Compress & benchmark, the Home page's "Run the whole demo" and the sensitivity scan start.

Each `start_*` checks the request against the server's caps (before any work), then either serves an
identical earlier result from the shared results (no job, no compute slot) or queues a job through
service.shared.submit, which follows an identical computation of another session or computes and
publishes. The job's heavy part is the engine's one demo path (lab.pipeline.run): the whole demo trains,
compresses and measures in that one call, with the live curves of service.training_jobs; Compress &
benchmark calls it with the session's trained model. Each heavy part is a task of plain data (`*_task`:
settings, the dataset's name, the model's weights as bytes) run through the compute backend
(service.backend: in this process, or on a Ray worker). When a job ends, what it made is put into the
session (here, in the app, whatever the backend), the run is added to the session's Results (finished,
stopped or failed alike) and the page is left a notice.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from dashboard.lab import pipeline
from dashboard.lab.compression.compress import CompressSettings, resolve_names
from dashboard.lab.compression.sensitivity import SensitivityScan, scan
from dashboard.lab.energy import EnergyReading
from dashboard.lab.inputs import data
from dashboard.lab.measure.bench import BenchResult, BenchSettings
from dashboard.lab.measure.record import RunRecord
from dashboard.lab.training.train import TrainConfig, TrainedModel
from dashboard.service import authority, backend, runs, shared
from dashboard.service.jobs import CANCELLED, FAILED, STOPPED, Job
from dashboard.service.sessions import DataChoice, Session, copy_results, rebuild
from dashboard.service.shared import SHARED, key
from dashboard.service.training_jobs import (CHUNK_S, Live, TrainingOutcome, diverged_notice, estimate, learnt,
                                             outcome)


@dataclass
class MeasureOutcome:
    record: RunRecord              # models stripped
    results: list[BenchResult]
    readings: list[EnergyReading] = field(default_factory=list)
    place: backend.Place = field(default_factory=backend.Place)   # where it was measured (record.hardware's machine)


@dataclass
class DemoOutcome:
    training: TrainingOutcome
    measure: MeasureOutcome | None   # None: stopped during training, or it diverged

    @property
    def place(self) -> backend.Place:
        """Where its figures were measured (service.shared.label names it)."""
        return self.measure.place if self.measure is not None else self.training.place


@dataclass
class Scanned:
    """A sensitivity scan and where it ran: what the shared results keep, so a served scan names its machine."""

    scan: SensitivityScan
    place: backend.Place


def measured(record: RunRecord, place: backend.Place) -> MeasureOutcome:
    """A run's measurements as the session keeps them: no live models, its per-image energy readings apart,
    and `place`, where they were measured (service.backend.place_of the task's channel)."""
    readings = [r for res in record.results for e in (res.energy, res.energy_batch1) if e is not None
                for r in e.readings]
    record.trained, record.variants = None, []
    return MeasureOutcome(record, record.results, readings, place)


def _publishable(result, interference) -> bool:
    """Stamp how busy the server was on what others will be served, and keep a figure that stayed
    disturbed this session's (labelled), as a demo that diverged (nothing was measured)."""
    m = result.measure if isinstance(result, DemoOutcome) else result
    if isinstance(result, DemoOutcome) and m is None:
        return False
    if isinstance(m, MeasureOutcome):
        if interference is not None:
            m.record.interference = interference.to_dict()   # who shares it sees it too
        return all(r.clean for r in m.results)
    return True


# --- into the session -------------------------------------------------------------------------

def adopt_measure(s: Session, m: MeasureOutcome, note: str = "", *, demo: bool = False) -> None:
    with s.lock:
        s.results = copy_results(m.results)
        s.results_note = note
        s.results_settings = {**m.record.settings, "demo": demo}
        s.results_place = m.place


def _record_for_run(s: Session, m: MeasureOutcome, interference) -> RunRecord:
    record = dataclasses.replace(m.record, results=copy_results(m.results))
    record.training_energy = s.training_energy
    if interference is not None:
        record.interference = interference.to_dict()
    pipeline.add_breakeven(record)
    return record


def _partial(s: Session, job: Job, kind: str, config: dict) -> None:
    """A stopped, failed or cancelled job: what it made lands in the session and in Results, saying so."""
    out = job.result
    if isinstance(out, DemoOutcome) and job.state in (STOPPED, FAILED) and out.training is not None:
        s.set_model(**out.training.model())    # the demo's model is kept whatever happened after training
        if out.measure is None:
            why = f"stopped ({job.stop_reason})" if job.state == STOPPED else f"failed: {job.error}"
            runs.add_training(s, outcome=f"demo {why} after training", place=out.training.place)
    if job.state == STOPPED and out is not None:
        m = out.measure if isinstance(out, DemoOutcome) else out
        if isinstance(m, MeasureOutcome):
            adopt_measure(s, m)
            runs.add(s, kind, _record_for_run(s, m, job.interference), m.readings,
                     outcome=f"stopped ({job.stop_reason}) during {m.record.stopped or 'the last step'}",
                     source=m.place.source, place=m.place)
        elif isinstance(m, Scanned):
            s.sensitivity = m.scan
        s.notify("info", f"{kind.capitalize()} stopped ({job.stop_reason}); what was done is kept and listed in "
                         "Results.")
    elif job.state == FAILED:
        runs.add_failed(s, kind, config, f"failed: {job.error}", place=backend.place_of(job))
        s.notify("error", f"{kind.capitalize()} failed: {job.error} What you had before is kept.")
    elif job.state == CANCELLED:
        s.notify("info", f"{kind.capitalize()} cancelled before it started ({job.stop_reason}).")


# --- compress & measure ----------------------------------------------------------------------

def start_compress(s: Session, names: list[str], cs: CompressSettings, *, kind: str = "compress & measure",
                   fresh: bool = False) -> Job | None:
    """Make and measure the variants of the session's model: from the shared results when an
    identical request was measured here (returns None), else as a job."""
    if s.trained is None:
        raise ValueError("train a model first")
    names = resolve_names(names)
    cs = dataclasses.replace(cs, layout_seconds=pipeline.APP_LAYOUT_SECONDS)
    cs.validate()
    config = s.trained.config
    n_train = min(data.TRAIN_SIZES.get(config.dataset, 0), config.train_images or 10**9)
    images = pipeline.check_budget(config, n_train, names, cs, train=False)
    request = {"weights": s.digest, "data": dataclasses.asdict(s.data_choice()),
               "config": config.to_dict(), "variants": names, "compress": cs.to_dict(),
               "bench": pipeline.APP_BENCH.to_dict()}
    k = key("measure", request)
    if not fresh and (entry := SHARED.get(k)) is not None:
        _adopt_measured_run(s, kind, entry.value, shared.label(entry, s), None)
        return None
    trained, weights = s.model_as_data()
    choice, bench, energy = s.data_choice(), pipeline.APP_BENCH, s.settings

    def compute(job: Job) -> MeasureOutcome:
        return backend.current().run(job, compress_task, config, names, choice, trained, weights, cs, bench, energy)

    job = Job("compress", f"{kind}: {len(names)} versions", estimate(config, images, len(names)),
              slot=backend.job_slot())
    return shared.submit(s, job, k, fresh=fresh, compute=compute, publishable=_publishable,
                         adopt=lambda value, note, busy: _adopt_measured_run(s, kind, value, note, busy),
                         partial=lambda job: _partial(s, job, kind, config.to_dict()))


def compress_task(job: Job, config: TrainConfig, names: list[str], choice: DataChoice, trained: TrainedModel,
                  weights: bytes, cs: CompressSettings, bench: BenchSettings, energy) -> MeasureOutcome:
    """Compress & measure's heavy part, from plain data (run by the backend, here or on a worker)."""
    return measured(pipeline.run(config, names, dataset=choice.load(), trained=rebuild(trained, weights),
                                 compress_settings=cs, bench_settings=bench, training_energy=False,
                                 energy_settings=energy, on_progress=job.report, should_stop=lambda: job.stopping),
                    backend.place_of(job))


def _adopt_measured_run(s: Session, kind: str, m: MeasureOutcome, note: str, interference) -> None:
    adopt_measure(s, m, note)
    runs.add(s, kind, _record_for_run(s, m, interference), m.readings,
             source=f"shared: {note}" if note else m.place.source, place=m.place)
    n = len(m.results)
    versions = f"{n} version{'s' if n != 1 else ''} of your model"
    on = f" on {m.place.name}" if m.place.remote else ""   # in this process: as it always said
    disturbed = [r.name for r in m.results if not r.clean]
    if note:
        s.notify("success", f"{versions[0].upper()}{versions[1:]}: figures {note}, not measured again.")
    elif disturbed:
        busy = m.place.name if m.place.remote else "the server"
        s.notify("warning", f"Measured {versions}{on}, but {busy} stayed busy: some figures of {', '.join(disturbed)} "
                            "are labelled *disturbed* (measured again, and still slowed by other work). They are kept "
                            "out of the class board, the shared results and other pages' ratios: measure again when "
                            "the room is quieter.")
    else:
        s.notify("success", f"Measured {versions}{on}.")


# --- the whole demo --------------------------------------------------------------------------

def demo_key() -> str:
    return key("demo", {"config": pipeline.DEMO_CONFIG.to_dict(), "variants": pipeline.DEMO_VARIANTS,
                        "compress": pipeline.DEMO_COMPRESS.to_dict(), "bench": pipeline.APP_BENCH.to_dict()})


def start_demo(s: Session, *, fresh: bool = False) -> Job | None:
    """Train the default CNN, make 4 compressed versions, measure all 5 (lab.pipeline's DEMO_*). An
    identical demo already measured on this server is served at once (returns None) unless `fresh`,
    which only the presenter may ask (it replaces the figures every student is served)."""
    if fresh:
        authority.require(s, "measure the demo afresh for everyone")
    config = dataclasses.replace(pipeline.DEMO_CONFIG)
    k = demo_key()
    if not fresh and (entry := SHARED.get(k)) is not None:
        _adopt_demo(s, entry.value, shared.label(entry, s), None)
        return None
    images = pipeline.check_budget(config, data.TRAIN_SIZES["digits"], pipeline.DEMO_VARIANTS, pipeline.DEMO_COMPRESS)
    choice = DataChoice(config.dataset)
    plan = (config, choice, list(pipeline.DEMO_VARIANTS), pipeline.DEMO_COMPRESS, pipeline.APP_BENCH, s.settings)

    def compute(job: Job) -> DemoOutcome:
        out = backend.current().run(job, demo_task, *plan)
        if out.training is not None:
            learnt(out.training)
        return out

    job = Job("demo", "the whole demo", estimate(config, images, len(pipeline.DEMO_VARIANTS)),
              slot=backend.job_slot())
    job.view["config"] = config
    return shared.submit(s, job, k, fresh=fresh, compute=compute, publishable=_publishable,
                         adopt=lambda value, note, interference: _adopt_demo(s, value, note, interference),
                         partial=lambda job: _partial(s, job, "demo", config.to_dict()))


def demo_task(job: Job, config: TrainConfig, choice: DataChoice, variants: list[str], cs: CompressSettings,
              bench: BenchSettings, energy) -> DemoOutcome:
    """The whole demo's heavy part, from plain data (run by the backend, here or on a worker)."""
    out, place = DemoOutcome(None, None), backend.place_of(job)

    def trained(stage: pipeline.TrainingStage) -> None:
        out.training = outcome(stage, choice, place)
        job.keep(out)  # a stop or a failure while measuring keeps the trained model

    shown = Live(job, config)
    record = pipeline.run(config, variants, dataset=choice.load(), compress_settings=cs, bench_settings=bench,
                          energy_settings=energy, on_progress=job.report, should_stop=lambda: job.stopping,
                          chunk_s=CHUNK_S, describe=True,
                          on_train_start=shown.start, on_train_event=shown.event, on_train_piece=shown.piece,
                          on_trained=trained)
    if record.stopped not in ("training", "diverged"):
        out.measure = measured(record, place)
    return out


def _adopt_demo(s: Session, d: DemoOutcome, note: str, interference) -> None:
    s.set_model(**d.training.model())
    o = d.training.trained.outcome   # the demo's fixed settings train well; say so if this run did not
    if d.measure is None:            # it diverged: nothing was compressed or measured
        runs.add_training(s, outcome="diverged", place=d.training.place)
        s.notify("error", diverged_notice(o))
        return
    adopt_measure(s, d.measure, note, demo=True)
    runs.add(s, "demo", _record_for_run(s, d.measure, interference),
             [d.training.stage.energy, d.training.stage.evaluation_energy, *d.measure.readings],
             source=f"shared: {note}" if note else d.measure.place.source, place=d.measure.place)
    disturbed = [r.name for r in d.measure.results if not r.clean]
    level = "success" if o is None or o.ok else o.level
    place = d.measure.place
    s.notify("warning" if disturbed and level == "success" else level,
             f"Demo done: a CNN trained, {len(d.measure.results) - 1} compressed versions measured"
             + (f" (figures {note})" if note else f" on {place.name}" if place.remote else "")
             + ". Open **Compress & benchmark** and **Training vs inference** to see what came out."
             + (f" {place.name if place.remote else 'The server'} stayed busy while some figures of "
                f"{', '.join(disturbed)} were measured: they are labelled *disturbed*; measure again when the room "
                "is quieter." if disturbed else "")
             + ("" if o is None or o.ok else f" But the training did not work: {o.title}: {o.summary}."))


# --- sensitivity scan --------------------------------------------------------------------------

def start_sensitivity(s: Session, *, fresh: bool = False) -> Job | None:
    if s.trained is None:
        raise ValueError("train a model first")
    k = key("sensitivity", {"weights": s.digest,
                            "data": dataclasses.asdict(s.data_choice())})
    if not fresh and (entry := SHARED.get(k)) is not None:
        s.sensitivity = entry.value.scan
        s.notify("success", f"Sensitivity scan {shared.label(entry, s)}, not run again.")
        return None
    trained, weights = s.model_as_data()
    choice = s.data_choice()

    def compute(job: Job) -> Scanned:
        return backend.current().run(job, sensitivity_task, choice, trained, weights)

    def adopt(value: Scanned, note: str, interference) -> None:
        s.sensitivity = value.scan
        on = f" on {value.place.name}" if value.place.remote else ""   # in this process: as it always said
        s.notify("success", "Sensitivity scan done" + (f" ({note})." if note else f"{on}."))

    job = Job("sensitivity", "sensitivity scan", 5.0, slot=backend.job_slot())
    return shared.submit(s, job, k, fresh=fresh, compute=compute, adopt=adopt,
                         partial=lambda job: _partial(s, job, "sensitivity scan", {}))


def sensitivity_task(job: Job, choice: DataChoice, trained: TrainedModel, weights: bytes) -> Scanned:
    """The sensitivity scan's heavy part, from plain data (run by the backend, here or on a worker)."""
    return Scanned(scan(rebuild(trained, weights).module, choice.load(), on_progress=job.report,
                        should_stop=lambda: job.stopping), backend.place_of(job))
