"""The one demo path: train -> compress -> measure (-> energy) -> RunRecord, and the demo's settings.

    record = pipeline.run(TrainConfig(model="cnn", epochs=2), "all",
                          on_progress=lambda f, msg: ..., should_stop=lambda: stop_clicked)

Everything that runs the demo calls `run`: the CLI (`python -m dashboard.lab run`, and the course's
`replay`), the benchmarks, and the app (its "Run the whole demo" and Compress & benchmark jobs, which
add only what a server needs around it: the compute slot, live curves, a Stop, the shared results;
dashboard/service/measuring.py). The app's Train page trains through `train`, the same first stage.

It reports progress as a 0..1 fraction with a message and checks `should_stop()` between steps: a
stopped run returns what it has, with `record.stopped` naming the stage the stop took effect in
("training", "compress", "sensitivity", "measure"). A training that diverges ends the run after
training, `record.stopped == "diverged"`: there is nothing worth compressing or measuring, and its
curves (up to the overflow) and last finite weights are kept; the CLI then exits with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dashboard.lab import energy, hardware, settings
from dashboard.lab.compression.compress import CompressSettings, make_variants, resolve_names
from dashboard.lab.energy.footprint import breakeven_inferences
from dashboard.lab.inputs.data import TRAIN_SIZES, Dataset, load_dataset
from dashboard.lab.measure import layer_flops, memory
from dashboard.lab.measure.bench import BenchSettings, measure
from dashboard.lab.measure.record import RunRecord
from dashboard.lab.training import metered_training
from dashboard.lab.training.inspect import Inspection, inspect_model
from dashboard.lab.training.train import EpochEvent, StepEvent, TrainConfig, TrainedModel, Training

ProgressFn = Callable[[float, str], None]

# --- the demo's settings (the Home page's "Run the whole demo", `replay --demo`, the benchmarks) ------

# Timing windows for the app (the CLI and benchmarks/compress.py measure longer). Three
# interleaved rounds; per-image energy is metered over the same batch-256 windows that give
# the throughput. benchmarks/app.py compares the speed-ups this gives with the long benchmark's.
# A disturbed window is measured again after waiting up to 1 s for a quieter moment, within 15 s for the
# whole measurement: a busy room costs a student seconds, not minutes, and what stays disturbed is labelled.
APP_BENCH = BenchSettings(rounds=3, batch1_min_calls=60, batch1_min_seconds=0.3, batch_min_seconds=0.45,
                          warmup_seconds=0.1, energy=True, energy_mode="rounds", retries=3, quiet_wait_s=1.0,
                          retry_budget_s=15.0)
APP_LAYOUT_SECONDS = 0.2   # per variant: time both memory layouts, keep the faster

# 2 epochs of the default CNN on the bundled digits, one variant per technique, one fine-tune epoch
# after removing channels.
DEMO_CONFIG = TrainConfig(model="cnn", dataset="digits", epochs=2)
DEMO_VARIANTS = ["fp32", "pruned-unstructured-90", "pruned-channels-50", "int8-dynamic", "int8-static"]
DEMO_COMPRESS = CompressSettings(finetune_epochs_channels=1, finetune_epochs_unstructured=0,
                                 layout_seconds=APP_LAYOUT_SECONDS)

# Share of the progress bar per stage (roughly their share of the time of a default run); a run
# without one of them spreads the others over the whole bar.
_WEIGHTS = {"training": 0.35, "compress": 0.30, "sensitivity": 0.05, "measure": 0.30}


def _spans(train: bool, sensitivity: bool) -> dict[str, tuple[float, float]]:
    used = [k for k in _WEIGHTS if (k != "training" or train) and (k != "sensitivity" or sensitivity)]
    total, at, spans = sum(_WEIGHTS[k] for k in used), 0.0, {}
    for k in used:
        spans[k] = (at / total, (at + _WEIGHTS[k]) / total)
        at += _WEIGHTS[k]
    return spans


DEMO_TRAIN_SHARE = _spans(True, False)["training"][1]   # where the demo's training ends on its progress bar


def _stage(progress: ProgressFn, span: tuple[float, float]) -> ProgressFn:
    lo, hi = span
    return lambda f, msg: progress(lo + (hi - lo) * min(max(f, 0.0), 1.0), msg)


# --- the first stage: training --------------------------------------------------------------------

@dataclass
class TrainingStage:
    """A training and what was measured around it."""

    trained: TrainedModel
    steps: list[StepEvent] = field(default_factory=list)
    energy: energy.EnergyReading | None = None              # the training steps (metered_training.SCOPE)
    evaluation_energy: energy.EnergyReading | None = None   # the test evaluations after each epoch
    memory: memory.MemoryComparison | None = None           # describe=True: one training step vs one inference
    layer_flops: layer_flops.FlopsByLayer | None = None     # describe=True: FLOPs layer by layer
    inspection: Inspection | None = None                    # describe=True: predictions, confusion, weights

    @property
    def diverged(self) -> bool:
        return self.trained.outcome is not None and self.trained.outcome.kind == "diverged"


def train(config: TrainConfig, dataset: Dataset, *, metered: bool = True, chunk_s: float = 30.0,
          describe: bool = False, energy_settings: energy.EnergySettings | None = None,
          on_progress: ProgressFn | None = None, should_stop: Callable[[], bool] | None = None,
          on_start: Callable[[Training], None] | None = None,
          on_event: Callable[[StepEvent | EpochEvent], None] | None = None,
          on_piece: Callable[[metered_training.MeteredTraining], None] | None = None) -> TrainingStage:
    """Train `config` on `dataset`; never raises for a diverged run (see TrainingStage.diverged).

    metered: energy in pieces of about `chunk_s` seconds (lab.training.metered_training), `on_piece` after
    each. describe: also what the app's pages show of a model (memory, FLOPs per layer, inspection).
    on_start: the run before its first step (a server hands it its Stop: run.stop ends at the next step).
    """
    progress = on_progress or (lambda f, m: None)
    stop = should_stop or (lambda: False)
    run = Training(config, dataset)
    if on_start is not None:
        on_start(run)
    mem = per_layer = None
    if describe:
        # Neither depends on the weights' values, so they are measured before training (about 0.1 s for
        # the cnn at batch 64 on 2 threads): a Stop stays quick, a run that diverges is measured on finite weights.
        mem = memory.compare_memory(run.module, run.spec.in_shape, batch_size=config.batch_size,
                                    optimizer=config.optimizer, lr=config.lr, device=run.device)
        per_layer = layer_flops.flops_by_layer(run.module, run.spec.in_shape, optimizer=config.optimizer)
    steps: list[StepEvent] = []

    def each(event: StepEvent | EpochEvent) -> None:
        if isinstance(event, StepEvent):
            steps.append(event)
        progress(event.progress, f"training {config.model}: step {event.step:,} of {event.total_steps:,}, "
                                 f"epoch {event.epoch} of {config.epochs}")
        if on_event is not None:
            on_event(event)

    m = metered_training.MeteredTraining()
    if metered:
        m = metered_training.run(run, settings=energy_settings, chunk_s=chunk_s, on_event=each, should_stop=stop,
                                 on_piece=on_piece)
    else:
        for event in run:
            each(event)
            if stop():
                run.stop()
    trained = run.result()
    inspection = inspect_model(trained.module, dataset, layout=trained.layout) if describe else None
    return TrainingStage(trained, steps, m.steps, m.evaluation, mem, per_layer, inspection)


# --- the whole demo -----------------------------------------------------------------------------

def run(config: TrainConfig, variants: str | list[str] = "all", *,
        dataset: Dataset | None = None,
        trained: TrainedModel | None = None,
        compress_settings: CompressSettings | None = None,
        bench_settings: BenchSettings | None = None,
        training_energy: bool = True,
        sensitivity: bool = False,
        energy_settings: energy.EnergySettings | None = None,
        on_progress: ProgressFn | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_train_event: Callable[[StepEvent | EpochEvent], None] | None = None,
        on_train_start: Callable[[Training], None] | None = None,
        on_train_piece: Callable[[metered_training.MeteredTraining], None] | None = None,
        on_trained: Callable[[TrainingStage], None] | None = None,
        chunk_s: float = 30.0,
        describe: bool = False) -> RunRecord:
    """Train (unless `trained` is given), compress into `variants`, measure them, return a RunRecord.

    training_energy: meter the training with energy.meter("training").
    bench_settings.energy: also measure each variant's energy per image (slow), which gives the
    top-level break-even number of inferences. energy_settings: country, watts, PUE for pricing energy.
    on_train_*, chunk_s, describe: as `train`'s on_start, on_event, on_piece, chunk_s, describe;
    on_trained: the TrainingStage as soon as training ends (before compressing).
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
    spans = _spans(trained is None, sensitivity)

    record = RunRecord(config=config.to_dict(), hardware=hardware.describe("cpu").to_dict(),
                       settings={"variants": names, "compress": cs.to_dict(), "bench": bs.to_dict(),
                                 "training_energy": training_energy, "sensitivity": sensitivity})
    # 1. Train, metered.
    t0 = time.perf_counter()
    if trained is None:
        dataset = dataset if dataset is not None else load_dataset(config.dataset, augment=config.augment)
        stage = train(config, dataset, metered=training_energy, chunk_s=chunk_s, describe=describe,
                      energy_settings=energy_settings, on_progress=_stage(progress, spans["training"]),
                      should_stop=stop, on_start=on_train_start, on_event=on_train_event, on_piece=on_train_piece)
        trained, record.training_energy = stage.trained, stage.energy
        if on_trained is not None:
            on_trained(stage)
    elif dataset is None:
        dataset = load_dataset(trained.dataset)
    record.trained = trained
    record.training = trained.summary()
    record.config = trained.config.to_dict()
    record.stage_seconds["training"] = round(time.perf_counter() - t0, 3)
    if trained.outcome is not None and trained.outcome.kind == "diverged":
        record.stopped = "diverged"            # nothing worth compressing or measuring
        return record
    if stop():
        record.stopped = "training"
        return record

    # 2. Compress.
    t0 = time.perf_counter()
    record.variants = make_variants(trained, dataset, names, cs, _stage(progress, spans["compress"]), stop)
    record.stage_seconds["compress"] = round(time.perf_counter() - t0, 3)
    if stop() or len(record.variants) < len(names):
        record.stopped = "compress"
        return record

    # 3. Sensitivity scan (optional).
    if sensitivity:
        from dashboard.lab.compression.sensitivity import scan
        t0 = time.perf_counter()
        record.sensitivity = scan(trained.module, dataset, on_progress=_stage(progress, spans["sensitivity"]),
                                  should_stop=stop).to_dict()
        record.stage_seconds["sensitivity"] = round(time.perf_counter() - t0, 3)
        if stop():
            record.stopped = "sensitivity"
            return record

    # 4. Measure (and per-image energy when asked).
    t0 = time.perf_counter()
    record.results = measure(record.variants, dataset, bs, _stage(progress, spans["measure"]), stop,
                             energy_settings=energy_settings)
    record.stage_seconds["measure"] = round(time.perf_counter() - t0, 3)
    if stop():
        record.stopped = "measure"
    add_breakeven(record)
    progress(1.0, "done")
    return record


def diverged_message(record: RunRecord) -> str | None:
    """What went wrong when the run's training diverged (None otherwise): the CLI's last line."""
    if record.stopped != "diverged":
        return None
    outcome = getattr(record.trained, "outcome", None)
    return outcome.message if outcome is not None else "Training diverged."


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
