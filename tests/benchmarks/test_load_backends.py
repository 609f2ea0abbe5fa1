"""The pure summarizing part of `benchmarks/load.py --backends`: percentiles, a round's training summary, Ray's
overhead per job and the peaks of the samples within a window (no server, no browser, no cluster)."""

from __future__ import annotations

import os

from benchmarks import load


def test_percentiles_interpolate_between_sorted_values():
    values = [100.0, 0.0, 50.0, 10.0, 90.0, 20.0, 80.0, 30.0, 70.0, 40.0, 60.0]   # 0..100 by 10, shuffled
    assert load.percentile(values, 0.5) == 50.0
    assert load.percentile(values, 0.95) == 95.0     # halfway from 90 to 100
    assert load.percentile([7.0], 0.95) == 7.0
    assert load.percentile([], 0.5) is None
    assert load.spread(values) == {"p50": 50.0, "p95": 95.0, "n": 11}


def phase(results_s, queue_wait_s, until="progress bar", completed=True) -> dict:
    return {"training": {"completed": completed, "results_s": results_s, "queue_wait_s": queue_wait_s,
                         "queue_wait_until": until}}


def a_round() -> dict:
    records = [
        {"phases": phase(10.0, 7.0), "errors": []},                        # 3 s on the page
        {"phases": phase(12.0, 7.0), "errors": []},                        # 5 s
        {"phases": phase(20.0, 9.0), "errors": []},                        # 11 s
        {"phases": phase(4.0, 3.5, until="last waiting line"), "errors": []},   # no bar seen: not on the page
        {"phases": phase(None, None, completed=False), "errors": ["training: timeout"]},
    ]
    return {"records": records, "server_tracebacks": 1, "rss_all_done_mb": 900, "rss_server_idle_mb": 400,
            "samples_summary": {"run": {"seconds": 30.0, "server_rss_peak_mb": 1200.0}}}


def test_a_rounds_training_summary():
    s = load.training_summary(a_round(), 5)
    assert (s["trainings"], s["completed"], s["errors"], s["server_tracebacks"]) == (5, 4, 1, 1)
    assert s["results_s"] == {"p50": 11.0, "p95": 18.8, "n": 4}      # 4, 10, 12, 20
    assert s["in_slot_s"] == {"p50": 5.0, "p95": 10.4, "n": 3}       # bar to result of the three whose bar showed
    assert s["queue_wait_s"]["n"] == 4 and s["queue_wait_s"]["p50"] == 7.0
    assert s["per_job_s"] == 7.5                                     # 30 s from the click to the last / 4 completed
    assert (s["server_rss_peak_mb"], s["server_rss_idle_mb"]) == (1200, 400)


def test_the_rss_peak_is_the_larger_of_the_samples_and_the_reading_at_the_end():
    rnd = a_round()
    rnd["rss_all_done_mb"] = 1500
    assert load.training_summary(rnd, 5)["server_rss_peak_mb"] == 1500


def test_nothing_completed_gives_no_per_job_figure():
    rnd = a_round()
    rnd["records"] = [{"phases": phase(None, None, completed=False), "errors": ["x"]}]
    s = load.training_summary(rnd, 1)
    assert s["completed"] == 0 and s["per_job_s"] is None and s["in_slot_s"]["p50"] is None


def test_rays_overhead_is_ray_minus_in_process_and_none_without_both():
    ray = {"in_slot_s": {"p50": 3.3}, "per_job_s": 3.36}
    inproc = {"in_slot_s": {"p50": 2.5}, "per_job_s": 2.99}
    assert load.overhead_vs_inproc(ray, inproc) == {"in_slot_p50_s": 0.8, "per_job_s": 0.37}
    assert load.overhead_vs_inproc(inproc, ray) == {"in_slot_p50_s": -0.8, "per_job_s": -0.37}
    assert load.overhead_vs_inproc({"in_slot_s": {"p50": None}, "per_job_s": 3.0}, inproc) == \
        {"in_slot_p50_s": None, "per_job_s": 0.01}


def test_ray_peaks_count_only_the_samples_within_the_window():
    rows = [(0.5, 2000.0, 9000.0), (1.0, 500.0, 1400.0), (1.5, 700.4, 1600.6), (2.0, 650.0, 1500.0),
            (2.5, 3000.0, 9999.0)]
    assert load.peaks(rows, 1.0, 2.0) == {"ray_rss_peak_mb": 700, "server_plus_ray_rss_peak_mb": 1601, "samples": 3}
    assert load.peaks(rows, 3.0, 4.0) == {"ray_rss_peak_mb": None, "server_plus_ray_rss_peak_mb": None, "samples": 0}


def test_the_servers_samples_summarize_within_the_window():
    sampler = load.Sampler(os.getpid())   # never started: its rows are given
    sampler.cores = 2
    # t, server RSS MB, server % of the machine, browser %, machine %
    sampler.rows = [(0.0, 5000.0, 90.0, 90.0, 100.0), (1.0, 800.0, 40.0, 50.0, 100.0),
                    (1.5, 900.0, 60.0, 10.0, 80.0), (3.0, 9999.0, 0.0, 0.0, 0.0)]
    s = sampler.summary(1.0, 2.0)
    assert (s["samples"], s["server_rss_peak_mb"], s["server_rss_min_mb"]) == (2, 900.0, 800.0)
    assert (s["server_cpu_mean_pct"], s["server_cpu_peak_pct"], s["browser_cpu_peak_pct"]) == (50.0, 60.0, 50.0)
    assert s["browser_at_least_one_core_s"] == 0.5    # one sample of 0.5 s at >= 50 % (one of two cores)
    assert s["other_cpu_mean_pct"] == 10.0            # the machine less server and browser: 100-40-50, 80-60-10
    assert sampler.summary(5.0, 6.0) == {"samples": 0}
