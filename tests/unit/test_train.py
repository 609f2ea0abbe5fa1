import math

import pytest
import torch

from dashboard.lab.train import EpochEvent, StepEvent, TrainConfig, TrainedModel, Training, TrainingDiverged, train


def test_default_cnn_reaches_97_percent_in_a_short_run(digits):
    trained = train(TrainConfig(model="cnn", epochs=3, threads=2), digits)
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


def test_divergence_stops_with_a_clear_message(digits):
    run = Training(TrainConfig(model="mlp", lr=1e5, optimizer="sgd", epochs=1, threads=1), digits)
    with pytest.raises(TrainingDiverged, match=r"learning rate 100000 is too high for sgd; try"):
        list(run)
    with pytest.raises(TrainingDiverged):
        run.result()


def test_stop_between_chunks_keeps_a_usable_model(digits, tmp_path):
    run = Training(TrainConfig(model="cnn", epochs=3, threads=2), digits)
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
    for bad in (dict(epochs=0), dict(lr=-1.0), dict(optimizer="rmsprop"), dict(batch_size=0)):
        with pytest.raises(ValueError):
            Training(TrainConfig(**bad))
