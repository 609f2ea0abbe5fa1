"""Measured or estimated: which hardware energy counter CodeCarbon reads for the CPU on this machine.

Decided from facts anyone can check (readable RAPL files, CodeCarbon's public availability
checks and its config file), never from a tracker's internals. It follows the order in which
CodeCarbon 3.3 picks a CPU back-end (codecarbon/core/resource_tracker.py, set_CPU_tracking):
a configured CPU power or forced load mode: a model (estimated); Linux: RAPL, else a Raspberry
Pi 5 PMIC; macOS on Apple silicon: its CPU-load model first (estimated); an Intel Mac: Power
Gadget, else powermetrics; Windows: the Energy Meter Interface, else Power Gadget. When in
doubt the answer is "estimated": a reading never claims a measurement it may not have.
"""

from __future__ import annotations

import glob
import platform
import sys
from functools import lru_cache

RAPL_FILES = ("/sys/class/powercap/intel-rapl*/energy_uj", "/sys/class/powercap/intel-rapl/intel-rapl*/energy_uj")


def rapl_readable() -> bool:
    """True when this process can read at least one RAPL energy counter."""
    for pattern in RAPL_FILES:
        for path in glob.glob(pattern):
            try:
                with open(path, encoding="ascii") as f:
                    int(f.read().strip())
                return True
            except (OSError, ValueError):
                continue
    return False


@lru_cache(maxsize=1)
def configured_cpu() -> str | None:
    """What CodeCarbon's own config forces for the CPU (force_cpu_power, force_mode_cpu_load), or None."""
    try:
        from codecarbon.core.config import get_hierarchical_config
        conf = get_hierarchical_config()
    except Exception:  # noqa: BLE001  no readable config: nothing forced
        return None
    if conf.get("force_cpu_power"):
        return f"CodeCarbon config force_cpu_power = {conf['force_cpu_power']} W"
    if str(conf.get("force_mode_cpu_load", "")).strip().lower() == "true":
        return "CodeCarbon config force_mode_cpu_load"
    return None


@lru_cache(maxsize=1)
def cpu_counter() -> str | None:
    """The counter CodeCarbon measures CPU energy with here ("RAPL", ...), or None: it estimates."""
    if configured_cpu():
        return None
    try:
        from codecarbon.core import cpu
        if sys.platform.startswith("linux"):
            if rapl_readable() and cpu.is_rapl_available():
                return "RAPL"
            if cpu.is_raspberry():
                return "Raspberry Pi PMIC"
        elif sys.platform == "darwin":
            if platform.machine() == "arm64":
                return None  # CodeCarbon 3.3 uses its CPU-load model on Apple silicon
            if cpu.is_powergadget_available():
                return "Intel Power Gadget"
            from codecarbon.core.powermetrics import is_powermetrics_available
            if is_powermetrics_available():
                return "Apple powermetrics"
        elif sys.platform == "win32":
            from codecarbon.core.windows_emi import is_emi_available
            if is_emi_available():
                return "Windows Energy Meter Interface (RAPL)"
            if cpu.is_powergadget_available():
                return "Intel Power Gadget"
    except Exception:  # noqa: BLE001  a check that fails cannot support a claim of measurement
        return None
    return None


def gpu_counter(data) -> str | None:
    """The GPU counter behind a CodeCarbon EmissionsData, or None. CodeCarbon tracks a GPU only
    through its energy counters (NVML, AMD SMI, powermetrics), so a tracked GPU is measured."""
    if int(getattr(data, "gpu_count", 0) or 0) > 0:
        return f"GPU energy counters ({getattr(data, 'gpu_model', '') or 'GPU'}, whole device)"
    return None
