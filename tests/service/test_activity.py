"""The interference a job reports is other threads' CPU time, read from the system, not guessed."""

from __future__ import annotations

import threading
import time

import torch

from dashboard.service import activity


def burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_another_threads_work_during_a_job_is_counted():
    start = time.process_time()
    with activity.watch() as seen:
        other = threading.Thread(target=burn, args=(0.4,))   # ends before the job does: still counted
        other.start()
        other.join()
        time.sleep(0.05)
    process_cpu = time.process_time() - start
    r = seen.result
    # CPU seconds, not wall time: the burn is 0.4 s of the other thread's CPU whatever the machine's load, and
    # other threads together cannot have used more than the whole process did (counted twice, they would).
    # The system counts thread CPU in clock ticks (10 ms): a tick or two may fall either side of the window.
    tick = 0.03
    assert 0.4 - tick <= r.other_cpu_s <= process_cpu + tick
    assert r.notable and r.to_dict()["notable"] is True


def torch_work(workers_cpu_s: float) -> float:
    """Matrix products on 2 torch threads until the worker threads (all but this one) have used
    `workers_cpu_s` CPU seconds, whatever the machine's load; returns the CPU seconds they used."""
    torch.set_num_threads(2)
    x = torch.randn(512, 512)
    process0, mine0 = time.process_time(), time.thread_time()

    def workers() -> float:
        return (time.process_time() - process0) - (time.thread_time() - mine0)

    while workers() < workers_cpu_s:
        x @ x
    return workers()


def test_the_jobs_own_torch_work_is_not_counted_as_interference():
    with activity.watch() as seen:
        workers = torch_work(0.3)
    # Counted as other work, the job's torch workers would add their CPU seconds to it; a stray background
    # thread of the test process is a few milliseconds.
    assert seen.result.other_cpu_s < workers / 2, (seen.result, workers)


def test_an_earlier_jobs_torch_workers_ending_meanwhile_are_not_counted():
    """Each job runs in a new thread with its own torch worker threads; when an old job's workers
    exit during a new job, their past CPU time must not turn into 'other work'."""
    earlier: list[float] = []
    old = threading.Thread(target=lambda: earlier.append(torch_work(0.3)))
    old.start()
    old.join()
    with activity.watch() as seen:
        torch_work(0.3)
    # The old workers' past CPU seconds, counted, would be at least `earlier[0]` of other work.
    assert seen.result.other_cpu_s < earlier[0] / 2, (seen.result, earlier)
