"""Device profiles: every version of the student's model run under a device's limits, and which fit.

    run = run_profile(variants, dataset, default_profiles(threads)["phone"])   # EdgeRun: one Fit per version

A profile is the limits of a class of device: how many threads it computes with, how many images
it gets per call, how much memory the model may use (its weights plus the largest set of
activations alive at once) and how long an answer may take. `run_profile` applies them for real
on this machine: torch's thread count and ONNX Runtime sessions made again with the profile's
threads (`runtimes.with_threads`), the profile's batch as the timed batch (lab.measure.bench measures both
single calls and batches of that size), versions a device cannot run (float arithmetic on an
int8-only microcontroller) left out with the reason. This machine stands in for the device: the
limits are the device's, the speed is this machine's cores, and a phone's or a microcontroller's
core is slower (a 64 MHz Cortex-M4 does a small fraction of what one core here does), so a version that
misses the latency budget here misses it there too, while one that meets it here may not.

Memory (`activation_peak`): the weights are the file the version is deployed as (what
lab.measure.bench measures as its size); the peak activations are measured on one real forward pass at
the profile's batch: a forward hook on every innermost layer called (one that calls no other
module: a Linear, a ReLU, a quantized LinearReLU) records the bytes of the tensor it was given
and of the one it made, and the peak is the largest input + output of one layer, which is
what a runtime that frees each activation once the next layer has used it must hold at once
(the arena plan of TensorFlow Lite Micro; Lin et al. 2020, MCUNet, count peak memory the same
way). Quantized layers hand on 8-bit tensors, so their activations count 1 byte per number. An
ONNX Runtime version has no torch layers to hook: it is measured on the torch model it was
exported from, with 1 byte per number when ORT's static int8 quantizer made it (its QDQ graph
runs as integer kernels between the quantize and dequantize at its ends) and 4 otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from dashboard.lab import hardware
from dashboard.lab.measure import bench
from dashboard.lab.serving import runtimes
from dashboard.lab.measure.bench import BenchResult, BenchSettings
from dashboard.lab.inputs.data import Dataset
from dashboard.lab.serial import to_plain
from dashboard.lab.training.variant import Variant

KiB = 1024
MiB = 1024 * KiB

# Timing under a profile: short (a student runs four profiles in a row on a shared server), in
# interleaved rounds as every benchmark here, energy metered over the same windows.
PROFILE_BENCH = BenchSettings(rounds=2, batch1_min_calls=40, batch1_min_seconds=0.2, batch_min_seconds=0.25,
                              warmup_seconds=0.05, energy=True, energy_mode="rounds", quiet_wait_s=1.0,
                              retry_budget_s=10.0)


@dataclass(frozen=True)
class DeviceProfile:
    """The limits of a class of device; every field but key can be edited by the student."""

    key: str
    title: str
    threads: int
    batch: int                       # images per call
    memory_budget: int | None        # bytes for the weights + peak activations; None: not a limit
    latency_budget_ms: float         # per call: p95 of single calls, or one batch of `batch`
    int8_only: bool = False          # integer arithmetic only (no float unit worth using)
    stands_for: str = ""             # what real device these limits are like
    why: str = ""                    # where the budgets come from

    def check(self, max_threads: int, max_batch: int) -> None:
        """ValueError with one line a student can act on if the profile cannot be run here."""
        if not 1 <= self.threads <= max_threads:
            raise ValueError(f"threads must be between 1 and {max_threads} (this server's limit), not {self.threads}")
        if not 1 <= self.batch <= max_batch:
            raise ValueError(f"images per call must be between 1 and {max_batch}, not {self.batch}")
        if self.memory_budget is not None and self.memory_budget <= 0:
            raise ValueError("the memory budget must be more than 0 bytes")
        if not self.latency_budget_ms > 0:
            raise ValueError("the latency budget must be more than 0 ms")

    def to_dict(self) -> dict:
        return to_plain(self)


FRAME_30FPS_MS = 1000 / 30   # a camera at 30 frames per second: each frame must be answered within 33.3 ms


def default_profiles(server_threads: int) -> dict[str, DeviceProfile]:
    """The four starting profiles. The cloud server gets every thread this server allows."""
    return {p.key: p for p in (
        DeviceProfile("cloud", "Cloud server", threads=max(1, server_threads), batch=64, memory_budget=None,
                      latency_budget_ms=100.0,
                      stands_for="a data-centre server answering many users, their requests gathered into batches",
                      why="100 ms: about the limit for a reply to feel instant (Nielsen, Usability Engineering, "
                          "1993, ch. 5); the network's round trip comes on top (Cloud vs edge, below). Memory is "
                          "gigabytes: no limit for models this size."),
        DeviceProfile("laptop", "Laptop", threads=min(2, max(1, server_threads)), batch=1, memory_budget=512 * MiB,
                      latency_budget_ms=FRAME_30FPS_MS,
                      stands_for="a laptop running the model in an app or a browser tab, one webcam frame at a time",
                      why="33 ms: a webcam's 30 frames per second. 512 MiB: a share of an 8 GB laptop an app "
                          "might take (an assumption: edit it)."),
        DeviceProfile("phone", "Phone-class", threads=1, batch=1, memory_budget=50 * MiB,
                      latency_budget_ms=FRAME_30FPS_MS,
                      stands_for="one core of a phone, answering each camera frame as it comes",
                      why="33 ms: a camera's 30 frames per second. 50 MiB for the model: an assumption for an "
                          "app that shares the phone with others (edit it)."),
        DeviceProfile("microcontroller", "Microcontroller-class", threads=1, batch=1, memory_budget=256 * KiB,
                      latency_budget_ms=200.0, int8_only=True,
                      stands_for="a microcontroller such as the nRF52840 (Arduino Nano 33 BLE Sense: 64 MHz "
                                 "Cortex-M4, 256 KiB of RAM, 1 MiB of flash)",
                      why="256 KiB: the nRF52840's RAM (Nordic Semiconductor's product specification), counted here "
                          "for the weights and activations together (a runtime can keep weights in flash, so this "
                          "is the strict reading). int8 only: microcontroller runtimes (TensorFlow Lite Micro, "
                          "CMSIS-NN) run integer kernels. 200 ms: five answers a second, enough for a sensor."),
    )}


def integer_only(variant: Variant | BenchResult) -> bool:
    """Whether a version computes in 8-bit integers from its input to its output layer: int8-static
    (alone or after channel pruning) and ORT's own static int8. int8-dynamic is not: its activations
    stay float, and convolutions too."""
    name = variant.name
    if name == "onnxruntime-int8":
        return str(variant.details.get("quantizer", "")).endswith("quantize_static")
    return name.endswith("int8-static")


def _nbytes(x) -> int:
    if isinstance(x, torch.Tensor):
        return x.numel() * x.element_size()
    if isinstance(x, (tuple, list)):
        return sum(_nbytes(t) for t in x)
    return 0


@torch.inference_mode()
def activation_peak(variant: Variant, example: torch.Tensor) -> tuple[int, str]:
    """Bytes of the largest input + output of one layer in a forward pass on `example` (a batch
    of normalised fp32 images), and how it was measured (see the module doc)."""
    module, per_number, how = variant.module, None, "forward hooks on every layer that calls no other"
    if isinstance(module, runtimes.OrtModule):
        if module.source is None:
            raise ValueError(f"{variant.name}: no torch model to measure its activations on")
        per_number = 1 if integer_only(variant) else 4
        how = (f"forward hooks on the torch model it was exported from, {per_number} byte"
               f"{'s' if per_number > 1 else ''} per number")
        module = run = module.source
    else:
        run = variant
    peak = 0
    stack: list[bool] = []   # per module being called: whether a module inside it was called

    def enter(_layer, _inputs) -> None:
        if stack:
            stack[-1] = True
        stack.append(False)

    def leave(_layer, inputs, output) -> None:
        nonlocal peak
        if stack.pop():
            return   # a container: its layers were counted one by one
        size = _nbytes(inputs) + _nbytes(output)
        if per_number is not None:
            size = per_number * sum(t.numel() for t in (*inputs, output) if isinstance(t, torch.Tensor))
        peak = max(peak, size)

    handles = [h for m in module.modules()
               for h in (m.register_forward_pre_hook(enter), m.register_forward_hook(leave))]
    try:
        run(example)
    finally:
        for h in handles:
            h.remove()
    return peak, how


@dataclass
class Fit:
    """One version under one profile: what it needs, what it took, and whether that fits."""

    name: str
    runnable: bool                  # False: the device cannot run it (why_not says why)
    why_not: str = ""
    accuracy: float | None = None
    weights_bytes: int | None = None
    activation_bytes: int | None = None
    activations_how: str = ""
    latency_ms: float | None = None     # per call: p95 of single calls (batch 1) or one batch (mean)
    latency_what: str = ""
    typical_ms: float | None = None     # per call: the median of single calls (batch 1) or one batch (mean)
    ms_per_image: float | None = None
    threads: int = 0                    # what the timed calls ran with (read back, not the request)
    batch: int = 0
    energy: object | None = None        # lab.energy.PerImageEnergy at the profile's batch
    memory_budget: int | None = None
    latency_budget_ms: float = 0.0
    disturbed: str = ""                 # why its time stayed disturbed (lab.measure.quiet); "" = checked quiet
    source: str = ""                    # "" = timed in this profile's run; else where its time was measured

    @property
    def memory_bytes(self) -> int | None:
        if self.weights_bytes is None or self.activation_bytes is None:
            return None
        return self.weights_bytes + self.activation_bytes

    @property
    def fits_memory(self) -> bool | None:
        """None when the profile sets no memory budget or nothing was measured."""
        if self.memory_budget is None or self.memory_bytes is None:
            return None
        return self.memory_bytes <= self.memory_budget

    @property
    def fits_latency(self) -> bool | None:
        """None when not measured, or measured while disturbed (a busy server's time says nothing of the
        version: it is shown labelled, and no fit is decided on it)."""
        return None if self.latency_ms is None or self.disturbed else self.latency_ms <= self.latency_budget_ms

    @property
    def headroom(self) -> float | None:
        """Budget / latency: how many times slower than this machine the device may be and still
        meet the latency budget (a real phone or microcontroller core is slower than this one). None
        when the latency is disturbed: no ratio is built on it."""
        return self.latency_budget_ms / self.latency_ms if self.latency_ms and not self.disturbed else None

    @property
    def fits(self) -> bool:
        return self.runnable and self.fits_memory is not False and bool(self.fits_latency)

    @property
    def misses(self) -> list[str]:
        """Which budgets a runnable version is over, in words (empty when it fits or was not measured)."""
        return [what for ok, what in ((self.fits_memory, "over the memory budget"),
                                      (self.fits_latency, "over the latency budget")) if ok is False]

    def to_dict(self) -> dict:
        d = to_plain(self, exclude=("energy",))
        d.update(memory_bytes=self.memory_bytes, fits_memory=self.fits_memory, fits_latency=self.fits_latency,
                 fits=self.fits, headroom=self.headroom, energy=self.energy.to_dict() if self.energy is not None else None)
        return d


@dataclass
class EdgeRun:
    """Every version under one profile, measured on this machine standing in for the device."""

    profile: DeviceProfile
    fits: list[Fit]
    machine: str                     # this machine's CPU
    measured_at: float = field(default_factory=time.time)
    seconds: float = 0.0
    stopped: bool = False
    key: tuple = ()                  # what it measured, as the caller names it (the app: model digest, versions)
    source: str = ""                 # "" = measured on this server; else where (a replay's label)

    def fit(self, name: str) -> Fit | None:
        return next((f for f in self.fits if f.name == name), None)

    @property
    def fitting(self) -> list[Fit]:
        return [f for f in self.fits if f.fits]

    @property
    def best_fit(self) -> Fit | None:
        """The most accurate version that fits both budgets, or None."""
        return max(self.fitting, key=lambda f: f.accuracy or 0.0, default=None)

    def to_dict(self) -> dict:
        return {"profile": self.profile.to_dict(), "fits": [f.to_dict() for f in self.fits],
                "machine": self.machine, "measured_at": self.measured_at, "seconds": round(self.seconds, 3),
                "stopped": self.stopped}


def reusable(known: list[BenchResult], profile: DeviceProfile) -> dict[str, BenchResult]:
    """The versions whose figure at the profile's threads and batch was already measured, quiet, in `known`
    (the Compress & benchmark results): one measured thing has one figure, so those are not timed again.
    Batch 1 reuses the latency (p50, p95), a batch equal to the benchmark's its throughput."""
    out = {}
    for r in known:
        if not r.available or r.threads != profile.threads or not r.latency_ms_batch1_p50:
            continue
        if profile.batch == 1 and not r.is_disturbed("batch1"):
            out[r.name] = r
        elif profile.batch == r.batch_size and r.throughput_batch256_ips and not r.is_disturbed("batch"):
            out[r.name] = r
    return out


def run_profile(variants: list[Variant], dataset: Dataset, profile: DeviceProfile, *,
                settings: BenchSettings | None = None, energy_settings=None,
                on_progress: Callable[[float, str], None] | None = None,
                should_stop: Callable[[], bool] | None = None, known: list[BenchResult] | None = None,
                known_from: str = "Compress & benchmark") -> EdgeRun:
    """Time every version the device can run with the profile's threads and batch, measure its
    memory at that batch, and say which fit the budgets. A version whose figure at those threads and
    batch is in `known` (measured quiet, `known_from`) takes it from there instead of being timed
    again. The caller's variants are not changed."""
    start = time.perf_counter()
    progress = on_progress or (lambda f, m: None)
    runnable, fits = [], []
    for v in variants:
        fit = Fit(v.name, runnable=v.available and v.module is not None, batch=profile.batch,
                  memory_budget=profile.memory_budget, latency_budget_ms=profile.latency_budget_ms)
        if not fit.runnable:
            fit.why_not = f"not available here: {v.note}"
        elif profile.int8_only and not integer_only(v):
            fit.runnable, fit.why_not = False, "computes in floating point; this device runs 8-bit integers only"
        fits.append(fit)
        if fit.runnable:
            runnable.append(runtimes.with_threads(v, profile.threads))
    example = dataset.test_tensors(profile.batch)[0][:profile.batch]
    if len(example) < profile.batch:
        example = example.repeat(-(-profile.batch // len(example)), 1, 1, 1)[:profile.batch]
    by_name = {f.name: f for f in fits}
    before = torch.get_num_threads()
    try:   # every call under the profile's threads, the memory measurement's too (bench.measure sets them again)
        hardware.set_threads(profile.threads)
        for v in runnable:
            f = by_name[v.name]
            f.activation_bytes, f.activations_how = activation_peak(v, example)
    finally:
        torch.set_num_threads(before)
    progress(0.05, "timing every version under the profile's limits")
    reuse = reusable(known or [], profile)
    to_time = [v for v in runnable if v.name not in reuse]
    timed = replace(settings or PROFILE_BENCH, threads=profile.threads, batch_size=profile.batch)
    results = bench.measure(to_time, dataset, timed, energy_settings=energy_settings,
                            on_progress=lambda frac, msg: progress(0.05 + 0.95 * frac, msg),
                            should_stop=should_stop) if to_time else []
    measured = {r.name: r for r in results}
    for v in runnable:
        f, r = by_name[v.name], measured.get(v.name) or reuse.get(v.name)
        if r is None:
            continue
        f.accuracy, f.weights_bytes, f.threads = r.accuracy, r.size_bytes, r.threads
        if v.name in reuse:
            f.source = known_from
        if profile.batch == 1 and r.latency_ms_batch1_p50:
            # One image per call: what a user waits is the single call (p95 for the budget, p50 typical);
            # its energy is that of the single calls.
            f.latency_ms, f.latency_what = r.latency_ms_batch1_p95, "p95 of single calls"
            f.typical_ms = f.ms_per_image = r.latency_ms_batch1_p50
            f.energy, f.disturbed = r.energy_batch1, r.disturbed.get("batch1", "")
        elif r.throughput_batch256_ips:
            f.ms_per_image = 1000.0 / r.throughput_batch256_ips
            f.latency_ms = f.typical_ms = profile.batch * f.ms_per_image
            f.latency_what = f"one batch of {profile.batch} (mean)"
            f.energy, f.disturbed = r.energy, r.disturbed.get("batch", "")
        if isinstance(v.module, runtimes.OrtModule):
            f.threads = v.module.session.get_session_options().intra_op_num_threads
    stopped = bool(should_stop and should_stop())
    return EdgeRun(profile, fits, hardware.cpu_model(), seconds=time.perf_counter() - start, stopped=stopped)


__all__ = ["KiB", "MiB", "PROFILE_BENCH", "DeviceProfile", "EdgeRun", "Fit", "activation_peak", "default_profiles",
           "integer_only", "run_profile"]
