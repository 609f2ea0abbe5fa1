"""FLOPs per layer, forward and backward, counted by `torch.utils.flop_counter.FlopCounterMode`.

    table = flops_by_layer(model, (1, 28, 28))
    for layer in table.layers:
        print(layer.name, layer.kind, layer.forward, layer.backward)     # per image

What is counted: the FLOPs of FlopCounterMode's formulas (1 multiply-add = 2 FLOPs), which cover
matmul- and convolution-like ops only: Linear (addmm, mm) and Conv2d (convolution,
convolution_backward). ReLU, pooling, bias adds, the loss, the bias-gradient sums and the
optimizer step are elementwise work it does not count. Same method as `models.model_cost`, so the
per-layer forward figures add up to its inference FLOPs per image and forward + backward to its
training FLOPs per image (checked in tests/unit/test_layer_flops.py).

How: the whole model is counted once forward and once backward (`out.sum().backward()`, as
model_cost), in train mode on a deep copy (the caller's model is not touched). Then each leaf
layer is counted alone, on the very input it received in that forward pass, with that input
requiring a gradient exactly when it did in the model: forward under one counter, backward under
another. Only each counter's "Global" total is read. FlopCounterMode's per-module table is not
used: it attributes ops through ModuleTracker's process-global module hooks, so another thread's
forward pass (this app trains in threads) adds its module names to the table; measured here with a
cnn training in a second thread, 5 of 50 counts of the cnn attributed ~1.6x the real total to its
layers. The Global total comes from the dispatch mode, which is thread-local.

What it shows (verified on every registry model by the tests): a layer's backward is 2x its
forward, the gradient w.r.t. its weights and the gradient w.r.t. its input each costing one
forward, except the first conv/linear layer, whose input is the image: nothing needs that
gradient, so its backward is 1x its forward. For the cnn the first conv is cheap (5 % of the
forward), so backward is 1.95x forward overall; for the mlp the first linear layer is 85 % of the
forward, so backward is only 1.15x.

The optimizer step is not counted. `optimizer_flops_per_step` is an estimate, kept apart, from
the elementwise ops of torch's single-tensor update (the CPU path, torch/optim/adam.py and
sgd.py), counting sqrt and division as 1 FLOP each. Adam: lerp (3) + mul, addcmul (1 + 3) + sqrt,
divide, add eps (3) + addcdiv (3) = 13 FLOPs per parameter. SGD with momentum: mul, add (2) +
add with alpha (2) = 4 FLOPs per parameter. It runs once per step, not per image.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from dashboard.lab.training.train import OPTIMIZERS

OPTIMIZER_FLOPS_PER_PARAM = {"adam": 13, "sgd": 4}   # estimates: see the module docstring
OPTIMIZER_NOTE = ("Not counted: FlopCounterMode counts matmul/conv-like ops only, and the optimizer "
                  "update is elementwise. Estimate, once per step: Adam ~13 FLOPs per parameter "
                  "(lerp, mul, addcmul, sqrt, divide, add, addcdiv), SGD with momentum ~4.")


@dataclass(frozen=True)
class LayerFlops:
    name: str          # as in module.named_modules(), e.g. "features.0"
    kind: str          # the layer's class, e.g. "Conv2d"
    forward: int       # FLOPs per image
    backward: int      # FLOPs per image
    input_grad: bool   # whether backward computes the gradient w.r.t. the layer's input

    @property
    def backward_ratio(self) -> float:
        return self.backward / self.forward if self.forward else float("nan")


@dataclass(frozen=True)
class FlopsByLayer:
    layers: list[LayerFlops]       # leaf layers with FLOPs, in module order
    forward_total: int             # whole model, per image, counted in one pass
    backward_total: int
    batch_size: int                # the batch counted (FLOPs are per image whatever it is)
    params: int
    optimizer: str
    optimizer_flops_per_step: int  # an estimate, not counted: see optimizer_note
    optimizer_note: str = OPTIMIZER_NOTE

    @property
    def training_total(self) -> int:
        """Forward + backward per image: models.model_cost's train_flops_per_image."""
        return self.forward_total + self.backward_total

    @property
    def unattributed(self) -> int:
        """FLOPs per image counted for the whole model but in no leaf layer (0 for the registry models)."""
        return self.training_total - sum(layer.forward + layer.backward for layer in self.layers)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(training_total=self.training_total, unattributed=self.unattributed)
        for layer, row in zip(self.layers, d["layers"], strict=True):
            row["backward_ratio"] = layer.backward_ratio
        return d


def _count(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def _backward(outputs) -> None:
    outs = [t for t in tree_flatten(outputs)[0] if isinstance(t, torch.Tensor) and t.requires_grad]
    if outs:
        torch.autograd.backward(outs, [torch.ones_like(t) for t in outs])


def flops_by_layer(module: nn.Module, in_shape: tuple[int, ...], *, batch_size: int = 1,
                   optimizer: str = "adam") -> FlopsByLayer:
    """Forward and backward FLOPs per image of each leaf layer of `module` (see the module doc)."""
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {optimizer!r}")
    model = copy.deepcopy(module).to("cpu", memory_format=torch.contiguous_format).train()
    for p in model.parameters():
        p.grad = None
    leaves = [(name, m) for name, m in model.named_modules() if next(m.children(), None) is None]
    calls: dict[str, list[tuple]] = {name: [] for name, _ in leaves}

    def recorder(name: str):
        def record(_module, args):
            calls[name].append(tuple(a.detach().requires_grad_(a.requires_grad) if isinstance(a, torch.Tensor)
                                     else a for a in args))
        return record

    hooks = [m.register_forward_pre_hook(recorder(name)) for name, m in leaves]
    outputs = []
    try:
        forward = _count(lambda: outputs.append(model(torch.zeros(batch_size, *in_shape))))
    finally:
        for h in hooks:
            h.remove()
    backward = _count(lambda: outputs.pop().sum().backward())

    layers = []
    for name, m in leaves:
        fwd = bwd = 0
        for args in calls[name]:
            outs = []
            fwd += _count(lambda: outs.append(m(*args)))  # noqa: B023  run at once
            bwd += _count(lambda: _backward(outs.pop()))  # noqa: B023
        if fwd or bwd:
            input_grad = any(isinstance(a, torch.Tensor) and a.requires_grad for a in calls[name][0])
            layers.append(LayerFlops(name, type(m).__name__, fwd // batch_size, bwd // batch_size, input_grad))
    params = sum(p.numel() for p in model.parameters())
    return FlopsByLayer(layers, forward // batch_size, backward // batch_size, batch_size, params,
                        optimizer, params * OPTIMIZER_FLOPS_PER_PARAM[optimizer])
