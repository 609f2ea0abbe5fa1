"""Charts of the Edge & cloud page: pure functions from lab.deploy.edge / lab.deploy.cloud_edge to plotly Figures."""

from __future__ import annotations

from math import log10

import plotly.graph_objects as go

from dashboard.lab import fmt
from dashboard.lab.deploy.cloud_edge import CloudVsEdge
from dashboard.lab.deploy.edge import EdgeRun, KiB
from dashboard.ui.charts import GREY, NARROW_PX, layout, log_axis, colour, empty, num

FITS, MISSES = colour(2), colour(3)


def fit_map(run: EdgeRun, *, width: float = 700) -> go.Figure:
    """Memory each version needs (weights + peak activations, KiB) against its latency per call (ms),
    both on log axes, with the profile's budgets as lines: the versions in the lower-left box fit."""
    shown = [f for f in run.fits if f.memory_bytes is not None and f.latency_ms]
    if not shown:
        return empty("No version this device can run was measured")
    p = run.profile
    fig = go.Figure()
    # A disturbed time decides no fit (lab.deploy.edge.Fit.fits_latency): its own mark, not "misses a budget".
    groups = (("fits both budgets", FITS, "circle", [f for f in shown if f.fits]),
              ("misses a budget", MISSES, "x", [f for f in shown if not f.fits and not f.disturbed]),
              ("time disturbed: no fit decided", GREY, "circle-open", [f for f in shown if not f.fits and f.disturbed]))
    for name, colour_, mark, group in groups:
        if group:
            fig.add_trace(go.Scatter(
                x=[f.memory_bytes / KiB for f in group], y=[f.latency_ms for f in group], mode="markers+text",
                name=name, text=[f.name for f in group],
                textposition="top center", textfont=dict(size=11),
                marker=dict(size=11, color=colour_, symbol=mark),
                hovertemplate="%{text}<br>%{x:,.1f} KiB<br>%{y:.3f} ms per call<extra></extra>"))
    xs = [f.memory_bytes / KiB for f in shown]
    ys = [f.latency_ms for f in shown]
    if p.memory_budget is not None:
        xs.append(p.memory_budget / KiB)
        fig.add_vline(x=p.memory_budget / KiB, line=dict(color=GREY, dash="dash", width=1.5))
        fig.add_annotation(x=log10(p.memory_budget / KiB), y=1, yref="paper", xanchor="right", yanchor="top",
                           showarrow=False, font=dict(size=11), text=f"memory budget {fmt.size(p.memory_budget)} ")
    ys.append(p.latency_budget_ms)
    fig.add_hline(y=p.latency_budget_ms, line=dict(color=GREY, dash="dot", width=1.5))
    fig.add_annotation(x=0, xref="paper", y=log10(p.latency_budget_ms), xanchor="left", yanchor="bottom",
                       showarrow=False, font=dict(size=11), text=f"latency budget {num(p.latency_budget_ms)} ms")
    fig.update_xaxes(title="memory needed: weights + peak activations", **log_axis(min(xs), max(xs), "KiB", pad=0.3))
    fig.update_yaxes(title="time per call (ms)", **log_axis(min(ys), max(ys), "ms", pad=0.3))
    return layout(fig, height=400, width=width)


def cloud_vs_edge(c: CloudVsEdge, device_title: str, *, width: float = NARROW_PX) -> go.Figure:
    """Time to an answer for one request: the network's round trip and the server's compute, stacked,
    against the device's own compute, on one linear axis from zero (ms)."""
    fig = go.Figure()
    rows = ["in the cloud", f"on the device ({device_title})"]
    fig.add_trace(go.Bar(y=rows, x=[c.rtt_ms, 0], name="network round trip", orientation="h",
                         marker_color=GREY, hovertemplate="%{x:.1f} ms network<extra></extra>"))
    fig.add_trace(go.Bar(y=rows, x=[c.server_ms, c.device_ms], name="compute (measured here)", orientation="h",
                         marker_color=colour(0), hovertemplate="%{x:.3f} ms compute<extra></extra>"))
    for row, total in zip(rows, (c.cloud_ms, c.device_ms)):
        fig.add_annotation(y=row, x=total, xanchor="left", showarrow=False, text=f" {num(total)} ms",
                           font=dict(size=12))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title="time to the answer (ms)", rangemode="tozero",
                     range=[0, max(c.cloud_ms, c.device_ms) * 1.25])
    fig.update_yaxes(autorange="reversed")
    return layout(fig, height=190, width=width)


__all__ = ["cloud_vs_edge", "fit_map"]
