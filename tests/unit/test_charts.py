"""Charts read right: a bar's length is its value (no log axis under bars), names of close points do
not pile up, log ticks read as numbers with units, every axis says its unit, a zoomed accuracy axis
says it is zoomed, legends sit clear of titles. Figures are inspected as data (no browser)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import plotly.graph_objects as go
import pytest

from dashboard.ui import charts, compress_charts, train_charts

# A demo's worth of variants, with fp32, int8-dynamic, bf16 and int8-static close together at batch 1
# (the case whose labels used to run into one word).
NAMES = ["fp32", "pruned-unstructured-90", "pruned-channels-50", "int8-dynamic", "int8-static", "bf16",
         "student-baseline", "distilled"]
MS_B1 = [0.120, 0.118, 0.070, 0.121, 0.123, 0.122, 0.031, 0.030]
MS_B256 = [0.111, 0.110, 0.048, 0.109, 0.033, 0.083, 0.011, 0.011]
ACC = [0.970, 0.9685, 0.963, 0.9695, 0.9688, 0.9693, 0.935, 0.945]


def _sens():
    return compress_charts.sensitivity(["features.0 (Conv2d, 216 weights)", "classifier.1 (Linear, 20,480 weights)"],
                                       [0, 0.5, 0.9], [[0.97, 0.96, 0.5], [0.97, 0.97, 0.95]], 0.97)


def _histograms():
    edges = np.linspace(-1, 1, 11)
    h = SimpleNamespace(name="fc1", params=100, nonzero=90, edges=edges, counts=np.arange(10))
    return train_charts.weight_histograms([h, h])


def _curves():
    steps = [SimpleNamespace(samples_seen=64 * i, loss=2 / i, running_accuracy=0.5, overflowed=False)
             for i in range(1, 5)]
    epochs = [SimpleNamespace(samples_seen=256, test_loss=0.5, test_accuracy=0.9, epoch=1)]
    return train_charts.training_curves(steps, epochs)


# Every chart of charts.py, train_charts.py and compress_charts.py, built from typical data.
# (per_image_comparison, breakeven and lifetime, the Training vs inference section, are tested with their page.)
FIGURES = {
    "bars": lambda: charts.bars(NAMES, [0.12 / t for t in MS_B1], title="Speed-up at batch 1",
                                axis="times fp32's speed (×)", reference=1.0, suffix="×"),
    "bars, wide range": lambda: charts.bars(NAMES, [101, 101, 26, 99, 27, 51, 0.5, 0.5], title="Size",
                                            axis="saved file (KiB)"),
    "amounts, narrow range": lambda: charts.amounts(NAMES, [101, 101, 26, 99, 27, 51, 20, 20], title="Size",
                                                    axis="saved file", unit="KiB"),
    "amounts, wide range": lambda: charts.amounts(NAMES, [101, 101, 26, 99, 27, 51, 0.5, 0.5], title="Size",
                                                  axis="saved file", unit="KiB"),
    "dots": lambda: charts.dots(NAMES, [1, 10, 100, 1000, 2, 3, 4, 5], title="Energy", axis="energy (J)", unit="J"),
    "accuracy_vs_time b1": lambda: compress_charts.accuracy_vs_time(NAMES, MS_B1, ACC, batch=1),
    "accuracy_vs_time b256": lambda: compress_charts.accuracy_vs_time(NAMES, MS_B256, ACC, batch=256),
    "sensitivity": _sens,
    "weight_histograms": _histograms,
    "training_curves": _curves,
    "confusion_heatmap": lambda: train_charts.confusion_heatmap(np.eye(3, dtype=int) * 5, ["0", "1", "2"]),
}


def _axes(fig: go.Figure) -> list:
    layout = fig.layout
    return [getattr(layout, k) for k in dir(layout) if re.fullmatch(r"[xy]axis\d*", k) and getattr(layout, k)]


def _has_bars(fig: go.Figure) -> bool:
    return any(isinstance(t, go.Bar) for t in fig.data)


def test_no_bar_chart_has_a_log_axis():
    drew_bars = []
    for name, make in FIGURES.items():
        fig = make()
        if _has_bars(fig):
            drew_bars.append(name)
            assert all(ax.type in (None, "linear", "category", "-") for ax in _axes(fig)), name
    assert {"bars", "bars, wide range", "amounts, narrow range", "weight_histograms"} <= set(drew_bars)
    with pytest.raises(TypeError):
        charts.bars(NAMES, MS_B1, title="t", axis="a (ms)", log=True)  # the option is gone


def test_bars_start_at_zero_so_length_is_value():
    fig = FIGURES["bars"]()
    assert fig.layout.xaxis.range[0] == 0 and fig.layout.xaxis.type == "linear"
    # Each bar carries its number (with the unit) so a short bar still says what it is.
    assert list(fig.data[0].text)[:2] == ["1×", "1.02×"]


def test_a_wide_range_goes_on_a_labelled_log_axis_as_dots_not_bars():
    fig = FIGURES["amounts, wide range"]()
    assert not _has_bars(fig)
    assert fig.layout.xaxis.type == "log"
    assert "log scale" in fig.layout.title.text and "log scale" in fig.layout.xaxis.title.text
    assert _has_bars(FIGURES["amounts, narrow range"]())


def test_log_ticks_read_as_numbers_with_units():
    values, text = charts.log_ticks(0.005, 0.3, "ms")
    assert text == ["0.005 ms", "0.01 ms", "0.02 ms", "0.05 ms", "0.1 ms", "0.2 ms"]
    assert all(float(t.split()[0]) == v for v, t in zip(values, text))
    values, text = charts.log_ticks(0.001, 1000)
    assert text == ["0.001", "0.01", "0.1", "1", "10", "100", "1,000"]   # powers of ten only: no clutter
    for fig in (FIGURES["accuracy_vs_time b1"](), FIGURES["dots"]()):
        ax = fig.layout.xaxis
        assert ax.tickmode == "array" and len(ax.tickvals) >= 2
        # Every tick is a full number: never plotly's bare digits "5 6 7 8 9 0.01 2 3".
        assert all(re.fullmatch(r"[\d,.]+( \w+)?", t) for t in ax.ticktext), ax.ticktext
        assert all(a < b for a, b in zip(ax.tickvals, ax.tickvals[1:]))
    assert all(t.endswith(" ms") for t in FIGURES["accuracy_vs_time b1"]().layout.xaxis.ticktext)


def test_close_points_keep_their_names_apart():
    """Only the best trade-offs are named in the plot, each where it overlaps no other name and no
    marker; every variant is in the legend (and the hover)."""
    fig = FIGURES["accuracy_vs_time b1"]()
    points = [t for t in fig.data if t.mode and "markers" in t.mode]
    assert sorted(t.name for t in points) == sorted(NAMES)
    assert all(t.showlegend is not False for t in points)
    front = {NAMES[i] for i in compress_charts.pareto_front(list(zip(MS_B1, ACC)))}
    assert front == {"distilled", "pruned-channels-50", "pruned-unstructured-90", "fp32"}
    labelled = [t for t in points if t.text]
    assert {t.name for t in labelled} <= front
    assert "fp32" in {t.name for t in labelled}
    for t in points:
        if t.name not in front:   # int8-dynamic, int8-static, bf16: next to fp32, unnamed in the plot
            assert not t.text and "text" not in t.mode
    # Names go above-left of a best trade-off (where, by definition, no other point lies) unless
    # that spot is taken; the placement itself is checked in the next test.
    assert all(t.textposition in charts._LABEL_SPOTS for t in labelled)


def test_place_labels_moves_or_drops_names_that_would_collide():
    # Three points a few pixels apart: the first is named, the others go elsewhere or unnamed.
    pts = [(200.0, 100.0), (204.0, 102.0), (208.0, 99.0)]
    spots = charts.place_labels(pts, ["fp32", "int8-dynamic", "bf16"], (500.0, 300.0))
    boxes = [charts.label_box(x, y, n, s) for (x, y), n, s in zip(pts, ["fp32", "int8-dynamic", "bf16"], spots) if s]
    assert spots[0] is not None
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not charts._overlap(a, b)
        for x, y in pts:
            marker = (x - charts.MARKER_PX, x + charts.MARKER_PX, y - charts.MARKER_PX, y + charts.MARKER_PX)
            assert not charts._overlap(a, marker)
    # Points far apart all keep a name; two names at the same place never both stay.
    assert all(charts.place_labels([(50.0, 50.0), (300.0, 200.0)], ["a", "b"], (500.0, 300.0)))
    same = charts.place_labels([(100.0, 100.0)] * 2, ["int8-static", "int8-static"], (500.0, 300.0))
    assert same[0] != same[1] or same[1] is None


def test_every_axis_title_carries_its_unit():
    unitless_ok = {"predicted class", "true class"}   # categories have no unit
    for name, make in FIGURES.items():
        fig = make()
        for ax in _axes(fig):
            title = ax.title.text if ax.title else None
            if not title or title in unitless_ok or ax.visible is False:
                continue
            assert re.search(r"\([^)]+\)", title), f"{name}: axis title without a unit: {title!r}"


def test_the_accuracy_axis_says_when_it_is_zoomed():
    fig = FIGURES["accuracy_vs_time b1"]()
    lo, hi = fig.layout.yaxis.range
    assert lo > 0 and hi > max(100 * a for a in ACC)
    assert "zoomed" in fig.layout.yaxis.title.text and "%" in fig.layout.yaxis.title.text
    # An axis that starts at zero does not claim to be zoomed.
    low = compress_charts.accuracy_vs_time(["a", "b"], [1.0, 2.0], [0.05, 0.9], batch=1)
    assert low.layout.yaxis.range[0] == 0 and "zoomed" not in low.layout.yaxis.title.text
    sens = FIGURES["sensitivity"]()
    assert list(sens.layout.yaxis.range) == [0, 102] and "zoomed" not in sens.layout.yaxis.title.text


def test_the_dashed_line_is_named():
    fig = FIGURES["accuracy_vs_time b1"]()
    line = next(t for t in fig.data if t.mode == "lines")
    assert line.line.dash == "dash" and line.name == compress_charts.PARETO_NAME and line.showlegend is not False
    assert "nothing else is both faster and more accurate" in fig.layout.legend.title.text


@pytest.mark.parametrize("name", ["accuracy_vs_time b1", "sensitivity", "training_curves"])
def test_legends_sit_between_the_title_and_the_plot(name):
    fig = FIGURES[name]()
    height, top = fig.layout.height, fig.layout.margin.t
    legend = fig.layout.legend
    assert legend.orientation == "h" and legend.yref == "container" and legend.yanchor == "top"
    legend_top_px = (1 - legend.y) * height
    rows = charts.legend_rows([t.name for t in fig.data if t.name and t.showlegend is not False],
                              fig.layout.meta["planned_width"])
    if legend.title.text:
        rows += 1
    legend_bottom_px = legend_top_px + rows * charts.LEGEND_ROW_PX
    if fig.layout.title.text:   # the legend starts below the title's line
        assert legend_top_px >= (1 - fig.layout.title.y) * height + charts.TITLE_PX - 1
    assert legend_bottom_px <= top, "the legend runs into the plot"


def test_legend_rows_follow_plotly_columns():
    assert charts.legend_rows([]) == 0
    assert charts.legend_rows(["a", "b"]) == 1
    # Too wide for one row: columns as wide as the widest entry.
    labels = ["pruned-channels-50+int8-static"] + ["x"] * 5
    per_row = int((charts.NARROW_PX - 20) // (charts.LEGEND_ITEM_PX + charts.CHAR_PX * len(labels[0])))
    assert charts.legend_rows(labels) == -(-len(labels) // per_row)


def test_numbers_read_without_scientific_notation():
    assert [charts.num(v) for v in (0.0005, 0.01234, 1.5, 12.345, 1690, 2.0)] == \
        ["0.0005", "0.0123", "1.5", "12.3", "1,690", "2"]


def test_names_keep_off_the_dashed_line():
    # A line from the point up to the right: the name goes to its left, not across the line.
    spots = charts.place_labels([(200.0, 100.0)], ["pruned-channels-50"], (600.0, 300.0),
                                lines=[[(200.0, 100.0), (400.0, 110.0)]])
    box = charts.label_box(200.0, 100.0, "pruned-channels-50", spots[0])
    assert not any(charts._overlap(box, b) for b in charts._along([(200.0, 100.0), (400.0, 110.0)]))


def test_a_loss_that_overflowed_is_marked_where_it_happened():
    steps = [SimpleNamespace(samples_seen=64 * i, loss=2.3, running_accuracy=0.1, overflowed=i == 3)
             for i in range(1, 4)]
    marked = [t for t in train_charts.training_curves(steps, []).data if t.text and "NaN" in t.text[0]]
    assert len(marked) == 1 and list(marked[0].x) == [192]
    steps[-1].overflowed = False
    assert not [t for t in train_charts.training_curves(steps, []).data if t.text and "NaN" in t.text[0]]


def test_money_and_plain_numbers_never_read_with_an_exponent():
    from dashboard.lab import fmt

    assert fmt.money(1.67e-05, "EUR") == "0.0000167 EUR" and fmt.money(1234.5, "EUR") == "1,234 EUR"
    assert fmt.money(12.345, "") == "12.35" and fmt.money(0, "EUR") == "0 EUR"
    assert fmt.number(1.39e6) == "1,390,000" and fmt.number(1234.5) == "1,230" and fmt.number(0.00456) == "0.00456"
    assert fmt.number(float("inf")) == "∞" and fmt.energy(1.39e6) == "1.39 MJ"
    assert [fmt.plural(n, "epoch") for n in (1, 3)] == ["1 epoch", "3 epochs"]
    assert not any("e+" in t or "e-" in t for t in (fmt.money(3e-9, "EUR"), fmt.number(2.5e7), fmt.number(4e-7)))
