"""The CodeCarbon adapter: meter a block of work, through CodeCarbon's public API only.

One new offline, process-mode tracker per measurement, writing no files, calling no network,
quiet logs. Its start() and stop() run with a deadline (TRACKER_TIMEOUT_S). Whatever goes wrong
(an exception, a hang, stop() returning None, no final_emissions_data) the reading falls back
to a CPU-time estimate whose method says why. Only CodeCarbon's returned EmissionsData is read.

The meter does not take the compute slot: the caller holds service.slot.COMPUTE where a job starts
(service.jobs, the CLI), so no reading counts another session's work. Two trackers running at
once in one process would double count; nested meters in one thread are fine (the outer one
includes the inner one's work, so do not add them up).
"""

from __future__ import annotations

import logging
import math
import os
import platform
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import fields
from typing import Any

from dashboard.lab.hardware import cpu_model
from dashboard.lab.energy import counters
from dashboard.lab.energy.assumptions import EnergySettings
from dashboard.lab.energy.grid import J_PER_KWH, WORLD, grid_intensity, known
from dashboard.lab.energy.reading import EnergyReading

# What CodeCarbon itself assumes when it knows nothing (codecarbon/core/cpu.py DEFAULT_POWER_PER_CORE,
# external/ram.py: 5 W per DIMM, at least 2 DIMMs on x86). Used only when CodeCarbon fails.
FALLBACK_WATTS_PER_THREAD = 4.0
FALLBACK_RAM_WATTS = 10.0

# CodeCarbon probes hardware (and on some machines calls powermetrics, nvidia-smi or RAPL files)
# inside start() and stop(). On a shared server a hung call must not hold up the job, so each
# runs in a helper thread with a deadline; past it the reading falls back to an estimate.
# The first tracker in a process takes ~1.5 s (CPU detection), later ones ~3 ms.
TRACKER_TIMEOUT_S = 10.0

# Below this much process CPU time the ratio CodeCarbon energy / CPU time is too noisy to quote.
MIN_CPU_SECONDS_FOR_WATTS = 0.02
RELIABLE_CPU_SECONDS = 0.5  # CPU time of the window the quoted wattage is learnt from

RAM_SOURCE = "CodeCarbon's RAM model (about 5 W per DIMM, sized from this process's memory)"

# Figures learnt from the last good CodeCarbon reading, so a later failure estimates alike.
_last_known: dict[str, Any] = {}


def _quiet_codecarbon() -> None:
    # CodeCarbon logs at INFO/WARNING before it applies log_level (first tracker in a process).
    logging.getLogger("codecarbon").setLevel(logging.ERROR)


def _new_tracker(country_iso: str):
    """A fresh offline, process-mode tracker that writes nothing and calls no network."""
    from codecarbon import OfflineEmissionsTracker

    _quiet_codecarbon()
    kwargs: dict[str, Any] = {
        "tracking_mode": "process",
        "output_methods": [],
        "emissions_endpoint": None,
        "allow_multiple_runs": True,   # no lock file
        "log_level": "error",
        "pue": 1.0,                    # the user's PUE is applied by with_settings
        "wue": 0.0,
        "project_name": "train-infer-lab",
        # The intensity comes from CodeCarbon's own table (see grid); forcing it keeps
        # CodeCarbon from any Electricity Maps call a user config might switch on.
        "force_carbon_intensity_g_co2e_kwh": grid_intensity(country_iso),
    }
    if country_iso and country_iso != WORLD and known(country_iso):
        kwargs["country_iso_code"] = country_iso
    return OfflineEmissionsTracker(**kwargs)


def _bounded(fn: Callable[[], Any], what: str) -> Any:
    """fn() in a daemon thread; TimeoutError if it has not returned after TRACKER_TIMEOUT_S."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001  handed to the caller below
            box["error"] = e

    thread = threading.Thread(target=target, name=f"codecarbon {what}", daemon=True)
    thread.start()
    thread.join(TRACKER_TIMEOUT_S)
    if thread.is_alive():
        raise TimeoutError(f"its {what}() did not return within {TRACKER_TIMEOUT_S:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def warm_up() -> None:
    """Pay CodeCarbon's one-off hardware detection (~1.5 s) now rather than inside a measurement."""
    if _last_known.get("warm"):
        return
    with suppress(Exception):  # a failure here shows up, with its reason, in the first reading
        t = _new_tracker(WORLD)
        _bounded(t.start, "start")
        _bounded(t.stop, "stop")
        counters.cpu_counter()
    _last_known["warm"] = True


def _sync_gpu() -> None:
    """Let queued GPU work finish inside the metered window."""
    torch = sys.modules.get("torch")
    with suppress(Exception):  # no usable CUDA: nothing queued to wait for
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()


class _Probe:
    """One measurement: a CodeCarbon tracker plus our own clocks, for the fallback."""

    def __init__(self, country_iso: str):
        self.country_iso = country_iso
        self.tracker = None
        self.error: str | None = None
        self.data = None

    def start(self) -> None:
        try:
            tracker = _new_tracker(self.country_iso)
            _bounded(tracker.start, "start")  # CodeCarbon swallows its errors here: stop() tells
            self.tracker = tracker
        except Exception as e:  # noqa: BLE001  any failure: the estimate says why
            self.error = f"{type(e).__name__}: {e}" if not isinstance(e, TimeoutError) else str(e)
        self.t0, self.cpu0, self.wall0 = time.perf_counter(), time.process_time(), time.time()

    def stop(self) -> None:
        _sync_gpu()
        self.duration = time.perf_counter() - self.t0
        self.cpu_seconds = time.process_time() - self.cpu0
        self.wall1 = time.time()
        if self.tracker is None:
            return
        try:
            kg = _bounded(self.tracker.stop, "stop")
        except TimeoutError as e:
            self.error = str(e)
            return  # its thread is stuck inside CodeCarbon: leave the tracker alone
        except Exception as e:  # noqa: BLE001  any failure: the estimate says why
            self.error = f"{type(e).__name__}: {e}"
            return
        data = getattr(self.tracker, "final_emissions_data", None)
        if kg is None or data is None:
            self.error = "its stop() returned no data (it swallowed an error in start() or stop())"
        elif not all(math.isfinite(float(getattr(data, k) or 0.0)) for k in ("cpu_energy", "ram_energy", "gpu_energy")):
            self.error = "it returned a non-finite energy"
        else:
            self.data = data


def _cpu_watts(cpu_j: float, cpu_seconds: float, threads: int) -> tuple[float | None, str]:
    """(W per busy thread, where it comes from) for CodeCarbon's CPU estimate.

    In process mode CodeCarbon charges (CPU TDP / logical CPUs) per second of process CPU time,
    so its CPU energy / our CPU time is that wattage. Which TDP it used (its CPU table, its
    generic default, a configured value) is not in CodeCarbon's public API: the text says so.
    """
    configured = counters.configured_cpu()
    if cpu_seconds < MIN_CPU_SECONDS_FOR_WATTS:
        return None, (configured or "CodeCarbon's CPU model; too little CPU time to derive its wattage")
    # The ratio is a machine constant (CodeCarbon's TDP, a whole number of watts, over the logical
    # CPUs), but a short window reads a few % high: CodeCarbon also counts its own start/stop CPU
    # time, which our clock does not see. So the whole-watt TDP is learnt once, from the first
    # window with RELIABLE_CPU_SECONDS of CPU time, and every later reading quotes the same figure.
    tdp = _last_known.get("tdp_watts") or max(round(cpu_j / cpu_seconds * threads), 1)
    if cpu_seconds >= RELIABLE_CPU_SECONDS:
        _last_known.setdefault("tdp_watts", tdp)
    per_thread = tdp / threads
    how = (f"CodeCarbon's CPU energy / this process's CPU time: about {tdp:.0f} W "
           f"for {threads} threads")
    if configured:
        return per_thread, f"{how}, from {configured}"
    return per_thread, (f"{how}; whether CodeCarbon took that TDP from its CPU table or used a generic "
                        "default is not in its public API")


def _base_from_data(p: _Probe, system: dict) -> dict:
    """CodeCarbon's own figures for a finished probe, from its public EmissionsData."""
    d = p.data
    cpu_by, gpu_by = counters.cpu_counter(), counters.gpu_counter(d)
    threads = int(d.cpu_count or os.cpu_count() or 1)
    cpu_j = float(d.cpu_energy) * J_PER_KWH
    ram_j = float(d.ram_energy) * J_PER_KWH
    gpu_j = float(d.gpu_energy or 0.0) * J_PER_KWH
    ram_w = ram_j / p.duration if p.duration > 0 else float(d.ram_power or 0.0)
    per_thread, source = (None, "") if cpu_by else _cpu_watts(cpu_j, p.cpu_seconds, threads)
    for k in ("os", "python_version", "codecarbon_version", "cpu_count", "cpu_model", "gpu_count",
              "gpu_model", "ram_total_size", "tracking_mode", "run_id", "experiment_id", "region",
              "longitude", "latitude", "cpu_utilization_percent", "gpu_utilization_percent",
              "ram_utilization_percent", "ram_used_gb"):
        v = getattr(d, k, None)
        if v is not None and v != "":
            system[k] = v
    if per_thread:
        _last_known.update(cpu_watts_per_thread=per_thread, cpu_watts_source=source)
    _last_known.update(ram_watts=ram_w)
    return {
        "threads": threads,
        "cpu_measured_by": cpu_by,
        "gpu_measured_by": gpu_by,
        "cpu_watts_per_thread": per_thread,
        "cpu_watts_source": source,
        "cpu_joules_measured": cpu_j if cpu_by else 0.0,
        "cpu_joules_estimated": 0.0 if cpu_by else cpu_j,
        "cpu_seconds_estimated": 0.0 if cpu_by else p.cpu_seconds,
        "ram_joules": ram_j,
        "ram_watts": ram_w,
        "ram_source": RAM_SOURCE,
        "gpu_joules": gpu_j,
        "codecarbon_co2_grams": float(d.emissions) * 1000.0,
        "fallback_reason": None,
    }


def _fallback_base(p: _Probe) -> dict:
    """A CPU-time estimate for a probe CodeCarbon gave nothing usable for."""
    per_thread = _last_known.get("cpu_watts_per_thread") or FALLBACK_WATTS_PER_THREAD
    src = (_last_known.get("cpu_watts_source") or
           f"CodeCarbon's default for an unknown CPU, {FALLBACK_WATTS_PER_THREAD:g} W per thread")
    ram_w = _last_known.get("ram_watts") or FALLBACK_RAM_WATTS
    return {
        "threads": os.cpu_count() or 1,
        "cpu_measured_by": None, "gpu_measured_by": None,
        "cpu_watts_per_thread": per_thread, "cpu_watts_source": src,
        "cpu_joules_measured": 0.0,
        "cpu_joules_estimated": per_thread * p.cpu_seconds,
        "cpu_seconds_estimated": p.cpu_seconds,
        "ram_joules": ram_w * p.duration, "ram_watts": ram_w,
        "ram_source": ("as CodeCarbon's last reading in this process" if _last_known.get("ram_watts")
                       else "CodeCarbon's RAM model minimum on x86: 2 DIMMs x 5 W"),
        "gpu_joules": 0.0,
        "codecarbon_co2_grams": None,
        "fallback_reason": p.error or "unknown error",
    }


def _base_from_probe(p: _Probe) -> tuple[dict, dict]:
    """(base, system) for a finished probe: CodeCarbon's figures, or a CPU-time estimate."""
    system = _system_facts()
    if p.data is not None:
        try:
            return _base_from_data(p, system), system
        except Exception as e:  # noqa: BLE001  an unexpected shape of CodeCarbon's data: estimate instead
            p.error = f"its data could not be read ({type(e).__name__}: {e})"
    return _fallback_base(p), system


def _system_facts() -> dict:
    try:
        import psutil
        ram_gb = psutil.virtual_memory().total / 1024**3
    except (ImportError, OSError):
        ram_gb = None
    try:
        from codecarbon import __version__ as cc_version
    except ImportError:
        cc_version = ""
    return {"os": platform.platform(), "python_version": platform.python_version(),
            "codecarbon_version": cc_version, "cpu_count": os.cpu_count() or 1, "cpu_model": cpu_model(),
            "gpu_count": 0, "gpu_model": "", "ram_total_size": ram_gb, "tracking_mode": "process",
            "run_id": str(uuid.uuid4()), "experiment_id": "", "region": None, "longitude": None,
            "latitude": None, "cpu_utilization_percent": 0.0, "gpu_utilization_percent": 0.0,
            "ram_utilization_percent": 0.0, "ram_used_gb": 0.0}


@contextmanager
def meter(phase: str, *, settings: EnergySettings | None = None) -> Iterator[EnergyReading]:
    """Meter the block's energy; the reading fills in on exit.

    Never raises because of CodeCarbon: any failure gives an estimate whose method says why.
    Takes no compute slot: hold service.slot.COMPUTE around the job that calls it.
    """
    settings = settings or EnergySettings()
    settings.validate()
    reading = EnergyReading(phase=phase, settings=settings)
    probe = _Probe(settings.country_iso)
    probe.start()
    try:
        yield reading
    finally:
        probe.stop()
        base, system = _base_from_probe(probe)
        raw = EnergyReading(phase=phase, duration_s=probe.duration, cpu_seconds=probe.cpu_seconds,
                            started_at=probe.wall0, ended_at=probe.wall1, base=base, system=system,
                            settings=settings)
        done = raw.with_settings(settings)
        for f in fields(EnergyReading):
            setattr(reading, f.name, getattr(done, f.name))
