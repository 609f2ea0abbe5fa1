"""`python -m dashboard.lab run` and the pipeline behind it: the JSON contract, errors, stopping."""

from __future__ import annotations

import json

import pytest

from dashboard.lab import pipeline
from dashboard.lab.__main__ import main
from dashboard.lab.measure.bench import BenchSettings
from dashboard.lab.compression.compress import CompressSettings
from dashboard.lab.training.train import TrainConfig

VARIANT_KEYS = {"name", "accuracy", "agreement", "size_bytes", "params", "nonzero_params", "flops",
                "latency_ms_batch1_p50", "latency_ms_batch1_p95", "throughput_batch256_ips",
                "speedup_batch1", "speedup_batch256", "available", "note"}
TRAINING_KEYS = {"model", "dataset", "epochs", "epochs_completed", "test_accuracy", "seconds", "params",
                 "images_per_second", "train_flops_per_image", "inference_flops_per_image"}


@pytest.fixture
def tiny_pipeline(tiny_digits, monkeypatch):
    """`run` trains on 512 digits instead of 8,000: these tests are about the report, not the models."""
    monkeypatch.setattr("dashboard.lab.pipeline.load_dataset", lambda *a, **k: tiny_digits)


def run_report(tmp_path, *extra: str) -> dict:
    out = tmp_path / "out.json"
    rc = main(["run", "--model", "mlp", "--epochs", "1", "--threads", "1", "--quiet", "--quick",
               "--variants", "fp32,int8-dynamic,pruned-channels-50,fp16", "--finetune-epochs", "1",
               "--json", str(out), *extra])
    assert rc == 0
    return json.loads(out.read_text())


# The report's shape and the progress, not the figures: every window counts as quiet (windows_count_as_quiet), so a
# busy machine does not spend each measurement's retry budget waiting for a quiet moment (tests/unit/test_bench.py
# and test_quiet.py check what a disturbed window does).
def test_run_writes_the_json_contract_and_prints_a_table(tiny_pipeline, tmp_path, capsys, windows_count_as_quiet):
    report = run_report(tmp_path, "--no-energy", "--rounds", "1")
    assert TRAINING_KEYS <= set(report["training"])
    names = [v["name"] for v in report["variants"]]
    assert names == ["fp32", "int8-dynamic", "pruned-channels-50", "fp16"]
    for v in report["variants"]:
        assert VARIANT_KEYS <= set(v), v["name"]
        if v["available"]:
            assert 0 < v["accuracy"] <= 1 and v["size_bytes"] > 0 and v["throughput_batch256_ips"] > 0
        else:
            assert v["note"] and v["accuracy"] is None
    # --no-energy: nothing metered, so no break-even is claimed
    assert not report["training"].get("energy") and report["breakeven_inferences"] is None
    stdout = capsys.readouterr().out
    assert "| variant | accuracy |" in stdout and "| pruned-channels-50 |" in stdout


@pytest.mark.slow  # codecarbon metering around training and every variant: ~4 s
def test_run_meters_training_and_each_variant_and_reports_the_breakeven(tiny_pipeline, tmp_path):
    report = run_report(tmp_path, "--energy-seconds", "0.05", "--energy-repeats", "2")
    energy = report["training"]["energy"]
    assert energy["joules"] > 0 and energy["co2_grams"] > 0 and energy["method"] and "assumptions" in energy
    for v in report["variants"]:
        if v["available"]:
            assert v["energy"]["joules_per_image"] > 0 and v["energy"]["method"]
    assert report["breakeven_inferences"] > 0 and report["breakeven_variant"] == "fp32"


def test_unknown_variant_exits_1_with_one_line_before_training(capsys):
    rc = main(["run", "--variants", "fp32,bogus", "--epochs", "50"])
    out, err = capsys.readouterr()
    assert rc == 1 and err.startswith("error:")
    assert "epoch" not in out and "epoch" not in err   # refused before any training, not after 50 epochs
    assert len(err.strip().splitlines()) == 1 and "bogus" in err


def test_pipeline_stops_between_stages_and_keeps_what_it_has(digits):
    # All 8,000 digits: enough steps for three progress reports inside the first epoch (it stops there).
    seen: list[float] = []
    record = pipeline.run(TrainConfig(model="mlp", epochs=2, threads=1), "fp32,int8-static", dataset=digits,
                          training_energy=False, on_progress=lambda f, m: seen.append(f),
                          should_stop=lambda: len(seen) >= 3)
    assert record.stopped == "training" and not record.results and not record.completed
    assert record.training["epochs_completed"] < 2
    assert seen == sorted(seen)


def test_pipeline_reuses_a_trained_model_and_reports_monotone_progress(tiny_digits, windows_count_as_quiet):
    first = pipeline.run(TrainConfig(model="mlp", epochs=1, threads=1), "fp32", dataset=tiny_digits,
                         training_energy=False, bench_settings=BenchSettings.quick(threads=1, rounds=1))
    seen: list[tuple[float, str]] = []
    record = pipeline.run(TrainConfig(model="mlp", epochs=1, threads=1), "int8-dynamic", dataset=tiny_digits,
                          trained=first.trained, training_energy=False,
                          compress_settings=CompressSettings(try_channels_last=False),
                          bench_settings=BenchSettings.quick(threads=1, rounds=1),
                          on_progress=lambda f, m: seen.append((f, m)))
    assert record.completed and [r.name for r in record.results] == ["fp32", "int8-dynamic"]
    assert record.training == first.training and record.breakeven_inferences is None
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert json.loads(json.dumps(record.to_dict()))["variants"][1]["name"] == "int8-dynamic"


def test_a_diverged_training_ends_the_run_after_training_and_the_cli_says_why(tiny_pipeline, tiny_digits, tmp_path,
                                                                              capsys):
    # One behaviour for every caller: the run ends after training with its curves and last finite weights
    # (the app keeps them to show), and `run` exits with the reason instead of writing a report.
    stages: list[pipeline.TrainingStage] = []
    record = pipeline.run(TrainConfig(model="mlp", epochs=1, threads=1, optimizer="sgd", lr=100000.0), "fp32",
                          dataset=tiny_digits, training_energy=False, on_trained=stages.append)
    assert record.stopped == "diverged" and not record.results and not record.variants
    assert record.trained is not None and record.training["outcome"]["kind"] == "diverged"
    assert len(stages) == 1 and stages[0].diverged and stages[0].steps
    assert pipeline.diverged_message(record).startswith("Training diverged")
    out = tmp_path / "out.json"
    rc = main(["run", "--model", "mlp", "--epochs", "1", "--threads", "1", "--quiet", "--quick", "--optimizer", "sgd",
               "--lr", "100000", "--variants", "fp32", "--json", str(out)])
    assert rc == 1 and not out.exists()
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: Training diverged")
