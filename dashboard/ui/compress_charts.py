"""Charts of the Compress & benchmark page: accuracy against time per image with the best trade-offs
joined up, and the sensitivity scan. Pure functions from measured versions to plotly Figures; the bars
and amounts beside them are charts.bars / charts.amounts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from dashboard.ui import charts

PARETO_NAME = "best trade-offs"
PARETO_MEANS = "dashed line = the best trade-offs: nothing else is both faster and more accurate"


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of points no other point beats on both (lower x, higher y), in x order."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -np.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def accuracy_vs_time(names: Sequence[str], ms_per_image: Sequence[float | None], accuracy: Sequence[float],
                     *, batch: int, width: float = 700) -> go.Figure:
    """Accuracy against time per image for each variant (log time axis), the best trade-offs joined
    up. Every variant is in the legend; only the best trade-offs are also named in the plot, each
    where its name overlaps nothing (`width`: the narrowest width the chart is drawn at)."""
    pts = [(t, 100 * a, n) for n, t, a in zip(names, ms_per_image, accuracy)
           if t is not None and t > 0 and a is not None]
    if not pts:
        return charts.empty("No measurements yet")
    xs, ys = [t for t, _, _ in pts], [a for _, a, _ in pts]
    front = pareto_front([(t, a) for t, a, _ in pts])
    # The accuracy axis spans the measured values (zoomed, and it says so), with room above for names.
    span = max(max(ys) - min(ys), 0.5)
    y_lo, y_hi = max(min(ys) - 0.15 * span, 0.0), max(ys) + 0.3 * span
    decades = np.log10(max(xs) / min(xs))
    pad = 0.2 * decades + 0.12
    x_lo, x_hi = np.log10(min(xs)) - pad, np.log10(max(xs)) + pad
    height = 400
    plot_w, plot_h = width - 80, height - 12 - charts.TITLE_PX - 60   # less the axes' ticks and titles
    px = [((np.log10(t) - x_lo) / (x_hi - x_lo) * plot_w, (a - y_lo) / (y_hi - y_lo) * plot_h) for t, a, _ in pts]
    spots = charts.place_labels(px, [n if i in front else None for i, (_, _, n) in enumerate(pts)], (plot_w, plot_h),
                         lines=[[px[i] for i in front]])

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[pts[i][0] for i in front], y=[pts[i][1] for i in front], mode="lines",
                             line=dict(color=charts.GREY, dash="dash"), name=PARETO_NAME, hoverinfo="skip"))
    for i, ((t, a, n), spot) in enumerate(zip(pts, spots)):
        fig.add_trace(go.Scatter(
            x=[t], y=[a], mode="markers+text" if spot else "markers", text=[n] if spot else None,
            textposition=spot, cliponaxis=False, name=n,
            marker=dict(size=2 * charts.MARKER_PX, color=charts.colour(i), symbol=charts.symbol(i), line=dict(width=1, color=charts.GREY)),
            hovertemplate=f"<b>{n}</b><br>%{{x:.3g}} ms per image<br>%{{y:.2f}} % test accuracy<extra></extra>"))
    fig.update_xaxes(title_text="time per image (ms, log scale)", **charts.log_axis(min(xs), max(xs), "ms", pad=pad))
    zoomed = y_lo > 0
    fig.update_yaxes(title_text="test accuracy (%, axis zoomed)" if zoomed else "test accuracy (%)",
                     range=[y_lo, y_hi])
    fig.update_layout(legend_title=dict(text=PARETO_MEANS, side="top", font=dict(size=11)))
    return charts.layout(fig, height=height, title=f"Accuracy vs speed, batch {batch}: up and left is better",
                   width=width)


def sensitivity(layers: Sequence[str], sparsities: Sequence[float], accuracy: Sequence[Sequence[float]],
                baseline: float | None = None, *, width: float = 700) -> go.Figure:
    """Accuracy when one layer alone is pruned to each sparsity: which layers tolerate it. The
    accuracy axis runs from 0 to 100 %, so a drop looks as large as it is."""
    fig = go.Figure()
    xs = [100 * s for s in sparsities]
    for i, (layer, accs) in enumerate(zip(layers, accuracy)):
        fig.add_trace(go.Scatter(x=xs, y=[100 * a for a in accs], mode="lines+markers", name=layer,
                                 line=dict(color=charts.colour(i), width=2), marker=dict(symbol=charts.symbol(i), size=8),
                                 hovertemplate=f"{layer}<br>%{{x:.0f}} % zero: %{{y:.1f}} %<extra></extra>"))
    if baseline is not None:
        fig.add_hline(y=100 * baseline, line=dict(color=charts.GREY, dash="dash"),
                      annotation_text=f"unpruned model: {100 * baseline:.1f} %", annotation_position="bottom left")
    fig.update_xaxes(title_text="weights of this layer set to zero (%)", range=[0, 100])
    fig.update_yaxes(title_text="test accuracy (%)", range=[0, 102])
    return charts.layout(fig, height=380, title="Sensitivity: prune one layer at a time", width=width)
