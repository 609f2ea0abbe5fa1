"""Quantization paths side by side: today's torch.ao FX / quantize_dynamic against torchao's PT2E and quantize_.

    python benchmarks/quantization.py [--threads 2] [--rounds 8] [--epochs 6]

Trains the default cnn on the bundled digits (TrainConfig() defaults, as benchmarks/compress.py),
then builds, from the same float model and the same 1024 normalised training images:

    fp32                 eager, contiguous: the baseline every speed-up is measured against
    fp32-channels_last   eager, channels_last (what compress's fp32 variant usually picks)
    fx-static            torch.ao FX graph mode, x86 engine (the recipe of compress.static_int8_module)
    pt2e-eager           torchao PT2E: torch.export -> prepare_pt2e(X86InductorQuantizer) -> calibrate
                         -> convert_pt2e, run as the converted graph (quantize/dequantize + fp32 ops)
    pt2e-compiled        the same graph under torch.compile (inductor, freezing on: what the
                         X86InductorQuantizer is made for; needs a C++ compiler at run time), one
                         graph per batch size (dynamic=False: with dynamic shapes the third batch
                         size fails, see known_issues.pt2e_compile_dynamic in the JSON)
    pt2e-lowered         the same graph lowered to oneDNN int8 ops without inductor code generation:
                         torchao.quantization.pt2e.lowering.lower_pt2e_quantized_to_x86's steps, with
                         a dynamic batch dimension and view -> reshape (the stock function fixes the
                         batch size, and fails at batch 1 here: see known_issues.stock_lowering in the JSON)
    ao-dynamic           torch.ao.quantization.quantize_dynamic on nn.Linear
    torchao-dynamic      torchao quantize_(Int8DynamicActivationInt8WeightConfig()), eager
    torchao-dynamic-compiled  the same under torch.compile

For each: test accuracy on the full digits test set, batch-1 latency and batch-256 throughput
(torch.utils.benchmark.Timer medians, all variants interleaved over --rounds rounds in a rotating
order, so host drift spreads over every variant; speed-ups are medians of per-round ratios to
fp32; a timing during which other processes used the CPU is re-taken, see measure()), and the time
to build it (export + prepare + calibrate + convert, plus compile or lowering; compiles are cold:
a fresh inductor cache directory).

Then each path is rebuilt in a child process whose PATH holds only a python symlink (no gcc, g++,
cc, c++; CC/CXX unset; a fresh inductor cache so nothing compiled earlier is reused), and run at
batch 1, 7 and 256: whether it works without a C++ compiler, or the first line of its error.

Prints a markdown table and writes benchmarks/results/quantization.json. Needs torchao (not a
dependency of the lab, which keeps torch.ao: `pip install torchao==0.18.0`); without it the
torchao rows say why they failed.
"""

from __future__ import annotations

import argparse
import copy
import importlib.metadata
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# isort: off
import dashboard  # noqa: F401  first: its OpenMP default (GOMP_SPINCOUNT) must precede torch's libgomp
import torch
from torch import nn

from benchmarks._table import markdown_table, write_json
# isort: on

CALIBRATION_IMAGES = 1024
WARMUP_BATCHES = (256, 1, 7)   # the shapes the benchmark, the accuracy loop and the child run
EVAL_BATCH = 256

VARIANTS = {
    "fp32": "fp32 eager, contiguous (baseline)",
    "fp32-channels_last": "fp32 eager, channels_last input and weights",
    "fx-static": "static int8, torch.ao FX graph mode, x86 engine (today)",
    "pt2e-eager": "static int8, torchao PT2E + X86InductorQuantizer, converted graph run eagerly",
    "pt2e-compiled": "static int8, torchao PT2E + X86InductorQuantizer, torch.compile (inductor, freezing)",
    "pt2e-lowered": "static int8, torchao PT2E lowered to oneDNN int8 ops, no code generation",
    "ao-dynamic": "dynamic int8 Linear, torch.ao quantize_dynamic (today)",
    "torchao-dynamic": "dynamic int8 Linear, torchao quantize_(Int8DynamicActivationInt8WeightConfig()), eager",
    "torchao-dynamic-compiled": "dynamic int8 Linear, torchao quantize_ + torch.compile",
}
STATIC = ("fx-static", "pt2e-eager", "pt2e-compiled", "pt2e-lowered")
DYNAMIC = ("ao-dynamic", "torchao-dynamic", "torchao-dynamic-compiled")


# ---------------------------------------------------------------- building the variants


def _inference(module: Callable) -> Callable[[torch.Tensor], torch.Tensor]:
    """Every variant is called the same way: under inference_mode (no autograd bookkeeping)."""
    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return module(x)
    return run


def _calibrate(module: Callable, images: torch.Tensor) -> None:
    with torch.inference_mode():
        for start in range(0, len(images), 256):
            module(images[start:start + 256])


def _warm(run: Callable, example: torch.Tensor) -> float:
    """Call once per batch size the benchmark uses (compiled variants compile here); seconds taken."""
    start = time.perf_counter()
    for b in WARMUP_BATCHES:
        run(example[:b])
    return time.perf_counter() - start


def _pt2e_converted(float_module: nn.Module, images: torch.Tensor) -> tuple[torch.fx.GraphModule, float]:
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (
        X86InductorQuantizer,
        get_default_x86_inductor_quantization_config,
    )

    start = time.perf_counter()
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    exported = torch.export.export(copy.deepcopy(float_module).eval(), (images[:2],),
                                   dynamic_shapes=({0: batch},)).module()
    quantizer = X86InductorQuantizer().set_global(get_default_x86_inductor_quantization_config())
    prepared = prepare_pt2e(exported, quantizer)
    _calibrate(prepared, images)
    converted = convert_pt2e(prepared)
    return converted, time.perf_counter() - start


def lower_for_x86(converted: torch.fx.GraphModule, example: torch.Tensor) -> torch.fx.GraphModule:
    """torchao.quantization.pt2e.lowering.lower_pt2e_quantized_to_x86, step by step, with two changes:
    the re-export keeps the batch dimension dynamic (the stock function fixes it to the example's),
    and aten.view becomes aten.reshape (oneDNN's int8 conv returns channels_last tensors, which the
    flatten's view cannot take: the stock function fails at batch 1 with 'view size is not compatible')."""
    from torch._inductor.constant_folding import constant_fold
    from torch._inductor.fx_passes.freezing_patterns import freezing_passes

    table = torch.export.default_decompositions()
    for op in list(table):
        if not torch._export.utils._is_cia_op(op):
            del table[op]
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    lowered = torch.export.export(converted, (example[:2],), dynamic_shapes=({0: batch},),
                                  strict=True).run_decompositions(table).module()
    aten = torch.ops.aten
    graph = lowered.graph
    for node in list(graph.nodes):
        if node.target == aten.t.default:
            with graph.inserting_before(node):
                permute = graph.call_function(aten.permute.default, args=(node.args[0], [1, 0]))
            node.replace_all_uses_with(permute)
            graph.erase_node(node)
        elif node.target == aten.view.default:
            node.target = aten.reshape.default
    graph.lint()
    lowered.recompile()
    freezing_passes(lowered, (example[:2],))
    constant_fold(lowered)
    return lowered


def stock_lowering(float_module: nn.Module, images: torch.Tensor) -> dict:
    """torchao's lower_pt2e_quantized_to_x86 as shipped, example batch 256: which batch sizes run."""
    from torchao.quantization.pt2e.lowering import lower_pt2e_quantized_to_x86

    converted, _ = _pt2e_converted(float_module, images)
    out: dict = {"function": "torchao.quantization.pt2e.lowering.lower_pt2e_quantized_to_x86(converted, (x[:256],))"}
    try:
        lowered = lower_pt2e_quantized_to_x86(converted, (images[:256],))
    except Exception as exc:  # noqa: BLE001  recorded, not raised
        out["lowering"] = _first_line(exc)
        return out
    for b in (256, 1, 7):
        try:
            with torch.inference_mode():
                lowered(images[:b])
            out[f"batch_{b}"] = "works"
        except Exception as exc:  # noqa: BLE001
            out[f"batch_{b}"] = _first_line(exc)
    return out


def compile_dynamic_check(float_module: nn.Module, images: torch.Tensor) -> dict:
    """PT2E + torch.compile with its default automatic dynamic shapes: which batch sizes run."""
    converted, _ = _pt2e_converted(float_module, images)
    run = _inference(torch.compile(converted))
    out: dict = {"what": "torch.compile(convert_pt2e output), default dynamic, freezing on; calls in this order"}
    for b in (256, 1, 7):
        try:
            run(images[:b])
            out[f"batch_{b}"] = "works"
        except Exception as exc:  # noqa: BLE001
            out[f"batch_{b}"] = _first_line(exc)
    return out


def build(name: str, float_module: nn.Module, images: torch.Tensor) -> tuple[Callable, dict]:
    """One variant from the float model and the calibration images: (callable, build timings)."""
    float_module = copy.deepcopy(float_module).eval().to(memory_format=torch.contiguous_format)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if name == "fp32":
        run = _inference(float_module)
    elif name == "fp32-channels_last":
        cl = float_module.to(memory_format=torch.channels_last)
        run = _inference(lambda x: cl(x.contiguous(memory_format=torch.channels_last)))
    elif name == "fx-static":
        # Today's recipe, as dashboard/lab/compression/compress.py's static_int8_module had it before the move to
        # lab.compression.quantize (kept here, not imported, so this comparison does not change with the path chosen).
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

        torch.backends.quantized.engine = "x86"
        prepared = prepare_fx(float_module, get_default_qconfig_mapping("x86"), (images[:1],))
        _calibrate(prepared, images)
        run = _inference(convert_fx(prepared).eval())
    elif name.startswith("pt2e-"):
        converted, seconds = _pt2e_converted(float_module, images)
        timings["export_prepare_calibrate_convert_s"] = seconds
        if name == "pt2e-eager":
            run = _inference(converted)
        elif name == "pt2e-compiled":
            # dynamic=False: one graph per batch size. With automatic dynamic shapes (the default) the
            # third batch size seen fails in torch 2.14.1 + torchao 0.18 (see known_issues in the JSON).
            run = _inference(torch.compile(converted, dynamic=False))
        else:
            lower_start = time.perf_counter()
            lowered = lower_for_x86(converted, images)
            timings["lowering_s"] = time.perf_counter() - lower_start
            run = _inference(lowered)
    elif name == "ao-dynamic":
        module = torch.ao.quantization.quantize_dynamic(float_module, {nn.Linear}, dtype=torch.qint8)
        run = _inference(module)
    elif name.startswith("torchao-dynamic"):
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

        quantize_(float_module, Int8DynamicActivationInt8WeightConfig())
        run = _inference(torch.compile(float_module) if name.endswith("compiled") else float_module)
    else:
        raise ValueError(name)
    timings["build_s"] = time.perf_counter() - start
    # First calls at every batch size used later: for compiled variants this is the compile time.
    timings["first_calls_s"] = _warm(run, images)
    if name.endswith("compiled"):
        timings["compile_s"] = timings["first_calls_s"]
    timings["total_s"] = timings["build_s"] + timings["first_calls_s"]
    return run, {k: round(v, 3) for k, v in timings.items()}


def _first_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0][:300] if lines else type(exc).__name__


# ---------------------------------------------------------------- measuring


def accuracy(run: Callable, test_images: torch.Tensor, test_labels: torch.Tensor) -> float:
    correct = 0
    for start in range(0, len(test_labels), EVAL_BATCH):
        out = run(test_images[start:start + EVAL_BATCH])
        correct += int((out.argmax(1) == test_labels[start:start + EVAL_BATCH]).sum())
    return correct / len(test_labels)


def _median_seconds(run: Callable, x: torch.Tensor, threads: int, min_time: float) -> float:
    from torch.utils.benchmark import Timer

    # Timer's default is ONE thread: pass the lab's count, or int8 would be measured on fewer cores.
    timer = Timer(stmt="run(x)", globals={"run": run, "x": x}, num_threads=threads)
    return timer.blocked_autorange(min_run_time=min_time).median


class HostLoad:
    """CPU used by OTHER processes (in cores) between two calls: /proc/stat busy time minus this process's own.

    On 2 vCPUs another process's load slows OpenMP's 2-thread kernels far more than its share (a
    parallel region waits for the descheduled thread): a measurement taken beside one says little."""

    def __init__(self) -> None:
        self.tick = os.sysconf("SC_CLK_TCK")
        self.mark()

    @staticmethod
    def _busy_jiffies() -> int:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        return sum(fields) - fields[3] - fields[4]  # all but idle and iowait

    def mark(self) -> None:
        own = os.times()
        self._t, self._busy, self._own = time.perf_counter(), self._busy_jiffies(), own.user + own.system

    def others_cores(self) -> float:
        own = os.times()
        wall = time.perf_counter() - self._t
        others = (self._busy_jiffies() - self._busy) / self.tick - (own.user + own.system - self._own)
        return max(0.0, others / wall) if wall > 0 else 0.0


def wait_until_quiet(max_seconds: float, threshold: float = 0.15) -> float:
    """Wait (up to max_seconds) until other processes use under `threshold` cores for 2 s; returns the last reading."""
    deadline = time.perf_counter() + max_seconds
    load = HostLoad()
    while True:
        load.mark()
        time.sleep(2)
        seen = load.others_cores()
        if seen < threshold or time.perf_counter() > deadline:
            return seen
        print(f"  other processes use {seen:.2f} cores: waiting ...", flush=True)


def measure(runs: dict[str, Callable], x1: torch.Tensor, x256: torch.Tensor, threads: int, rounds: int,
            b1_seconds: float, b256_seconds: float, busy_threshold: float, max_minutes: float) -> dict:
    """Per variant: per-round batch-1 latency and batch-256 throughput, variants interleaved in a
    rotating order; speed-ups as medians of per-round ratios to fp32 (same round, same host state).

    Each timing is re-taken (up to 40 times) while other processes used more than `busy_threshold`
    cores during it: on 2 vCPUs a neighbour turns OpenMP's 2-thread kernels into scheduler-slice
    waits (10-20x slower, every variant alike), which no interleaving averages out. After
    `max_minutes` a timing is kept whatever the load, and counted as disturbed."""
    names = list(runs)
    lat = {n: [] for n in names}
    ips = {n: [] for n in names}
    load = HostLoad()
    deadline = time.perf_counter() + 60 * max_minutes
    stats = {"retaken": 0, "kept_disturbed": 0, "others_cores_kept": []}

    def clean(run: Callable, x: torch.Tensor, seconds: float) -> float:
        for attempt in range(40):
            load.mark()
            value = _median_seconds(run, x, threads, seconds)
            others = load.others_cores()
            if others <= busy_threshold:
                break
            if time.perf_counter() > deadline or attempt == 39:
                stats["kept_disturbed"] += 1
                break
            stats["retaken"] += 1
            time.sleep(0.5)
        stats["others_cores_kept"].append(round(others, 2))
        return value

    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            lat[n].append(clean(runs[n], x1, b1_seconds))
            ips[n].append(len(x256) / clean(runs[n], x256, b256_seconds))
        print(f"  round {r + 1}/{rounds} ({stats['retaken']} timings re-taken so far): "
              + ", ".join(f"{n} {ips[n][-1]:.0f}/s" for n in names), flush=True)
    out = {}
    for n in names:
        out[n] = {
            "latency_batch1_ms": round(statistics.median(lat[n]) * 1e3, 4),
            "latency_batch1_ms_min_max": [round(min(lat[n]) * 1e3, 4), round(max(lat[n]) * 1e3, 4)],
            "throughput_batch256_ips": round(statistics.median(ips[n]), 1),
            "throughput_batch256_ips_min_max": [round(min(ips[n]), 1), round(max(ips[n]), 1)],
            "speedup_batch1": round(statistics.median(b / a for a, b in zip(lat[n], lat["fp32"])), 3),
            "speedup_batch256": round(statistics.median(a / b for a, b in zip(ips[n], ips["fp32"])), 3),
            "rounds": rounds,
        }
    kept = stats.pop("others_cores_kept")
    stats.update(timings=len(kept), others_cores_median=statistics.median(kept), others_cores_max=max(kept),
                 busy_threshold_cores=busy_threshold)
    return {"variants": out, "host_load": stats}


# ---------------------------------------------------------------- run without a C++ compiler


def _child(state_path: str, names: list[str]) -> None:
    """Rebuild each named variant here (no compiler on PATH) and run it at batch 1, 7 and 256."""
    torch.set_num_threads(2)
    torch._inductor.config.freezing = True  # as in the parent
    saved = torch.load(state_path)
    from dashboard.lab.training.models import ModelSpec, build_model

    module = build_model(ModelSpec(saved["model"], tuple(saved["in_shape"]), 10))
    module.load_state_dict(saved["state_dict"])
    images = saved["images"]
    results = {}
    for name in names:
        try:
            run, _ = build(name, module, images)
            for b in (1, 7, 256):
                run(images[:b])
            results[name] = {"works": True, "error": None}
        except Exception as exc:  # noqa: BLE001  recorded, not raised
            results[name] = {"works": False, "error": _first_line(exc),
                             "where": traceback.format_exc().strip().splitlines()[-3:]}
    print("RESULT " + json.dumps(results))


def without_compiler(trained_module: nn.Module, in_shape: tuple, model: str, images: torch.Tensor,
                     names: list[str]) -> dict:
    """Run the paths in a child process that cannot find gcc/g++/cc/c++ (PATH: a python symlink only)."""
    with tempfile.TemporaryDirectory(prefix="no-cxx-") as tmp:
        tmp = Path(tmp)
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        for alias in ("python", "python3"):
            (bin_dir / alias).symlink_to(sys.executable)
        state = tmp / "state.pt"
        torch.save({"state_dict": trained_module.state_dict(), "in_shape": list(in_shape), "model": model,
                    "images": images}, state)
        env = {k: v for k, v in os.environ.items() if k not in ("CC", "CXX", "TORCHINDUCTOR_CACHE_DIR")}
        env["PATH"] = str(bin_dir)
        env["TORCHINDUCTOR_CACHE_DIR"] = str(tmp / "inductor-cache")  # nothing compiled earlier is reused
        which = "import shutil; print([shutil.which(c) for c in ('gcc', 'g++', 'cc', 'c++')])"
        probe = subprocess.run([sys.executable, "-c", which], check=False, env=env,
                               capture_output=True, text=True)
        # The venv's own interpreter by its path (a symlink elsewhere would not find the venv); PATH
        # only decides what the child can find: python, and no compiler.
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(state),
                               ",".join(names)], check=False, env=env, capture_output=True, text=True, timeout=900)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if not lines:
            return {"error": f"child exited {proc.returncode}: " + (proc.stderr.strip().splitlines() or [""])[-1],
                    "compilers_visible": probe.stdout.strip()}
        return {"compilers_visible": probe.stdout.strip(), **json.loads(lines[-1][len("RESULT "):])}


# ---------------------------------------------------------------- main


def _fmt(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=None, help="default: TrainConfig()'s")
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--b1-seconds", type=float, default=0.1, help="batch-1 timing per variant per round")
    parser.add_argument("--b256-seconds", type=float, default=0.2, help="batch-256 timing per variant per round")
    parser.add_argument("--skip-no-compiler-check", action="store_true")
    parser.add_argument("--wait-quiet", type=float, default=120,
                        help="seconds to wait, at most, for other processes to leave the CPU before timing")
    parser.add_argument("--busy-threshold", type=float, default=0.25,
                        help="re-take a timing while other processes used more than this many cores")
    parser.add_argument("--max-minutes", type=float, default=30,
                        help="after this long, keep timings whatever the load (counted as disturbed)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1].split(","))
        return

    from dashboard.lab import hardware
    from dashboard.lab.inputs.data import load_dataset
    from dashboard.lab.training.train import TrainConfig, train

    torch.set_num_threads(args.threads)
    hardware.tune_allocator()  # before any timing (its docstring: a 2.4x batch-256 slowdown otherwise)
    # What the X86InductorQuantizer's documentation asks of torch.compile: fold the weights into
    # the graph so inductor can prepack them for oneDNN's int8 kernels.
    torch._inductor.config.freezing = True
    # A cold compile, as a fresh server has it: nothing reused from earlier runs' inductor cache.
    cache = tempfile.TemporaryDirectory(prefix="inductor-cache-")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache.name
    started = time.perf_counter()
    dataset = load_dataset("digits")
    config = TrainConfig(model=args.model, threads=args.threads,
                         **({"epochs": args.epochs} if args.epochs else {}))
    print(f"training {config.model} for {config.epochs} epochs on the bundled digits ...", flush=True)
    trained = train(config, dataset)
    float_module = copy.deepcopy(trained.module).eval().to(memory_format=torch.contiguous_format)
    images = dataset.prepare(dataset.train_images[:CALIBRATION_IMAGES])
    test_images, test_labels = dataset.test_tensors()

    runs, builds, acc, warned = {}, {}, {}, {}
    for name in VARIANTS:
        print(f"building {name} ...", flush=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                runs[name], builds[name] = build(name, float_module, images)
                acc[name] = accuracy(runs[name], test_images, test_labels)
            except Exception as exc:  # noqa: BLE001  a path that fails here is a result too
                runs.pop(name, None)
                builds[name] = {"error": _first_line(exc)}
                print(f"  {name} failed: {builds[name]['error']}", flush=True)
        warned[name] = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0][:160]}" for w in caught})
    print("checking known issues ...", flush=True)
    known_issues = {}
    for key, check in (("stock_lowering", stock_lowering), ("pt2e_compile_dynamic", compile_dynamic_check)):
        try:
            known_issues[key] = check(float_module, images)
        except Exception as exc:  # noqa: BLE001  e.g. torchao not installed
            known_issues[key] = {"error": _first_line(exc)}

    quiet = wait_until_quiet(args.wait_quiet, args.busy_threshold)
    print(f"measuring {len(runs)} variants, {args.rounds} interleaved rounds ...", flush=True)
    measured = measure(runs, test_images[:1].clone(), test_images[:256].clone(), args.threads, args.rounds,
                       args.b1_seconds, args.b256_seconds, args.busy_threshold, args.max_minutes)
    timing, host_load = measured["variants"], measured["host_load"]

    no_cxx = {} if args.skip_no_compiler_check else without_compiler(
        float_module, trained.spec.in_shape, config.model, images, [n for n in VARIANTS if n != "fp32"])

    hw = hardware.describe("cpu")
    try:
        torchao_version = importlib.metadata.version("torchao")
    except importlib.metadata.PackageNotFoundError:
        torchao_version = "not installed"

    headers = ["variant", "path", "accuracy", "batch-1 latency (ms)", "batch-1 speed-up", "batch-256 images/s",
               "batch-256 speed-up", "build (s)", "compile (s)", "runs without a C++ compiler"]
    rows = []
    for name, what in VARIANTS.items():
        t, b = timing.get(name), builds[name]
        cx = no_cxx.get(name)
        if t is None:
            rows.append([name, what, "failed", "", "", "", "", "", "", b["error"][:90]])
            continue
        runs_without = ("n/a (fp32)" if name == "fp32" else "not checked" if cx is None
                        else "yes" if cx["works"] else f"NO: {cx['error'][:90]}")
        rows.append([name, what, f"{acc[name]:.2%}", f"{t['latency_batch1_ms']:.3f}", f"{t['speedup_batch1']:.2f}x",
                     f"{t['throughput_batch256_ips']:.0f}", f"{t['speedup_batch256']:.2f}x",
                     f"{b['build_s']:.2f}", _fmt(b.get("compile_s"), ".1f"), runs_without])
    print(f"\nQuantization paths: {hw.cpu} ({', '.join(hw.features) or 'no SIMD extras'}), {args.threads} threads, "
          f"torch {torch.__version__}, torchao {torchao_version}; {config.model} trained {config.epochs} epochs "
          f"on the bundled digits (fp32 test accuracy {acc['fp32']:.2%}); {CALIBRATION_IMAGES} calibration images; "
          f"{args.rounds} interleaved rounds; speed-ups = median of per-round ratios to fp32 eager contiguous; "
          f"{host_load['retaken']} timings re-taken because other processes used the CPU, "
          f"{host_load['kept_disturbed']} of {host_load['timings']} kept disturbed\n")
    print(markdown_table(headers, rows))
    for key, value in known_issues.items():
        print(f"\n{key}: {value}")
    path = write_json("quantization", {
        "hardware": hw.to_dict(),
        "threads": args.threads,
        "torch": torch.__version__,
        "torchao": torchao_version,
        "config": config.to_dict(),
        "training": trained.summary(),
        "calibration_images": CALIBRATION_IMAGES,
        "rounds": args.rounds,
        "timer_seconds": {"batch1": args.b1_seconds, "batch256": args.b256_seconds},
        "host_load": {"other_processes_cores_before_timing": round(quiet, 2), **host_load},
        "variants": {name: {"path": what, "accuracy": acc.get(name), **timing.get(name, {}), "build": builds[name],
                            "warnings_while_building": warned[name],
                            "without_cxx_compiler": no_cxx.get(name)} for name, what in VARIANTS.items()},
        "no_compiler_check": {k: v for k, v in no_cxx.items() if k not in VARIANTS},
        "known_issues": known_issues,
        "table": [dict(zip(headers, row)) for row in rows],
        "seconds": round(time.perf_counter() - started, 1),
    })
    print(f"\nJSON written to {path}")
    cache.cleanup()


if __name__ == "__main__":
    main()
