"""The Home page's "Run the whole demo" as a job: one call of the engine's demo path (lab.pipeline.run)
trains, compresses and measures, with the live curves on the job; a training that diverges ends the demo
after training, as it ends the command line's run, and the session keeps that model and says why."""

from __future__ import annotations

import dataclasses

import pytest

from dashboard.lab import pipeline
from dashboard.lab.compression.compress import CompressSettings
from dashboard.lab.training.train import TrainConfig
from dashboard.service import measuring
from dashboard.service.jobs import DONE
from dashboard.service.sessions import REGISTRY
from dashboard.service.shared import SHARED


@pytest.fixture
def small_demo(monkeypatch):
    """The demo's settings, small: an mlp on 400 digits, two versions; every engine call recorded."""
    calls = []
    real = pipeline.run

    def counted(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "run", counted)
    monkeypatch.setattr(pipeline, "DEMO_CONFIG", TrainConfig(model="mlp", dataset="digits", epochs=1,
                                                             train_images=400, seed=21))
    monkeypatch.setattr(pipeline, "DEMO_VARIANTS", ["fp32", "int8-dynamic"])
    monkeypatch.setattr(pipeline, "DEMO_COMPRESS", CompressSettings(finetune_epochs_channels=0,
                                                                    finetune_epochs_unstructured=0,
                                                                    layout_seconds=0.01))
    return calls


def test_the_demo_is_one_call_of_the_engines_demo_path_and_fills_the_session(small_demo, windows_count_as_quiet):
    # What the demo's one call fills in, not its figures: a busy machine's windows count as quiet here.
    s = REGISTRY.create()
    job = measuring.start_demo(s)
    assert job is not None and job.wait(180) and job.state == DONE, job.error
    assert len(small_demo) == 1 and small_demo[0].get("trained") is None   # trained and measured in one call
    assert s.trained is not None and s.trained.spec.name == "mlp" and s.trained.completed
    assert [r.name for r in s.results] == ["fp32", "int8-dynamic"] and s.results_settings["demo"] is True
    assert s.memory is not None and s.layer_flops is not None and s.inspection is not None
    assert s.steps and job.view["steps"] and job.view["total_steps"] == s.steps[-1].total_steps   # live curves
    assert [r.kind for r in s.runs] == ["demo"] and s.runs[-1].record.training_energy is not None
    assert s.notices[-1][1].startswith("Demo done")


def test_a_demo_whose_training_diverges_keeps_the_model_measures_nothing_and_is_not_shared(small_demo, monkeypatch):
    diverging = dataclasses.replace(pipeline.DEMO_CONFIG, optimizer="sgd", lr=100000.0)
    monkeypatch.setattr(pipeline, "DEMO_CONFIG", diverging)
    s = REGISTRY.create()
    job = measuring.start_demo(s)
    assert job is not None and job.wait(180) and job.state == DONE, job.error
    assert s.trained is not None and s.trained.outcome.kind == "diverged" and s.steps   # its curves are kept
    assert s.results == []                                                             # nothing measured
    assert s.runs[-1].outcome == "diverged"
    level, text = s.notices[-1]
    assert level == "error" and "diverged" in text.lower()
    assert SHARED.get(measuring.demo_key()) is None   # another session trains its own, not this one's
