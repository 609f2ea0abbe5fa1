"""Per-layer pruning sensitivity: how much accuracy each layer loses as its weights are zeroed.

As in the MIT EfficientML labs: prune one layer at a time (magnitude, unstructured) at a range of
sparsities, keep every other layer intact, and measure test accuracy. Flat curves mark layers
that can be pruned hard; steep ones need care. No fine-tuning: this is the raw sensitivity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from dashboard.lab.inputs.data import EVAL_BATCH, Dataset
from dashboard.lab.serial import Record
from dashboard.lab.training.variant import prunable_layers

DEFAULT_SPARSITIES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


@dataclass
class LayerSensitivity:
    layer: str                 # module name, e.g. "features.0"
    kind: str                  # "Conv2d" or "Linear"
    params: int                # weights in the layer
    accuracies: list[float]    # test accuracy with only this layer pruned, 0..1, one per scan sparsity


@dataclass
class SensitivityScan(Record):
    baseline_accuracy: float
    sparsities: list[float]
    layers: list[LayerSensitivity] = field(default_factory=list)
    test_images: int = 0

    def accuracy_table(self) -> list[list[float]]:
        """Rows = layers, columns = sparsities (what a heatmap or line chart plots)."""
        return [layer.accuracies for layer in self.layers]


def _magnitude_mask(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    k = int(round(sparsity * weight.numel()))
    if k == 0:
        return torch.ones_like(weight, dtype=torch.bool)
    threshold = weight.abs().flatten().kthvalue(k).values
    return weight.abs() > threshold


@torch.inference_mode()
def _accuracy(module: nn.Module, dataset: Dataset) -> float:
    """Top-1 accuracy on the test split, normalised batch by batch (memory stays bounded)."""
    correct = sum(int((module(x).argmax(1) == y).sum()) for x, y in dataset.batches("test", EVAL_BATCH))
    return correct / max(dataset.n_test, 1)


def scan(module: nn.Module, dataset: Dataset, sparsities: tuple[float, ...] | list[float] = DEFAULT_SPARSITIES,
         *, test_limit: int | None = None,
         on_progress: Callable[[float, str], None] | None = None,
         should_stop: Callable[[], bool] | None = None) -> SensitivityScan:
    """Accuracy vs sparsity for each Conv2d/Linear layer of `module` (left unchanged).
    A stop between two points returns the layers scanned so far."""
    if any(not 0 <= s < 1 for s in sparsities):
        raise ValueError("sparsities must be in [0, 1)")
    progress = on_progress or (lambda f, m: None)
    stop = should_stop or (lambda: False)
    if test_limit is not None:
        dataset = dataset.subset(max_test=test_limit)
    was_training = module.training
    module.eval()
    layers = prunable_layers(module)
    baseline = _accuracy(module, dataset)
    result = SensitivityScan(baseline, list(sparsities), test_images=dataset.n_test)
    for i, (name, layer) in enumerate(layers):
        if stop():
            break
        original = layer.weight.detach().clone()
        accs = []
        try:
            for j, s in enumerate(sparsities):
                if stop():
                    break
                progress((i + j / len(sparsities)) / len(layers), f"sensitivity of {name} at {s:.0%}")
                if s == 0:
                    accs.append(baseline)
                    continue
                with torch.no_grad():
                    layer.weight.copy_(original * _magnitude_mask(original, s))
                accs.append(_accuracy(module, dataset))
        finally:
            with torch.no_grad():
                layer.weight.copy_(original)
        if len(accs) == len(sparsities):
            result.layers.append(LayerSensitivity(name, type(layer).__name__, original.numel(), accs))
    module.train(was_training)
    progress(1.0, "sensitivity scan done")
    return result
