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
    with activity.watch() as seen:
        other = threading.Thread(target=burn, args=(0.4,))   # ends before the job does: still counted
        other.start()
        other.join()
        time.sleep(0.05)
    r = seen.result
    assert 0.3 < r.other_cpu_s < 0.6
    assert r.notable and r.to_dict()["notable"] is True


def test_the_jobs_own_torch_work_is_not_counted_as_interference():
    x = torch.randn(512, 512)
    with activity.watch() as seen:
        end = time.perf_counter() + 0.5
        while time.perf_counter() < end:
            x @ x
    r = seen.result
    assert r.window_s >= 0.5
    assert r.other_cpu_s < 0.05, r


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
