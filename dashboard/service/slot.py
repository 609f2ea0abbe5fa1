"""One process-wide compute slot: heavy work (training, benchmarks, energy metering) takes turns.

On a shared host many sessions live in one process; if two trained at once each would get
half the CPU and every timing and energy reading would count the other's work. So every job
runs inside `COMPUTE.hold(...)`, taken once where the job starts (service.jobs), first come
first served, and a waiting caller can show its place in the queue. The engine (dashboard/lab)
takes no slot: the CLI and the benchmarks run one job per process.
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
    """A fair (FIFO) re-entrant lock that tells waiters their place in line."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._tickets = itertools.count()
        self._queue: list[tuple[int, str]] = []   # (ticket, label), head holds the slot
        self._owner: int | None = None            # thread id of the holder
        self._depth = 0

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._owner is not None

    def wake(self) -> None:
        """Make waiters re-check now (a cancel takes effect at once, not at the next poll)."""
        with self._cond:
            self._cond.notify_all()

    def queue_labels(self) -> list[str]:
        with self._cond:
            return [label for _, label in self._queue]

    @contextmanager
    def hold(self, label: str = "work", *, on_wait: Callable[[Waiting], None] | None = None,
             poll_s: float = 0.5, timeout_s: float | None = None,
             cancelled: Callable[[], bool] | None = None) -> Iterator[None]:
        """Run the block when it is this caller's turn; `on_wait` is called while waiting.

        `cancelled()` is checked every `poll_s` while waiting: when it turns true the caller
        leaves the queue and Cancelled is raised (the slot was never held)."""
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
            else:
                ticket = next(self._tickets)
                self._queue.append((ticket, label))
                start = time.monotonic()
                try:
                    while self._queue[0][0] != ticket or self._owner is not None:
                        waited = time.monotonic() - start
                        if timeout_s is not None and waited > timeout_s:
                            raise TimeoutError(f"waited {waited:.0f} s for a free compute slot")
                        if cancelled is not None and cancelled():
                            raise Cancelled()
                        if on_wait is not None:
                            ahead = next(i for i, (t, _) in enumerate(self._queue) if t == ticket)
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
                self._owner, self._depth = me, 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._queue.pop(0)
                    self._cond.notify_all()


COMPUTE = Slot()
