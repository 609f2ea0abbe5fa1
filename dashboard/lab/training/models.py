"""Model registry: small vision models sized to train live on a laptop CPU.

Every model is `features` (convolutions, may be empty) then `classifier` (linear layers), in
plain nn.Sequential blocks, so Torch-Pruning can remove channels and the int8 paths can fuse
Conv/Linear + ReLU.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dashboard.lab.serial import Record


@dataclass(frozen=True)
class ModelSpec(Record):
    """What it takes to rebuild a model: its registry name and the data shape it serves."""

    name: str
    in_shape: tuple[int, int, int] = (1, 28, 28)
    num_classes: int = 10

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        return cls(d["name"], tuple(d["in_shape"]), int(d["num_classes"]))


class Net(nn.Module):
    """features -> flatten -> classifier."""

    def __init__(self, features: nn.Sequential, classifier: nn.Sequential):
        super().__init__()
        self.features = features
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def _mlp(c: int, h: int, w: int, n: int) -> Net:
    return Net(nn.Sequential(), nn.Sequential(
        nn.Linear(c * h * w, 256), nn.ReLU(),
        nn.Linear(256, 128), nn.ReLU(),
        nn.Linear(128, n)))


def _lenet(c: int, h: int, w: int, n: int, channels: tuple[int, int], hidden: int) -> Net:
    # LeNet-style: two conv blocks, each halving the image, then two linear layers.
    first, second = channels
    return Net(nn.Sequential(
        nn.Conv2d(c, first, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(first, second, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    ), nn.Sequential(
        nn.Linear(second * (h // 4) * (w // 4), hidden), nn.ReLU(),
        nn.Linear(hidden, n)))


def _cnn(c: int, h: int, w: int, n: int) -> Net:
    return _lenet(c, h, w, n, (32, 64), 128)


def _tiny_cnn(c: int, h: int, w: int, n: int) -> Net:
    # A distillation student: a sixth of the cnn's parameters.
    return _lenet(c, h, w, n, (8, 16), 32)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    title: str
    build: Callable[[int, int, int, int], Net]


REGISTRY: dict[str, ModelEntry] = {
    "mlp": ModelEntry("mlp", "MLP: 3 fully connected layers", _mlp),
    "cnn": ModelEntry("cnn", "CNN: LeNet-style, 2 conv + 2 linear layers", _cnn),
    "tiny-cnn": ModelEntry("tiny-cnn", "Tiny CNN: 8/16 channels, a distillation student", _tiny_cnn),
}
MODEL_NAMES = tuple(REGISTRY)
DEFAULT_MODEL = "cnn"


def build_model(spec: ModelSpec, generator: torch.Generator | None = None) -> Net:
    """A freshly initialised model for the spec.

    With a generator every weight is drawn from it (`init_weights`): repeatable whatever other
    threads do with torch's global RNG. Without one, torch's default init draws from the global
    RNG, as plain PyTorch does.
    """
    if spec.name not in REGISTRY:
        raise ValueError(f"Unknown model {spec.name!r}. Choose one of: {', '.join(MODEL_NAMES)}.")
    c, h, w = spec.in_shape
    if generator is None:
        return REGISTRY[spec.name].build(c, h, w, spec.num_classes)
    # Built on the meta device (thread-local), the layers' own init draws nothing from the
    # global RNG; every parameter is then allocated and filled from the generator.
    with torch.device("meta"):
        model = REGISTRY[spec.name].build(c, h, w, spec.num_classes)
    return init_weights(model.to_empty(device="cpu"), generator)


def init_weights(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Reproduce torch's default Conv/Linear init (`reset_parameters`) from a private stream.

    Same distributions and, layer by layer in module order, the same draw order: a generator
    seeded with s gives the weights `torch.manual_seed(s)` then default construction gives.
    Raises TypeError for a layer with parameters it does not know how to initialise.
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            if layer.bias is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
        elif any(True for _ in layer.parameters(recurse=False)):
            raise TypeError(f"init_weights cannot initialise {type(layer).__name__} layers")
    return module


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def weights_digest(model: nn.Module) -> str:
    """A hash of a model's weights (every parameter's and buffer's name and bytes): two sessions with the same weights
    asked the same question (service.shared), one ONNX file serves both (lab.serving.onnx_export)."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:32]


def count_nonzero_params(model: nn.Module) -> int:
    return sum(int(torch.count_nonzero(p)) for p in model.parameters())


@dataclass(frozen=True)
class ModelCost:
    params: int
    inference_flops_per_image: int  # forward pass
    train_flops_per_image: int      # forward + backward (the optimizer step is not counted)


def flops_per_image(model: nn.Module, in_shape: tuple[int, int, int], *, train: bool = False) -> int:
    """FLOPs (1 multiply-add = 2 FLOPs) for one image, counted by torch.utils.flop_counter."""
    x = torch.zeros(1, *in_shape)
    was_training = model.training
    model.train(train)
    try:
        with FlopCounterMode(display=False) as counter:
            if train:
                out = model(x)
                out.sum().backward()
            else:
                with torch.no_grad():
                    model(x)
    finally:
        model.train(was_training)
        if train:
            model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def model_cost(model: nn.Module, in_shape: tuple[int, int, int]) -> ModelCost:
    return ModelCost(count_params(model),
                     flops_per_image(model, in_shape),
                     flops_per_image(model, in_shape, train=True))
