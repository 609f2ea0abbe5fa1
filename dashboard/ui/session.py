"""One user's state: a Session object under one st.session_state key.

Two browser tabs are two sessions; nothing here is shared between users. Pages read and write
this object only; shared caches hold read-only things (the datasets) and are never mutated.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from dashboard.lab.energy import EnergyReading, EnergySettings
from dashboard.lab.data import Dataset, DatasetUnavailable, load_dataset
from dashboard.lab.inspect import Inspection
from dashboard.lab.train import EpochEvent, StepEvent, TrainConfig, TrainedModel, Training

KEY = "train_infer_lab"


@dataclass
class LiveTraining:
    """A training in progress: the engine's iterator plus what has been drawn so far."""

    run: Training
    dataset: Dataset
    steps: list[StepEvent] = field(default_factory=list)
    epochs: list[EpochEvent] = field(default_factory=list)
    energy: list[EnergyReading] = field(default_factory=list)   # one per chunk
    finished: bool = False
    log_run: bool = True     # False when a bigger run (the demo) records it

    @property
    def config(self) -> TrainConfig:
        return self.run.config


@dataclass
class Session:
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    live: LiveTraining | None = None
    # The current model and everything measured on it.
    trained: TrainedModel | None = None
    trained_on: Dataset | None = None          # the (possibly reduced) dataset it was trained on
    steps: list[StepEvent] = field(default_factory=list)
    training_energy: EnergyReading | None = None   # the whole training, all chunks combined
    inspection: Inspection | None = None
    results: list[Any] = field(default_factory=list)      # lab.bench.BenchResult, with its per_image energy
    sensitivity: Any = None
    # Every run of this session, newest last (lab.record.RunRecord).
    runs: list[Any] = field(default_factory=list)
    energy_settings: EnergySettings | None = None
    notices: list[tuple[str, str]] = field(default_factory=list)  # (level, text) shown once
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)  # widget values per page (ui.widgets)
    # A click starts a new script run while the training fragment's run may still be going:
    # whoever advances, stops or finishes the live training holds this lock.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    @property
    def settings(self) -> EnergySettings:
        """The user's energy assumptions (country, watts, PUE, price), defaults on first use."""
        if self.energy_settings is None:
            self.energy_settings = EnergySettings()
        return self.energy_settings

    @property
    def training(self) -> bool:
        return self.live is not None and not self.live.finished

    def notify(self, level: str, text: str) -> None:
        self.notices.append((level, text))

    def new_model(self) -> None:
        """A new trained model makes the old variants and measurements stale (the runs stay)."""
        self.results, self.sensitivity, self.inspection = [], None, None

    def per_image_energy(self, name: str):
        """A variant's inference energy per image under the user's current assumptions, or None."""
        e = next((r.per_image for r in self.results if r.name == name), None)
        return e.with_settings(self.settings) if e is not None else None

    def clear(self) -> None:
        """Forget everything but an ongoing training (the Results page's 'clear all')."""
        live = self.live if self.training else None
        fresh = Session(id=self.id, live=live, energy_settings=self.energy_settings, forms=self.forms)
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(fresh, f.name))


def get() -> Session:
    """This browser tab's Session, created on first use."""
    if KEY not in st.session_state:
        st.session_state[KEY] = Session()
    return st.session_state[KEY]


def page(title: str, caption: str | None = None) -> Session:
    """Every page's opening: this user's Session, the title, the caption, then pending notices."""
    s = get()
    st.title(title)
    if caption:
        st.caption(caption)
    # Always one container, empty or not: a notice shown once must not shift the elements below it,
    # or the next run draws every widget under a new position and the old copies linger while it runs.
    with st.container():
        show_notices(s)
    return s


def show_notices(s: Session) -> None:
    """Messages left by an action in a previous run (a finished training, an error): shown once."""
    for level, text in s.notices:
        {"error": st.error, "warning": st.warning, "success": st.success}.get(level, st.info)(text)
    s.notices.clear()


@st.cache_resource(max_entries=3, show_spinner=False)
def _shared_dataset(name: str) -> Dataset:
    # Read-only and the same for every user: one copy per process. Failures are not cached.
    return load_dataset(name)


def dataset(name: str, *, max_train: int | None = None, augment: bool = False) -> Dataset:
    """The named dataset, optionally fewer training images; raises DatasetUnavailable."""
    base = _shared_dataset(name)
    if max_train is not None and max_train < base.n_train:
        base = base.subset(max_train, None)
    if augment != base.augment:
        base = dataclasses.replace(base, augment=augment)  # shares the image tensors
    return base


__all__ = ["KEY", "LiveTraining", "Session", "get", "show_notices", "dataset", "DatasetUnavailable"]
