"""What this machine is: the compute device, the CPU and the features that explain speed-ups."""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import lru_cache

import torch

from dashboard.lab.serial import Record

# /proc/cpuinfo flags that decide how fast int8 and bf16 run on x86 CPUs.
X86_FEATURES = {
    "avx2": "AVX2",
    "avx512f": "AVX-512",
    "avx512_vnni": "AVX-512 VNNI (int8 dot products)",
    "avx_vnni": "AVX-VNNI (int8 dot products)",
    "avx512_bf16": "AVX-512 BF16",
    "amx_bf16": "AMX-BF16 (bf16 matrix tiles)",
    "amx_int8": "AMX-INT8 (int8 matrix tiles)",
    "amx_fp16": "AMX-FP16",
}
ARM_FEATURES = {"asimd": "NEON", "asimddp": "NEON dot product (int8)", "bf16": "BF16", "sve": "SVE"}


@dataclass(frozen=True)
class HardwareInfo(Record):
    device: str                # "cpu", "cuda", "mps"
    device_name: str           # e.g. "NVIDIA H100" or the CPU model
    cpu: str
    arch: str
    logical_cores: int
    threads: int               # torch intra-op threads now
    torch: str
    torch_build: str           # "cpu", "cuda 12.8", ...
    cpu_capability: str        # torch's SIMD level, e.g. "AVX512"
    features: tuple[str, ...] = field(default_factory=tuple)  # flag names present
    quantized_engines: tuple[str, ...] = field(default_factory=tuple)
    allocator: str = ""        # what tune_allocator() did (it runs before any measurement)
    openmp_spincount: str = field(default_factory=lambda: os.environ.get("GOMP_SPINCOUNT", "libgomp default"))

    def has(self, flag: str) -> bool:
        return flag in self.features

    @property
    def feature_labels(self) -> list[str]:
        names = {**X86_FEATURES, **ARM_FEATURES}
        return [names[f] for f in self.features if f in names]

    @classmethod
    def from_dict(cls, d: dict) -> HardwareInfo:
        """Back from to_dict() (another machine's, sent as plain data); keys it does not know are left out."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in known})


def pick_device(requested: str = "auto") -> torch.device:
    """auto: CUDA, else Apple MPS, else CPU. An explicit request that cannot run raises."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but this machine has no usable CUDA GPU")
    if requested == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' asked for, but Apple's MPS backend is not available here")
    if requested not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be auto, cpu, cuda or mps, not {requested!r}")
    return torch.device(requested)


@lru_cache(maxsize=1)
def _cpu_model_and_flags() -> tuple[str, frozenset[str]]:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "Hardware") and model in ("", platform.machine(), platform.processor()):
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass  # macOS, Windows: no /proc; the model name from platform is what we have.
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        flags |= {"asimd", "asimddp"}
    return model or "unknown CPU", frozenset(flags)


def cpu_model() -> str:
    return _cpu_model_and_flags()[0]


def describe(device: str = "auto") -> HardwareInfo:
    """A snapshot of the machine as torch sees it now."""
    dev = pick_device(device)
    cpu, flags = _cpu_model_and_flags()
    known = X86_FEATURES if platform.machine() in ("x86_64", "AMD64") else ARM_FEATURES
    if dev.type == "cuda":
        name, build = torch.cuda.get_device_name(dev), f"cuda {torch.version.cuda}"
    elif dev.type == "mps":
        name, build = "Apple GPU (MPS)", "mps"
    else:
        name = cpu
        build = f"cuda {torch.version.cuda} (CPU used)" if torch.version.cuda else "cpu"
    return HardwareInfo(
        device=dev.type,
        device_name=name,
        cpu=cpu,
        arch=platform.machine(),
        logical_cores=os.cpu_count() or 1,
        threads=torch.get_num_threads(),
        torch=torch.__version__,
        torch_build=build,
        cpu_capability=torch.backends.cpu.get_cpu_capability(),
        features=tuple(f for f in known if f in flags),
        quantized_engines=tuple(e for e in torch.backends.quantized.supported_engines if e != "none"),
        allocator=tune_allocator(),
    )


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op threads (process-wide: every session shares it). Returns the count."""
    if threads:
        torch.set_num_threads(max(1, int(threads)))
    return torch.get_num_threads()


ALLOCATOR_MMAP_THRESHOLD = 32 * 2**20  # glibc's largest allowed value


@lru_cache(maxsize=1)
def tune_allocator() -> str:
    """Keep large tensors' memory in the heap between calls (glibc only); returns what was done.

    glibc's malloc serves blocks above its mmap threshold (128 KiB at start, raised only after a
    big block is freed) with fresh pages from the kernel and hands them back on free. A batch of
    256 images makes activations of tens of MB, so every forward pass page-faults its buffers in
    anew: here that made fp32 at batch 256 2.4x slower until, by chance, a larger block was
    freed. That is allocator noise, not the model's speed, and it made two identical
    measurements in one process disagree. A fixed 32 MiB threshold (and trim threshold above it)
    keeps such buffers for reuse, as jemalloc or tcmalloc (PyTorch's CPU tuning advice) would.
    """
    if platform.system() != "Linux":
        return "system allocator (not glibc): unchanged"
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
        ok = (libc.mallopt(m_mmap_threshold, ALLOCATOR_MMAP_THRESHOLD)
              and libc.mallopt(m_trim_threshold, 2 * ALLOCATOR_MMAP_THRESHOLD))
    except (OSError, AttributeError) as exc:
        return f"glibc malloc not tunable here ({exc}): unchanged"
    return ("glibc malloc: mmap threshold 32 MiB, trim threshold 64 MiB" if ok
            else "glibc malloc refused the thresholds: unchanged")


def torch_mkl(name: str) -> Callable | None:
    """One of MKL's C entry points (e.g. "MKL_Get_Max_Threads"), which torch's own library carries statically on
    x86 Linux wheels; None where it has no MKL. (The lowercase names are the Fortran ones, which take pointers.)"""
    try:
        return getattr(ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")), name)
    except (OSError, AttributeError):
        return None


@lru_cache(maxsize=1)
def _thread_local_setters() -> tuple:
    """(libgomp's omp_set_num_threads, MKL's MKL_Set_Num_Threads_Local) as loaded by torch in this process; either
    is None where torch uses another OpenMP (libomp on macOS) or no MKL."""
    try:
        with open("/proc/self/maps") as maps:
            gomp = next((line.split()[-1] for line in maps if "libgomp" in line.rsplit("/", 1)[-1]), None)
        omp = ctypes.CDLL(gomp).omp_set_num_threads if gomp else None
    except (OSError, AttributeError):
        omp = None
    return omp, torch_mkl("MKL_Set_Num_Threads_Local")


def one_thread_here() -> str:
    """Run this thread's own torch work on one thread, without an OpenMP team of its own; returns what was done.

    For the server's page threads (dashboard/app.py calls it at the top of every run): the compute slot's job
    owns the cores. GNU libgomp lets an idle worker spin (GOMP_SPINCOUNT, dashboard/__init__.py) only while the
    process has no more OpenMP threads than processors; past that, every worker sleeps between parallel regions
    and a model's many short regions each wait for one to wake. A page run that did one parallel torch op kept a
    team of its own alive for as long as it ran, so a measurement running meanwhile fell into that slow mode:
    on the 2-vCPU VM, six such page threads, idle, made a 2-thread CNN's batch-1 call ~3x slower, and a busy
    room read the 50 %-pruned CNN at 40k instead of 64k images/s at batch 256, with every sign of
    lab.measure.quiet normal. Only this thread's settings change (omp_set_num_threads is per thread, and MKL's
    thread-local setting wins over the global one), so other threads are untouched: torch.set_num_threads would
    change MKL's count for the whole process. A job's thread that waited this way is set back on the server's
    count by torch.set_num_threads when its turn comes (service.jobs)."""
    omp, mkl = _thread_local_setters()
    if omp is None:
        return "not GNU OpenMP: unchanged"
    torch.get_num_threads()   # torch's lazy per-thread setup first: it would set the thread's count back later
    omp(1)
    if mkl is not None:
        mkl(1)
    return "one thread (OpenMP and MKL, this thread only)"


def release_memory() -> str:
    """Hand freed heap memory back to the operating system (glibc: malloc_trim); returns what was done.

    With the allocator tuned for repeatable timings (tune_allocator) and one heap arena per
    thread, memory a finished job freed stays in the process: a hosted copy measured 1.3 GB
    minutes after five demos had ended. Jobs call this when they end; it costs a few ms."""
    import gc

    gc.collect()
    if platform.system() != "Linux":
        return "not glibc: left to the system allocator"
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError) as exc:
        return f"malloc_trim unavailable ({exc})"
    return "glibc malloc_trim(0) after each job"
