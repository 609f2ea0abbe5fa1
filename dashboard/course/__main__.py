"""Command line of the course: replays for presenters (course.replay), made by the one demo path.

    python -m dashboard.course replay --demo --threads 2 --out assets/presets/demo.json   # the Home demo
    python -m dashboard.course replay ... --edge --out assets/presets/lesson.json   # with the device profiles too

It trains, compresses and measures as `python -m dashboard.lab run` does (lab.pipeline.run; the
options are the lab CLI's own), then writes the run record plus the trained weights, which the
app's Run of show page loads at once, labelled with where and when it was measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
from pathlib import Path

from dashboard.course import replay
from dashboard.lab import pipeline, settings
from dashboard.lab.__main__ import (
    _Parser,
    add_run_args,
    add_training_args,
    check_writable,
    config_from_args,
    run_command,
    run_settings_from_args,
    write_json,
)
from dashboard.lab.compression.compress import resolve_names
from dashboard.lab.measure.bench import markdown
from dashboard.lab.progress import progress_bar
from dashboard.lab.training.train import EpochEvent, TrainingDiverged


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m dashboard.course",
                     description="Train & Infer Lab course: replays a presenter's app loads at once.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("replay", help="run as `python -m dashboard.lab run` does and save it as a replay",
                       description="Train, compress and measure as `python -m dashboard.lab run` does, then "
                                   "write a replay: the run record plus the trained weights, which the app's "
                                   "Run of show page loads instantly, labelled with where and when it was "
                                   "measured.")
    add_training_args(p)
    add_run_args(p)
    p.add_argument("--demo", action="store_true",
                   help="the Home page's 'Run the whole demo' settings and the app's timing windows "
                        "(the training and run options above are then ignored, except --threads)")
    p.add_argument("--edge", action="store_true",
                   help="also measure every version under the default device profiles (Edge & cloud's cloud, "
                        "laptop, phone-class and microcontroller-class) and keep them in the replay")
    p.add_argument("--out", type=Path, metavar="PATH", required=True,
                   help="the replay's JSON file; bundled replays live in assets/presets/NAME.json")
    p.add_argument("--name", default=None, help="the replay's name (default: the file's name without .json)")
    p.add_argument("--title", default=None, help="one line saying what it shows (default: from the settings)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_replay)
    return parser


def cmd_replay(args: argparse.Namespace) -> int:
    if args.demo:
        config = dataclasses.replace(pipeline.DEMO_CONFIG, threads=args.threads)
        names, cs = list(pipeline.DEMO_VARIANTS), pipeline.DEMO_COMPRESS
        bs = dataclasses.replace(pipeline.APP_BENCH, threads=args.threads)
        title = args.title or "The Home page's demo: a CNN trained 2 epochs on the digits, 4 compressed versions"
    else:
        names = resolve_names(args.variants)
        config = config_from_args(args)
        cs, bs = run_settings_from_args(args)
        made = len(names) - ("fp32" in names)
        title = args.title or (f"{config.model} trained {config.epochs} epoch{'s' if config.epochs != 1 else ''} on "
                               f"{config.dataset}, {made} compressed version{'s' if made != 1 else ''}")
    name = args.name or args.out.name.removesuffix(".json")
    if not replay._NAME.fullmatch(name):
        raise ValueError(f"a replay's name is lower-case letters, digits and '-', not {name!r} (see --name)")
    check_writable(args.out, "--out")
    # A replay stands for this machine's speed in front of a room: other programs' work would be in it.
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    cores = os.cpu_count() or 1
    if load > 0.5 * cores:
        sys.stderr.write(f"warning: this machine is busy (load average {load:.1f} on {cores} CPUs): other programs' "
                         "work will show in the timings; make replays on a quiet machine\n")
    stages: list[pipeline.TrainingStage] = []
    with progress_bar(f"replay {config.model} on {config.dataset}", quiet=args.quiet) as bar:
        def on_event(event) -> None:
            if isinstance(event, EpochEvent):
                bar.log(f"epoch {event.epoch}/{event.epochs}: train loss {event.train_loss:.4f}, "
                        f"test accuracy {event.test_accuracy:.2%}")

        record = pipeline.run(config, names, compress_settings=cs, bench_settings=bs, training_energy=bs.energy,
                              on_progress=bar.update, on_train_event=on_event, on_trained=stages.append)
        if (why := pipeline.diverged_message(record)) is not None:
            raise TrainingDiverged(why)
        edge_runs = (_edge_runs(record, args.threads or settings.current().threads, bs.energy, args.quick, bar)
                     if args.edge else [])
    # How it was made, when run as `python -m dashboard.course` (main() called from Python has no such line).
    command = ("python -m dashboard.course " + shlex.join(sys.argv[1:])
               if sys.argv and sys.argv[0].endswith("__main__.py") else "")
    doc = replay.make(record, name=name, title=title, steps=stages[0].steps, demo=args.demo, command=command,
                      edge_runs=edge_runs)
    doc["replay"]["load_average_at_start"] = round(load, 2)
    write_json(args.out, doc)
    size = args.out.stat().st_size
    w = doc["replay"]["weights"]
    print(markdown(record.results))
    print(f"replay {name!r}: {size / 1e6:.2f} MB, weights as {w['dtype']}"
          + (f" (the same answer as the measured model on {100 * w['agreement_with_measured']:.2f} % of the test "
             "images)" if w["agreement_with_measured"] is not None else ""))
    for run in edge_runs:
        print(f"{run.profile.title}: {len(run.fitting)} of {len(run.fits)} versions fit"
              + (f" (the most accurate: {run.best_fit.name})" if run.best_fit else ""))
    print(f"shown as: {replay.read(args.out.read_bytes(), name).label}")
    if size > 2_000_000:
        sys.stderr.write(f"warning: {args.out} is over 2 MB; every copy of the app carries it\n")
    return 0


def _edge_runs(record, threads: int, metered: bool, quick: bool, bar) -> list:
    """Every version of a finished run under each default device profile, as the Edge & cloud page measures
    them (lab.deploy.edge.run_profile), for a replay; `quick`: one short round each, short waits for quiet. Empty when the run did not
    finish."""
    from dashboard.lab.deploy import edge
    from dashboard.lab.inputs.data import load_dataset

    if record.stopped or record.trained is None:
        return []
    dataset = load_dataset(record.trained.dataset)
    timed = dataclasses.replace(edge.PROFILE_BENCH, energy=metered)
    if quick:
        timed = dataclasses.replace(timed, rounds=1, batch1_min_calls=5, batch1_min_seconds=0.01,
                                    batch_min_seconds=0.01, warmup_seconds=0.0, quiet_wait_s=0.2, retry_budget_s=2.0)
    runs = []
    for profile in edge.default_profiles(threads).values():
        bar.log(f"device profile: {profile.title}")
        runs.append(edge.run_profile(record.variants, dataset, profile, settings=timed))
    return runs


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
