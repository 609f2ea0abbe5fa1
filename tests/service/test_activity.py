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


def test_the_jobs_own_torch_work_is_not_counted_as_interference():
    x = torch.randn(512, 512)
    start = time.process_time()
    with activity.watch() as seen:
        end = time.perf_counter() + 0.5
        while time.perf_counter() < end:
            x @ x
    own_cpu = time.process_time() - start   # the job's torch work, on every thread it used
    r = seen.result
    assert r.window_s >= 0.5
    # Counted as other work, the torch workers would be a large part of the process's CPU; a stray
    # background thread of the test process is a few milliseconds.
    assert r.other_cpu_s < 0.1 * own_cpu, (r, own_cpu)


def test_an_earlier_jobs_torch_workers_ending_meanwhile_are_not_counted():
    """Each job runs in a new thread with its own torch worker threads; when an old job's workers
    exit during a new job, their past CPU time must not turn into 'other work'."""
    def earlier_job():
        torch.set_num_threads(2)
        x = torch.randn(512, 512)
        end = time.perf_counter() + 0.5
        while time.perf_counter() < end:
            x @ x
    old = threading.Thread(target=earlier_job)
    old.start()
    old.join()
    with activity.watch() as seen:
        x = torch.randn(512, 512)
        end = time.perf_counter() + 0.5
        while time.perf_counter() < end:
            x @ x
    assert seen.result.other_cpu_s < 0.1, seen.result
