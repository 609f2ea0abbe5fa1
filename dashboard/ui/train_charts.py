"""Charts of the Train page: the training curves, and inside the trained model (confusion matrix, weight
histograms, first-layer filters). Pure functions from lab.training results to plotly Figures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.ui.charts import DIVERGING, INFER_COLOUR, SEQUENTIAL, TRAIN_COLOUR, layout, colour


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
    return layout(fig, height=300, headroom=24)


def confusion_heatmap(counts: np.ndarray, classes: Sequence[str]) -> go.Figure:
    labels = [str(c) for c in classes]
    fig = go.Figure(go.Heatmap(z=counts, x=labels, y=labels, colorscale=SEQUENTIAL, text=counts,
                               texttemplate="%{text}", hovertemplate="true %{y}, predicted %{x}: %{z} images<extra></extra>",
                               colorbar=dict(title="images (count)")))
    fig.update_xaxes(title_text="predicted class", type="category", side="bottom")
    fig.update_yaxes(title_text="true class", type="category", autorange="reversed")
    return layout(fig, height=420, legend=False)


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
    return layout(fig, height=260 * rows, legend=False, headroom=24)


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
    return layout(fig, height=min(140 + 90 * rows, 620), legend=False)
