"""This machine's peaks, the share of them a model reaches, threads x batch, published accelerators, their charts.

Timing windows are cut to hundredths of a second: these tests check what is measured and how it is
labelled, not how fast this machine is (that lives in benchmarks/)."""

from __future__ import annotations

import dataclasses

import plotly.graph_objects as go
import pytest
import torch

from dashboard.lab import hardware
from dashboard.lab.measure import accelerators, bench, peak, roofline
from dashboard.lab.compression.compress import make_variants
from dashboard.ui import hardware_charts

# (A disturbed timing is still measured again, within a second or two: these tests check labels, not speed.)
QUICK = peak.ProbeSettings(size=512, peak_seconds=0.02, sweep_sizes=(64, 128), sweep_seconds=0.01,
                           batches=(1, 8), parallel_seconds=0.1, device_seconds=0.02, quiet_wait_s=0.2,
                           retry_budget_s=2.0)


@pytest.fixture(scope="module")
def peaks_1024() -> peak.Peaks:
    """Peaks on one thread at 1024 x 1024: large enough to be near this CPU's real peak."""
    return peak.measure_peaks(1, peak.ProbeSettings(size=1024, peak_seconds=0.05, sweep_sizes=(), quiet_wait_s=0.2,
                                                    retry_budget_s=2.0))


def test_every_format_has_a_positive_peak_with_its_op_named_or_says_why_not():
    before = torch.get_num_threads()
    p = peak.measure_peaks(1, QUICK)
    assert torch.get_num_threads() == before           # the Timer restores the thread count
    assert p.threads == 1 and p.rates and all(r.threads == 1 for r in p.rates)
    assert all(r.gops > 0 and r.op and r.size == 512 for r in p.rates)
    assert p.best("fp32").op == "torch.matmul, fp32"
    for fmt in ("fp32", "bf16", "fp16", "int8"):
        assert (p.best(fmt) is not None) != (fmt in p.missing), fmt   # measured, or a reason, never both
    info = hardware.describe("cpu")
    assert (p.best("bf16") is not None) == any(info.has(f) for f in peak.NATIVE["bf16"])
    if info.quantized_engines:
        assert p.best("int8") is not None
        assert {r.op for r in p.rates if r.format == "int8"} >= {"torch._int_mm (int8 x int8 -> int32)"}
    assert [r.size for r in p.sweep] == [64, 128] and all(r.gops > 0 for r in p.sweep)


def test_fp32_is_held_against_the_fp32_peak_at_both_batches(tiny_trained, tiny_digits, peaks_1024):
    # How close it comes (at most the peak, within timing noise) is a timing: benchmarks/ checks it on a
    # quiet machine. Here: what is divided by what, and that a disturbed figure gives no share to state.
    variants = make_variants(tiny_trained, tiny_digits, ["fp32"])
    results = bench.measure(variants, tiny_digits, bench.BenchSettings.quick(threads=1))
    points = roofline.achieved(results, peaks_1024)
    big = next(p for p in points if p.name == "fp32" and p.batch == 256)
    one = next(p for p in points if p.name == "fp32" and p.batch == 1)
    assert big.format == "fp32" and big.peak_gops == peaks_1024.best("fp32").gops
    assert big.flops_per_call == 256 * results[0].flops
    assert big.gops == pytest.approx(results[0].flops * results[0].throughput_batch256_ips / 1e9)
    assert one.gops == pytest.approx(results[0].flops / (results[0].latency_ms_batch1_p50 / 1e3) / 1e9)
    for p in (big, one):
        assert p.share == pytest.approx(p.gops / p.peak_gops)
        assert (p.checked_share is None) == bool(p.disturbed)
    assert big.threads == 1 == big.peak_threads


def test_a_disturbed_speed_or_peak_gives_no_share_to_state():
    peaks = peak.Peaks(2, [peak.PeakRate("fp32", "mm", 2048, 200.0, 2),
                           peak.PeakRate("int8", "mm8", 2048, 900.0, 2, disturbed="stayed disturbed: ...")])
    fp32 = bench.BenchResult("fp32", True, "", flops=1_000_000, latency_ms_batch1_p50=0.1,
                             throughput_batch256_ips=100_000.0, threads=2, disturbed={"batch1": "busy"})
    int8 = bench.BenchResult("int8-static", True, "", flops=1_000_000, latency_ms_batch1_p50=0.1,
                             throughput_batch256_ips=100_000.0, threads=2)
    one, big, int8_one, int8_big = roofline.achieved([fp32, int8], peaks)
    assert one.checked_share is None and "speed is disturbed" in one.disturbed
    assert big.checked_share == pytest.approx(0.5) and not big.disturbed
    assert int8_one.checked_share is None and int8_big.checked_share is None
    assert "int8 peak is disturbed" in int8_big.disturbed
    # A quiet op is preferred as the peak over a faster one that was disturbed.
    peaks.rates.append(peak.PeakRate("int8", "quiet op", 2048, 500.0, 2))
    assert peaks.best("int8").op == "quiet op"


def test_each_version_is_held_against_the_peak_of_its_own_number_format():
    assert [roofline.number_format(n) for n in ("fp32", "pruned-channels-50", "int8-static", "int8-dynamic",
                                                "pruned-channels-50+int8-static", "bf16", "fp16", "distilled")] == \
        ["fp32", "fp32", "int8", "int8", "int8", "bf16", "fp16", "fp32"]
    peaks = peak.Peaks(2, [peak.PeakRate("fp32", "mm", 2048, 200.0, 2), peak.PeakRate("int8", "a", 2048, 500.0, 2),
                           peak.PeakRate("int8", "b", 2048, 1000.0, 2)])
    r = bench.BenchResult("int8-static", True, "", flops=1_000_000, latency_ms_batch1_p50=0.1,
                          throughput_batch256_ips=200_000.0, threads=2)
    one, big = roofline.achieved([r], peaks)
    assert (one.batch, big.batch) == (1, 256)
    assert one.gops == pytest.approx(10.0) and big.gops == pytest.approx(200.0)
    assert big.peak_gops == 1000.0 and big.peak_op == "b" and big.share == pytest.approx(0.2)
    bf16 = roofline.achieved([bench.BenchResult("bf16", True, "", flops=10, throughput_batch256_ips=1.0)], peaks)
    assert bf16[0].share is None          # no bf16 peak measured: no share made up


def test_parallelism_applies_the_thread_counts_and_batches_it_reports(tiny_trained):
    before = torch.get_num_threads()
    par = peak.measure_parallelism(tiny_trained.module, tiny_trained.spec.in_shape, 2, settings=QUICK)
    assert torch.get_num_threads() == before
    assert par.thread_counts == [1, 2] and par.batches == [1, 8]
    assert len(par.points) == 4
    for p in par.points:
        assert p.threads_seen == [p.threads]       # what torch really used inside the timed calls
        assert p.images_per_s > 0
    assert par.speedup(8) == pytest.approx(par.rate(2, 8) / par.rate(1, 8))


def test_thread_grid_is_short_for_many_threads():
    assert peak.thread_counts(1) == [1]
    assert peak.thread_counts(2) == [1, 2]
    assert peak.thread_counts(4) == [1, 2, 3, 4]
    assert peak.thread_counts(6) == [1, 2, 4, 6]
    assert peak.thread_counts(16) == [1, 2, 4, 8, 16]


def test_probe_without_a_model_measures_the_peaks_only(tiny_trained):
    quick = dataclasses.replace(QUICK, size=256, sweep_sizes=())
    alone = peak.probe(None, threads=1, settings=quick)
    assert alone.peaks.rates and alone.parallelism is None and alone.devices is None and not alone.stopped
    with_model = peak.probe(tiny_trained, threads=1, settings=quick, digest="abc")
    assert with_model.parallelism.thread_counts == [1] and with_model.digest == "abc"
    assert with_model.devices is not None


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_nothing_is_measured_or_made_up_for_it(tiny_trained):
    cmp = peak.compare_devices(tiny_trained.module, tiny_trained.spec.in_shape, 1, QUICK)
    assert not cmp.available and cmp.rows == [] and cmp.ratio() is None
    assert cmp.note.startswith("No GPU here")


def test_one_device_speed_times_a_training_step_and_an_inference(tiny_trained):
    """What compare_devices runs on each device (the CPU here; the GPU where there is one)."""
    before = [p.detach().clone() for p in tiny_trained.module.parameters()]
    row = peak.device_speed(tiny_trained.module, tiny_trained.spec.in_shape, torch.device("cpu"), 1, QUICK,
                            torch.Generator().manual_seed(0))
    assert row.device == "cpu" and row.train_batch == 64 and row.infer_batch == 256
    assert row.train_images_per_s > 0 and row.infer_images_per_s > 0
    assert all(torch.equal(a, b) for a, b in zip(before, tiny_trained.module.parameters(), strict=True))  # a copy trained


def test_published_accelerators_have_https_sources_and_scale_as_stated():
    assert len(accelerators.ACCELERATORS) >= 4
    for a in accelerators.ACCELERATORS:
        assert a.url.startswith("https://") and a.source and a.value_text and a.ops_per_s > 0
    rows = accelerators.scale_up(4e12, utilisation=0.4)
    h100 = next(r for r in rows if r.accelerator.key == "h100_sxm")
    assert h100.seconds == pytest.approx(4e12 / (989e12 * 0.4))
    assert {r.utilisation for r in rows} == {0.4}
    with pytest.raises(ValueError):
        accelerators.scale_up(1e9, utilisation=0)


def test_training_flops_are_per_image_times_images_seen(tiny_trained):
    assert accelerators.training_flops(tiny_trained) == \
        tiny_trained.cost.train_flops_per_image * tiny_trained.samples_seen > 0


def _figures() -> list[go.Figure]:
    peaks = peak.Peaks(2, [peak.PeakRate("fp32", "torch.matmul, fp32", 2048, 380.0, 2),
                           peak.PeakRate("int8", "q", 2048, 5000.0, 2)],
                       sweep=[peak.PeakRate("fp32", "torch.matmul, fp32", 64, 100.0, 2)])
    points = [roofline.Achieved("fp32", "fp32", 1, 2e5, 1.0, 380.0, "mm", 2, 2),
              roofline.Achieved("fp32", "fp32", 256, 5e7, 340.0, 380.0, "mm", 2, 2),
              roofline.Achieved("int8-static", "int8", 256, 5e7, 2400.0, 5000.0, "q", 2, 2)]
    par = peak.Parallelism("mlp on digits", "contiguous",
                           [peak.ThreadPoint(t, b, r, [t]) for t, b, r in
                            ((1, 1, 5e3), (2, 1, 5.5e3), (1, 256, 1e5), (2, 256, 1.9e5))])
    gpu = peak.DeviceComparison(True, "test", [peak.DeviceSpeed("cpu", "x", 1e3, 1e4, 64, 256),
                                               peak.DeviceSpeed("cuda", "y", 1e5, 1e6, 64, 256)])
    close = peak.DeviceComparison(True, "test", [peak.DeviceSpeed("cpu", "x", 1e3, 2e3, 64, 256),
                                                 peak.DeviceSpeed("cuda", "y", 3e3, 5e3, 64, 256)])
    return [hardware_charts.roofline(points, peaks), hardware_charts.peak_shares(points),
            hardware_charts.parallelism(par), hardware_charts.devices(gpu), hardware_charts.devices(close),
            hardware_charts.devices(peak.DeviceComparison(False, peak.NO_GPU)),
            hardware_charts.scale_up(accelerators.scale_up(3e10), 2.5)]


def test_no_bar_stands_on_a_log_axis_and_every_log_axis_says_so():
    figs = _figures()
    assert any(isinstance(t, go.Bar) for f in figs for t in f.data)   # the check below checks something
    for fig in figs:
        for axis in ("xaxis", "yaxis"):
            ax = fig.layout[axis]
            if ax.type == "log":
                assert not any(isinstance(t, go.Bar) for t in fig.data), fig.layout.title.text
                assert "log scale" in ax.title.text and "log scale" in fig.layout.title.text


def test_the_roofline_shows_each_peak_as_a_ceiling_and_each_version_in_both_regimes():
    fig = _figures()[0]
    notes = [a.text for a in fig.layout.annotations]
    assert any(n.startswith("fp32 peak 380 GFLOP/s") for n in notes)
    assert any(n.startswith("int8 peak 5,000 GOP/s") for n in notes)
    fp32 = next(t for t in fig.data if t.name == "fp32")
    assert list(fp32.x) == [2e5, 5e7] and list(fp32.marker.symbol)[0].endswith("-open")


def test_the_sweep_takes_a_point_already_measured_elsewhere_instead_of_timing_it_again(tiny_trained):
    known = {(1, 1): 1234.5}
    out = peak.measure_parallelism(tiny_trained.module, tiny_trained.spec.in_shape, 1, settings=QUICK, known=known,
                                   known_from="Compress & benchmark")
    one = next(p for p in out.points if (p.threads, p.batch) == (1, 1))
    other = next(p for p in out.points if (p.threads, p.batch) == (1, 8))
    assert (one.images_per_s, one.source) == (1234.5, "Compress & benchmark")
    assert other.source == "" and other.images_per_s > 0 and other.threads_seen == [1]
