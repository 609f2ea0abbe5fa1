"""The Results page's chart: the session's runs side by side, accuracy against a cost of the student's
choice, each compressed version joined to its model's fp32. Pure functions: runs in, plotly Figure out.
(And the table under it as a student reads it: readable_table.)

A run is drawn at its model's fp32 (or, unmeasured, its training's test accuracy). Against model size or
batch-1 latency, each measured version of that model is a smaller marker joined to it by a thin line, so
what a technique bought (size, latency) and what it cost (accuracy) reads off the chart; against a
training cost, versions have no figure of their own and are not drawn. A training run that a later run
measured (the same trained model) is drawn once, as that later run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import plotly.graph_objects as go

from dashboard.lab import energy
from dashboard.lab.measure.bench import BenchResult
from dashboard.lab.energy import EnergySettings
from dashboard.lab.measure.record import RunRecord
from dashboard.service.runs import Run, priced

from dashboard.ui.charts import (
    GREY,
    MARKER_PX,
    TITLE_PX,
    WIDE_RANGE,
    layout,
    log_axis,
    colour,
    empty,
    place_labels,
    symbol,
)

KIB = 1024


@dataclass(frozen=True)
class XAxis:
    """One choice of x: what it is, its unit, and how to read it off a run and off a measured version
    (None: this run or version has no such figure; `of_version` None: versions have no figure of
    their own on this axis, as a training cost, and are not drawn)."""

    label: str
    unit: str
    of_run: Callable[[RunRecord], float | None]
    of_version: Callable[[BenchResult], float | None] | None = None

    @property
    def per_version(self) -> bool:
        return self.of_version is not None


def _training_seconds(rec: RunRecord) -> float | None:
    return (rec.training or {}).get("train_seconds")


def _training_joules(rec: RunRecord) -> float | None:
    return rec.training_energy.joules if rec.training_energy is not None else None


def _size_kib(r: BenchResult | None) -> float | None:
    return r.size_bytes / KIB if r is not None and r.size_bytes else None


def _latency_ms(r: BenchResult | None) -> float | None:
    return r.latency_ms_batch1_p50 if r is not None else None


X_AXES: dict[str, XAxis] = {
    "training time": XAxis("training time", "s", _training_seconds),
    "training energy": XAxis("training energy", "J", _training_joules),
    "model size": XAxis("model size", "KiB", lambda rec: _size_kib(rec.result("fp32")), _size_kib),
    "batch-1 latency": XAxis("batch-1 latency", "ms", lambda rec: _latency_ms(rec.result("fp32")), _latency_ms),
}


@dataclass
class VersionPoint:
    name: str
    x: float
    accuracy: float     # %


@dataclass
class RunPoint:
    number: int
    label: str          # the settings that differ from the other runs shown; "run N" when none do
    x: float
    accuracy: float     # %
    versions: list[VersionPoint] = field(default_factory=list)


def shown_runs(runs: Sequence[Run]) -> list[Run]:
    """The runs the chart can draw (those with a trained model), a training run dropped where a later
    run of the same trained model (the same training summary) measured its versions."""
    trained = [r for r in runs if (r.record.training or {}).get("test_accuracy") is not None]
    out = []
    for i, run in enumerate(trained):
        later = any(other.record.training == run.record.training and other.record.results
                    for other in trained[i + 1:])
        if not (later and not run.record.results):
            out.append(run)
    return out


def run_points(runs: Sequence[Run], labels: dict[int, str], x: str, settings: EnergySettings) -> list[RunPoint]:
    """A point per run that has the chosen x, its energy priced under `settings`; on an axis where versions
    have figures of their own (size, latency), each measured version with an accuracy a point of its own."""
    axis = X_AXES[x]
    out = []
    for run in runs:
        rec = priced(run.record, settings)
        rx = axis.of_run(rec)
        fp32 = rec.result("fp32")
        accuracy = fp32.accuracy if fp32 is not None and fp32.accuracy is not None else rec.training.get(
            "test_accuracy")
        if rx is None or rx <= 0 or accuracy is None:
            continue
        versions = [VersionPoint(r.name, vx, 100 * r.accuracy) for r in rec.results
                    if axis.per_version and r.name != "fp32" and r.available and r.accuracy is not None
                    and (vx := axis.of_version(r)) is not None and vx > 0]
        out.append(RunPoint(run.number, labels.get(run.number) or f"run {run.number}", rx, 100 * accuracy,
                            versions))
    return out


def energy_kind(runs: Sequence[Run]) -> str:
    """How the training energies of `runs` were obtained: measured, estimated, or both."""
    kinds = {energy.kind(r.record.training_energy) for r in runs if r.record.training_energy is not None}
    return " and ".join(sorted(kinds, reverse=True)) if kinds else "estimated"


def axis_title(x: str, runs: Sequence[Run] = ()) -> str:
    """The x axis's title with its unit, and for energy how it was obtained."""
    axis = X_AXES[x]
    if x == "training energy":
        return f"{axis.label} ({axis.unit}, {energy_kind(runs)})"
    return f"{axis.label} ({axis.unit})"


def _range(values: Sequence[float], log: bool) -> tuple[float, float]:
    """The axis range (in log10 units when `log`) over `values`, padded for markers and their names."""
    if log:
        lo, hi = np.log10(min(values)), np.log10(max(values))
        pad = 0.15 * (hi - lo) + 0.1
        return lo - pad, hi + pad
    lo, hi = min(values), max(values)
    pad = 0.15 * (hi - lo) if hi > lo else 0.25 * abs(hi) or 1.0
    return max(lo - pad, 0.0), hi + pad


def accuracy_chart(points: Sequence[RunPoint], x: str, *, x_title: str | None = None,
                   width: float = 700) -> go.Figure:
    """Accuracy against `x` (a key of X_AXES) for each run, its versions joined to it by thin lines.
    Each run is named in the legend and, where its name overlaps nothing, beside its marker."""
    axis = X_AXES[x]
    if not points:
        return empty(f"No run has a {axis.label} yet")
    xs = [p.x for p in points] + [v.x for p in points for v in p.versions]
    ys = [p.accuracy for p in points] + [v.accuracy for p in points for v in p.versions]
    log = max(xs) / min(xs) > WIDE_RANGE
    x_lo, x_hi = _range(xs, log)
    span = max(max(ys) - min(ys), 1.0)
    y_lo, y_hi = max(min(ys) - 0.2 * span, 0.0), min(max(ys) + 0.2 * span, 100 + 0.05 * span)
    height = 420
    plot_w, plot_h = width - 90, height - 12 - TITLE_PX - 70

    def px(vx: float, vy: float) -> tuple[float, float]:
        at = np.log10(vx) if log else vx
        return (at - x_lo) / (x_hi - x_lo) * plot_w, (vy - y_lo) / (y_hi - y_lo) * plot_h

    # Names: the runs' first, then the versions' where room is left; none on a line or a marker. Where
    # several runs have versions, each version's name says its run: two "int8-static" told apart by
    # colour alone read as one.
    marks = [px(p.x, p.accuracy) for p in points] + [px(v.x, v.accuracy) for p in points for v in p.versions]
    several = sum(1 for p in points if p.versions) > 1
    version_names = [f"{v.name} (run {p.number})" if several else v.name for p in points for v in p.versions]
    names = [p.label for p in points] + version_names
    segments = [(px(p.x, p.accuracy), px(v.x, v.accuracy)) for p in points for v in p.versions]
    spots = place_labels(marks, names, (plot_w, plot_h), lines=segments)
    run_spots, version_spots = spots[:len(points)], iter(spots[len(points):])
    order = {name: i + 1 for i, name in enumerate(sorted({v.name for p in points for v in p.versions}))}
    unit = axis.unit

    fig = go.Figure()
    for i, p in enumerate(points):
        for v in p.versions:
            fig.add_trace(go.Scatter(x=[p.x, v.x], y=[p.accuracy, v.accuracy], mode="lines", showlegend=False,
                                     line=dict(color=colour(i), width=1), opacity=0.7, hoverinfo="skip",
                                     legendgroup=str(p.number)))
    for i, (p, spot) in enumerate(zip(points, run_spots)):
        fig.add_trace(go.Scatter(
            x=[p.x], y=[p.accuracy], mode="markers+text" if spot else "markers", text=[p.label] if spot else None,
            textposition=spot, cliponaxis=False, name=f"run {p.number}: {p.label}" if p.label != f"run {p.number}"
            else p.label, legendgroup=str(p.number),
            marker=dict(size=2 * MARKER_PX, color=colour(i), symbol="circle", line=dict(width=1, color=GREY)),
            hovertemplate=(f"<b>run {p.number}</b>: {p.label}<br>%{{x:.3g}} {unit}"
                           "<br>%{y:.2f} % test accuracy (fp32)<extra></extra>")))
    # The versions over the runs' markers: one as accurate and as large as its fp32 stays in sight.
    shown_names = iter(version_names)
    for i, p in enumerate(points):
        for v in p.versions:
            vspot, vname = next(version_spots), next(shown_names)
            fig.add_trace(go.Scatter(
                x=[v.x], y=[v.accuracy], mode="markers+text" if vspot else "markers",
                text=[vname] if vspot else None, textposition=vspot, cliponaxis=False, showlegend=False,
                textfont=dict(size=11, color=colour(i)), legendgroup=str(p.number), name=v.name,
                marker=dict(size=MARKER_PX + 3, color=colour(i), symbol=symbol(order[v.name]), opacity=0.85,
                            line=dict(width=1, color=GREY)),
                hovertemplate=(f"<b>{v.name}</b> of run {p.number} ({p.label})<br>%{{x:.3g}} {unit}"
                               "<br>%{y:.2f} % test accuracy<extra></extra>")))
    title = x_title or axis_title(x)
    if log:
        fig.update_xaxes(title_text=f"{title}, log scale", **log_axis(10 ** x_lo, 10 ** x_hi, unit, pad=0))
    else:
        fig.update_xaxes(title_text=title, range=[x_lo, x_hi])
    zoomed = y_lo > 0
    fig.update_yaxes(title_text="test accuracy (%, axis zoomed)" if zoomed else "test accuracy (%)",
                     range=[y_lo, y_hi])
    if any(p.versions for p in points):
        fig.update_layout(legend_title=dict(text="large dot: a run's model (fp32); small: its compressed versions, "
                                                 "each joined to it", side="top", font=dict(size=11)))
    return layout(fig, height=height, title=f"Accuracy vs {axis.label}: up and left is better", width=width)


# --- the table ---------------------------------------------------------------------------------------

STARTED = "started"   # service.runs' column: when the run started, as an ISO 8601 string


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local(text: str, zone: ZoneInfo) -> str:
    """'2026-12-06T20:47:34+0000' as '6 Dec, 21:47:34' in `zone`; anything else as it is."""
    try:
        t = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z").astimezone(zone)
    except (TypeError, ValueError):
        return text
    return f"{t.day} {t:%b}, {t:%H:%M:%S}"


def decimals(values: Sequence) -> int | None:
    """Decimals that show 3 significant digits of the smallest non-zero number in `values`, where that
    is more than a table shows by itself (below 0.01); None otherwise. A cost of 1.34e-05 EUR read as
    '0.00001' (the table's own rounding) or, formatted elsewhere, in scientific notation."""
    small = [abs(v) for v in values if isinstance(v, float) and v and math.isfinite(v)]
    if not small or min(small) >= 0.01:
        return None
    return min(2 - math.floor(math.log10(min(small))), 12)


def readable_table(rows: list[dict], zone: str | None) -> tuple[list[dict], dict[str, str]]:
    """The Results table as a student reads it: when each run started in their own time zone (the
    column says which), and for each number column whose small values need it, a printf format with
    enough decimals (column -> '%.7f'). `zone`: an IANA name such as the browser's; None: UTC."""
    tz = _zone(zone)
    started = f"{STARTED} ({tz.key})"
    out = [{(started if k == STARTED else k): (_local(v, tz) if k == STARTED else v) for k, v in row.items()}
           for row in rows]
    formats = {}
    for column in (out[0] if out else {}):
        if (d := decimals([row[column] for row in out])) is not None:
            formats[column] = f"%.{d}f"
    return out, formats
