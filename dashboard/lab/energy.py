"""Energy, CO2 and cost of a block of work, via CodeCarbon, honest about how it was obtained.

    with energy.meter("training") as reading:     # waits for the compute slot, then meters
        train(...)
    reading.joules, reading.co2_grams, reading.method   # filled in when the block ends

Every reading says whether its energy was *measured* (RAPL, GPU or other hardware counters)
or *estimated* (CPU time x an assumed wattage, RAM by CodeCarbon's model), with the
assumptions behind it. On containers, VMs, Community Cloud and most laptops there are no
counters, so expect "estimated". The tracker is CodeCarbon's offline one, in process mode, one
new tracker per measurement, no files, quiet logs; if CodeCarbon fails in any way the reading
falls back to a CPU-time estimate whose method says why. One meter runs at a time per process
(it holds lab.slot.COMPUTE), so no reading counts another session's work.

Readings keep CodeCarbon's own figures in `base`, so the user's assumptions (country, CPU watts,
PUE, price) can be changed afterwards without re-running: `reading.with_settings(settings)`.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import platform
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import settings, slot
from .hardware import cpu_model

# --- configuration and defaults ------------------------------------------------------------

WORLD = "WORLD"  # pseudo country code: CodeCarbon's world-average intensity
WORLD_FALLBACK_GCO2_PER_KWH = 475.0  # CodeCarbon 3.3.2 carbon_intensity_per_source.json, IEA 2019

# Eurostat, household electricity price in the EU, 2nd half of 2024, all taxes included:
# EUR 28.72 per 100 kWh (dataset nrg_pc_204, released 6 May 2025).
DEFAULT_PRICE_PER_KWH = 0.2872
DEFAULT_CURRENCY = "EUR"
DEFAULT_PRICE_SOURCE = ("Eurostat: average EU household electricity price incl. taxes, 2nd half 2024, "
                        "EUR 28.72 per 100 kWh (nrg_pc_204), "
                        "https://ec.europa.eu/eurostat/statistics-explained/index.php?title=Electricity_price_statistics")

# What CodeCarbon itself assumes when it knows nothing (codecarbon/core/cpu.py DEFAULT_POWER_PER_CORE,
# external/ram.py: 5 W per DIMM, at least 2 DIMMs on x86). Used only when CodeCarbon fails.
FALLBACK_WATTS_PER_THREAD = 4.0
FALLBACK_RAM_WATTS = 10.0

J_PER_KWH = 3.6e6



def default_country() -> str:
    """The configured country: $TRAIN_INFER_LAB_COUNTRY, else CodeCarbon's own config, else WORLD."""
    iso = settings.current().country
    if not iso:
        try:
            from codecarbon.core.config import get_hierarchical_config
            iso = str(get_hierarchical_config().get("country_iso_code") or "").strip().upper()
        except Exception:  # codecarbon missing or its config unreadable: not worth failing for
            iso = ""
    return iso if iso and (iso == WORLD or iso in _grid_table()) else WORLD


def default_price() -> float:
    """$TRAIN_INFER_LAB_PRICE_PER_KWH when valid (lab.settings checks it), else the published default."""
    price = settings.current().price_per_kwh
    return DEFAULT_PRICE_PER_KWH if price is None else price


def default_currency() -> str:
    return settings.current().currency or DEFAULT_CURRENCY


@dataclass
class EnergySettings:
    """The user's editable assumptions. Changing them recomputes readings; it never re-runs work."""

    country_iso: str = field(default_factory=default_country)
    cpu_watts: float | None = None   # whole CPU at full load (TDP), W; None: CodeCarbon's estimate
    pue: float = 1.0                 # data-centre overhead; 1.0 = none (a laptop, a desk)
    price_per_kwh: float = field(default_factory=default_price)
    currency: str = field(default_factory=default_currency)
    ram_watts: float | None = None   # None: CodeCarbon's RAM model

    def validate(self) -> None:
        """Raise ValueError with a user-facing message for values that make no sense."""
        if self.cpu_watts is not None and not (self.cpu_watts > 0 and math.isfinite(self.cpu_watts)):
            raise ValueError("CPU power must be a positive number of watts")
        if self.ram_watts is not None and not (self.ram_watts >= 0 and math.isfinite(self.ram_watts)):
            raise ValueError("RAM power must be zero or a positive number of watts")
        if not (1.0 <= self.pue < 10):
            raise ValueError("PUE must be at least 1.0 (1.0 means no data-centre overhead)")
        if not (self.price_per_kwh >= 0 and math.isfinite(self.price_per_kwh)):
            raise ValueError("the electricity price must be zero or positive")

    @property
    def price_source(self) -> str:
        if self.price_per_kwh == DEFAULT_PRICE_PER_KWH and self.currency == DEFAULT_CURRENCY:
            return DEFAULT_PRICE_SOURCE
        if settings.current().price_per_kwh is not None:
            return f"configured (${settings.PREFIX}PRICE_PER_KWH)"
        return "your assumption"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EnergySettings:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# --- grid carbon intensity (CodeCarbon's bundled data) -------------------------------------

@dataclass(frozen=True)
class Country:
    iso: str
    name: str
    gco2_per_kwh: float
    year: int | None
    source: str


@lru_cache(maxsize=1)
def _grid_table() -> dict[str, Country]:
    """iso -> Country from CodeCarbon's global_energy_mix.json, intensities computed its own way."""
    try:
        from codecarbon import __version__ as cc_version
        from codecarbon.core.emissions import Emissions
        from codecarbon.input import DataSource

        source = DataSource()
        world = float(source.get_carbon_intensity_per_source_data()["world_average"])
        table = {WORLD: Country(WORLD, "World average", world, None,
                                f"CodeCarbon {cc_version} carbon_intensity_per_source.json (IEA)")}
        for iso, mix in source.get_global_energy_mix_data().items():
            # The same conversion CodeCarbon applies when it computes a country's emissions.
            g = Emissions._global_energy_mix_to_emissions_rate(mix).kgs_per_kWh * 1000.0
            table[iso] = Country(iso, mix.get("country_name", iso), round(g, 6), mix.get("year"),
                                 f"CodeCarbon {cc_version} global_energy_mix.json")
        return table
    except Exception as e:  # no codecarbon: the world average is all we can honestly offer
        return {WORLD: Country(WORLD, "World average", WORLD_FALLBACK_GCO2_PER_KWH, None,
                               f"CodeCarbon's world average (its data could not be read: {e})")}


def countries() -> list[Country]:
    """The world average first, then every country CodeCarbon has data for, by name."""
    table = _grid_table()
    return [table[WORLD]] + sorted((c for iso, c in table.items() if iso != WORLD), key=lambda c: c.name)


def country(iso: str | None) -> Country:
    """A country by ISO-3 code; unknown codes get the world average, as CodeCarbon does."""
    table = _grid_table()
    return table.get((iso or WORLD).upper(), table[WORLD])


def grid_intensity(country_iso: str | None) -> float:
    """gCO2e per kWh for a country (world average if unknown)."""
    return country(country_iso).gco2_per_kwh


def co2_grams(joules: float, country_iso: str | None) -> float:
    """CO2e in grams for an amount of energy on a country's grid; no re-run needed."""
    return joules / J_PER_KWH * grid_intensity(country_iso)


# --- readings ------------------------------------------------------------------------------

@dataclass
class EnergyReading:
    """Energy of one metered block. JSON-serialisable via to_dict()."""

    phase: str                      # "training", "inference:int8-static", ...
    duration_s: float = 0.0         # wall seconds
    cpu_seconds: float = 0.0        # process CPU seconds (all threads)
    cpu_joules: float = 0.0
    ram_joules: float = 0.0
    gpu_joules: float = 0.0
    joules: float = 0.0             # cpu + ram + gpu, PUE included
    co2_grams: float = 0.0
    country_iso: str = WORLD
    grid_gco2_per_kwh: float = 0.0
    measured: bool = False          # True only when CPU (and GPU) energy came from hardware counters
    method: str = "not metered yet"
    assumptions: dict = field(default_factory=dict)
    cost: float = 0.0               # electricity cost in `currency`
    currency: str = ""
    started_at: float = 0.0         # unix time the metered block began (after waiting for the slot)
    ended_at: float = 0.0
    waited_s: float = 0.0           # time spent queueing for the compute slot
    chunks: int = 1                 # readings summed into this one (see combine)
    base: dict = field(default_factory=dict)    # CodeCarbon's own figures, before the user's assumptions
    system: dict = field(default_factory=dict)  # host facts for the emissions.csv export

    @property
    def kwh(self) -> float:
        return self.joules / J_PER_KWH

    @property
    def watts(self) -> float:
        """Mean power over the block."""
        return self.joules / self.duration_s if self.duration_s > 0 else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["kwh"] = self.kwh
        return d

    @classmethod
    def from_dict(cls, d: dict) -> EnergyReading:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def summary(self) -> dict:
        """The CLI's `energy` block: joules, co2_grams, method, assumptions."""
        return {"joules": round(self.joules, 4), "co2_grams": round(self.co2_grams, 6),
                "kwh": self.kwh, "cost": round(self.cost, 8), "currency": self.currency,
                "measured": self.measured, "method": self.method, "assumptions": self.assumptions}

    def with_settings(self, settings: EnergySettings) -> EnergyReading:
        """A copy recomputed under other assumptions (country, CPU/RAM watts, PUE, price)."""
        settings.validate()
        b = self.base
        threads = max(int(b.get("threads") or 1), 1)
        cpu_est = b.get("cpu_joules_estimated", 0.0)
        per_thread = b.get("cpu_watts_per_thread")
        per_thread_source = b.get("cpu_watts_source", "")
        if settings.cpu_watts is not None:
            per_thread = settings.cpu_watts / threads
            per_thread_source = f"your assumption: {settings.cpu_watts:g} W for {threads} threads"
            cpu_est = per_thread * b.get("cpu_seconds_estimated", 0.0)
        ram_watts, ram_source = b.get("ram_watts"), b.get("ram_source", "")
        ram = b.get("ram_joules", 0.0)
        if settings.ram_watts is not None:
            ram_watts, ram_source = settings.ram_watts, "your assumption"
            ram = settings.ram_watts * self.duration_s
        pue = settings.pue
        cpu = (b.get("cpu_joules_measured", 0.0) + cpu_est) * pue
        ram *= pue
        gpu = b.get("gpu_joules", 0.0) * pue
        total = cpu + ram + gpu
        place = country(settings.country_iso)
        method = _method_text(b, per_thread, per_thread_source)
        assumptions = {
            "cpu_model": self.system.get("cpu_model", ""),
            "logical_cpus": threads,
            "cpu_energy": (f"measured: {b['cpu_measured_by']}" if b.get("cpu_measured_by")
                           else f"estimated: CPU time x {per_thread:.2f} W per thread" if per_thread
                           else "estimated"),
            "cpu_watts_per_thread": per_thread,
            "cpu_watts_total": per_thread * threads if per_thread else None,
            "cpu_watts_source": per_thread_source,
            "ram_watts": ram_watts,
            "ram_source": ram_source,
            "gpu_energy": (f"measured: {b['gpu_measured_by']}" if b.get("gpu_measured_by")
                           else "none (no GPU tracked)"),
            "pue": pue,
            "pue_source": "default: no data-centre overhead" if pue == 1.0 else "your assumption",
            "country": place.name,
            "country_iso": place.iso,
            "grid_gco2_per_kwh": place.gco2_per_kwh,
            "grid_year": place.year,
            "grid_source": place.source,
            "price_per_kwh": settings.price_per_kwh,
            "currency": settings.currency,
            "price_source": settings.price_source,
            "scope": ("this Python process only (CodeCarbon process mode): its CPU time, RAM by "
                      "model; a GPU counts the whole device"),
        }
        if b.get("fallback_reason"):
            assumptions["codecarbon_error"] = b["fallback_reason"]
        out = EnergyReading(**{f.name: getattr(self, f.name) for f in fields(self)})
        out.cpu_joules, out.ram_joules, out.gpu_joules, out.joules = cpu, ram, gpu, total
        out.country_iso, out.grid_gco2_per_kwh = place.iso, place.gco2_per_kwh
        out.co2_grams = co2_grams(total, place.iso)
        out.cost = total / J_PER_KWH * settings.price_per_kwh
        out.currency = settings.currency
        out.measured = bool(b.get("cpu_measured_by")) and (
            b.get("gpu_joules", 0.0) == 0.0 or bool(b.get("gpu_measured_by")))
        out.method = method
        out.assumptions = assumptions
        return out


def _method_text(b: dict, per_thread: float | None, per_thread_source: str) -> str:
    """One line: measured or estimated, and with what."""
    parts = []
    if b.get("cpu_measured_by"):
        parts.append(f"measured: {b['cpu_measured_by']}")
    else:
        head = (f"estimated: CodeCarbon unavailable: {b['fallback_reason']}; "
                if b.get("fallback_reason") else "estimated: ")
        if per_thread:
            parts.append(f"{head}CPU time x {per_thread:.2f} W per thread ({per_thread_source})")
        else:
            parts.append(f"{head}CPU by CodeCarbon's model ({per_thread_source or 'no details'})")
    if b.get("gpu_measured_by"):
        parts.append(f"GPU measured: {b['gpu_measured_by']}")
    if b.get("ram_watts") is not None or b.get("ram_source"):
        parts.append("RAM estimated")
    return "; ".join(parts)


def kind(*items) -> str:
    """'measured' when every reading (EnergyReading, PerImageEnergy, a summary dict) was measured, else 'estimated'."""
    flags = [i.get("measured") if isinstance(i, dict) else getattr(i, "measured", False) for i in items]
    return "measured" if flags and all(flags) else "estimated"


def combine(readings: list[EnergyReading], phase: str) -> EnergyReading:
    """One reading that is the sum of several (the live page meters each training chunk)."""
    if not readings:
        raise ValueError("nothing to combine")
    first = readings[0]
    sum_keys = ("cpu_joules_measured", "cpu_joules_estimated", "cpu_seconds_estimated",
                "ram_joules", "gpu_joules", "codecarbon_co2_grams")
    base = dict(first.base)
    for k in sum_keys:
        base[k] = sum(r.base.get(k, 0.0) for r in readings)
    reasons = sorted({r.base["fallback_reason"] for r in readings if r.base.get("fallback_reason")})
    base["fallback_reason"] = "; ".join(reasons) if reasons else None
    if any(r.base.get("cpu_measured_by") != first.base.get("cpu_measured_by") for r in readings):
        base["cpu_measured_by"] = None  # mixed: report the sum as estimated, never over-claim
    total_s = sum(r.duration_s for r in readings)
    if total_s > 0:  # the mean RAM wattage over the chunks, weighted by time
        base["ram_watts"] = sum((r.base.get("ram_watts") or 0.0) * r.duration_s for r in readings) / total_s
    out = EnergyReading(
        phase=phase,
        duration_s=total_s,
        cpu_seconds=sum(r.cpu_seconds for r in readings),
        started_at=min(r.started_at for r in readings),
        ended_at=max(r.ended_at for r in readings),
        waited_s=sum(r.waited_s for r in readings),
        chunks=sum(r.chunks for r in readings),
        base=base,
        system=dict(first.system),
    )
    return out.with_settings(_settings_of(first))


def _settings_of(r: EnergyReading) -> EnergySettings:
    """The settings a reading was computed under, recovered from its assumptions."""
    a = r.assumptions
    cpu_w = None
    if str(a.get("cpu_watts_source", "")).startswith("your assumption") and a.get("cpu_watts_total"):
        cpu_w = float(a["cpu_watts_total"])
    ram_w = float(a["ram_watts"]) if a.get("ram_source") == "your assumption" else None
    return EnergySettings(country_iso=r.country_iso or WORLD, cpu_watts=cpu_w, pue=float(a.get("pue", 1.0)),
                          price_per_kwh=float(a.get("price_per_kwh", default_price())),
                          currency=str(a.get("currency", default_currency())), ram_watts=ram_w)


# --- the meter -----------------------------------------------------------------------------

# Figures learnt from the last good CodeCarbon reading, so a later failure estimates alike.
_last_known: dict[str, Any] = {}
_codecarbon_lock = threading.Lock()


def _quiet_codecarbon() -> None:
    # CodeCarbon logs at INFO/WARNING before it applies log_level (first tracker in a process).
    logging.getLogger("codecarbon").setLevel(logging.ERROR)


def _new_tracker(country_iso: str):
    """A fresh offline, process-mode tracker that writes nothing and calls no network."""
    from codecarbon import OfflineEmissionsTracker

    _quiet_codecarbon()
    kwargs: dict[str, Any] = dict(
        tracking_mode="process",
        output_methods=[],
        emissions_endpoint=None,
        allow_multiple_runs=True,      # no lock file
        log_level="error",
        pue=1.0,                       # the user's PUE is applied by with_settings
        wue=0.0,
        project_name="train-infer-lab",
        # The intensity comes from CodeCarbon's own table (see _grid_table); forcing it keeps
        # CodeCarbon from any Electricity Maps call a user config might switch on.
        force_carbon_intensity_g_co2e_kwh=grid_intensity(country_iso),
    )
    if country_iso and country_iso != WORLD and country_iso in _grid_table():
        kwargs["country_iso_code"] = country_iso
    return OfflineEmissionsTracker(**kwargs)


def warm_up() -> None:
    """Pay CodeCarbon's one-off hardware detection (~1.5 s) now rather than inside a measurement."""
    if _last_known.get("warm"):
        return
    try:
        with _codecarbon_lock:
            t = _new_tracker(WORLD)
            _bounded(t.start, "start")
            _bounded(t.stop, "stop")
    except Exception:
        pass
    _last_known["warm"] = True


@lru_cache(maxsize=8)
def _tdp_in_codecarbon_table(model: str) -> float | None:
    """The TDP CodeCarbon's CPU table gives this model, or None when it falls back to a default."""
    try:
        from codecarbon.core import cpu as cc_cpu
        from codecarbon.core.hardware_cache import get_cached_tdp
        return get_cached_tdp(cc_cpu)._get_cpu_power_from_registry(model)
    except Exception:
        return None


def _describe_hardware(tracker, data) -> dict:
    """How CodeCarbon got each number: counters (measured) or a model (estimated)."""
    info: dict[str, Any] = {"cpu_measured_by": None, "gpu_measured_by": None,
                            "cpu_watts_per_thread": None, "cpu_watts_source": "", "threads": None}
    for hw in getattr(tracker, "_hardware", []) or []:
        kind = type(hw).__name__
        if kind == "CPU":
            mode = getattr(hw, "_mode", "")
            measured = {"intel_rapl": "RAPL", "windows_emi": "Windows Energy Meter Interface (RAPL)",
                        "intel_power_gadget": "Intel Power Gadget"}.get(mode)
            threads = int(getattr(hw, "_cpu_count", 0) or data.cpu_count or os.cpu_count() or 1)
            info["threads"] = threads
            if measured:
                info["cpu_measured_by"] = measured
                continue
            tdp = float(getattr(hw, "_tdp", 0) or 0)
            model = str(getattr(hw, "_model", "") or data.cpu_model or "unknown CPU")
            if mode == "constant":
                info["cpu_watts_source"] = f"CodeCarbon constant mode: half of {tdp:g} W TDP, no CPU-time scaling"
                continue
            info["cpu_watts_per_thread"] = tdp / threads if tdp else None
            if getattr(hw, "_is_generic_tdp", False):
                src = f"CodeCarbon's generic {tdp:g} W TDP for CPU '{model}'"
            elif tracker._conf.get("force_cpu_power") is not None:
                src = f"CodeCarbon configured CPU power {tdp:g} W"
            elif _tdp_in_codecarbon_table(model):
                src = f"TDP {tdp:g} W from CodeCarbon's CPU table for '{model}', over {threads} threads"
            else:
                src = f"CodeCarbon default for unknown CPU '{model}'"
            info["cpu_watts_source"] = src
        elif kind == "AppleSiliconChip":
            part = getattr(hw, "chip_part", "CPU")
            info["cpu_measured_by" if part == "CPU" else "gpu_measured_by"] = "Apple powermetrics"
        elif kind == "Raspberry":
            if getattr(hw, "chip_part", "CPU") == "CPU":
                info["cpu_measured_by"] = "Raspberry Pi PMIC"
        elif kind == "GPU":
            info["gpu_measured_by"] = f"GPU energy counters ({data.gpu_model or 'GPU'}, whole device)"
    if info["threads"] is None:
        info["threads"] = int(data.cpu_count or os.cpu_count() or 1)
    return info


def _system_facts() -> dict:
    try:
        import psutil
        ram_gb = psutil.virtual_memory().total / 1024**3
    except Exception:
        ram_gb = None
    try:
        from codecarbon import __version__ as cc_version
    except Exception:
        cc_version = ""
    return {"os": platform.platform(), "python_version": platform.python_version(),
            "codecarbon_version": cc_version, "cpu_count": os.cpu_count() or 1, "cpu_model": cpu_model(),
            "gpu_count": 0, "gpu_model": "", "ram_total_size": ram_gb, "tracking_mode": "process",
            "run_id": str(uuid.uuid4()), "experiment_id": "", "region": None, "longitude": None,
            "latitude": None, "cpu_utilization_percent": 0.0, "gpu_utilization_percent": 0.0,
            "ram_utilization_percent": 0.0, "ram_used_gb": 0.0}


def _sync_gpu() -> None:
    """Let queued GPU work finish inside the metered window."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
    except Exception:
        pass


def _stop_quietly(tracker) -> None:
    for name in ("_scheduler", "_scheduler_monitor_power"):
        try:
            s = getattr(tracker, name, None)
            if s is not None:
                s.stop()
        except Exception:
            pass


# CodeCarbon probes hardware (and on some machines calls powermetrics, nvidia-smi or RAPL files)
# inside start() and stop(). On a shared server a hung call must not hold the compute slot, so
# each runs in a helper thread with a deadline; past it the reading falls back to an estimate.
# The first tracker in a process takes ~1.5 s (CPU detection), later ones ~3 ms.
TRACKER_TIMEOUT_S = 10.0


def _bounded(fn: Callable[[], Any], what: str) -> Any:
    """fn() in a daemon thread; TimeoutError if it has not returned after TRACKER_TIMEOUT_S."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the caller below
            box["error"] = e

    thread = threading.Thread(target=target, name=f"codecarbon {what}", daemon=True)
    thread.start()
    thread.join(TRACKER_TIMEOUT_S)
    if thread.is_alive():
        raise TimeoutError(f"its {what}() did not return within {TRACKER_TIMEOUT_S:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


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
            _bounded(tracker.start, "start")
            self.tracker = tracker
            if getattr(self.tracker, "_start_time", 1) is None:
                self.error = "its start() failed (CodeCarbon swallowed the error)"
        except Exception as e:
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
            data = getattr(self.tracker, "final_emissions_data", None)
            if self.error is None:
                if kg is None or data is None:
                    self.error = "its stop() returned no data"
                elif not all(math.isfinite(float(getattr(data, k) or 0.0))
                             for k in ("cpu_energy", "ram_energy", "gpu_energy")):
                    self.error = "it returned a non-finite energy"
                else:
                    self.data = data
        except TimeoutError as e:
            self.error = self.error or str(e)
            return  # its thread is stuck inside CodeCarbon: leave the tracker alone
        except Exception as e:
            if self.error is None:
                self.error = f"{type(e).__name__}: {e}"
        if self.data is None:
            _stop_quietly(self.tracker)


def _base_from_probe(p: _Probe) -> tuple[dict, dict]:
    """(base, system) for a finished probe: CodeCarbon's figures, or a CPU-time estimate."""
    system = _system_facts()
    if p.data is not None:
        try:
            d = p.data
            hw = _describe_hardware(p.tracker, d)
            cpu_j = float(d.cpu_energy) * J_PER_KWH
            ram_j = float(d.ram_energy) * J_PER_KWH
            gpu_j = float(d.gpu_energy or 0.0) * J_PER_KWH
            ram_w = ram_j / p.duration if p.duration > 0 else float(d.ram_power or 0.0)
            base = {
                "threads": hw["threads"],
                "cpu_measured_by": hw["cpu_measured_by"],
                "gpu_measured_by": hw["gpu_measured_by"],
                "cpu_watts_per_thread": hw["cpu_watts_per_thread"],
                "cpu_watts_source": hw["cpu_watts_source"],
                "cpu_joules_measured": cpu_j if hw["cpu_measured_by"] else 0.0,
                "cpu_joules_estimated": 0.0 if hw["cpu_measured_by"] else cpu_j,
                "cpu_seconds_estimated": 0.0 if hw["cpu_measured_by"] else p.cpu_seconds,
                "ram_joules": ram_j,
                "ram_watts": ram_w,
                "ram_source": "CodeCarbon's RAM model (about 5 W per DIMM, sized from this process's memory)",
                "gpu_joules": gpu_j,
                "codecarbon_co2_grams": float(d.emissions) * 1000.0,
                "fallback_reason": None,
            }
            for k in ("os", "python_version", "codecarbon_version", "cpu_count", "cpu_model", "gpu_count",
                      "gpu_model", "ram_total_size", "tracking_mode", "run_id", "experiment_id", "region",
                      "longitude", "latitude", "cpu_utilization_percent", "gpu_utilization_percent",
                      "ram_utilization_percent", "ram_used_gb"):
                v = getattr(d, k, None)
                if v is not None and v != "":
                    system[k] = v
            _last_known.update(cpu_watts_per_thread=hw["cpu_watts_per_thread"],
                               cpu_watts_source=hw["cpu_watts_source"], ram_watts=ram_w)
            return base, system
        except Exception as e:  # an unexpected shape of CodeCarbon's data: estimate instead
            p.error = f"its data could not be read ({type(e).__name__}: {e})"
    per_thread = _last_known.get("cpu_watts_per_thread") or FALLBACK_WATTS_PER_THREAD
    src = (_last_known.get("cpu_watts_source") or
           f"CodeCarbon's default for an unknown CPU, {FALLBACK_WATTS_PER_THREAD:g} W per thread")
    ram_w = _last_known.get("ram_watts") or FALLBACK_RAM_WATTS
    base = {
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
    return base, system


@contextmanager
def meter(phase: str, *, on_wait: Callable[[slot.Waiting], None] | None = None,
          settings: EnergySettings | None = None) -> Iterator[EnergyReading]:
    """Meter the block's energy; holds the compute slot throughout. The reading fills in on exit.

    Never raises because of CodeCarbon: any failure gives an estimate whose method says why.
    Nested meters in one thread are allowed (the slot is re-entrant); the outer one includes
    the inner one's work, so do not add them up.
    """
    settings = settings or EnergySettings()
    settings.validate()
    reading = EnergyReading(phase=phase)
    asked = time.monotonic()
    with slot.COMPUTE.hold(phase, on_wait=on_wait):
        reading.waited_s = time.monotonic() - asked
        probe = _Probe(settings.country_iso)
        probe.start()
        try:
            yield reading
        finally:
            probe.stop()
            base, system = _base_from_probe(probe)
            raw = EnergyReading(phase=phase, duration_s=probe.duration, cpu_seconds=probe.cpu_seconds,
                                started_at=probe.wall0, ended_at=probe.wall1, waited_s=reading.waited_s,
                                base=base, system=system)
            done = raw.with_settings(settings)
            for f in fields(EnergyReading):
                setattr(reading, f.name, getattr(done, f.name))


# --- per-image inference energy ------------------------------------------------------------

@dataclass
class PerImageEnergy:
    """Inference energy per image: the median over repeated, warmed-up windows, and its spread."""

    phase: str
    joules_per_image: float        # median over the windows
    co2_grams_per_image: float
    cost_per_image: float
    currency: str
    spread: float                  # max / min of the per-window figures (1.0 = perfectly steady)
    readings: list[EnergyReading]
    images: list[int]              # images processed in each window
    method: str
    measured: bool

    @property
    def per_window(self) -> list[float]:
        return [r.joules / n for r, n in zip(self.readings, self.images)]

    @property
    def images_per_second(self) -> float:
        s = sum(r.duration_s for r in self.readings)
        return sum(self.images) / s if s > 0 else 0.0

    def with_settings(self, settings: EnergySettings) -> PerImageEnergy:
        return _per_image_result(self.phase, [r.with_settings(settings) for r in self.readings], self.images)

    def summary(self) -> dict:
        """The CLI's per-variant `energy` block."""
        return {"joules_per_image": self.joules_per_image, "co2_grams_per_image": self.co2_grams_per_image,
                "cost_per_image": self.cost_per_image, "currency": self.currency, "spread": round(self.spread, 4),
                "windows": len(self.readings), "measured": self.measured, "method": self.method}

    def to_dict(self) -> dict:
        d = self.summary()
        d.update(phase=self.phase, images=list(self.images), per_window=self.per_window,
                 images_per_second=self.images_per_second, readings=[r.to_dict() for r in self.readings])
        return d


def per_image_from(phase: str, readings: list[EnergyReading], images: list[int]) -> PerImageEnergy:
    """Energy per image from metered windows that processed `images` images each (median, spread)."""
    if not readings or len(readings) != len(images) or min(images) <= 0:
        raise ValueError("need one positive image count per metered window")
    return _per_image_result(phase, readings, images)


def _per_image_result(phase: str, readings: list[EnergyReading], images: list[int]) -> PerImageEnergy:
    per = [r.joules / n for r, n in zip(readings, images)]
    median = statistics.median(per)
    spread = max(per) / min(per) if min(per) > 0 else math.inf
    first = readings[0]
    methods = sorted({r.method for r in readings})
    return PerImageEnergy(
        phase=phase, joules_per_image=median,
        co2_grams_per_image=co2_grams(median, first.country_iso),
        cost_per_image=median / J_PER_KWH * (first.assumptions.get("price_per_kwh") or 0.0),
        currency=first.currency, spread=spread, readings=readings, images=list(images),
        method=methods[0] if len(methods) == 1 else "mixed: " + " | ".join(methods),
        measured=all(r.measured for r in readings))


def per_image(run_batch: Callable[[], int], *, phase: str, min_seconds: float = 2.0, repeats: int = 5,
              warmup: int = 3, settings: EnergySettings | None = None,
              on_wait: Callable[[slot.Waiting], None] | None = None) -> PerImageEnergy:
    """Energy per image of `run_batch` (one batch of inference, returns how many images it did).

    Holds the compute slot for the whole measurement: `warmup` batches, then `repeats` metered
    windows of at least `min_seconds` each.
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    if not (min_seconds >= 0):
        raise ValueError("min_seconds must be zero or positive")
    settings = settings or EnergySettings()
    settings.validate()
    with slot.COMPUTE.hold(phase, on_wait=on_wait):
        warm_up()
        for _ in range(max(warmup, 0)):
            run_batch()
        readings, images = [], []
        for _ in range(repeats):
            n = 0
            with meter(phase, settings=settings) as r:
                t0 = time.perf_counter()
                while True:
                    done = int(run_batch())
                    if done <= 0:
                        raise ValueError("run_batch() must return how many images it processed (> 0)")
                    n += done
                    if time.perf_counter() - t0 >= min_seconds:
                        break
            readings.append(r)
            images.append(n)
    return _per_image_result(phase, readings, images)


# --- export --------------------------------------------------------------------------------

# CodeCarbon 3.3.2's EmissionsData fields, used only if codecarbon cannot be imported.
_EMISSIONS_COLUMNS_3_3_2 = (
    "timestamp project_name run_id experiment_id duration emissions emissions_rate cpu_power gpu_power "
    "ram_power cpu_energy gpu_energy ram_energy energy_consumed water_consumed country_name "
    "country_iso_code region cloud_provider cloud_region os python_version codecarbon_version cpu_count "
    "cpu_model gpu_count gpu_model longitude latitude ram_total_size tracking_mode "
    "cpu_utilization_percent gpu_utilization_percent ram_utilization_percent ram_used_gb on_cloud pue wue"
).split()


def emissions_csv_columns() -> list[str]:
    """The columns of CodeCarbon's emissions.csv, in its order (from its EmissionsData)."""
    try:
        from codecarbon.output_methods.emissions_data import EmissionsData
        return [f.name for f in fields(EmissionsData)]
    except Exception:
        return list(_EMISSIONS_COLUMNS_3_3_2)


def emissions_row(r: EnergyReading, project_name: str = "train-infer-lab") -> dict:
    """A reading as one emissions.csv row (units as CodeCarbon's: kg, kWh, W, s)."""
    s, place = r.system, country(r.country_iso)
    d = max(r.duration_s, 1e-12)
    values = {
        "timestamp": datetime.fromtimestamp(r.ended_at or time.time()).strftime("%Y-%m-%dT%H:%M:%S"),
        "project_name": f"{project_name}: {r.phase}",
        "run_id": s.get("run_id") or str(uuid.uuid4()),
        "experiment_id": s.get("experiment_id") or "",
        "duration": r.duration_s,
        "emissions": r.co2_grams / 1000.0,
        "emissions_rate": r.co2_grams / 1000.0 / d,
        "cpu_power": r.cpu_joules / d, "gpu_power": r.gpu_joules / d, "ram_power": r.ram_joules / d,
        "cpu_energy": r.cpu_joules / J_PER_KWH, "gpu_energy": r.gpu_joules / J_PER_KWH,
        "ram_energy": r.ram_joules / J_PER_KWH, "energy_consumed": r.kwh, "water_consumed": 0.0,
        "country_name": place.name, "country_iso_code": place.iso if place.iso != WORLD else "",
        "region": s.get("region"), "cloud_provider": "", "cloud_region": "",
        "os": s.get("os", ""), "python_version": s.get("python_version", ""),
        "codecarbon_version": s.get("codecarbon_version", ""), "cpu_count": s.get("cpu_count", 0),
        "cpu_model": s.get("cpu_model", ""), "gpu_count": s.get("gpu_count", 0), "gpu_model": s.get("gpu_model", ""),
        "longitude": s.get("longitude"), "latitude": s.get("latitude"),
        "ram_total_size": s.get("ram_total_size"), "tracking_mode": s.get("tracking_mode", "process"),
        "cpu_utilization_percent": s.get("cpu_utilization_percent", 0.0),
        "gpu_utilization_percent": s.get("gpu_utilization_percent", 0.0),
        "ram_utilization_percent": s.get("ram_utilization_percent", 0.0),
        "ram_used_gb": s.get("ram_used_gb", 0.0), "on_cloud": "N",
        "pue": r.assumptions.get("pue", 1.0), "wue": 0.0,
    }
    return {c: values.get(c) for c in emissions_csv_columns()}


def to_csv(readings: list[EnergyReading], path: str | Path | None = None) -> str:
    """Readings as CSV with exactly CodeCarbon's emissions.csv columns; also written to `path`."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=emissions_csv_columns(), lineterminator="\n")
    writer.writeheader()
    for r in readings:
        writer.writerow({k: ("" if v is None else v) for k, v in emissions_row(r).items()})
    text = buf.getvalue()
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def to_json(readings: list[EnergyReading], path: str | Path | None = None, **extra: Any) -> str:
    """Readings (and any extra JSON-able blocks, e.g. per_image=...) as JSON; also written to `path`."""
    blob: dict[str, Any] = {"readings": [r.to_dict() for r in readings]}
    for k, v in extra.items():
        blob[k] = v.to_dict() if hasattr(v, "to_dict") else v
    text = json.dumps(blob, indent=2, default=str)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text
