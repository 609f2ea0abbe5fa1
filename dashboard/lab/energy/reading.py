"""EnergyReading: the energy of one metered block, with the assumptions it was priced under.

A reading keeps CodeCarbon's own figures in `base` and the EnergySettings it was computed
with in `settings`, so it can be recomputed under other assumptions (`with_settings`) or
added to others (`combine`) without re-running anything and without reading its display text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from dashboard.lab.serial import from_plain, to_plain
from dashboard.lab.energy.assumptions import EnergySettings
from dashboard.lab.energy.grid import J_PER_KWH, WORLD, co2_grams, country


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
    assumptions: dict = field(default_factory=dict)   # for display: every assumption with its source
    cost: float = 0.0               # electricity cost in `currency`
    currency: str = ""
    started_at: float = 0.0         # unix time the metered block began
    ended_at: float = 0.0
    chunks: int = 1                 # readings summed into this one (see combine)
    base: dict = field(default_factory=dict)    # CodeCarbon's own figures, before the user's assumptions
    system: dict = field(default_factory=dict)  # host facts for the emissions.csv export
    settings: EnergySettings = field(default_factory=EnergySettings)  # what the figures above assume

    @property
    def kwh(self) -> float:
        return self.joules / J_PER_KWH

    @property
    def watts(self) -> float:
        """Mean power over the block."""
        return self.joules / self.duration_s if self.duration_s > 0 else 0.0

    def to_dict(self) -> dict:
        return {**to_plain(self), "kwh": self.kwh}

    @classmethod
    def from_dict(cls, d: dict) -> EnergyReading:
        settings = d.get("settings")
        if isinstance(settings, dict):
            settings = EnergySettings.from_dict(settings)
        elif settings is None:  # written before readings carried their settings
            settings = EnergySettings(country_iso=d.get("country_iso") or WORLD)
        return from_plain(cls, {**d, "settings": settings})

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
            "scope": ("the whole CPU package (its energy counter sees every process), RAM by model; "
                      "a GPU counts the whole device" if b.get("cpu_measured_by") else
                      "this Python process only (CodeCarbon process mode): its CPU time, RAM by "
                      "model; a GPU counts the whole device"),
        }
        if b.get("fallback_reason"):
            assumptions["codecarbon_error"] = b["fallback_reason"]
        return replace(
            self, cpu_joules=cpu, ram_joules=ram, gpu_joules=gpu, joules=total,
            country_iso=place.iso, grid_gco2_per_kwh=place.gco2_per_kwh, co2_grams=co2_grams(total, place.iso),
            cost=total / J_PER_KWH * settings.price_per_kwh, currency=settings.currency,
            measured=bool(b.get("cpu_measured_by")) and (b.get("gpu_joules", 0.0) == 0.0
                                                         or bool(b.get("gpu_measured_by"))),
            method=_method_text(b, per_thread, per_thread_source), assumptions=assumptions, settings=settings)


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
    """'measured' when every reading (EnergyReading, PerImageEnergy) was measured, else 'estimated'."""
    flags = [getattr(i, "measured", False) for i in items]
    return "measured" if flags and all(flags) else "estimated"


def combine(readings: list[EnergyReading], phase: str) -> EnergyReading:
    """One reading that is the sum of several (the live page meters each training chunk),
    priced under the first reading's settings."""
    if not readings:
        raise ValueError("nothing to combine")
    first = readings[0]
    base = dict(first.base)
    for k in ("cpu_joules_measured", "cpu_joules_estimated", "cpu_seconds_estimated", "ram_joules", "gpu_joules"):
        base[k] = sum(r.base.get(k) or 0.0 for r in readings)
    cc = [r.base.get("codecarbon_co2_grams") for r in readings]  # None for a fallback estimate
    base["codecarbon_co2_grams"] = None if None in cc else sum(cc)
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
        chunks=sum(r.chunks for r in readings),
        base=base,
        system=dict(first.system),
        settings=first.settings,
    )
    return out.with_settings(first.settings)
