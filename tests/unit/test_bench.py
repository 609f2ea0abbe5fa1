"""The inference benchmark: what it measures, how it reports spread, and that it stays honest."""

from __future__ import annotations

import io
import json

import pytest
import torch

from dashboard.lab.bench import BenchSettings, markdown, measure
from dashboard.lab.compress import CompressSettings, make_variants
from dashboard.lab.train import TrainConfig, train

NAMES = ["fp32", "int8-dynamic", "pruned-unstructured-50", "fp16"]


@pytest.fixture(scope="module")
def mlp(digits):
    return train(TrainConfig(model="mlp", epochs=1, batch_size=128, threads=1), digits)


@pytest.fixture(scope="module")
def variants(mlp, digits):
    settings = CompressSettings(finetune_epochs_unstructured=0, try_channels_last=False)
    return make_variants(mlp, digits, NAMES, settings)


@pytest.fixture(scope="module")
def results(variants, digits):
    torch.set_num_threads(2)
    return measure(variants, digits, BenchSettings.quick(threads=1, rounds=3))


def test_one_result_per_variant_in_order(results):
    assert [r.name for r in results] == NAMES


def test_fp32_is_the_baseline(results, mlp):
    fp32 = results[0]
    assert fp32.agreement == 1.0 and fp32.speedup_batch1 == 1.0 and fp32.speedup_batch256 == 1.0
    assert fp32.accuracy == pytest.approx(mlp.test_accuracy, abs=1e-9)


def test_timings_have_spread_over_rounds(results):
    s = BenchSettings.quick(threads=1, rounds=3)
    for r in results:
        if not r.available:
            continue
        assert r.rounds == 3 and r.threads == 1 and r.batch1_calls >= s.batch1_min_calls
        assert 0 < r.latency_ms_batch1_p50 <= r.latency_ms_batch1_p95
        assert r.throughput_batch256_ips > 0 and r.speedup_batch1 > 0 and r.speedup_batch256 > 0
        for key in ("latency_ms_batch1_p50", "latency_ms_batch1_p95", "throughput_batch256_ips", "speedup_batch256"):
            spread = r.spread[key]
            assert spread["min"] <= spread["median"] <= spread["max"], (r.name, key)
            assert spread["median"] == pytest.approx(getattr(r, key)), (r.name, key)
        assert r.throughput_batch256_ips == r.spread["throughput_batch256_ips"]["median"]
        assert r.handoff_groups == []  # one thread: no hand-off to probe (tests/unit/test_placement.py has two)


def test_size_is_the_saved_file(results, variants):
    for r, v in zip(results, variants):
        if v.available:
            buf = io.BytesIO()
            torch.save(v.module.state_dict(), buf)
            assert r.size_bytes == len(buf.getvalue()), r.name
    unstructured = results[2]
    # Half the weights are zero: the same file size, but it compresses much better.
    assert unstructured.size_bytes >= 0.99 * results[0].size_bytes
    assert unstructured.size_bytes_zlib < 0.8 * results[0].size_bytes_zlib
    assert unstructured.nonzero_params < 0.6 * unstructured.params


def test_unavailable_variants_are_reported_not_measured(results):
    fp16 = results[3]
    if fp16.available:
        pytest.skip("this CPU runs fp16 natively")
    assert fp16.note and fp16.accuracy is None and fp16.throughput_batch256_ips is None
    assert "unavailable" in markdown(results)


def test_threads_are_restored_and_results_serialise(results):
    assert torch.get_num_threads() == 2
    payload = json.loads(json.dumps([r.to_dict() for r in results]))
    assert payload[1]["cpu_features"] == results[1].cpu_features
    table = markdown(results)
    assert table.splitlines()[0].startswith("| variant | accuracy |")
    assert all(f"| {name} |" in table for name in NAMES)


def test_per_image_energy_is_optional_and_carries_its_method(results, variants, digits):
    assert all(r.energy is None for r in results)  # off unless asked: it takes seconds per variant
    out = measure(variants[:1], digits, BenchSettings.quick(threads=1, rounds=1, energy=True,
                                                            energy_min_seconds=0.05, energy_repeats=2))
    e = out[0].energy
    assert e["joules_per_image"] > 0 and e["co2_grams_per_image"] > 0 and e["method"]
    assert out[0].speedup_batch256 == 1.0
    # The readings stay on the result for re-pricing (the app), but not in its JSON.
    assert out[0].per_image.joules_per_image == e["joules_per_image"] and len(out[0].per_image.readings) == 2
    assert "per_image" not in out[0].to_dict()
    kind = "measured" if e["measured"] else "estimated"
    assert "| mJ/image |" in markdown(out) and f"({kind})" in markdown(out).splitlines()[2]


def test_the_table_names_the_batch_size_that_was_measured(variants, digits):
    out = measure(variants[:1], digits, BenchSettings.quick(threads=1, rounds=1, batch_size=64))
    head = markdown(out).splitlines()[0]
    assert "| b64 img/s |" in head and "| speed-up b64 |" in head and "b256" not in head
