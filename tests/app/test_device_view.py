"""Edge & cloud's Measure on this device, as the page runs it (AppTest: the browser component itself is an unknown
element here; tests/e2e/test_device_measure.py drives it in Chromium): the button makes the files in a job, then
asks the browser once; a kept browser run reads as measured on your device, every comparison built from the two
figures shown, an unsteady browser figure or a disturbed server one compared with nothing."""

from __future__ import annotations

import dataclasses

import pytest

from dashboard.lab import claims
from dashboard.lab.deploy import browser_result
from dashboard.lab.inputs import data
from dashboard.service.sessions import DataChoice
from dashboard.ui import device_view
from tests.app.drive import button, finish_job, fresh, give_model, open_page, session

PAGE = "app_pages/edge.py"
UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile "
      "Safari/537.36")


@pytest.fixture
def page(tiny_trained, quick_app_jobs):
    at = fresh()
    give_model(at, tiny_trained, DataChoice(data.DEFAULT_DATASET))
    return open_page(at, PAGE)


def test_the_button_makes_the_files_in_a_job_then_asks_the_browser_once(page):
    at = page
    button(at, "Measure on this device").click()
    at.run()
    assert session(at).job.kind == "device"
    finish_job(at)
    s = session(at)
    assert [m.name for m in s.browser.models] == ["fp32"] and s.browser.models[0].server_p50_ms > 0
    run_id = at.session_state[device_view.RUN_KEY]
    assert run_id and button(at, "Measure on this device").disabled   # once per press, while the browser measures
    at.run()
    assert at.session_state[device_view.RUN_KEY] == run_id            # a rerun asks for the same run, not another


def _run(bset, p50: float, p95: float) -> browser_result.DeviceRun:
    m = bset.models[0]
    raw = {"run_id": "r1", "user_agent": UA, "hardware_concurrency": 8, "runtime_version": "1.30.0",
           "timer_step_ms": 0.1, "runtime_from": "storage",
           "versions": [{"name": m.name, "p50_ms": p50, "p95_ms": p95, "batches": 30, "calls_per_batch": 40,
                         "logits": m.reference}]}
    return browser_result.parse(raw, "r1", bset.models)


def test_a_kept_run_reads_as_measured_on_your_device_beside_the_server(page):
    at = page
    button(at, "Measure on this device").click()
    at.run()
    finish_job(at)
    bset = session(at).browser
    fp32 = bset.models[0]
    bset.runs = [_run(bset, 4 * fp32.server_p50_ms, 4.4 * fp32.server_p50_ms)]
    with claims.recording() as said:
        at.run()
    text = " ".join(m.value for m in at.markdown)
    assert "**Measured on your device**: a phone: Chrome 140 on Android 14, 8 logical cores" in text
    row = at.table[0].value.iloc[0]
    assert row["version"] == "fp32" and row["your device vs this server (p50)"] == "4.00× slower"
    assert row["answers"].startswith("same")
    compared = [c for c in said if c.kind == "compare" and c.text == "4.00× slower"]
    assert compared and compared[0].operands == (bset.runs[0].timings[0].p50_ms, fp32.server_p50_ms)
    assert "this browser's storage" in " ".join(c.value for c in at.caption)

    # An unsteady browser figure, or a disturbed server one, is labelled and compared with nothing.
    bset.runs = [_run(bset, 4 * fp32.server_p50_ms, 8 * fp32.server_p50_ms)]
    at.run()
    row = at.table[0].value.iloc[0]
    assert row["your device: p50 / p95"].endswith(device_view.UNSTEADY)
    assert row["your device vs this server (p50)"] == device_view.NOT_STEADY
    bset.models[0] = dataclasses.replace(fp32, server_disturbed="the server was busy")
    bset.runs = [_run(bset, 4 * fp32.server_p50_ms, 4.4 * fp32.server_p50_ms)]
    at.run()
    assert at.table[0].value.iloc[0]["your device vs this server (p50)"] == "n/a: disturbed"
