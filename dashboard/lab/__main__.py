"""Command line: the engine without the app.

    python -m dashboard.lab train --model cnn --dataset digits --epochs 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import hardware
from .data import DATASET_NAMES, DEFAULT_DATASET, DatasetUnavailable
from .models import DEFAULT_MODEL, MODEL_NAMES
from .progress import ProgressBar
from .train import OPTIMIZERS, SCHEDULES, EpochEvent, TrainConfig, Training, TrainingDiverged


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
    return parser


def train_with_progress(config: TrainConfig, quiet: bool = False):
    """Drive the training iterator with a progress bar on stderr; return the TrainedModel."""
    run = Training(config)
    bar = ProgressBar(f"train {config.model} on {config.dataset}", quiet=quiet)
    for event in run:
        if isinstance(event, EpochEvent):
            bar.log(f"epoch {event.epoch}/{event.epochs}: train loss {event.train_loss:.4f}, "
                    f"test accuracy {event.test_accuracy:.2%}, {event.images_per_second:,.0f} images/s")
        else:
            bar.update(event.progress, f"loss {event.loss:.3f}  {event.images_per_second:,.0f} img/s")
    bar.close()
    return run.result()


def cmd_train(args: argparse.Namespace) -> int:
    config = config_from_args(args)
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


def write_json(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results written to {path}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
