"""FLOPs per layer, forward and backward (lab.measure.layer_flops)."""

from __future__ import annotations

import functools

import pytest
import torch

from dashboard.lab.measure.layer_flops import OPTIMIZER_FLOPS_PER_PARAM, flops_by_layer
from dashboard.lab.training.models import MODEL_NAMES, ModelSpec, build_model, count_params, model_cost

SHAPE = (1, 28, 28)


@functools.cache
def model(name: str) -> torch.nn.Module:
    return build_model(ModelSpec(name), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_layers_add_up_to_model_cost(name):
    table = flops_by_layer(model(name), SHAPE)
    cost = model_cost(model(name), SHAPE)
    assert sum(layer.forward for layer in table.layers) == table.forward_total == cost.inference_flops_per_image
    assert sum(layer.forward + layer.backward for layer in table.layers) == table.training_total \
        == cost.train_flops_per_image
    assert table.unattributed == 0
    named = dict(model(name).named_modules())
    assert [layer.name for layer in table.layers] == \
           [n for n, m in named.items() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert all(layer.kind == type(named[layer.name]).__name__ for layer in table.layers)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_backward_is_twice_forward_except_the_first_layer(name):
    first, *rest = flops_by_layer(model(name), SHAPE).layers
    # the image needs no gradient: the first layer's backward is the weight gradient only
    assert not first.input_grad and first.backward == first.forward > 0
    assert rest and all(layer.input_grad and layer.backward == 2 * layer.forward > 0 for layer in rest)


def test_known_figures():
    mlp = flops_by_layer(model("mlp"), SHAPE).layers
    assert [(layer.forward, layer.backward) for layer in mlp] == \
           [(2 * 784 * 256, 2 * 784 * 256), (2 * 256 * 128, 4 * 256 * 128), (2 * 128 * 10, 4 * 128 * 10)]
    conv2 = flops_by_layer(model("cnn"), SHAPE).layers[1]
    assert (conv2.name, conv2.kind) == ("features.3", "Conv2d")
    assert conv2.forward == 2 * 14 * 14 * 64 * 32 * 9


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_figures_are_per_image_whatever_the_batch(name):
    one, eight = flops_by_layer(model(name), SHAPE), flops_by_layer(model(name), SHAPE, batch_size=8)
    assert eight.batch_size == 8
    assert eight.layers == one.layers
    assert (eight.forward_total, eight.backward_total) == (one.forward_total, one.backward_total)


def test_the_optimizer_step_is_an_estimate_kept_apart():
    params = count_params(model("cnn"))
    adam = flops_by_layer(model("cnn"), SHAPE, optimizer="adam")
    sgd = flops_by_layer(model("cnn"), SHAPE, optimizer="sgd")
    assert adam.params == params
    assert adam.optimizer_flops_per_step == OPTIMIZER_FLOPS_PER_PARAM["adam"] * params == 13 * params
    assert sgd.optimizer_flops_per_step == 4 * params
    assert "Not counted" in adam.optimizer_note and "estimate" in adam.optimizer_note.lower()
    # the counted figures do not include it
    assert adam.training_total == sgd.training_total == model_cost(model("cnn"), SHAPE).train_flops_per_image
    d = adam.to_dict()
    assert d["training_total"] == adam.training_total and d["layers"][1]["backward_ratio"] == 2.0
    with pytest.raises(ValueError):
        flops_by_layer(model("cnn"), SHAPE, optimizer="rmsprop")
    with pytest.raises(ValueError):
        flops_by_layer(model("cnn"), SHAPE, batch_size=0)


def test_the_callers_model_is_not_touched(tiny_trained):
    module = tiny_trained.module
    before = {k: v.clone() for k, v in module.state_dict().items()}
    flops_by_layer(module, SHAPE)
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert all(p.grad is None for p in module.parameters())
    assert not module.training


def test_gradients_the_caller_holds_are_kept():
    net = build_model(ModelSpec("mlp"))
    net(torch.zeros(2, *SHAPE)).sum().backward()
    grads = [p.grad.clone() for p in net.parameters()]
    flops_by_layer(net, SHAPE)
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, net.parameters(), strict=True))


def test_a_training_thread_alongside_changes_nothing(training_alongside):
    # FlopCounterMode's own per-module table is fed by process-global module hooks: a forward pass
    # in another thread lands in it. Per-layer counts here must not move.
    alone = flops_by_layer(model("cnn"), SHAPE)
    with training_alongside("cnn", 8) as steps:
        before = steps()
        results = [flops_by_layer(model("cnn"), SHAPE) for _ in range(20)]
        while steps() == before and len(results) < 400:   # under load the other thread may not have run yet
            results.append(flops_by_layer(model("cnn"), SHAPE))
        assert steps() > before
    assert all(r == alone for r in results)
