"""One figure per measured thing: how every page shows a version's measured speed, and the ratios built
on it (plain Python, no Streamlit).

    figures.batch1(r)                    # '126 µs': the median call at batch 1 (its p50)
    figures.batch1(r, p95=True)          # '210 µs': its p95
    figures.throughput(r)                # '7,950 images/s' at r.batch_size
    figures.speedup(r, fp32, BATCH1)     # '1.75×': fp32's median over r's (claims.ratio)
    figures.speed(r, fp32, BATCH)        # '3.10× faster' / '1.20× slower' / 'about the same'

Every page reads a version's speed from its BenchResult through these, so one version, runtime, batch
and thread count reads the same everywhere. A figure whose regime stayed disturbed
(BenchResult.disturbed: the server was busy while it was measured, and still after its re-measurements)
is shown labelled ('0.45 ms (disturbed)'), and a ratio that would be built on it is not shown as a
number ('n/a: disturbed'). Each figure is recorded (claims.figure) under what it measures, for the app's
consistency check.
"""

from __future__ import annotations

from dashboard.lab import claims, fmt
from dashboard.lab.measure.bench import BenchResult

BATCH1, BATCH = "batch1", "batch"        # BenchResult's regimes: latency at batch 1, throughput at batch N
WHAT = {BATCH1: "batch-1 latency", BATCH: "throughput"}
DISTURBED = " (disturbed)"
NOT_SHOWN = "n/a: disturbed"
NOTICE = ("The server was busy while these figures were measured; each was measured again and stayed disturbed. "
          "They are shown labelled *(disturbed)*, kept out of the class board, the shared results and replays, and "
          "no ratio on this or another page is built on them.")


def key(r: BenchResult, what: str) -> str:
    """What a figure measures: version (its runtime is in its name), regime, threads."""
    return f"{r.name} | {what} | {r.threads} thread{'s' if r.threads != 1 else ''}"


def _label(r: BenchResult, regime: str, text: str) -> str:
    return text + DISTURBED if r.is_disturbed(regime) else text


def batch1(r: BenchResult, *, p95: bool = False) -> str:
    """The batch-1 latency a user waits: the median call (p50), or the slow calls (p95)."""
    ms = r.latency_ms_batch1_p95 if p95 else r.latency_ms_batch1_p50
    if ms is None:
        return "n/a"
    text = claims.figure(key(r, "batch 1, p95" if p95 else "batch 1, median call"), ms / 1000, fmt.ms(ms))
    return _label(r, BATCH1, text)


def throughput(r: BenchResult) -> str:
    """Images per second at the benchmark's batch (the median over its rounds)."""
    ips = r.throughput_batch256_ips
    if ips is None:
        return "n/a"
    return _label(r, BATCH, claims.figure(key(r, f"batch {r.batch_size}, images/s"), ips, fmt.rate(ips)))


def why(r: BenchResult) -> list[str]:
    """One line per disturbed figure of r: 'batch-1 latency: its threads waited 38 % of the time ...'."""
    return [f"{what}: {r.disturbed[regime]}" for regime, what in WHAT.items() if r.is_disturbed(regime)]


def usable(regime: str, *results: BenchResult | None) -> bool:
    """Whether a ratio may be built on these results' figures of `regime` (all there, none disturbed, and
    no speed-up of theirs in that regime marked disturbed by the benchmark)."""
    return all(r is not None and not r.is_disturbed(regime) and not r.is_disturbed(f"speedup_{regime}")
               for r in results)


def speedup_value(r: BenchResult, base: BenchResult | None, regime: str) -> float | None:
    """The number behind `speedup` (for a chart's bar), None where it shows no number."""
    a, b = _speeds(r, base, regime) if base is not None and usable(regime, r, base) else (None, None)
    return a / b if a and b else None


def _speeds(r: BenchResult, base: BenchResult, regime: str) -> tuple[float | None, float | None]:
    """(a, b) with a / b the speed of r over base's: base's time over r's, or r's images/s over base's."""
    if regime == BATCH1:
        return base.latency_ms_batch1_p50, r.latency_ms_batch1_p50
    return r.throughput_batch256_ips, base.throughput_batch256_ips


def speedup(r: BenchResult, base: BenchResult | None, regime: str) -> str:
    """r's speed over base's as a ratio cell ('0.83×'), from the two medians shown beside it."""
    if base is None:
        return "n/a"
    if not usable(regime, r, base):
        return NOT_SHOWN
    return claims.ratio(*_speeds(r, base, regime))


def speed(r: BenchResult, base: BenchResult | None, regime: str, *, more: str = "faster", less: str = "slower",
          same: str = "about the same speed") -> str:
    """r's speed against base's in words: '3.10× faster', '1.20× slower', 'about the same speed'."""
    a, b = _speeds(r, base, regime) if base is not None else (None, None)
    if not (a and b):
        return "not measured"
    if not usable(regime, r, base):
        return NOT_SHOWN
    return claims.compare(a, b, more=more, less=less, same=same)


__all__ = ["BATCH", "BATCH1", "DISTURBED", "NOTICE", "NOT_SHOWN", "WHAT", "batch1", "key", "speed", "speedup",
           "speedup_value", "throughput", "usable", "why"]
