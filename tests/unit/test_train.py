import dataclasses
import math

import pytest
import torch

from dashboard.lab import hardware
from dashboard.lab.training.train import (
    EpochEvent,
    StepEvent,
    TrainConfig,
    TrainedModel,
    Training,
    precision_choices,
    train,
)


@pytest.mark.slow  # three real epochs of the cnn on all 8,000 digits (conftest's cnn_trained, test_compress's too)
def test_default_cnn_reaches_97_percent_in_a_short_run(cnn_trained):
    trained = cnn_trained
    assert trained.test_accuracy >= 0.97
    assert trained.completed and len(trained.history) == 3
    assert trained.images_per_second > 0 and trained.seconds >= trained.train_seconds > 0


def test_events_arrive_in_order_with_sane_numbers(digits):
    run = Training(TrainConfig(model="mlp", epochs=2, batch_size=256, threads=1), digits)
    events = list(run)
    steps = [e for e in events if isinstance(e, StepEvent)]
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert [e.epoch for e in epochs] == [1, 2]
    assert [e.step for e in steps] == sorted(e.step for e in steps)
    assert steps[-1].step == run.total_steps == 2 * math.ceil(8000 / 256)
    assert steps[-1].samples_seen == 16000 and steps[-1].progress == 1.0
    assert all(0 <= e.running_accuracy <= 1 and e.loss > 0 for e in steps)
    assert steps[-1].loss < steps[0].loss
    assert all(b.elapsed_s >= a.elapsed_s for a, b in zip(events, events[1:]))


def test_same_seed_same_result(digits):
    config = TrainConfig(model="mlp", epochs=1, batch_size=128, seed=7, threads=1)
    a, b = train(config, digits), train(config, digits)
    for (name, pa), pb in zip(a.module.state_dict().items(), b.module.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert a.test_accuracy == b.test_accuracy
    c = train(TrainConfig(model="mlp", epochs=1, batch_size=128, seed=8, threads=1), digits)
    assert not torch.equal(c.module.classifier[0].weight, a.module.classifier[0].weight)


def test_divergence_stops_the_run_keeps_its_curves_and_says_what_to_try(digits):
    # A diverged run is a result, not an exception: it ends at the overflow with the curve so far,
    # the weights of its last finite state and the outcome "diverged" (tests/unit/test_outcome.py).
    run = Training(TrainConfig(model="mlp", lr=1e5, optimizer="sgd", epochs=1, threads=1), digits)
    steps = list(run)
    assert steps and steps[-1].overflowed and not any(e.overflowed for e in steps[:-1])
    assert run.step < run.total_steps
    assert run.diverged is not None and "learning rate 100000 is too high for sgd; try" in run.diverged
    trained = run.result()
    assert trained.outcome.kind == "diverged" and "too high for SGD with momentum; try" in trained.outcome.advice
    assert all(torch.isfinite(p).all() for p in trained.module.parameters())


def test_stop_between_chunks_keeps_a_usable_model(digits, tmp_path):
    # The mlp on one thread: a fraction of a second to 4,000 images. 500 test digits judge it.
    run = Training(TrainConfig(model="mlp", epochs=3, threads=1), digits.subset(None, 500))
    for event in run:
        if isinstance(event, StepEvent) and event.samples_seen >= 4000:
            run.stop()
    partial = run.result()
    assert not partial.completed and partial.history == []
    assert 4000 <= partial.samples_seen < 5000  # stopped at the next step boundary
    assert partial.test_accuracy > 0.85  # half an epoch already learns most digits
    # a stopped run's model saves and loads like any other
    loaded = TrainedModel.load(partial.save(tmp_path / "partial.pt"))
    x = digits.test_tensors(64)[0]
    assert torch.equal(loaded.module(x), partial.module(x))
    assert loaded.spec == partial.spec and loaded.samples_seen == partial.samples_seen


def test_bad_settings_are_rejected_before_any_work():
    for bad in (dict(epochs=0), dict(lr=-1.0), dict(optimizer="rmsprop"), dict(batch_size=0),
                dict(layout="nhwc"), dict(precision="fp8"), dict(train_images=0)):
        with pytest.raises(ValueError):
            Training(TrainConfig(**bad))


def _first_conv_output_layout(run: Training) -> list[str]:
    """Run a few steps and say which memory layout the first conv's outputs actually had."""
    seen = []

    def hook(module, inputs, output):
        seen.append("channels_last" if output.is_contiguous(memory_format=torch.channels_last)
                    and not output.is_contiguous() else "contiguous")

    run.module.features[0].register_forward_hook(hook)
    for event in run:
        if event.step >= 2:
            run.stop()
    return seen


def test_conv_nets_train_channels_last_on_the_cpu_and_the_mlp_contiguous(digits):
    small = digits.subset(256, 100)
    for model in ("cnn", "tiny-cnn"):
        run = Training(TrainConfig(model=model, epochs=1, threads=1, log_every=1), small)
        assert run.layout == "channels_last"
        assert all(p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                   for p in run.module.parameters() if p.dim() == 4 and p.shape[1] > 1)
        assert set(_first_conv_output_layout(run)) == {"channels_last"}
        trained = run.result()
        assert trained.summary()["layout"] == "channels_last"
        assert all(p.is_contiguous() for p in trained.module.parameters())  # handed back in the usual form
    forced = Training(TrainConfig(model="cnn", epochs=1, threads=1, log_every=1, layout="contiguous"), small)
    assert set(_first_conv_output_layout(forced)) == {"contiguous"}
    mlp = Training(TrainConfig(model="mlp", epochs=1, threads=1), small)
    assert mlp.layout == "contiguous" and all(p.is_contiguous() for p in mlp.module.parameters())
    list(mlp)
    assert mlp.result().summary()["layout"] == "contiguous"


@pytest.mark.slow  # two cnn trainings on 4,000 digits to compare accuracies
def test_bf16_lands_near_fp32_or_is_refused_with_the_reason(digits):
    config = TrainConfig(model="cnn", epochs=1, threads=torch.get_num_threads(), train_images=4000)
    if "bf16" not in precision_choices("cpu"):
        with pytest.raises(ValueError, match="no native bf16"):
            Training(dataclasses.replace(config, precision="bf16"), digits)
        return
    assert "native" in precision_choices("cpu")["bf16"]
    fp32 = train(config, digits)
    bf16 = train(dataclasses.replace(config, precision="bf16"), digits)
    assert bf16.summary()["precision"] == "bf16" and fp32.summary()["precision"] == "fp32"
    assert bf16.test_accuracy > 0.9 and abs(bf16.test_accuracy - fp32.test_accuracy) <= 0.02
    assert all(p.dtype == torch.float32 for p in bf16.module.parameters())  # fp32 master weights


def test_bf16_is_refused_on_a_cpu_without_native_bf16(monkeypatch):
    plain = dataclasses.replace(hardware.describe("cpu"), features=("avx2",), cpu="Old CPU")
    monkeypatch.setattr(hardware, "describe", lambda device="auto": plain)
    assert precision_choices("cpu") == {"fp32": "fp32 (full precision)"}
    with pytest.raises(ValueError, match=r"^This CPU \(Old CPU\) has no native bf16 .*use fp32\.$"):
        TrainConfig(precision="bf16", device="cpu").validate()
    TrainConfig(precision="fp32", device="cpu").validate()


def test_train_images_limits_what_one_epoch_sees(digits):
    run = Training(TrainConfig(model="mlp", epochs=2, batch_size=128, threads=1, train_images=500), digits)
    events = list(run)
    assert run.total_steps == 2 * math.ceil(500 / 128)
    assert events[-1].samples_seen == 1000
    trained = run.result()
    assert trained.samples_seen == 1000 and trained.summary()["train_images"] == 500
    assert trained.dataset == "digits" and run.dataset.n_test == digits.n_test  # judged on the whole test split
    everything = Training(TrainConfig(model="mlp", epochs=1, threads=1, train_images=digits.n_train + 1000), digits)
    assert everything.dataset.n_train == digits.n_train
