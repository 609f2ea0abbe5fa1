"""Training vs inference, told truthfully: one energy scope for training, three regimes each
measured in itself, a break-even per inference regime, published figures with sources."""

from __future__ import annotations

import pytest

from dashboard.lab.deploy import published
from dashboard.lab.training import metered_training
from dashboard.lab.measure.bench import BenchResult, BenchSettings, measure
from dashboard.lab.compression.compress import make_variants
from dashboard.lab.energy import EnergyReading, per_image_from
from dashboard.lab.training.train import EpochEvent, StepEvent, Training, TrainConfig
from dashboard.lab.measure.training_vs_inference import REALTIME, SERVING, compare, in_your_terms


def test_training_energy_and_time_have_one_scope(tiny_digits):
    """The steps' reading covers the steps (its windows enclose their engine time); each epoch's
    test evaluation is metered apart, once per epoch, never inside a steps window."""
    run = Training(TrainConfig(model="mlp", epochs=2, batch_size=64, threads=1), tiny_digits)
    events, pieces = [], []   # pieces: (phase, the events that piece's window held)

    def on_piece(m):   # called once per window, after it was added to its list
        steps_so_far = sum(phase == metered_training.STEPS_PHASE for phase, _ in pieces)
        phase = metered_training.STEPS_PHASE if len(m.step_readings) > steps_so_far else metered_training.EVAL_PHASE
        pieces.append((phase, events[sum(len(held) for _, held in pieces):]))

    m = metered_training.run(run, chunk_s=0.05, on_event=events.append, on_piece=on_piece)
    trained = run.result()
    assert sum(isinstance(e, EpochEvent) for e in events) == 2
    assert len(m.eval_readings) == 2                      # one window per evaluation
    assert m.steps.phase == metered_training.STEPS_PHASE and m.evaluation.phase == metered_training.EVAL_PHASE
    # Every event fell in exactly one window; a steps window held steps only, an evaluation window one
    # evaluation only.
    assert [e for _, held in pieces for e in held] == events
    for phase, held in pieces:
        if phase == metered_training.EVAL_PHASE:
            assert len(held) == 1 and isinstance(held[0], EpochEvent)
        else:
            assert held and all(isinstance(e, StepEvent) for e in held)
    # The windows follow one another in time: no evaluation window overlaps a steps window.
    windows = sorted(m.step_readings + m.eval_readings, key=lambda r: r.started_at)
    assert all(a.ended_at <= b.started_at for a, b in zip(windows, windows[1:]))
    assert len(windows) == len(pieces)
    # The steps' windows enclose the steps: their wall time covers the engine time of the steps (the
    # figure Train reports), whatever else the machine is doing.
    assert m.steps.duration_s >= trained.train_seconds * 0.95
    assert m.evaluation.joules > 0 and m.steps.joules > 0


def test_a_stop_mid_run_keeps_what_was_metered(tiny_digits):
    run = Training(TrainConfig(model="mlp", epochs=3, batch_size=16, threads=1), tiny_digits)
    m = metered_training.run(run, chunk_s=0.01, should_stop=lambda: run.step > 0)
    assert 0 < run.step < run.steps_per_epoch      # stopped in the first epoch, before its evaluation
    assert m.steps is not None and m.steps.joules > 0 and m.evaluation is None


def _reading(joules: float, seconds: float = 1.0) -> EnergyReading:
    return EnergyReading("x", duration_s=seconds, joules=joules, co2_grams=joules / 3.6e6 * 400,
                         base={"cpu_joules_estimated": joules, "cpu_seconds_estimated": seconds})


def test_each_regime_is_measured_in_itself(tiny_trained):
    result = BenchResult("fp32", True, "", flops=tiny_trained.cost.inference_flops_per_image,
                         latency_ms_batch1_p50=0.2, latency_ms_batch1_p95=0.5, throughput_batch256_ips=20_000.0,
                         batch_size=256)
    realtime = per_image_from("inference:fp32:batch1", [_reading(2.0)], [1000])    # 2 mJ per image
    serving = per_image_from("inference:fp32", [_reading(2.0)], [20_000])         # 0.1 mJ per image
    training = _reading(30.0)
    tvi = compare(tiny_trained, training, result, realtime, serving)
    tr, rt, sv = tvi.regimes
    assert (tr.batch, rt.batch, sv.batch) == (64, 1, 256)
    # Time per image is the figure every page shows for this version: the median batch-1 call, and one over
    # the images per second at batch 256 (not the metered windows' mean, 1 ms and 50 µs here).
    assert rt.seconds == pytest.approx(0.2e-3) and sv.seconds == pytest.approx(1 / 20_000)
    assert rt.seconds_p95 == pytest.approx(0.5e-3) and tr.seconds_p95 is None and sv.seconds_p95 is None
    assert rt.joules == pytest.approx(2e-3) and sv.joules == pytest.approx(1e-4)
    assert rt.flops == sv.flops == tiny_trained.cost.inference_flops_per_image   # FLOPs do not depend on batch
    assert tr.flops == tiny_trained.cost.train_flops_per_image
    assert tr.joules == pytest.approx(30.0 / tiny_trained.samples_seen)
    assert tr.seconds == pytest.approx(tiny_trained.train_seconds / tiny_trained.samples_seen)
    # A break-even per inference regime; real-time reaches it sooner (20x here).
    assert rt.breakeven == pytest.approx(30.0 / 2e-3) and sv.breakeven == pytest.approx(30.0 / 1e-4)
    assert tr.breakeven is None
    assert 2.0 <= tvi.ratio("flops", SERVING) <= 3.5
    assert tvi.ratio("joules", REALTIME) == pytest.approx(tr.joules / 2e-3)
    unmeasured = compare(tiny_trained, None, result, None, None)
    assert unmeasured.realtime.seconds == pytest.approx(0.2e-3)      # no windows: the benchmark's figures
    assert unmeasured.serving.seconds == pytest.approx(1 / 20_000)
    assert unmeasured.realtime.breakeven is None and unmeasured.ratio("joules", SERVING) is None
    assert unmeasured.training.energy_kind == "not metered"


def test_a_disturbed_regime_keeps_its_figures_but_gives_no_ratio(tiny_trained):
    result = BenchResult("fp32", True, "", flops=tiny_trained.cost.inference_flops_per_image,
                         latency_ms_batch1_p50=44.0, latency_ms_batch1_p95=90.0, throughput_batch256_ips=20_000.0,
                         batch_size=256, disturbed={"batch1": "its threads waited 60 % of the time for a processor"})
    realtime = per_image_from("inference:fp32:batch1", [_reading(2.0)], [1000])
    serving = per_image_from("inference:fp32", [_reading(2.0)], [20_000])
    tvi = compare(tiny_trained, _reading(30.0), result, realtime, serving)
    assert tvi.realtime.seconds == pytest.approx(44e-3) and tvi.realtime.disturbed.startswith("its threads")
    assert tvi.ratio("seconds", REALTIME) is None and tvi.ratio("joules", REALTIME) is None
    assert tvi.realtime.breakeven is None
    assert tvi.ratio("flops", REALTIME) is not None                      # counted, not timed
    assert tvi.ratio("seconds", SERVING) is not None and tvi.serving.breakeven is not None


def test_bench_meters_both_regimes(tiny_trained, tiny_digits, windows_count_as_quiet):
    # What is metered over which calls; a busy machine's disturbed windows are test_bench.py's and test_quiet.py's.
    variants = make_variants(tiny_trained, tiny_digits, ["fp32"])
    r = measure(variants, tiny_digits, BenchSettings.quick(threads=1, energy=True, energy_mode="rounds",
                                                           batch_size=64))[0]
    assert r.energy is not None and r.energy_batch1 is not None
    assert r.energy.phase == "inference:fp32" and r.energy_batch1.phase == "inference:fp32:batch1"
    assert sum(r.energy_batch1.images) == r.batch1_calls        # metered over the timed batch-1 calls
    assert sum(r.energy.images) % 64 == 0
    back = BenchResult.from_dict(r.to_dict())
    assert back.energy_batch1.joules_per_image == pytest.approx(r.energy_batch1.joules_per_image)


def test_every_published_figure_has_a_source():
    assert len(published.FIGURES) >= 3
    for f in published.FIGURES:
        assert f.url.startswith("https://") and f.source and f.value_text and f.note
    assert published.GPT3_TRAINING.joules == pytest.approx(1_287e6 * 3600)
    assert published.AI_TEXT_PROMPT.joules == pytest.approx(0.24 * 3600)


def test_the_pages_bars_are_linear_from_zero():
    """A bar's length is its value: no log axis under any bar of the Training vs inference page."""
    from dashboard.ui import tvi_charts

    figs = [tvi_charts.regimes(["training", "real-time", "serving"],
                               [("Time", [3e-4, 2e-4, 6e-5], tvi_charts.TIME_UNITS),
                                ("Energy", [4e-3, 3.5e-3, 1e-6], tvi_charts.ENERGY_UNITS)]),
            tvi_charts.memory({"weights": 1e6, "peak": 9e6}, {"weights": 1e6, "peak": 2e6}, batch=64),
            tvi_charts.layer_flops(["a", "b"], [4e5, 7e6], [4e5, 1.4e7])]
    for fig in figs:
        axes = [v for k, v in fig.layout.to_plotly_json().items() if k.startswith(("xaxis", "yaxis"))]
        assert axes and all(a.get("type", "linear") in ("linear", "category") for a in axes)
        assert not any(a.get("type") == "log" for a in axes)
    regimes = figs[0].layout.to_plotly_json()
    assert all(regimes[k]["range"][0] == 0 for k in regimes if k.startswith("yaxis"))
    # A value 4,000x smaller than its neighbours still says its number on its bar.
    texts = [t.text[0] for t in figs[0].data]
    assert "0.001 mJ" in texts and "4 mJ" in texts   # in the panel's one unit, as its axis


def test_no_claim_that_every_number_is_measured():
    """Energy is often estimated and grid, prices and equivalents are published: no text may say
    that everything shown is measured."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    claim = re.compile(r"(every|all)\s+(number|figure)s?\b[^.]{0,60}\b(is|are)\s+measured", re.IGNORECASE)
    files = [*root.joinpath("dashboard").rglob("*.py"), *root.joinpath("lessons").rglob("*.md"), root / "README.md"]
    found = [f"{f.relative_to(root)}: {m.group(0)}" for f in files for m in claim.finditer(f.read_text("utf-8"))]
    assert not found, found
    assert claim.search("Every number in this lab is measured on this machine, now")   # the old Home text


def test_a_published_energy_in_the_students_own_inferences_and_days():
    gpt3 = published.GPT3_TRAINING.joules
    n, days = in_your_terms(gpt3, 1e-3, inferences_per_day=1e6)
    assert n == pytest.approx(gpt3 / 1e-3) and days == pytest.approx(gpt3 / 1e3)
    assert in_your_terms(gpt3, None, 1e6) == (None, None)
    assert in_your_terms(gpt3, 1e-3, 0) == (pytest.approx(gpt3 / 1e-3), None)
