"""Numbers as people read them, always with a unit: one place for the pages, the lesson checks and the
benchmarks (plain Python, no Streamlit)."""

from __future__ import annotations

import math

from dashboard.lab import claims


def _si(value: float, unit: str, steps: list[tuple[float, str]], digits: int = 3) -> str:
    if value is None:
        return "n/a"
    for factor, prefix in steps:
        if abs(value) >= factor:
            return f"{value / factor:.{digits}g} {prefix}{unit}"
    factor, prefix = steps[-1]
    return f"{value / factor:.{digits}g} {prefix}{unit}"


def energy(joules: float | None) -> str:
    """Joules scaled to GJ / MJ / kJ / J / mJ / µJ / nJ."""
    return _si(joules, "J", [(1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n")])


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
    if abs(n) >= 1e15:   # past "trillion": a power of ten reads better than "1,300 trillion"
        exp = int(f"{n:e}".split("e")[1])
        sup = str(exp).translate(str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻"))
        return f"{n / 10 ** exp:.3g} × 10{sup}"
    for factor, suffix in ((1e12, " trillion"), (1e9, " billion"), (1e6, " million")):
        if abs(n) >= factor:
            return f"{n / factor:.3g}{suffix}"
    return f"{n:,.0f}"


def flops(n: float | None) -> str:
    return _si(n, "FLOP", [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, "")])


def rate(per_s: float | None, what: str = "images") -> str:
    return "n/a" if per_s is None else f"{per_s:,.0f} {what}/s"



def times(ratio: float | None) -> str:
    """A ratio such as a speed-up: 0.83×, 3.10×, 14.7×, 120× (one rule for every ratio: lab.claims.times)."""
    return claims.times(ratio)


def plural(n: int, word: str) -> str:
    """'1 epoch', '3 epochs'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def money(value: float | None, currency: str = "") -> str:
    """An amount of money as people read it, never with an exponent: 1,234 EUR, 12.3 EUR, 0.0167 EUR,
    0.0000167 EUR (three significant digits, however small)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    a = abs(value)
    if a >= 100:
        text = f"{value:,.0f}"
    elif a == 0:
        text = "0"
    else:
        decimals = max(2, 2 - math.floor(math.log10(a)))
        text = f"{value:,.{decimals}f}"
    return f"{text} {currency}".strip()


def number(value: float | None, digits: int = 3) -> str:
    """A plain number with `digits` significant digits and no exponent: 1,390,000; 12.3; 0.00456."""
    if value is None or math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    rounded = float(f"{value:.{digits}g}")
    if rounded == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(rounded))))
    return f"{rounded:,.{decimals}f}"


def points(delta: float | None, digits: int = 1) -> str:
    """A change in percentage points, signed: +0.4 points, −1.2 points (delta as a fraction, 0..1)."""
    if delta is None:
        return "n/a"
    p = round(100 * delta, digits)
    if p == 0:
        return f"±{0:.{digits}f} points"
    return f"{'+' if p > 0 else '−'}{abs(p):.{digits}f} points"


def size(n_bytes: float | None) -> str:
    """Bytes as KiB / MiB / GiB (binary, as files are measured)."""
    if n_bytes is None:
        return "n/a"
    for factor, unit in ((2 ** 30, "GiB"), (2 ** 20, "MiB"), (2 ** 10, "KiB")):
        if abs(n_bytes) >= factor:
            return f"{n_bytes / factor:.3g} {unit}" if n_bytes / factor < 1000 else f"{n_bytes / factor:,.0f} {unit}"
    return f"{n_bytes:,.0f} bytes"


def watts(w: float | None) -> str:
    """Power: 10.0 W, 0.35 W, 1,200 W."""
    if w is None:
        return "n/a"
    return f"{w:.2g} W" if abs(w) < 1 else f"{w:.1f} W" if abs(w) < 100 else f"{w:,.0f} W"


def ms(milliseconds: float | None) -> str:
    """A duration given in ms, with sensible digits and unit."""
    return "n/a" if milliseconds is None else seconds(milliseconds / 1000)


# The energy assumptions (EnergyReading.assumptions) as a student reads them: (key, label in words,
# how to show the value, the key of its source). Keys not listed are shown as "key in words: value".
def _per_thread(v, a):
    total = a.get("cpu_watts_total")
    return f"{watts(v)} per CPU thread" + (f", {watts(total)} for all {a.get('logical_cpus')}" if total else "")


def _text(v, a):
    return str(v)


_ASSUMPTIONS = (
    ("cpu_model", "Processor", _text, None),
    ("cpu_energy", "Processor energy", _text, None),
    ("cpu_watts_per_thread", "Processor power assumed", _per_thread, "cpu_watts_source"),
    ("ram_watts", "Memory (RAM) power assumed", lambda v, a: watts(v), "ram_source"),
    ("gpu_energy", "Graphics card (GPU)", _text, None),
    ("pue", "Data-centre overhead (PUE)", lambda v, a: f"×{v:.2f}", "pue_source"),
    ("country", "Electricity grid", _text, None),
    ("grid_gco2_per_kwh", "Grid carbon intensity",
     lambda v, a: f"{v:,.0f} g CO₂e per kWh" + (f" ({a['grid_year']})" if a.get("grid_year") else ""), "grid_source"),
    ("price_per_kwh", "Electricity price", lambda v, a: f"{v:.3g} {a.get('currency') or ''} per kWh", "price_source"),
    ("scope", "What is counted", _text, None),
    ("codecarbon_error", "Why CodeCarbon was not used", _text, None),
)
_SHOWN_WITH_OTHERS = {"logical_cpus", "cpu_watts_total", "country_iso", "grid_year", "currency", "cpu_watts_source",
                      "ram_source", "pue_source", "grid_source", "price_source"}


def assumption_rows(assumptions: dict) -> list[tuple[str, str]]:
    """(label in words, value with its unit and where it comes from) for each energy assumption
    that has a value: what the energy popover shows."""
    rows, known = [], set(_SHOWN_WITH_OTHERS)
    for key, label, show, source in _ASSUMPTIONS:
        known.add(key)
        v = assumptions.get(key)
        if v is None or v == "":
            continue
        try:
            text = show(v, assumptions)
        except (TypeError, ValueError):
            text = str(v)
        if source and assumptions.get(source):
            text += f" (source: {assumptions[source]})"
        rows.append((label, text))
    for key, v in assumptions.items():
        if key not in known and v not in (None, ""):
            rows.append((key.replace("_", " ").capitalize(), f"{v:.3g}" if isinstance(v, float) else str(v)))
    return rows


def ended(trained) -> str:
    """How a training ended when not as planned, as ", diverged" / ", stopped early"; "" when it finished."""
    if trained.outcome is not None and trained.outcome.kind == "diverged":
        return ", diverged"
    return "" if trained.completed else ", stopped early"
