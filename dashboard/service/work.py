"""What the app's buttons start: training, compress & measure, the whole demo, the sensitivity scan.

Each `start_*` checks the request against the server's caps (before any work), then either
serves an identical earlier result from the shared cache (no job, no compute slot) or queues
a job (service.jobs). A job's body calls the engine in bounded pieces, checking for a stop
between them; when it ends, `finish` puts what it made into the session, adds the run to the
session's Results (finished, stopped or failed alike) and leaves a notice for the page.

Why one module of ~420 lines: the four kinds of job share one shape (caps check, shared cache or
flight, job body, adopt into the session); kept together, that shape is read once.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import torch

from dashboard.lab import pipeline
from dashboard.lab.inputs import data
from dashboard.lab.measure import layer_flops, memory
from dashboard.lab.training import metered_training
from dashboard.lab.measure.bench import BenchResult, BenchSettings
from dashboard.lab.compression.compress import CompressSettings, resolve_names
from dashboard.lab.energy import EnergyReading
from dashboard.lab.training.inspect import Inspection, inspect_model
from dashboard.lab.measure.layer_flops import FlopsByLayer
from dashboard.lab.measure.memory import MemoryComparison
from dashboard.lab.measure.record import RunRecord
from dashboard.lab.compression.sensitivity import SensitivityScan, scan
from dashboard.lab.training.train import (
    EpochEvent,
    StepEvent,
    TrainConfig,
    TrainedModel,
    Training,
)
from dashboard.service.slot import Cancelled

from dashboard.service import authority, runs
from dashboard.service.jobs import CANCELLED, DONE, FAILED, RUNNER, STOPPED, Job
from dashboard.service.sessions import DataChoice, Session, copy_results, state_bytes
from dashboard.service.shared import SHARED, Flight, key, weights_digest

CHUNK_S = 1.0  # training work per piece: the live curves and the energy-so-far move this often

# Timing windows for the app (the CLI and benchmarks/compress.py measure longer). Three
# interleaved rounds; per-image energy is metered over the same batch-256 windows that give
# the throughput. benchmarks/app.py compares the speed-ups this gives with the long benchmark's.
# A disturbed window is measured again after waiting up to 1 s for a quieter moment, within 15 s for the
# whole measurement: a busy room costs a student seconds, not minutes, and what stays disturbed is labelled.
APP_BENCH = BenchSettings(rounds=3, batch1_min_calls=60, batch1_min_seconds=0.3, batch_min_seconds=0.45,
                          warmup_seconds=0.1, energy=True, energy_mode="rounds", retries=3, quiet_wait_s=1.0,
                          retry_budget_s=15.0)
APP_LAYOUT_SECONDS = 0.2   # per variant: time both memory layouts, keep the faster

# The Home page's "Run the whole demo": 2 epochs of the default CNN on the bundled digits, one
# variant per technique, one fine-tune epoch after removing channels.
DEMO_CONFIG = TrainConfig(model="cnn", dataset="digits", epochs=2)
DEMO_VARIANTS = ["fp32", "pruned-unstructured-90", "pruned-channels-50", "int8-dynamic", "int8-static"]
DEMO_COMPRESS = CompressSettings(finetune_epochs_channels=1, finetune_epochs_unstructured=0,
                                 layout_seconds=APP_LAYOUT_SECONDS)
DEMO_TRAIN_SHARE = 0.3  # of the demo's progress bar: about its share of the time

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


def _estimate(config: TrainConfig, images: int, variants: int = 0) -> float:
    """Seconds a job should take once it runs: its training images at this server's rate, plus
    about 1.5 s per variant made and measured (the timing windows are fixed)."""
    rate = _rates.get(config.model, 5_000.0) / _size(config.dataset)
    return images / rate + 1.5 * variants + 1.0


# --- what jobs hand to the session ----------------------------------------------------------

@dataclass
class TrainingOutcome:
    trained: TrainedModel          # .module is None: the weights travel as bytes
    weights: bytes
    digest: str                    # service.shared.weights_digest
    choice: DataChoice
    steps: list[StepEvent]
    energy: EnergyReading | None             # the training steps (lab.training.metered_training.SCOPE)
    inspection: Inspection
    evaluation_energy: EnergyReading | None = None   # the test evaluations after each epoch
    memory: MemoryComparison | None = None          # one training step vs one inference
    layer_flops: FlopsByLayer | None = None


@dataclass
class MeasureOutcome:
    record: RunRecord              # models stripped
    results: list[BenchResult]
    readings: list[EnergyReading] = field(default_factory=list)


@dataclass
class DemoOutcome:
    training: TrainingOutcome
    measure: MeasureOutcome


def _at(t: float) -> str:
    return time.strftime("%H:%M", time.localtime(t))


def _shared_label(entry, s: Session) -> str:
    """Where served figures come from: 'measured on this server at 14:05 for another session with identical settings'."""
    who = "by you earlier" if entry.by == s.token else "for another session"
    return f"measured on this server at {_at(entry.measured_at)} {who} with identical settings"


# --- training, piece by piece ------------------------------------------------------------------

def _train(job: Job, s: Session, config: TrainConfig, choice: DataChoice, dataset: data.Dataset,
           span: tuple[float, float] = (0.0, 1.0)) -> TrainingOutcome | None:
    """Run the training in ~1 s pieces, each metered; publish curves to job.view as it goes."""
    lo, hi = span
    run = Training(config, dataset)
    job.on_stop(run.stop)   # a Stop ends the training at its next step, not at the end of its logging window
    view = job.view
    view.update(steps=[], epochs=[], total_steps=run.total_steps, config=config, threads=torch.get_num_threads())

    def on_event(event) -> None:
        (view["epochs"] if isinstance(event, EpochEvent) else view["steps"]).append(event)

    def on_piece(m: metered_training.MeteredTraining) -> None:
        view["energy_so_far"] = m.steps
        last = view["steps"][-1] if view["steps"] else None
        job.report(lo + (hi - lo) * run.progress, f"training {config.model}: step {run.step:,} of {run.total_steps:,}"
                   + (f", epoch {last.epoch} of {config.epochs}" if last else ""))

    # What a training step holds in memory against an inference, and its FLOPs layer by layer: one
    # step each on a copy of the model (about 0.1 s for the cnn at batch 64 on 2 threads). Neither
    # depends on the weights' values, so it is measured before training: a Stop stays quick, and a
    # run that diverges is measured on finite weights.
    mem = memory.compare_memory(run.module, run.spec.in_shape, batch_size=config.batch_size,
                                optimizer=config.optimizer, lr=config.lr, device=run.device)
    per_layer = layer_flops.flops_by_layer(run.module, run.spec.in_shape, optimizer=config.optimizer)
    metered = metered_training.run(run, settings=s.settings, chunk_s=CHUNK_S, on_event=on_event,
                                   should_stop=lambda: job.stopping, on_piece=on_piece)
    trained = run.result()
    _learn_rate(trained)
    inspection = inspect_model(trained.module, dataset, layout=trained.layout)
    return TrainingOutcome(dataclasses.replace(trained, module=None), state_bytes(trained.module),
                           weights_digest(trained.module), choice, list(view["steps"]), metered.steps,
                           inspection, metered.evaluation, mem, per_layer)


def _adopt_training(s: Session, t: TrainingOutcome) -> None:
    s.set_model(dataclasses.replace(t.trained, module=None), t.choice, t.steps, t.energy, t.inspection,
                weights=t.weights, digest=t.digest)
    s.evaluation_energy, s.memory, s.layer_flops = t.evaluation_energy, t.memory, t.layer_flops


def start_training(s: Session, config: TrainConfig) -> Job:
    """Queue a live training; the Train page draws job.view while it runs."""
    config = dataclasses.replace(config, threads=None)  # the thread count is the server's, not a request's
    config.validate()
    choice = DataChoice(config.dataset, config.train_images, config.augment)
    images = pipeline.check_budget(config, data.TRAIN_SIZES.get(config.dataset, 0))
    job = Job("training", f"training {config.model} on {config.dataset}", _estimate(config, images))
    job.view["config"] = config
    loaded: dict[str, data.Dataset] = {}

    def prepare(job: Job) -> None:
        job.message = f"loading {data.CATALOG[config.dataset].title}"
        loaded["ds"] = choice.load()   # may download: no compute slot held meanwhile

    def body(job: Job) -> TrainingOutcome | None:
        return _train(job, s, config, choice, loaded["ds"])

    def finish(job: Job) -> None:
        out = job.result
        if job.state in (DONE, STOPPED) and out is not None:
            # Whatever became of it (lab.training.outcome), the run is the session's model now: the Train page
            # shows its curves and says what happened; a diverged run keeps its last finite weights.
            _adopt_training(s, out)
            t, o = out.trained, out.trained.outcome
            kind = o.kind if o is not None else "ok"
            stopped = not t.completed and kind != "diverged"
            runs.add_training(s, outcome="diverged" if kind == "diverged" else "stopped by you" if stopped
                              else "completed" if kind == "ok" else kind)
            if kind == "diverged":
                s.notify("error", f"{o.title}: {o.summary}. {o.advice} The Train page shows the curves up to "
                                  "that point.")
            elif stopped:
                s.notify("info", f"Training stopped after {t.samples_seen:,} images; the partly trained "
                                 f"model ({100 * t.test_accuracy:.1f} % test accuracy) is kept and can be "
                                 "compressed." + (f" {o.title}: {o.summary}." if kind != "ok" else ""))
            elif kind == "ok":
                s.notify("success", f"Training finished: {100 * t.test_accuracy:.1f} % test accuracy "
                                    f"after {len(t.history)} epoch{'s' if len(t.history) != 1 else ''}.")
            else:
                s.notify("warning", f"{o.title}: {o.summary}. {o.advice}")
        elif job.state == FAILED:
            runs.add_failed(s, "training", config.to_dict(), f"failed: {job.error}")
            s.notify("error", f"Training failed: {job.error} Your previous model and results are kept.")
        elif job.state == CANCELLED:
            s.notify("info", f"Training cancelled before it started ({job.stop_reason}).")

    return RUNNER.submit(s.token, job, body, prepare=prepare, finish=finish)


# --- compress & measure ----------------------------------------------------------------------

def _measure(job: Job, s: Session, trained: TrainedModel, dataset: data.Dataset, names: list[str],
             cs: CompressSettings, span: tuple[float, float] = (0.0, 1.0)) -> MeasureOutcome:
    lo, hi = span
    record = pipeline.run(trained.config, names, dataset=dataset, trained=trained, compress_settings=cs,
                          bench_settings=APP_BENCH, training_energy=False, energy_settings=s.settings,
                          on_progress=lambda f, m: job.report(lo + (hi - lo) * f, m),
                          should_stop=lambda: job.stopping)
    readings = [r for res in record.results for e in (res.energy, res.energy_batch1) if e is not None
                for r in e.readings]
    record.trained, record.variants = None, []
    return MeasureOutcome(record, record.results, readings)


def _adopt_measure(s: Session, m: MeasureOutcome, note: str = "", *, demo: bool = False) -> None:
    with s.lock:
        s.results = copy_results(m.results)
        s.results_note = note
        s.results_settings = {**m.record.settings, "demo": demo}


def _record_for_run(s: Session, m: MeasureOutcome, interference) -> RunRecord:
    record = dataclasses.replace(m.record, results=copy_results(m.results))
    record.training_energy = s.training_energy
    if interference is not None:
        record.interference = interference.to_dict()
    pipeline.add_breakeven(record)
    return record


def _follow(job: Job, k: str) -> tuple[Flight | None, object | None]:
    """Wait while another session computes the same thing: (my flight if I must compute, None) or
    (None, the finished entry). Raises Cancelled when this job is stopped while it waits."""
    while True:
        flight, mine = SHARED.begin(k, job)
        if mine:
            job.following = None
            return flight, None
        job.following = flight.leader
        while not flight.done.wait(0.25):
            if job.stopping:
                job.following = None
                raise Cancelled()  # it never computed anything: cancelled, not stopped
            leader = flight.leader
            job.report(leader.progress, f"an identical request of another session is running: {leader.message}")
        if flight.entry is not None:
            job.following = None
            return None, flight.entry
        # the leader stopped or failed: try again (this job may now compute it itself)


def _submit_shared(s: Session, job: Job, k: str, fresh: bool, compute, adopt, describe: dict) -> Job:
    """Queue a job whose result is shared: follow an identical computation or compute and publish."""
    state: dict = {}

    def prepare(job: Job) -> bool:
        if fresh:  # measured afresh by request: computed here, then replaces the shared result
            return True
        flight, entry = _follow(job, k)
        if entry is not None:
            state["entry"] = entry
            return False
        state["flight"] = flight
        return True

    def finish(job: Job) -> None:
        flight: Flight | None = state.get("flight")
        if "entry" in state:                      # followed another session's identical run
            adopt(state["entry"].value, _shared_label(state["entry"], s), None)
            return
        if job.state == DONE and job.result is not None:
            measured = job.result.measure if isinstance(job.result, DemoOutcome) else job.result
            if isinstance(measured, MeasureOutcome) and job.interference is not None:
                measured.record.interference = job.interference.to_dict()  # who shares it sees it too
            if isinstance(measured, MeasureOutcome) and any(not r.clean for r in measured.results):
                # A figure that stayed disturbed is this session's, labelled; never served to another session
                # as "measured on this server" (those following it compute their own).
                if flight is not None:
                    SHARED.abandon(flight)
            elif flight is not None:
                SHARED.finish(flight, job.result, s.token)
            elif authority.is_presenter(s):
                SHARED.put(k, job.result, s.token)   # the presenter measured afresh: it replaces it for everyone
            # else a student measured afresh for themselves: theirs alone, the room's figure stays
            adopt(job.result, "", job.interference)
            return
        if flight is not None:
            SHARED.abandon(flight)
        adopt_partial(s, job, describe)

    return RUNNER.submit(s.token, job, compute, prepare=prepare, finish=finish)


def adopt_partial(s: Session, job: Job, describe: dict) -> None:
    """A stopped, failed or cancelled job: what it made lands in the session and in Results, saying so."""
    kind = describe["kind"]
    out = job.result
    if isinstance(out, DemoOutcome) and job.state in (STOPPED, FAILED):
        _adopt_training(s, out.training)    # the demo's model is kept whatever happened after training
        if out.measure is None:
            why = f"stopped ({job.stop_reason})" if job.state == STOPPED else f"failed: {job.error}"
            runs.add_training(s, outcome=f"demo {why} after training")
    if job.state == STOPPED and out is not None:
        m = out.measure if isinstance(out, DemoOutcome) else out
        if isinstance(m, MeasureOutcome):
            _adopt_measure(s, m)
            runs.add(s, kind, _record_for_run(s, m, job.interference), m.readings,
                     outcome=f"stopped ({job.stop_reason}) during {m.record.stopped or 'the last step'}")
        elif isinstance(m, SensitivityScan):
            s.sensitivity = m
        s.notify("info", f"{kind.capitalize()} stopped ({job.stop_reason}); what was done is kept and listed in Results.")
    elif job.state == FAILED:
        runs.add_failed(s, kind, describe.get("config", {}), f"failed: {job.error}")
        s.notify("error", f"{kind.capitalize()} failed: {job.error} What you had before is kept.")
    elif job.state == CANCELLED:
        s.notify("info", f"{kind.capitalize()} cancelled before it started ({job.stop_reason}).")


def start_compress(s: Session, names: list[str], cs: CompressSettings, *, kind: str = "compress & measure",
                   fresh: bool = False) -> Job | None:
    """Make and measure the variants of the session's model: from the shared results when an
    identical request was measured here (returns None), else as a job."""
    if s.trained is None:
        raise ValueError("train a model first")
    names = resolve_names(names)
    cs = dataclasses.replace(cs, layout_seconds=APP_LAYOUT_SECONDS)
    cs.validate()
    config = s.trained.config
    n_train = min(data.TRAIN_SIZES.get(config.dataset, 0), config.train_images or 10**9)
    images = pipeline.check_budget(config, n_train, names, cs, train=False)
    request = {"weights": s.digest, "data": dataclasses.asdict(s.data or DataChoice("digits")),
               "config": config.to_dict(), "variants": names, "compress": cs.to_dict(), "bench": APP_BENCH.to_dict()}
    k = key("measure", request)
    if not fresh and (entry := SHARED.get(k)) is not None:
        _adopt_measured_run(s, kind, entry.value, _shared_label(entry, s), None)
        return None
    trained = s.trained_model()

    def compute(job: Job) -> MeasureOutcome:
        return _measure(job, s, trained, s.dataset(), names, cs)

    def adopt(value: MeasureOutcome, note: str, interference) -> None:
        _adopt_measured_run(s, kind, value, note, interference)

    job = Job("compress", f"{kind}: {len(names)} versions", _estimate(config, images, len(names)))
    return _submit_shared(s, job, k, fresh, compute, adopt, {"kind": kind, "config": config.to_dict()})


def _adopt_measured_run(s: Session, kind: str, m: MeasureOutcome, note: str, interference) -> None:
    _adopt_measure(s, m, note)
    runs.add(s, kind, _record_for_run(s, m, interference), m.readings,
             source=f"shared: {note}" if note else "measured here")
    n = len(m.results)
    versions = f"{n} version{'s' if n != 1 else ''} of your model"
    disturbed = [r.name for r in m.results if not r.clean]
    if note:
        s.notify("success", f"{versions[0].upper()}{versions[1:]}: figures {note}, not measured again.")
    elif disturbed:
        s.notify("warning", f"Measured {versions}, but the server stayed busy: some figures of {', '.join(disturbed)} "
                            "are labelled *disturbed* (measured again, and still slowed by other work). They are kept "
                            "out of the class board, the shared results and other pages' ratios: measure again when "
                            "the room is quieter.")
    else:
        s.notify("success", f"Measured {versions}.")


# --- the whole demo --------------------------------------------------------------------------

def demo_key() -> str:
    return key("demo", {"config": DEMO_CONFIG.to_dict(), "variants": DEMO_VARIANTS,
                        "compress": DEMO_COMPRESS.to_dict(), "bench": APP_BENCH.to_dict()})


def start_demo(s: Session, *, fresh: bool = False) -> Job | None:
    """Train the default CNN, make 4 compressed versions, measure all 5. An identical demo
    already measured on this server is served at once (returns None) unless `fresh`."""
    if fresh:
        authority.require(s, "measure the demo afresh for everyone")
    config = dataclasses.replace(DEMO_CONFIG)
    k = demo_key()
    if not fresh and (entry := SHARED.get(k)) is not None:
        _adopt_demo(s, entry.value, _shared_label(entry, s), None)
        return None
    images = pipeline.check_budget(config, data.TRAIN_SIZES["digits"], DEMO_VARIANTS, DEMO_COMPRESS)
    choice = DataChoice(config.dataset)

    def compute(job: Job) -> DemoOutcome:
        dataset = choice.load()
        training = _train(job, s, config, choice, dataset, span=(0.0, DEMO_TRAIN_SHARE))
        outcome = DemoOutcome(training, None)
        job.result = outcome  # a stop during measuring keeps the trained model
        if job.stopping:
            return outcome
        trained = dataclasses.replace(training.trained, module=_module_from(training))
        outcome.measure = _measure(job, s, trained, dataset, DEMO_VARIANTS, DEMO_COMPRESS,
                                   span=(DEMO_TRAIN_SHARE, 1.0))
        return outcome

    def adopt(value: DemoOutcome, note: str, interference) -> None:
        _adopt_demo(s, value, note, interference)

    job = Job("demo", "the whole demo", _estimate(config, images, len(DEMO_VARIANTS)))
    job.view["config"] = config
    return _submit_shared(s, job, k, fresh, compute, adopt, {"kind": "demo", "config": config.to_dict()})


def _module_from(t: TrainingOutcome):
    import io

    import torch

    from dashboard.lab.training.models import build_model
    module = build_model(t.trained.spec)
    module.load_state_dict(torch.load(io.BytesIO(t.weights), weights_only=True))
    return module.eval()


def _adopt_demo(s: Session, d: DemoOutcome, note: str, interference) -> None:
    _adopt_training(s, d.training)
    _adopt_measure(s, d.measure, note, demo=True)
    runs.add(s, "demo", _record_for_run(s, d.measure, interference),
             [d.training.energy, d.training.evaluation_energy, *d.measure.readings],
             source=f"shared: {note}" if note else "measured here")
    o = d.training.trained.outcome   # the demo's fixed settings train well; say so if this run did not
    disturbed = [r.name for r in d.measure.results if not r.clean]
    level = "success" if o is None or o.ok else o.level
    s.notify("warning" if disturbed and level == "success" else level,
             f"Demo done: a CNN trained, {len(d.measure.results) - 1} compressed versions measured"
             + (f" (figures {note})" if note else "") + ". Open **Compress & benchmark** and "
             "**Training vs inference** to see what came out."
             + (f" The server stayed busy while some figures of {', '.join(disturbed)} were measured: they are "
                "labelled *disturbed*; measure again when the room is quieter." if disturbed else "")
             + ("" if o is None or o.ok else f" But the training did not work: {o.title}: {o.summary}."))


# --- sensitivity scan --------------------------------------------------------------------------

def start_sensitivity(s: Session, *, fresh: bool = False) -> Job | None:
    if s.trained is None:
        raise ValueError("train a model first")
    k = key("sensitivity", {"weights": s.digest,
                            "data": dataclasses.asdict(s.data or DataChoice("digits"))})
    if not fresh and (entry := SHARED.get(k)) is not None:
        s.sensitivity = entry.value
        s.notify("success", f"Sensitivity scan {_shared_label(entry, s)}, not run again.")
        return None
    trained = s.trained_model()

    def compute(job: Job) -> SensitivityScan:
        return scan(trained.module, s.dataset(), on_progress=job.report, should_stop=lambda: job.stopping)

    def adopt(value: SensitivityScan, note: str, interference) -> None:
        s.sensitivity = value
        s.notify("success", "Sensitivity scan done" + (f" ({note})." if note else "."))

    job = Job("sensitivity", "sensitivity scan", 5.0)
    return _submit_shared(s, job, k, fresh, compute, adopt, {"kind": "sensitivity scan"})


# --- this machine's peaks (the Hardware page) -------------------------------------------------------

def start_hardware(s: Session) -> Job:
    """Measure this machine's peak rate per number format and, with a model, how its inference scales
    with threads and batch (and CPU vs GPU where there is one): one job holding the compute slot.
    When it ends, the lab.measure.peak.HardwareProbe is the session's `hardware_probe`."""
    from dashboard.lab import settings
    from dashboard.lab.measure import peak

    trained = s.trained_model() if s.trained is not None else None
    digest, probe_settings = s.digest if trained is not None else "", peak.APP_PROBE
    known, known_from = _fp32_rates(s), "Compress & benchmark" + (f" ({s.results_note})" if s.results_note else "")

    def body(job: Job) -> peak.HardwareProbe:
        return peak.probe(trained, threads=settings.current().threads, digest=digest, settings=probe_settings,
                          on_progress=job.report, should_stop=lambda: job.stopping, known=known, known_from=known_from)

    def finish(job: Job) -> None:
        if job.state in (DONE, STOPPED) and job.result is not None:
            if job.interference is not None:
                job.result.interference = job.interference.to_dict()
            s.hardware_probe = job.result
            s.notify("success" if job.state == DONE else "info",
                     "Measured this machine's peaks" + (" and your model's speed on 1 to "
                                                        f"{job.result.threads} threads" if trained is not None else "")
                     + ("." if job.state == DONE else f", stopped ({job.stop_reason}): what was done is shown."))
        elif job.state == FAILED:
            s.notify("error", f"Measuring this machine failed: {job.error} What you had before is kept.")
        elif job.state == CANCELLED:
            s.notify("info", f"Measuring this machine was cancelled before it started ({job.stop_reason}).")

    estimate = 3.0 + (6.0 if trained is not None else 0.0)
    return RUNNER.submit(s.token, Job("hardware", "measuring this machine's peaks", estimate), body, finish=finish)


def _fp32_rates(s: Session) -> dict[tuple[int, int], float]:
    """Images/s of this model's fp32 as Compress & benchmark measured it, quiet, on this server: {(threads,
    batch): images/s} at batch 1 (1 / its median call) and at the benchmark's batch. A replay's are another
    machine's, so none then."""
    fp32 = next((r for r in s.results if r.name == "fp32" and r.available), None)
    if fp32 is None or s.trained is None or s.results_note.startswith("a replay") or fp32.layout != s.trained.layout:
        return {}   # (the sweep runs the model in its training layout: another layout is another measured thing)
    out = {}
    if fp32.latency_ms_batch1_p50 and not fp32.is_disturbed("batch1"):
        out[(fp32.threads, 1)] = 1000.0 / fp32.latency_ms_batch1_p50
    if fp32.throughput_batch256_ips and not fp32.is_disturbed("batch"):
        out[(fp32.threads, fp32.batch_size)] = fp32.throughput_batch256_ips
    return out


# --- every version of the model again: Try it yourself and the device profiles ------------------

@dataclass
class Versions:
    """What it takes to make the session's measured versions again (see `versions`)."""

    names: list[str]
    settings: CompressSettings
    layouts: dict[str, str]
    key: tuple
    kept: list | None        # the versions already made for this key, or None


def versions(s: Session, kept: dict) -> Versions:
    """The session's measured set of versions (a stopped run: its part; none measured: fp32). The
    Session keeps results, not the versions' modules, so they are made again once per model and set
    (same seed and settings: the same weights; pruned and distilled ones fine-tune again, seconds)
    and kept in `kept`, the caller's own store (per tab), for every later use."""
    if s.trained is None:
        raise ValueError("train a model first")
    measured = s.results_settings if s.results else {}
    names = resolve_names([r.name for r in s.results] or ["fp32"])
    fields = {f.name for f in dataclasses.fields(CompressSettings)}
    cs = CompressSettings(**{k: v for k, v in (measured.get("compress") or {}).items() if k in fields})
    cs = dataclasses.replace(cs, try_channels_last=False)   # no timing: each takes the layout it was measured in
    k = (s.digest, tuple(names), repr(sorted(cs.to_dict().items())))
    return Versions(names, cs, {r.name: r.layout for r in s.results}, k,
                    kept.get("variants") if kept.get("key") == k else None)


def _make_versions(job: Job, trained: TrainedModel, dataset: data.Dataset, v: Versions, kept: dict,
                   share: float) -> list | None:
    """Make the versions (progress up to `share`), each in the layout it was measured in; None if stopped."""
    import copy

    from dashboard.lab.compression.compress import make_variants

    once = " (once for this model; later uses take milliseconds)"
    made = make_variants(trained, dataset, v.names, v.settings, should_stop=lambda: job.stopping,
                         on_progress=lambda f, m: job.report(share * f, m + once))
    if job.stopping or len(made) < len(v.names):
        return None
    for m in made:
        # A torch.compile'd version keeps the layout it was compiled for (another would recompile).
        if (v.layouts.get(m.name) == "channels_last" and m.module is not None
                and type(m.module).__name__ not in ("CompiledModule", "OptimizedModule")):
            try:
                m.module = copy.deepcopy(m.module).to(memory_format=torch.channels_last)
            except (RuntimeError, TypeError):
                pass   # quantized graphs: only the input changes layout, as when measured
            m.layout = "channels_last"
    kept.clear()
    kept.update(key=v.key, variants=made)
    return made


def _versions_estimate(s: Session, v: Versions) -> float:
    """Seconds to make the versions again (0 when kept); raises LimitExceeded beyond the caps."""
    if v.kept is not None:
        return 0.0
    config = s.trained.config
    n_train = min(data.TRAIN_SIZES.get(config.dataset, 0), config.train_images or 10**9)
    images = pipeline.check_budget(config, n_train, v.names, v.settings, train=False)
    return _estimate(config, images) + 0.3 * len(v.names)


def start_prediction(s: Session, prepared, kept: dict) -> Job:
    """One prepared image (lab.serving.preprocess.Prepared) through every version of the session's model, as a
    light job in the compute slot; every image after the first costs one call per version,
    milliseconds. job.result: [preprocess.Answer]; job.view["wanted"]: the (model digest, image
    digest) it answers."""
    from dashboard.lab.serving import preprocess

    v = versions(s, kept)
    info = data.CATALOG[s.trained.dataset]
    estimate = _versions_estimate(s, v)
    trained = s.trained_model() if v.kept is None else None
    loaded: dict[str, data.Dataset] = {}

    def prepare(job: Job) -> None:
        if trained is not None:
            job.message = f"loading {info.title}"
            loaded["ds"] = s.dataset()

    def body(job: Job) -> list | None:
        use = v.kept
        if use is None:
            use = _make_versions(job, trained, loaded["ds"], v, kept, 0.95)
            if use is None:
                return None
            job.report(0.95, "a first, untimed call of each version")
            preprocess.warm_up(use, info)
        job.report(0.97, "predicting")
        return preprocess.predict(use, prepared, info)

    job = Job("prediction", f"one image through {len(v.names)} version(s)", estimate or 0.2)
    job.view["wanted"] = (s.digest, prepared.digest)
    return RUNNER.submit(s.token, job, body, prepare=prepare)


def start_edge(s: Session, profiles: list, kept: dict) -> Job:
    """Every version of the session's model under each lab.deploy.edge.DeviceProfile in `profiles`, one job
    in the compute slot; each EdgeRun lands in s.edge_runs under its profile's key as it is done."""
    from dashboard.lab import settings
    from dashboard.lab.deploy import edge

    limits, threads = settings.current().limits, settings.current().threads
    for p in profiles:
        p.check(threads, limits.max_batch_size)
    v = versions(s, kept)
    estimate = _versions_estimate(s, v) + len(profiles) * (1.0 + 1.2 * len(v.names))
    trained = s.trained_model() if v.kept is None else None
    digest, names = s.digest, tuple(v.names)
    # One measured thing, one figure: a profile at the benchmark's threads and batch reads the Compress figures
    # of this model (not a replay's: those were measured on another machine).
    replayed = s.results_note.startswith("a replay")
    known = [] if replayed else copy_results(s.results)
    known_from = "Compress & benchmark" + (f" ({s.results_note})" if s.results_note else "")
    loaded: dict[str, data.Dataset] = {}

    def prepare(job: Job) -> None:
        job.message = "loading the test images"
        loaded["ds"] = s.dataset()

    def body(job: Job) -> list | None:
        use = v.kept
        share = 0.3 if use is None else 0.0
        if use is None:
            use = _make_versions(job, trained, loaded["ds"], v, kept, share)
            if use is None:
                return None
        done = []
        for i, p in enumerate(profiles):
            if job.stopping:
                break
            base, width = share + (1 - share) * i / len(profiles), (1 - share) / len(profiles)
            run = edge.run_profile(use, loaded["ds"], p, energy_settings=s.settings,
                                   on_progress=lambda f, m, p=p: job.report(base + width * f, f"{p.title}: {m}"),
                                   should_stop=lambda: job.stopping, known=known, known_from=known_from)
            if run.stopped:
                break
            run.key = (digest, names)
            with s.lock:
                if s.digest == digest:
                    s.edge_runs[p.key] = run
            done.append(run)
        return done

    def finish(job: Job) -> None:
        n = len(job.result or [])
        if job.state == DONE and n == len(profiles):
            s.notify("success", f"Measured every version under {n} device profile{'s' if n > 1 else ''}.")
        elif job.state in (DONE, STOPPED):
            s.notify("info", f"Stopped ({job.stop_reason or 'stopped'}): {n} of {len(profiles)} profiles measured; "
                             "those are shown.")
        elif job.state == FAILED:
            s.notify("error", f"Measuring under the device profiles failed: {job.error} What you had is kept.")
        elif job.state == CANCELLED:
            s.notify("info", f"Device profiles cancelled before they started ({job.stop_reason}).")

    what = profiles[0].title if len(profiles) == 1 else f"{len(profiles)} device profiles"
    return RUNNER.submit(s.token, Job("edge", f"every version under {what}", estimate), body,
                         prepare=prepare, finish=finish)


# --- a replay: a run measured earlier, loaded at once (the Run of show page) -----------------------

def load_replay(s: Session, name: str) -> Job:
    """The bundled replay `name` (assets/presets/NAME.json, course.replay) as the session's model and
    results, labelled with where and when they were measured, never as measured now. ValueError (one
    line) for a missing or broken replay, Busy while a job runs: the session then keeps what it had.

    A light job in the compute slot: nothing is timed, but the model's inspection, memory and FLOPs
    per layer (predictions and counts, the same on any machine) take about a second of CPU for the
    cnn, which must not land inside another user's measurement."""
    from dashboard.course import replay
    from dashboard.lab.inputs.data import DatasetUnavailable

    from dashboard.service.jobs import Busy

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
                    weights=state_bytes(t.module), digest=weights_digest(t.module))
        s.edge_runs = r.edge_runs_for(s.digest)   # the Edge page's figures, when the replay carries them
        s.evaluation_energy, s.memory, s.layer_flops = None, mem, per_layer
        _adopt_measure(s, MeasureOutcome(record, record.results), note, demo=r.demo)
        readings = [record.training_energy, *(x for res in record.results for e in (res.energy, res.energy_batch1)
                                              if e is not None for x in e.readings)]
        runs.add(s, "replay", dataclasses.replace(record, results=copy_results(record.results)), readings,
                 source=note)
        s.notify("info", f"Loaded *{r.title}*, {note}. Open **Compress & benchmark** or **Training vs "
                         "inference** to show it; **Measure afresh** there measures it on this server now.")

    return RUNNER.submit(s.token, Job("replay", f"loading the replay {name}", 1.5), body, prepare=prepare,
                         finish=finish)


__all__ = ["APP_BENCH", "DEMO_CONFIG", "DEMO_COMPRESS", "DEMO_VARIANTS", "DemoOutcome", "MeasureOutcome",
           "TrainingOutcome", "demo_key", "load_replay", "start_compress", "start_demo", "start_edge", "start_hardware",
           "start_prediction", "start_sensitivity", "start_training"]
