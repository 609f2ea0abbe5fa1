"""Training vs inference as the app shows it: three regimes, memory, FLOPs per layer.

    python benchmarks/training_vs_inference.py [--threads 2] [--epochs 3] [--model cnn]

1. Training. The model on the bundled digits at the Train page's defaults (batch 64, Adam),
   metered as the app meters it (lab.training.metered_training: the training steps apart from the
   per-epoch test evaluation, so time and energy have one scope).
2. Inference. fp32 and int8-static measured with the app's protocol (lab.pipeline.APP_BENCH:
   interleaved rounds; energy metered over the same batch-1 calls and batch-256 windows that
   give the latency and the throughput).
3. The per-image table in three regimes (training at its batch, real-time at batch 1, serving
   at batch 256), a break-even per inference regime, peak memory of one training step against
   one inference at batch 1, 64 and 256 (lab.measure.memory), and FLOPs per layer (lab.measure.layer_flops).

Prints markdown tables and writes benchmarks/results/training_vs_inference.json. No targets:
these are the figures a student reads, measured here, in this run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dashboard  # noqa: E402,F401  first: its OpenMP default must precede torch
import torch  # noqa: E402

from benchmarks._table import markdown_table, write_json  # noqa: E402
from dashboard.lab import fmt, hardware  # noqa: E402
from dashboard.lab.measure import layer_flops, memory
from dashboard.lab.training import metered_training
from dashboard.lab.measure.bench import measure  # noqa: E402
from dashboard.lab.compression.compress import make_variants  # noqa: E402
from dashboard.lab.inputs.data import load_dataset  # noqa: E402
from dashboard.lab.training.train import TrainConfig, Training  # noqa: E402
from dashboard.lab.measure.training_vs_inference import REALTIME, SERVING, compare  # noqa: E402
from dashboard.lab.pipeline import APP_BENCH  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--model", default="cnn")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ds = load_dataset("digits")

    config = TrainConfig(model=args.model, epochs=args.epochs, threads=args.threads)
    run = Training(config, ds)
    t0 = time.perf_counter()
    metered = metered_training.run(run)
    trained = run.result()
    wall = time.perf_counter() - t0
    variants = make_variants(trained, ds, ["fp32", "int8-static"])
    results = measure(variants, ds, APP_BENCH)

    hw = hardware.describe("cpu")
    print(f"# Training vs inference, {args.model}, {trained.samples_seen:,} training images, "
          f"{args.threads} threads, {hw.cpu}\n")
    print(f"Training: {fmt.pct(trained.test_accuracy)} test accuracy, outcome "
          f"{trained.outcome.kind if trained.outcome else 'n/a'}; steps {trained.train_seconds:.2f} s, "
          f"wall {wall:.2f} s; steps energy {metered.steps.joules:.2f} J, per-epoch evaluation "
          f"{metered.evaluation.joules:.2f} J ({metered.steps.method})\n")
    rows, blob = [], {"model": args.model, "threads": args.threads, "cpu": hw.cpu,
                      "samples_seen": trained.samples_seen, "test_accuracy": trained.test_accuracy,
                      "steps_energy": metered.steps.to_dict(), "evaluation_energy": metered.evaluation.to_dict(),
                      "variants": {}}
    for r in results:
        tvi = compare(trained, metered.steps, r, r.energy_batch1, r.energy)
        blob["variants"][r.name] = tvi.to_dict()
        for g in tvi.regimes:
            rows.append([r.name, f"{g.title} (batch {g.batch})", fmt.seconds(g.seconds), fmt.flops(g.flops),
                         f"{fmt.energy(g.joules)} ({g.energy_kind})", fmt.co2(g.co2_grams),
                         fmt.count(g.breakeven) if g.breakeven else ""])
        rows.append([r.name, "training ÷ real-time, ÷ serving",
                     f"{tvi.ratio('seconds', REALTIME):.2f}× · {tvi.ratio('seconds', SERVING):.2f}×",
                     f"{tvi.ratio('flops', REALTIME):.2f}× · {tvi.ratio('flops', SERVING):.2f}×",
                     f"{tvi.ratio('joules', REALTIME):.2f}× · {tvi.ratio('joules', SERVING):.2f}×", "", ""])
    print(markdown_table(["variant", "regime", "time / image", "FLOPs / image", "energy / image",
                          "CO2e / image", "break-even (inferences)"], rows))

    mem_rows = []
    blob["memory"] = {}
    for batch in (1, 64, 256):
        t1 = time.perf_counter()
        m = memory.compare_memory(trained.module, trained.spec.in_shape, batch_size=batch,
                                  optimizer=config.optimizer, lr=config.lr)
        took = time.perf_counter() - t1
        blob["memory"][batch] = {**m.to_dict(), "seconds": took}
        tm, im = m.training, m.inference
        mem_rows.append([batch, f"{tm.peak / 2**20:.2f}", f"{tm.weights / 2**20:.2f} / {tm.gradients / 2**20:.2f} / "
                         f"{tm.optimizer_state / 2**20:.2f} / {tm.activations / 2**20:.2f} / {tm.other / 2**20:.2f}",
                         tm.phase, f"{im.peak / 2**20:.2f}", f"{m.ratio:.2f}×", f"{took * 1000:.0f} ms"])
    print("\n" + markdown_table(["batch", "training peak (MiB)",
                                 "weights / grads / optimizer / activations / other (MiB)", "peak in",
                                 "inference peak (MiB)", "training ÷ inference", "took"], mem_rows))

    lf = layer_flops.flops_by_layer(trained.module, trained.spec.in_shape, optimizer=config.optimizer)
    blob["layer_flops"] = lf.to_dict()
    print("\n" + markdown_table(["layer", "kind", "forward", "backward", "backward ÷ forward"],
                                [[x.name, x.kind, f"{x.forward:,}", f"{x.backward:,}",
                                  f"{x.backward / x.forward:.2f}" if x.forward else ""] for x in lf.layers]
                                + [["total", "", f"{lf.forward_total:,}", f"{lf.backward_total:,}",
                                    f"{lf.backward_total / lf.forward_total:.2f}"]]))
    print(f"\n{lf.optimizer_note}")
    print(f"\nwrote {write_json('training_vs_inference', blob)}")


if __name__ == "__main__":
    main()
