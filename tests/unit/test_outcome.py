"""A training's outcome is named from its real history: ok, diverged, collapsed, barely learned.

Real runs on the bundled digits, each under a second on one thread (the settings measured in
dashboard/lab/training/outcome.py's docstring, cut to 2,000 images and one epoch).
"""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from dashboard.lab.training.inspect import inspect_model, predict, sample_predictions
from dashboard.lab.training.outcome import Evidence, Outcome, judge
from dashboard.lab.training.train import StepEvent, TrainConfig, TrainedModel, Training, train

CLASSES = tuple(str(i) for i in range(10))


def config(**kw) -> TrainConfig:
    return TrainConfig(**{"model": "mlp", "epochs": 1, "threads": 1, **kw})


def test_a_normal_run_is_ok(digits):
    trained = train(config(train_images=4000), digits)
    o = trained.outcome
    assert o.kind == "ok" and o.level == "success" and o.advice == ""
    assert trained.test_accuracy > 0.8 and trained.test_loss < 0.5
    assert o.top_share < 0.2                      # its answers spread over the ten digits


@pytest.mark.parametrize("model", ["cnn", "tiny-cnn"])
def test_sgd_at_learning_rate_1_collapses_onto_one_answer(digits, model):
    # The student's case: SGD, learning rate 1.0 on the digits. It "finishes" at 10 % (chance).
    trained = train(config(model=model, optimizer="sgd", lr=1.0, train_images=2000), digits)
    o = trained.outcome
    assert o.kind == "collapsed" and o.level == "warning"
    assert trained.test_accuracy < 0.15 and o.top_share >= 0.9
    assert abs(trained.test_loss - math.log(10)) < 0.25       # about ln 10: it gives up and guesses
    assert f"answers '{o.top_class}'" in o.explanation and "what guessing gives for 10 classes" in o.explanation
    assert "Lower the learning rate" in o.advice and "0.03 to 0.1" in o.advice
    # the gallery's numbers say the same: one class takes (almost) every answer
    insp = inspect_model(trained.module, digits)
    assert insp.dominant() == (o.top_class, pytest.approx(o.top_share))
    assert insp.predicted_share.sum() == pytest.approx(1.0)


def test_a_tiny_learning_rate_barely_learns_and_says_raise_it(digits):
    trained = train(config(optimizer="sgd", lr=0.0001, train_images=2000), digits)
    o = trained.outcome
    assert o.kind == "barely learned" and o.level == "warning"
    assert "Raise the learning rate" in o.advice and "0.03 to 0.1" in o.advice


def test_a_nan_loss_ends_the_run_as_diverged_with_the_curves_kept(tiny_digits):
    # A loss that turns NaN at the 25th step: the weights go NaN with it.
    calls = {"n": 0}

    def poisoned(out, y, x):
        calls["n"] += 1
        loss = F.cross_entropy(out, y)
        return loss * float("nan") if calls["n"] == 25 else loss

    run = Training(config(epochs=2, batch_size=16, log_every=10), tiny_digits, loss_fn=poisoned)
    events = list(run)                               # no exception escapes the iterator
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [e.step for e in steps] == [10, 20, 30]   # the curve up to the explosion is kept
    assert [e.overflowed for e in steps] == [False, False, True]
    assert math.isfinite(steps[-1].loss) and steps[-1].loss >= 10 * math.log(10)  # drawn high, not a gap
    trained = run.result()                           # nor from result()
    o = trained.outcome
    assert o.kind == "diverged" and o.level == "error"
    # the weights kept: from step 10, the last log point whose weights then gave a finite loss
    # (those of step 20 went into the window that turned NaN)
    assert "became nan at step 30" in o.explanation and "from step 10" in o.explanation
    assert not trained.completed and trained.history == []
    assert all(torch.isfinite(p).all() for p in trained.module.state_dict().values())  # its last finite state
    x = tiny_digits.test_tensors(8)[0]
    assert torch.isfinite(trained.module(x)).all()
    # the summary is plain JSON (no NaN), and a saved model keeps its outcome
    json.dumps(trained.summary(), allow_nan=False)
    assert trained.summary()["outcome"]["kind"] == "diverged"


def test_a_learning_rate_that_overflows_diverges_without_an_exception(tiny_digits, tmp_path):
    trained = train(config(optimizer="sgd", lr=1e5), tiny_digits)
    assert trained.outcome.kind == "diverged"
    assert "Lower the learning rate" in trained.outcome.advice
    loaded = TrainedModel.load(trained.save(tmp_path / "diverged.pt"))
    assert loaded.outcome == trained.outcome and loaded.test_loss == trained.test_loss


def test_the_gallery_of_a_collapsed_model_is_mostly_mistakes(tiny_digits):
    # A model that always answers "3": right on every 3, wrong on everything else.
    preds = predict(torch.nn.Sequential(torch.nn.Flatten(), _Always(3)), tiny_digits)
    samples = sample_predictions(preds, tiny_digits, n=24, seed=0)
    wrong = sum(not s.correct for s in samples)
    assert wrong >= round(24 * (1 - preds.accuracy)) - 1 and wrong > 18
    assert sum(not s.correct for s in sample_predictions(preds, tiny_digits, n=24, mistakes=6)) == 6


class _Always(torch.nn.Module):
    def __init__(self, k: int):
        super().__init__()
        self.k = k

    def forward(self, x):
        out = torch.zeros(len(x), 10)
        out[:, self.k] = 5.0
        return out


def evidence(**kw) -> Evidence:
    base = {"classes": CLASSES, "optimizer": "adam", "lr": 0.003, "schedule": "onecycle", "test_accuracy": 0.97,
            "test_loss": 0.08, "predicted_counts": (200,) * 10, "first_loss": 2.25, "peak_loss": 2.25,
            "steps": 375, "total_steps": 375, "samples_seen": 24000}
    return Evidence(**{**base, **kw})


@pytest.mark.parametrize("kw,kind", [
    ({}, "ok"),
    ({"test_accuracy": 0.905, "test_loss": 0.34, "lr": 0.0001}, "ok"),
    # one class takes half the answers or more: collapsed
    ({"test_accuracy": 0.10, "test_loss": 2.30, "predicted_counts": (2000,) + (0,) * 9}, "collapsed"),
    ({"test_accuracy": 0.40, "test_loss": 1.5, "predicted_counts": (1000,) + (111,) * 9}, "collapsed"),
    # the loss fell less than a quarter of the way from a guess, or accuracy near chance
    ({"test_accuracy": 0.42, "test_loss": 2.24, "predicted_counts": (640,) + (151,) * 9}, "barely learned"),
    ({"test_accuracy": 0.30, "test_loss": 1.0}, "barely learned"),
    # exploded during training and still far above a guess at the end: diverged, though finite
    ({"test_accuracy": 0.107, "test_loss": 75.0, "peak_loss": 42.0, "first_loss": 35.0,
      "predicted_counts": (1976,) + (24,) + (0,) * 8}, "diverged"),
    ({"overflow": "nan", "overflow_step": 90, "overflow_epoch": 1, "kept_step": 80, "test_accuracy": 0.1,
      "test_loss": float("nan")}, "diverged"),
])
def test_thresholds(kw, kind):
    assert judge(evidence(**kw)).kind == kind


def test_advice_follows_the_cause():
    collapsed = {"test_accuracy": 0.1, "test_loss": 2.30, "predicted_counts": (2000,) + (0,) * 9}
    # too high a rate for the optimizer: lower it, with a value for that optimizer
    assert "try 0.003" in judge(evidence(**collapsed, lr=1.0)).advice
    assert "try 0.03 to 0.1" in judge(evidence(**collapsed, optimizer="sgd", lr=1.0)).advice
    # a good rate but 8 updates: train longer
    short = judge(evidence(**collapsed, steps=8, samples_seen=500))
    assert short.advice.startswith("Train longer") and "8 updates on 500 images" in short.advice
    # stopped by the student: say so
    assert judge(evidence(**collapsed, steps=8, stopped=True)).advice.startswith("Let it run to the end")
    # a constant schedule at too high a rate: the warm-up helps
    assert "warm up" in judge(evidence(**collapsed, lr=1.0, schedule="constant")).advice
    # ok but slow: a hint, not a warning
    slow = judge(evidence(test_accuracy=0.905, test_loss=0.34, lr=0.0001))
    assert slow.kind == "ok" and "0.003" in slow.advice


def test_the_student_sees_their_numbers():
    o = judge(evidence(test_accuracy=0.10, test_loss=math.log(10), first_loss=2.05, peak_loss=7.9,
                       optimizer="sgd", lr=1.0, predicted_counts=(1960,) + (5,) * 8 + (0,)))
    assert o.kind == "collapsed"
    assert o.explanation.startswith("10.0 % test accuracy — what guessing gives for 10 classes; "
                                    "the test loss sits at 2.30, exactly the 2.30 of a blind guess")
    assert "the model answers '0' for 98 % of the test images" in o.explanation
    assert "rose from 2.05 to 7.90" in o.explanation


def test_outcome_round_trips_through_plain_data():
    o = judge(evidence(overflow="inf", overflow_step=3, overflow_epoch=1, kept_step=0, test_loss=float("inf")))
    d = o.to_dict()
    json.dumps(d, allow_nan=False)
    assert Outcome.from_dict(d).kind == "diverged" and Outcome.from_dict(d).test_loss is None
