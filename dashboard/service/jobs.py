"""Heavy work as server-side jobs: one thread per job, the page only polls it.

    job = RUNNER.submit(session, Job("training", "training cnn on digits", estimate_s=12), body)
    job.progress, job.message, job.state, job.ahead, RUNNER.eta_s(job)   # what the page draws
    job.stop()                                                          # Stop / Cancel

A job lives on the server, not in the script run that started it: clicking elsewhere,
leaving the page, a second click or a refresh neither pauses nor breaks it. It takes the
process-wide compute slot (service.slot.COMPUTE) once, when its heavy part starts, after an
optional `prepare` step that needs no slot (loading or downloading a dataset). Its place in line is
taken when it is submitted: a job submitted later never goes before it, however long it prepares (the
wait estimate, `eta_s`, counts the jobs ahead in that order too). While it waits
it knows its place in line and an estimated wait. Its body runs in bounded pieces and checks
`job.stopping` between them, so a Stop releases the slot within about a second. Each session
has at most one job queued or running. The thread count is the server's: every job sets it
when its turn comes, whatever ran before.

Where the heavy part runs is the compute backend's business (service.backend): in this thread by default,
or on a Ray cluster's measuring node, whose jobs wait in that backend's own slot (`job.slot`). A body
reports through the Job itself (`report`, `show`, `add`, `keep`, `stopping`, `on_stop`): the same calls
reach a Job from a Ray worker (service.ray_backend).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dashboard.lab import hardware, settings
from dashboard.service.slot import COMPUTE, Cancelled, Slot, Waiting

from dashboard.service import activity

log = logging.getLogger("train_infer_lab.jobs")

QUEUED, RUNNING, DONE, STOPPED, CANCELLED, FAILED = "queued", "running", "done", "stopped", "cancelled", "failed"
ACTIVE = (QUEUED, RUNNING)
# A job that ran this long hands freed memory back to the system when it ends (hardware.release_memory:
# a full gc.collect, ~0.1 s in a server holding many sessions). A prediction on Try it takes milliseconds
# and frees kilobytes: collecting after each one would cost more than it ran.
RELEASE_AFTER_S = 1.0


class Busy(RuntimeError):
    """The job cannot be taken now, its message says why: the session already has a job queued or running (one
    at a time per session), or the compute cluster cannot take jobs (service.ray_backend.ClusterUnavailable)."""


@dataclass(eq=False)
class Job:
    kind: str                     # "training", "compress", "demo", "sensitivity"
    label: str                    # what the queue line shows: "demo of Ada's session"
    estimate_s: float = 10.0      # expected run time once it has the slot (for the wait estimate)
    owner: str = ""               # the session's token
    state: str = QUEUED
    progress: float = 0.0         # 0..1 of the heavy part
    message: str = "waiting for its turn"
    ahead: int = 0                # jobs before it in the queue while queued
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None      # a failed job's message for the user
    stop_reason: str = ""         # who stopped it: "you", "your tab closed", ...
    interference: activity.Interference | None = None  # other server work while it ran
    following: Any = None         # the Job of another session whose identical result it waits for
    view: dict[str, Any] = field(default_factory=dict)   # kind-specific live data for the page
    result: Any = None
    slot: Slot | None = None      # the slot it waits in (service.backend); None: the server's COMPUTE
    ticket: int | None = None     # its place in that slot's line, taken when it was submitted (Slot.ticket)
    where: str = ""               # "" in this process, else where its heavy part ran ("Ray node 1a2b3c4d")
    hardware: dict | None = None  # that node's hardware as its worker reported it (HardwareInfo.to_dict())
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _on_stop: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def active(self) -> bool:
        """Queued, running, or still ending: a job is over only once its `finish` has put what it
        made (and its notice) into the session, so a page that sees it over finds them there."""
        return self.state in ACTIVE or not self._done.is_set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self, reason: str = "you") -> None:
        """Stop at the next piece boundary, keeping what is done (queued: leave the queue)."""
        if not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()
            for tell in self._on_stop:
                tell()
            (self.slot or COMPUTE).wake()

    def on_stop(self, tell: Callable[[], None]) -> None:
        """Call `tell()` the moment the job is stopped (a training stops at its next step, not its next piece)."""
        self._on_stop.append(tell)
        if self._stop.is_set():
            tell()

    def report(self, fraction: float, message: str) -> None:
        """Progress of the heavy part, from inside the body (0..1, what it is doing)."""
        self.progress = min(max(float(fraction), 0.0), 1.0)
        self.message = message

    def show(self, **values: Any) -> None:
        """Set live data the page draws (job.view), from inside the body."""
        self.view.update(values)

    def add(self, key: str, item: Any) -> None:
        """Append to a live list of job.view (a step, an epoch), from inside the body."""
        self.view.setdefault(key, []).append(item)

    def keep(self, value: Any) -> None:
        """What the job has made so far, kept if it is stopped or fails later (the demo's trained model)."""
        self.result = value

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended (tests, the CLI)."""
        return self._done.wait(timeout)

    @property
    def elapsed_s(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.time()) - self.started_at

    def remaining_s(self) -> float:
        """Expected seconds until it ends: its estimate, or what is left of it once running."""
        if self.following is not None:
            return 0.0  # it takes no turn of its own
        if self.state == QUEUED:
            return self.estimate_s
        if self.state != RUNNING:
            return 0.0
        by_progress = self.elapsed_s / self.progress - self.elapsed_s if self.progress > 0.05 else None
        by_estimate = max(self.estimate_s - self.elapsed_s, 0.1 * self.estimate_s)
        return by_progress if by_progress is not None else by_estimate


# prepare(job) -> False when no compute is needed any more (e.g. an identical result arrived)
Prepare = Callable[[Job], bool | None]
Body = Callable[[Job], Any]
Finish = Callable[[Job], None]


class JobRunner:
    """Starts each job in its own thread, keeps them in queue order, one per session."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: list[Job] = []     # active jobs, in submission order
        self._by_owner: dict[str, Job] = {}

    def submit(self, owner: str, job: Job, body: Body, *, prepare: Prepare | None = None,
               finish: Finish | None = None) -> Job:
        """Queue `job` for session `owner`; raises Busy if that session already has one, or if the server
        already holds settings' max_queued_jobs (running and waiting, every session together)."""
        cap = getattr(settings.current(), "max_queued_jobs", None)
        with self._lock:
            current = self._by_owner.get(owner)
            if current is not None and current.active:
                raise Busy(f"You already have a {current.kind} {current.state}: one job per session at a time. "
                           "Stop it or let it finish first.")
            if cap is not None and len(self._jobs) >= cap:
                raise Busy(f"The server's queue is full ({cap} jobs running or waiting, its limit): try again in "
                           "a few minutes, when some have finished.")
            job.owner = owner
            job.ticket = (job.slot or COMPUTE).ticket()   # its place in line is its submission's, not its thread's
            self._jobs.append(job)
            self._by_owner[owner] = job
        thread = threading.Thread(target=self._run, args=(job, body, prepare, finish),
                                  name=f"job {job.kind}", daemon=True)
        thread.start()
        return job

    def job_of(self, owner: str) -> Job | None:
        """The session's latest job (active or ended)."""
        with self._lock:
            return self._by_owner.get(owner)

    def forget(self, owner: str) -> None:
        """Drop a forgotten session's last job (and the results and curves it still holds)."""
        with self._lock:
            job = self._by_owner.get(owner)
            if job is not None and not job.active:
                del self._by_owner[owner]

    def queue(self) -> list[Job]:
        """Active jobs, the running one first, then the waiting ones in order."""
        with self._lock:
            jobs = list(self._jobs)
        return sorted(jobs, key=lambda j: (j.state != RUNNING, j.created_at))

    def eta_s(self, job: Job) -> float:
        """Estimated seconds until `job` starts (0 once running): the work ahead of it in its slot, shared
        among that slot's places."""
        if job.state != QUEUED:
            return 0.0
        slot = job.slot or COMPUTE
        ahead = [j for j in self.queue() if j is not job and j.created_at <= job.created_at
                 and (j.slot or COMPUTE) is slot]
        return sum(j.remaining_s() for j in ahead) / slot.capacity

    def _run(self, job: Job, body: Body, prepare: Prepare | None, finish: Finish | None) -> None:
        last_of_spell = False   # a job that never held the slot hands nothing back
        # Until its turn, one thread and no OpenMP team of its own (lab.hardware.one_thread_here): a job loading
        # its data while it waits must not slow the measurement that holds the slot.
        hardware.one_thread_here()
        try:
            if prepare is not None and not job.stopping:
                needed = prepare(job)
                if needed is False:
                    job.state = DONE
                    return
            if job.stopping:
                raise Cancelled()

            def on_wait(w: Waiting) -> None:
                job.ahead = w.ahead
                job.message = f"waiting for its turn ({w.ahead} ahead)"

            slot = job.slot or COMPUTE
            with slot.hold(job.label, on_wait=on_wait, cancelled=lambda: job.stopping, poll_s=0.25,
                           ticket=job.ticket):
                try:
                    job.state, job.started_at, job.ahead = RUNNING, time.time(), 0
                    job.message = "starting"
                    hardware.set_threads(settings.current().threads)  # the server's, whatever ran before
                    with activity.watch() as seen:
                        job.result = body(job)
                    # This server's other work counts only where the job ran here (a Ray worker's own timed
                    # windows say how quiet its node was: lab.measure.quiet).
                    job.interference = None if job.where else seen.result
                finally:   # read while still holding the slot: the queue's head is this job
                    last_of_spell = len(slot.queue_labels()) <= 1
            job.state = STOPPED if job.stopping else DONE
        except Cancelled:
            job.state = CANCELLED
        except Exception as exc:  # any failure ends this job only; the session keeps what it had
            job.state, job.error = FAILED, user_message(exc, f"job {job.label}")
        finally:
            job.finished_at = time.time()
            if job.state == DONE:
                job.progress = 1.0
            try:
                if finish is not None:
                    finish(job)
            except Exception:
                log.error("finishing job %s failed:\n%s", job.label, traceback.format_exc())
            with self._lock:
                if job in self._jobs:
                    self._jobs.remove(job)
            job._done.set()
            # Not while others wait: the collection holds the GIL for a few hundred ms, which the next job
            # in line would wait through. The last job of a busy spell hands the memory back; whether
            # others waited is read as the slot is handed on, not after (by then the next may be done too).
            if last_of_spell and job.elapsed_s >= RELEASE_AFTER_S:
                hardware.release_memory()


def user_message(exc: BaseException, where: str = "a job") -> str:
    """One line for the page: the message of errors a user can cause; anything else is an incident, its
    traceback in the server log and only its id on the page (service.incidents)."""
    from dashboard.service import incidents

    line = incidents.student_line(exc, where)
    if incidents.is_user_error(exc):
        log.warning("%s failed: %s", where, line)
    return line


RUNNER = JobRunner()
