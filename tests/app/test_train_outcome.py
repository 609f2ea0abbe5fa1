"""The Train page says what became of a training: a collapsed run is no green success, a diverged
run keeps its curves and says so in red, and the sample gallery says when one answer dominates.

Real trainings through the page's widgets, each about a second of work (settings from
dashboard/lab/training/outcome.py's measurements, cut to one epoch on 1,000-2,000 images)."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard.service.sessions import REGISTRY
from dashboard.ui.session import KEY

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def session(at: AppTest):
    return REGISTRY.get(at.session_state[KEY])


def train(at: AppTest, *, model: str, optimizer: str, lr: float, images: int, batch: int = 64) -> None:
    """Set the Train page's widgets, press Train, wait for the job, draw the page again."""
    at.switch_page("app_pages/train.py")
    at.run()
    at.selectbox(key="train_model").set_value(model)
    at.slider(key="train_epochs").set_value(1)
    at.select_slider(key="train_images").set_value(images)
    at.select_slider(key="train_batch").set_value(batch)
    at.radio(key="train_optimizer").set_value(optimizer)
    at.select_slider(key="train_lr").set_value(lr)
    at.run()
    next(b for b in at.button if b.label == "Train").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    s = session(at)
    deadline = time.monotonic() + 120
    while s.busy:
        assert time.monotonic() < deadline, "the training did not end"
        time.sleep(0.1)
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def curves(at: AppTest) -> str:
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    return next(spec for spec in specs if "Loss (lower is better)" in spec)


def test_a_collapsed_training_is_no_green_success():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    # The student's case on a small scale: SGD at learning rate 1.0 answers one digit for everything.
    train(at, model="tiny-cnn", optimizer="sgd", lr=1.0, images=2000)
    s = session(at)
    o = s.trained.outcome
    assert o.kind == "collapsed" and s.trained.test_accuracy < 0.15
    assert not at.success, [x.value for x in at.success]                 # nothing green
    warnings = [w.value for w in at.warning]
    assert any("collapsed" in w and "Lower the learning rate" in w and "0.03 to 0.1" in w for w in warnings), warnings
    assert any(f"answers '{o.top_class}' for" in w and "what guessing gives for 10 classes" in w for w in warnings)
    # the curves and the numbers stay on the page
    assert curves(at)
    assert {m.label: m.value for m in at.metric}["Test accuracy"] == f"{100 * s.trained.test_accuracy:.1f} %"
    # the gallery says what the model answers overall, and that one answer dominates
    assert any("What the model answers over all 2,000 test images" in c.value for c in at.caption)
    assert any("it has collapsed onto one answer" in w for w in warnings)
    assert s.runs[-1].outcome == "collapsed"


def test_a_diverged_training_keeps_its_curves_and_says_so_in_red():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    # The mlp with SGD at 1.0 and batch 16: the loss becomes NaN within the first 30 steps.
    train(at, model="mlp", optimizer="sgd", lr=1.0, images=1000, batch=16)
    s = session(at)
    assert s.job.state == "done"                                         # a result, not a failure
    assert s.trained is not None and s.trained.outcome.kind == "diverged"
    assert s.steps and s.steps[-1].overflowed                            # the curve up to the explosion
    errors = [e.value for e in at.error]
    assert any("diverged" in e and "Lower the learning rate" in e for e in errors), errors
    assert not any("Training failed" in e for e in errors)
    assert not at.success
    spec = curves(at)
    assert str(round(s.steps[-1].loss, 3))[:5] in spec                   # the stand-in point is drawn
    assert s.runs[-1].outcome == "diverged"
    assert s.runs[-1].record.training["outcome"]["kind"] == "diverged"
