"""What else ran while a whole job ran: other threads' and other programs' CPU time, for the run record.

This is the job's account, kept in its RunRecord (`interference`) so a downloaded run says how busy the
server was. It decides nothing: whether a figure may be shown is decided per timed window by
lab.measure.quiet (how long the measurement's own threads waited for a processor), since how much other work
slows a measurement is not proportional to how much of a core it took (from nothing to 290x).

The job reads, at its start and end (psutil): the process's CPU time, its own threads' (its Python
thread and torch's worker threads, which are not Python threads), and the whole machine's busy time.
Process minus own = this server's other work (threads that ended meanwhile included, through the
process total); machine minus process = other programs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import psutil

NOTABLE_SHARE = 0.05  # of one core: below this the others' work is lost in the host's own noise


@dataclass(frozen=True)
class Interference:
    window_s: float               # wall seconds of the job
    other_cpu_s: float            # CPU seconds other threads of this server used meanwhile
    machine_other_cpu_s: float = 0.0  # ... and other programs on the machine (a browser on the same laptop)

    @property
    def share_of_core(self) -> float:
        return self.other_cpu_s / self.window_s if self.window_s > 0 else 0.0

    @property
    def machine_share_of_core(self) -> float:
        return self.machine_other_cpu_s / self.window_s if self.window_s > 0 else 0.0

    @property
    def notable(self) -> bool:
        return max(self.share_of_core, self.machine_share_of_core) >= NOTABLE_SHARE

    def to_dict(self) -> dict:
        return {**asdict(self), "share_of_core": round(self.share_of_core, 4),
                "machine_share_of_core": round(self.machine_share_of_core, 4), "notable": self.notable}


def _cpu(job_thread: int) -> tuple[float, dict[int, float]]:
    """(CPU seconds of the whole process so far, CPU seconds of each of the job's own threads).

    The process total includes threads that have ended (each page rerun runs in a short-lived
    thread). The job's own threads are its Python thread plus the non-Python threads (torch's
    OpenMP workers: only jobs run parallel torch work here)."""
    proc = psutil.Process()
    python = {t.native_id for t in threading.enumerate() if t.native_id is not None}
    own = {t.id: t.user_time + t.system_time for t in proc.threads() if t.id == job_thread or t.id not in python}
    return sum(proc.cpu_times()[:2]), own


def _machine_busy() -> float:
    """CPU seconds every program on the machine (or the container's view of it) has been busy."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)


class _Watch:
    result: Interference | None = None


@contextmanager
def watch() -> Iterator[_Watch]:
    """Measure the other Python threads' CPU time over the block; `.result` is set at the end."""
    me = threading.get_native_id()
    seen = _Watch()
    try:
        (total0, own0), busy0, t0 = _cpu(me), _machine_busy(), time.perf_counter()
    except (psutil.Error, OSError):  # no /proc (not Linux): nothing to say
        yield seen
        return
    try:
        yield seen
    finally:
        (total1, own1), busy1 = _cpu(me), _machine_busy()
        # Per thread: an earlier job's torch workers that exit meanwhile must not count against
        # this one (their whole past CPU time would vanish from a plain sum).
        own = sum(cpu - own0.get(tid, 0.0) for tid, cpu in own1.items())
        process = total1 - total0
        seen.result = Interference(time.perf_counter() - t0, max(process - own, 0.0),
                                   max((busy1 - busy0) - process, 0.0))
