import platform

import pytest
import torch

from dashboard.lab import hardware


def test_describe_reports_this_machine():
    info = hardware.describe("cpu")
    assert info.device == "cpu" and info.threads == torch.get_num_threads()
    assert info.logical_cores >= 1 and info.cpu and info.torch == torch.__version__
    assert set(info.features) <= set(hardware.X86_FEATURES) | set(hardware.ARM_FEATURES)
    assert len(info.feature_labels) == len(info.features)
    if platform.system() == "Linux" and platform.machine() == "x86_64":
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = set(next(line for line in f if line.startswith("flags")).split(":", 1)[1].split())
        assert set(info.features) == {f for f in hardware.X86_FEATURES if f in flags}
    assert info.to_dict()["device"] == "cpu"


def test_auto_device_falls_back_to_cpu_and_a_missing_gpu_is_a_clear_error():
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no usable CUDA GPU"):
            hardware.pick_device("cuda")
    assert hardware.pick_device("auto").type in ("cpu", "cuda", "mps")
    mps = getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    expected = "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    assert hardware.pick_device("auto").type == expected
    with pytest.raises(ValueError, match="auto, cpu, cuda or mps"):
        hardware.pick_device("tpu")


@pytest.mark.skipif(platform.system() != "Linux", reason="glibc malloc tuning is Linux-only")
def test_allocator_keeps_batch_sized_buffers_in_the_heap():
    assert hardware.tune_allocator() == "glibc malloc: mmap threshold 32 MiB, trim threshold 64 MiB"
    assert hardware.describe("cpu").allocator == hardware.tune_allocator()


def test_importing_the_package_sets_the_openmp_spin_default_but_the_user_wins():
    import os
    import subprocess
    import sys

    code = "import dashboard, os; print(os.environ['GOMP_SPINCOUNT'])"
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3000000"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "GOMP_SPINCOUNT": "42"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "42"
