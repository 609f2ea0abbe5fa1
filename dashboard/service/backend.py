"""Where a job's heavy part runs: the compute backend, one interface for every place.

    out = backend.current().run(job, train_task, config, choice, energy)   # inside a job's body

A task is a module-level function `task(channel, *args)` whose arguments and result are plain data
(settings, a dataset's name, weights as bytes: no live model, no session, no lock). It reports through
`channel`, which has the Job's own calls: report(fraction, message), show(**values), add(key, item),
keep(value), stopping, on_stop(tell). Two backends:

- InProcess (the default, nothing to install): the task runs in the job's own thread with the Job as its
  channel, inside the server's one compute slot (service.slot.COMPUTE), as every job always did.
- Ray (service.ray_backend), chosen by TRAIN_INFER_LAB_RAY_ADDRESS ("auto", "host:port" or "ray://..."):
  the task runs as a Ray task on a measuring node (one at a time per node) while the job's thread relays
  its progress; jobs wait for a node in the app's own queue (`slot()`), with their place in line.

Through the backend: training (training_jobs), compress & measure, the whole demo, the sensitivity scan
(measuring). Not yet: Try it's and the device profiles' versions (versions), the machine's peaks (machine), the
browser files (device_jobs), a replay (replays) and the ONNX export (exports) run in this process, in COMPUTE.

The session, its locks and what a job leaves in it (its `finish`) stay in the app whatever the backend.
A task that fails raises here as it would in-process (a user's error raised on a worker as WorkerRefused, its
line kept); a lost worker raises WorkerLost.

Where a task ran is a Place: this server, or a Ray node and its hardware. The task reads it from its channel
(`place_of(job)`, on the worker itself) and its result carries it, so a figure served later, from the shared
results too, names the machine that measured it, not the server that serves it.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from dashboard.lab import hardware
from dashboard.service.slot import COMPUTE, Slot

if TYPE_CHECKING:
    from dashboard.service.jobs import Job

T = TypeVar("T")
ADDRESS_VARIABLE = "TRAIN_INFER_LAB_RAY_ADDRESS"
MAX_ADDRESS_CHARS = 1024


class WorkerLost(RuntimeError):
    """The process or machine that ran a job's task went away: the job failed, nothing it made arrived."""


class WorkerRefused(RuntimeError):
    """A user's error raised inside a worker, its line as the lab wrote it (the class stays in the worker)."""


def server_name() -> str:
    """This app server's name among its replicas: its host name (a container's own, behind the proxy)."""
    return socket.gethostname()


@dataclass(frozen=True)
class Place:
    """Where a job's heavy part ran: `where` "" for an app server's own process (`server`, its host name), else
    the Ray node ("Ray node 1a2b3c4d"), with that machine's hardware (lab.hardware.HardwareInfo.to_dict(); {} if
    unknown). A result shared through the database may have been measured by another replica's process."""

    where: str = ""
    hardware: dict = field(default_factory=dict)
    server: str = ""     # the app server whose process ran it ("" on a Ray node, or not known)

    @property
    def other_replica(self) -> bool:
        """Measured in the process of another replica of this app (served here from the shared database)."""
        return not self.where and bool(self.server) and self.server != server_name()

    @property
    def remote(self) -> bool:
        """Measured on another machine than this server: a Ray node, or another replica."""
        return bool(self.where) or self.other_replica

    @property
    def name(self) -> str:
        """'this server', or the machine and its CPU: 'Ray node 1a2b3c4d (AMD EPYC 7B13)', 'replica web-2 of this
        app (AMD EPYC 7B13)'."""
        if not self.remote:
            return "this server"
        machine = self.where or f"replica {self.server} of this app"
        cpu = self.hardware.get("cpu")
        return f"{machine} ({cpu})" if cpu else machine

    @property
    def source(self) -> str:
        """What a run's 'figures' column says of figures measured for the session: 'measured here' in this
        process, else 'measured on Ray node 1a2b3c4d (AMD EPYC 7B13)'."""
        return f"measured on {self.name}" if self.remote else "measured here"


def here() -> Place:
    """This server's own process, its hardware now."""
    return Place("", hardware.describe("cpu").to_dict(), server_name())


def place_of(job: Any) -> Place:
    """Where `job`'s task runs: a Ray worker's channel, or a Job its worker has reported from, names its node
    and hardware (`where`, `hardware`); a Job in this process is this server. Read inside a task, it is
    what the task's result carries."""
    where = getattr(job, "where", "")
    if not where:
        return here()
    return Place(where, dict(getattr(job, "hardware", None) or {}))


class Backend(Protocol):
    name: str

    def slot(self) -> Slot:
        """The queue jobs of this backend wait in for a free place."""

    def run(self, job: Job, task: Callable[..., T], *args: Any) -> T:
        """Run `task(channel, *args)` for `job` and return its result (raises what it raised)."""


class InProcess:
    """The job's own thread, inside the server's compute slot: the embedded default."""

    name = "in-process"

    def slot(self) -> Slot:
        return COMPUTE

    def run(self, job: Job, task: Callable[..., T], *args: Any) -> T:
        return task(job, *args)


_lock = threading.Lock()
_current: Backend | None = None


def address() -> str | None:
    """The Ray cluster to use from TRAIN_INFER_LAB_RAY_ADDRESS, or None (in-process). ValueError if malformed."""
    raw = os.environ.get(ADDRESS_VARIABLE, "").strip()
    if not raw:
        return None
    if len(raw) > MAX_ADDRESS_CHARS or not raw.isprintable() or " " in raw:
        raise ValueError(f"{ADDRESS_VARIABLE} must be 'auto', 'host:port' or 'ray://host:port' "
                         f"(at most {MAX_ADDRESS_CHARS} characters, no spaces)")
    return raw


def current() -> Backend:
    """The server's backend, made on first use from TRAIN_INFER_LAB_RAY_ADDRESS (connecting to the cluster)."""
    global _current
    with _lock:
        if _current is None:
            where = address()
            if where is None:
                _current = InProcess()
            else:
                from dashboard.service.ray_backend import RayBackend   # ray only where it is asked for

                _current = RayBackend(where)
        return _current


def use(backend: Backend | None) -> Backend | None:
    """Make `backend` the server's (None: read the variable again on next use); returns the one before."""
    global _current
    with _lock:
        before, _current = _current, backend
        return before


def job_slot() -> Slot:
    """Where a job that runs through the backend waits (set as `job.slot` before it is submitted)."""
    return current().slot()
