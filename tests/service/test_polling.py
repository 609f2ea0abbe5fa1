"""How often an open page redraws this session's job: a measuring job's page redraws rarely, because every
redraw costs the student's own browser CPU on the cores the measurement runs on (with a redraw every second,
one student's browser alone left single-student demos with disturbed figures; every 4 s, none)."""

from __future__ import annotations

import threading

from dashboard.service.jobs import RUNNER, Job
from dashboard.service.sessions import REGISTRY
from dashboard.service.slot import COMPUTE
from dashboard.ui import status


def running(kind: str) -> tuple[object, threading.Event]:
    s, release, started = REGISTRY.create(), threading.Event(), threading.Event()
    RUNNER.submit(s.token, Job(kind, kind), lambda job: (started.set(), release.wait(30)))
    assert started.wait(30)
    return s, release


def test_a_measuring_job_redraws_rarely_a_training_often_and_an_idle_page_never():
    idle = REGISTRY.create()
    assert status.poll_every(idle) is None
    for kind, every in (("demo", status.POLL_MEASURING_S), ("compress", status.POLL_MEASURING_S),
                        ("training", status.POLL_S)):
        s, release = running(kind)
        try:
            assert status.poll_every(s) == every, kind
        finally:
            release.set()
            s.job.wait(30)
    assert status.POLL_MEASURING_S > status.POLL_S


def test_a_waiting_job_redraws_at_its_own_pace():
    holder = threading.Event()
    with COMPUTE.hold("someone else's job"):
        s = REGISTRY.create()
        job = RUNNER.submit(s.token, Job("demo", "waiting demo"), lambda job: holder.set())
        assert status.poll_every(s) == status.POLL_QUEUED_S
    assert job.wait(30) and holder.is_set()
