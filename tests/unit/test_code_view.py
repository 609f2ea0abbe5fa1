"""The Train page's "show me the code": the real source of one training step and of one inference."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from dashboard.course import code_view
from dashboard.lab.measure import bench
from dashboard.lab.training import variant

ROOT = Path(__file__).resolve().parents[2]


def test_the_training_step_is_forward_loss_backward_update_from_the_one_training_loop():
    title, source = code_view.training_step()
    assert "backward(" in source and "opt.step()" in source and "zero_grad" in source
    assert "self.loss_fn(out, y, x)" in source          # the forward pass and the loss
    assert source.startswith("for x, y in") and not source.startswith(" ")   # dedented, whole lines
    assert "Training._run" in title and "dashboard/lab/training/train.py" in title


def test_the_line_numbers_in_the_title_point_at_the_code_in_its_file():
    title, source = code_view.training_step()
    first, last = map(int, re.search(r"lines (\d+)–(\d+)", title).groups())
    lines = (ROOT / "dashboard" / "lab" / "training" / "train.py").read_text(encoding="utf-8").splitlines()[first - 1:last]
    assert [line.strip() for line in lines] == [line.strip() for line in source.splitlines()]


def test_inference_runs_without_gradients_and_calls_the_model_version():
    snippets = code_view.inference()
    joined = "\n".join(source for _, source in snippets)
    assert "inference_mode" in joined and "backward(" not in joined
    assert snippets[0].source == inspect.getsource(bench.predictions).rstrip()
    assert "def __call__" in snippets[1].source and "self.module(self.prepare(x))" in snippets[1].source
    assert "dashboard/lab/measure/bench.py" in snippets[0].title and "dashboard/lab/training/variant.py" in snippets[1].title
    assert variant.Variant.__call__.__qualname__ in snippets[1].title


def test_the_page_gets_the_training_step_first_then_the_inference():
    snippets = code_view.training_and_inference()
    assert [type(s) for s in snippets] == [code_view.Snippet] * 3
    assert snippets == [code_view.training_step(), *code_view.inference()]
    _, source = snippets[0]
    assert "backward(" in source and "inference_mode" not in source


def test_a_reshaped_loop_falls_back_to_the_whole_function(monkeypatch):
    monkeypatch.setattr(code_view, "STEP_START", "no such line in the loop")
    title, source = code_view.training_step()
    assert source.startswith("def _run(self)") and "loss.backward()" in source
    assert title.startswith("The training loop")
