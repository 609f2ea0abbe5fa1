"""One process-wide compute slot: heavy work (training, benchmarks, energy metering) takes turns.

On a shared host many sessions live in one process; if two trained at once each would get
half the CPU and every timing and energy reading would count the other's work. So every job
runs inside `COMPUTE.hold(...)`, taken once where the job starts (service.jobs), first come
first served, and a waiting caller can show its place in the queue. The engine (dashboard/lab)
takes no slot: the CLI and the benchmarks run one job per process.

A slot may have room for more than one holder (`capacity`): the Ray backend's slot has one place per
measuring node of the cluster (service.ray_backend), so n jobs run at once, one per node, and the rest
wait in the same line.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


class Cancelled(Exception):
    """The caller gave up waiting for the slot (its `cancelled()` turned true)."""


@dataclass(frozen=True)
class Waiting:
    ahead: int          # how many holders/waiters are before this caller
    waited_s: float
    holder: str         # label of the work running now


class Slot:
    """A fair (FIFO) re-entrant lock with `capacity` places that tells waiters their place in line."""

    def __init__(self, capacity: int = 1) -> None:
        self._cond = threading.Condition()
        self._tickets = itertools.count()
        self._queue: list[tuple[int, str]] = []   # (ticket, label): its first `capacity` hold the slot
        self._owners: dict[int, list[int]] = {}   # thread id of a holder -> [its ticket, its depth]
        self._capacity = max(1, int(capacity))

    @property
    def capacity(self) -> int:
        return self._capacity

    @capacity.setter
    def capacity(self, n: int) -> None:
        """Places that may be held at once (a cluster that grew or shrank); holders keep theirs."""
        with self._cond:
            self._capacity = max(1, int(n))
            self._cond.notify_all()

    @property
    def busy(self) -> bool:
        with self._cond:
            return bool(self._owners)

    def wake(self) -> None:
        """Make waiters re-check now (a cancel takes effect at once, not at the next poll)."""
        with self._cond:
            self._cond.notify_all()

    def queue_labels(self) -> list[str]:
        with self._cond:
            return [label for _, label in self._queue]

    def _place(self, ticket: int) -> int:
        return next(i for i, (t, _) in enumerate(self._queue) if t == ticket)

    def ticket(self) -> int:
        """A place in line taken now, for a caller that reaches `hold` later (service.jobs takes one when a job is
        submitted, then prepares it): it waits behind those who took theirs before, not behind those who arrived
        before it."""
        with self._cond:
            return next(self._tickets)

    def _join(self, ticket: int, label: str) -> None:
        """Into the line by ticket, behind every holder (holders stay at the front) and every earlier ticket."""
        held = {t for t, _ in self._owners.values()}
        at = next((i for i, (t, _) in enumerate(self._queue) if t not in held and t > ticket), len(self._queue))
        self._queue.insert(at, (ticket, label))

    @contextmanager
    def hold(self, label: str = "work", *, on_wait: Callable[[Waiting], None] | None = None,
             poll_s: float = 0.5, timeout_s: float | None = None,
             cancelled: Callable[[], bool] | None = None, ticket: int | None = None) -> Iterator[None]:
        """Run the block when it is this caller's turn (`ticket`: a place taken earlier with `ticket()`); `on_wait`
        is called while waiting.

        `cancelled()` is checked every `poll_s` while waiting: when it turns true the caller
        leaves the queue and Cancelled is raised (the slot was never held)."""
        me = threading.get_ident()
        with self._cond:
            if me in self._owners:
                self._owners[me][1] += 1
            else:
                if ticket is None:
                    ticket = next(self._tickets)
                self._join(ticket, label)
                start = time.monotonic()
                try:
                    # Holders are always at the front (only they and those before them ever leave it), so a
                    # caller whose place is within the capacity has a free place.
                    while self._place(ticket) >= self._capacity:
                        waited = time.monotonic() - start
                        if timeout_s is not None and waited > timeout_s:
                            raise TimeoutError(f"waited {waited:.0f} s for a free compute slot")
                        if cancelled is not None and cancelled():
                            raise Cancelled()
                        if on_wait is not None:
                            ahead = self._place(ticket) - self._capacity + 1
                            holder = self._queue[0][1]
                            self._cond.release()
                            try:
                                on_wait(Waiting(ahead, waited, holder))
                            finally:
                                self._cond.acquire()
                        self._cond.wait(poll_s)
                except BaseException:
                    self._queue = [q for q in self._queue if q[0] != ticket]
                    self._cond.notify_all()
                    raise
                self._owners[me] = [ticket, 1]
        try:
            yield
        finally:
            with self._cond:
                held = self._owners[me]
                held[1] -= 1
                if held[1] == 0:
                    del self._owners[me]
                    self._queue = [q for q in self._queue if q[0] != held[0]]
                    self._cond.notify_all()


COMPUTE = Slot()
