"""What an energy figure is made of: its CPU, RAM and GPU parts, and how each part was obtained.

An estimate is CPU time x an assumed wattage per thread, plus a RAM wattage x wall time (then x PUE).
Seeing the parts shows a student what the number can and cannot tell: the same watts are assumed
for every variant, so an estimated difference between variants is a difference in CPU time and
wall time only, never in power drawn.

    p = parts(reading)              # an EnergyReading: the whole metered block
    p = parts(per_image_energy)     # a PerImageEnergy: per image, the parts adding up to its median
    p.cpu_joules + p.ram_joules + p.gpu_joules == p.total_joules
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.lab.energy.per_image_energy import PerImageEnergy
from dashboard.lab.energy.reading import EnergyReading


@dataclass(frozen=True)
class EnergyParts:
    """A figure split into the parts it is the sum of (PUE included in each part)."""

    per: str                     # "run" (a whole reading) or "image" (per image)
    total_joules: float
    cpu_joules: float
    ram_joules: float
    gpu_joules: float
    cpu_measured: bool           # CPU part from hardware counters (RAPL ...); else CPU time x assumed watts
    gpu_measured: bool
    cpu_seconds: float           # process CPU time behind the CPU part (per image: mean per image)
    seconds: float               # wall time behind the RAM part (per image: mean per image)
    cpu_watts_per_thread: float | None   # the wattage an estimate charged per busy thread; None when measured
    cpu_watts_source: str
    ram_watts: float | None      # the RAM wattage assumed (RAM is always a model, never measured)
    pue: float

    @property
    def estimated(self) -> bool:
        """True when the CPU part is an estimate (RAM always is)."""
        return not self.cpu_measured

    def share(self, part: str) -> float:
        """A part's fraction of the total (0..1): part is "cpu", "ram" or "gpu"."""
        value = {"cpu": self.cpu_joules, "ram": self.ram_joules, "gpu": self.gpu_joules}[part]
        return value / self.total_joules if self.total_joules > 0 else 0.0

    @property
    def cpu_share(self) -> float:
        return self.share("cpu")

    @property
    def ram_share(self) -> float:
        return self.share("ram")

    @property
    def gpu_share(self) -> float:
        return self.share("gpu")

    def to_dict(self) -> dict:
        return {"per": self.per, "total_joules": self.total_joules, "cpu_joules": self.cpu_joules,
                "ram_joules": self.ram_joules, "gpu_joules": self.gpu_joules, "cpu_share": self.cpu_share,
                "ram_share": self.ram_share, "gpu_share": self.gpu_share, "cpu_measured": self.cpu_measured,
                "gpu_measured": self.gpu_measured, "cpu_seconds": self.cpu_seconds, "seconds": self.seconds,
                "cpu_watts_per_thread": self.cpu_watts_per_thread, "cpu_watts_source": self.cpu_watts_source,
                "ram_watts": self.ram_watts, "pue": self.pue}


def _of_reading(r: EnergyReading) -> EnergyParts:
    a, b = r.assumptions or {}, r.base or {}
    cpu_measured = bool(b.get("cpu_measured_by"))
    return EnergyParts(
        per="run", total_joules=r.cpu_joules + r.ram_joules + r.gpu_joules,
        cpu_joules=r.cpu_joules, ram_joules=r.ram_joules, gpu_joules=r.gpu_joules,
        cpu_measured=cpu_measured, gpu_measured=bool(b.get("gpu_measured_by")),
        cpu_seconds=r.cpu_seconds, seconds=r.duration_s,
        cpu_watts_per_thread=None if cpu_measured else a.get("cpu_watts_per_thread"),
        cpu_watts_source=str(a.get("cpu_energy") or "") if cpu_measured else str(a.get("cpu_watts_source") or ""),
        ram_watts=a.get("ram_watts"), pue=r.settings.pue)


def _of_per_image(e: PerImageEnergy) -> EnergyParts:
    # The figure is the median over windows; the parts split it in the proportions of all the
    # windows together, so they add up to the figure exactly.
    each = [_of_reading(r) for r in e.readings]
    total = sum(p.total_joules for p in each)
    scale = e.joules_per_image / total if total > 0 else 0.0
    images = sum(e.images) or 1
    first = each[0]
    return EnergyParts(
        per="image", total_joules=e.joules_per_image,
        cpu_joules=sum(p.cpu_joules for p in each) * scale, ram_joules=sum(p.ram_joules for p in each) * scale,
        gpu_joules=sum(p.gpu_joules for p in each) * scale,
        cpu_measured=all(p.cpu_measured for p in each), gpu_measured=all(p.gpu_measured for p in each),
        cpu_seconds=sum(p.cpu_seconds for p in each) / images, seconds=sum(p.seconds for p in each) / images,
        cpu_watts_per_thread=first.cpu_watts_per_thread, cpu_watts_source=first.cpu_watts_source,
        ram_watts=first.ram_watts, pue=first.pue)


def parts(item: EnergyReading | PerImageEnergy) -> EnergyParts:
    """The CPU, RAM and GPU parts of a reading (whole block) or of a per-image figure (per image)."""
    if isinstance(item, PerImageEnergy):
        return _of_per_image(item)
    return _of_reading(item)
