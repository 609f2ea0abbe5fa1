"""The room's answers to a question, revealed: a pure function from course.room_questions.Reveal to a plotly Figure."""

from __future__ import annotations

import plotly.graph_objects as go

from dashboard.course.room_questions import Reveal
from dashboard.ui.charts import BLUE, NARROW_PX, ORANGE, empty, layout


def answers(reveal: Reveal, *, choice: bool, unit: str, width: float = NARROW_PX) -> go.Figure:
    """How many answered each option (horizontal bars, the options' text beside them), or how many answers fall
    in each range of numbers (a histogram); the bar that holds the measured value in another colour, marked
    "measured". Bars from zero: a bar's length is its count."""
    if not reveal.bars:
        return empty("No answers to show")
    labels = [b.label for b in reveal.bars]
    counts = [b.count for b in reveal.bars]
    colours = [ORANGE if b.measured else BLUE for b in reveal.bars]
    text = [f"{c} · measured" if b.measured else str(c) for b, c in zip(reveal.bars, counts)]
    top = max(counts + [1])
    if choice:
        fig = go.Figure(go.Bar(y=labels, x=counts, orientation="h", marker_color=colours, text=text,
                               textposition="outside", cliponaxis=False,
                               hovertemplate="%{y}: %{x} answers<extra></extra>"))
        fig.update_xaxes(title="answers", rangemode="tozero", range=[0, 1.35 * top], dtick=max(1, round(top / 5)))
        fig.update_yaxes(autorange="reversed", type="category")
        return layout(fig, height=90 + 40 * len(labels), legend=False, width=width)
    fig = go.Figure(go.Bar(x=labels, y=counts, marker_color=colours, text=text, textposition="outside",
                           cliponaxis=False, hovertemplate="%{x}: %{y} answers<extra></extra>"))
    fig.update_xaxes(title=f"prediction ({unit})", type="category", tickangle=-30 if len(labels) > 5 else 0)
    fig.update_yaxes(title="answers", rangemode="tozero", range=[0, 1.25 * top], dtick=max(1, round(top / 5)))
    return layout(fig, height=300, legend=False, width=width)


__all__ = ["answers"]
