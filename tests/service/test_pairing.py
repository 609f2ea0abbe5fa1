"""Measure on my phone, the service's part: a one-time pairing code, made for the session's browser files, opens
them on one page only, expires, works once, is bounded per session and per server, carries nothing of the session,
and the phone's checked result lands in the session that made the code, labelled as the paired device's."""

from __future__ import annotations

import pytest

from dashboard.lab.deploy import browser_result
from dashboard.lab.deploy.browser_models import BrowserModel, BrowserSet
from dashboard.service import device_jobs, pairing
from dashboard.service.pairing import PairingError, Pairings
from dashboard.service.sessions import Session

PHONE_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 "
            "Mobile Safari/537.36")
T0 = 1_000_000.0


def files() -> BrowserSet:
    return BrowserSet(("d1", ("fp32",)), [BrowserModel("fp32", ["fp32"], "fp32", "exported", b"onnx", [0.5, -0.5])],
                      b"\0" * 16, (1, 1, 2, 2))


def result(run_id: str) -> dict:
    return {"run_id": run_id, "user_agent": PHONE_UA, "runtime_version": "1.30.0", "hardware_concurrency": 8,
            "round_trip_ms": [9.0, 7.0, 8.0],
            "versions": [{"name": "fp32", "p50_ms": 1.2, "p95_ms": 1.4, "batches": 30, "calls_per_batch": 8}]}


@pytest.fixture
def laptop() -> Session:
    s = Session()
    s.browser = files()
    return s


def test_the_phone_result_lands_in_the_session_that_made_the_code(laptop):
    pairs = Pairings()
    p = pairs.make(laptop, laptop.browser, now=T0)
    assert pairing.normalise(p.code) == p.code and pairs.waiting_for(laptop, now=T0) == [p]
    got = pairs.claim(p.code.lower().replace("-", " "), "phone-tab", now=T0 + 60)   # as typed on a phone
    assert got.bset is laptop.browser
    run = pairs.deliver(p.code, "phone-tab", result(got.run_id), now=T0 + 90)
    assert laptop.browser.runs == [run] and run.paired and run.device_class == "phone"
    assert device_jobs.latest(laptop.browser, paired=True) is run and device_jobs.latest(laptop.browser) is None
    assert run.round_trip_ms == 8.0
    assert pairs.waiting_for(laptop, now=T0 + 90) == []


def test_a_code_works_once_on_one_page(laptop):
    pairs = Pairings()
    p = pairs.make(laptop, laptop.browser, now=T0)
    pairs.claim(p.code, "phone-tab", now=T0)
    assert pairs.claim(p.code, "phone-tab", now=T0 + 1) is p            # the same page's rerun
    with pytest.raises(PairingError, match="opened already, on another page"):
        pairs.claim(p.code, "someone-else", now=T0 + 2)
    with pytest.raises(PairingError, match="belongs to another page"):
        pairs.deliver(p.code, "someone-else", result(p.run_id), now=T0 + 2)
    pairs.deliver(p.code, "phone-tab", result(p.run_id), now=T0 + 3)
    for who in ("phone-tab", "someone-else"):
        with pytest.raises(PairingError, match="used already"):
            pairs.claim(p.code, who, now=T0 + 4)
    with pytest.raises(PairingError, match="used already"):
        pairs.deliver(p.code, "phone-tab", result(p.run_id), now=T0 + 4)
    assert len(laptop.browser.runs) == 1


def test_a_wrong_or_expired_code_opens_nothing(laptop):
    pairs = Pairings()
    p = pairs.make(laptop, laptop.browser, now=T0)
    for wrong in ("", "nonsense", "AAAA-AAAA-AAAA", None, "x" * 1000):
        with pytest.raises(PairingError, match="not one this server made"):
            pairs.claim(wrong, "phone-tab", now=T0)
    with pytest.raises(PairingError, match="expired"):
        pairs.claim(p.code, "phone-tab", now=T0 + pairing.TTL_S + 1)
    q = pairs.make(laptop, laptop.browser, now=T0)
    pairs.claim(q.code, "phone-tab", now=T0 + pairing.TTL_S - 1)         # opened in time: it may finish measuring
    with pytest.raises(PairingError, match="expired"):
        pairs.deliver(q.code, "phone-tab", result(q.run_id), now=T0 + pairing.TTL_S + pairing.RESULT_S)
    assert laptop.browser.runs == []


def test_a_bad_result_or_another_model_keeps_nothing(laptop):
    pairs = Pairings()
    p = pairs.make(laptop, laptop.browser, now=T0)
    pairs.claim(p.code, "phone-tab", now=T0)
    bad = result(p.run_id) | {"round_trip_ms": [-1.0]}
    with pytest.raises(browser_result.BadBrowserResult, match="round trip"):
        pairs.deliver(p.code, "phone-tab", bad, now=T0)
    assert laptop.browser.runs == [] and "round trip" in p.refused   # the laptop's page says why
    q = pairs.make(laptop, laptop.browser, now=T0)
    laptop.browser = files()                                              # a new model's files since
    with pytest.raises(PairingError, match="model on the laptop changed"):
        pairs.claim(q.code, "phone-tab", now=T0)


def test_codes_are_bounded_per_session_and_per_server(laptop, monkeypatch):
    pairs = Pairings()
    for _ in range(pairing.MAX_LIVE_PER_SESSION):
        pairs.make(laptop, laptop.browser, now=T0)
    with pytest.raises(PairingError, match="waiting already"):
        pairs.make(laptop, laptop.browser, now=T0)
    pairs.make(laptop, laptop.browser, now=T0 + pairing.TTL_S + 1)        # the old ones expired
    monkeypatch.setattr(pairing, "MAX_LIVE", 3)
    others = [Session() for _ in range(2)]
    pairs.make(others[0], laptop.browser, now=T0 + pairing.TTL_S + 1)
    pairs.make(others[0], laptop.browser, now=T0 + pairing.TTL_S + 1)
    with pytest.raises(PairingError, match="server has as many"):
        pairs.make(others[1], laptop.browser, now=T0 + pairing.TTL_S + 1)


def test_the_link_carries_the_code_and_nothing_of_the_session(laptop):
    p = Pairings().make(laptop, laptop.browser, now=T0)
    url = pairing.link("http://192.168.1.20:8501", p.code)
    assert url == f"http://192.168.1.20:8501/?pair={p.code}"
    assert laptop.token not in url and laptop.token not in repr(p)
    assert len(pairing.ALPHABET) ** (pairing.GROUPS * pairing.GROUP) > 2 ** 58   # not guessable among the live ones


def test_the_phone_keeps_its_own_runs_apart_from_the_laptops(laptop):
    bset = laptop.browser
    device_jobs.keep_browser_result(laptop, bset, result("p1"), "p1", paired=True)
    for i in range(device_jobs.MAX_RUNS + 1):
        laptop_result = result(f"r{i}") | {"user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0.0.0"}
        device_jobs.keep_browser_result(laptop, bset, laptop_result, f"r{i}")
    assert device_jobs.latest(bset, paired=True).run_id == "p1"
    assert device_jobs.latest(bset).run_id == f"r{device_jobs.MAX_RUNS}"
    assert sum(not r.paired for r in bset.runs) == device_jobs.MAX_RUNS
