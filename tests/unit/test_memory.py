"""Memory of one training step vs one inference, measured on the real tensors (lab.measure.memory)."""

from __future__ import annotations

import functools

import pytest
import torch

from dashboard.lab.measure.memory import compare_memory
from dashboard.lab.training.models import MODEL_NAMES, ModelSpec, build_model

SHAPE = (1, 28, 28)
FP32 = 4


@functools.cache
def model(name: str) -> torch.nn.Module:
    return build_model(ModelSpec(name), generator=torch.Generator().manual_seed(0))


@functools.cache
def measured(name: str, optimizer: str, batch_size: int):
    return compare_memory(model(name), SHAPE, batch_size=batch_size, optimizer=optimizer)


def weight_bytes(name: str) -> int:
    return sum(p.numel() * FP32 for p in model(name).parameters())


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_breakdown_adds_up_and_training_needs_more(name, optimizer):
    cmp = measured(name, optimizer, 32)
    assert cmp.training.peak > cmp.inference.peak
    assert cmp.ratio == cmp.training.peak / cmp.inference.peak > 1
    for b in (cmp.training, cmp.inference):
        # the five parts partition the live storages at the peak: exact, 0 bytes of tolerance
        assert b.weights + b.gradients + b.optimizer_state + b.activations + b.other == b.peak
        assert b.weights == weight_bytes(name)
    assert cmp.inference.gradients == cmp.inference.optimizer_state == 0
    assert cmp.inference.other >= 32 * 28 * 28 * FP32                # the batch itself
    assert cmp.training.phase in ("forward", "backward", "optimizer step")
    assert cmp.to_dict()["ratio"] == cmp.ratio


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_gradients_are_the_size_of_the_weights(name):
    for optimizer in ("adam", "sgd"):
        cmp = measured(name, optimizer, 32)
        assert cmp.weight_bytes == cmp.gradient_bytes == weight_bytes(name)
        # at a backward peak only the gradients computed so far are live (backward runs last layer first)
        assert 0 < cmp.training.gradients <= cmp.gradient_bytes
        if cmp.training.phase != "backward":   # last step's (forward) or this step's (optimizer) grads, all of them
            assert cmp.training.gradients == cmp.gradient_bytes


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_optimizer_state_is_two_copies_for_adam_one_for_sgd(name):
    n_tensors = len(list(model(name).parameters()))
    adam, sgd = measured(name, "adam", 32), measured(name, "sgd", 32)
    # Adam: exp_avg + exp_avg_sq, plus one 4-byte step counter per parameter tensor
    assert adam.optimizer_state_bytes == 2 * weight_bytes(name) + FP32 * n_tensors
    assert sgd.optimizer_state_bytes == weight_bytes(name)             # the momentum buffer
    # it exists from the warm-up step on, so all of it is live at the measured step's peak
    assert adam.training.optimizer_state == adam.optimizer_state_bytes
    assert sgd.training.optimizer_state == sgd.optimizer_state_bytes
    assert adam.training.peak > sgd.training.peak


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_activations_grow_with_the_batch(name):
    small, large = measured(name, "sgd", 8), measured(name, "sgd", 32)
    assert large.training.activations > small.training.activations > 0
    assert large.inference.activations > small.inference.activations > 0
    assert large.training.peak > small.training.peak
    assert large.inference.peak > small.inference.peak
    # weights, gradients and optimizer state do not depend on the batch
    assert (large.weight_bytes, large.gradient_bytes, large.optimizer_state_bytes) == \
           (small.weight_bytes, small.gradient_bytes, small.optimizer_state_bytes)


def test_what_is_live_at_the_peak_is_classified_by_its_role():
    # mlp + SGD, batch 32: the peak is the first ReLU of the forward pass. Live: last step's
    # gradients, the first Linear's output (not saved: ReLU saves its result) and the ReLU's
    # output, saved for backward by the very op that hit the peak.
    cmp = measured("mlp", "sgd", 32)
    hidden = 32 * 256 * FP32
    batch = 32 * 784 * FP32 + 32 * 8                                  # images + int64 labels
    assert cmp.training.phase == "forward"
    assert cmp.training.gradients == cmp.gradient_bytes
    assert cmp.training.activations == hidden
    assert cmp.training.other == batch + hidden
    # inference: every tensor the forward made is an activation (the Linear output and the ReLU's)
    assert cmp.inference.activations == 2 * hidden
    assert cmp.inference.other == 32 * 784 * FP32
    # cnn inference peaks at the first ReLU too: the conv output and the ReLU's, 32 channels of 28x28
    assert measured("cnn", "sgd", 32).inference.activations == 2 * 32 * 32 * 28 * 28 * FP32


def test_adams_temporaries_make_the_mlps_peak():
    # Surprising but real: torch's single-tensor Adam (the CPU path) makes two temporaries the size
    # of each weight (sqrt, then division); for the mlp's 784x256 weight that outweighs the
    # activations, so the peak is in the optimizer step, after backward has freed them.
    cmp = measured("mlp", "adam", 32)
    assert cmp.training.phase == "optimizer step"
    assert cmp.training.activations == 0
    assert cmp.training.other >= 2 * 784 * 256 * FP32


def test_the_callers_model_is_not_touched(tiny_trained):
    module = tiny_trained.module
    before = {k: v.clone() for k, v in module.state_dict().items()}
    was_training = module.training
    compare_memory(module, SHAPE, batch_size=16, optimizer="adam")
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert all(p.grad is None for p in module.parameters())
    assert module.training == was_training


def test_a_training_thread_alongside_changes_nothing(training_alongside):
    # torch's MemTracker uses process-global module/optimizer hooks and breaks here; this tracker
    # is thread-local (dispatch mode, saved-tensor hooks) and must give the same figures.
    alone = compare_memory(model("cnn"), SHAPE, batch_size=16)
    with training_alongside("mlp", 16) as steps:
        before = steps()
        results = [compare_memory(model("cnn"), SHAPE, batch_size=16) for _ in range(5)]
        while steps() == before and len(results) < 100:   # under load the other thread may not have run yet
            results.append(compare_memory(model("cnn"), SHAPE, batch_size=16))
        assert steps() > before
    assert all(r == alone for r in results)


def test_layout_and_bad_arguments():
    contiguous = compare_memory(model("cnn"), SHAPE, batch_size=8, layout="contiguous")
    channels_last = compare_memory(model("cnn"), SHAPE, batch_size=8, layout="channels_last")
    assert (contiguous.layout, channels_last.layout) == ("contiguous", "channels_last")
    assert measured("cnn", "adam", 8).layout == "channels_last"          # auto on the CPU, as training
    assert measured("mlp", "adam", 8).layout == "contiguous"
    assert contiguous.inference.peak == channels_last.inference.peak
    assert contiguous.device == "cpu" and contiguous.cuda_peak_training is None
    with pytest.raises(ValueError):
        compare_memory(model("mlp"), SHAPE, batch_size=0)
    with pytest.raises(ValueError):
        compare_memory(model("mlp"), SHAPE, batch_size=4, optimizer="rmsprop")
