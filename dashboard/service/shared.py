"""Results shared between sessions when the request was identical.

On the CPU the engine is deterministic for a given configuration and seed, so thirty students
pressing "Run the whole demo" with the same settings would get the same model and, apart from
timing noise, the same measurements. The first request computes; the others are served the
stored result at once, labelled with when it was measured, with a button to measure afresh.
A request for a result that is being computed right now waits for that computation (it
"follows" it) instead of starting a second one.

Keys hold everything that decides the result: the request, the code version, the hardware,
the thread count. Values are records (numbers, curves, the trained weights as bytes), never
live models, and the cache keeps within a memory budget, dropping the least recently used.

With TRAIN_INFER_LAB_DATABASE_URL set, what is published is also stored in that database
(service.shared_store) and a miss in memory looks there before computing, so app replicas serve each
other's results; the memory cache stays in front. Following a computation in progress is per replica:
an identical request on another replica while one runs computes it too.

`submit` queues a job whose result is shared this way (following an identical one or computing and
publishing), and `label` says where a served result comes from.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from dashboard.lab import hardware, settings
from dashboard.service import authority, shared_store
from dashboard.service.jobs import DONE, RUNNER, Job
from dashboard.service.slot import Cancelled


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the engine's source: a change to how things are computed is a new key."""
    h = hashlib.sha256()

    def walk(folder, prefix: str) -> None:   # the engine's rooms are sub-packages: every one counts
        for p in sorted(folder.iterdir(), key=lambda p: p.name):
            if p.is_dir() and p.name != "__pycache__":
                walk(p, f"{prefix}{p.name}/")
            elif p.name.endswith(".py"):
                h.update(f"{prefix}{p.name}".encode())
                h.update(p.read_bytes())

    walk(resources.files("dashboard.lab"), "")
    return h.hexdigest()[:16]


def key(kind: str, request: dict) -> str:
    """The cache key of a request: its own fields plus code version, hardware and threads."""
    hw = hardware.describe("cpu")
    blob = {"kind": kind, "request": request, "code": code_version(),
            "hardware": [hw.cpu, hw.arch, list(hw.features), hw.torch, hw.torch_build],
            "threads": settings.current().threads}
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:32]


@dataclass
class Entry:
    key: str
    value: Any
    size_bytes: int
    measured_at: float            # when the computation that made it ended
    by: str                       # the session token that computed it ("" when read from the database)
    hits: int = 0
    by_public: str = ""           # that session's public_id: what the database stores (a token never leaves memory)


@dataclass
class Flight:
    """A computation in progress that others can follow."""

    key: str
    leader: Any                   # the leader's Job (its progress is what followers show)
    done: threading.Event = field(default_factory=threading.Event)
    entry: Entry | None = None    # set when it succeeded; None when it was stopped or failed


class SharedResults:
    def __init__(self, budget_bytes: int | None = None, url: str | None = None) -> None:
        """`url`: the database that replicas share ("" none: memory only; None: settings' database_url)."""
        self._budget = budget_bytes
        self._url = url
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._flights: dict[str, Flight] = {}

    @property
    def budget_bytes(self) -> int:
        return self._budget if self._budget is not None else settings.current().result_cache_mb * 2**20

    def _store(self) -> shared_store.ResultStore | None:
        if self.budget_bytes <= 0:   # sharing turned off: not through the database either
            return None
        return shared_store.for_url(settings.current().database_url if self._url is None else self._url)

    def get(self, k: str) -> Entry | None:
        """The stored result of `k`: from memory, else from the shared database (then kept in memory too)."""
        with self._lock:
            entry = self._entries.get(k)
            if entry is not None:
                entry.hits += 1
                self._entries.move_to_end(k)
                return entry
        store = self._store()
        found = store.load(k) if store is not None else None
        if found is None:
            return None
        entry = Entry(k, found.value, found.size_bytes, found.measured_at, by="", hits=1, by_public=found.by_public)
        self._remember(entry)
        return entry

    def begin(self, k: str, leader: Any) -> tuple[Flight, bool]:
        """Join the computation of `k` or start it: (flight, True when the caller must compute)."""
        with self._lock:
            flight = self._flights.get(k)
            if flight is not None:
                return flight, False
            flight = self._flights[k] = Flight(k, leader)
            return flight, True

    def finish(self, flight: Flight, value: Any, by: str, *, by_public: str = "") -> Entry:
        """The leader's result: stored (if it fits the budget) and handed to the followers."""
        return self.hand(flight, self.put(flight.key, value, by, by_public=by_public))

    def hand(self, flight: Flight, entry: Entry) -> Entry:
        """End `flight` with `entry` (computed, or found stored meanwhile): its followers are served it."""
        with self._lock:
            if self._flights.get(flight.key) is flight:
                del self._flights[flight.key]
        flight.entry = entry
        flight.done.set()
        return entry

    def put(self, k: str, value: Any, by: str, *, by_public: str = "") -> Entry:
        """Store a result (replacing an older one for the same key) within the memory budget, and in the shared
        database when there is one. `by`: the session's token (kept in memory only); `by_public`: its public_id."""
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        entry = Entry(k, value, len(data), time.time(), by, by_public=by_public)
        self._remember(entry)
        store = self._store()
        if store is not None:
            store.save(k, data, measured_at=entry.measured_at, by_public=by_public, budget_bytes=self.budget_bytes)
        return entry

    def _remember(self, entry: Entry) -> None:
        with self._lock:
            self._entries.pop(entry.key, None)
            if entry.size_bytes <= self.budget_bytes:
                self._entries[entry.key] = entry
                while sum(e.size_bytes for e in self._entries.values()) > self.budget_bytes:
                    self._entries.popitem(last=False)

    def abandon(self, flight: Flight) -> None:
        """The leader stopped or failed: followers wake up and one of them computes instead."""
        with self._lock:
            if self._flights.get(flight.key) is flight:
                del self._flights[flight.key]
        flight.done.set()

    def stats(self) -> dict:
        with self._lock:
            return {"entries": len(self._entries), "bytes": sum(e.size_bytes for e in self._entries.values()),
                    "budget_bytes": self.budget_bytes, "in_flight": len(self._flights)}

    def clear(self) -> None:
        """Forget what is in memory (the shared database keeps its rows)."""
        with self._lock:
            self._entries.clear()


SHARED = SharedResults()


def label(entry: Entry, s) -> str:
    """Where served figures come from: 'measured on this server at 14:05 for another session with identical
    settings', or on the machine that measured them, which the value carries (service.backend.Place: 'measured on
    Ray node 1a2b3c4d (its CPU) at 14:05 ...'), not the server serving them."""
    yours = entry.by == s.token or (bool(entry.by_public) and entry.by_public == getattr(s, "public_id", None))
    who = "by you earlier" if yours else "for another session"   # by_public: read back from the shared database
    place = getattr(entry.value, "place", None)
    where = place.name if place is not None else "this server"
    return f"measured on {where} at {time.strftime('%H:%M', time.localtime(entry.measured_at))} {who} " \
           "with identical settings"


def follow(job: Job, k: str) -> tuple[Flight | None, Entry | None]:
    """Wait while another session computes the same thing: (my flight if I must compute, None) or
    (None, the finished entry). Raises Cancelled when this job is stopped while it waits."""
    while True:
        flight, mine = SHARED.begin(k, job)
        if mine:
            job.following = None
            entry = SHARED.get(k)   # stored since the page looked (by another replica, or a leader ending)
            if entry is not None:
                return None, SHARED.hand(flight, entry)
            return flight, None
        job.following = flight.leader
        while not flight.done.wait(0.25):
            if job.stopping:
                job.following = None
                raise Cancelled()  # it never computed anything: cancelled, not stopped
            leader = flight.leader
            job.report(leader.progress, f"an identical request of another session is running: {leader.message}")
        if flight.entry is not None:
            job.following = None
            return None, flight.entry
        # the leader stopped or failed: try again (this job may now compute it itself)


def submit(s, job: Job, k: str, *, fresh: bool, compute: Callable[[Job], Any],
           adopt: Callable[[Any, str, Any], None], partial: Callable[[Job], None],
           publishable: Callable[[Any, Any], bool] = lambda result, interference: True) -> Job:
    """Queue `job` for session `s`, its result shared under `k`: follow an identical computation or
    compute (`compute(job)`) and publish. `fresh`: computed here whatever is stored; the presenter's then
    replaces it for everyone, a student's stays theirs. When it ends: `adopt(result, note, interference)`
    (note: where a served result comes from, "" for one computed here), else `partial(job)` for what a
    stopped, failed or cancelled job leaves. `publishable(result, interference)`, once it is done, stamps
    what others will see and says whether they may see it (a disturbed measurement stays this session's)."""
    state: dict = {}

    def body(job: Job) -> Any:
        if not fresh and (entry := SHARED.get(k)) is not None:   # stored while this job waited for its turn
            state["entry"] = SHARED.hand(state.pop("flight"), entry)
            return entry.value
        return compute(job)

    def prepare(job: Job) -> bool:
        if fresh:  # measured afresh by request: computed here, then replaces the shared result
            return True
        flight, entry = follow(job, k)
        if entry is not None:
            state["entry"] = entry
            return False
        state["flight"] = flight
        return True

    def finish(job: Job) -> None:
        flight: Flight | None = state.get("flight")
        if "entry" in state:                      # followed another session's identical run
            adopt(state["entry"].value, label(state["entry"], s), None)
            return
        if job.state == DONE and job.result is not None:
            if not publishable(job.result, job.interference):
                # Never served to another session as "measured on this server" (those following it compute their own).
                if flight is not None:
                    SHARED.abandon(flight)
            elif flight is not None:
                SHARED.finish(flight, job.result, s.token, by_public=s.public_id)
            elif authority.is_presenter(s):   # the presenter measured afresh: it replaces it for everyone
                SHARED.put(k, job.result, s.token, by_public=s.public_id)
            # else a student measured afresh for themselves: theirs alone, the room's figure stays
            adopt(job.result, "", job.interference)
            return
        if flight is not None:
            SHARED.abandon(flight)
        partial(job)

    return RUNNER.submit(s.token, job, body, prepare=prepare, finish=finish)
