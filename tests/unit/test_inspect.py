import numpy as np
import pytest
import torch
from torch import nn

from dashboard.lab.training.inspect import (
    Predictions,
    confusion_matrix,
    first_layer,
    inspect_model,
    predict,
    sample_predictions,
    weight_histograms,
)
from dashboard.lab.training.models import ModelSpec, build_model


# The session's 512-digit set and the mlp trained on it once (tests/conftest.py).
@pytest.fixture(scope="module")
def small(tiny_digits):
    return tiny_digits


@pytest.fixture(scope="module")
def trained_mlp(tiny_trained):
    return tiny_trained


def test_predictions_match_the_engine_accuracy(trained_mlp, small):
    preds = predict(trained_mlp.module, small)
    assert len(preds.labels) == small.n_test == 256
    assert preds.accuracy == pytest.approx(trained_mlp.test_accuracy)
    assert preds.accuracy > 0.7  # one epoch on 512 digits: far better than chance (0.1)
    assert np.all((preds.confidence > 0.1 - 1e-6) & (preds.confidence <= 1.0))
    assert len(predict(trained_mlp.module, small, limit=150).labels) == 150


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    preds = Predictions(np.array([0, 1, 1, 2, 2, 2]), np.array([0, 1, 2, 2, 2, 0]), np.ones(6))
    cm = confusion_matrix(preds, ("a", "b", "c"))
    assert cm.counts.tolist() == [[1, 0, 1], [0, 1, 0], [0, 1, 2]]
    assert cm.accuracy == pytest.approx(4 / 6)
    assert cm.most_confused(5) == [("c", "b", 1), ("a", "c", 1)] or \
        cm.most_confused(5) == [("a", "c", 1), ("c", "b", 1)]


def test_confusion_matrix_of_a_real_model_sums_to_the_test_set(trained_mlp, small):
    insp = inspect_model(trained_mlp.module, small)
    assert insp.confusion.counts.shape == (10, 10)
    assert insp.confusion.counts.sum() == small.n_test
    assert insp.confusion.accuracy == pytest.approx(trained_mlp.test_accuracy)


def test_sample_grid_shows_images_and_includes_mistakes(trained_mlp, small):
    preds = predict(trained_mlp.module, small)
    samples = sample_predictions(preds, small, n=24, mistakes=6, seed=1)
    assert len(samples) == 24
    assert sum(not s.correct for s in samples) == min(6, int((preds.predicted != preds.labels).sum()))
    s = samples[0]
    assert s.image.shape == (28, 28) and s.image.dtype == np.uint8
    assert s.label == small.classes[int(small.test_labels[s.index])]
    picks = lambda seed: [x.index for x in sample_predictions(preds, small, n=24, seed=seed)]  # noqa: E731
    assert picks(1) == picks(1) and picks(1) != picks(2)  # the seed decides the pick, and only the seed
    assert all(np.array_equal(x.image, small.test_images[x.index][0].numpy()) for x in samples)


def test_histograms_cover_every_weight_and_see_pruned_zeros():
    model = build_model(ModelSpec("cnn"))
    hists = weight_histograms(model, bins=20)
    assert [h.name.split(" ")[0] for h in hists] == ["features.0", "features.3", "classifier.0", "classifier.2"]
    assert sum(h.params for h in hists) == sum(m.weight.numel() for m in model.modules()
                                                if isinstance(m, (nn.Conv2d, nn.Linear)))
    assert all(h.counts.sum() == h.params and len(h.edges) == 21 for h in hists)
    with torch.no_grad():
        model.features[0].weight[:16] = 0
    assert weight_histograms(model)[0].nonzero == 16 * 9


def test_first_layer_filters_are_images():
    cnn = first_layer(build_model(ModelSpec("cnn")), (1, 28, 28))
    assert cnn.kind == "conv" and cnn.images.shape == (32, 3, 3) and cnn.total == 32
    assert np.abs(cnn.images).max() == pytest.approx(1.0)
    mlp = first_layer(build_model(ModelSpec("mlp")), (1, 28, 28), limit=16)
    assert mlp.kind == "linear" and mlp.images.shape == (16, 28, 28) and mlp.total == 256
    colour = first_layer(build_model(ModelSpec("cnn", (3, 32, 32))), (3, 32, 32))
    assert colour.images.shape == (32, 3, 3, 3)
