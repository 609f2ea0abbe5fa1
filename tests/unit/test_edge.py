"""Device profiles: the limits are really applied, memory is measured, the budgets decide; cloud vs edge."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from dashboard.lab import energy
from dashboard.lab.deploy import cloud_edge, edge
from dashboard.lab.serving import runtimes
from dashboard.lab.compression.compress import CompressSettings, make_variants
from dashboard.lab.deploy.edge import KiB, DeviceProfile, Fit
from dashboard.lab.training.variant import Variant

# What a profile makes of its figures, on a machine whose windows all count as quiet (a disturbed time decides no
# fit: test_a_disturbed_time_decides_no_fit_and_gives_no_headroom sets one itself).
pytestmark = pytest.mark.usefixtures("windows_count_as_quiet")
QUICK = edge.PROFILE_BENCH.__class__(rounds=1, batch1_min_calls=5, batch1_min_seconds=0.01, batch_min_seconds=0.02,
                                     warmup_seconds=0.01, energy=True, energy_mode="rounds")


class Recording(nn.Module):
    """A real linear model that notes the thread count and batch of every call."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
        self.calls: list[tuple[int, int]] = []

    def forward(self, x):
        self.calls.append((torch.get_num_threads(), x.shape[0]))
        return self.net(x)


def profile(**kw) -> DeviceProfile:
    base = DeviceProfile("test", "Test device", threads=1, batch=1, memory_budget=None, latency_budget_ms=1000.0)
    return dataclasses.replace(base, **kw)


@pytest.fixture(scope="module")
def versions(tiny_trained, tiny_digits):
    return make_variants(tiny_trained, tiny_digits, ["fp32", "int8-static", "onnxruntime-fp32"],
                         CompressSettings(try_channels_last=False, calibration_images=64))


@pytest.mark.parametrize("threads,batch", [(1, 4), (2, 1)])
def test_threads_and_batch_of_the_profile_are_the_ones_the_calls_ran_with(tiny_digits, threads, batch):
    rec = Recording().eval()
    run = edge.run_profile([Variant("fp32", rec, "recording")], tiny_digits, profile(threads=threads, batch=batch),
                           settings=QUICK)
    timed = rec.calls[-10:]
    assert {t for t, _ in rec.calls} == {threads}
    assert {b for _, b in timed} <= {1, batch} and batch in {b for _, b in timed}
    f = run.fit("fp32")
    assert (f.threads, f.batch) == (threads, batch)
    assert f.latency_what == ("p95 of single calls" if batch == 1 else f"one batch of {batch} (mean)")


def test_onnx_runtime_versions_get_a_session_with_the_profiles_threads(versions, tiny_digits):
    ort = next(v for v in versions if v.name == "onnxruntime-fp32")
    one = runtimes.with_threads(ort, 1)
    two = runtimes.with_threads(ort, 2)
    assert one.module.session.get_session_options().intra_op_num_threads == 1
    assert two.module.session.get_session_options().intra_op_num_threads == 2
    assert "2 ORT threads" in two.note and two.details["session"]["intra_op_num_threads"] == 2
    x = tiny_digits.test_tensors(8)[0][:8]
    assert torch.allclose(one(x), two(x), atol=1e-5)
    run = edge.run_profile([ort], tiny_digits, profile(threads=1), settings=QUICK)
    assert run.fit("onnxruntime-fp32").threads == 1


def test_activation_peak_is_the_largest_input_plus_output_of_one_layer():
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)).eval()
    peak, how = edge.activation_peak(Variant("fp32", model, "a"), torch.zeros(2, 784))
    assert peak == 2 * (784 + 256) * 4       # the first Linear: its input and output, fp32
    assert "hooks" in how


def test_int8_versions_hold_a_quarter_of_the_activation_bytes(versions, tiny_digits):
    x = tiny_digits.test_tensors(1)[0][:1]
    by_name = {v.name: v for v in versions}
    fp32, _ = edge.activation_peak(by_name["fp32"], x)
    int8, _ = edge.activation_peak(by_name["int8-static"], x)
    ort, how = edge.activation_peak(by_name["onnxruntime-fp32"], x)
    assert int8 < fp32 / 2
    assert ort == fp32 and "exported from" in how


def test_an_int8_only_device_leaves_float_versions_out_and_budgets_decide(versions, tiny_digits):
    run = edge.run_profile(versions, tiny_digits, profile(int8_only=True, memory_budget=64 * KiB), settings=QUICK)
    assert not run.fit("fp32").runnable and "integers only" in run.fit("fp32").why_not
    assert not run.fit("onnxruntime-fp32").runnable
    q = run.fit("int8-static")
    assert q.runnable and q.weights_bytes > 0 and q.activation_bytes > 0
    assert q.fits_memory is (q.memory_bytes <= 64 * KiB)
    tight = edge.run_profile(versions, tiny_digits, profile(latency_budget_ms=1e-6), settings=QUICK)
    assert all(f.fits_latency is False and not f.fits for f in tight.fits)
    assert tight.best_fit is None and tight.fitting == []
    assert all(f.misses == ["over the latency budget"] for f in tight.fits)
    roomy = edge.run_profile(versions, tiny_digits, profile(latency_budget_ms=1e6), settings=QUICK)
    assert len(roomy.fitting) == len(versions) and roomy.best_fit.accuracy == max(f.accuracy for f in roomy.fits)
    assert run.to_dict()["fits"][0]["name"] == "fp32"


def test_profiles_refuse_limits_the_server_cannot_give():
    with pytest.raises(ValueError, match="threads must be between 1 and 2"):
        profile(threads=4).check(2, 512)
    with pytest.raises(ValueError, match="images per call"):
        profile(batch=1024).check(2, 512)
    defaults = edge.default_profiles(2)
    assert defaults["cloud"].threads == 2 and defaults["microcontroller"].int8_only
    assert defaults["phone"].latency_budget_ms == pytest.approx(1000 / 30)


def _fit(name, latency_ms, ms_per_image, joules) -> Fit:
    e = energy.PerImageEnergy("p", joules, 0.0, joules * 1e-7, "EUR", 1.0, [], [1], "test", False)
    return Fit(name, True, latency_ms=2 * latency_ms, typical_ms=latency_ms, ms_per_image=ms_per_image, energy=e,
               latency_budget_ms=33.0)


def test_cloud_vs_edge_adds_the_round_trip_to_the_server_only():
    c = cloud_edge.compare(_fit("v", 2.0, 0.05, 1e-3), _fit("v", 0.5, 0.5, 2e-3), rtt_ms=50, rent_per_hour=0.36)
    assert c.cloud_ms == 52.0 and c.device_ms == 0.5 and c.faster == "device"
    assert c.device_slowdown_to_lose == pytest.approx(104.0)
    assert c.rtt_to_lose_ms == 0.0
    assert c.server_requests_per_hour == pytest.approx(3.6e6 / 0.05)
    assert c.rent_per_request == pytest.approx(0.36 / (3.6e6 / 0.05))
    slow = cloud_edge.compare(_fit("v", 2.0, 0.05, 1e-3), _fit("v", 40.0, 40.0, 2e-3), rtt_ms=10)
    assert slow.faster == "cloud" and slow.rtt_to_lose_ms == 38.0 and slow.rent_per_request is None
    with pytest.raises(ValueError, match="negative"):
        cloud_edge.compare(_fit("v", 2.0, 0.05, 1e-3), _fit("v", 1.0, 1.0, 1e-3), rtt_ms=-1)


def test_network_floors_follow_from_physics():
    nets = {n.key: n for n in cloud_edge.NETWORKS}
    assert nets["geo-satellite"].rtt_ms == pytest.approx(477.5, abs=0.1)   # 4 x 35,786 km at c
    assert nets["transatlantic"].rtt_ms == pytest.approx(54.6, abs=0.3)    # 2 x 5,570 km in glass
    assert all(n.source and (n.how == "physics floor" or n.url) for n in nets.values())


def test_the_fit_map_draws_each_measured_version_against_both_budgets():
    from dashboard.lab.deploy.edge import EdgeRun
    from dashboard.ui import edge_charts

    p = profile(memory_budget=256 * KiB, latency_budget_ms=33.0)
    fits = [Fit("small", True, weights_bytes=100 * KiB, activation_bytes=10 * KiB, latency_ms=1.0,
                memory_budget=p.memory_budget, latency_budget_ms=33.0),
            Fit("big", True, weights_bytes=400 * KiB, activation_bytes=30 * KiB, latency_ms=1.0,
                memory_budget=p.memory_budget, latency_budget_ms=33.0),
            Fit("float", False, why_not="integers only")]
    fig = edge_charts.fit_map(EdgeRun(p, fits, "test CPU"))
    by_name = {t.name: list(t.text) for t in fig.data}
    assert by_name == {"fits both budgets": ["small"], "misses a budget": ["big"]}
    notes = " ".join(a.text for a in fig.layout.annotations)
    assert "memory budget 256 KiB" in notes and "latency budget 33 ms" in notes


def test_a_profile_at_the_benchmarks_threads_and_batch_reads_its_figures_instead_of_timing_again(versions,
                                                                                                 tiny_digits):
    """One measured thing, one figure: at 1 thread and batch 1 the Compress figures of the same versions are
    the profile's; a disturbed one is timed again; another batch is timed in the profile's own run."""
    from dashboard.lab.measure import bench

    known = bench.measure(versions, tiny_digits, dataclasses.replace(QUICK, threads=1))
    fp32, int8, ort = known
    int8.disturbed = {"batch1": "its threads waited 40 ms for a processor during 50 ms of timing"}
    run = edge.run_profile(versions, tiny_digits, profile(threads=1, batch=1), settings=QUICK, known=known,
                           known_from="Compress & benchmark")
    f = run.fit("fp32")
    assert f.source == "Compress & benchmark" and not f.disturbed
    assert (f.typical_ms, f.latency_ms) == (fp32.latency_ms_batch1_p50, fp32.latency_ms_batch1_p95)
    assert f.energy is fp32.energy_batch1 and f.accuracy == fp32.accuracy
    assert run.fit("int8-static").source == ""      # disturbed there: measured again here
    other = edge.run_profile(versions, tiny_digits, profile(threads=1, batch=4), settings=QUICK, known=known)
    assert all(f.source == "" for f in other.fits if f.runnable)


def test_a_disturbed_time_decides_no_fit_and_gives_no_headroom():
    f = Fit("fp32", runnable=True, batch=1, latency_ms=5.0, latency_budget_ms=33.3, weights_bytes=1000,
            activation_bytes=1000, disturbed="its threads waited 40 ms for a processor during 50 ms of timing")
    assert f.fits_latency is None and f.headroom is None and not f.fits
    f.disturbed = ""
    assert f.fits_latency is True and f.headroom == pytest.approx(33.3 / 5.0) and f.fits
