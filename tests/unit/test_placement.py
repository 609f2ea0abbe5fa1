"""benchmarks/placement.py: the thread hand-off probe the compression benchmark runs around every timed round."""

import pytest
import torch

from benchmarks import placement
from dashboard.lab.measure.bench import BenchResult, BenchSettings, measure
from dashboard.lab.compression.compress import make_variants


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
    one = BenchResult("fp32", True, "", rounds=12)
    assert placement.note([one], {"fp32": [{"group": "one", "handoff_us": 4.1, "samples": 12}]}) is None
    two = [{"group": "fast", "handoff_us": 4.1, "samples": 8}, {"group": "slow", "handoff_us": 6.0, "samples": 3}]
    text = placement.note([one], {"fp32": two})
    assert "4.1 us around 8 of fp32's 12 timed samples" in text and "6.0 us around 3" in text


def test_measure_runs_the_probe_around_every_round_and_groups_come_from_its_values(tiny_trained, tiny_digits,
                                                                                   two_threads, windows_count_as_quiet):
    # Which values the probe gives and how rounds are grouped by them, on the session's tiny model: on a busy machine
    # two-thread windows are disturbed, and measuring each again within its retry budget would change nothing here.
    variants = make_variants(tiny_trained, tiny_digits, "fp32")
    [plain] = measure(variants, tiny_digits, BenchSettings.quick(threads=2, rounds=2))
    assert plain.probes == [] and len(plain.per_round["throughput_batch256_ips"]) == 2  # no probe asked
    [r] = measure(variants, tiny_digits, BenchSettings.quick(threads=2, rounds=4), probe=placement.handoff_us)
    assert len(r.probes) == 4 and all(b > 0 and a > 0 for b, a in r.probes)
    [groups] = placement.handoff_groups([r]).values()
    assert {g["group"] for g in groups} <= {"one", "fast", "slow"} and sum(g["samples"] for g in groups) <= 4
    ips = r.per_round["throughput_batch256_ips"]
    assert all(min(ips) <= g["throughput_batch256_ips"] <= max(ips) for g in groups)
