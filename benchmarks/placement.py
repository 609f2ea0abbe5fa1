"""Benchmark-lab knowledge: where a VM's host runs our threads, seen from inside (a thread hand-off probe).

Used by benchmarks/compress.py only (pass `handoff_us` as measure's `probe`). Students never see
it: the app shows speed-ups measured within the same round, which hold in either placement.

On a virtual machine (a hosted Streamlit container, this project's CI machine) the host
decides which physical cores run the guest's vCPUs, and it moves them while we measure.
Two vCPUs on cores that share a cache hand data to each other several times faster than
two on different chiplets, and every parallel layer hands work between the threads, so
the same model runs slower in the second placement. On the 2-vCPU development VM a C
ping-pong between the vCPUs read ~85 ns or ~350 ns round trips, switching every tens of
seconds to minutes; in the slow placement the fp32 cnn ran 7-17 % and the tiny-cnn 20-30 %
slower, while int8 barely moved. That alone made two otherwise identical benchmark runs
disagree by more than 10 %.

No code inside the guest can choose the placement, so the benchmark measures it: before
and after each timed sample it times a minimal two-thread operation (`handoff_us`), and
when those times fall into two clearly separate clusters (`split`) it reports medians per
group, so runs are compared like with like and a run that saw only one group says so.
"""

from __future__ import annotations

import math
import statistics
import time

import torch

# torch splits element-wise ops into chunks of at::internal::GRAIN_SIZE (32768) elements:
# twice that gives each of two threads one chunk, so the call is mostly fork + join.
_PROBE_ELEMENTS = 2 * 32768
MIN_GAP = 1.2  # two clusters only if the slower is at least 20 % slower than the faster


def handoff_us(calls: int = 1000) -> float | None:
    """Median microseconds of a minimal parallel operation at the current thread count.

    Mostly the time the threads take to hand work to each other: it tracks the host's
    placement of the vCPUs. None with one thread (nothing is handed off)."""
    if torch.get_num_threads() < 2:
        return None
    a = torch.ones(_PROBE_ELEMENTS)
    out = torch.empty_like(a)
    times = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        torch.add(a, 1, out=out)
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1000


def split(values: list[float | None], min_gap: float = MIN_GAP) -> float | None:
    """The probe time that separates two clusters of probe values, or None for one cluster.

    Splits at the largest ratio between neighbouring sorted values if it is at least
    `min_gap` and leaves at least 5 % of the values (and 3) on each side, so a few
    interrupted probes do not make a group of their own."""
    v = sorted(x for x in values if x)
    least = max(3, math.ceil(0.05 * len(v)))
    best, at = 1.0, None
    for i in range(least, len(v) - least + 1):
        if v[i] / v[i - 1] > best:
            best, at = v[i] / v[i - 1], i
    if at is None or best < min_gap:
        return None
    return math.sqrt(v[at - 1] * v[at])


def group_of(before: float | None, after: float | None, threshold: float | None) -> str | None:
    """'fast' or 'slow' when both probes around a sample fall on the same side of the
    threshold, 'one' when there is no threshold (one cluster); None if they disagree."""
    if before is None or after is None:
        return None
    if threshold is None:
        return "one"
    if before < threshold and after < threshold:
        return "fast"
    if before >= threshold and after >= threshold:
        return "slow"
    return None  # the host moved the threads during the sample


def groups(samples: dict[str, list[float]], probes: list[tuple[float | None, float | None]],
           threshold: float | None) -> list[dict]:
    """Medians of each metric in `samples` (one value per timed sample) per hand-off group.

    [{"group": "fast"|"slow"|"one", "handoff_us": median probe, "samples": n, metric: median}];
    empty with one thread (no probe)."""
    out = []
    for name in ("one", "fast", "slow"):
        idx = [i for i, (b, a) in enumerate(probes) if group_of(b, a, threshold) == name]
        if not idx:
            continue
        row = {"group": name, "handoff_us": round(statistics.median(x for i in idx for x in probes[i]), 2),
               "samples": len(idx)}
        row.update({metric: statistics.median(values[i] for i in idx) for metric, values in samples.items()})
        out.append(row)
    return out


def same_placement(a: dict, b: dict, min_gap: float = MIN_GAP) -> bool:
    """Two groups (from two runs, say) whose probe medians are closer than a cluster gap."""
    return max(a["handoff_us"], b["handoff_us"]) / min(a["handoff_us"], b["handoff_us"]) < min_gap


def handoff_groups(results: list) -> dict[str, list[dict]]:
    """Per variant (BenchResult measured with probe=handoff_us): its per-round medians per placement."""
    threshold = split([p for r in results for pair in r.probes for p in pair])
    return {r.name: groups({k: r.per_round[k] for k in ("throughput_batch256_ips", "latency_ms_batch1_p50")},
                           [tuple(p) for p in r.probes], threshold)
            for r in results if r.per_round and r.probes}


def note(results: list, by_name: dict[str, list[dict]]) -> str | None:
    """One sentence for under a results table when the host moved the threads mid-run."""
    r = next((r for r in results if len(by_name.get(r.name) or []) == 2), None)
    if r is None:
        return None
    fast, slow = by_name[r.name]
    return (f"The host moved this machine's threads during the measurement: a minimal two-thread operation took "
            f"{fast['handoff_us']:.1f} us around {fast['samples']} of {r.name}'s {r.rounds} timed samples and "
            f"{slow['handoff_us']:.1f} us around {slow['samples']} (two placements of the virtual CPUs on the "
            f"host's cores). Images/s are medians over all samples; speed-ups compare versions within the same "
            f"round, so they hold in either placement. Medians per placement: `handoff_groups` in the JSON.")


__all__ = ["MIN_GAP", "group_of", "groups", "handoff_groups", "handoff_us", "note", "same_placement", "split"]
