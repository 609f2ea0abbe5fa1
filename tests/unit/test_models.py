import pytest
import torch

from dashboard.lab.training.models import MODEL_NAMES, ModelSpec, build_model, count_params, flops_per_image, model_cost


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_output_shape(name, shape):
    model = build_model(ModelSpec(name, shape, 10))
    assert model(torch.zeros(5, *shape)).shape == (5, 10)


def test_param_counts_match_the_architecture():
    # cnn: conv 1->32 (3x3), conv 32->64 (3x3), fc 64*7*7->128, fc 128->10, with biases
    expected = (32 * 9 + 32) + (64 * 32 * 9 + 64) + (64 * 49 * 128 + 128) + (128 * 10 + 10)
    assert count_params(build_model(ModelSpec("cnn"))) == expected
    assert count_params(build_model(ModelSpec("mlp"))) == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert count_params(build_model(ModelSpec("tiny-cnn"))) < expected / 5


def test_flops_count_every_multiply_add_twice():
    mlp = build_model(ModelSpec("mlp"))
    assert flops_per_image(mlp, (1, 28, 28)) == 2 * (784 * 256 + 256 * 128 + 128 * 10)
    cnn = build_model(ModelSpec("cnn"))
    conv = 28 * 28 * 32 * 9 * 1 + 14 * 14 * 64 * 9 * 32
    fc = 64 * 49 * 128 + 128 * 10
    assert flops_per_image(cnn, (1, 28, 28)) == 2 * (conv + fc)


def test_training_costs_about_three_times_inference():
    for name in MODEL_NAMES:
        model = build_model(ModelSpec(name))
        cost = model_cost(model, (1, 28, 28))
        # backward = grads w.r.t. weights and inputs: ~2x forward (the first layer skips input grads)
        assert 2.0 < cost.train_flops_per_image / cost.inference_flops_per_image <= 3.0
        assert all(p.grad is None for p in model.parameters())


def test_unknown_model_is_rejected():
    with pytest.raises(ValueError, match="mlp, cnn, tiny-cnn"):
        build_model(ModelSpec("resnet"))
