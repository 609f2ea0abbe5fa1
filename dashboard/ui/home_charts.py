"""The Home page's picture of training against inference (lesson 1 draws it too, as figure:training-vs-inference)."""

from __future__ import annotations

import plotly.graph_objects as go

from dashboard.ui.charts import GREY, INFER_COLOUR, TRAIN_COLOUR, layout


def training_vs_inference_diagram() -> go.Figure:
    """The picture on the Home page: training is a loop that changes the weights;
    inference is one forward pass through frozen weights."""
    # Every box, arrow and label is handed to the figure at once: plotly's add_shape / add_annotation
    # re-validate the whole list on each call (35 ms for this picture, on every visit to Home; 8 ms so).
    shapes, notes = [], []
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
        shapes.append(dict(type="rect", x0=x0, x1=x1, y0=y - 0.38, y1=y + 0.38, line=dict(color=c, width=2),
                           fillcolor=c, opacity=0.22, layer="below"))
        notes.append(dict(x=(x0 + x1) / 2, y=y, text=f"<b>{text}</b>", showarrow=False, font=dict(size=14)))
    arrows = [(0.17, 0.24, 2), (0.41, 0.48, 2), (0.65, 0.72, 2), (0.17, 0.24, 0), (0.41, 0.48, 0)]
    for x0, x1, y in arrows:
        notes.append(dict(x=x1, y=y, ax=x0, ay=y, xref="x", yref="y", axref="x", ayref="y",
                          showarrow=True, arrowhead=3, arrowwidth=2, arrowcolor=GREY, text=""))
    # The loop back: gradients update the model's weights, then the next batch comes.
    notes.append(dict(x=0.325, y=2.42, ax=0.805, ay=2.42, xref="x", yref="y", axref="x", ayref="y",
                      showarrow=True, arrowhead=3, arrowwidth=2, arrowcolor=TRAIN_COLOUR, text=""))
    notes.append(dict(x=0.565, y=2.62, text="update the weights, take the next batch, repeat thousands of times",
                      showarrow=False, font=dict(size=12, color=TRAIN_COLOUR)))
    notes.append(dict(x=0.0, y=0.62, xref="x", yref="y", showarrow=False, xanchor="left",
                      text="<b>Inference</b>: once per request, forward pass only",
                      font=dict(color=INFER_COLOUR, size=14)))
    notes.append(dict(x=0.0, y=3.0, xref="x", yref="y", showarrow=False, xanchor="left",
                      text="<b>Training</b>: forward + backward + update, over and over",
                      font=dict(color=TRAIN_COLOUR, size=14)))
    fig = go.Figure(layout=dict(shapes=shapes, annotations=notes))
    fig.update_xaxes(visible=False, range=[-0.02, 0.92], fixedrange=True)
    fig.update_yaxes(visible=False, range=[-0.5, 3.25], fixedrange=True)
    return layout(fig, height=300, legend=False)
