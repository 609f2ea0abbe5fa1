"""The Results page's chart: runs labelled by the settings that differ between them, one point per run
on the chosen x, each measured version joined to its fp32, every axis with its unit and the energy's
kind. Figures are inspected as data (no browser)."""

from __future__ import annotations

import pytest

from dashboard.lab.measure.bench import BenchResult
from dashboard.lab.energy import EnergyReading, EnergySettings
from dashboard.lab.measure.record import RunRecord
from dashboard.lab.training.train import TrainConfig
from dashboard.service.runs import Run, differing_settings
from dashboard.ui.results_charts import X_AXES, accuracy_chart, axis_title, run_points, shown_runs

SETTINGS = EnergySettings(country_iso="WORLD")


def bench(name: str, accuracy: float, size: int, ms: float) -> BenchResult:
    return BenchResult(name, True, "", accuracy=accuracy, size_bytes=size, latency_ms_batch1_p50=ms)


def run(number: int, *, kind: str = "training", results=(), seconds: float = 10.0, joules: float | None = 50.0,
        measured: bool = False, accuracy: float = 0.95, **config) -> Run:
    cfg = TrainConfig(**{"model": "cnn", "epochs": 2, **config}).to_dict()
    training = {"model": cfg["model"], "epochs": cfg["epochs"], "train_seconds": seconds, "test_accuracy": accuracy,
                "samples_seen": 1000 * number}
    reading = (EnergyReading("training", joules=joules, measured=measured, settings=SETTINGS)
               if joules is not None else None)
    return Run(number, kind, RunRecord(config=cfg, hardware={}, training=training, training_energy=reading,
                                       results=list(results)))


# --- differing_settings ----------------------------------------------------------------------------

def test_runs_are_labelled_by_the_settings_that_differ_and_only_those():
    runs = [run(1, epochs=3), run(2, epochs=3, model="mlp"), run(3, epochs=5, lr=0.01)]
    assert differing_settings(runs) == {1: "model cnn, epochs 3, lr 0.003",
                                        2: "model mlp, epochs 3, lr 0.003",
                                        3: "model cnn, epochs 5, lr 0.01"}


def test_nothing_differs_gives_empty_labels():
    assert differing_settings([run(1)]) == {1: ""}
    assert differing_settings([run(1), run(2)]) == {1: "", 2: ""}
    assert differing_settings([]) == {}


def test_all_images_booleans_and_missing_settings_read_as_words():
    runs = [run(1, train_images=500, augment=True), run(2)]
    assert differing_settings(runs) == {1: "images 500, augment on", 2: "images all, augment off"}
    assert differing_settings([run(1, optimizer="sgd", seed=3), run(2)]) == {1: "optimizer sgd, seed 3",
                                                                             2: "optimizer adam, seed 0"}


# --- which runs, which points ---------------------------------------------------------------------

def test_a_training_run_measured_later_is_drawn_once_and_failed_runs_not_at_all():
    trained = run(1)
    measured = run(2, kind="compress & measure", results=[bench("fp32", 0.95, 400_000, 0.2)])
    measured.record.training = dict(trained.record.training)   # the same trained model
    failed = Run(3, "training", RunRecord(config={}, hardware={}), outcome="failed: out of memory")
    other = run(4, epochs=5)
    assert [r.number for r in shown_runs([trained, measured, failed, other])] == [2, 4]


def test_runs_without_the_chosen_x_are_left_out():
    runs = [run(1, results=[bench("fp32", 0.95, 400_000, 0.2)]), run(2, joules=None, epochs=3)]
    assert [p.number for p in run_points(runs, {}, "training time", SETTINGS)] == [1, 2]
    assert [p.number for p in run_points(runs, {}, "training energy", SETTINGS)] == [1]
    assert [p.number for p in run_points(runs, {}, "model size", SETTINGS)] == [1]


def test_versions_sit_at_their_own_size_and_are_not_drawn_against_a_training_cost():
    results = [bench("fp32", 0.96, 409_600, 0.20), bench("int8-static", 0.955, 102_400, 0.12),
               BenchResult("bf16", False, "not on this CPU")]
    [p] = run_points([run(1, results=results)], {1: "epochs 2"}, "model size", SETTINGS)
    assert (p.label, p.x, p.accuracy) == ("epochs 2", 400.0, pytest.approx(96.0))
    assert [(v.name, v.x, v.accuracy) for v in p.versions] == [("int8-static", 100.0, pytest.approx(95.5))]
    [p] = run_points([run(1, results=results)], {}, "batch-1 latency", SETTINGS)
    assert (p.x, [(v.name, v.x) for v in p.versions]) == (0.20, [("int8-static", 0.12)])
    [p] = run_points([run(1, results=results, seconds=12.0)], {}, "training time", SETTINGS)
    assert p.label == "run 1" and p.x == 12.0 and p.versions == []
    assert [x for x, axis in X_AXES.items() if axis.per_version] == ["model size", "batch-1 latency"]


# --- the figure ------------------------------------------------------------------------------------

def _markers(fig):
    return [t for t in fig.data if t.mode and "markers" in t.mode]


def test_one_point_per_run_labelled_and_a_line_from_fp32_to_each_version():
    runs = [run(1, epochs=1, seconds=5.0, results=[bench("fp32", 0.90, 409_600, 0.2),
                                                   bench("int8-static", 0.89, 102_400, 0.1)]),
            run(2, epochs=2, seconds=9.0, accuracy=0.93)]
    labels = differing_settings(runs)
    fig = accuracy_chart(run_points(runs, labels, "training time", SETTINGS), "training time",
                         x_title=axis_title("training time", runs))
    runs_drawn = [t for t in _markers(fig) if t.showlegend is not False]
    assert [t.name for t in runs_drawn] == ["run 1: epochs 1", "run 2: epochs 2"]
    assert [list(t.text) for t in runs_drawn] == [["epochs 1"], ["epochs 2"]]
    assert [t.y[0] for t in runs_drawn] == [pytest.approx(90.0), pytest.approx(93.0)]
    assert len(fig.data) == 2   # no versions against a training cost
    assert fig.layout.xaxis.title.text == "training time (s)"
    assert fig.layout.yaxis.title.text.startswith("test accuracy (%")
    assert "up and left is better" in fig.layout.title.text

    # Against model size, run 1's int8-static is joined to its fp32; run 2 was never measured.
    fig = accuracy_chart(run_points(runs, labels, "model size", SETTINGS), "model size")
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(lines) == 1 and list(lines[0].x) == [400.0, 100.0]
    assert list(lines[0].y) == [pytest.approx(90.0), pytest.approx(89.0)]
    versions = [t for t in _markers(fig) if t.showlegend is False]
    assert [t.name for t in versions] == ["int8-static"]
    assert fig.data.index(versions[0]) > fig.data.index(_markers(fig)[0])   # drawn over the runs' markers
    assert fig.layout.xaxis.title.text == "model size (KiB)"


@pytest.mark.parametrize("measured, kind", [((False, False), "estimated"), ((True, True), "measured"),
                                            ((True, False), "measured and estimated")])
def test_the_energy_axis_says_its_unit_and_how_the_energy_was_obtained(measured, kind):
    runs = [run(1, measured=measured[0], joules=40.0, epochs=1), run(2, measured=measured[1], joules=80.0)]
    assert axis_title("training energy", runs) == f"training energy (J, {kind})"
    fig = accuracy_chart(run_points(runs, differing_settings(runs), "training energy", SETTINGS),
                         "training energy", x_title=axis_title("training energy", runs))
    assert fig.layout.xaxis.title.text == f"training energy (J, {kind})"
    assert sorted(t.x[0] for t in _markers(fig)) == [40.0, 80.0]


def test_every_axis_has_its_unit():
    assert {x: axis_title(x) for x in X_AXES} == {
        "training time": "training time (s)", "training energy": "training energy (J, estimated)",
        "model size": "model size (KiB)", "batch-1 latency": "batch-1 latency (ms)"}


def test_a_wide_range_goes_on_a_log_axis_with_readable_ticks_and_says_so():
    runs = [run(1, seconds=0.5, epochs=1), run(2, seconds=200.0)]
    fig = accuracy_chart(run_points(runs, differing_settings(runs), "training time", SETTINGS), "training time")
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.title.text == "training time (s), log scale"
    assert all(t.endswith(" s") for t in fig.layout.xaxis.ticktext)
    narrow = [run(1, seconds=5.0, epochs=1), run(2, seconds=9.0)]
    fig = accuracy_chart(run_points(narrow, {}, "training time", SETTINGS), "training time")
    assert fig.layout.xaxis.type != "log"


def test_names_never_overlap_each_other_markers_or_lines():
    from dashboard.ui.charts import _along, _overlap, label_box, place_labels

    points = [(100, 100), (110, 104), (300, 100), (300, 60), (300, 140), (60, 200)]
    names = ["epochs 1", "epochs 2", "int8-static", "pruned-channels-50", "int8-dynamic", "distilled"]
    segments = [((100, 100), (300, 60)), ((100, 100), (300, 140)), ((100, 100), (300, 100))]
    spots = place_labels(points, names, (500, 300), lines=segments)
    assert spots[0] is not None   # the first name gets the first pick
    boxes = [label_box(x, y, n, spot) for (x, y), n, spot in zip(points, names, spots) if spot]
    lines = [b for a, c in segments for b in _along([a, c])]
    markers = [(x - 7, x + 7, y - 7, y + 7) for x, y in points]
    for k, box in enumerate(boxes):
        assert 0 <= box[0] and box[1] <= 500 and 0 <= box[2] and box[3] <= 300
        assert not any(_overlap(box, other) for other in boxes[k + 1:] + lines + markers)
    assert len(boxes) >= 4


def test_every_version_is_drawn_and_named_in_its_hover():
    results = [bench("fp32", 0.96, 409_600, 0.2)] + [bench(f"v{i}", 0.96 - 0.001 * i, 409_600 // (i + 1), 0.1)
                                                      for i in range(1, 7)]
    runs = [run(1, results=results, epochs=1), run(2, results=results, epochs=2, accuracy=0.96)]
    fig = accuracy_chart(run_points(runs, differing_settings(runs), "model size", SETTINGS), "model size")
    versions = [t for t in _markers(fig) if t.showlegend is False]
    assert len(versions) == 12 and all(t.name in t.hovertemplate for t in versions)
    assert len([t for t in fig.data if t.mode == "lines"]) == 12


def test_no_runs_with_that_figure_gives_a_chart_that_says_so():
    fig = accuracy_chart([], "model size")
    assert "No run has a model size yet" in fig.layout.annotations[0].text
