"""Pruning: zero the smallest weights (unstructured), or remove whole channels (structured), then fine-tune.

Fine-tuning runs through the one training loop (train.Training) at a lower learning rate.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import torch
from torch import nn
from torch.nn.utils import prune

from dashboard.lab import fmt
from dashboard.lab.training.train import TrainedModel, Training, cpu_precision, evaluate
from dashboard.lab.training.variant import Variant, prunable_layers, weight_sparsity, with_stats


def finetune(trained: TrainedModel, module: nn.Module, epochs: int, lr: float, dataset, on_progress, should_stop,
             label: str) -> nn.Module:
    """Fine-tune `module` with the teacher's training settings, `epochs` epochs at peak rate `lr`."""
    if epochs == 0:
        return module.eval()
    config = replace(trained.config, epochs=epochs, lr=lr, device="cpu", precision=cpu_precision(trained.config))
    run = Training(config, dataset, module=module)
    for event in run:
        on_progress(event.progress, f"{label}: fine-tune epoch {event.epoch}/{epochs}")
        if should_stop():
            run.stop()
    return run.result().module


def unstructured(b, percent: int) -> Variant:
    """Zero the `percent` % smallest weights across all conv/linear layers (global L1), fine-tune with
    the mask held, then make the zeros permanent. Dense kernels still multiply every zero."""
    trained, name = b.trained, b.name
    module = copy.deepcopy(trained.module)
    targets = [(layer, "weight") for _, layer in prunable_layers(module)]
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=percent / 100)
    before = evaluate(module, b.dataset)[1]
    epochs = b.settings.finetune_epochs_unstructured
    module = finetune(trained, module, epochs, b.settings.finetune_lr, b.dataset, b.progress, b.should_stop, name)
    for _, layer in prunable_layers(module):
        if prune.is_pruned(layer):
            prune.remove(layer, "weight")  # weight = weight_orig * mask, hooks gone
    sparsity = weight_sparsity(module)
    v = Variant(name, module.eval(),
                f"global magnitude pruning of {percent}% of conv/linear weights (torch.nn.utils.prune)"
                + (f", fine-tuned {fmt.plural(epochs, 'epoch')} with the mask held" if epochs else ""),
                note=f"real sparsity {sparsity:.1%}; zeros are stored and multiplied like any weight",
                sparsity=round(sparsity, 5), accuracy_before_finetune=before,
                details={"requested_sparsity": percent / 100, "finetune_epochs": epochs})
    return with_stats(v, module, trained.spec.in_shape)


def remove_channels(module: nn.Module, percent: int, in_shape: tuple[int, int, int]) -> nn.Module:
    """Physically remove `percent` % of each layer's output channels/neurons, smallest L2 first
    (Torch-Pruning keeps dependent layers consistent). The output layer keeps its classes."""
    import torch_pruning as tp

    module = copy.deepcopy(module).eval()
    last = [m for _, m in prunable_layers(module)][-1]
    pruner = tp.pruner.BasePruner(module, torch.zeros(1, *in_shape),
                                  importance=tp.importance.MagnitudeImportance(p=2),
                                  pruning_ratio=percent / 100, ignored_layers=[last])
    pruner.step()
    return module


def channels(b, percent: int) -> Variant:
    """Remove `percent` % of channels/neurons per layer, then fine-tune to recover accuracy."""
    trained, name = b.trained, b.name
    module = remove_channels(trained.module, percent, trained.spec.in_shape)
    before = evaluate(module, b.dataset)[1]
    epochs = b.settings.finetune_epochs_channels
    module = finetune(trained, module, epochs, b.settings.finetune_lr, b.dataset, b.progress, b.should_stop, name)
    widths = [getattr(m, "out_channels", getattr(m, "out_features", None)) for _, m in prunable_layers(module)]
    v = Variant(name, module.eval(),
                f"{percent}% of channels/neurons per layer removed by L2 magnitude (Torch-Pruning)"
                + (f", fine-tuned {fmt.plural(epochs, 'epoch')}" if epochs else ""),
                note=f"layer widths now {widths}; the file holds the smaller tensors (rebuilding "
                     "it needs the pruned shapes, e.g. torch_pruning.state_dict)",
                accuracy_before_finetune=before,
                details={"requested_ratio": percent / 100, "finetune_epochs": epochs, "widths": widths})
    return with_stats(v, module, trained.spec.in_shape)
