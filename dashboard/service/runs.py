"""This session's run history: what the Results page lists and downloads.

A run is one job of the session (a training, a compress & measure, a demo, a scan), finished,
stopped or failed, kept as the engine's RunRecord (so the JSON download has the same fields as
the CLI's `run --json`) plus the energy readings behind it (for the emissions.csv download).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

from dashboard.lab import energy, hardware
from dashboard.lab.energy import EnergyReading
from dashboard.lab.record import RunRecord

from .sessions import Session


@dataclass
class Run:
    number: int
    kind: str                      # "training", "compress & measure", "demo", ...
    record: RunRecord
    readings: list[EnergyReading] = field(default_factory=list)
    outcome: str = "completed"     # or "stopped during measure", "failed: ..."
    source: str = "measured here"  # or "shared: measured at 14:05 for identical settings"

    def to_dict(self) -> dict:
        return {"run": self.number, "kind": self.kind, "outcome": self.outcome, "source": self.source,
                **self.record.to_dict()}

    def row(self) -> dict:
        """One line of the Results table; every column name carries its unit."""
        rec, t = self.record, self.record.training or {}
        te = rec.training_energy
        fp32 = rec.result("fp32")
        best = max((r.speedup_batch256 or 0 for r in rec.results), default=0) or None
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
            "training speed (images/s)": t.get("images_per_second"),
            "training energy (J)": round(te.joules, 3) if te is not None else None,
            "training CO2e (g)": round(te.co2_grams, 6) if te is not None else None,
            "energy method": te.method if te is not None else (self.readings[0].method if self.readings else ""),
            "variants measured": len(rec.results) or None,
            "fp32 batch-1 latency (ms)": round(fp32.latency_ms_batch1_p50, 4)
            if fp32 and fp32.latency_ms_batch1_p50 else None,
            "best batch-256 speed-up (x)": round(best, 2) if best else None,
            "break-even (inferences)": round(rec.breakeven_inferences) if rec.breakeven_inferences else None,
        }


def add(s: Session, kind: str, record: RunRecord, readings: list[EnergyReading], *,
        outcome: str = "completed", source: str = "measured here") -> Run:
    # A run in the list keeps its numbers, not its models: memory is shared by every user of a host.
    record.trained, record.variants = None, []
    with s.lock:
        run = Run(len(s.runs) + 1, kind, record, [r for r in readings if r is not None], outcome, source)
        s.runs.append(run)
    return run


def add_training(s: Session, *, outcome: str = "completed") -> Run:
    t = s.trained
    record = RunRecord(config=t.config.to_dict(), hardware=hardware.describe("cpu").to_dict(),
                       training=t.summary(), training_energy=s.training_energy)
    return add(s, "training", record, [s.training_energy], outcome=outcome)


def add_failed(s: Session, kind: str, config: dict, outcome: str) -> Run:
    """A job that ended without a model or measurements: it is listed, saying why."""
    return add(s, kind, RunRecord(config=config, hardware=hardware.describe("cpu").to_dict()), [],
               outcome=outcome)


def table(s: Session) -> list[dict]:
    return [r.row() for r in s.runs]


def to_csv(s: Session) -> str:
    rows = table(s)
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buf.getvalue()


def to_json(s: Session) -> str:
    return json.dumps({"app": "train-infer-lab", "runs": [r.to_dict() for r in s.runs]}, indent=2, default=str)


def emissions_csv(s: Session) -> str:
    """Every energy reading of the session in CodeCarbon's emissions.csv format."""
    return energy.to_csv([rd for r in s.runs for rd in r.readings])
