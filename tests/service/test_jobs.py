"""The job runner: one job per session, a FIFO queue with places and estimates, Stop/Cancel that
frees the compute slot (how fast: benchmarks/stop.py), failures that end one job only."""

from __future__ import annotations

import dataclasses
import os
import threading
import time

import pytest
import torch

from dashboard.lab import settings
from dashboard.lab.training.train import TrainConfig
from dashboard.service import training_jobs
from dashboard.service.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNER, RUNNING, STOPPED, Busy, Job
from dashboard.service.sessions import REGISTRY
from dashboard.service.slot import COMPUTE


def blocker(release: threading.Event, started: threading.Event | None = None):
    """A job body that holds the slot until `release` is set (or its job is stopped)."""
    def body(job: Job) -> str:
        if started is not None:
            started.set()
        while not release.wait(0.02):
            if job.stopping:
                return "stopped"
        return "released"
    return body


class Clock:
    """The jobs' wall clock (jobs.time.time), moved only by the test: a job "runs for 5 s" when its body says
    so, whatever the machine's load."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    from types import SimpleNamespace

    from dashboard.service import jobs

    c = Clock()
    monkeypatch.setattr(jobs, "time", SimpleNamespace(time=c.time))
    return c


@pytest.fixture
def runner_done(monkeypatch):
    """A function that waits until the runner has entirely finished with a job, its ending's memory
    hand-back included (job.wait returns just before that step)."""
    from dashboard.service import jobs

    ended: dict[int, threading.Event] = {}
    original = jobs.JobRunner._run

    def run(self, job, *args):
        try:
            original(self, job, *args)
        finally:
            ended.setdefault(id(job), threading.Event()).set()

    monkeypatch.setattr(jobs.JobRunner, "_run", run)
    return lambda job: ended.setdefault(id(job), threading.Event()).wait(30)


def wait_until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def _runner_idle():
    """Each test starts with the runner and the compute slot idle, the slot with its one place: these tests count the
    jobs ahead of theirs, and what an earlier test in this process left running (which tests run before these depends
    on `pytest -n 2`'s workers) would be one more."""
    deadline = time.monotonic() + 60
    while RUNNER.queue() or COMPUTE.queue_labels():
        assert time.monotonic() < deadline, (f"left by an earlier test: jobs {RUNNER.queue()}, "
                                             f"compute slot {COMPUTE.queue_labels()}")
        time.sleep(0.05)
    assert COMPUTE.capacity == 1, f"an earlier test left the compute slot with {COMPUTE.capacity} places"


def test_one_job_per_session_and_waiters_know_their_place(clock):
    a, b, c = REGISTRY.create(), REGISTRY.create(), REGISTRY.create()
    release, started = threading.Event(), threading.Event()
    first = RUNNER.submit(a.token, Job("demo", "a's job", estimate_s=20), blocker(release, started))
    started.wait(10)
    with pytest.raises(Busy, match="already have a demo running"):
        RUNNER.submit(a.token, Job("training", "a's second"), blocker(release))
    second = RUNNER.submit(b.token, Job("training", "b's job", estimate_s=8), blocker(release))
    third = RUNNER.submit(c.token, Job("training", "c's job", estimate_s=8), blocker(release))
    wait_until(lambda: second.ahead == 1 and third.ahead == 2)
    assert (first.state, second.state, third.state) == (RUNNING, QUEUED, QUEUED)
    # c waits for what is left of a's job plus all of b's (the clock moves only when told).
    assert (RUNNER.eta_s(second), RUNNER.eta_s(third)) == (20, 20 + 8)
    clock.advance(5)
    assert (RUNNER.eta_s(second), RUNNER.eta_s(third)) == (15, 15 + 8)
    release.set()
    for job in (first, second, third):
        assert job.wait(10) and job.state == DONE and job.result == "released"
    assert RUNNER.job_of(a.token) is first and not a.busy


def test_cancel_while_queued_leaves_the_queue_at_once():
    a, b = REGISTRY.create(), REGISTRY.create()
    release, started = threading.Event(), threading.Event()
    holder = RUNNER.submit(a.token, Job("demo", "holder"), blocker(release, started))
    started.wait(10)
    ran = threading.Event()
    waiter = RUNNER.submit(b.token, Job("training", "waiter"), lambda job: ran.set())
    wait_until(lambda: waiter.ahead == 1)
    waiter.stop()
    # It ends while the holder still runs: it left the queue instead of waiting for its turn.
    assert waiter.wait(30) and holder.state == RUNNING and not release.is_set()
    assert waiter.state == CANCELLED and not ran.is_set()
    release.set()
    holder.wait(10)


def test_stopping_a_running_training_frees_the_slot_and_keeps_the_partial_model():
    # At the server's own thread count (2 here), not the one thread the other service tests use:
    # after a Stop the partial model is still evaluated and inspected inside the slot. How soon the
    # slot is free again is a timing: benchmarks/stop.py measures it.
    os.environ["TRAIN_INFER_LAB_THREADS"] = "2"
    settings.override(None)
    try:
        s = REGISTRY.create()
        job = training_jobs.start_training(s, TrainConfig(model="cnn", epochs=10, seed=1))
        wait_until(lambda: job.state == RUNNING and len(job.view.get("steps", [])) >= 1, timeout=120)
        job.stop()
        wait_until(lambda: not COMPUTE.busy, timeout=120)
    finally:
        os.environ["TRAIN_INFER_LAB_THREADS"] = "1"
        settings.override(None)
    assert job.wait(30)
    assert job.state == STOPPED and s.trained is not None and not s.trained.completed
    assert s.trained.samples_seen < 10 * 60_000   # it did not run its ten epochs
    assert s.runs[-1].outcome == "stopped by you"


def test_a_failing_job_ends_alone_and_the_next_one_runs():
    a, b = REGISTRY.create(), REGISTRY.create()

    def boom(job: Job) -> None:
        raise RuntimeError("the engine broke")

    failed = RUNNER.submit(a.token, Job("demo", "broken"), boom)
    assert failed.wait(10) and failed.state == FAILED
    # Not the user's doing: the page gets an incident id, the server log the error itself (tests/unit/test_incidents.py).
    assert failed.error.startswith("Something went wrong on the server (incident ") and "engine broke" not in failed.error
    assert not COMPUTE.busy
    ok = RUNNER.submit(b.token, Job("demo", "fine"), lambda job: 42)
    assert ok.wait(10) and ok.state == DONE and ok.result == 42


def test_the_thread_count_is_the_servers_whatever_a_request_asks():
    # One thread, not torch's default (2 here): a job that did not set it would show the default. The rest as the
    # test process has it (its session cap: by now the registry holds more sessions than a room's 120).
    settings.override(dataclasses.replace(settings.current(), threads=1))
    try:
        s = REGISTRY.create()
        outside = torch.get_num_threads()
        job = training_jobs.start_training(s, TrainConfig(model="mlp", epochs=1, train_images=300, threads=64))
        assert job.wait(120) and job.state == DONE, job.error
        assert job.view["threads"] == 1
        assert s.trained.config.threads is None
        assert torch.get_num_threads() == outside
    finally:
        settings.override(None)


def test_only_jobs_that_ran_a_while_pay_for_handing_memory_back(monkeypatch, clock, runner_done):
    from dashboard.lab import hardware
    from dashboard.service import jobs

    calls: list[str] = []
    monkeypatch.setattr(hardware, "release_memory", lambda: calls.append("released") or "")
    s = REGISTRY.create()
    quick = RUNNER.submit(s.token, Job("prediction", "a prediction"), lambda job: 1)
    assert quick.wait(10) and quick.state == DONE and runner_done(quick)
    assert calls == []
    slow = RUNNER.submit(s.token, Job("training", "a training"), lambda job: clock.advance(jobs.RELEASE_AFTER_S))
    assert slow.wait(10) and slow.state == DONE and runner_done(slow)
    assert calls == ["released"]


def test_memory_is_handed_back_by_the_last_job_of_a_busy_spell_not_while_others_wait(monkeypatch, clock,
                                                                                    runner_done):
    # Handing memory back holds Python's GIL for a few hundred ms: the next student in line would wait it out.
    from dashboard.lab import hardware
    from dashboard.service import jobs

    calls: list[str] = []
    monkeypatch.setattr(hardware, "release_memory", lambda: calls.append("released") or "")
    a, b = REGISTRY.create(), REGISTRY.create()
    release = threading.Event()
    long = jobs.RELEASE_AFTER_S
    first = RUNNER.submit(a.token, Job("training", "first"), lambda job: (clock.advance(long), release.wait(30)))
    wait_until(lambda: first.state == RUNNING)   # a free slot goes to whichever job's thread gets there first
    second = RUNNER.submit(b.token, Job("training", "second"), lambda job: clock.advance(long))
    wait_until(lambda: second.ahead == 1)
    release.set()
    assert first.wait(30) and second.wait(30) and (first.state, second.state) == (DONE, DONE)
    assert runner_done(first) and runner_done(second)
    assert calls == ["released"]   # once: by the second, whom nobody waited behind


def test_a_job_submitted_earlier_goes_first_however_long_it_prepares(clock):
    """Its place in line is its submission's: one that loads its data longer is not passed by a later one, so the order
    of service is the order eta_s counts in."""
    a, b, c = REGISTRY.create(), REGISTRY.create(), REGISTRY.create()
    release, prepared = threading.Event(), threading.Event()
    order: list[str] = []
    first = RUNNER.submit(a.token, Job("training", "a's job"), blocker(release))
    wait_until(lambda: first.state == RUNNING)
    slow = RUNNER.submit(b.token, Job("training", "b's job, loading its data", estimate_s=8),
                         lambda job: order.append("b"), prepare=lambda job: prepared.wait(30) and None)
    quick = RUNNER.submit(c.token, Job("training", "c's job", estimate_s=8), lambda job: order.append("c"))
    wait_until(lambda: quick.ahead == 1)       # b is still preparing: only a's job holds the slot
    assert RUNNER.eta_s(quick) > RUNNER.eta_s(slow)   # ... yet the estimate already counts b's before c's
    prepared.set()
    wait_until(lambda: slow.ahead == 1 and quick.ahead == 2)
    release.set()
    assert all(job.wait(10) and job.state == DONE for job in (first, slow, quick))
    assert order == ["b", "c"]
