"""What else the server did while a job measured: other threads' CPU time, from /proc.

Jobs take turns on the compute slot, so no two measurements overlap. But the pages of other
sessions (a waiting line redrawn every few seconds, a chart, a table) and the web server
itself run in other threads of the same process at the same time, and on 2 cores they can
slow a measurement down. This module does not guess: it reads the process's CPU time and that of
the job's own threads (psutil) at the start and end of a job; the difference is the others'. The job's
own thread and torch's worker threads (not Python threads) are not counted; threads that
already ended (each page rerun runs in a short-lived one) are, through the process total. When the others
used more than a few percent of a core, the results say so.
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
    window_s: float          # wall seconds of the job
    other_cpu_s: float       # CPU seconds other Python threads of this server used meanwhile

    @property
    def share_of_core(self) -> float:
        return self.other_cpu_s / self.window_s if self.window_s > 0 else 0.0

    @property
    def notable(self) -> bool:
        return self.share_of_core >= NOTABLE_SHARE

    def sentence(self) -> str:
        return (f"While this ran, other work on this server (other users' pages, the web server) used "
                f"{self.other_cpu_s:.2f} CPU-seconds in {self.window_s:.1f} s ({self.share_of_core:.0%} of one core); "
                "timings may read slower by up to about that much.")

    def to_dict(self) -> dict:
        return {**asdict(self), "share_of_core": round(self.share_of_core, 4), "notable": self.notable}


def _cpu_split(job_thread: int) -> tuple[float, float]:
    """(CPU seconds of the whole process, of the job's own threads) so far.

    The process total includes threads that have ended (each page rerun runs in a short-lived
    thread). The job's own threads are its Python thread plus the non-Python threads (torch's
    OpenMP workers: only jobs run parallel torch work here)."""
    proc = psutil.Process()
    total = sum(proc.cpu_times()[:2])
    python = {t.native_id for t in threading.enumerate() if t.native_id is not None}
    own = sum(t.user_time + t.system_time for t in proc.threads()
              if t.id == job_thread or t.id not in python)
    return total, own


class _Watch:
    result: Interference | None = None


@contextmanager
def watch() -> Iterator[_Watch]:
    """Measure the other Python threads' CPU time over the block; `.result` is set at the end."""
    me = threading.get_native_id()
    seen = _Watch()
    try:
        (total0, own0), t0 = _cpu_split(me), time.perf_counter()
    except (psutil.Error, OSError):  # no /proc (not Linux): nothing to say
        yield seen
        return
    try:
        yield seen
    finally:
        total1, own1 = _cpu_split(me)
        # Worker threads that ended during the block take their time out of `own`: never below 0.
        seen.result = Interference(time.perf_counter() - t0, max((total1 - total0) - (own1 - own0), 0.0))
