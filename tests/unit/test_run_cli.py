"""`python -m dashboard.lab run` and the pipeline behind it: the JSON contract, errors, stopping."""

from __future__ import annotations

import json

import pytest

from dashboard.lab import pipeline
from dashboard.lab.__main__ import main
from dashboard.lab.bench import BenchSettings
from dashboard.lab.compress import CompressSettings
from dashboard.lab.train import TrainConfig

VARIANT_KEYS = {"name", "accuracy", "agreement", "size_bytes", "params", "nonzero_params", "flops",
                "latency_ms_batch1_p50", "latency_ms_batch1_p95", "throughput_batch256_ips",
                "speedup_batch1", "speedup_batch256", "available", "note"}
TRAINING_KEYS = {"model", "dataset", "epochs", "epochs_completed", "test_accuracy", "seconds", "params",
                 "images_per_second", "train_flops_per_image", "inference_flops_per_image"}


def test_run_writes_the_json_contract_and_prints_a_table(tmp_path, capsys):
    out = tmp_path / "out.json"
    rc = main(["run", "--model", "mlp", "--epochs", "1", "--threads", "1", "--quiet", "--quick",
               "--variants", "fp32,int8-dynamic,pruned-channels-50,fp16", "--finetune-epochs", "1",
               "--energy-seconds", "0.05", "--energy-repeats", "2", "--json", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert TRAINING_KEYS <= set(report["training"])
    energy = report["training"]["energy"]
    assert energy["joules"] > 0 and energy["co2_grams"] > 0 and energy["method"] and "assumptions" in energy
    names = [v["name"] for v in report["variants"]]
    assert names == ["fp32", "int8-dynamic", "pruned-channels-50", "fp16"]
    for v in report["variants"]:
        assert VARIANT_KEYS <= set(v), v["name"]
        if v["available"]:
            assert 0 < v["accuracy"] <= 1 and v["size_bytes"] > 0 and v["throughput_batch256_ips"] > 0
            assert v["energy"]["joules_per_image"] > 0 and v["energy"]["method"]
        else:
            assert v["note"] and v["accuracy"] is None
    assert report["breakeven_inferences"] > 0 and report["breakeven_variant"] == "fp32"
    stdout = capsys.readouterr().out
    assert "| variant | accuracy |" in stdout and "| pruned-channels-50 |" in stdout


def test_unknown_variant_exits_nonzero_with_one_line_before_training(capsys):
    rc = main(["run", "--variants", "fp32,bogus", "--epochs", "50"])
    err = capsys.readouterr().err
    assert rc != 0
    assert rc == 1 and err.startswith("error:")
    assert len(err.strip().splitlines()) == 1 and "bogus" in err


def test_pipeline_stops_between_stages_and_keeps_what_it_has(digits):
    seen: list[float] = []
    record = pipeline.run(TrainConfig(model="mlp", epochs=2, threads=1), "fp32,int8-static", dataset=digits,
                          training_energy=False, on_progress=lambda f, m: seen.append(f),
                          should_stop=lambda: len(seen) >= 3)
    assert record.stopped == "training" and not record.results and not record.completed
    assert record.training["epochs_completed"] < 2
    assert seen == sorted(seen)


def test_pipeline_reuses_a_trained_model_and_reports_monotone_progress(digits):
    first = pipeline.run(TrainConfig(model="mlp", epochs=1, threads=1), "fp32", dataset=digits,
                         training_energy=False, bench_settings=BenchSettings.quick(threads=1, rounds=1))
    seen: list[tuple[float, str]] = []
    record = pipeline.run(TrainConfig(model="mlp", epochs=1, threads=1), "int8-dynamic", dataset=digits,
                          trained=first.trained, training_energy=False,
                          compress_settings=CompressSettings(try_channels_last=False),
                          bench_settings=BenchSettings.quick(threads=1, rounds=1),
                          on_progress=lambda f, m: seen.append((f, m)))
    assert record.completed and [r.name for r in record.results] == ["fp32", "int8-dynamic"]
    assert record.training == first.training and record.breakeven_inferences is None
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert json.loads(json.dumps(record.to_dict()))["variants"][1]["name"] == "int8-dynamic"
