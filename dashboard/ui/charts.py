"""Charts: pure functions from engine results to plotly Figures.

One colour-blind-safe palette (Okabe & Ito 2008, without black and yellow, which vanish on
dark and light backgrounds). No background or font colours are set, so Streamlit's theme makes
every chart readable in light and dark mode. Every axis says its unit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

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


def _layout(fig: go.Figure, *, height: int = 360, title: str | None = None, legend: bool = True,
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


def _log_axis(lo: float, hi: float, unit: str, pad: float = 0.08, pad_hi: float | None = None,
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
    return _layout(fig, height=height, legend=False)


# --- Home -----------------------------------------------------------------------------------

def training_vs_inference_diagram() -> go.Figure:
    """The picture on the Home page: training is a loop that changes the weights;
    inference is one forward pass through frozen weights."""
    fig = go.Figure()
    boxes = [  # (x0, x1, y, text, colour)
        (0.00, 0.17, 2, "Labelled<br>images", TRAIN_COLOUR),
        (0.24, 0.41, 2, "Model<br>(forward pass)", TRAIN_COLOUR),
        (0.48, 0.65, 2, "Loss: how<br>wrong?", TRAIN_COLOUR),
        (0.72, 0.89, 2, "Gradients<br>(backward pass)", TRAIN_COLOUR),
        (0.00, 0.17, 0, "New image", INFER_COLOUR),
        (0.24, 0.41, 0, "Trained model<br>(weights frozen)", INFER_COLOUR),
        (0.48, 0.65, 0, "Prediction<br>\"7\"", INFER_COLOUR),
    ]
    for x0, x1, y, text, c in boxes:
        fig.add_shape(type="rect", x0=x0, x1=x1, y0=y - 0.38, y1=y + 0.38, line=dict(color=c, width=2),
                      fillcolor=c, opacity=0.22, layer="below")
        fig.add_annotation(x=(x0 + x1) / 2, y=y, text=f"<b>{text}</b>", showarrow=False, font=dict(size=14))
    arrows = [(0.17, 0.24, 2), (0.41, 0.48, 2), (0.65, 0.72, 2), (0.17, 0.24, 0), (0.41, 0.48, 0)]
    for x0, x1, y in arrows:
        fig.add_annotation(x=x1, y=y, ax=x0, ay=y, xref="x", yref="y", axref="x", ayref="y",
                           showarrow=True, arrowhead=3, arrowwidth=2, arrowcolor=GREY, text="")
    # The loop back: gradients update the model's weights, then the next batch comes.
    fig.add_annotation(x=0.325, y=2.42, ax=0.805, ay=2.42, xref="x", yref="y", axref="x", ayref="y",
                       showarrow=True, arrowhead=3, arrowwidth=2, arrowcolor=TRAIN_COLOUR, text="")
    fig.add_annotation(x=0.565, y=2.62, text="update the weights, take the next batch, repeat thousands of times",
                       showarrow=False, font=dict(size=12, color=TRAIN_COLOUR))
    fig.add_annotation(x=0.0, y=0.62, xref="x", yref="y", showarrow=False, xanchor="left",
                       text="<b>Inference</b>: once per request, forward pass only", font=dict(color=INFER_COLOUR, size=14))
    fig.add_annotation(x=0.0, y=3.0, xref="x", yref="y", showarrow=False, xanchor="left",
                       text="<b>Training</b>: forward + backward + update, over and over", font=dict(color=TRAIN_COLOUR, size=14))
    fig.update_xaxes(visible=False, range=[-0.02, 0.92], fixedrange=True)
    fig.update_yaxes(visible=False, range=[-0.5, 3.25], fixedrange=True)
    return _layout(fig, height=300, legend=False)


# --- Train ----------------------------------------------------------------------------------

def training_curves(steps: Sequence, epochs: Sequence) -> go.Figure:
    """Loss and accuracy while training: the running values every few steps (lines) and the
    test-set values after each epoch (markers)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss (lower is better)", "Accuracy (higher is better)"),
                        horizontal_spacing=0.1)
    if steps:
        xs = [s.samples_seen for s in steps]
        fig.add_trace(go.Scatter(x=xs, y=[s.loss for s in steps], mode="lines", name="training batches",
                                 line=dict(color=TRAIN_COLOUR, width=2), legendgroup="train"), 1, 1)
        fig.add_trace(go.Scatter(x=xs, y=[100 * s.running_accuracy for s in steps], mode="lines",
                                 name="training batches", line=dict(color=TRAIN_COLOUR, width=2),
                                 legendgroup="train", showlegend=False), 1, 2)
        last = steps[-1]
        if last.overflowed:   # the loss became NaN/inf: drawn at a stand-in height, said so
            fig.add_trace(go.Scatter(x=[last.samples_seen], y=[last.loss], mode="markers+text", showlegend=False,
                                     text=["loss became NaN/∞ here"], textposition="middle left",
                                     marker=dict(color=TRAIN_COLOUR, size=14, symbol="x"),
                                     hovertemplate="the loss overflowed here<extra></extra>"), 1, 1)
    if epochs:
        xs = [e.samples_seen for e in epochs]
        text = [f"epoch {e.epoch}" for e in epochs]
        fig.add_trace(go.Scatter(x=xs, y=[e.test_loss for e in epochs], mode="markers+lines", text=text,
                                 name="test set (after each epoch)", legendgroup="test",
                                 marker=dict(color=INFER_COLOUR, size=10, symbol="diamond"),
                                 line=dict(color=INFER_COLOUR, dash="dot")), 1, 1)
        fig.add_trace(go.Scatter(x=xs, y=[100 * e.test_accuracy for e in epochs], mode="markers+lines", text=text,
                                 name="test set (after each epoch)", legendgroup="test", showlegend=False,
                                 marker=dict(color=INFER_COLOUR, size=10, symbol="diamond"),
                                 line=dict(color=INFER_COLOUR, dash="dot")), 1, 2)
    fig.update_xaxes(title_text="training images seen (count)", rangemode="tozero")
    # Cross-entropy, the loss the model learns from; its natural-log unit ("nats") means nothing to a student.
    fig.update_yaxes(title_text="loss (cross-entropy, mean per image)", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="accuracy (%)", range=[0, 100], row=1, col=2)
    # 300 px: with the settings folded away, the curves fit under Train's button on a 1280x720 screen.
    return _layout(fig, height=300, headroom=24)


def confusion_heatmap(counts: np.ndarray, classes: Sequence[str]) -> go.Figure:
    labels = [str(c) for c in classes]
    fig = go.Figure(go.Heatmap(z=counts, x=labels, y=labels, colorscale=SEQUENTIAL, text=counts,
                               texttemplate="%{text}", hovertemplate="true %{y}, predicted %{x}: %{z} images<extra></extra>",
                               colorbar=dict(title="images (count)")))
    fig.update_xaxes(title_text="predicted class", type="category", side="bottom")
    fig.update_yaxes(title_text="true class", type="category", autorange="reversed")
    return _layout(fig, height=420, legend=False)


def weight_histograms(histograms: Sequence) -> go.Figure:
    """One panel per Conv2d/Linear layer: how its weights are spread."""
    n = max(len(histograms), 1)
    cols = 2
    rows = (n + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[
        f"{h.name}: {h.params:,} weights, {100 * (1 - h.nonzero / h.params):.0f} % zero" for h in histograms],
        vertical_spacing=0.18 if rows > 1 else 0.1)
    for i, h in enumerate(histograms):
        centres = (h.edges[:-1] + h.edges[1:]) / 2
        fig.add_trace(go.Bar(x=centres, y=h.counts, width=np.diff(h.edges), marker_color=colour(i),
                             name=h.name, hovertemplate="weight %{x:.3f}: %{y} weights<extra></extra>"),
                      i // cols + 1, i % cols + 1)
    fig.update_xaxes(title_text="weight value (unitless)")
    fig.update_yaxes(title_text="weights (count)")
    return _layout(fig, height=260 * rows, legend=False, headroom=24)


def _mosaic(images: np.ndarray, cols: int, pad: float = np.nan) -> np.ndarray:
    n, h, w = images.shape[:3]
    rows = (n + cols - 1) // cols
    shape = (rows * (h + 1) - 1, cols * (w + 1) - 1) + images.shape[3:]
    out = np.full(shape, pad, dtype=float)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = img
    return out


def first_layer_filters(images: np.ndarray) -> go.Figure:
    """Filters (or neuron weights) as small pictures; purple negative, orange positive."""
    n = len(images)
    cols = 8 if n >= 8 else max(n, 1)
    if images.ndim == 4:  # colour: map -1..1 to 0..255 per channel
        mosaic = _mosaic((images + 1) * 127.5, cols, pad=255.0)
        fig = go.Figure(go.Image(z=np.nan_to_num(mosaic, nan=255.0).astype(np.uint8)))
    else:
        mosaic = _mosaic(images, cols)
        fig = go.Figure(go.Heatmap(z=mosaic, colorscale=DIVERGING, zmin=-1, zmax=1,
                                   colorbar=dict(title="weight<br>(scaled, -1..1)"),
                                   hovertemplate="%{z:.2f}<extra></extra>"))
        fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(visible=False, scaleanchor="y", constrain="domain")
    fig.update_yaxes(visible=False)
    rows = (n + cols - 1) // cols
    return _layout(fig, height=min(140 + 90 * rows, 620), legend=False)


# --- Compress & benchmark ---------------------------------------------------------------------

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


def accuracy_vs_time(names: Sequence[str], ms_per_image: Sequence[float | None], accuracy: Sequence[float],
                     *, batch: int, width: float = 700) -> go.Figure:
    """Accuracy against time per image for each variant (log time axis), the best trade-offs joined
    up. Every variant is in the legend; only the best trade-offs are also named in the plot, each
    where its name overlaps nothing (`width`: the narrowest width the chart is drawn at)."""
    pts = [(t, 100 * a, n) for n, t, a in zip(names, ms_per_image, accuracy)
           if t is not None and t > 0 and a is not None]
    if not pts:
        return empty("No measurements yet")
    xs, ys = [t for t, _, _ in pts], [a for _, a, _ in pts]
    front = pareto_front([(t, a) for t, a, _ in pts])
    # The accuracy axis spans the measured values (zoomed, and it says so), with room above for names.
    span = max(max(ys) - min(ys), 0.5)
    y_lo, y_hi = max(min(ys) - 0.15 * span, 0.0), max(ys) + 0.3 * span
    decades = np.log10(max(xs) / min(xs))
    pad = 0.2 * decades + 0.12
    x_lo, x_hi = np.log10(min(xs)) - pad, np.log10(max(xs)) + pad
    height = 400
    plot_w, plot_h = width - 80, height - 12 - TITLE_PX - 60   # less the axes' ticks and titles
    px = [((np.log10(t) - x_lo) / (x_hi - x_lo) * plot_w, (a - y_lo) / (y_hi - y_lo) * plot_h) for t, a, _ in pts]
    spots = place_labels(px, [n if i in front else None for i, (_, _, n) in enumerate(pts)], (plot_w, plot_h),
                         lines=[[px[i] for i in front]])

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[pts[i][0] for i in front], y=[pts[i][1] for i in front], mode="lines",
                             line=dict(color=GREY, dash="dash"), name=PARETO_NAME, hoverinfo="skip"))
    for i, ((t, a, n), spot) in enumerate(zip(pts, spots)):
        fig.add_trace(go.Scatter(
            x=[t], y=[a], mode="markers+text" if spot else "markers", text=[n] if spot else None,
            textposition=spot, cliponaxis=False, name=n,
            marker=dict(size=2 * MARKER_PX, color=colour(i), symbol=symbol(i), line=dict(width=1, color=GREY)),
            hovertemplate=f"<b>{n}</b><br>%{{x:.3g}} ms per image<br>%{{y:.2f}} % test accuracy<extra></extra>"))
    fig.update_xaxes(title_text="time per image (ms, log scale)", **_log_axis(min(xs), max(xs), "ms", pad=pad))
    zoomed = y_lo > 0
    fig.update_yaxes(title_text="test accuracy (%, axis zoomed)" if zoomed else "test accuracy (%)",
                     range=[y_lo, y_hi])
    fig.update_layout(legend_title=dict(text=PARETO_MEANS, side="top", font=dict(size=11)))
    return _layout(fig, height=height, title=f"Accuracy vs speed, batch {batch}: up and left is better",
                   width=width)


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
    return _layout(fig, height=110 + 32 * len(rows), title=title, legend=False)


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
    fig.update_xaxes(title_text=f"{axis}, log scale", **_log_axis(min(vs), max(vs), "", pad=0.1,
                                                                  pad_hi=0.6 * (span + 0.2), max_ticks=4))
    fig.update_yaxes(autorange="reversed", type="category", showgrid=True)
    return _layout(fig, height=110 + 32 * len(rows), title=f"{title} (log scale)", legend=False, width=width)


def amounts(names: Sequence[str], values: Sequence[float | None], *, title: str, axis: str, unit: str) -> go.Figure:
    """Bars when the values are within WIDE_RANGE of each other; otherwise dots on a log axis, said in
    the title and on the axis. Never bars on a log axis."""
    vs = [v for v in values if v is not None and v > 0]
    if len(vs) > 1 and max(vs) / min(vs) > WIDE_RANGE:
        return dots(names, values, title=title, axis=f"{axis} ({unit})", unit=unit)
    return bars(names, values, title=title, axis=f"{axis} ({unit})", suffix=f" {unit}")


def sensitivity(layers: Sequence[str], sparsities: Sequence[float], accuracy: Sequence[Sequence[float]],
                baseline: float | None = None, *, width: float = 700) -> go.Figure:
    """Accuracy when one layer alone is pruned to each sparsity: which layers tolerate it. The
    accuracy axis runs from 0 to 100 %, so a drop looks as large as it is."""
    fig = go.Figure()
    xs = [100 * s for s in sparsities]
    for i, (layer, accs) in enumerate(zip(layers, accuracy)):
        fig.add_trace(go.Scatter(x=xs, y=[100 * a for a in accs], mode="lines+markers", name=layer,
                                 line=dict(color=colour(i), width=2), marker=dict(symbol=symbol(i), size=8),
                                 hovertemplate=f"{layer}<br>%{{x:.0f}} % zero: %{{y:.1f}} %<extra></extra>"))
    if baseline is not None:
        fig.add_hline(y=100 * baseline, line=dict(color=GREY, dash="dash"),
                      annotation_text=f"unpruned model: {100 * baseline:.1f} %", annotation_position="bottom left")
    fig.update_xaxes(title_text="weights of this layer set to zero (%)", range=[0, 100])
    fig.update_yaxes(title_text="test accuracy (%)", range=[0, 102])
    return _layout(fig, height=380, title="Sensitivity: prune one layer at a time", width=width)
