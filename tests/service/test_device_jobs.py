"""Measure on this device, the service's part: the browser's files are made in one job in the compute slot for the
current model, and only a browser result that passes every check is kept (the newest few), with the files it ran."""

from __future__ import annotations

import pytest

from dashboard.lab.deploy import browser_result
from dashboard.lab.inputs import data
from dashboard.service import device_jobs
from dashboard.service.sessions import DataChoice, Session, state_bytes


def result(bset, run_id: str, p50: float = 0.2) -> dict:
    return {"run_id": run_id, "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0.0.0",
            "runtime_version": "1.30.0", "hardware_concurrency": 4, "versions": [{"name": m.name, "p50_ms": p50, "p95_ms": 0.3, "batches": 30,
                                                     "calls_per_batch": 40} for m in bset.models]}


@pytest.fixture
def measured(tiny_trained):
    s = Session()
    s.set_model(tiny_trained, DataChoice(data.DEFAULT_DATASET), [], None, None,
                weights=state_bytes(tiny_trained.module), digest="d1")
    kept: dict = {}
    job = device_jobs.start_browser_files(s, kept)
    assert job.kind == "device" and job.wait(120)
    return s, kept


def test_the_files_are_made_in_a_job_for_the_current_model(measured, tiny_trained):
    s, kept = measured
    bset = device_jobs.current(s, kept)
    assert bset is s.browser and [m.name for m in bset.models] == ["fp32"]   # no compressed versions measured yet
    assert bset.models[0].server_p50_ms > 0 and not bset.runs
    s.set_model(tiny_trained, DataChoice(data.DEFAULT_DATASET), [], None, None,
                weights=state_bytes(tiny_trained.module), digest="d2")
    assert device_jobs.current(s, kept) is None and s.browser is None   # another model: its files are gone


def test_only_a_checked_result_is_kept_and_only_the_newest_few(measured):
    s, kept = measured
    bset = s.browser
    with pytest.raises(browser_result.BadBrowserResult, match="must be more than 0"):
        device_jobs.keep_browser_result(s, bset, result(bset, "r0", p50=-1.0), "r0")
    assert bset.runs == []
    for i in range(device_jobs.MAX_RUNS + 2):
        device_jobs.keep_browser_result(s, bset, result(bset, f"r{i}"), f"r{i}")
    assert [r.run_id for r in bset.runs] == [f"r{i}" for i in range(2, device_jobs.MAX_RUNS + 2)]
    device_jobs.keep_browser_result(s, bset, result(bset, "r3"), "r3")   # the same run sent twice: kept once
    assert [r.run_id for r in bset.runs].count("r3") == 1
