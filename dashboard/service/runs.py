"""This session's run history: what the Results page lists and downloads.

A run is one job of the session (a training, a compress & measure, a demo, a scan), finished,
stopped or failed, kept as the engine's RunRecord (so the JSON download has the same fields as
the CLI's `run --json`) plus the energy readings behind it (for the emissions.csv download).

Every figure that depends on the energy assumptions (energy with PUE, CO2, cost, break-even) is
recomputed under the session's current ones, `s.settings`, whenever it is listed or downloaded:
a stored reading keeps CodeCarbon's own figures, so nothing re-runs. A reading too old to carry
them stays at the assumptions of its time, and the table says so. The JSON keeps, beside the
recomputed figures, the assumptions each run was measured under.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import time
from dataclasses import dataclass, field

from dashboard.lab import energy
from dashboard.lab.measure.bench import BenchResult
from dashboard.lab.energy import EnergyReading, EnergySettings, PerImageEnergy
from dashboard.lab.pipeline import add_breakeven
from dashboard.lab.measure.record import RunRecord

from dashboard.service.backend import Place, here
from dashboard.service.sessions import Session

NOW = "your current assumptions"
OF_THEIR_TIME = "the assumptions of their time (too old to recompute)"


# --- recomputing under the current assumptions ---------------------------------------------------

def reading_now(r: EnergyReading | None, settings: EnergySettings) -> EnergyReading | None:
    """A reading under `settings`; unchanged when it has no CodeCarbon figures to recompute from."""
    return r.with_settings(settings) if r is not None and r.base else r


def per_image_now(e: PerImageEnergy | None, settings: EnergySettings) -> PerImageEnergy | None:
    return e.with_settings(settings) if e is not None and all(r.base for r in e.readings) else e


def _current(item, settings: EnergySettings) -> bool:
    """Whether a reading or per-image figure is priced under `settings`."""
    return item is None or item.settings == settings


def priced(record: RunRecord, settings: EnergySettings) -> RunRecord:
    """A copy of the record with every reading recomputed under `settings` and the break-evens
    recomputed from them, as the pipeline computes them (pipeline.add_breakeven)."""
    results = [dataclasses.replace(r, energy=per_image_now(r.energy, settings),
                                   energy_batch1=per_image_now(r.energy_batch1, settings), breakeven_inferences=None)
               for r in record.results]
    out = dataclasses.replace(record, training_energy=reading_now(record.training_energy, settings), results=results,
                              breakeven_inferences=None, breakeven_variant=None)
    add_breakeven(out)
    return out


# --- numbers for a table --------------------------------------------------------------------------

def _num(x: float | None, digits: int = 6) -> float | None:
    """A number rounded to `digits` significant digits; None for missing or not finite."""
    if x is None or not math.isfinite(x):
        return None
    return float(f"{x:.{digits}g}")


def _pct(fraction: float | None) -> float | None:
    return None if fraction is None else round(100 * fraction, 2)


def assumption_columns(settings: EnergySettings) -> dict:
    """The assumptions every energy figure of an export is priced under, as columns."""
    place = energy.country(settings.country_iso)
    return {
        "grid": energy.WORLD_NAME if place.iso == energy.WORLD else place.name,
        "grid ISO code": "" if place.iso == energy.WORLD else place.iso,
        "grid intensity (gCO2e/kWh)": _num(place.gco2_per_kwh),
        "grid figure year": place.year,
        "grid source": place.source,
        "PUE (total / IT energy)": settings.pue,
        "PUE source": settings.pue_source,
        "assumed CPU power (W, whole CPU; blank = CodeCarbon's estimate)": settings.cpu_watts,
        "assumed RAM power (W; blank = CodeCarbon's model)": settings.ram_watts,
        f"electricity price ({settings.currency}/kWh)": settings.price_per_kwh,
        "tariff": energy.TARIFFS.get(settings.tariff, settings.tariff),
        "price source": settings.price_source,
    }


@dataclass
class Run:
    number: int
    kind: str                      # "training", "compress & measure", "demo", ...
    record: RunRecord
    readings: list[EnergyReading] = field(default_factory=list)
    outcome: str = "completed"     # or "stopped during measure", "failed: ..."
    source: str = "measured here"  # or "measured on Ray node 1a2b3c4d (its CPU)", "shared: measured on ... at 14:05"
    place: Place | None = None     # the machine that trained or measured it (None: this server, as before)

    def to_dict(self, settings: EnergySettings | None = None) -> dict:
        """The run as JSON; with `settings`, its figures recomputed under them and, in `as_recorded`,
        the assumptions and break-even it was measured with."""
        rec = self.record if settings is None else priced(self.record, settings)
        out = {"run": self.number, "kind": self.kind, "outcome": self.outcome, "source": self.source,
               **rec.to_dict()}
        if settings is not None:
            first = self.record.training_energy or next(iter(self.readings), None)
            out["as_recorded"] = {
                "energy_settings": first.settings.to_dict() if first is not None else None,
                "training_energy_joules": (self.record.training_energy.joules
                                           if self.record.training_energy is not None else None),
                "breakeven_inferences": self.record.breakeven_inferences,
                "breakeven_variant": self.record.breakeven_variant,
            }
        return out

    def row(self, settings: EnergySettings | None = None) -> dict:
        """One line of the Results table, energy under `settings` (None: as recorded); every
        column name carries its unit."""
        rec = self.record if settings is None else priced(self.record, settings)
        t, te = rec.training or {}, rec.training_energy
        fp32 = rec.result("fp32")
        best = max((r.speedup_batch256 or 0 for r in rec.results), default=0) or None
        p = energy.parts(te) if te is not None else None
        cur = te.currency if te is not None else (settings.currency if settings else "")
        fresh = settings is None or (_current(te, settings) and all(_current(r.energy, settings) for r in rec.results))
        return {
            "run": self.number,
            "what": self.kind,
            "outcome": self.outcome,
            "figures": self.source,
            "started": rec.created_at,
            "model": t.get("model", ""),
            "dataset": t.get("dataset", ""),
            "epochs done": t.get("epochs_completed"),
            "test accuracy (%)": round(100 * t["test_accuracy"], 2) if "test_accuracy" in t else None,
            "training time (s)": t.get("train_seconds"),
            "training images": t.get("samples_seen"),
            "training speed (images/s)": t.get("images_per_second"),
            "training energy (J)": _num(te.joules) if te is not None else None,
            "training energy, CPU part (J)": _num(p.cpu_joules) if p else None,
            "training energy, RAM part (J)": _num(p.ram_joules) if p else None,
            "training CO2e (g)": _num(te.co2_grams) if te is not None else None,
            f"training electricity cost ({cur or 'currency'})": _num(te.cost, 4) if te is not None else None,
            "energy method": te.method if te is not None else (self.readings[0].method if self.readings else ""),
            "energy priced at": (NOW if fresh else OF_THEIR_TIME) if (te is not None or self.readings) else "",
            "variants measured": len(rec.results) or None,
            "fp32 batch-1 latency (ms)": round(fp32.latency_ms_batch1_p50, 4)
            if fp32 and fp32.latency_ms_batch1_p50 else None,
            "best batch-256 speed-up (x)": round(best, 2) if best else None,
            "break-even (inferences)": round(rec.breakeven_inferences) if rec.breakeven_inferences else None,
            "break-even version": rec.breakeven_variant or "",
        }


# The training settings a run's label may name, as (config key, short name), in reading order.
LABELLED_SETTINGS = (("model", "model"), ("dataset", "data"), ("epochs", "epochs"), ("train_images", "images"),
                     ("batch_size", "batch"), ("lr", "lr"), ("optimizer", "optimizer"), ("schedule", "schedule"),
                     ("augment", "augment"), ("precision", "precision"), ("layout", "layout"), ("seed", "seed"))


def _setting_text(key: str, value) -> str:
    if value is None:
        return "all" if key == "train_images" else "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def differing_settings(runs: list[Run]) -> dict[int, str]:
    """Run number -> the training settings that differ between `runs`, e.g. "epochs 3, lr 0.01"; ""
    for every run when nothing differs (or there is one run)."""
    configs = {run.number: run.record.config or {} for run in runs}
    differ = [(key, name) for key, name in LABELLED_SETTINGS
              if len({repr(c.get(key)) for c in configs.values()}) > 1]
    return {number: ", ".join(f"{name} {_setting_text(key, c.get(key))}" for key, name in differ)
            for number, c in configs.items()}


def variant_columns(r: BenchResult | None, currency: str) -> dict:
    """One measured version of the model as columns, each with its unit (empty for a run without one)."""
    e = r.energy if r is not None else None
    e1 = r.energy_batch1 if r is not None else None
    p = energy.parts(e) if e is not None else None
    ok = r is not None and r.available
    return {
        "variant": r.name if r is not None else "",
        "variant measured": ("yes" if ok else f"no: {r.note}") if r is not None else "",
        "variant accuracy (%)": _pct(r.accuracy) if ok else None,
        "agreement with fp32 (%)": _pct(r.agreement) if ok else None,
        "size (KiB)": round(r.size_bytes / 1024, 1) if ok and r.size_bytes else None,
        "sparsity (%)": _pct(r.sparsity) if ok else None,
        "batch-1 latency p50 (ms)": _num(r.latency_ms_batch1_p50) if ok else None,
        "batch-1 latency p95 (ms)": _num(r.latency_ms_batch1_p95) if ok else None,
        "throughput batch size (images)": r.batch_size if ok else None,
        "throughput at that batch size (images/s)": _num(r.throughput_batch256_ips) if ok else None,
        "batch-1 speed-up vs fp32 (x)": _num(r.speedup_batch1, 4) if ok else None,
        "throughput speed-up vs fp32 (x)": _num(r.speedup_batch256, 4) if ok else None,
        "energy per image (mJ)": _num(e.joules_per_image * 1e3) if e else None,
        "energy per image, CPU part (mJ)": _num(p.cpu_joules * 1e3) if p else None,
        "energy per image, RAM part (mJ)": _num(p.ram_joules * 1e3) if p else None,
        "energy per image: measured or estimated": energy.kind(e) if e else "",
        "energy per image spread (max/min, x)": _num(e.spread, 4) if e else None,
        "energy per image at batch 1 (mJ)": _num(e1.joules_per_image * 1e3) if e1 else None,
        "CO2e per 1000 images (g)": _num(e.co2_grams_per_image * 1e3) if e else None,
        f"electricity cost per 1000 images ({currency})": _num(e.cost_per_image * 1e3) if e else None,
        "variant break-even (inferences)": round(r.breakeven_inferences) if r is not None and r.breakeven_inferences
        else None,
    }


def csv_rows(s: Session) -> list[dict]:
    """The CSV: one row per run and measured version (a run without versions: one row), the run's
    columns repeated on each, then the version's, then the assumptions every figure is priced under."""
    settings = s.settings
    assumptions = assumption_columns(settings)
    rows = []
    for run in list(s.runs):
        rec = priced(run.record, settings)
        head = run.row(settings)
        for r in rec.results or [None]:
            rows.append({**head, **variant_columns(r, settings.currency), **assumptions})
    return rows


# --- the session's runs ---------------------------------------------------------------------------

def add(s: Session, kind: str, record: RunRecord, readings: list[EnergyReading], *,
        outcome: str = "completed", source: str = "measured here", place: Place | None = None) -> Run:
    # A run in the list keeps its numbers, not its models: memory is shared by every user of a host.
    record.trained, record.variants = None, []
    with s.lock:
        run = Run(len(s.runs) + 1, kind, record, [r for r in readings if r is not None], outcome, source, place)
        s.runs.append(run)
    return run


def add_training(s: Session, *, outcome: str = "completed", place: Place | None = None) -> Run:
    """The session's current model as a training run, with the hardware of where it was trained (`place`,
    the training's own: a Ray node's; None: this server)."""
    t, place = s.trained, place or here()
    record = RunRecord(config=t.config.to_dict(), hardware=dict(place.hardware),
                       training=t.summary(), training_energy=s.training_energy)
    return add(s, "training", record, [s.training_energy, s.evaluation_energy], outcome=outcome,
               source=place.source, place=place)


def add_failed(s: Session, kind: str, config: dict, outcome: str, *, place: Place | None = None) -> Run:
    """A job that ended without a model or measurements: it is listed, saying why (and where it ran)."""
    place = place or here()
    return add(s, kind, RunRecord(config=config, hardware=dict(place.hardware)), [], outcome=outcome,
               source=place.source, place=place)


def machines(s: Session) -> list[str]:
    """The other machines the session's runs were trained or measured on (Ray nodes, other replicas of this app,
    with their CPUs), in order of first use; [] when every run was this server's."""
    names = [run.place.name for run in list(s.runs) if run.place is not None and run.place.remote]
    return list(dict.fromkeys(names))


def table(s: Session) -> list[dict]:
    """The Results table: one row per run, energy under the session's current assumptions."""
    settings = s.settings
    return [r.row(settings) for r in list(s.runs)]


def to_csv(s: Session) -> str:
    """The runs as CSV for a spreadsheet: see csv_rows."""
    rows = csv_rows(s)
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buf.getvalue()


def to_json(s: Session) -> str:
    settings = s.settings
    place = energy.country(settings.country_iso)
    assumptions = {**settings.to_dict(), "grid": place.label, "grid_source": place.source,
                   "pue_source": settings.pue_source, "price_source": settings.price_source,
                   "currency_note": settings.currency_note}
    return json.dumps({"app": "train-infer-lab", "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       "energy_assumptions": assumptions,
                       "runs": [r.to_dict(settings) for r in list(s.runs)]}, indent=2, default=str)


def _images_by_reading(rec: RunRecord) -> dict[tuple, int | None]:
    """(phase, started_at) of each reading in the record -> the images it processed."""
    out: dict[tuple, int | None] = {}
    if rec.training_energy is not None:
        out[(rec.training_energy.phase, rec.training_energy.started_at)] = (rec.training or {}).get("samples_seen")
    for r in rec.results:
        for e in (r.energy, r.energy_batch1):
            if e is not None:
                for rd, n in zip(e.readings, e.images):
                    out[(rd.phase, rd.started_at)] = n
    return out


def _emission_rows(s: Session) -> tuple[list[EnergyReading], list[int | None], list[dict]]:
    """Every reading of the session in run order, with its image count and its run."""
    readings, images, about = [], [], []
    for run in list(s.runs):
        counts = _images_by_reading(run.record)
        for rd in run.readings:
            readings.append(rd)
            images.append(counts.get((rd.phase, rd.started_at)))
            about.append({"lab_run": run.number, "what": run.kind})
    return readings, images, about


def emissions_csv(s: Session) -> str:
    """Every energy reading of the session in CodeCarbon's emissions.csv format, under the
    session's current assumptions (country, PUE, watts)."""
    return energy.to_csv(_emission_rows(s)[0], settings=s.settings)


def emissions_companion_json(s: Session) -> str:
    """What emissions.csv has no column for, row for row: the phase and the images each reading processed."""
    readings, images, about = _emission_rows(s)
    return energy.companion_json(readings, images, about=about)
