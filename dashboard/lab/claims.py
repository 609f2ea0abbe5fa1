"""Words that compare numbers, built from the numbers they talk about (plain Python, no Streamlit).

Every sentence, cell or label that compares two figures, or shows arithmetic, is made here:

    claims.compare(fp32_ms, int8_ms, more="faster", less="slower")   # '1.75× faster', '1.39× slower', 'about the same'
    claims.ratio(train_s, infer_s)                                    # '3.93×' (a ratio cell)
    claims.product([(45e-6, "45 µs"), (4.0, "4 W")], 1.8e-4, "180 µJ") # '45 µs × 4 W = 180 µJ'

so the direction word always follows the value (a ratio below 1 is said the other way round: never
"0.31× sooner"), a ratio inside the noise band reads "about the same", and large ratios read as numbers
("120×", "1,200×"), never "1.2e+02×".

Each of them also records what it said (a Claim) while `recording()` is open: the app's consistency
check (tests/app/test_consistency.py) renders every page, then checks every recorded claim against its
own operands and that no comparing word on a page was written outside this module. Outside that
check nothing is recorded (a module-level None test, nothing kept). `figure()` records a measured
figure under the name of what it measures, so the check can see that every page shows one thing
with one figure.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

# Two timings within ±5 % of each other are "about the same": the spread between the rounds of one
# measurement on a quiet 2-core host (benchmarks/compress.py, per_round) is of that order.
SAME_BAND = 0.05


@dataclass(frozen=True)
class Claim:
    """What one piece of comparing text says, and what it was built from."""

    kind: str                        # "compare", "ratio", "share", "product", "sum", "statement", "figure"
    text: str                        # exactly the words shown
    operands: tuple[float, ...] = ()  # the values it was built from (for a ratio or a share: a, b)
    result: float | None = None      # what it states: the ratio a / b, the product, the sum
    word: str = ""                   # the direction word it used ("faster", "slower", the `same` words)
    words: tuple[str, ...] = ()      # a comparison's (more, less, same): what the check expects it to choose from
    band: float = 0.0                # the noise band it used
    shown: tuple[str, ...] = ()      # the operands as shown beside it (product, sum), then the result
    key: str = ""                    # a figure: what it measures ("fp32 | batch-1 p50 | 2 threads")


_lock = threading.Lock()
_recorded: list[Claim] | None = None


@contextmanager
def recording() -> Iterator[list[Claim]]:
    """Record every claim made (in any thread) while the block runs: the consistency check's view."""
    global _recorded
    with _lock:
        outer, _recorded = _recorded, []
        seen = _recorded
    try:
        yield seen
    finally:
        with _lock:
            _recorded = outer


def _record(claim: Claim) -> str:
    if _recorded is not None:
        with _lock:
            if _recorded is not None:
                _recorded.append(claim)
    return claim.text


def times(r: float | None) -> str:
    """A ratio as people read it: 0.43×, 1.75×, 14.7×, 120×, 1,200×, 3.4 million× ('n/a' when unknown)."""
    if r is None or not math.isfinite(r):
        return "n/a"
    a = abs(r)
    if a >= 1e6:
        return f"{r / 1e6:.3g} million×"
    if a >= 100:
        return f"{r:,.0f}×"
    if a >= 10:
        return f"{r:.1f}×"
    if a >= 0.1:
        return f"{r:.2f}×"
    return f"{r:.2g}×"


def direction(r: float, more: str, less: str, same: str, band: float = SAME_BAND) -> str:
    """Which word a ratio a / b takes: `more` above the band, `less` below it, `same` inside."""
    if r >= 1 + band:
        return more
    if r <= 1 / (1 + band):
        return less
    return same


def compare(a: float, b: float, *, more: str, less: str, same: str = "about the same",
            band: float = SAME_BAND) -> str:
    """'{a / b}× {more}' when a is larger, '{b / a}× {less}' when smaller, `same` inside the band.

    The ratio is always stated as one or more, so the words never contradict it: compare(2, 1,
    more='faster', less='slower') is '2.00× faster', compare(1, 2, ...) is '2.00× slower'."""
    if not (a and b) or not (math.isfinite(a) and math.isfinite(b)) or a * b < 0:
        raise ValueError(f"compare needs two finite numbers of the same sign, not {a!r} and {b!r}")
    r = a / b
    word = direction(r, more, less, same, band)
    if word == same:
        text = same
    else:
        text = f"{times(r if r >= 1 else 1 / r)} {word}"
    return _record(Claim("compare", text, (float(a), float(b)), r, word, words=(more, less, same), band=band))


def ratio(a: float | None, b: float | None) -> str:
    """a / b as a ratio cell ('3.93×'); 'n/a' when either is missing or zero (nothing recorded)."""
    if not a or not b or not math.isfinite(a) or not math.isfinite(b):
        return "n/a"
    r = a / b
    return _record(Claim("ratio", times(r), (float(a), float(b)), r))


def share(a: float | None, b: float | None, of: str, digits: int = 0) -> str:
    """a / b as a percentage of something named: '45 % of the fp32 peak' ('n/a' when either is missing)."""
    if not a or not b or not math.isfinite(a) or not math.isfinite(b):
        return "n/a"
    r = a / b
    return _record(Claim("share", f"{100 * r:.{digits}f} % of {of}", (float(a), float(b)), r))


def product(parts: Sequence[tuple[float, str]], result: float, result_text: str, *, sep: str = " × ") -> str:
    """'a × b = c' from the operands as shown; the consistency check recomputes c from them."""
    text = sep.join(t for _, t in parts) + f" = {result_text}"
    return _record(Claim("product", text, tuple(float(v) for v, _ in parts), float(result),
                         shown=tuple(t for _, t in parts) + (result_text,)))


def total(parts: Sequence[tuple[float, str]], result: float, result_text: str) -> str:
    """'a + b = c' from the operands as shown."""
    text = " + ".join(t for _, t in parts) + f" = {result_text}"
    return _record(Claim("sum", text, tuple(float(v) for v, _ in parts), float(result),
                         shown=tuple(t for _, t in parts) + (result_text,)))


def figure(key: str, value: float, text: str) -> str:
    """A measured figure as shown (`text`, its unit in it or in its column's header), recorded under the
    name of what it measures: one version, regime and thread count must read the same on every page."""
    return _record(Claim("figure", text, (float(value),), float(value), key=key))


def statement(text: str) -> str:
    """A fixed comparison that no measurement of this run decides (a law of the arithmetic, a
    published figure: 'about twice the forward's work'): recorded so the check knows it was meant."""
    return _record(Claim("statement", text))


__all__ = ["SAME_BAND", "Claim", "compare", "direction", "figure", "product", "ratio", "recording", "share",
           "statement", "times", "total"]
