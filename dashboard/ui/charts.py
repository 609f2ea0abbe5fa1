"""What every chart shares: the palette and symbols, the layout that keeps the tool bar, title, legend
and plot apart, numbers and log ticks as people read them, bars / dots / amounts for one figure per
version, and the placement of names beside markers. Each page family's own figures live beside it
(train_charts, compress_charts, home_charts, tvi_charts, hardware_charts, edge_charts, results_charts).

One colour-blind-safe palette (Okabe & Ito 2008, without black and yellow, which vanish on
dark and light backgrounds). No background or font colours are set, so Streamlit's theme makes
every chart readable in light and dark mode. Every axis says its unit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import plotly.graph_objects as go

BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, GREY = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#999999")
PALETTE = (BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, GREY)
TRAIN_COLOUR, INFER_COLOUR = VERMILLION, BLUE   # training vs inference, everywhere
SEQUENTIAL = "Cividis"                           # readable by colour-blind viewers, light to dark
DIVERGING = "PuOr"                               # for weights: negative purple, positive orange


SYMBOLS = ("circle", "square", "diamond", "triangle-up", "triangle-down", "pentagon", "hexagon", "star",
           "cross", "x")

# Sizes the layout plans with. Charts must read at 1280x720 (a projector), where a chart in half a
# page column is about 430 px wide: legends and labels are planned for that width, so on a wider
# screen they only get more room.
NARROW_PX = 430        # the narrowest width a chart is drawn at
CHAR_PX = 7.0          # mean width of a character at plotly's 12 px font
LEGEND_ROW_PX = 22
TITLE_PX = 34
# Plotly's tool bar (zoom, pan, reset, download) appears at the top right when the pointer is over a
# chart: a strip this tall is kept free above the title and legend, so it never covers them.
MODEBAR_PX = 28
MODEBAR_REMOVE = ("select2d", "lasso2d", "zoomIn2d", "zoomOut2d", "autoScale2d")   # no use on these charts
LEGEND_ITEM_PX = 40    # a legend entry's symbol and gaps, before its text
WIDE_RANGE = 20.0      # max / min above which amounts go on a log axis as dots (never as log bars)


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def symbol(i: int) -> str:
    return SYMBOLS[i % len(SYMBOLS)]


def legend_rows(labels: Sequence[str], width: float = NARROW_PX) -> int:
    """How many rows a horizontal legend of `labels` takes in a chart `width` px wide (an estimate).
    Plotly puts them in one row if they fit, else in columns as wide as the widest entry."""
    if not labels:
        return 0
    widths = [LEGEND_ITEM_PX + CHAR_PX * len(label) for label in labels]
    if sum(widths) <= width - 20:
        return 1
    per_row = max(1, int((width - 20) // max(widths)))
    return -(-len(labels) // per_row)


def layout(fig: go.Figure, *, height: int = 360, title: str | None = None, legend: bool = True,
            headroom: int = 0, width: float = NARROW_PX) -> go.Figure:
    """The tool bar's strip at the top, the title at the top left under it, the legend (if any) in rows
    under the title, the plot below them all: nothing overlaps whatever the chart's width. `height` is
    the plot's share; the strip and legend rows add to it. `headroom`: px above the plot for subplot titles."""
    labels = [t.name for t in fig.data if t.name and t.showlegend is not False] if legend else []
    rows = legend_rows(labels, width) if labels else 0
    if rows and fig.layout.legend.title.text:  # a legend title takes a row of its own
        rows += 1
    title_px = TITLE_PX if title else 0
    legend_px = rows * LEGEND_ROW_PX + (6 if rows else 0)
    total = height + legend_px + MODEBAR_PX
    top = MODEBAR_PX + 8   # where the title (or the legend, without one) starts, px from the top
    fig.update_layout(
        meta=dict(planned_width=width),   # the width the legend rows were planned for (tests read it)
        height=total, margin=dict(l=10, r=20, t=4 + top + title_px + legend_px + headroom, b=10),
        title=dict(text=title, x=0, xref="container", xanchor="left", y=1 - top / total, yref="container",
                   yanchor="top", pad=dict(l=10)) if title else None,
        showlegend=bool(rows),
        legend=dict(orientation="h", xref="container", x=0, xanchor="left", yref="container",
                    y=1 - (top + title_px) / total, yanchor="top", traceorder="normal"),
        modebar=dict(remove=list(MODEBAR_REMOVE)))
    # Long tick labels and axis titles push the margins instead of being cut off.
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def num(v: float, trim: bool = True) -> str:
    """A number as people read it: 3 significant digits, no scientific notation (0.0005, 1,690);
    trailing zeros dropped unless `trim` is False (a table column: 1.30 under 1.54)."""
    if v == 0 or not np.isfinite(v):
        return f"{v:g}"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    digits = max(0, 2 - int(np.floor(np.log10(a))))
    text = f"{v:.{digits}f}"
    return text.rstrip("0").rstrip(".") if trim and "." in text else text


def log_ticks(lo: float, hi: float, unit: str = "", max_ticks: int = 7) -> tuple[list[float], list[str]]:
    """Ticks a student reads on a log axis from lo to hi, each written in full with its unit: 1-2-5
    in each decade, or 1-3, or only the powers of ten, whichever gives at most `max_ticks`."""
    lo, hi = min(lo, hi), max(lo, hi)
    decades = range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
    values: list[float] = []
    for steps in ((1, 1.5, 2, 3, 4, 5, 6, 8), (1, 2, 5), (1, 3), (1,)):
        values = [v for v in (float(f"{m}e{e}") for e in decades for m in steps) if lo <= v <= hi]
        if len(values) <= max_ticks:
            break
    suffix = f" {unit}" if unit else ""
    return values, [num(v) + suffix for v in values]


def log_axis(lo: float, hi: float, unit: str, pad: float = 0.08, pad_hi: float | None = None,
              max_ticks: int = 7) -> dict:
    """A log axis over lo..hi (padded by `pad` decades, `pad_hi` on the right if given) with ticks
    from log_ticks (never plotly's '5 6 7 8 9 0.01 2 3')."""
    a, b = np.log10(lo) - pad, np.log10(hi) + (pad if pad_hi is None else pad_hi)
    values, text = log_ticks(10 ** a, 10 ** b, unit, max_ticks)
    return dict(type="log", range=[a, b], tickmode="array", tickvals=values, ticktext=text)


def empty(message: str, height: int = 240) -> go.Figure:
    """A blank chart that says why it is blank (instead of a chart that silently shows nothing)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return layout(fig, height=height, legend=False)


# --- One figure per version: bars, dots, amounts -------------------------------------------

def bars(names: Sequence[str], values: Sequence[float | None], *, title: str, axis: str,
         reference: float | None = None, suffix: str = "", label: Callable[[float], str] | None = None) -> go.Figure:
    """Horizontal bars on a linear axis from zero (a bar's length is its value), one per variant, each
    with its number (`label(value)`, else 3 digits + `suffix`); a dashed line marks the reference
    (e.g. 1x for speed-ups)."""
    rows = [(n, v) for n, v in zip(names, values) if v is not None]
    if not rows:
        return empty(f"{title}: nothing measured")
    fig = go.Figure(go.Bar(y=[n for n, _ in rows], x=[v for _, v in rows], orientation="h",
                           marker_color=[colour(i) for i in range(len(rows))],
                           text=[label(v) if label else num(v) + suffix for _, v in rows], textposition="outside",
                           cliponaxis=False,
                           hovertemplate="%{y}: %{text}<extra></extra>"))
    top = max([v for _, v in rows] + ([reference] if reference is not None else []))
    if reference is not None:
        fig.add_vline(x=reference, line=dict(color=GREY, dash="dash"))
    # Room right of the longest bar for its number.
    fig.update_xaxes(title_text=axis, type="linear", range=[0, 1.3 * top if top > 0 else 1], rangemode="tozero")
    fig.update_yaxes(autorange="reversed", type="category")
    return layout(fig, height=110 + 32 * len(rows), title=title, legend=False)


def dots(names: Sequence[str], values: Sequence[float | None], *, title: str, axis: str, unit: str,
         width: float = NARROW_PX) -> go.Figure:
    """One dot per variant on a log axis, each with its number: for amounts that span orders of
    magnitude, where bars (whose length must be their value) would hide the small ones."""
    rows = [(n, v) for n, v in zip(names, values) if v is not None and v > 0]
    if not rows:
        return empty(f"{title}: nothing measured")
    vs = [v for _, v in rows]
    fig = go.Figure(go.Scatter(y=[n for n, _ in rows], x=vs, mode="markers+text", cliponaxis=False,
                               marker=dict(size=12, color=[colour(i) for i in range(len(rows))]),
                               text=[f"{num(v)} {unit}" for v in vs], textposition="middle right",
                               hovertemplate="%{y}: %{text}<extra></extra>"))
    # Room right of the largest value for its number: a label is ~70 px of a ~200 px plot.
    span = np.log10(max(vs) / min(vs))
    fig.update_xaxes(title_text=f"{axis}, log scale", **log_axis(min(vs), max(vs), "", pad=0.1,
                                                                  pad_hi=0.6 * (span + 0.2), max_ticks=4))
    fig.update_yaxes(autorange="reversed", type="category", showgrid=True)
    return layout(fig, height=110 + 32 * len(rows), title=f"{title} (log scale)", legend=False, width=width)


def amounts(names: Sequence[str], values: Sequence[float | None], *, title: str, axis: str, unit: str) -> go.Figure:
    """Bars when the values are within WIDE_RANGE of each other; otherwise dots on a log axis, said in
    the title and on the axis. Never bars on a log axis."""
    vs = [v for v in values if v is not None and v > 0]
    if len(vs) > 1 and max(vs) / min(vs) > WIDE_RANGE:
        return dots(names, values, title=title, axis=f"{axis} ({unit})", unit=unit)
    return bars(names, values, title=title, axis=f"{axis} ({unit})", suffix=f" {unit}")


# --- Names beside markers ---------------------------------------------------------------------

# Where a label goes around its marker: (textposition, box as offsets from the marker in px, y up).
_LABEL_SPOTS = ("top left", "top right", "bottom right", "bottom left")
MARKER_PX = 7          # marker radius
LABEL_PX = 16          # height of one line of label text


def label_box(x: float, y: float, text: str, spot: str) -> tuple[float, float, float, float]:
    """The box (x0, x1, y0, y1; px, y up) plotly draws `text` in at textposition `spot`."""
    w, r = CHAR_PX * len(text) + 4, MARKER_PX
    x0 = x - r - w if spot.endswith("left") else x + r
    y0 = y + r if spot.startswith("top") else y - r - LABEL_PX
    return x0, x0 + w, y0, y0 + LABEL_PX


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def _along(path: Sequence[tuple[float, float]], step: float = 4.0) -> list[tuple]:
    """Small boxes every `step` px along a polyline (px): a line a label should not cover."""
    boxes = []
    for (x0, y0), (x1, y1) in zip(path, path[1:]):
        n = max(1, int(np.hypot(x1 - x0, y1 - y0) // step))
        boxes += [(x - 1, x + 1, y - 1, y + 1) for x, y in
                  ((x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(n + 1))]
    return boxes


def place_labels(points: Sequence[tuple[float, float]], labels: Sequence[str | None],
                 size: tuple[float, float], lines: Sequence[Sequence[tuple[float, float]]] = ()) -> list[str | None]:
    """A textposition for each labelled point (px, y up, in a plot of `size` px) such that no label
    overlaps another label, any marker or any of the `lines` (each a polyline, px) and each stays
    inside the plot, in the order given (earlier labels get the first pick); None where nothing fits
    (the legend and the hover still name that point)."""
    markers = [(x - MARKER_PX, x + MARKER_PX, y - MARKER_PX, y + MARKER_PX) for x, y in points]
    markers += [box for line in lines for box in _along(line)]
    placed: list[tuple] = []
    out: list[str | None] = []
    for (x, y), text in zip(points, labels):
        spot = None
        if text:
            for candidate in _LABEL_SPOTS:
                box = label_box(x, y, text, candidate)
                inside = box[0] >= 0 and box[1] <= size[0] and box[2] >= 0 and box[3] <= size[1]
                if inside and not any(_overlap(box, m) for m in markers + placed):
                    spot = candidate
                    placed.append(box)
                    break
        out.append(spot)
    return out
