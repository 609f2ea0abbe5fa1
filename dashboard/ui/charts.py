"""Charts: pure functions from engine results to plotly Figures.

One colour-blind-safe palette (Okabe & Ito 2008, without black and yellow, which vanish on
dark and light backgrounds). No background or font colours are set, so Streamlit's theme makes
every chart readable in light and dark mode. Every axis says its unit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, GREY = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#999999")
PALETTE = (BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, GREY)
TRAIN_COLOUR, INFER_COLOUR = VERMILLION, BLUE   # training vs inference, everywhere
SEQUENTIAL = "Cividis"                           # readable by colour-blind viewers, light to dark
DIVERGING = "PuOr"                               # for weights: negative purple, positive orange


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _layout(fig: go.Figure, *, height: int = 360, title: str | None = None, legend: bool = True) -> go.Figure:
    # The legend sits above the plot, clear of titles and subplot titles.
    top = (45 if title else 30) + (35 if legend else 0)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=top, b=10),
                      title=dict(text=title, y=0.98, yanchor="top") if title else None, showlegend=legend,
                      legend=dict(orientation="h", yanchor="top", y=1.0, yref="container",
                                  xanchor="right" if title else "left", x=1.0 if title else 0.0))
    return fig


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
        fig.add_annotation(x=(x0 + x1) / 2, y=y, text=f"<b>{text}</b>", showarrow=False, font=dict(size=13))
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
    fig.update_yaxes(title_text="cross-entropy loss (nats per image)", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="accuracy (%)", range=[0, 100], row=1, col=2)
    return _layout(fig, height=340)


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
    return _layout(fig, height=260 * rows, legend=False)


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
                     *, batch: int) -> go.Figure:
    """Accuracy against time per image for each variant, the Pareto front joined up:
    the variants worth choosing are on the line (nothing is both faster and more accurate)."""
    pts = [(t, 100 * a, n) for n, t, a in zip(names, ms_per_image, accuracy) if t is not None and t > 0]
    if not pts:
        return empty("No measurements yet")
    fig = go.Figure()
    for i, (t, a, n) in enumerate(pts):
        fig.add_trace(go.Scatter(x=[t], y=[a], mode="markers+text", text=[n], textposition="top center", cliponaxis=False,
                                 marker=dict(size=13, color=colour(i), line=dict(width=1, color=GREY)),
                                 name=n, hovertemplate=f"{n}: %{{x:.3g}} ms per image, %{{y:.2f}} %<extra></extra>"))
    front = pareto_front([(t, a) for t, a, _ in pts])
    fig.add_trace(go.Scatter(x=[pts[i][0] for i in front], y=[pts[i][1] for i in front], mode="lines",
                             line=dict(color=GREY, dash="dash"), name="Pareto front", hoverinfo="skip"))
    xs = [t for t, _, _ in pts]
    # Room for the names at both ends: labels are centred on their points.
    pad = (np.log10(max(xs)) - np.log10(min(xs))) * 0.3 + 0.08
    fig.update_xaxes(title_text=f"time per image at batch {batch} (ms, log scale; left is faster)", type="log",
                     range=[np.log10(min(xs)) - pad, np.log10(max(xs)) + pad])
    fig.update_yaxes(title_text="test accuracy (%)")
    return _layout(fig, height=380, title=f"Accuracy vs speed, batch {batch}", legend=False)


def _bar_label(v: float, suffix: str) -> str:
    """3 significant digits without scientific notation: 1,690 not 1.69e+03."""
    return (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}") + suffix


def bars(names: Sequence[str], values: Sequence[float | None], *, title: str, axis: str,
         reference: float | None = None, text_format: str = ".3g", log: bool = False,
         suffix: str = "") -> go.Figure:
    """Horizontal bars, one per variant; a dashed line marks the reference (e.g. 1x for speed-ups)."""
    rows = [(n, v) for n, v in zip(names, values) if v is not None]
    if not rows:
        return empty(f"{title}: nothing measured")
    fig = go.Figure(go.Bar(y=[n for n, _ in rows], x=[v for _, v in rows], orientation="h",
                           marker_color=[colour(i) for i in range(len(rows))],
                           text=[_bar_label(v, suffix) for _, v in rows], textposition="auto",
                           hovertemplate="%{y}: %{x:" + text_format + "}<extra></extra>"))
    if reference is not None:
        fig.add_vline(x=reference, line=dict(color=GREY, dash="dash"))
    fig.update_xaxes(title_text=axis, type="log" if log else "linear")
    fig.update_yaxes(autorange="reversed", type="category")
    return _layout(fig, height=90 + 34 * len(rows), title=title, legend=False)


def sensitivity(layers: Sequence[str], sparsities: Sequence[float], accuracy: Sequence[Sequence[float]],
                baseline: float | None = None) -> go.Figure:
    """Accuracy when one layer alone is pruned to each sparsity: which layers tolerate it."""
    fig = go.Figure()
    xs = [100 * s for s in sparsities]
    for i, (layer, accs) in enumerate(zip(layers, accuracy)):
        fig.add_trace(go.Scatter(x=xs, y=[100 * a for a in accs], mode="lines+markers", name=layer,
                                 line=dict(color=colour(i), width=2)))
    if baseline is not None:
        fig.add_hline(y=100 * baseline, line=dict(color=GREY, dash="dash"),
                      annotation_text="unpruned", annotation_position="bottom left")
    fig.update_xaxes(title_text="weights of this layer set to zero (%)")
    fig.update_yaxes(title_text="test accuracy (%)")
    return _layout(fig, height=360, title="Sensitivity: prune one layer at a time")


# --- Training vs inference -----------------------------------------------------------------

def per_image_comparison(metrics: Sequence[tuple[str, str, float | None, float | None]]) -> go.Figure:
    """One panel per metric (title, unit, training value, inference value), log scale:
    the gap is often several orders of magnitude."""
    metrics = [m for m in metrics if m[2] is not None or m[3] is not None]
    if not metrics:
        return empty("Train a model and measure it first")
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[m[0] for m in metrics], horizontal_spacing=0.09)
    for i, (title, unit, train, infer) in enumerate(metrics):
        fig.add_trace(go.Bar(x=["training", "inference"], y=[train, infer],
                             marker_color=[TRAIN_COLOUR, INFER_COLOUR], showlegend=False,
                             texttemplate="%{y:.3s}" + unit, textposition="outside", cliponaxis=False,
                             hovertemplate="%{x}: %{y:.3g} " + unit + "<extra></extra>"), 1, i + 1)
        fig.update_yaxes(title_text=f"{unit} per image (log scale)", type="log", dtick=1, exponentformat="SI",
                         row=1, col=i + 1)
    return _layout(fig, height=360, legend=False)


def breakeven(training_j: float, per_inference_j: float, breakeven_n: float | None,
              kind: str = "estimated") -> go.Figure:
    """Cumulative inference energy against the one-off training energy: where the lines cross,
    inference has cost as much as training did."""
    top = max((breakeven_n or 1) * 10, 1000)
    n = np.logspace(0, np.log10(top), 200)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=n, y=n * per_inference_j, mode="lines", name="inference, cumulative",
                             line=dict(color=INFER_COLOUR, width=3)))
    fig.add_trace(go.Scatter(x=[1, top], y=[training_j, training_j], mode="lines", name="training (paid once)",
                             line=dict(color=TRAIN_COLOUR, width=3, dash="dash")))
    if breakeven_n:
        fig.add_trace(go.Scatter(x=[breakeven_n], y=[training_j], mode="markers+text", name="break-even",
                                 text=[f"break-even: {breakeven_n:,.0f} inferences"], textposition="top left",
                                 marker=dict(size=14, color=GREY, symbol="x")))
    fig.update_xaxes(title_text="inferences served (count, log scale)", type="log", dtick=1, exponentformat="SI")
    fig.update_yaxes(title_text=f"{kind} energy (J, log scale)", type="log", dtick=1, exponentformat="SI")
    return _layout(fig, height=380)


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
    fig.update_yaxes(title_text=f"cumulative total ({unit})")
    return _layout(fig, height=340)
