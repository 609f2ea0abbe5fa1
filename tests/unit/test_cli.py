import json
import subprocess
import sys

import pytest


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dashboard.lab", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_train_writes_the_json_contract(tmp_path):
    out = tmp_path / "out.json"
    result = run_cli("train", "--model", "mlp", "--epochs", "2", "--threads", "1", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout
    assert "[" in result.stderr and "100%" in result.stderr  # the progress bar
    report = json.loads(out.read_text())
    hw, t = report["hardware"], report["training"]
    assert hw["device"] == "cpu" and hw["threads"] == 1 and hw["cpu"] and hw["torch"].startswith("2.")
    assert (t["model"], t["dataset"], t["epochs"]) == ("mlp", "digits", 2)
    assert 0 < t["seconds"] < 120 and t["images_per_second"] > 100
    assert 0.9 < t["test_accuracy"] <= 1.0
    assert t["params"] == 235_146
    assert t["inference_flops_per_image"] == 2 * 235_146 - 2 * (256 + 128 + 10)
    assert 2 * t["inference_flops_per_image"] < t["train_flops_per_image"] <= 3 * t["inference_flops_per_image"]


def test_help_documents_every_option():
    result = run_cli("train", "--help")
    assert result.returncode == 0
    for option in ("--model", "--dataset", "--epochs", "--batch-size", "--lr", "--optimizer",
                   "--schedule", "--seed", "--device", "--threads", "--augment", "--json", "--save"):
        assert option in result.stdout


@pytest.mark.parametrize("args, message", [
    (["train", "--epochs", "0"], "--epochs: must be at least 1"),
    (["train", "--model", "resnet"], "invalid choice: 'resnet'"),
    (["train", "--lr", "abc"], "--lr"),
    (["train", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["fly"], "invalid choice: 'fly'"),
])
def test_bad_options_exit_non_zero_with_one_line(args, message):
    result = run_cli(*args, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_diverging_run_exits_with_the_reason(tmp_path):
    result = run_cli("train", "--model", "mlp", "--epochs", "1", "--optimizer", "sgd", "--lr", "100000",
                     "--threads", "1", "--quiet")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: Training diverged")


@pytest.mark.parametrize("option", ["--json", "--save"])
def test_an_unwritable_output_fails_before_any_training(tmp_path, option):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    target = blocker / "out.json"          # a path under a regular file cannot exist
    started = __import__("time").monotonic()
    result = run_cli("train", "--model", "cnn", "--epochs", "10", option, str(target), timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: cannot write {option} {target}")
    assert "test accuracy" not in result.stdout            # nothing was trained
    assert __import__("time").monotonic() - started < 30


def test_a_bad_setting_in_the_environment_is_named_and_the_default_used(tmp_path):
    import os
    env = {**os.environ, "TRAIN_INFER_LAB_PRICE_PER_KWH": "nan", "TRAIN_INFER_LAB_MAX_EPOCHS": "2"}
    result = subprocess.run([sys.executable, "-m", "dashboard.lab", "train", "--model", "mlp", "--epochs", "3",
                             "--quiet"], capture_output=True, text=True, timeout=60, env=env)
    assert "warning: TRAIN_INFER_LAB_PRICE_PER_KWH='nan' is not valid" in result.stderr
    assert result.returncode == 1
    assert "epochs is 3, more than this lab's settings allow (2; whoever runs it can raise that with " \
           "TRAIN_INFER_LAB_MAX_EPOCHS)" in result.stderr
