import os
import platform
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from dashboard.lab import hardware


def _cpuinfo_flags() -> set[str]:
    """Every flag the kernel lists for this CPU (x86 'flags', Arm 'Features' lines)."""
    flags: set[str] = set()
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags |= set(value.split())
    return flags


def test_describe_reports_the_thread_count_torch_uses_now():
    torch.set_num_threads(1)  # the autouse fixture restores it
    info = hardware.describe("cpu")
    assert info.threads == 1 and info.device == "cpu" and info.to_dict()["threads"] == 1
    assert info.logical_cores >= 1 and info.cpu and info.torch == torch.__version__


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file(), reason="needs Linux's /proc/cpuinfo")
def test_describe_names_only_features_this_cpu_has_and_finds_avx2_where_it_is():
    """Guards the speed-up explanations: a feature is claimed only if the kernel lists it."""
    flags = _cpuinfo_flags()
    info = hardware.describe("cpu")
    assert set(info.features) <= flags
    assert all(info.has(f) for f in info.features) and not info.has("no-such-flag")
    assert len(info.feature_labels) == len(info.features) and all(info.feature_labels)
    if "avx2" in flags:  # every x86-64 CPU of the last decade, this machine included
        assert info.has("avx2") and "AVX2" in info.feature_labels


def _no_gpu(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if getattr(torch.backends, "mps", None) is not None:
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_auto_chooses_the_cpu_when_no_gpu_is_usable(monkeypatch):
    _no_gpu(monkeypatch)
    assert hardware.pick_device("auto") == torch.device("cpu")
    assert hardware.describe("auto").device == "cpu"


def test_auto_prefers_cuda_when_it_is_usable(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert hardware.pick_device("auto").type == "cuda"


def test_asking_for_a_missing_gpu_or_an_unknown_device_is_a_clear_error(monkeypatch):
    _no_gpu(monkeypatch)
    with pytest.raises(ValueError, match="no usable CUDA GPU"):
        hardware.pick_device("cuda")
    with pytest.raises(ValueError, match="MPS backend is not available"):
        hardware.pick_device("mps")
    with pytest.raises(ValueError, match="auto, cpu, cuda or mps"):
        hardware.pick_device("tpu")
    assert hardware.pick_device("cpu") == torch.device("cpu")


# Runs in a fresh interpreter: this process's allocator has long been tuned (and glibc raises its
# threshold by itself after a big free), so only a new process shows what tune_allocator changes.
_ALLOCATOR_PROBE = """
import ctypes
from dashboard.lab import hardware
libc = ctypes.CDLL("libc.so.6")
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def mmapped(size):
    before = libc.mallinfo2().hblkhd
    block = libc.malloc(size)
    grew = libc.mallinfo2().hblkhd - before
    libc.free(block)
    return grew >= size
hardware.tune_allocator()
print(mmapped(24 * 2**20), mmapped(48 * 2**20))
"""


def _glibc_with_mallinfo2() -> bool:
    lib, version = platform.libc_ver()
    return platform.system() == "Linux" and lib == "glibc" and tuple(map(int, version.split(".")[:2])) >= (2, 33)


@pytest.mark.slow  # a fresh interpreter (torch import: seconds)
@pytest.mark.skipif(not _glibc_with_mallinfo2(), reason="the tuning is glibc's; mallinfo2 needs glibc 2.33+")
def test_tuned_allocator_keeps_a_batch_sized_buffer_in_the_heap():
    """A fresh glibc process serves a 24 MiB block with mmap (fresh pages on every batch);
    after tune_allocator it comes from the heap, while a 48 MiB one (above 32 MiB) is still mmapped."""
    out = subprocess.run([sys.executable, "-c", _ALLOCATOR_PROBE], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_importing_the_package_makes_openmp_spin_longer_than_libgomps_default_but_the_user_wins():
    import os

    code = "import dashboard, os; print(os.environ['GOMP_SPINCOUNT'])"
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) > 300_000  # libgomp's own default spin count
    out = subprocess.run([sys.executable, "-c", code], env={**env, "GOMP_SPINCOUNT": "42"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "42"


def _threads_made_by_parallel_work(before_work=None) -> tuple[int, int]:
    """In a thread of its own: (OS threads its parallel torch work started, torch's and MKL's thread counts there)."""
    out = {}

    def run():
        if before_work:
            before_work()
        tasks = set(os.listdir("/proc/self/task"))   # ids, not a count: an earlier thread's workers may be exiting
        torch.randn(256, 256) @ torch.randn(256, 256)                                      # MKL
        torch.nn.functional.conv2d(torch.randn(64, 8, 28, 28), torch.randn(16, 8, 3, 3))   # oneDNN, OpenMP
        out["made"] = len(set(os.listdir("/proc/self/task")) - tasks)
        out["threads"] = torch.get_num_threads()
        out["mkl"] = _mkl_threads()

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return out["made"], out["threads"], out["mkl"]


def _mkl_threads() -> int | None:
    """MKL's thread count for the calling thread (None where torch carries no MKL)."""
    get = hardware.torch_mkl("MKL_Get_Max_Threads")
    return get() if get else None


@pytest.mark.skipif(not hardware._thread_local_setters()[0] or not os.path.isdir("/proc/self/task"),
                    reason="GNU OpenMP (Linux) only: elsewhere one_thread_here changes nothing")
def test_a_page_thread_does_its_torch_work_without_a_team_of_its_own_and_a_job_keeps_its_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)   # as a job sets the server's count (two even on one core: a team is what is checked)
    try:
        mkl = 2 if _mkl_threads() is not None else None
        assert _threads_made_by_parallel_work() == (1, 2, mkl)   # a thread's first parallel op starts its worker
        said = []
        assert _threads_made_by_parallel_work(lambda: said.append(hardware.one_thread_here())) == (
            0, 1, 1 if mkl else None)
        assert said == ["one thread (OpenMP and MKL, this thread only)"]
        # Other threads keep the process's count; a job's thread set back on it (service.jobs: one thread while it
        # waits, torch.set_num_threads in the slot, which puts MKL back on it too) gets its team again.
        assert torch.get_num_threads() == 2 and _mkl_threads() == mkl

        def job():
            hardware.one_thread_here()
            hardware.set_threads(2)

        assert _threads_made_by_parallel_work(job) == (1, 2, mkl)
    finally:
        torch.set_num_threads(before)
