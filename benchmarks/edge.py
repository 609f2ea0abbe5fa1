"""Edge & cloud as the app shows it: every version of the default model under the four device profiles.

    python benchmarks/edge.py [--threads 2] [--epochs 3] [--model cnn]

Trains the model on the bundled digits, makes the versions a small device needs (pruning, int8,
channel pruning + int8, distillation, ONNX Runtime), then runs lab.deploy.edge.run_profile under each of
lab.deploy.edge.default_profiles (threads and batch applied for real, memory measured at the profile's
batch, the app's timing windows) and one cloud-vs-device comparison per network preset.

Prints markdown tables and writes benchmarks/results/edge.json. No targets: these are the figures
a student reads, measured here, in this run.
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
from dashboard.lab.deploy import cloud_edge, edge
from dashboard.lab.compression.compress import CompressSettings, make_variants  # noqa: E402
from dashboard.lab.inputs.data import load_dataset  # noqa: E402
from dashboard.lab.training.train import TrainConfig, train  # noqa: E402

VERSIONS = ["fp32", "pruned-unstructured-90", "pruned-channels-50", "int8-dynamic", "int8-static",
            "pruned-channels-50+int8-static", "distilled", "onnxruntime-fp32", "onnxruntime-int8",
            "pruned-channels-50+onnxruntime"]


def _lean(run: dict) -> dict:
    """A run's JSON without the energy windows' readings (each fit keeps its per-image figures)."""
    for f in run["fits"]:
        if f.get("energy"):
            f["energy"] = {k: f["energy"][k] for k in ("joules_per_image", "measured", "method", "windows")}
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--model", default="cnn")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ds = load_dataset("digits")
    trained = train(TrainConfig(model=args.model, epochs=args.epochs, threads=args.threads), ds)
    versions = make_variants(trained, ds, VERSIONS, CompressSettings())
    runs = {}
    for key, profile in edge.default_profiles(args.threads).items():
        runs[key] = edge.run_profile(versions, ds, profile)
        p = runs[key].profile
        print(f"\n### {p.title}: {p.threads} thread(s), {p.batch} image(s) per call, memory budget "
              f"{'none' if p.memory_budget is None else fmt.size(p.memory_budget)}, latency budget "
              f"{p.latency_budget_ms:.1f} ms{', int8 only' if p.int8_only else ''} "
              f"({runs[key].seconds:.1f} s to measure)\n")
        rows = [[f.name, "yes" if f.fits else "no" if f.runnable else "cannot run", fmt.size(f.weights_bytes),
                 fmt.size(f.activation_bytes), fmt.size(f.memory_bytes), fmt.ms(f.latency_ms), fmt.times(f.headroom),
                 fmt.pct(f.accuracy), f"{f.threads} × {f.batch}" if f.runnable else f.why_not]
                for f in runs[key].fits]
        print(markdown_table(["version", "fits", "weights", "peak activations", "memory", "time per call",
                              "headroom", "accuracy", "threads × images"], rows))
    print("\n### Cloud (batch as profiled) vs phone-class, per network preset (typical times)\n")
    rows, comparisons = [], []
    for name in ("fp32", "pruned-channels-50+onnxruntime"):
        for net in cloud_edge.NETWORKS:
            c = cloud_edge.compare(runs["cloud"].fit(name), runs["phone"].fit(name), net.rtt_ms)
            comparisons.append({"network": net.key, **c.to_dict()})
            rows.append([name, net.title, f"{net.rtt_ms:g} ms ({net.how})", fmt.ms(c.cloud_ms), fmt.ms(c.device_ms),
                         c.faster, fmt.times(c.device_slowdown_to_lose)])
    print(markdown_table(["version", "network", "round trip", "cloud", "phone-class here", "first",
                          "device may be this much slower"], rows))
    path = write_json("edge", {"machine": hardware.cpu_model(), "threads": args.threads, "model": args.model,
                               "epochs": args.epochs, "measured_at": time.time(),
                               "runs": {k: _lean(r.to_dict()) for k, r in runs.items()}, "cloud_vs_edge": comparisons})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
