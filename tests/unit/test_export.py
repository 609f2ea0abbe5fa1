"""lab.deploy.export: the downloads round-trip (the .pt loads into a fresh model with identical outputs, the
ONNX file runs in ONNX Runtime and agrees), the script runs as written, and a variant without a
file in some format says why."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import onnxruntime as ort
import pytest
import torch

from dashboard.lab.deploy import export
from dashboard.lab.compression.compress import CompressSettings, make_variants
from dashboard.lab.training.models import ModelSpec, build_model
from dashboard.lab.training.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cnn(tiny_digits):
    return train(TrainConfig(model="cnn", epochs=1, batch_size=64, threads=1), tiny_digits)


@pytest.fixture(scope="module")
def files(cnn):
    return export.bundle(cnn)


def _test_images(dataset):
    return dataset.test_tensors()[0]


def test_the_pt_file_loads_into_a_fresh_model_with_identical_outputs(cnn, files, tiny_digits):
    assert files.spec == cnn.spec and files.pt_how == "state_dict of build_model(ModelSpec('cnn', (1, 28, 28), 10))"
    fresh = build_model(files.spec)
    fresh.load_state_dict(torch.load(io.BytesIO(files.pt), weights_only=True))
    x = _test_images(tiny_digits)
    with torch.inference_mode():
        assert torch.equal(fresh.eval()(x), cnn.module(x))
    assert export.pt_file(cnn) == files.pt


def test_the_onnx_file_runs_in_onnxruntime_at_any_batch_and_agrees(cnn, files, tiny_digits):
    session = ort.InferenceSession(files.onnx, providers=["CPUExecutionProvider"])
    x = _test_images(tiny_digits)
    with torch.inference_mode():
        want = cnn.module(x)
    got = torch.from_numpy(session.run(["logits"], {"images": x.numpy()})[0])
    assert (got.argmax(1) == want.argmax(1)).float().mean() >= 0.99
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    one = session.run(["logits"], {"images": x[:1].numpy()})[0]
    assert one.shape == (1, 10)


@pytest.mark.slow  # a fresh interpreter (torch import: seconds)
def test_the_script_runs_as_written_next_to_the_files(files, tmp_path):
    for kind, content in (("onnx", files.onnx), ("pt", files.pt)):
        (tmp_path / files.file_name(kind)).write_bytes(content)
    (tmp_path / files.file_name("snippet")).write_text(files.snippet)
    done = subprocess.run([sys.executable, files.file_name("snippet")], cwd=tmp_path, capture_output=True, text=True,
                          check=False, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    onnx_line, torch_line = done.stdout.strip().splitlines()
    assert onnx_line.startswith("ONNX Runtime: [") and torch_line.startswith("PyTorch: [")
    assert onnx_line.split(": ", 1)[1] == torch_line.split(": ", 1)[1]  # the same answers from both files


def test_the_script_preprocesses_as_the_lab_does(cnn, tiny_digits):
    text = export.snippet(cnn)
    scope: dict = {}
    # Only the preprocessing part: constants and the function, not the runs.
    exec(text.split("images = np.zeros")[0], scope)  # noqa: S102
    images = tiny_digits.test_images[:8]
    got = scope["preprocess"](images.numpy())
    torch.testing.assert_close(torch.from_numpy(got), tiny_digits.test_tensors(8)[0], rtol=1e-6, atol=1e-6)
    assert scope["CLASSES"] == list(tiny_digits.classes)


def test_file_names_carry_model_dataset_and_variant(cnn):
    assert export.file_name(cnn, "onnx") == "cnn-digits.onnx"
    assert export.file_name(cnn, "pt", "pruned-channels-50+int8-static") == "cnn-digits-pruned-channels-50-int8-static.pt"
    assert export.file_name(cnn, "snippet") == "run_cnn_digits.py"


def test_registry_spec_finds_the_architecture_or_none():
    like = ModelSpec("cnn")
    assert export.registry_spec(build_model(ModelSpec("tiny-cnn")), like) == ModelSpec("tiny-cnn")
    narrower = torch.nn.Sequential(torch.nn.Linear(784, 3))
    assert export.registry_spec(narrower, like) is None


def test_each_variant_has_its_files_or_says_why(cnn, tiny_digits):
    torch.set_num_threads(1)
    settings = CompressSettings(try_channels_last=False, calibration_images=64, finetune_epochs_channels=0)
    variants = make_variants(cnn, tiny_digits, ["pruned-channels-50", "int8-static", "onnxruntime-int8"], settings)
    out = export.variant_files(cnn, variants)
    assert isinstance(out["fp32"], export.ModelFiles) and out["fp32"].pt is not None
    pruned = out["pruned-channels-50"]
    assert pruned.onnx is not None and pruned.pt is None and "no registry model's" in pruned.pt_how
    assert "# No PyTorch file:" in pruned.snippet and "onnxruntime" in pruned.snippet
    assert "torch.ao int8 graph" in out["int8-static"]   # no file at all: the reason
    q = out["onnxruntime-int8"]
    assert q.onnx == variants[-1].saved_bytes() and q.pt is None and q.stem == "cnn-digits-onnxruntime-int8"
    ort.InferenceSession(pruned.onnx, providers=["CPUExecutionProvider"])  # loads
