"""How quiet a timed window was, read from the kernel for that window, and a wait for a quieter moment.

    with quiet.window() as w:          # around one timed loop (no sleeps, nothing else inside)
        ...
    w.result.disturbed, w.result.share, w.result.why()

A timing is only the model's speed if the measuring threads had the CPU for the whole window. On a
shared 2-core host they may not: other sessions' pages run in this process (and hold Python's GIL), a
browser or another program runs on the same cores, and with 2 torch threads one descheduled OpenMP
worker stalls every parallel call until it runs again (seen: 290x slower). How much a window suffers
is not proportional to how busy the machine was (a busy room has also slowed a measurement by only
1.3x), so each window is checked by what happened to *its own threads*:

- the measuring thread's time off the CPU: wall time minus its CPU time (time.thread_time). A timed
  loop of model calls computes all the time, so any gap is time it waited: for the GIL, for a core,
  or stolen by the hypervisor;
- the run-queue wait of the worker threads (torch's OpenMP, ONNX Runtime's pool: the non-Python
  threads), from Linux's /proc/self/task/*/schedstat: time they were ready to run but had no core.

Their sum over the wall time is the window's disturbance `share`. A parallel call waits for its
slowest thread, so a window with share s took at most about 1 / (1 - s) of its quiet time: at the
threshold, DISTURBED_SHARE = 0.25, at most ~1.33x. On a quiet machine windows read 0-3 %; with one busy
program beside a 2-thread measurement, 50-100 % (benchmarks/busy_room.py measures a whole room).

A processor can also run slow while every thread has a core: a virtual machine's host gives its cores
to other guests or moves them, a laptop throttles when hot, two threads share one physical core. None
of that is time off the CPU, so a short reference probe (`probe_us`: a small convolution, the fastest
of 30 calls) runs just before and just after each window, outside its clock. A window whose slower
probe read more than PROBE_SLOW = 1.5x the fastest probe of the last two minutes ran on a processor
working well below its own speed: it is disturbed too. (Seen on the 2-vCPU development VM with nothing
else running: spells of a few seconds in which the probe read 2.0-2.5x and the demo's cnn 1.5-1.7x its
usual time; outside them the probe stayed within 1.25x. A busy program beside the measurement barely
moved the probe: that case is the share's.) A measurement re-judges its windows at its end against the
fastest probe it saw (`rejudged`), so a window timed at the start of a slow spell is caught as well.

Two more signs, for what neither of those sees:

- the time the virtual machine's host took its processors away (`stolen_s`, the kernel's "steal" time over
  the window, all processors together). A worker whose processor is taken away is "running" as far as its
  own thread is concerned, yet every parallel call waits for it;
- the window's own calls (`call_s`, set by lab.measure.bench: a batch-1 window's median call, a batch
  window's mean call) against the fastest single call of the same model at the same batch in the whole
  measurement (`best_call_s`). A call always does the same work, so a window whose typical call took more
  than CALLS_SLOW = 1.5x the fastest lost that time somewhere, whatever took it. (Seen in a busy room at batch
  256: windows 2.3-2.5x slow while their threads had their cores and the probe read normal. On a quiet machine
  a window's typical call was 1.02-1.49x its fastest, except the first batch-1 windows of a process's first
  measurement, up to 1.65x: those are measured again.)

A disturbed window is measured again (lab.measure.bench) after `wait_for_quiet`, which waits for the
others' CPU to drop and the probe to read normal again.

Where the kernel gives no per-thread run-queue figure (macOS, Windows), only the measuring thread is
checked; `how` says so.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace

import psutil
import torch

DISTURBED_SHARE = 0.25   # of the window: above it, a window is disturbed (at most ~1 / (1 - 0.25) = 1.33x slow)
PROBE_SLOW = 1.5         # the slower probe around a window over the fastest recent one: above it, disturbed
CALLS_SLOW = 1.5         # a window's typical call over the model's fastest at that batch: above it, disturbed
PROBE_MEMORY_S = 120.0   # how far back the fastest probe is looked for (a laptop's clock drifts over minutes)
# Of the window: other threads of this process that computed longer than this put their CPU time inside a
# metered window's energy (CodeCarbon meters the whole process): its energy is then not the model's.
OTHERS_SHARE = 0.25
QUIET_SHARE = 0.25       # of one core: others below this count as a quiet moment to measure again
SETTLE_MAX_S = 0.5       # the longest wait for this process's workers to stop spinning before a window (settle)
WORKERS_ASLEEP = 0.1     # of one core, over a 10 ms slice: the workers running or ready to, below this, are asleep
TASKS = "/proc/self/task"

@dataclass(frozen=True)
class Quality:
    """What one timed window's own threads went through."""

    wall_s: float
    off_cpu_s: float          # the measuring thread: wall minus its CPU time
    worker_wait_s: float      # the worker threads: time ready to run without a core (0 where not known)
    others_cpu_s: float       # this process's other threads (other sessions' pages, the web server)
    machine_other_cpu_s: float  # other programs on the machine (a browser on the same computer)
    how: str                  # "thread time + schedstat" or "thread time only"
    probe_us: tuple[float, float] | None = None   # the reference probe just before and just after the window
    probe_best_us: float | None = None            # the fastest probe of the last PROBE_MEMORY_S at this thread count
    threads: int = 0                              # torch's thread count the probes ran at
    stolen_s: float = 0.0                         # the host took the machine's processors (steal), all of them
    call_s: float | None = None                   # the window's median (batch 1) or mean call (lab.measure.bench)
    best_call_s: float | None = None              # the model's fastest call at that batch in the measurement

    @property
    def share(self) -> float:
        """The window's disturbance: its threads' lost time over its wall time (0 = undisturbed)."""
        return (self.off_cpu_s + self.worker_wait_s) / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def slowness(self) -> float:
        """How much slower than its best the processor ran around the window: the slower probe over the
        fastest recent one (1.0 where no probe ran)."""
        if not self.probe_us or not self.probe_best_us:
            return 1.0
        return max(self.probe_us) / self.probe_best_us

    @property
    def ran_slow(self) -> bool:
        return self.slowness > PROBE_SLOW

    @property
    def stolen_share(self) -> float:
        """The host's steal time over the window's wall time (all processors together)."""
        return self.stolen_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def calls_slowness(self) -> float:
        """The window's typical call over the model's fastest call at that batch (1.0 where not known)."""
        if not self.call_s or not self.best_call_s:
            return 1.0
        return self.call_s / self.best_call_s

    @property
    def calls_slow(self) -> bool:
        return self.calls_slowness > CALLS_SLOW

    @property
    def disturbed(self) -> bool:
        return (self.share > DISTURBED_SHARE or self.stolen_share > DISTURBED_SHARE or self.ran_slow
                or self.calls_slow)

    @property
    def only_slow(self) -> bool:
        """Disturbed while its threads had their cores: a slow or taken-away processor, or slow calls."""
        return self.disturbed and self.share <= DISTURBED_SHARE

    @property
    def retry_words(self) -> str:
        """Why this window is measured again, in the words a student reads while it waits."""
        if not self.only_slow:
            return "the server is busy"
        if self.ran_slow or self.stolen_share > DISTURBED_SHARE:
            return "the processor is running slower than usual"
        return "its calls ran slower than its fastest"   # the probe and its cores were fine: the model's calls were not

    @property
    def others_share(self) -> float:
        """This process's other threads' CPU time over the window's wall time."""
        return self.others_cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def disturbed_for(self, metered: bool) -> bool:
        """Disturbed for a timing, and for a metered window also when other threads of this process computed
        inside it (their CPU time would be counted in its energy)."""
        return self.disturbed or (metered and self.others_share > OTHERS_SHARE)

    def why(self) -> str:
        """One line for a student: how long the window's threads waited for a processor, and who ran."""
        who = []
        if self.others_cpu_s >= 0.05 * self.wall_s:
            who.append(f"other users' pages on this server ({self.others_cpu_s / self.wall_s:.0%} of a core)")
        if self.machine_other_cpu_s >= 0.05 * self.wall_s:
            who.append(f"other programs on this computer ({self.machine_other_cpu_s / self.wall_s:.0%} of a core)")
        lost = self.off_cpu_s + self.worker_wait_s
        if self.only_slow and self.stolen_share > DISTURBED_SHARE:
            return (f"the virtual machine's host took its processors away for {_ms(self.stolen_s)} of its "
                    f"{_ms(self.wall_s)} of timing")
        if self.only_slow and not self.ran_slow:
            return (f"its typical call took {self.calls_slowness:.1f}x as long as the model's fastest call at that "
                    f"batch, while its threads had their cores{' and ' + ' and '.join(who) + ' ran' if who else ''}")
        if self.only_slow:
            return (f"the processor ran {self.slowness:.1f}x slower than its best of the last "
                    f"{PROBE_MEMORY_S / 60:.0f} minutes around it (a reference calculation timed before and after"
                    f"{', while ' + ' and '.join(who) + ' ran' if who else ', with nothing else running here'})")
        if not self.disturbed and self.others_share > OTHERS_SHARE:
            return (f"other users' pages on this server computed for {_ms(self.others_cpu_s)} during its "
                    f"{_ms(self.wall_s)}: their processor time would be counted in its energy")
        return (f"its threads waited {_ms(lost)} for a processor during {_ms(self.wall_s)} of timing"
                + (f", while {' and '.join(who)} ran" if who else ""))

    def to_dict(self) -> dict:
        return {**asdict(self), "share": round(self.share, 4), "others_share": round(self.others_share, 4),
                "slowness": round(self.slowness, 3), "stolen_share": round(self.stolen_share, 4),
                "calls_slowness": round(self.calls_slowness, 3), "disturbed": self.disturbed}


# The reference probe: a small convolution like the lab's models' layers, at the measurement's thread count.
_PROBE_CALLS = 30
_probe_lock = threading.Lock()
_probe_layer: tuple | None = None
_probes: deque[tuple[float, int, float]] = deque(maxlen=4096)   # (when, threads, microseconds)


def probe_us() -> float:
    """Microseconds of the fastest of 30 calls of a small convolution (~25 us each on a 2-core VM; ~1 ms in
    all), at torch's current thread count; remembered as a reference for later windows. Runs outside any timed window."""
    global _probe_layer
    with _probe_lock:
        if _probe_layer is None:   # fixed values: no random state is touched
            _probe_layer = (torch.full((16, 8, 3, 3), 0.01), torch.full((1, 8, 28, 28), 0.5))
        weight, x = _probe_layer
    best, start = math.inf, time.perf_counter()
    with torch.inference_mode():
        for i in range(_PROBE_CALLS):
            t0 = time.perf_counter_ns()
            torch.nn.functional.conv2d(x, weight, padding=1)
            best = min(best, time.perf_counter_ns() - t0)
            # Each call hands Python's GIL back and waits to get it again: when other threads hold it, each
            # call waits their switch interval (5 ms), so a probe stops after 5 calls once 20 ms have passed.
            if i >= 4 and time.perf_counter() - start > 0.02:
                break
    us = best / 1e3
    with _probe_lock:
        _probes.append((time.monotonic(), torch.get_num_threads(), us))
    return us


def best_probe_us(threads: int, since_s: float = PROBE_MEMORY_S) -> float | None:
    """The fastest probe of the last `since_s` seconds at `threads` threads (None if none ran)."""
    now = time.monotonic()
    with _probe_lock:
        seen = [us for when, n, us in _probes if n == threads and now - when <= since_s]
    return min(seen, default=None)


def rejudged(q: Quality) -> Quality:
    """The same window judged against the fastest probe seen since (a measurement calls this at its end: a
    window timed at the start of a slow spell had only slow probes to compare with)."""
    if not q.probe_us or not q.threads:
        return q
    best = best_probe_us(q.threads)
    if best is None or (q.probe_best_us is not None and best >= q.probe_best_us):
        return q
    return replace(q, probe_best_us=best)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1e3:.1f} ms"


def _python_threads() -> set[int]:
    return {t.native_id for t in threading.enumerate() if t.native_id is not None}


def _read_tasks(skip: set[int], name: str) -> dict[int, str] | None:
    """/proc/self/task/<tid>/<name> of every thread of this process not in `skip`; None where /proc has no tasks."""
    try:
        tids = os.listdir(TASKS)
    except OSError:
        return None
    out = {}
    for tid in tids:
        if int(tid) in skip:
            continue
        try:
            with open(f"{TASKS}/{tid}/{name}") as f:
                out[int(tid)] = f.read()
        except OSError:
            continue   # a thread that ended meanwhile
    return out


def _sched(skip: set[int]) -> dict[int, tuple[int, int]] | None:
    """(run ns, run-queue wait ns) of every thread of this process not in `skip`; None without schedstat."""
    read = _read_tasks(skip, "schedstat")
    if read is None:
        return None
    out = {}
    for tid, text in read.items():
        try:
            run, wait = text.split()[:2]
            out[tid] = (int(run), int(wait))
        except ValueError:
            continue   # read empty as the thread ended
    return out


def _any_runnable(skip: set[int]) -> bool:
    """Whether a thread of this process not in `skip` is running or waiting for a core (state R in its stat, which
    follows "tid (name)", a name that may hold spaces)."""
    return any(text.rsplit(")", 1)[-1].split()[:1] == ["R"] for text in (_read_tasks(skip, "stat") or {}).values())


def _busy() -> tuple[float, float, float]:
    """(CPU seconds of this process, to the ns; CPU seconds every program on the machine has been busy, and
    seconds the host took the machine's processors away (steal, 0 outside a virtual machine), in 10 ms
    clock ticks)."""
    t = psutil.cpu_times()
    stolen = getattr(t, "steal", 0.0)
    machine = (sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0)
               - getattr(t, "guest_nice", 0.0) - stolen)
    return time.process_time(), machine, stolen


class Window:
    result: Quality | None = None


def settle_workers(max_s: float = SETTLE_MAX_S, slice_s: float = 0.01) -> float:
    """Wait (at most max_s) until this process's native worker threads have stopped running, and return the seconds
    waited. After its last parallel region an OpenMP worker of torch's spins for a while (GOMP_SPINCOUNT,
    dashboard/__init__.py: ~100 ms on the 2-vCPU VM) before it sleeps. A runtime with a thread pool of its own (ONNX
    Runtime) whose window starts meanwhile shares its cores with that spin: on the 2-vCPU VM an ORT window started
    right after a 2-thread torch call lost 27-48 % of its threads' time waiting for a core, 15 % 50 ms after it, 1 %
    100 ms after it, and the lesson's onnxruntime-fp32 stayed labelled disturbed in every quiet run. Between windows
    only: it never runs inside one."""
    python = _python_threads()
    start = time.perf_counter()
    before = _sched(python)
    if before is None:
        return 0.0
    while time.perf_counter() - start < max_s:
        time.sleep(slice_s)
        now = _sched(python)
        if now is None:
            break
        # Asleep: neither running nor waiting for a core. A spinning worker the machine's load took off its core is
        # not asleep yet, but its time in the run queue reaches schedstat only once it runs again: its state says it.
        active = sum(run + wait - sum(before.get(tid, (0, 0))) for tid, (run, wait) in now.items()) / 1e9
        if active < WORKERS_ASLEEP * slice_s and not _any_runnable(python):
            break
        before = now
    return time.perf_counter() - start


@contextmanager
def window(probe: bool = True, probed_us: float | None = None) -> Iterator[Window]:
    """Watch one timed window; `.result` (a Quality) is set when the block ends. With `probe`, the reference
    probe runs just before and just after it (outside its clock); `probed_us`: the probe before it was run already
    (by the caller, before settle_workers)."""
    seen = Window()
    before = probed_us if probed_us is not None else probe_us() if probe else None
    python = _python_threads()   # the workers are the other threads: native ones (OpenMP, ONNX Runtime)
    sched0 = _sched(python)
    try:
        process0, machine0, stolen0 = _busy()
    except (psutil.Error, OSError):
        process0 = machine0 = stolen0 = None
    cpu0, t0 = time.thread_time(), time.perf_counter()
    try:
        yield seen
    finally:
        wall, cpu = time.perf_counter() - t0, time.thread_time() - cpu0
        # Python threads started meanwhile (another session's page rerun) are not workers either.
        sched1 = _sched(python | _python_threads())
        worker_run = worker_wait = 0.0
        if sched0 is not None and sched1 is not None:
            # Per thread: a worker that started meanwhile counts from 0, one that ended drops out.
            for tid, (run, wait) in sched1.items():
                run0, wait0 = sched0.get(tid, (0, 0))
                worker_run += (run - run0) / 1e9
                worker_wait += (wait - wait0) / 1e9
        others = machine_other = stolen = 0.0
        if process0 is not None:
            try:
                process1, machine1, stolen1 = _busy()
                stolen = max(stolen1 - stolen0, 0.0)
                # The process's and threads' clocks are precise; the machine's counts 10 ms ticks (words only).
                others = max(process1 - process0 - cpu - worker_run, 0.0)
                machine_other = max((machine1 - machine0) - (process1 - process0), 0.0)
            except (psutil.Error, OSError):
                pass
        how = "thread time + schedstat" if sched1 is not None else "thread time only"
        probes, threads = None, torch.get_num_threads()
        if before is not None:
            probes = (before, probe_us())
            how += " + reference probe"
        seen.result = Quality(wall, max(wall - cpu, 0.0), max(worker_wait, 0.0), others, machine_other, how,
                              probes, best_probe_us(threads) if probes else None, threads if probes else 0,
                              stolen)


def wait_for_quiet(max_s: float = 2.0, slice_s: float = 0.1, should_stop: Callable[[], bool] | None = None,
                   probe: bool = True) -> float:
    """Wait (at most max_s) until, over one slice, everything but this thread used under QUIET_SHARE of a
    core and (with `probe`) the reference probe reads within PROBE_SLOW of its best; returns the seconds
    waited. Between timed windows only: it never runs inside one."""
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < max_s and not (should_stop and should_stop()):
            _, machine0, _ = _busy()
            me0 = time.thread_time()
            time.sleep(slice_s)
            _, machine1, _ = _busy()
            others = (machine1 - machine0) - (time.thread_time() - me0)
            if others >= QUIET_SHARE * slice_s:
                continue
            if probe:
                now, best = probe_us(), best_probe_us(torch.get_num_threads())
                if best is not None and now > PROBE_SLOW * best:
                    continue
            break
    except (psutil.Error, OSError):
        pass
    return time.perf_counter() - start


__all__ = ["CALLS_SLOW", "DISTURBED_SHARE", "OTHERS_SHARE", "PROBE_SLOW", "Quality", "best_probe_us", "probe_us",
           "rejudged", "settle_workers", "wait_for_quiet", "window"]
