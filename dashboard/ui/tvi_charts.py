"""Charts of the Training vs inference page: pure functions from engine results to plotly Figures.

Bars are always on linear axes that start at zero (a bar's length is its value); where values
span orders of magnitude the bar carries its number, and the table beside it the ratio. Only the
break-even chart, whose lines are not bars, uses log axes, with ticks written in full (charts.log_ticks).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.lab import fmt

from dashboard.ui.charts import GREY, INFER_COLOUR, ORANGE, PURPLE, TRAIN_COLOUR, layout, empty, log_ticks

REGIME_COLOURS = (TRAIN_COLOUR, ORANGE, INFER_COLOUR)   # training, real-time, serving


def _scale(values: Sequence[float | None], units: Sequence[tuple[float, str]]) -> tuple[float, str]:
    """The largest unit in which the largest value is at least 1: (factor, unit)."""
    top = max((abs(v) for v in values if v), default=0.0)
    for factor, unit in units:
        if top >= factor:
            return factor, unit
    return units[-1]


TIME_UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))
FLOP_UNITS = ((1e9, "GFLOP"), (1e6, "MFLOP"), (1e3, "kFLOP"), (1.0, "FLOP"))
ENERGY_UNITS = ((1.0, "J"), (1e-3, "mJ"), (1e-6, "µJ"), (1e-9, "nJ"))
CO2_UNITS = ((1.0, "g"), (1e-3, "mg"), (1e-6, "µg"), (1e-9, "ng"))


def regimes(labels: Sequence[str], metrics: Sequence[tuple[str, Sequence[float | None], Sequence]],
            *, height: int = 360) -> go.Figure:
    """One panel per metric (title, one value per regime, units table), one bar per regime named in
    the legend, linear axes from zero, each bar labelled with its value in the panel's unit."""
    metrics = [m for m in metrics if any(v for v in m[1])]
    if not metrics:
        return empty("Nothing measured yet")
    fig = make_subplots(rows=1, cols=len(metrics), horizontal_spacing=0.07,
                        subplot_titles=[m[0] for m in metrics])
    for i, (title, values, units) in enumerate(metrics):
        factor, unit = _scale(values, units)
        ys = [v / factor if v else None for v in values]
        for k, (label, y) in enumerate(zip(labels, ys)):
            fig.add_trace(go.Bar(x=[label], y=[y], name=label, legendgroup=label, showlegend=i == 0,
                                 marker_color=REGIME_COLOURS[k % len(REGIME_COLOURS)],
                                 text=["not measured" if y is None else f"{y:.3g} {unit}"], textposition="outside",
                                 textfont={"size": 12}, cliponaxis=False,
                                 hovertemplate=label + ": %{y:.3g} " + unit + "<extra></extra>"), 1, i + 1)
        top = max((y for y in ys if y is not None), default=1.0)
        fig.update_yaxes(title_text=f"{unit} per image", range=[0, top * 1.25], rangemode="tozero",
                         row=1, col=i + 1)
    fig.update_xaxes(showticklabels=False)
    fig.update_layout(bargap=0.15)
    return layout(fig, height=height, headroom=24)


def breakeven(training_j: float, lines: Sequence[tuple[str, float, float | None]], kind: str) -> go.Figure:
    """Cumulative inference energy per regime (label, joules per inference, break-even count)
    against the one-off training energy: where a line crosses training, inference has cost as
    much as training did. Log axes (these are lines, not bars) with plain tick labels."""
    lines = [ln for ln in lines if ln[1]]
    if not lines:
        return empty("No inference energy measured yet")
    top = max(max((b or 1) for _, _, b in lines) * 10, 1000)
    n = np.logspace(0, np.log10(top), 200)
    fig = go.Figure()
    colours = {0: ORANGE, 1: INFER_COLOUR}
    for i, (label, per_j, be) in enumerate(lines):
        c = colours.get(i, GREY)
        fig.add_trace(go.Scatter(x=n, y=n * per_j, mode="lines", name=f"{label}, cumulative",
                                 line=dict(color=c, width=3)))
        if be:
            fig.add_trace(go.Scatter(x=[be], y=[training_j], mode="markers", showlegend=False,
                                     marker=dict(size=13, color=c, symbol="x"),
                                     hovertemplate=f"{label}: break-even after %{{x:,.0f}} inferences<extra></extra>"))
    fig.add_trace(go.Scatter(x=[1, top], y=[training_j, training_j], mode="lines", name="training (paid once)",
                             line=dict(color=TRAIN_COLOUR, width=3, dash="dash")))
    ymin = min(per_j for _, per_j, _ in lines)
    ymax = max(top * max(per_j for _, per_j, _ in lines), training_j)
    xv, xt = log_ticks(1, top)
    yv, yt = log_ticks(ymin, ymax)
    fig.update_xaxes(title_text="inferences served (count, log scale)", type="log", tickvals=xv, ticktext=xt)
    fig.update_yaxes(title_text=f"{kind} energy (J, log scale)", type="log", tickvals=yv, ticktext=yt)
    return layout(fig, height=400)


def lifetime(days: float, training: float, inference: float, unit: str) -> go.Figure:
    """Training (paid once, day 0) and inference (growing every day) over the deployment's lifetime:
    `training` and `inference` are the totals at the end, in `unit`."""
    xs = np.linspace(0, max(days, 1), 100)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=np.full_like(xs, training), mode="lines", stackgroup="one",
                             name="training (once)", line=dict(color=TRAIN_COLOUR)))
    fig.add_trace(go.Scatter(x=xs, y=xs / max(days, 1) * inference, mode="lines", stackgroup="one",
                             name="inference (accumulates daily)", line=dict(color=INFER_COLOUR)))
    fig.update_xaxes(title_text="days in service (days)")
    fig.update_yaxes(title_text=f"cumulative total ({unit})", rangemode="tozero")
    return layout(fig, height=340)


MEMORY_PARTS = (("weights", "weights", INFER_COLOUR), ("gradients", "gradients", TRAIN_COLOUR),
                ("optimizer_state", "optimizer state", PURPLE), ("activations", "activations", ORANGE),
                ("other", "other (input, temporaries)", GREY))


MEMORY_UNITS = ((2 ** 30, "GiB"), (2 ** 20, "MiB"), (2 ** 10, "KiB"), (1, "bytes"))   # as lab.fmt.size


def memory(training: dict, inference: dict, *, batch: int) -> go.Figure:
    """Peak memory of one training step and one inference, stacked by what holds it (linear, in the
    unit of lab.fmt.size that shows the larger peak; each part's hover text in its own unit, so a
    small part never reads 0)."""
    fig = go.Figure()
    rows = ["one training step", "one inference"]
    factor, unit = _scale([training.get("peak", 0), inference.get("peak", 0)], MEMORY_UNITS)
    for key, label, c in MEMORY_PARTS:
        values = [training.get(key, 0), inference.get(key, 0)]
        fig.add_trace(go.Bar(y=rows, x=[v / factor for v in values], orientation="h", name=label, marker_color=c,
                             text=[fmt.size(v) for v in values], textposition="none",
                             hovertemplate=label + ": %{text}<extra></extra>"))
    for row, d in zip(rows, (training, inference)):
        fig.add_annotation(y=row, x=d.get("peak", 0) / factor, text=f"  {fmt.size(d.get('peak', 0))}",
                           showarrow=False, xanchor="left")
    top = max(training.get("peak", 0), inference.get("peak", 0)) / factor
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text=f"peak memory at batch {batch} ({unit})", range=[0, top * 1.2])
    fig.update_yaxes(autorange="reversed")
    return layout(fig, height=250)


def layer_flops(names: Sequence[str], forward: Sequence[float], backward: Sequence[float]) -> go.Figure:
    """Forward and backward FLOPs per layer for one image, side by side (linear)."""
    if not names:
        return empty("No layers with FLOPs")
    factor, unit = _scale(list(forward) + list(backward), FLOP_UNITS)
    fig = go.Figure()
    for label, values, c in (("forward (inference and training)", forward, INFER_COLOUR),
                             ("backward (training only)", backward, TRAIN_COLOUR)):
        fig.add_trace(go.Bar(x=list(names), y=[v / factor for v in values], name=label, marker_color=c,
                             hovertemplate="%{x}: %{y:.3g} " + unit + "<extra></extra>"))
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="layer (in the order the image passes through)", type="category")
    fig.update_yaxes(title_text=f"{unit} per image", rangemode="tozero")
    return layout(fig, height=340)

