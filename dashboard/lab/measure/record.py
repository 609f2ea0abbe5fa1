"""RunRecord: one whole demo run (training, compression, measurements, energy) as plain data.

`to_dict()` is the JSON the `run` command writes and the app exports; `from_dict()` reads it
back (the live model and variants are not part of it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from dashboard.lab.measure.bench import BenchResult
from dashboard.lab.energy import EnergyReading


@dataclass
class RunRecord:
    config: dict                                 # TrainConfig.to_dict()
    hardware: dict                               # HardwareInfo.to_dict()
    training: dict = field(default_factory=dict)  # TrainedModel.summary()
    training_energy: EnergyReading | None = None  # the training's metered energy, with its assumptions
    results: list[BenchResult] = field(default_factory=list)
    breakeven_inferences: float | None = None    # training energy / fp32 inference energy per image
    breakeven_variant: str | None = None         # whose per-image energy that used
    sensitivity: dict | None = None              # SensitivityScan.to_dict()
    settings: dict = field(default_factory=dict)  # compress / bench settings, variant names
    stage_seconds: dict = field(default_factory=dict)
    stopped: str | None = None                   # the stage a stop request ended the run before
    interference: dict | None = None             # other work on a shared server while it ran (service.activity)
    created_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    # Live objects for the app (not serialised): the TrainedModel and the Variants.
    trained: object | None = field(default=None, repr=False, compare=False)
    variants: list = field(default_factory=list, repr=False, compare=False)

    @property
    def completed(self) -> bool:
        return self.stopped is None

    def result(self, name: str) -> BenchResult | None:
        return next((r for r in self.results if r.name == name), None)

    def to_dict(self) -> dict:
        training = dict(self.training)
        if self.training_energy is not None:
            training["energy"] = self.training_energy.to_dict()
        return {
            "created_at": self.created_at,
            "hardware": self.hardware,
            "config": self.config,
            "training": training,
            "variants": [r.to_dict() for r in self.results],
            "breakeven_inferences": self.breakeven_inferences,
            "breakeven_variant": self.breakeven_variant,
            "sensitivity": self.sensitivity,
            "settings": self.settings,
            "stage_seconds": self.stage_seconds,
            "stopped": self.stopped,
            "interference": self.interference,
        }

    @classmethod
    def from_dict(cls, d: dict) -> RunRecord:
        training = dict(d.get("training") or {})
        energy = training.pop("energy", None)
        return cls(config=d.get("config", {}), hardware=d.get("hardware", {}), training=training,
                   training_energy=EnergyReading.from_dict(energy) if energy else None,
                   results=[BenchResult.from_dict(r) for r in d.get("variants", [])],
                   breakeven_inferences=d.get("breakeven_inferences"), breakeven_variant=d.get("breakeven_variant"),
                   sensitivity=d.get("sensitivity"), settings=d.get("settings", {}),
                   stage_seconds=d.get("stage_seconds", {}), stopped=d.get("stopped"),
                   interference=d.get("interference"),
                   created_at=d.get("created_at", ""))
