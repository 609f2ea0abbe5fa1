"""Measure on this device, benchmarked: the demo's versions run in Chromium by the app's own browser component
(onnxruntime-web 1.30.0, WebAssembly, 1 thread) at normal speed and with the CPU throttled 4x (Chrome DevTools
Protocol `Emulation.setCPUThrottlingRate`, a stand-in for a phone's slower core), against the same ONNX files in
native ONNX Runtime on this server (1 thread, quiet-checked).

    python benchmarks/browser_device.py [--pairs 3] [--timeout 300]

1. Trains the demo's cnn on the bundled digits and makes the demo's versions (lab.pipeline's settings), then the
   browser's files from them (lab.deploy.browser_models.export_set) and the server's figure of each
   (fill_server_figures, with longer windows than the app's: 5 rounds, >= 200 calls and >= 1 s per file).
2. Serves benchmarks/browser_device_page.py (the component, nothing else) with `streamlit run` and drives it in
   Debian's Chromium, every request not to that server aborted: `--pairs` times a normal run then a run throttled
   4x, alternating, so a drift of the machine lands on both. Each result is checked by
   lab.deploy.browser_result.parse, as the app checks a student's.
3. Per version: browser p50 / server p50 (the median of the normal runs' p50), throttled p50 / normal p50 (the median
   of each pair's ratio; about 4x expected), and how many runs were steady (their batches' p95 within 1.5x their
   p50: lab.deploy.browser_result.STEADY_SPREAD); every run's p50 and p95 are in the JSON.

The browser and the server are on the same machine here, so browser / server compares the runtimes on one CPU.
Prints a markdown table and writes benchmarks/results/browser_device.json. Run it on a quiet machine: the load
averages before and after are in the JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import dashboard  # noqa: E402,F401  first: its OpenMP default must precede torch
import torch  # noqa: E402

from benchmarks._table import markdown_table, write_json  # noqa: E402
from benchmarks.server import start_server, stop_server, wait_healthy  # noqa: E402
from dashboard.lab import fmt, hardware, pipeline  # noqa: E402
from dashboard.lab.compression.compress import make_variants  # noqa: E402
from dashboard.lab.deploy import browser_models, browser_result  # noqa: E402
from dashboard.lab.inputs.data import load_dataset  # noqa: E402
from dashboard.lab.training.train import train  # noqa: E402

PAGE = Path(__file__).with_name("browser_device_page.py")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
THROTTLE = 4
SERVER_BENCH = dataclasses.replace(browser_models.SERVER_BENCH, rounds=5, batch1_min_calls=200, batch1_min_seconds=1.0,
                                   retry_budget_s=30.0)


def make_set(threads: int) -> tuple[browser_models.BrowserSet, dict]:
    torch.set_num_threads(threads)
    ds = load_dataset("digits")
    start = time.perf_counter()
    trained = train(dataclasses.replace(pipeline.DEMO_CONFIG, threads=threads), ds)
    variants = make_variants(trained, ds, pipeline.DEMO_VARIANTS, pipeline.DEMO_COMPRESS)
    made = time.perf_counter()
    bset = browser_models.export_set(variants, trained, ds, pipeline.DEMO_VARIANTS,
                                     calibration_images=pipeline.DEMO_COMPRESS.calibration_images)
    exported = time.perf_counter()
    browser_models.SERVER_BENCH = SERVER_BENCH
    browser_models.fill_server_figures(bset, ds)
    return bset, {"train_and_versions_s": round(made - start, 1), "export_s": round(exported - made, 1),
                  "server_timing_s": round(time.perf_counter() - exported, 1),
                  "test_accuracy": trained.test_accuracy}


def browser_runs(bset, pairs: int, timeout_s: float) -> tuple[list[tuple[str, int, object]], dict]:
    """`pairs` x (a normal run, a run throttled THROTTLE x), each checked; and what the browser was."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="til-browser-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "out").mkdir()
        (tmp / "set.pickle").write_bytes(pickle.dumps(bset))
        server = start_server(tmp / "home", {"TIL_BROWSER_SET": str(tmp / "set.pickle"),
                                             "TIL_BROWSER_OUT": str(tmp / "out"), "PYTHONPATH": str(ROOT)},
                              script=PAGE)
        runs, outside = [], []
        try:
            wait_healthy(server, 90)
            host = urlparse(server.url).netloc
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
                context = browser.new_context(viewport={"width": 1000, "height": 700})

                def only_the_server(route) -> None:
                    if urlparse(route.request.url).netloc == host:
                        route.continue_()
                    else:
                        outside.append(route.request.url)
                        route.abort()

                context.route("**/*", only_the_server)
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                page.goto(server.url)
                box = page.get_by_label("run id")
                box.wait_for(timeout=timeout_s * 1000)
                for i in range(pairs):
                    for rate in (1, THROTTLE):
                        run_id = f"{'normal' if rate == 1 else 'throttled'}-{i}"
                        cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
                        box.fill(run_id)
                        box.press("Enter")
                        page.get_by_text(f"done {run_id}").wait_for(timeout=timeout_s * 1000)
                        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
                        raw = json.loads((tmp / "out" / f"{run_id}.json").read_text())
                        runs.append((run_id, rate, browser_result.parse(raw, run_id, bset.models)))
                        print(f"{run_id}: " + ", ".join(f"{t.name} {fmt.ms(t.p50_ms)}" for t in runs[-1][2].timings))
                about = {"chromium": browser.version, "aborted_requests": outside}
                browser.close()
        finally:
            stop_server(server)
    return runs, about


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="normal + throttled runs, alternating")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for training (the server's timing: 1)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for one browser run")
    args = parser.parse_args()
    load_before = os.getloadavg()
    bset, made = make_set(args.threads)
    runs, about = browser_runs(bset, args.pairs, args.timeout)
    load_after = os.getloadavg()
    normal = [r for _, rate, r in runs if rate == 1]
    throttled = [r for _, rate, r in runs if rate == THROTTLE]
    rows, versions = [], {}
    for m in bset.models:
        n = [r.timing(m.name) for r in normal]
        t = [r.timing(m.name) for r in throttled]
        browser_p50 = statistics.median(x.p50_ms for x in n)
        throttled_p50 = statistics.median(x.p50_ms for x in t)
        slow = statistics.median(b.p50_ms / a.p50_ms for a, b in zip(n, t))
        vs_server = browser_p50 / m.server_p50_ms if m.server_p50_ms else None
        steady_n, steady_t = sum(x.steady for x in n), sum(x.steady for x in t)
        versions[m.name] = {
            "computes": m.computes, "file_bytes": m.size_bytes, "how": m.how, "accuracy": m.accuracy,
            "server_p50_ms": m.server_p50_ms, "server_p95_ms": m.server_p95_ms, "server_disturbed": m.server_disturbed,
            "browser_p50_ms": browser_p50, "browser_p50_ms_runs": [x.p50_ms for x in n],
            "browser_p95_ms_runs": [x.p95_ms for x in n], "throttled_p50_ms": throttled_p50,
            "throttled_p50_ms_runs": [x.p50_ms for x in t], "throttled_p95_ms_runs": [x.p95_ms for x in t],
            "calls_per_batch_normal": [x.calls_per_batch for x in n],
            "calls_per_batch_throttled": [x.calls_per_batch for x in t],
            "max_logit_diff": max((x.max_diff or 0.0) for x in n + t),
            "browser_over_server": vs_server, "throttled_over_normal": slow,
            "throttled_over_normal_pairs": [b.p50_ms / a.p50_ms for a, b in zip(n, t)],
            "steady_runs_normal": steady_n, "steady_runs_throttled": steady_t, "runs_each": len(n)}
        rows.append([m.name, fmt.ms(m.server_p50_ms) + (" (disturbed)" if m.server_disturbed else ""),
                     fmt.ms(browser_p50), fmt.times(vs_server), fmt.ms(throttled_p50), fmt.times(slow),
                     f"{steady_n} / {len(n)}, {steady_t} / {len(t)}", f"{versions[m.name]['max_logit_diff']:.1g}"])
    fp32 = versions.get("fp32")
    for name, v in versions.items():   # each version against fp32, on each side (the page's int8 sentences)
        v["browser_over_fp32"] = v["browser_p50_ms"] / fp32["browser_p50_ms"] if fp32 else None
        v["server_over_fp32"] = (v["server_p50_ms"] / fp32["server_p50_ms"]
                                 if fp32 and v["server_p50_ms"] and fp32["server_p50_ms"] else None)
    headers = ["version", "server p50 (native ORT, 1 thread)", "browser p50", "browser ÷ server",
               f"browser p50, CPU throttled {THROTTLE}×", "throttled ÷ normal", "steady runs (normal, throttled)",
               "max logit diff"]
    print()
    print(markdown_table(headers, rows))
    print("\nvs fp32 (p50 ÷ fp32's p50): " + "; ".join(
        f"{k}: browser {fmt.times(v['browser_over_fp32'])}, server {fmt.times(v['server_over_fp32'])}"
        for k, v in versions.items() if k != "fp32"))
    first = normal[0]
    path = write_json("browser_device", {
        "what": __doc__.splitlines()[0], "measured_at": time.time(), "machine": hardware.cpu_model(),
        "server": {"runtime": "onnxruntime (native), CPUExecutionProvider", "threads": browser_models.THREADS,
                   "bench": SERVER_BENCH.to_dict()},
        "browser": {**about, "user_agent": first.user_agent, "hardware_concurrency": first.cores,
                    "device": first.device, "runtime": first.runtime, "timer_step_ms": first.timer_step_ms,
                    "throttle_rate": THROTTLE, "pairs": args.pairs},
        "load_average_before": load_before, "load_average_after": load_after, "made": made,
        "left_out": bset.left_out, "versions": versions})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
