"""Training benchmark: the engine's loop against a bare PyTorch loop, and time to 98 % accuracy.

    python benchmarks/train.py [--rounds 3] [--threads 2] [--epochs 6] [--quick] [--json PATH]

1. Throughput, per training mode of the default cnn: (contiguous, fp32), (channels_last,
   fp32) and, where the CPU runs bf16 natively, (channels_last, bf16 autocast). In each mode
   the same model, initial weights, batches, optimizer, schedule and threads are trained for
   `--epochs` epochs by the engine (dashboard.lab.training.train.Training, events and metrics included)
   and by the bare loop below in the same layout and precision, interleaved mode by mode and
   round by round so machine drift hits all alike. Each run is timed from outside with a wall
   clock and includes the same fp32 test-set evaluation after every epoch. Target: engine >=
   0.95x the bare loop of the same layout and precision. Also reported: the test accuracy both
   reach after those epochs, and each mode's engine speed against contiguous fp32.
2. Time to 98 %. The default cnn on the bundled digits with the default settings, wall clock
   from loading the data to the end of the first epoch whose test accuracy is >= 98 %.
   Target: <= 30 s at 2 threads.

`--quick` (one round of one epoch) proves the script works; the figures worth keeping come
from a full run on a quiet machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dashboard  # noqa: E402,F401  first: its OpenMP default must precede torch
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from benchmarks._table import markdown_table, write_json  # noqa: E402
from dashboard.lab import hardware  # noqa: E402
from dashboard.lab.inputs.data import EVAL_BATCH, load_dataset  # noqa: E402
from dashboard.lab.training.models import ModelSpec, build_model  # noqa: E402
from dashboard.lab.training.train import EpochEvent, TrainConfig, Training, precision_choices  # noqa: E402


def bare_run(config: TrainConfig, images: torch.Tensor, labels: torch.Tensor,
             test_images: torch.Tensor, test_labels: torch.Tensor) -> float:
    """`config.epochs` epochs the way a PyTorch tutorial writes them, in the config's layout and
    precision, with a test evaluation after each; returns the final test accuracy. Same initial
    weights and batches as the engine (its generators are seeded the same way: run_generators)."""
    model = build_model(ModelSpec(config.model), generator=torch.Generator().manual_seed(config.seed))
    fmt = torch.channels_last if config.layout == "channels_last" else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    steps = (len(labels) + config.batch_size - 1) // config.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, steps * config.epochs)
    gen = torch.Generator().manual_seed(config.seed)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if config.precision == "bf16" \
        else contextlib.nullcontext
    for _ in range(config.epochs):
        order = torch.randperm(len(labels), generator=gen)
        model.train()
        for start in range(0, len(labels), config.batch_size):
            idx = order[start:start + config.batch_size]
            with autocast():
                loss = F.cross_entropy(model(images[idx].contiguous(memory_format=fmt)), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.inference_mode():
            # The engine's evaluation batch (EVAL_BATCH): the comparison is of the training loops.
            correct = sum(int((model(test_images[i:i + EVAL_BATCH].contiguous(memory_format=fmt)).argmax(1)
                               == test_labels[i:i + EVAL_BATCH]).sum())
                          for i in range(0, len(test_labels), EVAL_BATCH))
    return correct / len(test_labels)


def engine_run(config: TrainConfig, dataset) -> tuple[float, float]:
    """(wall seconds of iterating the whole run, final test accuracy)."""
    run = Training(config, dataset)
    start = time.perf_counter()
    for event in run:
        pass
    return time.perf_counter() - start, event.test_accuracy


def modes(threads: int, epochs: int) -> list[TrainConfig]:
    """The cnn's training modes worth comparing on this CPU: fp32 in both layouts, bf16 where native."""
    base = TrainConfig(epochs=epochs, threads=threads, device="cpu")
    found = [replace(base, layout="contiguous"), replace(base, layout="channels_last")]
    if "bf16" in precision_choices("cpu"):
        found.append(replace(base, layout="channels_last", precision="bf16"))
    return found


def mode_name(config: TrainConfig) -> str:
    return f"{config.layout} {config.precision}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=6, help="epochs per throughput run (default 6)")
    parser.add_argument("--quick", action="store_true", help="one round of one epoch: proves the script works")
    parser.add_argument("--json", type=Path, default=None, help="where to write the JSON "
                        "(default benchmarks/results/train.json)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.epochs = 1, 1
    torch.set_num_threads(args.threads)

    dataset = load_dataset("digits")
    configs = modes(args.threads, args.epochs)
    # The bare loop gets its data ready-made: normalised once, outside the timed window.
    images = dataset.prepare(dataset.train_images)
    test_images, test_labels = dataset.test_tensors()
    n = dataset.n_train

    engine_ips = {mode_name(c): [] for c in configs}
    bare_ips = {mode_name(c): [] for c in configs}
    accuracy: dict[str, dict[str, float]] = {}
    warm = dataset.subset(1024, None)  # warm-up: first-call allocations and kernel selection
    for c in configs:
        short = replace(c, epochs=1)
        engine_run(short, warm)
        bare_run(short, images[:1024], dataset.train_labels[:1024], test_images, test_labels)
    for r in range(args.rounds):
        for c in configs:
            name = mode_name(c)
            # Alternate which goes first: a drift within a round then favours neither side.
            for side in (("engine", "bare") if r % 2 == 0 else ("bare", "engine")):
                if side == "engine":
                    seconds, engine_acc = engine_run(c, dataset)
                    engine_ips[name].append(n * c.epochs / seconds)
                else:
                    start = time.perf_counter()
                    bare_acc = bare_run(c, images, dataset.train_labels, test_images, test_labels)
                    bare_ips[name].append(n * c.epochs / (time.perf_counter() - start))
            accuracy[name] = {"engine": engine_acc, "bare": bare_acc}
            print(f"round {r + 1}, {name}: engine {engine_ips[name][-1]:,.0f} img/s, "
                  f"bare {bare_ips[name][-1]:,.0f} img/s", file=sys.stderr)
    ratios = {k: statistics.median(engine_ips[k]) / statistics.median(bare_ips[k]) for k in engine_ips}
    reference = statistics.median(engine_ips[mode_name(configs[0])])  # contiguous fp32
    default_mode = mode_name(replace(configs[0], layout="channels_last"))  # what layout "auto" picks here
    ratio = ratios[default_mode]

    # Time to 98 %: everything a user waits for, from loading the data on.
    start = time.perf_counter()
    default = TrainConfig(threads=args.threads)
    run = Training(default, load_dataset(default.dataset))
    reached_s = reached_epoch = None
    curve = []
    for event in run:
        if isinstance(event, EpochEvent):
            curve.append({"epoch": event.epoch, "test_accuracy": event.test_accuracy,
                          "wall_s": round(time.perf_counter() - start, 2)})
            if event.test_accuracy >= 0.98 and reached_s is None:
                reached_s, reached_epoch = time.perf_counter() - start, event.epoch
                break
    best = max(c["test_accuracy"] for c in curve)

    hw = hardware.describe("cpu")
    mode_rows = []
    for c in configs:
        k = mode_name(c)
        e, b_ = statistics.median(engine_ips[k]), statistics.median(bare_ips[k])
        mode_rows.append([k, f"{e:,.0f}", f"{b_:,.0f}", f"{ratios[k]:.3f}x", ">= 0.95x",
                          "PASS" if ratios[k] >= 0.95 else "FAIL",
                          f"{accuracy[k]['engine']:.2%} / {accuracy[k]['bare']:.2%}", f"{e / reference:.2f}x"])
    rows = [
        ["engine throughput, default (median of rounds)", f"{statistics.median(engine_ips[default_mode]):,.0f} images/s", "", ""],
        ["bare PyTorch loop, same layout and precision", f"{statistics.median(bare_ips[default_mode]):,.0f} images/s", "", ""],
        ["engine / bare", f"{ratio:.3f}x", ">= 0.95x", "PASS" if ratio >= 0.95 else "FAIL"],
        ["default cnn: time to 98 % test accuracy",
         f"{reached_s:.1f} s (epoch {reached_epoch})" if reached_s else f"not reached (best {best:.2%})",
         "<= 30 s", "PASS" if reached_s and reached_s <= 30 else "FAIL"],
    ]
    print(f"\nTraining benchmark: {hw.cpu}, {args.threads} threads, torch {hw.torch} ({hw.torch_build}), "
          f"default cnn, batch {default.batch_size}, bundled digits ({n} training images), "
          f"{args.rounds} round(s) of {args.epochs} epoch(s) per mode\n")
    print(markdown_table(["layout, precision", "engine images/s", "bare images/s", "engine / bare", "target", "",
                          f"test accuracy after {args.epochs} epoch(s), engine / bare", "engine vs contiguous fp32"],
                         mode_rows))
    print()
    print(markdown_table(["measure", "result", "target", ""], rows))
    payload = {
        "hardware": hw.to_dict(),
        "config": default.to_dict(),
        "throughput": {"layout": "channels_last", "precision": "fp32", "epochs": args.epochs,
                       "engine_images_per_second": engine_ips[default_mode],
                       "bare_images_per_second": bare_ips[default_mode],
                       "ratio_of_medians": ratio, "target": 0.95, "pass": ratio >= 0.95},
        "modes": [{"layout": c.layout, "precision": c.precision, "epochs": c.epochs,
                   "engine_images_per_second": engine_ips[mode_name(c)],
                   "bare_images_per_second": bare_ips[mode_name(c)],
                   "ratio_of_medians": ratios[mode_name(c)], "target": 0.95, "pass": ratios[mode_name(c)] >= 0.95,
                   "engine_test_accuracy": accuracy[mode_name(c)]["engine"],
                   "bare_test_accuracy": accuracy[mode_name(c)]["bare"],
                   "engine_speed_vs_contiguous_fp32": statistics.median(engine_ips[mode_name(c)]) / reference}
                  for c in configs],
        "time_to_98": {"seconds": reached_s, "epoch": reached_epoch, "curve": curve,
                       "target_seconds": 30, "pass": bool(reached_s and reached_s <= 30)},
    }
    if args.json:
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        path = args.json
    else:
        path = write_json("train", payload)
    print(f"\nJSON written to {path}")


if __name__ == "__main__":
    main()
