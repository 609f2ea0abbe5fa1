import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from dashboard.lab.inputs import data
from dashboard.lab.inputs.data import DatasetUnavailable, load_dataset

DIGITS_SHA256 = "09585fc0d03bf8f94b7110fc4677df381402b7c6271550410e10a5243f073970"


def test_bundled_file_is_the_committed_one():
    digest = hashlib.sha256(data.BUNDLED_DIGITS.read_bytes()).hexdigest()
    assert digest == DIGITS_SHA256
    assert data.BUNDLED_DIGITS.stat().st_size < 3_000_000  # compact: a few MB at most


def test_digits_shapes_and_labels(digits):
    assert digits.n_train == 8000 and digits.n_test == 2000 and len(digits) == 10_000
    assert digits.train_images.shape == (8000, 1, 28, 28) and digits.train_images.dtype == torch.uint8
    assert digits.test_images.shape == (2000, 1, 28, 28)
    assert digits.shape == (1, 28, 28) and digits.num_classes == 10
    assert set(digits.train_labels.tolist()) == set(range(10))
    # real handwriting, not blank images: about a fifth of MNIST pixels are ink
    ink = (digits.train_images > 0).float().mean().item()
    assert 0.12 < ink < 0.25


def test_split_is_stratified_and_disjoint(digits):
    train_counts = torch.bincount(digits.train_labels, minlength=10).float()
    test_counts = torch.bincount(digits.test_labels, minlength=10).float()
    fraction = test_counts / (train_counts + test_counts)
    assert torch.all((fraction - 0.2).abs() < 0.002)
    train_rows = {bytes(x.numpy()) for x in digits.train_images}
    assert not any(bytes(x.numpy()) in train_rows for x in digits.test_images[:500])


def test_split_is_fixed_across_loads(digits):
    again = load_dataset("digits")
    assert torch.equal(again.test_labels, digits.test_labels)
    assert torch.equal(again.train_images[:100], digits.train_images[:100])


def test_batches_are_normalised_and_cover_the_split(digits):
    xs, ys = zip(*digits.batches("test", 512))
    x = torch.cat(xs)
    assert x.dtype == torch.float32 and x.shape == (2000, 1, 28, 28)
    assert abs(x.mean().item()) < 0.2 and 0.8 < x.std().item() < 1.2
    assert torch.equal(torch.cat(ys), digits.test_labels)


def test_augmentation_changes_training_images_only():
    ds = load_dataset("digits", augment=True)
    torch.manual_seed(0)
    imgs = ds.train_images[:16]
    assert not torch.equal(ds.prepare(imgs, train=True), ds.prepare(imgs, train=False))
    assert torch.equal(ds.prepare(imgs, train=False), ds.prepare(imgs, train=False))


def _write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    n, h, w = images.shape
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, h, w) + images.tobytes())
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())


def test_torchvision_path_reads_idx_files(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train_x = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    train_y = (np.arange(30) % 10).astype(np.uint8)
    _write_idx(raw, "train", train_x, train_y)
    _write_idx(raw, "t10k", train_x[:10], train_y[:10])
    ds = load_dataset("mnist", root=tmp_path, download=False)
    assert ds.n_train == 30 and ds.n_test == 10
    assert ds.train_images.shape == (30, 1, 28, 28)
    assert torch.equal(ds.train_images[:, 0], torch.from_numpy(train_x))
    assert ds.train_labels.tolist() == train_y.tolist()
    assert ds.classes == tuple(str(d) for d in range(10))


@pytest.mark.parametrize("name, title", [("mnist", "MNIST"), ("fashion-mnist", "Fashion-MNIST"),
                                         ("cifar10", "CIFAR-10")])
def test_a_failed_download_says_no_internet_and_offers_the_digits(tmp_path, name, title):
    # The conftest's no_downloads makes torchvision's download raise what it raises offline
    # (RuntimeError "Error downloading ..." for the MNISTs, URLError for CIFAR-10).
    with pytest.raises(DatasetUnavailable) as err:
        load_dataset(name, root=tmp_path, download=True)
    message = str(err.value)
    assert message.startswith(f"Could not get {title} here")
    assert "download failed: no internet?" in message and "bundled 'digits'" in message
    # Where and why are for the server log, not for the student who reads the message.
    assert str(tmp_path) not in message and "Temporary failure" not in message and "Traceback" not in message
    assert str(tmp_path) in err.value.detail and "Temporary failure in name resolution" in err.value.detail


def test_a_dataset_not_downloaded_yet_says_so_without_touching_the_network(tmp_path):
    with pytest.raises(DatasetUnavailable, match="not downloaded yet"):
        load_dataset("cifar10", root=tmp_path, download=False)


def test_unknown_dataset_lists_choices():
    with pytest.raises(DatasetUnavailable, match="digits, mnist, fashion-mnist, cifar10"):
        load_dataset("imagenet")


def test_a_damaged_download_cache_is_named_with_what_to_do(tmp_path):
    """Truncated MNIST files in the cache (an interrupted download, a full disk): torchvision raises
    a bare AssertionError; the lab says what to do, and the server log which folder is damaged."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"\x00\x00\x08\x03" + bytes(60))
    with pytest.raises(DatasetUnavailable) as err:
        load_dataset("mnist", root=tmp_path)
    message = str(err.value)
    assert "The MNIST files downloaded to this server are damaged" in message and str(tmp_path) not in message
    assert "bundled 'digits'" in message
    assert f"cached in {tmp_path / 'MNIST'} are damaged" in err.value.detail and "delete that folder" in err.value.detail


def test_every_session_shares_one_copy_of_a_dataset():
    from dashboard.lab.inputs import data
    first, second = data.shared("digits"), data.shared("digits")
    assert first is second
    assert first.subset(500).train_images.untyped_storage().data_ptr() == \
        first.train_images.untyped_storage().data_ptr()
