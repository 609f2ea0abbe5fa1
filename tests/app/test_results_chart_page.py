"""The Results page's chart: two tiny trainings that differ only in epochs are two points, each named by
that difference; the x axis follows the student's choice and says its unit."""

from __future__ import annotations

import json

from tests.app.test_pages import fresh, open_page, train_tiny


def _chart(at) -> dict:
    [chart] = at.get("plotly_chart")
    return json.loads(chart.proto.spec)


def _runs(spec: dict) -> list[dict]:
    return [t for t in spec["data"] if "markers" in t.get("mode", "") and t.get("showlegend") is not False]


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
