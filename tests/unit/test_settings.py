"""The server's settings: read from the environment once, checked, never fatal; the engine's caps
refuse a request beyond them with a message naming the variable."""

from __future__ import annotations

import dataclasses

import pytest

from dashboard.lab import pipeline, settings
from dashboard.lab.compression.compress import CompressSettings
from dashboard.lab.settings import LimitExceeded, Limits, ServerSettings
from dashboard.lab.training.train import TrainConfig


def test_defaults_fit_a_hosted_copy():
    s, errors = settings.load({})
    assert errors == []
    assert 1 <= s.threads <= settings.effective_cpus()
    assert s.limits == Limits() and s.price_per_kwh is None and s.country == ""


@pytest.mark.parametrize("name, raw", [
    ("PRICE_PER_KWH", "nan"), ("PRICE_PER_KWH", "-1"), ("PRICE_PER_KWH", "1e9"), ("PRICE_PER_KWH", "cheap"),
    ("THREADS", "0"), ("THREADS", "9999"), ("MAX_EPOCHS", "0"), ("MAX_EPOCHS", "2.5"),
    ("COUNTRY", "France"), ("DISCONNECT_GRACE_S", "1"), ("RESULT_CACHE_MB", "-3"),
])
def test_a_bad_value_is_named_and_its_default_kept(name, raw):
    s, errors = settings.load({f"TRAIN_INFER_LAB_{name}": raw})
    assert len(errors) == 1 and errors[0].startswith(f"TRAIN_INFER_LAB_{name}={raw!r} is not valid: use ")
    assert s == ServerSettings()


def test_good_values_are_taken():
    s, errors = settings.load({"TRAIN_INFER_LAB_PRICE_PER_KWH": "31", "TRAIN_INFER_LAB_CURRENCY": "JPY",
                               "TRAIN_INFER_LAB_MAX_EPOCHS": "20", "TRAIN_INFER_LAB_COUNTRY": "fra",
                               "TRAIN_INFER_LAB_THREADS": "1"})
    assert errors == []
    assert (s.price_per_kwh, s.currency, s.limits.max_epochs, s.country, s.threads) == (31.0, "JPY", 20, "FRA", 1)
    assert s.limits.max_batch_size == Limits().max_batch_size  # a variable not set keeps its default


@pytest.fixture
def small_caps():
    settings.override(ServerSettings(limits=Limits(max_epochs=3, max_train_images=1_000, max_batch_size=128,
                                                   max_finetune_epochs=1, max_distill_epochs=2,
                                                   max_calibration_images=256, max_job_images=20_000)))
    yield
    settings.override(None)


@pytest.mark.parametrize("change, message", [
    ({"epochs": 4}, "epochs is 4, more than this lab's settings allow (3; "),
    ({"batch_size": 256}, "batch size is 256, more than this lab's settings allow (128; "),
    ({"train_images": 2_000}, "training images is 2,000, more than this lab's settings allow (1,000; "),
])
def test_the_engine_refuses_a_training_beyond_the_caps(small_caps, change, message):
    with pytest.raises(LimitExceeded, match=message.replace("(", r"\(")):
        dataclasses.replace(TrainConfig(epochs=2), **change).validate()


@pytest.mark.parametrize("change, variable", [
    ({"finetune_epochs_channels": 2}, "MAX_FINETUNE_EPOCHS"),
    ({"distill_epochs": 3}, "MAX_DISTILL_EPOCHS"),
    ({"calibration_images": 1024}, "MAX_CALIBRATION_IMAGES"),
])
def test_the_engine_refuses_compression_beyond_the_caps(small_caps, change, variable):
    with pytest.raises(LimitExceeded, match=f"TRAIN_INFER_LAB_{variable}"):
        dataclasses.replace(CompressSettings(finetune_epochs_channels=0, finetune_epochs_unstructured=0),
                            **change).validate()


def test_one_job_cannot_ask_for_more_training_work_than_the_budget(small_caps):
    config = TrainConfig(epochs=3, train_images=1_000)
    assert pipeline.check_budget(config, 8_000) == 3_000
    # Distillation trains two students for as many epochs as the teacher: 3 x 1,000 x 2 more.
    names = ["fp32", "student-baseline", "distilled", "pruned-channels-50"]
    cs = CompressSettings(finetune_epochs_channels=1)
    assert pipeline.job_images(config, 8_000, names, cs) == 3_000 + 6_000 + 1_000
    big = TrainConfig(epochs=3, batch_size=64)                  # all 8,000 digits: 24,000 images
    with pytest.raises(LimitExceeded, match=r"training work .* is 24,000, more than this lab's settings allow \(20,000"):
        pipeline.check_budget(big, 8_000)
