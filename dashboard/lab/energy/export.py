"""Readings as CodeCarbon's emissions.csv (written by CodeCarbon's own FileOutput) and as JSON.

Each reading becomes one CodeCarbon EmissionsData under the reading's own assumptions: energies
with its PUE applied (as CodeCarbon reports them), its country, its PUE in the `pue` column.
Image counts have no column of CodeCarbon's, so they are left out of the CSV (the JSON has them).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import uuid
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

from .grid import J_PER_KWH, WORLD, country
from .reading import EnergyReading

CSV_NAME = "emissions.csv"


def emissions_csv_columns() -> list[str]:
    """The columns of CodeCarbon's emissions.csv, in its order (from its EmissionsData)."""
    from codecarbon.output_methods.emissions_data import EmissionsData
    return [f.name for f in fields(EmissionsData)]


def emissions_data(r: EnergyReading, project_name: str = "train-infer-lab"):
    """A reading as CodeCarbon's EmissionsData (units as CodeCarbon's: kg, kWh, W, s)."""
    from codecarbon.output_methods.emissions_data import EmissionsData

    s, place = r.system, country(r.country_iso)
    d = max(r.duration_s, 1e-12)
    return EmissionsData(
        timestamp=datetime.fromtimestamp(r.ended_at or time.time()).strftime("%Y-%m-%dT%H:%M:%S"),
        project_name=f"{project_name}: {r.phase}",
        run_id=s.get("run_id") or str(uuid.uuid4()),
        experiment_id=s.get("experiment_id") or "",
        duration=r.duration_s,
        emissions=r.co2_grams / 1000.0,
        emissions_rate=r.co2_grams / 1000.0 / d,
        cpu_power=r.cpu_joules / d, gpu_power=r.gpu_joules / d, ram_power=r.ram_joules / d,
        cpu_energy=r.cpu_joules / J_PER_KWH, gpu_energy=r.gpu_joules / J_PER_KWH,
        ram_energy=r.ram_joules / J_PER_KWH, energy_consumed=r.kwh, water_consumed=0.0,
        country_name=place.name, country_iso_code=place.iso if place.iso != WORLD else "",
        region=s.get("region"), cloud_provider="", cloud_region="",
        os=s.get("os", ""), python_version=s.get("python_version", ""),
        codecarbon_version=s.get("codecarbon_version", ""), cpu_count=s.get("cpu_count", 0),
        cpu_model=s.get("cpu_model", ""), gpu_count=s.get("gpu_count", 0), gpu_model=s.get("gpu_model", ""),
        longitude=s.get("longitude"), latitude=s.get("latitude"),
        ram_total_size=s.get("ram_total_size"), tracking_mode=s.get("tracking_mode", "process"),
        cpu_utilization_percent=s.get("cpu_utilization_percent", 0.0),
        gpu_utilization_percent=s.get("gpu_utilization_percent", 0.0),
        ram_utilization_percent=s.get("ram_utilization_percent", 0.0),
        ram_used_gb=s.get("ram_used_gb", 0.0), on_cloud="N",
        pue=r.settings.pue, wue=0.0,
    )


def emissions_row(r: EnergyReading, project_name: str = "train-infer-lab") -> dict:
    """A reading as one emissions.csv row, column -> value."""
    return dict(emissions_data(r, project_name).values)


def to_csv(readings: list[EnergyReading], path: str | Path | None = None) -> str:
    """Readings as CodeCarbon's emissions.csv, written by its FileOutput; also written to `path`."""
    from codecarbon.output_methods.file import FileOutput

    logging.getLogger("codecarbon").setLevel(logging.ERROR)  # it logs where it writes, at INFO
    with tempfile.TemporaryDirectory(prefix="train-infer-lab-") as folder:
        out = FileOutput(CSV_NAME, folder, on_csv_write="append")
        for r in readings:
            out.out(emissions_data(r), None)
        written = Path(folder, CSV_NAME)
        text = written.read_text(encoding="utf-8") if written.exists() else ",".join(emissions_csv_columns()) + "\n"
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
