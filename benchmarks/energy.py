"""Energy benchmark: training energy vs per-image inference energy, and how steady the latter is.

    python benchmarks/energy.py [--threads 2] [--repeats 5] [--min-seconds 2] [--country WORLD]

1. Training. The default cnn on the bundled digits (TrainConfig(threads=2) otherwise default),
   metered as the app meters it (lab.training.metered_training): the training steps, with the per-epoch
   test evaluation metered apart and reported beside them.
2. Inference. The fp32 baseline (the trained model in its faster memory layout, as in
   compress.make_variants) at batch 256 on the test images: per-image energy from
   energy.per_image (3 warm-up batches, then 5 metered windows of >= 2 s). Target: spread
   (max / min of the 5 per-image figures) <= 1.25.
3. Break-even: training energy / per-image inference energy = how many images the model must
   classify before inference has used as much energy as training did.

Where the host has no energy counters (containers, VMs), CodeCarbon estimates from CPU time and
the table says "estimated" with the wattage it assumed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dashboard  # noqa: E402,F401  first: its OpenMP default must precede torch
import torch  # noqa: E402

from benchmarks._table import markdown_table, write_json  # noqa: E402
from dashboard.lab import energy, hardware  # noqa: E402
from dashboard.lab.compression import compress
from dashboard.lab.energy import footprint
from dashboard.lab.training import metered_training
from dashboard.lab.inputs.data import load_dataset  # noqa: E402
from dashboard.lab.training.train import TrainConfig, Training  # noqa: E402

BATCH = 256
TARGET_SPREAD = 1.25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=2.0)
    parser.add_argument("--country", default=None, help="ISO-3 code for the grid (default: configured, else WORLD)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = energy.EnergySettings() if args.country is None else energy.EnergySettings(country_iso=args.country.upper())

    energy.warm_up()  # CodeCarbon's one-off hardware detection, outside every measurement
    dataset = load_dataset("digits")
    config = TrainConfig(threads=args.threads)
    # Metered as the app meters it: the training steps apart from the per-epoch test evaluation.
    run = Training(config, dataset)
    metered = metered_training.run(run, settings=settings, chunk_s=30.0)
    trained, training = run.result(), metered.steps
    print(f"training steps: {training.duration_s:.1f} s, {training.joules:,.1f} J; per-epoch evaluation "
          f"{metered.evaluation.joules:,.1f} J; test accuracy {trained.test_accuracy:.2%}", file=sys.stderr)

    # The fp32 baseline as everywhere else: the trained model in its faster memory layout.
    model = compress.make_variants(trained, dataset, ["fp32"], compress.CompressSettings())[0]
    images = dataset.prepare(dataset.test_images)
    batches = [images[i:i + BATCH] for i in range(0, len(images) - BATCH + 1, BATCH)]
    position = 0

    def run_batch() -> int:
        nonlocal position
        x = batches[position % len(batches)]
        position += 1
        with torch.inference_mode():
            model(x)
        return len(x)

    inference = energy.per_image(run_batch, phase="inference:fp32", min_seconds=args.min_seconds,
                                 repeats=args.repeats, warmup=3, settings=settings)
    breakeven = footprint.breakeven_inferences(training.joules, inference.joules_per_image)
    cpu_per_image = [r.cpu_seconds / n for r, n in zip(inference.readings, inference.images)]
    cpu_spread = max(cpu_per_image) / min(cpu_per_image)
    ok = inference.spread <= TARGET_SPREAD

    hw = hardware.describe("cpu")
    kind = energy.kind(training)
    rows = [
        ["training energy, steps only (default cnn, digits)", f"{training.joules:,.1f} J ({training.kwh * 1000:.4f} Wh), "
         f"{training.co2_grams:.4f} g CO2e, {training.duration_s:.1f} s", "", kind],
        [f"inference energy per image (fp32 {model.layout}, batch 256, median of "
         f"{len(inference.readings)})", f"{inference.joules_per_image * 1000:.4f} mJ, "
         f"{inference.co2_grams_per_image * 1e6:.4f} ug CO2e", "", energy.kind(inference)],
        ["per-image windows (mJ)", ", ".join(f"{j * 1000:.4f}" for j in inference.per_window), "", ""],
        ["spread of per-image energy (max / min)", f"{inference.spread:.3f}", f"<= {TARGET_SPREAD}",
         "PASS" if ok else "FAIL"],
        ["spread of per-image CPU time (max / min)", f"{cpu_spread:.3f}", "", "diagnostic"],
        ["break-even: training J / inference J per image", f"{breakeven:,.0f} images", "", ""],
    ]
    print(f"\nEnergy benchmark: {hw.cpu}, {args.threads} threads, torch {hw.torch} ({hw.torch_build}), "
          f"grid {training.country_iso} {training.grid_gco2_per_kwh:.0f} gCO2e/kWh\n")
    print(markdown_table(["measure", "result", "target", ""], rows))
    print(f"\nmethod: {training.method}")
    path = write_json("energy", {
        "hardware": hw.to_dict(),
        "config": config.to_dict(),
        "test_accuracy": trained.test_accuracy,
        "training": training.to_dict(),
        "evaluation": metered.evaluation.to_dict(),
        "inference": inference.to_dict(),
        "breakeven_inferences": breakeven,
        "cpu_seconds_per_image": cpu_per_image,
        "cpu_time_spread": cpu_spread,
        "target_spread": TARGET_SPREAD,
        "pass": ok,
    })
    print(f"\nJSON written to {path}")


if __name__ == "__main__":
    main()
