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
"""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import torch

from dashboard.lab import hardware, settings


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the engine's source: a change to how things are computed is a new key."""
    h = hashlib.sha256()
    lab = resources.files("dashboard.lab")
    for name in sorted(p.name for p in lab.iterdir() if p.name.endswith(".py")):
        h.update(name.encode())
        h.update((lab / name).read_bytes())
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
    by: str                       # the session token that computed it
    hits: int = 0


@dataclass
class Flight:
    """A computation in progress that others can follow."""

    key: str
    leader: Any                   # the leader's Job (its progress is what followers show)
    done: threading.Event = field(default_factory=threading.Event)
    entry: Entry | None = None    # set when it succeeded; None when it was stopped or failed


class SharedResults:
    def __init__(self, budget_bytes: int | None = None) -> None:
        self._budget = budget_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._flights: dict[str, Flight] = {}

    @property
    def budget_bytes(self) -> int:
        return self._budget if self._budget is not None else settings.current().result_cache_mb * 2**20

    def get(self, k: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(k)
            if entry is not None:
                entry.hits += 1
                self._entries.move_to_end(k)
            return entry

    def begin(self, k: str, leader: Any) -> tuple[Flight, bool]:
        """Join the computation of `k` or start it: (flight, True when the caller must compute)."""
        with self._lock:
            flight = self._flights.get(k)
            if flight is not None:
                return flight, False
            flight = self._flights[k] = Flight(k, leader)
            return flight, True

    def finish(self, flight: Flight, value: Any, by: str) -> Entry:
        """The leader's result: stored (if it fits the budget) and handed to the followers."""
        entry = self.put(flight.key, value, by)
        with self._lock:
            if self._flights.get(flight.key) is flight:
                del self._flights[flight.key]
        flight.entry = entry
        flight.done.set()
        return entry

    def put(self, k: str, value: Any, by: str) -> Entry:
        """Store a result (replacing an older one for the same key) within the memory budget."""
        size = len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        entry = Entry(k, value, size, time.time(), by)
        with self._lock:
            self._entries.pop(k, None)
            if size <= self.budget_bytes:
                self._entries[k] = entry
                while sum(e.size_bytes for e in self._entries.values()) > self.budget_bytes:
                    self._entries.popitem(last=False)
        return entry

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
        with self._lock:
            self._entries.clear()


def weights_digest(module: torch.nn.Module) -> str:
    """A hash of a model's weights: two sessions with the same weights asked the same question."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:32]


SHARED = SharedResults()
