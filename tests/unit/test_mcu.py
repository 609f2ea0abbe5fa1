"""Microcontrollers: MLPerf Tiny's published reference result with its source, and the estimate of what the
student's int8 model would need in flash and RAM, against real chips' memories."""

from __future__ import annotations

import pytest

from dashboard.lab import claims
from dashboard.lab.compression.compress import CompressSettings, make_variants
from dashboard.lab.deploy import edge, mcu, published
from dashboard.lab.deploy.edge import KiB, MiB, Fit
from dashboard.lab.measure.bench import BenchResult


@pytest.fixture(scope="module")
def versions(tiny_trained, tiny_digits):
    made = make_variants(tiny_trained, tiny_digits, ["fp32", "int8-static"],
                         CompressSettings(try_channels_last=False, calibration_images=64))
    return {v.name: v for v in made}


def test_the_reference_result_carries_its_source_and_its_latency_is_one_over_its_throughput():
    r = published.MLPERF_TINY_IC
    assert r.url == "https://github.com/mlcommons/tiny_results_v0.5" and "MLPerf Tiny v0.5" in r.source
    assert r.paper_url == "https://arxiv.org/abs/2106.07597" and "Banbury" in r.paper
    assert all(f.startswith("closed/reference/") for f in r.files) and len(r.files) == 4
    assert (r.throughput_ips, r.energy_uj, r.top1) == (1.420, 29_207.010, 0.865)
    assert r.ms_per_inference == pytest.approx(1000 / r.throughput_ips) == pytest.approx(704.2, abs=0.05)
    assert r.joules == pytest.approx(0.029207) and r.power_w == pytest.approx(0.0415, abs=5e-5)
    # The power the energy run states is its energy per inference times its throughput.
    assert r.power_w == pytest.approx(r.joules * r.throughput_ips, rel=1e-3)
    assert r.to_dict()["ms_per_inference"] == pytest.approx(704.2, abs=0.05)
    for b in mcu.BUDGETS:
        assert b.url.startswith("https://") and b.source and b.value_text
    assert (mcu.NRF52840.ram_bytes, mcu.NRF52840.flash_bytes) == (256 * KiB, 1 * MiB)
    assert (mcu.NUCLEO_L4R5ZI.ram_bytes, mcu.NUCLEO_L4R5ZI.flash_bytes) == (640 * KiB, 2 * MiB)


def test_the_estimate_is_the_int8_versions_saved_file_and_its_peak_activations_at_batch_1(versions, tiny_digits):
    int8 = versions["int8-static"]
    images = tiny_digits.test_tensors(4)[0][:4]
    need = mcu.estimate(int8, images)
    assert need.version == "int8-static"
    assert need.flash_bytes == len(int8.saved_bytes()) > 0
    assert need.ram_bytes == edge.activation_peak(int8, images[:1])[0] > 0
    assert need.ram_bytes < edge.activation_peak(versions["fp32"], images[:1])[0]   # 1 byte a number, not 4
    with pytest.raises(ValueError, match="floating point"):
        mcu.estimate(versions["fp32"], images)


def test_a_profile_measured_at_batch_1_gives_the_same_need(versions, tiny_digits):
    int8 = versions["int8-static"]
    images = tiny_digits.test_tensors(1)[0][:1]
    peak, how = edge.activation_peak(int8, images)
    size = len(int8.saved_bytes())
    fit = Fit("int8-static", runnable=True, weights_bytes=size, activation_bytes=peak, activations_how=how, batch=1)
    result = BenchResult("int8-static", True, "", size_bytes=size)
    assert mcu.from_fit(fit, result) == mcu.estimate(int8, images)
    assert mcu.from_fit(Fit("int8-static", runnable=True, weights_bytes=size, activation_bytes=4 * peak, batch=4),
                        result) is None                                     # not at one image per call
    assert mcu.from_fit(Fit("fp32", runnable=True, weights_bytes=size, activation_bytes=peak, batch=1),
                        BenchResult("fp32", True, "")) is None              # a float version


@pytest.mark.parametrize("budget,fits", [(1000, True), (1024, True), (999, False), (100, False)])
def test_fit_words_follow_the_need_and_the_budget(budget, fits):
    room = mcu.Room("RAM", 1000, budget)
    with claims.recording() as said:
        text = room.text()
    assert room.fits is fits and room.margin == budget - 1000
    assert text.startswith("fits: ") is fits and text.startswith("does not fit: ") is not fits
    assert text.endswith(" left" if fits else " over")
    share = next(c for c in said if c.kind == "share")      # the percentage is the need's share of the budget
    assert share.operands == (1000, budget) and share.text in text
    if budget != 1000:
        assert f"{abs(budget - 1000):,} bytes" in text


def test_the_int8_version_against_a_budget_below_and_above_its_need(versions, tiny_digits):
    need = mcu.estimate(versions["int8-static"], tiny_digits.test_tensors(1)[0][:1])
    roomy = mcu.McuBudget("roomy", "Roomy", "test", need.ram_bytes + 1, need.flash_bytes, "", "test", "https://x")
    tight = mcu.McuBudget("tight", "Tight", "test", need.ram_bytes - 1, need.flash_bytes, "", "test", "https://x")
    assert mcu.fits(need, roomy) and not mcu.fits(need, tight)
    flash, ram = mcu.rooms(need, tight)
    assert flash.fits and flash.margin == 0 and not ram.fits and ram.margin == -1
    assert ram.text().startswith("does not fit") and flash.text().startswith("fits")
