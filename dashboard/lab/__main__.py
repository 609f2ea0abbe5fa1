"""Command line: the engine without the app.

    python -m dashboard.lab train --model cnn --dataset digits --epochs 2 --json out.json
    python -m dashboard.lab run --model cnn --dataset digits --epochs 2 --variants all --json out.json

Both go through the one demo path (lab.pipeline). A replay for presenters is the course's command
(`python -m dashboard.course replay`), built from the argument helpers here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dashboard.lab import energy, hardware, settings
from dashboard.lab.inputs.data import DATASET_NAMES, DEFAULT_DATASET, DatasetUnavailable
from dashboard.lab.training.models import DEFAULT_MODEL, MODEL_NAMES
from dashboard.lab.progress import progress_bar
from dashboard.lab.training.train import OPTIMIZERS, SCHEDULES, EpochEvent, TrainConfig, Training, TrainingDiverged


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(2)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def add_training_args(p: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    p.add_argument("--model", choices=MODEL_NAMES, default=DEFAULT_MODEL, help="model to train (default: %(default)s)")
    p.add_argument("--dataset", choices=DATASET_NAMES, default=DEFAULT_DATASET,
                   help="dataset; 'digits' is bundled and works offline, the others download (default: %(default)s)")
    p.add_argument("--epochs", type=_positive_int, default=d.epochs, help="passes over the training set (default: %(default)s)")
    p.add_argument("--batch-size", type=_positive_int, default=d.batch_size, help="images per step (default: %(default)s)")
    p.add_argument("--lr", type=_positive_float, default=d.lr, help="(peak) learning rate (default: %(default)s)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer, help="adam, or sgd with momentum 0.9 (default: %(default)s)")
    p.add_argument("--schedule", choices=SCHEDULES, default=d.schedule, help="learning-rate schedule (default: %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed; same seed, same result on CPU (default: %(default)s)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                   help="auto picks CUDA, then Apple MPS, then the CPU (default: %(default)s)")
    p.add_argument("--threads", type=_positive_int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--augment", action="store_true", help="random shifts and rotations of training images")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(model=args.model, dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size,
                       lr=args.lr, optimizer=args.optimizer, schedule=args.schedule, seed=args.seed,
                       device=args.device, threads=args.threads, augment=args.augment)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m dashboard.lab",
                     description="Train & Infer Lab engine: train, compress and measure small vision models.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("train", help="train one model and report time, throughput, accuracy and FLOPs",
                       description="Train one model and report time, throughput, accuracy and FLOPs.")
    add_training_args(p)
    p.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON here")
    p.add_argument("--save", type=Path, metavar="PATH", help="save the trained model (.pt) here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("run", help="train, compress into variants, measure them side by side",
                       description="Train, compress (pruning, quantization, distillation) and measure every "
                                   "variant: accuracy, size, latency, throughput and energy.")
    add_training_args(p)
    add_run_args(p)
    p.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)

    return parser


def add_run_args(p: argparse.ArgumentParser) -> None:
    from dashboard.lab.compression.compress import ALL_VARIANTS, CompressSettings, name_help

    c = CompressSettings()
    p.add_argument("--variants", default="all", metavar="LIST",
                   help=f"comma list of variants, or 'all' ({','.join(ALL_VARIANTS)}); names: {name_help()} "
                        "(default: %(default)s)")
    p.add_argument("--finetune-epochs", type=int, default=c.finetune_epochs_channels,
                   help="fine-tune epochs after channel pruning (default: %(default)s)")
    p.add_argument("--finetune-epochs-unstructured", type=int, default=c.finetune_epochs_unstructured,
                   help="fine-tune epochs after unstructured pruning (default: %(default)s)")
    p.add_argument("--temperature", type=_positive_float, default=c.distill_temperature,
                   help="distillation temperature (default: %(default)s)")
    p.add_argument("--alpha", type=float, default=c.distill_alpha,
                   help="distillation: weight of the teacher's soft targets, 0..1 (default: %(default)s)")
    p.add_argument("--distill-epochs", type=_positive_int, default=None,
                   help="epochs for the student models (default: as many as the teacher)")
    p.add_argument("--rounds", type=_positive_int, default=5, help="interleaved timing rounds (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="short timing windows: rough numbers, fast")
    p.add_argument("--no-energy", action="store_true", help="skip energy metering (training and per-image)")
    p.add_argument("--energy-seconds", type=_positive_float, default=1.0,
                   help="per-image energy: seconds per metered window (default: %(default)s)")
    p.add_argument("--energy-repeats", type=_positive_int, default=3,
                   help="per-image energy: metered windows per variant (default: %(default)s)")
    p.add_argument("--sensitivity", action="store_true", help="also scan per-layer pruning sensitivity")


def run_settings_from_args(args: argparse.Namespace):
    """The compress and benchmark settings of `run` and the course's `replay` (add_run_args)."""
    from dashboard.lab.measure.bench import BenchSettings
    from dashboard.lab.compression.compress import CompressSettings

    cs = CompressSettings(finetune_epochs_channels=args.finetune_epochs,
                          finetune_epochs_unstructured=args.finetune_epochs_unstructured,
                          distill_temperature=args.temperature, distill_alpha=args.alpha,
                          distill_epochs=args.distill_epochs)
    timing = {"rounds": args.rounds, "threads": args.threads, "energy": not args.no_energy,
              "energy_min_seconds": args.energy_seconds, "energy_repeats": args.energy_repeats}
    return cs, BenchSettings.quick(**timing) if args.quick else BenchSettings(**timing)


def train_with_progress(config: TrainConfig, quiet: bool = False):
    """Drive the training iterator with a progress bar on stderr; return the TrainedModel."""
    run = Training(config)
    with progress_bar(f"train {config.model} on {config.dataset}", quiet=quiet) as bar:
        for event in run:
            if isinstance(event, EpochEvent):
                bar.log(f"epoch {event.epoch}/{event.epochs}: train loss {event.train_loss:.4f}, "
                        f"test accuracy {event.test_accuracy:.2%}, {event.images_per_second:,.0f} images/s")
            else:
                bar.update(event.progress, f"loss {event.loss:.3f}  {event.images_per_second:,.0f} img/s")
    return _or_raise_diverged(run.result())


def _or_raise_diverged(trained):
    """The CLI ends with the reason when the loss blew up (the app keeps the run to show its curves)."""
    if trained.outcome is not None and trained.outcome.kind == "diverged":
        raise TrainingDiverged(trained.outcome.message)
    return trained


def cmd_train(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    config.validate()
    check_writable(args.json, "--json")
    check_writable(args.save, "--save")
    trained = train_with_progress(config, args.quiet)
    report = {"hardware": hardware.describe(config.device).to_dict(), "training": trained.summary()}
    t = report["training"]
    print(f"{t['model']} on {t['dataset']}: test accuracy {t['test_accuracy']:.2%} after {t['epochs_completed']} "
          f"epochs in {t['seconds']:.1f} s ({t['images_per_second']:,.0f} training images/s, "
          f"{report['hardware']['threads']} threads, {report['hardware']['device']})")
    print(f"params {t['params']:,}; FLOPs per image: inference {t['inference_flops_per_image'] / 1e6:.1f} M, "
          f"training step {t['train_flops_per_image'] / 1e6:.1f} M")
    if args.save:
        trained.save(args.save)
        print(f"model saved to {args.save}")
    if args.json:
        write_json(args.json, report)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from dashboard.lab import pipeline
    from dashboard.lab.measure.bench import markdown
    from dashboard.lab.compression.compress import resolve_names

    names = resolve_names(args.variants)  # unknown names: one line, before any training
    config = config_from_args(args)
    check_writable(args.json, "--json")
    cs, bs = run_settings_from_args(args)
    with progress_bar(f"run {config.model} on {config.dataset}", quiet=args.quiet) as bar:
        def log_epoch(event) -> None:
            if isinstance(event, EpochEvent):
                bar.log(f"epoch {event.epoch}/{event.epochs}: train loss {event.train_loss:.4f}, "
                        f"test accuracy {event.test_accuracy:.2%}")

        record = pipeline.run(config, names, compress_settings=cs, bench_settings=bs,
                              training_energy=not args.no_energy, sensitivity=args.sensitivity,
                              on_progress=bar.update, on_train_event=log_epoch)
    if (why := pipeline.diverged_message(record)) is not None:
        raise TrainingDiverged(why)   # the app keeps such a run to show its curves; here it ends with the reason
    report = record.to_dict()
    t = report["training"]
    print(f"{t['model']} on {t['dataset']}: test accuracy {t['test_accuracy']:.2%} after {t['epochs_completed']} "
          f"epochs in {t['seconds']:.1f} s; timings at {next((r.threads for r in record.results if r.threads), '?')} "
          f"threads on {report['hardware']['cpu']} ({', '.join(report['hardware']['features']) or 'no SIMD extras'})\n")
    print(markdown(record.results))
    if record.training_energy:
        e = record.training_energy
        print(f"\ntraining energy: {e.joules:.1f} J, {e.co2_grams:.4f} g CO2e ({e.method})")
    if record.breakeven_inferences:
        e = next((r.energy for r in record.results if r.name == record.breakeven_variant and r.energy), None)
        kind = energy.kind(e, record.training_energy) if e and record.training_energy else "estimated"
        print(f"break-even ({kind}): {record.breakeven_inferences:,.0f} inferences of {record.breakeven_variant} use "
              "as much energy as the training did")
    if args.json:
        write_json(args.json, report)
    return 0


def check_writable(path: Path | None, option: str) -> None:
    """Fail before any work when an output file cannot be written (not after minutes of training)."""
    if path is None:
        return
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise ValueError(f"cannot write {option} {path}: {exc.strerror or exc}") from exc
    if not existed:
        path.unlink()


def write_json(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results written to {path}")


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), argv)


def run_command(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse and run one command: the settings' problems as warnings, a user's error as one line, exit 1
    (the course's command line runs its `replay` this way too)."""
    args = parser.parse_args(argv)
    for problem in settings.errors():
        sys.stderr.write(f"warning: {problem}\n")
    try:
        return args.func(args)
    except (DatasetUnavailable, TrainingDiverged, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
