"""How fast this machine can compute at best, and how the student's model uses it: all measured here.

    probe(trained, threads=2) -> HardwareProbe(peaks, parallelism, gpu)

What is measured, and how (every timing is torch.utils.benchmark's Timer.blocked_autorange, which
warms up, picks a block of calls long enough that the clock costs nothing, and reports the median
per call; Timer(num_threads=n) sets torch's thread count for the timing and restores it after; each
timing's window is checked by lab.measure.quiet and measured again when disturbed, and one that stays
disturbed says so in its `disturbed`):

- `measure_peaks`: the peak rate per number format, from one large square matrix multiply
  (2048 x 2048 by default: 17 billion operations per call, enough to keep every core's vector or
  matrix units busy). fp32 and bf16 with `torch.matmul`; bf16 only where the CPU has native bf16
  instructions (AVX512-BF16, AMX-BF16, ARM BF16), since elsewhere torch converts in software and the
  figure would measure the conversion, not the hardware. int8 two ways, since what is "truly int8"
  depends on the CPU and the library: `torch._int_mm` (int8 x int8 -> int32) and a quantized Linear
  (`torch.ops.quantized.linear`, the op the lab's int8 models run) on the app's int8 engine and on
  oneDNN (which uses AMX-INT8 tiles where the CPU has them). A format's peak is its fastest op;
  every op's rate is kept with its name. Also fp32 matmul at small sizes: how much of the peak a
  small layer can reach. 1 multiply-add = 2 operations (FLOPs for floats, OPs for int8).
- `measure_parallelism`: the student's fp32 model at 1..N threads and a few batch sizes; inside each
  timed call the thread count torch really used is recorded (`threads_seen`).
- `compare_devices`: where torch.cuda.is_available(), one training step and one inference of the
  student's model on the CPU and on the GPU (same fp32 model, same batch). Without a GPU nothing
  is measured and the result says so.

Each piece is short (about 2 s for the peaks, under 5 s for the parallelism on 2 threads); in the
app they run as one job holding the compute slot (service.machine.start_hardware).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.benchmark import Timer

from dashboard.lab import hardware
from dashboard.lab.compression import quantize
from dashboard.lab.measure import quiet

ProgressFn = Callable[[float, str], None]
StopFn = Callable[[], bool]

NATIVE = {"bf16": ("amx_bf16", "avx512_bf16", "bf16"), "fp16": ("amx_fp16",)}   # hardware.describe() flags
NATIVE_TEXT = {"bf16": "AVX512-BF16 or AMX-BF16; on ARM, BF16", "fp16": "AMX-FP16"}


@dataclass
class ProbeSettings:
    size: int = 2048                   # square matmul side for the peaks
    peak_seconds: float = 0.2          # timed seconds per peak op (after the Timer's warm-up)
    sweep_sizes: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)   # fp32 matmul: small layers
    sweep_seconds: float = 0.05
    batches: tuple[int, ...] = (1, 8, 64, 256)   # parallelism: batch sizes ...
    parallel_seconds: float = 3.0      # ... and timed seconds for the whole threads x batch grid
    device_seconds: float = 0.3        # CPU vs GPU: per device and per regime
    train_batch: int = 64
    infer_batch: int = 256
    retries: int = 3                   # a disturbed timing (lab.measure.quiet) is measured again up to this often,
    quiet_wait_s: float = 1.0          # ... after waiting up to this long for a quieter moment,
    retry_budget_s: float = 10.0       # ... within this many seconds for a whole measure_* call


APP_PROBE = ProbeSettings()   # what the app's "Measure this machine" runs (tests shorten it)


# --- peaks ------------------------------------------------------------------------------------

def unit(fmt: str) -> str:
    """The unit of a rate in this format: floats count FLOPs, integers OPs."""
    return "GOP/s" if fmt.startswith("int") else "GFLOP/s"


@dataclass
class PeakRate:
    format: str        # "fp32", "bf16", "fp16", "int8"
    op: str            # what was timed, in words a reader can look up
    size: int          # n of the n x n x n multiply
    gops: float        # billions of operations per second (GFLOP/s for floats, GOP/s for int8)
    threads: int
    disturbed: str = ""  # why its timing stayed disturbed after re-measuring (lab.measure.quiet); "" = checked quiet

    @property
    def ops_per_call(self) -> float:
        return 2.0 * self.size ** 3


@dataclass
class Peaks:
    threads: int
    rates: list[PeakRate] = field(default_factory=list)     # every op timed at `size`
    sweep: list[PeakRate] = field(default_factory=list)     # fp32 matmul at small sizes
    missing: dict[str, str] = field(default_factory=dict)   # format -> why it has no peak here
    seconds: float = 0.0

    def best(self, fmt: str) -> PeakRate | None:
        """The fastest op of a number format timed in a quiet window (else the fastest, labelled disturbed),
        or None when none was measured."""
        rates = [r for r in self.rates if r.format == fmt]
        quiet_rates = [r for r in rates if not r.disturbed] or rates
        return max(quiet_rates, key=lambda r: r.gops) if quiet_rates else None

    @property
    def formats(self) -> list[str]:
        return [f for f in ("fp32", "bf16", "fp16", "int8") if self.best(f) is not None]


@dataclass(frozen=True)
class Timed:
    seconds: float      # median seconds per call
    disturbed: str      # "" when its window was quiet, else why it stayed disturbed


@dataclass
class _Retry:
    """How a disturbed timing is measured again within one measure_* call (ProbeSettings' three fields)."""

    times: int
    wait_s: float
    left_s: float

    @classmethod
    def of(cls, s: ProbeSettings) -> _Retry:
        return cls(s.retries, s.quiet_wait_s, s.retry_budget_s)


def _time(stmt: str, env: dict, threads: int, seconds: float, retry: _Retry) -> Timed:
    """Median seconds per call of `stmt` at `threads` threads, in a window checked by lab.measure.quiet (a disturbed
    one is measured again after a wait for a quieter moment, while `retry` allows)."""
    best, tries, start = None, 0, time.perf_counter()
    while True:
        with quiet.window() as w:
            median = Timer(stmt, globals=env, num_threads=threads).blocked_autorange(min_run_time=seconds).median
        if best is None or w.result.share < best[1].share:
            best = (median, w.result)
        if not w.result.disturbed or tries >= retry.times or retry.left_s - (time.perf_counter() - start) <= 0:
            break
        tries += 1
        quiet.wait_for_quiet(retry.wait_s)
    if tries:
        retry.left_s -= time.perf_counter() - start
    if not best[1].disturbed:
        return Timed(best[0], "")
    return Timed(best[0], f"stayed disturbed after {tries} re-measurement{'s' if tries != 1 else ''}: "
                          f"{best[1].why()}")


def _rate(ops: float, timed: Timed) -> tuple[float, str]:
    """(billions of operations per second, why disturbed) of a call doing `ops` operations."""
    return ops / timed.seconds / 1e9, timed.disturbed


def _matmul(dtype: torch.dtype, n: int, threads: int, seconds: float, g: torch.Generator,
            retry: _Retry) -> tuple[float, str]:
    a, b = (torch.randn(n, n, generator=g).to(dtype) for _ in range(2))
    return _rate(2.0 * n ** 3, _time("torch.matmul(a, b)", {"torch": torch, "a": a, "b": b}, threads, seconds, retry))


def _int_mm(n: int, threads: int, seconds: float, g: torch.Generator, retry: _Retry) -> tuple[float, str]:
    a, b = (torch.randint(-128, 128, (n, n), dtype=torch.int8, generator=g) for _ in range(2))
    return _rate(2.0 * n ** 3, _time("torch._int_mm(a, b)", {"torch": torch, "a": a, "b": b}, threads, seconds, retry))


def _quantized_linear(engine: str, n: int, threads: int, seconds: float, g: torch.Generator,
                      retry: _Retry) -> tuple[float, str]:
    """n x n activations (uint8) times an n x n int8 weight, on `engine` (set for the call, restored)."""
    import torch.ao.nn.quantized as nnq

    before = torch.backends.quantized.engine
    try:
        torch.backends.quantized.engine = engine
        with quantize.torch_ao_deprecations_filtered():
            layer = nnq.Linear(n, n)
            w = torch.quantize_per_tensor(torch.randn(n, n, generator=g), 0.02, 0, torch.qint8)
            layer.set_weight_bias(w, torch.zeros(n))
            layer.scale, layer.zero_point = 1.0, 128
            x = torch.quantize_per_tensor(torch.rand(n, n, generator=g), 1 / 255, 0, torch.quint8)
            timed = _time("layer(x)", {"layer": layer, "x": x}, threads, seconds, retry)
    finally:
        torch.backends.quantized.engine = before
    return _rate(2.0 * n ** 3, timed)


def _native(fmt: str, info: hardware.HardwareInfo) -> list[str]:
    return [f for f in NATIVE[fmt] if info.has(f)]


def measure_peaks(threads: int | None = None, settings: ProbeSettings | None = None,
                  on_progress: ProgressFn | None = None, should_stop: StopFn | None = None) -> Peaks:
    """The peak rate of each number format this CPU runs natively, each op named (module docstring)."""
    s = settings or ProbeSettings()
    threads = threads or torch.get_num_threads()
    progress, stop = on_progress or (lambda f, m: None), should_stop or (lambda: False)
    info = hardware.describe("cpu")
    g = torch.Generator().manual_seed(0)
    n = s.size
    peaks, start = Peaks(threads), time.perf_counter()
    retry = _Retry.of(s)

    def float_op(dtype: torch.dtype) -> Callable[[], tuple[float, str]]:
        return lambda: _matmul(dtype, n, threads, s.peak_seconds, g, retry)

    todo: list[tuple[str, str, Callable[[], tuple[float, str]]]] = [("fp32", "torch.matmul, fp32", float_op(torch.float32))]
    for fmt, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        if _native(fmt, info):
            todo.append((fmt, f"torch.matmul, {fmt}", float_op(dtype)))
        else:
            peaks.missing[fmt] = (f"not measured: this CPU has no native {fmt} instructions ({NATIVE_TEXT[fmt]}), "
                                  f"so torch would convert {fmt} in software: that measures the conversion, "
                                  "not the hardware")
    todo.append(("int8", "torch._int_mm (int8 x int8 -> int32)", lambda: _int_mm(n, threads, s.peak_seconds, g, retry)))
    engines = [e for e in dict.fromkeys([quantize.engine(), "onednn"]) if e in info.quantized_engines]
    for engine in engines:
        todo.append(("int8", f"quantized Linear (torch.ops.quantized.linear), {engine} engine",
                     lambda e=engine: _quantized_linear(e, n, threads, s.peak_seconds, g, retry)))

    steps = len(todo) + len(s.sweep_sizes)
    for i, (fmt, op, run) in enumerate(todo):
        if stop():
            break
        progress(i / steps, f"peak rate: {op}, {n} x {n}")
        try:
            gops, disturbed = run()
            peaks.rates.append(PeakRate(fmt, op, n, gops, threads, disturbed))
        except (RuntimeError, NotImplementedError) as exc:   # an op this build or CPU lacks: say so
            if peaks.best(fmt) is None:
                peaks.missing[fmt] = f"{op} failed here: {str(exc).splitlines()[0]}"
    for fmt in list(peaks.missing):
        if peaks.best(fmt) is not None:
            del peaks.missing[fmt]
    for j, m in enumerate(s.sweep_sizes):
        if stop():
            break
        progress((len(todo) + j) / steps, f"fp32 matmul {m} x {m}: a small layer")
        gops, disturbed = _matmul(torch.float32, m, threads, s.sweep_seconds, g, retry)
        peaks.sweep.append(PeakRate("fp32", "torch.matmul, fp32", m, gops, threads, disturbed))
    peaks.seconds = time.perf_counter() - start
    return peaks


# --- threads x batch ---------------------------------------------------------------------------

@dataclass
class ThreadPoint:
    threads: int               # asked for
    batch: int
    images_per_s: float
    threads_seen: list[int]    # torch.get_num_threads() inside the timed calls (each distinct value)
    disturbed: str = ""        # why its timing stayed disturbed after re-measuring (lab.measure.quiet); "" = checked quiet
    source: str = ""           # "" = timed in this sweep; else where this figure was measured (not timed again)


@dataclass
class Parallelism:
    model: str                 # e.g. "cnn on digits"
    layout: str
    points: list[ThreadPoint] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def thread_counts(self) -> list[int]:
        return sorted({p.threads for p in self.points})

    @property
    def batches(self) -> list[int]:
        return sorted({p.batch for p in self.points})

    def rate(self, threads: int, batch: int) -> float | None:
        return next((p.images_per_s for p in self.points if p.threads == threads and p.batch == batch), None)

    def speedup(self, batch: int) -> float | None:
        """Images/s at the most threads over images/s at one thread, for one batch size."""
        counts = self.thread_counts
        one, most = self.rate(counts[0], batch) if counts else None, self.rate(counts[-1], batch) if counts else None
        return most / one if one and most else None


def thread_counts(n: int) -> list[int]:
    """1, 2, ... n for a few threads; powers of two and n itself for many (a short grid)."""
    if n <= 4:
        return list(range(1, n + 1))
    counts = [1]
    while counts[-1] * 2 < n:
        counts.append(counts[-1] * 2)
    return counts + [n]


def _prepared(module: nn.Module, in_shape: tuple[int, ...], batch: int, layout: str,
              g: torch.Generator) -> tuple[nn.Module, torch.Tensor]:
    x = torch.randn(batch, *in_shape, generator=g)
    if layout == "channels_last" and x.dim() == 4:
        return module.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    return module, x


def measure_parallelism(module: nn.Module, in_shape: tuple[int, ...], max_threads: int, *, label: str = "",
                        layout: str = "contiguous", settings: ProbeSettings | None = None,
                        on_progress: ProgressFn | None = None, should_stop: StopFn | None = None,
                        known: dict[tuple[int, int], float] | None = None, known_from: str = "") -> Parallelism:
    """Images/s of the fp32 `module` at each thread count (thread_counts(max_threads)) and batch size. A
    (threads, batch) point in `known` (images/s measured quiet elsewhere, `known_from`) is taken from there,
    not timed again: one measured thing has one figure."""
    known = known or {}
    s = settings or ProbeSettings()
    progress, stop = on_progress or (lambda f, m: None), should_stop or (lambda: False)
    model = copy.deepcopy(module).eval()
    g = torch.Generator().manual_seed(0)
    grid = [(t, b) for b in s.batches for t in thread_counts(max_threads)]
    out, start = Parallelism(label, layout), time.perf_counter()
    retry = _Retry.of(s)
    with torch.inference_mode():
        for i, (threads, batch) in enumerate(grid):
            if stop():
                break
            if (threads, batch) in known:
                out.points.append(ThreadPoint(threads, batch, known[(threads, batch)], [threads], source=known_from))
                continue
            progress(i / len(grid), f"your model at batch {batch} on {threads} thread{'s' if threads > 1 else ''}")
            m, x = _prepared(model, in_shape, batch, layout, g)
            seen: set[int] = set()

            def call(m=m, x=x, seen=seen) -> None:
                seen.add(torch.get_num_threads())
                m(x)

            timed = _time("call()", {"call": call}, threads, s.parallel_seconds / len(grid), retry)
            out.points.append(ThreadPoint(threads, batch, batch / timed.seconds, sorted(seen), timed.disturbed))
    out.seconds = time.perf_counter() - start
    return out


# --- CPU vs GPU --------------------------------------------------------------------------------

@dataclass
class DeviceSpeed:
    device: str                # "cpu" or "cuda"
    name: str                  # the CPU model or the GPU's name
    train_images_per_s: float  # forward + backward + SGD step, fp32, at train_batch
    infer_images_per_s: float  # forward only, fp32, at infer_batch
    train_batch: int
    infer_batch: int


@dataclass
class DeviceComparison:
    available: bool            # a CUDA GPU was there and measured
    note: str                  # what was measured, or why nothing was
    rows: list[DeviceSpeed] = field(default_factory=list)

    def ratio(self, what: str = "train") -> float | None:
        """GPU images/s over CPU images/s, for "train" or "infer"."""
        by = {r.device: getattr(r, f"{what}_images_per_s") for r in self.rows}
        return by["cuda"] / by["cpu"] if "cuda" in by and by.get("cpu") else None


NO_GPU = ("No GPU here: torch.cuda.is_available() is False on this machine, so nothing was measured on a GPU "
          "(and nothing is estimated in its place).")


def device_speed(module: nn.Module, in_shape: tuple[int, ...], device: torch.device, threads: int,
                 s: ProbeSettings, g: torch.Generator) -> DeviceSpeed:
    """Images/s of one fp32 training step (forward, backward, SGD step) and of one inference, on `device`."""
    model = copy.deepcopy(module).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(s.train_batch, *in_shape, generator=g).to(device)
    with torch.no_grad():
        classes = model(x[:1]).shape[1]
    y = torch.randint(0, classes, (s.train_batch,), generator=g).to(device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    retry = _Retry.of(s)
    train_s = _time("step()", {"step": step}, threads, s.device_seconds, retry).seconds
    model.eval()
    xi = torch.randn(s.infer_batch, *in_shape, generator=g).to(device)
    with torch.inference_mode():
        infer_s = _time("model(x)", {"model": model, "x": xi}, threads, s.device_seconds, retry).seconds
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else hardware.cpu_model()
    return DeviceSpeed(device.type, name, s.train_batch / train_s, s.infer_batch / infer_s,
                       s.train_batch, s.infer_batch)


def compare_devices(module: nn.Module, in_shape: tuple[int, ...], threads: int,
                    settings: ProbeSettings | None = None) -> DeviceComparison:
    """The same fp32 model trained and run on the CPU and on the GPU, where there is one."""
    if not torch.cuda.is_available():
        return DeviceComparison(False, NO_GPU)
    s = settings or ProbeSettings()
    g = torch.Generator().manual_seed(0)
    rows = [device_speed(module, in_shape, torch.device(d), threads, s, g) for d in ("cpu", "cuda")]
    return DeviceComparison(True, f"measured here: fp32, training batch {s.train_batch} (forward, backward, SGD "
                                  f"step), inference batch {s.infer_batch}; the CPU on {threads} threads", rows)


# --- all of it -----------------------------------------------------------------------------------

@dataclass
class HardwareProbe:
    hardware: dict                          # hardware.describe("cpu").to_dict() when measured
    threads: int
    peaks: Peaks
    parallelism: Parallelism | None = None  # None without a model
    devices: DeviceComparison | None = None  # None without a model
    digest: str = ""                        # the weights the model parts measured ("" without a model)
    measured_at: float = field(default_factory=time.time)
    stopped: bool = False
    interference: dict | None = None        # other work on the machine meanwhile (service.activity), in the app


def probe(trained=None, *, threads: int | None = None, digest: str = "", settings: ProbeSettings | None = None,
          on_progress: ProgressFn | None = None, should_stop: StopFn | None = None,
          known: dict[tuple[int, int], float] | None = None, known_from: str = "") -> HardwareProbe:
    """Peaks always; with a trained model (lab.training.train.TrainedModel), threads x batch and CPU vs GPU too
    (`known`: images/s of that model's fp32 already measured at some (threads, batch), see measure_parallelism)."""
    s = settings or APP_PROBE
    threads = threads or torch.get_num_threads()
    progress, stop = on_progress or (lambda f, m: None), should_stop or (lambda: False)
    share = 0.45 if trained is not None else 1.0   # of the progress bar: about the peaks' share of the time
    peaks = measure_peaks(threads, s, lambda f, m: progress(share * f, m), stop)
    result = HardwareProbe(hardware.describe("cpu").to_dict(), threads, peaks, digest=digest)
    if trained is not None and not stop():
        module, shape = trained.module, trained.spec.in_shape
        result.parallelism = measure_parallelism(
            module, shape, threads, label=f"{trained.spec.name} on {trained.dataset}", layout=trained.layout,
            settings=s, on_progress=lambda f, m: progress(share + (0.95 - share) * f, m), should_stop=stop,
            known=known, known_from=known_from)
        if not stop():
            progress(0.95, "your model on the CPU and the GPU" if torch.cuda.is_available() else "looking for a GPU")
            result.devices = compare_devices(module, shape, threads, s)
    result.stopped = stop()
    return result


__all__ = ["APP_PROBE", "NO_GPU", "DeviceComparison", "DeviceSpeed", "HardwareProbe", "Parallelism", "PeakRate",
           "Peaks", "ProbeSettings", "ThreadPoint", "compare_devices", "device_speed", "measure_parallelism",
           "measure_peaks", "probe", "thread_counts", "unit"]
