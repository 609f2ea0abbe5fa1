import pytest
import torch

from dashboard.lab import placement
from dashboard.lab.bench import BenchResult, BenchSettings, measure
from dashboard.lab.compress import make_variants
from dashboard.lab.train import TrainConfig, train


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_the_probe_times_a_two_thread_handoff_and_needs_two_threads(two_threads):
    torch.set_num_threads(1)
    assert placement.handoff_us(calls=50) is None
    torch.set_num_threads(2)
    us = placement.handoff_us(calls=200)
    assert 0 < us < 10_000


def test_two_separate_clusters_split_between_them():
    values = [4.0, 4.1, 4.2, 4.1, 4.05] * 4 + [6.0, 6.1, 5.9, 6.2] * 3
    threshold = placement.split(values)
    assert 4.2 < threshold < 5.9


def test_one_cluster_a_few_outliers_or_a_small_gap_do_not_split():
    assert placement.split([4.0, 4.1, 4.2, 4.3] * 10) is None
    assert placement.split([4.0, 4.1, 4.2] * 20 + [9.0, 12.0]) is None          # two interrupted probes
    assert placement.split([4.0] * 20 + [4.6] * 20) is None                      # 15 % apart: noise, not a move
    assert placement.split([4.0] * 20 + [None, None]) is None


def test_samples_are_grouped_by_both_probes_and_medians_taken_per_group():
    probes = [(4.0, 4.1), (4.1, 4.0), (6.0, 6.1), (4.0, 6.0), (6.2, 6.0), (4.1, 4.1)]
    ips = [25.0, 24.0, 21.0, 23.0, 20.0, 26.0]
    groups = placement.groups({"ips": ips}, probes, threshold=5.0)
    fast, slow = groups
    assert (fast["group"], fast["samples"], fast["ips"]) == ("fast", 3, 25.0)
    assert (slow["group"], slow["samples"], slow["ips"]) == ("slow", 2, 20.5)   # the mixed sample is in neither
    assert fast["handoff_us"] == pytest.approx(4.1) and slow["handoff_us"] == pytest.approx(6.05)
    one = placement.groups({"ips": ips}, probes, threshold=None)
    assert [(g["group"], g["samples"]) for g in one] == [("one", 6)]
    assert placement.groups({"ips": [1.0]}, [(None, None)], threshold=None) == []


def test_groups_from_two_runs_match_only_within_a_cluster_gap():
    assert placement.same_placement({"handoff_us": 4.1}, {"handoff_us": 4.4})
    assert not placement.same_placement({"handoff_us": 4.1}, {"handoff_us": 6.0})


def test_the_note_names_both_placements_only_when_two_were_seen():
    one = BenchResult("fp32", True, "", rounds=12, handoff_groups=[{"group": "one", "handoff_us": 4.1, "samples": 12}])
    assert placement.note([one]) is None
    two = BenchResult("fp32", True, "", rounds=12, handoff_groups=[
        {"group": "fast", "handoff_us": 4.1, "samples": 8}, {"group": "slow", "handoff_us": 6.0, "samples": 3}])
    text = placement.note([one, two])
    assert "4.1 us around 8 of fp32's 12 timed samples" in text and "6.0 us around 3" in text


def test_measure_with_two_threads_stamps_every_sample_with_the_placement(digits, two_threads):
    trained = train(TrainConfig(model="mlp", epochs=1, batch_size=256, threads=2), digits)
    variants = make_variants(trained, digits, "fp32")
    [r] = measure(variants, digits, BenchSettings.quick(threads=2, rounds=4))
    assert r.handoff_groups, "two threads: the probe ran around every sample"
    assert {g["group"] for g in r.handoff_groups} <= {"one", "fast", "slow"}
    assert sum(g["samples"] for g in r.handoff_groups) <= 4
    for g in r.handoff_groups:
        assert g["handoff_us"] > 0 and g["throughput_batch256_ips"] > 0 and g["latency_ms_batch1_p50"] > 0
    assert r.to_dict()["handoff_groups"] == r.handoff_groups
