"""Charts of the Hardware page: pure functions from lab.measure.peak / lab.measure.roofline / lab.measure.accelerators to plotly Figures.

Wide ranges (a batch-1 call does a millionth of a big matmul's work) go on log axes as dots and
lines with labelled ticks; bars only ever stand on a linear axis from zero (charts.bars).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import log10

import plotly.graph_objects as go

from dashboard.lab import claims, fmt
from dashboard.lab.measure.accelerators import ScaleUp
from dashboard.lab.measure.peak import DeviceComparison, Parallelism, Peaks, unit
from dashboard.lab.measure.roofline import Achieved
from dashboard.ui.charts import (
    GREY,
    NARROW_PX,
    layout,
    log_axis,
    amounts,
    bars,
    colour,
    empty,
    num,
    symbol,
)

FORMAT_DASH = {"fp32": "dash", "bf16": "dot", "fp16": "dashdot", "int8": "longdash"}
NOT_SHOWN = "n/a: disturbed"


def share_text(p: Achieved) -> str:
    """'45 % of the fp32 peak' (a recorded claim), or 'n/a: disturbed' when the rate or its peak is."""
    if p.peak_gops is None:
        return "no peak measured"
    return NOT_SHOWN if p.checked_share is None else claims.share(p.gops, p.peak_gops, f"the {p.format} peak")


def threads_gain(par: Parallelism, batch: int) -> str:
    """Images/s at the most threads over one thread at one batch ('1.84×'), 'n/a: disturbed' when either is."""
    counts = par.thread_counts
    ends = [p for p in par.points if p.batch == batch and p.threads in (counts[0], counts[-1])] if counts else []
    if any(p.disturbed for p in ends):
        return NOT_SHOWN
    return claims.ratio(par.rate(counts[-1], batch), par.rate(counts[0], batch)) if counts else "n/a"


def roofline(points: Sequence[Achieved], peaks: Peaks, *, width: float = 700) -> go.Figure:
    """Achieved rate against the work in one call (both log scales): each version at batch 1 (open)
    and at its benchmark batch (filled), fp32 matmuls of growing size, and each format's peak as a ceiling."""
    if not points and not peaks.rates:
        return empty("Nothing measured yet")
    fig = go.Figure()
    xs: list[float] = []
    ys: list[float] = []
    for fmt_name in peaks.formats:
        best = peaks.best(fmt_name)
        ys.append(best.gops)
        fig.add_hline(y=best.gops, line=dict(color=GREY, dash=FORMAT_DASH.get(fmt_name, "dash"), width=1.5))
        # Placed by hand: on a log axis an annotation's y is the log10 of the value (add_hline's own
        # annotation takes the raw value there and lands off the chart).
        fig.add_annotation(x=0, xref="paper", y=log10(best.gops), yref="y", xanchor="left", yanchor="bottom",
                           showarrow=False, font=dict(size=11),
                           text=f"{fmt_name} peak {num(best.gops)} {unit(fmt_name)}")
    sweep = sorted([*peaks.sweep, *(r for r in peaks.rates if r.op == "torch.matmul, fp32")], key=lambda r: r.size)
    if sweep:
        fig.add_trace(go.Scatter(
            x=[r.ops_per_call for r in sweep], y=[r.gops for r in sweep], mode="lines+markers",
            name=f"fp32 matmul, n × n (n = {sweep[0].size} … {sweep[-1].size})",
            line=dict(color=GREY, width=1.5), marker=dict(size=6, color=GREY),
            text=[f"{r.size} × {r.size}" for r in sweep],
            hovertemplate="matmul %{text}<br>%{x:.3s} FLOP per call<br>%{y:.3s} GFLOP/s<extra></extra>"))
        xs += [r.ops_per_call for r in sweep]
        ys += [r.gops for r in sweep]
    names = list(dict.fromkeys(p.name for p in points))
    for i, name in enumerate(names):
        mine = sorted((p for p in points if p.name == name), key=lambda p: p.batch)
        fig.add_trace(go.Scatter(
            x=[p.flops_per_call for p in mine], y=[p.gops for p in mine], mode="lines+markers", name=name,
            line=dict(color=colour(i), width=1),
            marker=dict(size=11, color=colour(i), symbol=[symbol(i) + ("-open" if p.batch == 1 else "") for p in mine],
                        line=dict(width=2, color=colour(i))),
            text=[f"batch {p.batch}, {share_text(p)}" for p in mine],
            hovertemplate=f"<b>{name}</b> %{{text}}<br>%{{x:.3s}} FLOP per call<br>%{{y:.3s}} G/s<extra></extra>"))
        xs += [p.flops_per_call for p in mine]
        ys += [p.gops for p in mine]
    xs, ys = [x for x in xs if x > 0], [y for y in ys if y > 0]
    fig.update_xaxes(title_text="work in one call (FLOP, log scale)", **log_axis(min(xs), max(xs), "", pad=0.2))
    fig.update_yaxes(title_text="achieved (billions of operations/s, log scale)",
                     **log_axis(min(ys), max(ys), "", pad=0.15, pad_hi=0.35, max_ticks=6))
    return layout(fig, height=420, title="Achieved vs peak: open = batch 1, filled = large batch (log scales)",
                   width=width)


def peak_shares(points: Sequence[Achieved]) -> go.Figure:
    """Each version and batch as a share of its format's peak: bars on a linear axis from 0 %."""
    rows = [p for p in points if p.checked_share is not None]
    if not rows:
        return empty("Share of this CPU's peak: no version has an undisturbed speed and peak for its number format")
    return bars([f"{p.name}, batch {p.batch}" for p in rows], [100 * p.checked_share for p in rows],
                title="Share of this CPU's peak for each version's number format",
                axis="achieved ÷ peak of its format (%)", reference=100.0, suffix=" %")


def parallelism(par: Parallelism, *, width: float = NARROW_PX) -> go.Figure:
    """Images/s against threads, one line per batch size (log images/s: batch 1 and 256 differ ~50x)."""
    if not par.points:
        return empty("Nothing measured yet")
    fig = go.Figure()
    counts = par.thread_counts
    for i, batch in enumerate(par.batches):
        rates = [par.rate(t, batch) for t in counts]
        fig.add_trace(go.Scatter(
            x=counts, y=rates, mode="lines+markers", line=dict(color=colour(i), width=2),
            marker=dict(symbol=symbol(i), size=9), name=f"batch {batch}: {threads_gain(par, batch)}",
            hovertemplate=f"batch {batch}<br>%{{x}} threads: %{{y:,.0f}} images/s<extra></extra>"))
    ys = [p.images_per_s for p in par.points if p.images_per_s > 0]
    fig.update_xaxes(title_text="PyTorch threads", tickmode="array", tickvals=counts, range=[0.7, counts[-1] + 0.3])
    fig.update_yaxes(title_text="images/s (log scale)", **log_axis(min(ys), max(ys), "", pad=0.15, max_ticks=6))
    fig.update_layout(legend_title=dict(text=f"speed-up from 1 to {counts[-1]} threads:", side="top",
                                        font=dict(size=11)))
    return layout(fig, height=340, title="Your model: images/s on more threads (log scale)", width=width)


def devices(cmp: DeviceComparison) -> go.Figure:
    """CPU and GPU images/s, training and inference: dots on a log axis when they differ widely, else bars."""
    if not cmp.rows:
        return empty(cmp.note)
    names, values = [], []
    for what, attr in (("training", "train_images_per_s"), ("inference", "infer_images_per_s")):
        for r in cmp.rows:
            names.append(f"{r.device.upper()} {what}")
            values.append(getattr(r, attr))
    return amounts(names, values, title="The same model on the CPU and the GPU", axis="speed", unit="images/s")


def scale_up(rows: Sequence[ScaleUp], this_cpu_seconds: float | None, *, width: float = 700) -> go.Figure:
    """Seconds the student's training would take on each accelerator (published peaks, an estimate) and
    took here (measured): dots on a log axis, each with its time."""
    items = ([("this CPU (measured)", this_cpu_seconds, True)] if this_cpu_seconds else []) + [
        (r.accelerator.name if r.accelerator.can_train else f"{r.accelerator.name} *", r.seconds, False) for r in rows]
    if not items:
        return empty("Nothing to scale")
    vs = [v for _, v, _ in items]
    fig = go.Figure(go.Scatter(
        y=[n for n, _, _ in items], x=vs, mode="markers+text", cliponaxis=False,
        marker=dict(size=12, color=[colour(0) if measured else colour(1) for _, _, measured in items],
                    symbol=["circle" if measured else "diamond" for _, _, measured in items]),
        text=[fmt.seconds(v) for v in vs], textposition="middle right",
        hovertemplate="%{y}: %{text}<extra></extra>"))
    lo, hi = min(vs), max(vs)
    span = max(1.0, (hi / lo)) if lo > 0 else 10.0
    fig.update_xaxes(title_text="seconds for your training's FLOPs (log scale)",
                     **log_axis(lo, hi, "s", pad=0.1, pad_hi=0.25 * log10(span) + 0.6, max_ticks=5))
    fig.update_yaxes(autorange="reversed", type="category", showgrid=True)
    return layout(fig, height=120 + 34 * len(items), legend=False, width=width,
                   title="Your training's arithmetic on other chips (log scale)")


__all__ = ["NOT_SHOWN", "devices", "parallelism", "peak_shares", "roofline", "scale_up", "share_text", "threads_gain"]
