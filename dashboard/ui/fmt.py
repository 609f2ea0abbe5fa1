"""Numbers as people read them, always with a unit."""

from __future__ import annotations


def _si(value: float, unit: str, steps: list[tuple[float, str]], digits: int = 3) -> str:
    if value is None:
        return "n/a"
    for factor, prefix in steps:
        if abs(value) >= factor:
            return f"{value / factor:.{digits}g} {prefix}{unit}"
    factor, prefix = steps[-1]
    return f"{value / factor:.{digits}g} {prefix}{unit}"


def energy(joules: float | None) -> str:
    """Joules scaled to kJ / J / mJ / µJ / nJ."""
    return _si(joules, "J", [(1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n")])


def co2(grams: float | None) -> str:
    return _si(grams, "g", [(1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n")])


def seconds(s: float | None) -> str:
    if s is None:
        return "n/a"
    if s >= 120:
        return f"{s / 60:.1f} min"
    if s >= 1:
        return f"{s:.1f} s"
    return _si(s, "s", [(1e-3, "m"), (1e-6, "µ"), (1e-9, "n")])


def pct(fraction: float | None, digits: int = 1) -> str:
    return "n/a" if fraction is None else f"{100 * fraction:.{digits}f} %"


def count(n: float | None) -> str:
    if n is None:
        return "n/a"
    for factor, suffix in ((1e12, " trillion"), (1e9, " billion"), (1e6, " million")):
        if abs(n) >= factor:
            return f"{n / factor:.3g}{suffix}"
    return f"{n:,.0f}"


def flops(n: float | None) -> str:
    return _si(n, "FLOP", [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, "")])


def rate(per_s: float | None, what: str = "images") -> str:
    return "n/a" if per_s is None else f"{per_s:,.0f} {what}/s"

