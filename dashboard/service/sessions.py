"""Each user's state on the server, kept across refreshes, freed when idle.

A Session is one user: their current model, what was measured on it, their runs, their
settings. The app finds it by a random token in the browser's session cookie (dashboard.entry,
ui.session), never in an address, so a refresh or a second tab of the same browser reattaches to
the same Session (a running job keeps running and nothing is lost), and a shared link does not. Closing every tab of a session cancels its job after a grace period (the
compute slot is freed for the others) and, later, forgets the session. An idle session
frees its live model and keeps its weights as bytes, rebuilt on the next use.

Nothing here imports Streamlit; whether a browser tab is still connected is asked through a
function the app registers (`REGISTRY.tab_connected`).
"""

from __future__ import annotations

import copy
import dataclasses
import io
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from dashboard.lab import settings
from dashboard.lab.inputs import data
from dashboard.lab.measure.bench import BenchResult
from dashboard.lab.energy import EnergyReading, EnergySettings, PerImageEnergy
from dashboard.lab.training.inspect import Inspection
from dashboard.lab.training.models import build_model
from dashboard.lab.compression.sensitivity import SensitivityScan
from dashboard.lab.training.train import StepEvent, TrainedModel

from dashboard.service.jobs import RUNNER, Job

TOKEN = re.compile(r"^[0-9a-f]{32}$")


class RoomFull(RuntimeError):
    """The server keeps as many sessions as its settings allow; the message says so in one line."""


def new_token() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class DataChoice:
    """Which data a model was trained on, by name: the arrays live once per server (lab.inputs.data)."""

    name: str
    train_images: int | None = None
    augment: bool = False

    def load(self) -> data.Dataset:
        ds = data.shared(self.name)
        if self.train_images is not None and self.train_images < ds.n_train:
            ds = ds.subset(self.train_images, None)
        return dataclasses.replace(ds, augment=self.augment) if self.augment != ds.augment else ds


# What belongs to the current model: kept together when another replaces it, put back together.
MODEL_FIELDS = ("trained", "trained_place", "weights", "digest", "data", "steps", "training_energy",
                "evaluation_energy", "memory", "layer_flops", "inspection", "results", "results_note", "results_settings",
                "results_place", "sensitivity", "edge_runs", "browser", "model_runs_before")


@dataclass(frozen=True)
class KeptModel:
    """A replaced model and everything measured on it, as the Session had them (MODEL_FIELDS)."""

    values: dict[str, Any]

    @property
    def trained(self) -> TrainedModel:
        return self.values["trained"]


@dataclass
class Session:
    token: str = field(default_factory=new_token)   # the credential: kept in the browser's cookie, never shown
    # Names this session where others may see or store it (the class board's nickname owner, the server
    # log): a second random value, so nothing that stores or shows it can act as the session.
    public_id: str = field(default_factory=lambda: secrets.token_hex(8))
    presenter: bool = False   # the presenter key was given in this session (service.authority)
    kept_by: str = "this tab"   # how the browser keeps the token: "cookie", "browser storage" (ui.session)
    following: bool = False   # follows the presenter's run of show (ui.follow): off until the student turns it on
    followed: int = -1        # the room's step move this session last went along with (service.room: step_seq)
    created_at: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.time)       # a page of it ran
    last_connected: float = field(default_factory=time.time)  # a tab of it was open
    gone_since: float | None = None   # when the janitor first found every tab closed (None: a tab is open)
    tabs: set[str] = field(default_factory=set)                # Streamlit session ids of its tabs
    # The current model and everything measured on it.
    trained: TrainedModel | None = None        # .module is None while freed (see weights)
    weights: bytes | None = None               # the model's state_dict, to rebuild it
    digest: str = ""                           # hash of the weights: equal models share results
    data: DataChoice | None = None
    steps: list[StepEvent] = field(default_factory=list)
    training_energy: EnergyReading | None = None      # the training steps (lab.training.metered_training.SCOPE)
    evaluation_energy: EnergyReading | None = None    # the test evaluations after each epoch, apart
    memory: Any = None        # lab.measure.memory.MemoryComparison of the current model (training step vs inference)
    layer_flops: Any = None   # lab.measure.layer_flops.FlopsByLayer of the current model
    hardware_probe: Any = None   # lab.measure.peak.HardwareProbe: this machine's peaks, the model's share of them
    edge_runs: dict[str, Any] = field(default_factory=dict)  # profile key -> lab.deploy.edge.EdgeRun of the current model
    browser: Any = None       # lab.deploy.browser_models.BrowserSet: the model's files for a browser, what browsers measured
    inspection: Inspection | None = None
    results: list[BenchResult] = field(default_factory=list)
    results_note: str = ""                     # where the results come from when not measured now
    results_settings: dict = field(default_factory=dict)  # what they measured: variants, compress settings
    results_place: Any = None                  # service.backend.Place they were measured at; None: this server
    trained_place: Any = None                  # service.backend.Place the model was trained at; None: this server
    sensitivity: SensitivityScan | None = None
    runs: list[Any] = field(default_factory=list)   # service.runs.Run, newest last
    energy_settings: EnergySettings | None = None
    notices: list[tuple[str, str]] = field(default_factory=list)   # (level, text) shown once
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)  # widget values per page
    lessons: dict[str, Any] = field(default_factory=dict)  # lesson slug -> progress (read, prediction, quiz answers)
    # The model the last set_model replaced, with what was measured on it (one, so memory stays bounded):
    # a lesson's Try it or a replay never costs the student the model they had (restore_previous).
    previous: KeptModel | None = None
    model_runs_before: int = 0    # len(runs) when the current model came: its run is the next model run
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    @property
    def settings(self) -> EnergySettings:
        """The user's energy assumptions (country, watts, PUE, price), defaults on first use."""
        if self.energy_settings is None:
            self.energy_settings = EnergySettings()
        return self.energy_settings

    @property
    def results_elsewhere(self) -> bool:
        """Whether the results were measured on another machine than this server (a replay's, a compute cluster
        node's): this server's own measurements never reuse them as its figures."""
        place = self.results_place
        return self.results_note.startswith("a replay") or (place is not None and place.remote)

    def set_settings(self, settings: EnergySettings) -> None:
        """Replace the energy assumptions every page and export prices with; ValueError if they make no sense."""
        settings.validate()
        with self.lock:
            self.energy_settings = settings

    @property
    def job(self) -> Job | None:
        """This session's latest job, running or ended."""
        return RUNNER.job_of(self.token)

    @property
    def busy(self) -> bool:
        job = self.job
        return job is not None and job.active

    def notify(self, level: str, text: str) -> None:
        with self.lock:
            self.notices.append((level, text))

    def take_notices(self) -> list[tuple[str, str]]:
        with self.lock:
            out, self.notices = self.notices, []
            return out

    def per_image_energy(self, name: str, *, batch: int | None = None) -> PerImageEnergy | None:
        """A variant's inference energy per image under the user's current assumptions, or None:
        at its benchmark batch (serving), or with batch=1 one image per call (real-time)."""
        r = next((r for r in self.results if r.name == name), None)
        e = None if r is None else r.energy_batch1 if batch == 1 else r.energy
        return e.with_settings(self.settings) if e is not None else None

    def training_energy_now(self) -> EnergyReading | None:
        """The current model's training energy under the user's current assumptions, or None."""
        e = self.training_energy
        return e.with_settings(self.settings) if e is not None else None

    def data_choice(self) -> DataChoice:
        """Which data the current model was trained on (the default set before any training)."""
        return self.data or DataChoice(data.DEFAULT_DATASET)

    def dataset(self) -> data.Dataset:
        """The data the current model was trained on (shared arrays, nothing copied)."""
        return self.data_choice().load()

    def set_model(self, trained: TrainedModel, choice: DataChoice, steps: list[StepEvent],
                  training_energy: EnergyReading | None, inspection: Inspection | None, *,
                  weights: bytes, digest: str, evaluation_energy: EnergyReading | None = None,
                  memory: Any = None, layer_flops: Any = None, place: Any = None) -> None:
        """A new current model (its module may be None: rebuilt from `weights` when needed), with what
        describes it. The old measurements are stale; the runs stay. The model it replaces is kept in `previous`."""
        with self.lock:
            self.previous = self._keep() if self.trained is not None else self.previous
            self.model_runs_before = len(self.runs)
            self.trained, self.data, self.steps, self.trained_place = trained, choice, list(steps), place
            self.weights, self.digest = weights, digest
            self.training_energy, self.inspection = training_energy, inspection
            self.evaluation_energy, self.memory, self.layer_flops = evaluation_energy, memory, layer_flops
            self.results, self.results_note, self.results_settings, self.sensitivity = [], "", {}, None
            self.results_place = None
            self.edge_runs, self.browser = {}, None

    def _keep(self) -> KeptModel:
        """The current model and its measurements, with its weights as bytes (no live module kept)."""
        values = {name: getattr(self, name) for name in MODEL_FIELDS}
        if self.trained is not None and self.trained.module is not None:
            values["trained"], values["weights"] = self._as_data()
        return KeptModel(values)

    def _as_data(self) -> tuple[TrainedModel, bytes]:
        """The current model's record without its live module, and its weights as bytes."""
        t = self.trained
        return dataclasses.replace(t, module=None), self.weights if self.weights is not None else state_bytes(t.module)

    def restore_previous(self) -> bool:
        """Put the replaced model back, with its results and device runs, and keep the current one in its
        place (so a second restore swaps again); the runs stay. False when there is none, or while a job
        runs (its result would land on the other model)."""
        with self.lock:
            if self.previous is None or self.busy:
                return False
            current = self._keep() if self.trained is not None else None
            for name, value in self.previous.values.items():
                setattr(self, name, value)
            self.previous = current
            return True

    def trained_model(self) -> TrainedModel:
        """The current model with a live module of its own (rebuilt from the weights if freed)."""
        with self.lock:
            t = self.trained
            if t is None:
                raise ValueError("train a model first")
            module = t.module
            if module is None:
                # A new record, not the old one changed in place: whoever else holds it keeps what they hold.
                self.trained = rebuild(t, self.weights)
                module = self.trained.module
            return dataclasses.replace(t, module=copy.deepcopy(module))

    def model_as_data(self) -> tuple[TrainedModel, bytes]:
        """The current model as plain data for a job's task (service.backend): its record without the live
        module, and its weights as bytes (`rebuild` puts them together again, wherever the task runs)."""
        with self.lock:
            if self.trained is None:
                raise ValueError("train a model first")
            return self._as_data()

    def free_models(self) -> bool:
        """Drop the live model (its weights stay as bytes); True if something was freed."""
        with self.lock:
            if self.trained is None or self.trained.module is None or self.busy:
                return False
            if self.weights is None:
                self.weights = state_bytes(self.trained.module)
            # A new record without the module, not the old one changed in place (a caller may hold it).
            self.trained = dataclasses.replace(self.trained, module=None)
            return True

    def clear(self) -> None:
        """Forget the model, measurements and runs (Results' 'clear all'); settings and the course's
        progress stay."""
        with self.lock:
            keep = {"token", "public_id", "presenter", "kept_by", "created_at", "last_seen", "last_connected",
                    "gone_since", "tabs", "energy_settings", "forms", "lessons", "lock"}
            fresh = Session()
            for f in dataclasses.fields(self):
                if f.name not in keep:
                    setattr(self, f.name, getattr(fresh, f.name))


def rebuild(t: TrainedModel, weights: bytes) -> TrainedModel:
    """A model record with a live module again, from its weights as bytes (in eval mode)."""
    module = build_model(t.spec)
    module.load_state_dict(torch.load(io.BytesIO(weights), weights_only=True))
    module.eval()
    return dataclasses.replace(t, module=module)


def state_bytes(module: torch.nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save(module.state_dict(), buf)
    return buf.getvalue()


class Registry:
    """Every session of this server by token, and the janitor that frees what is idle."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self.tab_connected: Callable[[str], bool] | None = None   # set by the app
        self._janitor: threading.Thread | None = None

    def get(self, token: str | None) -> Session | None:
        if not token or not TOKEN.match(token):
            return None
        with self._lock:
            return self._sessions.get(token)

    def create(self, token: str | None = None) -> Session:
        """A new session, under `token` when it has the right form (the browser's cookie names it; after a
        server restart the same browser gets a new, empty session under its old cookie); else a new token.
        Raises RoomFull when the server already keeps settings' max_sessions."""
        cap = getattr(settings.current(), "max_sessions", None)
        if cap is not None and len(self.sessions()) >= cap:
            self._make_room(len(self.sessions()) - cap + 1)
        with self._lock:
            if cap is not None and len(self._sessions) >= cap:
                raise RoomFull(f"The server already holds {cap} sessions, its limit: try again when someone "
                               "has left (sessions with no open tab are let go after a while).")
            s = Session(token=token) if token and TOKEN.match(token) and token not in self._sessions else Session()
            self._sessions[s.token] = s
        self._start_janitor()
        return s

    def _make_room(self, n: int) -> None:
        """Forget up to `n` sessions that no open tab holds and no job runs for, longest gone first: the
        janitor would forget them later anyway, and a full server should not turn away a student for them."""
        idle = sorted((s for s in self.sessions() if not self.connected(s) and not s.busy),
                      key=lambda s: s.last_connected)
        for s in idle[:n]:
            with self._lock:
                self._sessions.pop(s.token, None)
            RUNNER.forget(s.token)

    def sessions(self) -> list[Session]:
        with self._lock:
            return list(self._sessions.values())

    def connected(self, s: Session) -> bool:
        check = self.tab_connected
        if check is None:
            return True  # no app registered a check (CLI, tests): assume someone is there
        return any(check(tab) for tab in list(s.tabs))

    def sweep(self, now: float | None = None) -> dict[str, int]:
        """Cancel jobs whose tabs all closed, free idle models, forget long-gone sessions."""
        now = time.time() if now is None else now
        cfg = settings.current()
        counts = {"stopped": 0, "freed": 0, "forgotten": 0}
        for s in self.sessions():
            # Gone since the first sweep that found every tab closed, not since the last that found one open (up
            # to a sweep earlier): a job is never stopped before the grace period has passed.
            if self.connected(s):
                s.last_connected, s.gone_since = now, None
            elif s.gone_since is None:
                s.gone_since = now
            gone_s = 0.0 if s.gone_since is None else now - s.gone_since
            job = s.job
            if job is not None and job.active and gone_s > cfg.disconnect_grace_s:
                job.stop("every tab of this session was closed")
                counts["stopped"] += 1
            idle = now - s.last_seen > cfg.idle_free_minutes * 60
            if (idle or gone_s > cfg.disconnect_grace_s) and s.free_models():
                counts["freed"] += 1
            if gone_s > cfg.session_keep_minutes * 60 and not s.busy:
                with self._lock:
                    self._sessions.pop(s.token, None)
                RUNNER.forget(s.token)
                counts["forgotten"] += 1
        return counts

    def _start_janitor(self, every_s: float = 5.0) -> None:
        with self._lock:
            if self._janitor is not None:
                return
            self._janitor = threading.Thread(target=self._janitor_loop, args=(every_s,),
                                             name="session janitor", daemon=True)
        self._janitor.start()

    def _janitor_loop(self, every_s: float) -> None:
        while True:
            time.sleep(every_s)
            try:
                if any(self.sweep().values()):
                    from dashboard.lab.hardware import release_memory
                    release_memory()
            except Exception:  # the janitor must never die; the next sweep tries again
                pass


REGISTRY = Registry()


def copy_results(results: list[BenchResult]) -> list[BenchResult]:
    """Results another session may change (break-even is written into them): a private copy."""
    return [copy.deepcopy(r) for r in results]
