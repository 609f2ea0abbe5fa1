"""Readings as CodeCarbon's emissions.csv (written by CodeCarbon's own FileOutput) and as JSON.

Each reading becomes one CodeCarbon EmissionsData under the reading's own assumptions, or under
`settings` when given (the user's current ones): every energy and power with the PUE applied (as
CodeCarbon reports them), the country's name and ISO code ("World (average)" and no code for the
world average, which has none), the PUE in the `pue` column.

Image counts have no column of CodeCarbon's, and the file keeps exactly CodeCarbon's columns:
CodeCarbon's FileOutput compares a file's header with its own (has_valid_headers) and, when they
differ, moves the file aside to a .bak and starts a new one, so an extra column would make
CodeCarbon discard the file the next time it writes to it. The counts go in a companion JSON
(companion_json), one entry per CSV row, matched by run_id and row number.
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

from dashboard.lab.energy.assumptions import EnergySettings
from dashboard.lab.energy.grid import J_PER_KWH, WORLD, WORLD_NAME, country
from dashboard.lab.energy.reading import EnergyReading

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
        timestamp=timestamp(r),
        project_name=f"{project_name}: {r.phase}",
        run_id=run_id(r),
        experiment_id=s.get("experiment_id") or "",
        duration=r.duration_s,
        emissions=r.co2_grams / 1000.0,
        emissions_rate=r.co2_grams / 1000.0 / d,
        cpu_power=r.cpu_joules / d, gpu_power=r.gpu_joules / d, ram_power=r.ram_joules / d,
        cpu_energy=r.cpu_joules / J_PER_KWH, gpu_energy=r.gpu_joules / J_PER_KWH,
        ram_energy=r.ram_joules / J_PER_KWH, energy_consumed=r.kwh, water_consumed=0.0,
        country_name=WORLD_NAME if place.iso == WORLD else place.name,
        country_iso_code=place.iso if place.iso != WORLD else "",
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


def timestamp(r: EnergyReading) -> str:
    """When the reading ended, as CodeCarbon writes it (local time)."""
    return datetime.fromtimestamp(r.ended_at or time.time()).strftime("%Y-%m-%dT%H:%M:%S")


def run_id(r: EnergyReading) -> str:
    """CodeCarbon's run id of the reading; one derived from the reading when it has none, so the
    CSV row and its companion JSON entry always agree."""
    return r.system.get("run_id") or str(uuid.uuid5(uuid.NAMESPACE_URL, f"train-infer-lab:{r.phase}:{r.started_at}"))


def repriced(readings: list[EnergyReading], settings: EnergySettings | None) -> list[EnergyReading]:
    """The readings under `settings` (None: each under its own). One without CodeCarbon's base
    figures cannot be recomputed and stays at the assumptions of its time."""
    if settings is None:
        return list(readings)
    return [r.with_settings(settings) if r.base else r for r in readings]


def emissions_row(r: EnergyReading, project_name: str = "train-infer-lab") -> dict:
    """A reading as one emissions.csv row, column -> value."""
    return dict(emissions_data(r, project_name).values)


def to_csv(readings: list[EnergyReading], path: str | Path | None = None, *,
           settings: EnergySettings | None = None) -> str:
    """Readings as CodeCarbon's emissions.csv, written by its FileOutput; also written to `path`.
    With `settings`, every reading is first recomputed under them (see repriced)."""
    from codecarbon.output_methods.file import FileOutput

    logging.getLogger("codecarbon").setLevel(logging.ERROR)  # it logs where it writes, at INFO
    with tempfile.TemporaryDirectory(prefix="train-infer-lab-") as folder:
        out = FileOutput(CSV_NAME, folder, on_csv_write="append")
        for r in repriced(readings, settings):
            out.out(emissions_data(r), None)
        written = Path(folder, CSV_NAME)
        text = written.read_text(encoding="utf-8") if written.exists() else ",".join(emissions_csv_columns()) + "\n"
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def companion_json(readings: list[EnergyReading], images: list[int | None], *,
                   about: list[dict] | None = None, path: str | Path | None = None) -> str:
    """What emissions.csv has no column for, one entry per CSV row in the same order: the phase and
    the images it processed (None where a reading counts no images), plus `about[i]` for row i.
    Entries carry the row's run_id and timestamp, so they match the CSV row for row."""
    if len(images) != len(readings) or (about is not None and len(about) != len(readings)):
        raise ValueError("need one image count (and one `about`) per reading")
    rows = []
    for i, (r, n) in enumerate(zip(readings, images)):
        rows.append({"row": i + 1, "run_id": run_id(r),
                     "timestamp": timestamp(r),
                     "phase": r.phase, "images": n, "duration_s": r.duration_s,
                     **((about or [{}] * len(readings))[i])})
    text = json.dumps({
        "what": f"companion of {CSV_NAME}: one entry per row of it, in the same order ('row' 1 is its first data "
                "row), matched by run_id. CodeCarbon's emissions.csv has no column for image counts, and adding one "
                "would make CodeCarbon set the file aside (it checks the header before it appends).",
        "rows": rows}, indent=2, default=str)
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
