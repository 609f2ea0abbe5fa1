"""A timed window knows how quiet it was; a disturbed one is measured again, and a figure that stays
disturbed says so and is taken from its quiet windows when a majority of them was quiet.

No test here asserts a time: the disturbances are made for real (a sleep, a thread holding Python's
GIL), so they disturb on a quiet machine and on a busy one alike."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import replace

import pytest
import torch

from dashboard.lab.measure import bench, quiet
from dashboard.lab.compression.compress import make_variants


def test_a_window_whose_thread_sleeps_is_disturbed_and_says_how_long_it_waited():
    with quiet.window() as w:
        time.sleep(0.05)   # off the CPU for the whole window, as a thread waiting for a core or the GIL is
    q = w.result
    assert q.wall_s >= 0.05 and q.off_cpu_s >= 0.9 * q.wall_s
    assert q.share > quiet.DISTURBED_SHARE and q.disturbed
    assert "waited" in q.why() and "ms" in q.why()
    assert q.to_dict()["disturbed"] is True


def test_windows_disturbed_by_another_thread_are_measured_again_and_the_figure_says_so(tiny_trained, tiny_digits,
                                                                                       gil_held_alongside):
    variants = make_variants(tiny_trained, tiny_digits, ["fp32"])
    # A budget for one re-measurement of every batch-1 window, though its batch windows are re-measured too (their
    # calls are slowed as well) and spend from the same budget in between.
    settings = bench.BenchSettings.quick(threads=1, rounds=3, retries=1, quiet_wait_s=0.01, retry_budget_s=6.0)
    with gil_held_alongside():
        (r,) = bench.measure(variants, tiny_digits, settings)
    assert "batch1" in r.disturbed
    q = r.quality["batch1"]
    assert q["windows"] == 3 and q["clean"] < 2 and q["retries"] >= 2   # each disturbed window re-measured
    assert "stayed disturbed after" in r.disturbed["batch1"] and "waited" in r.disturbed["batch1"]
    assert not r.clean and r.is_disturbed("batch1")
    assert r.is_disturbed("speedup_batch1") is False   # fp32 is the baseline: its speed-up is 1 by definition
    assert r.latency_ms_batch1_p50 > 0   # still shown, labelled


def _q(share: float) -> quiet.Quality:
    wall = 0.1
    return quiet.Quality(wall, share * wall, 0.0, 0.0, 0.0, "thread time + schedstat")


def test_a_figure_is_the_median_of_its_quiet_rounds_when_most_were_quiet():
    qualities = [_q(0.01), _q(0.9), _q(0.02)]
    assert bench._quiet_rounds(qualities) == [0, 2]
    assert bench._disturbance(qualities, 3, bench.BenchSettings()) is None


def test_a_figure_most_of_whose_rounds_stayed_disturbed_uses_them_all_and_says_why():
    qualities = [_q(0.9), _q(0.01), _q(0.6)]
    assert bench._quiet_rounds(qualities) == [0, 1, 2]
    why = bench._disturbance(qualities, 6, bench.BenchSettings(retries=3))
    assert why.startswith("2 of its 3 timed windows stayed disturbed after 6 re-measurements (up to 3 each)")
    assert "waited 90 ms" in why   # the worst window's own account


def test_speed_ups_built_on_a_disturbed_baseline_are_marked(tiny_trained, tiny_digits):
    variants = make_variants(tiny_trained, tiny_digits, ["fp32", "int8-dynamic"])
    settings = bench.BenchSettings.quick(threads=1, rounds=1, retries=0)
    fp32, other = bench.measure(variants, tiny_digits, settings)
    assert other.speedup_batch1 == pytest.approx(fp32.latency_ms_batch1_p50 / other.latency_ms_batch1_p50)
    assert other.speedup_batch256 == pytest.approx(other.throughput_batch256_ips / fp32.throughput_batch256_ips)
    for regime, key in (("batch1", "speedup_batch1"), ("batch", "speedup_batch")):
        assert other.is_disturbed(key) == (fp32.is_disturbed(regime) or other.is_disturbed(regime))


def test_a_metered_window_is_disturbed_when_other_threads_of_the_process_computed_in_it():
    # Its timing may be fine (the other thread ran on the other core), but CodeCarbon meters the whole
    # process: that thread's CPU time would be counted in the window's energy.
    q = quiet.Quality(0.1, 0.0, 0.0, 0.05, 0.0, "thread time + schedstat")
    assert not q.disturbed and q.others_share == pytest.approx(0.5)
    assert not q.disturbed_for(metered=False) and q.disturbed_for(metered=True)
    assert "counted in its energy" in q.why()
    assert bench._quiet_rounds([q, q, _q(0.0)], metered=True) == [0, 1, 2]
    assert bench._quiet_rounds([q, q, _q(0.0)], metered=False) == [0, 1, 2]
    assert bench._disturbance([q, q, _q(0.0)], 0, bench.BenchSettings(), metered=True).startswith("2 of its 3")


# A processor that runs slow while every thread has a core (a VM's host lending the core to another guest,
# a hot laptop) cannot be made on demand here; what can be made is a reference that says how fast this
# processor was: a recent probe far faster than any real one, so every real window reads slow against it.
@pytest.fixture
def processor_was_much_faster(monkeypatch):
    threads = torch.get_num_threads()
    monkeypatch.setattr(quiet, "_probes", deque([(time.monotonic(), t, 1.0) for t in range(1, threads + 2)]))
    # Only the probe may disturb here: on a loaded machine the threads' waits would disturb these windows too,
    # and a window's account names what disturbed it first.
    monkeypatch.setattr(quiet, "DISTURBED_SHARE", math.inf)
    monkeypatch.setattr(quiet, "OTHERS_SHARE", math.inf)
    monkeypatch.setattr(quiet, "CALLS_SLOW", math.inf)


def test_a_window_around_which_the_reference_probe_reads_slow_is_disturbed(processor_was_much_faster):
    with quiet.window() as w:
        sum(range(10_000))
    q = w.result
    assert q.probe_us is not None and q.probe_best_us == 1.0 and q.slowness > quiet.PROBE_SLOW
    assert q.share <= quiet.DISTURBED_SHARE and q.disturbed and q.ran_slow
    assert "slower than its best" in q.why() and q.to_dict()["slowness"] > quiet.PROBE_SLOW


def test_a_window_is_probed_before_and_after_against_the_fastest_recent_probe():
    with quiet.window() as w:
        sum(range(10_000))
    q = w.result
    assert q.probe_us is not None and all(us > 0 for us in q.probe_us) and "reference probe" in q.how
    assert q.threads == torch.get_num_threads()
    assert q.probe_best_us == quiet.best_probe_us(q.threads) <= min(q.probe_us)
    with quiet.window(probe=False) as w:
        sum(range(10_000))
    assert w.result.probe_us is None and w.result.slowness == 1.0 and not w.result.ran_slow


def test_a_window_is_judged_again_against_a_faster_probe_seen_after_it(monkeypatch):
    threads = torch.get_num_threads()
    # The made-up fast probe stays in this test's copy: left in the module's memory for its 2 minutes, it would
    # make every later window in this process read slow.
    monkeypatch.setattr(quiet, "_probes", deque(quiet._probes, maxlen=quiet._probes.maxlen))
    q = quiet.Quality(0.1, 0.0, 0.0, 0.0, 0.0, "thread time + schedstat + reference probe",
                      probe_us=(50.0, 52.0), probe_best_us=50.0, threads=threads)
    assert not q.disturbed   # at its time it had only slow probes to compare with
    quiet._probes.append((time.monotonic(), threads, 0.001))   # the processor's speed once the spell ended
    later = quiet.rejudged(q)
    assert later.probe_best_us == 0.001 and later.disturbed and later.ran_slow
    assert quiet.rejudged(_q(0.0)) == _q(0.0)   # a window without probes is left as it was


def test_a_measurement_on_a_slow_processor_is_measured_again_and_labelled(tiny_trained, tiny_digits,
                                                                       processor_was_much_faster):
    variants = make_variants(tiny_trained, tiny_digits, ["fp32"])
    said = []
    settings = bench.BenchSettings.quick(threads=1, rounds=3, retries=1, quiet_wait_s=0.01)
    (r,) = bench.measure(variants, tiny_digits, settings, on_progress=lambda f, m: said.append(m))
    assert "batch1" in r.disturbed and "batch" in r.disturbed
    assert "slower than its best" in r.disturbed["batch1"]
    assert r.quality["batch1"]["retries"] >= 1 and min(r.quality["batch1"]["slowness"]) > quiet.PROBE_SLOW
    assert any("running slower than usual" in m for m in said)


def test_a_window_whose_calls_took_much_longer_than_the_models_fastest_is_disturbed():
    # Its threads had their cores and the probe read normal: only its own calls say that time went somewhere.
    def calls(call_s: float) -> quiet.Quality:
        return replace(_q(0.0), call_s=call_s, best_call_s=0.001)

    assert not calls(0.0012).disturbed and calls(0.0012).calls_slowness == pytest.approx(1.2)
    slow = calls(0.0031)
    assert slow.calls_slow and slow.disturbed and slow.only_slow
    assert ("its typical call took 3.1x as long as the model's fastest call at that batch, while its threads had "
            "their cores") in slow.why()
    assert slow.to_dict()["calls_slowness"] == pytest.approx(3.1)
    assert not _q(0.0).calls_slow   # a window without calls to judge (a probe, a training step) is not judged
    # Judged again at the end against the fastest call of the whole measurement, as the probe is.
    assert bench._against(calls(0.0012), 0.0005).disturbed


def test_a_window_in_which_the_host_took_the_processors_away_is_disturbed():
    # Steal: the virtual machine's host ran another guest. The guest's threads count as running meanwhile.
    q = quiet.Quality(0.1, 0.0, 0.0, 0.0, 0.0, "thread time + schedstat", stolen_s=0.04)
    assert q.stolen_share == pytest.approx(0.4) and q.disturbed and q.only_slow
    assert "host took its processors away for 40 ms of its 100 ms" in q.why()
    assert not quiet.Quality(0.1, 0.0, 0.0, 0.0, 0.0, "", stolen_s=0.01).disturbed


class _SlowOnTwoCallsOfThree(torch.nn.Module):
    """Real extra work (not a sleep) on two calls of every three: a window's typical call is then several times
    its fastest, as a model's is when something takes its time without taking its cores."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.calls = inner, 0

    def forward(self, x):
        self.calls += 1
        for _ in range(1 if self.calls % 3 == 0 else 8):
            out = self.inner(x)
        return out


def test_a_model_whose_calls_slow_down_is_measured_again_and_labelled(tiny_trained, tiny_digits, monkeypatch):
    for name in ("DISTURBED_SHARE", "OTHERS_SHARE", "PROBE_SLOW"):   # only the calls may disturb here
        monkeypatch.setattr(quiet, name, math.inf)
    (fp32,) = make_variants(tiny_trained, tiny_digits, ["fp32"])
    fp32.module = _SlowOnTwoCallsOfThree(fp32.module)
    said = []
    settings = bench.BenchSettings.quick(threads=1, rounds=3, retries=1, quiet_wait_s=0.01)
    (r,) = bench.measure([fp32], tiny_digits, settings, on_progress=lambda f, m: said.append(m))
    for regime in ("batch1", "batch"):
        assert regime in r.disturbed and "as long as the model's fastest call" in r.disturbed[regime]
        assert r.quality[regime]["retries"] >= 1
        assert min(r.quality[regime]["calls_slowness"]) > quiet.CALLS_SLOW
    # The probe and the cores were fine: the student reads that the calls were slow, not the processor.
    assert any("its calls ran slower than its fastest: waiting for a quieter moment" in m for m in said)
    assert not any("processor" in m for m in said)


def _native_threads_ran_s() -> float:
    """CPU seconds the process's native threads (torch's OpenMP workers, ONNX Runtime's pool) have run so far."""
    import os
    import threading
    python = {t.native_id for t in threading.enumerate()}
    total = 0
    for tid in os.listdir("/proc/self/task"):
        if int(tid) not in python:
            try:
                with open(f"/proc/self/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except OSError:
                continue
    return total / 1e9


def test_after_settle_workers_torchs_openmp_workers_have_stopped_spinning():
    # After a parallel region torch's OpenMP worker spins (GOMP_SPINCOUNT) before it sleeps: a window of a runtime
    # with threads of its own (ONNX Runtime) started meanwhile shares its cores with that spin.
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        x, w = torch.randn(64, 16, 28, 28), torch.randn(32, 16, 3, 3)
        for _ in range(5):
            torch.nn.functional.conv2d(x, w)
        quiet.settle_workers(max_s=30.0)   # only so a broken run ends: no assertion on how long it took
        ran = _native_threads_ran_s()
        time.sleep(0.05)
        spun = _native_threads_ran_s() - ran
    finally:
        torch.set_num_threads(before)
    assert spun < 0.005, f"torch's workers ran {spun * 1e3:.1f} ms of the 50 ms after settle_workers returned"


def test_a_runtime_with_threads_of_its_own_is_timed_once_torchs_workers_have_settled(tiny_trained, tiny_digits,
                                                                                     monkeypatch):
    from dashboard.lab import energy

    variants = make_variants(tiny_trained, tiny_digits, ["fp32", "onnxruntime-fp32"])
    assert [getattr(v.module, "own_thread_pool", False) for v in variants] == [False, True]
    events = []
    real_settle, real_window, real_meter, real_probe = quiet.settle_workers, quiet.window, energy.meter, quiet.probe_us
    monkeypatch.setattr(quiet, "settle_workers", lambda *a, **k: events.append("settle") or real_settle(*a, **k))
    monkeypatch.setattr(quiet, "probe_us", lambda *a, **k: events.append("probe") or real_probe(*a, **k))
    monkeypatch.setattr(energy, "meter", lambda *a, **k: events.append("meter") or real_meter(*a, **k))

    def window(*a, **k):
        events.append("window, probed" if k.get("probed_us") is not None else "window")
        return real_window(*a, **k)
    monkeypatch.setattr(quiet, "window", window)
    settings = bench.BenchSettings.quick(threads=2, rounds=2, retries=0, energy=True, energy_mode="rounds")
    bench.measure(variants, tiny_digits, settings)
    # Each of ORT's 4 windows (2 rounds, batch 1 and batch 256): probed, then the spin waited out, then metered and
    # timed; torch's fp32 windows as before (the window probes itself, inside the meter).
    settled = [events[i - 1:i + 3] for i, e in enumerate(events) if e == "settle"]
    assert settled == [["probe", "settle", "meter", "window, probed"]] * 4
    assert events.count("window") == 4 and events.count("window, probed") == 4


def test_a_measurement_whose_every_call_ran_slower_than_its_layout_choice_timed_is_labelled(tiny_trained,
                                                                                          tiny_digits, monkeypatch):
    # Every call slow alike: held only against each other they look steady. Held against the fastest call its layout
    # choice timed in this process (same module, layout, batch and threads), they are not the model's speed.
    for name in ("DISTURBED_SHARE", "OTHERS_SHARE", "PROBE_SLOW"):   # only the calls may disturb here
        monkeypatch.setattr(quiet, name, math.inf)
    (fp32,) = make_variants(tiny_trained, tiny_digits, ["fp32"])
    fp32.details = {**fp32.details, "layout_ips_batch256": {fp32.layout: 1e9}, "layout_threads": 1}
    # Timed at another thread count or batch: not the same speed to hold the calls to.
    assert bench.layout_call_s(fp32, 256, 1) == 256 / 1e9
    assert bench.layout_call_s(fp32, 256, 2) == math.inf and bench.layout_call_s(fp32, 64, 1) == math.inf
    settings = bench.BenchSettings.quick(threads=1, rounds=2, retries=1, quiet_wait_s=0.01)
    (r,) = bench.measure([fp32], tiny_digits, settings)
    assert "batch" in r.disturbed and "as long as the model's fastest call" in r.disturbed["batch"]
    assert min(r.quality["batch"]["calls_slowness"]) > quiet.CALLS_SLOW


def test_a_running_thread_reads_as_runnable_and_a_sleeping_one_does_not():
    # settle_workers' second test (state R): a spinning worker the machine's load took off its core has no run-queue
    # wait in schedstat until it runs again. This thread, reading its own state, is running; one asleep on an event
    # is not.
    import os
    import threading

    asleep, ready = threading.Event(), threading.Event()
    sleeper = threading.Thread(target=lambda: (ready.set(), asleep.wait(30)))
    sleeper.start()
    try:
        ready.wait(30)
        time.sleep(0.05)   # into its wait
        every = {int(tid) for tid in os.listdir("/proc/self/task")}
        assert quiet._any_runnable(every - {threading.get_native_id()}) is True
        assert quiet._any_runnable(every - {sleeper.native_id}) is False
    finally:
        asleep.set()
        sleeper.join()
