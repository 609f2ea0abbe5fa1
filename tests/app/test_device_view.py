"""Edge & cloud's Measure on this device, as the page runs it (AppTest: the browser component itself is an unknown
element here; tests/e2e/test_device_measure.py drives it in Chromium): the button makes the files in a job, then
asks the browser once; a kept browser run reads as measured on your device, every comparison built from the two
figures shown, an unsteady browser figure or a disturbed server one compared with nothing. Measure on my phone: the
pairing code's link carries the code alone, the phone's page (a second AppTest: another browser) opens without a
session of its own and measures the laptop's files, the phone's result lands in the laptop's table in a column of
its own, and the code opens nothing a second time."""

from __future__ import annotations

import dataclasses

import pytest

from dashboard.lab import claims, fmt
from dashboard.lab.deploy import browser_result
from dashboard.lab.inputs import data
from dashboard.service import pairing
from dashboard.service.sessions import REGISTRY, DataChoice
from dashboard.ui import device_view
from dashboard.ui.session import KEY
from streamlit.testing.v1 import AppTest
from tests.app.drive import APP, button, finish_job, fresh, give_model, open_page, session

PAGE = "app_pages/edge.py"
UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile "
      "Safari/537.36")


@pytest.fixture
def page(tiny_trained, quick_app_jobs, windows_count_as_quiet):
    # The server's figures counted quiet: these tests build a disturbed one themselves, where they need one.
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
    assert row["version"] == "fp32" and row["this browser vs this server (p50)"] == "4.00× slower"
    assert row["answers"].startswith("same")
    compared = [c for c in said if c.kind == "compare" and c.text == "4.00× slower"]
    assert compared and compared[0].operands == (bset.runs[0].timings[0].p50_ms, fp32.server_p50_ms)
    assert "this browser's storage" in " ".join(c.value for c in at.caption)

    # An unsteady browser figure, or a disturbed server one, is labelled and compared with nothing.
    bset.runs = [_run(bset, 4 * fp32.server_p50_ms, 8 * fp32.server_p50_ms)]
    at.run()
    row = at.table[0].value.iloc[0]
    assert row["this browser: p50 / p95"].endswith(device_view.UNSTEADY)
    assert row["this browser vs this server (p50)"] == device_view.NOT_STEADY
    bset.models[0] = dataclasses.replace(fp32, server_disturbed="the server was busy")
    bset.runs = [_run(bset, 4 * fp32.server_p50_ms, 4.4 * fp32.server_p50_ms)]
    at.run()
    assert at.table[0].value.iloc[0]["this browser vs this server (p50)"] == "n/a: disturbed"


def _phone(code: str) -> AppTest:
    """The pairing link opened in another browser: a new AppTest with the code in its address, nothing else."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params[pairing.PARAM] = code
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_phone_pairs_by_a_one_time_code_and_its_figures_land_in_the_laptops_table(page):
    at = page
    assert not [b for b in at.button if b.label == "Measure on my phone"]   # no files yet: nothing to pair
    button(at, "Measure on this device").click()
    at.run()
    finish_job(at)
    s = session(at)
    button(at, "Measure on my phone").click()
    at.run()
    code = at.session_state[device_view.PAIR_KEY]
    link = next(c.value for c in at.code if pairing.PARAM in c.value)
    assert link == f"/?{pairing.PARAM}={code}"                       # the code alone: no session token, no cookie
    assert s.token not in link and s.public_id not in link

    sessions_before = len(REGISTRY.sessions())
    phone = _phone(code)
    assert KEY not in phone.session_state                              # the phone's page looks no session up ...
    assert len(REGISTRY.sessions()) == sessions_before                 # ... and makes none
    assert phone.title[0].value == "Measure on my phone" and not phone.error
    claimed = pairing.PAIRS.get(code)
    assert claimed.claimed_by is not None and claimed.bset is s.browser
    at.run()
    assert any("is measuring" in i.value for i in at.info)            # the laptop sees its phone at work

    # What the phone's component sends back (AppTest cannot run it: tests/e2e/test_device_measure.py does).
    fp32 = s.browser.models[0]
    raw = {"run_id": claimed.run_id, "user_agent": UA, "hardware_concurrency": 8, "runtime_version": "1.30.0",
           "timer_step_ms": 0.1, "runtime_from": "network", "round_trip_ms": [6.0, 5.0, 7.0],
           "versions": [{"name": "fp32", "p50_ms": 6 * fp32.server_p50_ms, "p95_ms": 6.3 * fp32.server_p50_ms,
                         "batches": 30, "calls_per_batch": 8, "logits": fp32.reference}]}
    run = pairing.PAIRS.deliver(code, claimed.claimed_by, raw)
    assert s.browser.runs == [run] and run.paired
    with claims.recording() as said:
        at.run()
    assert device_view.PAIR_KEY not in at.session_state
    text = " ".join(m.value for m in at.markdown)
    assert "**Measured on your phone** (paired): a phone: Chrome 140 on Android 14" in text
    assert "Round trip to this server, measured from your browser**: from your phone: 6 ms" in text
    assert "Your phone and this browser" in text                       # why a phone differs from a laptop
    row = at.table[0].value.iloc[0]
    phone_cell = f"{fmt.ms(6 * fp32.server_p50_ms)} / {fmt.ms(6.3 * fp32.server_p50_ms)}"   # the phone's own figures
    assert row["your phone: p50 / p95"] == phone_cell and row["this browser: p50 / p95"] == "not measured"
    assert row["your phone vs this server (p50)"] == "6.00× slower"
    assert any(c.kind == "compare" and c.operands == (run.timings[0].p50_ms, fp32.server_p50_ms) for c in said)

    again = _phone(code)                                               # the same link, opened a second time
    assert "used already" in again.error[0].value and KEY not in again.session_state


@pytest.mark.parametrize("code", ["<script>alert(1)</script>", "x" * 5000, "0123456789abcdef" * 2, "AAAA-AAAA-AAAA"])
def test_a_hostile_or_unknown_pairing_code_gets_one_line_and_no_session(code):
    """A session's token, markup or a long value in the phone's address is no code: one line, nothing looked up."""
    before = len(REGISTRY.sessions())
    phone = _phone(code)
    assert "not one this server made" in phone.error[0].value and KEY not in phone.session_state
    assert len(REGISTRY.sessions()) == before
