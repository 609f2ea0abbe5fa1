"""`python -m dashboard.lab train`: the JSON contract, the options, one-line errors.

The commands run in this process through `main()` (a fresh interpreter costs seconds of torch
import each); one test runs the real `python -m dashboard.lab` to check the exit status wiring.
"""

import json
import subprocess
import sys

import pytest

from dashboard.lab import settings
from dashboard.lab.__main__ import main


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of the CLI; argparse's exits count as the status they carry."""
    try:
        rc = main(list(args))
    except SystemExit as exc:
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_train_writes_the_json_contract(tiny_digits, monkeypatch, tmp_path, capsys):
    # The command's report, not the model's quality: 512 digits instead of 8,000 (accuracy on the
    # whole set is test_train's and, for the installed CLI, tests/deploy/test_wheel.py's).
    monkeypatch.setattr("dashboard.lab.training.train.load_dataset", lambda *a, **k: tiny_digits)
    out = tmp_path / "out.json"
    rc, stdout, stderr = run_main(capsys, "train", "--model", "mlp", "--epochs", "2", "--threads", "1",
                                  "--json", str(out))
    assert rc == 0, stderr
    assert "test accuracy" in stdout
    assert "train mlp on digits" in stderr and "100%" in stderr  # the progress bar, run to its end
    report = json.loads(out.read_text())
    hw, t = report["hardware"], report["training"]
    assert hw["device"] == "cpu" and hw["threads"] == 1 and hw["cpu"] and hw["torch"].startswith("2.")
    assert (t["model"], t["dataset"], t["epochs"], t["epochs_completed"]) == ("mlp", "digits", 2, 2)
    # The speed reported is the images seen over the training time reported (how fast is benchmarks/' concern).
    assert t["seconds"] >= t["train_seconds"] > 0 and t["samples_seen"] == 2 * 512
    # train_seconds is reported to the millisecond: the speed lies between images / (seconds +- 0.5 ms).
    slowest, fastest = t["samples_seen"] / (t["train_seconds"] + 5e-4), t["samples_seen"] / max(t["train_seconds"] - 5e-4, 1e-9)
    assert slowest * 0.999 <= t["images_per_second"] <= fastest * 1.001
    assert 0.5 < t["test_accuracy"] <= 1.0  # chance is 0.1
    assert t["params"] == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert t["inference_flops_per_image"] == 2 * (784 * 256 + 256 * 128 + 128 * 10)
    assert 2 * t["inference_flops_per_image"] < t["train_flops_per_image"] <= 3 * t["inference_flops_per_image"]


def test_help_documents_every_option(capsys):
    rc, stdout, _ = run_main(capsys, "train", "--help")
    assert rc == 0
    for option in ("--model", "--dataset", "--epochs", "--batch-size", "--lr", "--optimizer",
                   "--schedule", "--seed", "--device", "--threads", "--augment", "--json", "--save"):
        assert option in stdout


@pytest.mark.parametrize("args, message", [
    (["train", "--epochs", "0"], "--epochs: must be at least 1"),
    (["train", "--model", "resnet"], "invalid choice: 'resnet'"),
    (["train", "--lr", "abc"], "--lr"),
    (["train", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["fly"], "invalid choice: 'fly'"),
])
def test_bad_options_exit_2_with_one_line(capsys, args, message):
    rc, _, stderr = run_main(capsys, *args)
    assert rc == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


@pytest.mark.slow  # a fresh interpreter (torch import: seconds); the wheel test runs `-m dashboard.lab` too
def test_the_module_entry_point_exits_with_the_clis_status():
    """`python -m dashboard.lab` hands main()'s status to the shell: a bad option is 2, one line."""
    result = subprocess.run([sys.executable, "-m", "dashboard.lab", "train", "--epochs", "0"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "python -m dashboard.lab train: error: argument --epochs: must be at least 1, not 0 (see --help)"]


def test_diverging_run_exits_with_the_reason(capsys):
    # lr 100,000 diverges within the first steps: the CLI stops there and says why.
    rc, _, stderr = run_main(capsys, "train", "--model", "mlp", "--epochs", "1", "--optimizer", "sgd",
                             "--lr", "100000", "--threads", "1", "--quiet")
    assert rc == 1
    assert stderr.strip().splitlines()[-1].startswith("error: Training diverged")


@pytest.mark.parametrize("option", ["--json", "--save"])
def test_an_unwritable_output_fails_before_any_training(tmp_path, capsys, option):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    target = blocker / "out.json"          # a path under a regular file cannot exist
    rc, stdout, stderr = run_main(capsys, "train", "--model", "cnn", "--epochs", "10", option, str(target))
    assert rc == 1
    assert stderr.strip().splitlines()[-1].startswith(f"error: cannot write {option} {target}")
    assert "test accuracy" not in stdout and "epoch" not in stdout   # nothing was trained


@pytest.fixture
def environment(monkeypatch):
    """Set TRAIN_INFER_LAB_* variables as the process environment; the settings are read afresh."""
    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"TRAIN_INFER_LAB_{name}", value)
        settings.override(None)
    yield set_env
    monkeypatch.undo()
    settings.override(None)


def test_a_bad_setting_in_the_environment_is_named_and_the_default_used(environment, capsys):
    environment(PRICE_PER_KWH="nan", MAX_EPOCHS="2")
    rc, _, stderr = run_main(capsys, "train", "--model", "mlp", "--epochs", "3", "--quiet")
    assert "warning: TRAIN_INFER_LAB_PRICE_PER_KWH='nan' is not valid" in stderr
    assert rc == 1
    assert "epochs is 3, more than this lab's settings allow (2; whoever runs it can raise that with " \
           "TRAIN_INFER_LAB_MAX_EPOCHS)" in stderr
