"""The whole demo as one function: train -> compress -> measure (-> energy) -> RunRecord.

    record = pipeline.run(TrainConfig(model="cnn", epochs=2), "all",
                          on_progress=lambda f, msg: ..., should_stop=lambda: stop_clicked)

The `run` CLI command and the app's "Run the whole demo" job both call it (the app's job holds
the compute slot around it, service.jobs). It reports progress as a 0..1 fraction with a message,
and checks `should_stop()` between steps: a stopped run returns what it has, with `record.stopped` naming the stage the
stop took effect in ("training", "compress", "sensitivity", "measure").
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dashboard.lab import energy, hardware, settings
from dashboard.lab.training import metered_training
from dashboard.lab.measure.bench import BenchSettings, measure
from dashboard.lab.compression.compress import CompressSettings, make_variants, resolve_names
from dashboard.lab.inputs.data import TRAIN_SIZES, Dataset, load_dataset
from dashboard.lab.energy.footprint import breakeven_inferences
from dashboard.lab.measure.record import RunRecord
from dashboard.lab.training.train import TrainConfig, TrainedModel, Training, TrainingDiverged

ProgressFn = Callable[[float, str], None]

# Share of the progress bar per stage (roughly their share of the time of a default run).
_STAGES = {"training": (0.0, 0.35), "compress": (0.35, 0.65), "sensitivity": (0.65, 0.7), "measure": (0.7, 1.0)}


def _stage(progress: ProgressFn, stage: str) -> ProgressFn:
    lo, hi = _STAGES[stage]
    return lambda f, msg: progress(lo + (hi - lo) * min(max(f, 0.0), 1.0), msg)


def run(config: TrainConfig, variants: str | list[str] = "all", *,
        dataset: Dataset | None = None,
        trained: TrainedModel | None = None,
        compress_settings: CompressSettings | None = None,
        bench_settings: BenchSettings | None = None,
        training_energy: bool = True,
        sensitivity: bool = False,
        on_progress: ProgressFn | None = None,
        on_train_event: Callable[[object], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        energy_settings: energy.EnergySettings | None = None) -> RunRecord:
    """Train (unless `trained` is given), compress into `variants`, measure them, return a RunRecord.

    training_energy: meter the training with energy.meter("training").
    bench_settings.energy: also measure each variant's energy per image (slow), which gives the
    top-level break-even number of inferences. energy_settings: country, watts, PUE for pricing energy.
    """
    names = resolve_names(variants)          # a bad name fails before any work
    config.validate()
    cs = compress_settings or CompressSettings()
    cs.validate()
    n_train = dataset.n_train if dataset is not None else TRAIN_SIZES.get(config.dataset, 0)
    check_budget(config, n_train, names, cs, train=trained is None)
    bs = bench_settings or BenchSettings(threads=config.threads)
    bs.validate()
    progress = on_progress or (lambda f, m: None)
    stop = should_stop or (lambda: False)

    record = RunRecord(config=config.to_dict(), hardware=hardware.describe("cpu").to_dict(),
                       settings={"variants": names, "compress": cs.to_dict(), "bench": bs.to_dict(),
                                 "training_energy": training_energy, "sensitivity": sensitivity})
    # 1. Train, metered.
    t0 = time.perf_counter()
    if trained is None:
        dataset = dataset if dataset is not None else load_dataset(config.dataset, augment=config.augment)
        trained, record.training_energy = _train(config, dataset, _stage(progress, "training"),
                                                 on_train_event, stop, training_energy, energy_settings)
    elif dataset is None:
        dataset = load_dataset(trained.dataset)
    record.trained = trained
    record.training = trained.summary()
    record.config = trained.config.to_dict()
    record.stage_seconds["training"] = round(time.perf_counter() - t0, 3)
    if stop():
        record.stopped = "training"
        return record

    # 2. Compress.
    t0 = time.perf_counter()
    record.variants = make_variants(trained, dataset, names, cs, _stage(progress, "compress"), stop)
    record.stage_seconds["compress"] = round(time.perf_counter() - t0, 3)
    if stop() or len(record.variants) < len(names):
        record.stopped = "compress"
        return record

    # 3. Sensitivity scan (optional).
    if sensitivity:
        from dashboard.lab.compression.sensitivity import scan
        t0 = time.perf_counter()
        record.sensitivity = scan(trained.module, dataset, on_progress=_stage(progress, "sensitivity"),
                                  should_stop=stop).to_dict()
        record.stage_seconds["sensitivity"] = round(time.perf_counter() - t0, 3)
        if stop():
            record.stopped = "sensitivity"
            return record

    # 4. Measure (and per-image energy when asked).
    t0 = time.perf_counter()
    record.results = measure(record.variants, dataset, bs, _stage(progress, "measure"), stop,
                             energy_settings=energy_settings)
    record.stage_seconds["measure"] = round(time.perf_counter() - t0, 3)
    if stop():
        record.stopped = "measure"
    add_breakeven(record)
    progress(1.0, "done")
    return record


def job_images(config: TrainConfig, n_train: int, names: list[str] | None = None,
               compress_settings: CompressSettings | None = None, *, train: bool = True) -> int:
    """Images through forward+backward one request costs: training, fine-tuning, distillation."""
    used = min(n_train, config.train_images or n_train)
    total = config.epochs * used if train else 0
    if names:
        total += (compress_settings or CompressSettings()).training_images(names, used, config.epochs)
    return total


def check_budget(config: TrainConfig, n_train: int, names: list[str] | None = None,
                 compress_settings: CompressSettings | None = None, *, train: bool = True) -> int:
    """Raise settings.LimitExceeded when one request would train on more images than this server allows."""
    images = job_images(config, n_train, names, compress_settings, train=train)
    settings.check(images, settings.current().limits.max_job_images,
                   "The training work this asks for (epochs x images, with fine-tuning and distillation)",
                   "MAX_JOB_IMAGES")
    return images


def _train(config: TrainConfig, dataset: Dataset, progress: ProgressFn,
           on_event: Callable[[object], None] | None, stop: Callable[[], bool], metered: bool,
           settings: energy.EnergySettings | None = None) -> tuple[TrainedModel, energy.EnergyReading | None]:
    """Train; when `metered`, the energy of the training steps (lab.training.metered_training.SCOPE)."""
    def each(event) -> None:
        progress(event.progress, f"training: epoch {event.epoch}, step {event.step}/{event.total_steps}")
        if on_event is not None:
            on_event(event)

    run = Training(config, dataset)
    if metered:
        reading = metered_training.run(run, settings=settings, chunk_s=30.0, on_event=each, should_stop=stop).steps
    else:
        reading = None
        for event in run:
            each(event)
            if stop():
                run.stop()
    trained = run.result()
    if trained.outcome is not None and trained.outcome.kind == "diverged":
        raise TrainingDiverged(trained.outcome.message)  # nothing worth compressing or measuring
    return trained, reading


def breakeven(training_joules: float, joules_per_inference: float) -> float | None:
    """Inferences after which inference has used as much energy as training did (None if unknowable)."""
    try:
        return breakeven_inferences(training_joules, joules_per_inference)
    except ValueError:
        return None


def add_breakeven(record: RunRecord) -> None:
    """Per-variant and top-level (fp32, else the first measured) break-even inference counts,
    from record.training_energy and each result's energy block."""
    if record.training_energy is None or not record.training_energy.joules:
        return
    joules = record.training_energy.joules
    for r in record.results:
        if r.energy and r.energy.joules_per_image:
            r.breakeven_inferences = breakeven(joules, r.energy.joules_per_image)
    measured = [r for r in record.results if r.breakeven_inferences]
    chosen = next((r for r in measured if r.name == "fp32"), measured[0] if measured else None)
    if chosen is not None:
        record.breakeven_inferences = chosen.breakeven_inferences
        record.breakeven_variant = chosen.name
