"""The Results page's chart: two tiny trainings that differ only in epochs are two points, each named by
that difference; the x axis follows the student's choice and says its unit."""

from __future__ import annotations

import json
import re

from tests.app.drive import fresh, open_page, train_tiny


def _chart(at) -> dict:
    [chart] = at.get("plotly_chart")
    return json.loads(chart.proto.spec)


def _runs(spec: dict) -> list[dict]:
    return [t for t in spec["data"] if "markers" in t.get("mode", "") and t.get("showlegend") is not False]


def table_reads_as_people_read(table) -> None:
    """Start times in the student's time zone (UTC here: AppTest has no browser), not ISO strings; the
    electricity cost with decimals enough for 3 significant digits of the smallest (a tiny training's
    is under a millionth of a euro), never the table's own '0.00001' or scientific notation."""
    rows = table.value
    assert all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}, \d\d:\d\d:\d\d", t) for t in rows["started (UTC)"])
    cost = next(c for c in rows.columns if c.startswith("training electricity cost"))
    smallest = min(rows[cost])
    decimals = int(re.fullmatch(r"%\.(\d+)f", json.loads(table.proto.columns)[cost]["type_config"]["format"])[1])
    shown = f"{smallest:.{decimals}f}"
    assert "e" not in shown and len(shown.replace(".", "").lstrip("0")) == 3, shown


def test_two_trainings_with_different_epochs_are_two_labelled_points():
    at = fresh()
    train_tiny(at, epochs=1)
    train_tiny(at, epochs=2)
    open_page(at, "app_pages/results.py")
    assert at.radio(key="results_x").value == "training time"
    spec = _chart(at)
    points = _runs(spec)
    assert len(points) == 2
    assert sorted(p["name"] for p in points) == ["run 1: epochs 1", "run 2: epochs 2"]
    assert sorted(t for p in points for t in p.get("text") or []) == ["epochs 1", "epochs 2"]
    assert spec["layout"]["xaxis"]["title"]["text"].startswith("training time (s")
    assert len(at.dataframe[0].value) == 2   # the table of runs is still there, below
    table_reads_as_people_read(at.dataframe[0])

    at.radio(key="results_x").set_value("training energy")
    at.run()
    spec = _chart(at)
    assert len(_runs(spec)) == 2
    title = spec["layout"]["xaxis"]["title"]["text"]
    assert title.startswith("training energy (J, ") and ("estimated" in title or "measured" in title)

    # Model size needs a measurement: no point yet, and the page says why.
    at.radio(key="results_x").set_value("model size")
    at.run()
    assert _runs(_chart(at)) == []
    assert any("2 runs have no model size yet" in c.value for c in at.caption)


def test_versions_of_several_runs_say_which_run_they_belong_to():
    from dashboard.ui.results_charts import RunPoint, VersionPoint, accuracy_chart

    def point(n: int, x: float) -> RunPoint:
        return RunPoint(n, f"epochs {n}", x, 95.0 + n, [VersionPoint("int8-static", x / 4, 94.0 + n)])

    def names(points) -> list[str]:
        fig = accuracy_chart(points, "model size")
        return [t for trace in fig.data if trace.showlegend is False and trace.text for t in trace.text]

    # Two runs' "int8-static", told apart by colour alone, read as one: each names its run.
    assert sorted(names([point(1, 1600.0), point(2, 800.0)])) == ["int8-static (run 1)", "int8-static (run 2)"]
    assert names([point(1, 1600.0)]) == ["int8-static"]   # one run: its versions need no run number
