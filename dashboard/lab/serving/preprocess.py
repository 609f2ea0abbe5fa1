"""A student's own image, made to look like the training data, and every version's answer to it.

    prepared = for_dataset(checked.image, data.CATALOG["digits"])   # NoInk if there is nothing to see
    prepared.steps                 # what each step made, as small images for the page
    answers = predict(variants, prepared, info)                    # top-3 and the latency of that call

MNIST's digits were made so (LeCun, Cortes, Burges): white ink on black, the digit scaled to fit
a 20x20 box (aspect ratio kept, anti-aliased), then placed in 28x28 with its centre of mass in the
middle. A model trained on them has only ever seen that, so a drawing or a photo goes through the
same steps: greyscale, inverted when the ink is dark on light paper, paper set to black, cropped
to the ink, fitted into 20x20, centred by mass. Fashion-MNIST's objects fill the 28x28 frame
(fitted to 28, centred by their box). CIFAR-10 photos are colour 32x32: the centre square,
resized.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from dashboard.lab.inputs.data import Dataset, DatasetInfo
from dashboard.lab.training.variant import Variant

DIGIT_DATASETS = ("digits", "mnist")
THUMB_SIDE = 140        # "Your image" is shown at most this big
BACKGROUND_CUT = 0.2    # of the way from paper to ink: below it is paper (shadows, grain), set to black
SPECK_SHARE = 0.005     # of the ink's mass ignored at each edge when cropping: dust, a stray dot


class NoInk(ValueError):
    """Nothing to classify: an empty canvas, a blank page. str() is the line the page shows."""


@dataclass(frozen=True)
class Step:
    """One preprocessing step: what it is called and the image it made (uint8, H x W or H x W x 3)."""

    title: str
    image: np.ndarray
    caption: str = ""


@dataclass
class Prepared:
    """The model's input (uint8, C x H x W, as the dataset stores its images) and how it was made."""

    pixels: np.ndarray
    steps: list[Step]
    inverted: bool | None = None          # grey datasets: whether the image was inverted
    notes: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        """Equal inputs, equal digest: the page predicts an image once."""
        return hashlib.sha1(self.pixels.tobytes() + str(self.pixels.shape).encode()).hexdigest()[:16]


def for_dataset(image: Image.Image, info: DatasetInfo) -> Prepared:
    """Prepare `image` (PIL, any mode) as the images of `info`'s dataset were prepared."""
    c, h, _ = info.shape
    if c == 3:
        return like_cifar(image, size=h)
    if info.name in DIGIT_DATASETS:
        return like_mnist(image, box=20, size=h, by_mass=True)
    return like_mnist(image, box=h, size=h, by_mass=False)   # Fashion-MNIST: the object fills the frame


def from_canvas(rgba: np.ndarray) -> Image.Image:
    """A drawing canvas's RGBA pixels as a grey image over black (transparent = not drawn on)."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] not in (3, 4):
        raise ValueError(f"expected H x W x 3 or 4 pixels, got shape {rgba.shape}")
    rgb = rgba[..., :3].astype(np.float32)
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0 if rgba.shape[2] == 4 else 1.0
    return Image.fromarray(np.rint(rgb * alpha).astype(np.uint8), "RGB").convert("L")


def _thumb(image: Image.Image) -> np.ndarray:
    t = image.convert("RGB") if image.mode not in ("L", "RGB") else image.copy()
    t.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return np.asarray(t)


def _border(a: np.ndarray) -> np.ndarray:
    k = max(1, round(0.03 * min(a.shape)))
    return np.concatenate([a[:k].ravel(), a[-k:].ravel(), a[:, :k].ravel(), a[:, -k:].ravel()])


def _ink_box(a: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), end exclusive, of the ink, without the outermost SPECK_SHARE of its mass."""
    def span(profile: np.ndarray) -> tuple[int, int]:
        cum = np.cumsum(profile) / profile.sum()
        lo = int(np.searchsorted(cum, SPECK_SHARE, side="right"))
        hi = int(np.searchsorted(cum, 1 - SPECK_SHARE, side="left")) + 1
        return lo, max(hi, lo + 1)

    mass = a.astype(np.float64)
    top, bottom = span(mass.sum(axis=1))
    left, right = span(mass.sum(axis=0))
    return top, bottom, left, right


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    """(row, column) of the intensity-weighted centre, in pixel indices (MNIST's sit at about 14, 14)."""
    mass = a.astype(np.float64)
    total = mass.sum()
    if total == 0:
        return (a.shape[0] - 1) / 2, (a.shape[1] - 1) / 2
    rows, cols = np.indices(a.shape)
    return float((rows * mass).sum() / total), float((cols * mass).sum() / total)


def like_mnist(image: Image.Image, *, box: int = 20, size: int = 28, by_mass: bool = True) -> Prepared:
    """MNIST's recipe: grey, light ink on black, cropped to the ink, fitted into box x box, centred in size x size."""
    steps = [Step("Your image", _thumb(image), f"{image.width} x {image.height} px")]
    grey = np.asarray(image.convert("L"))
    steps.append(Step("Greyscale", grey, "brightness only"))

    # Which is paper? The border is mostly paper; MNIST's paper is black.
    inverted = float(np.median(_border(grey))) > 127
    ink = 255 - grey if inverted else grey
    steps.append(Step("Inverted" if inverted else "Not inverted", ink,
                      "dark ink on light paper became light on black" if inverted else "already light on dark"))

    paper, top_ink = float(np.median(_border(ink))), float(np.percentile(ink, 99.9))
    if top_ink - paper < 40:
        raise NoInk("Nothing to recognise: the image is almost one flat tone. Draw a digit, or photograph "
                    "dark ink on light paper, filling most of the picture.")
    cut = paper + BACKGROUND_CUT * (top_ink - paper)
    clean = np.clip((ink.astype(np.float32) - cut) / (top_ink - cut) * 255.0, 0, 255).astype(np.uint8)
    steps.append(Step("Paper to black", clean, "shadows and grain below the ink set to 0"))

    if not clean.any():
        raise NoInk("Nothing to recognise: no ink stands out from the paper.")
    t, b, l, r = _ink_box(clean)
    crop = clean[t:b, l:r]
    steps.append(Step("Cropped to the ink", crop, f"{crop.shape[1]} x {crop.shape[0]} px"))

    scale = box / max(crop.shape)
    fw, fh = max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))
    fitted = np.asarray(Image.fromarray(crop, "L").resize((fw, fh), Image.Resampling.LANCZOS))
    steps.append(Step(f"Fitted into {box}x{box}", fitted, f"{fw} x {fh} px, shape kept"))

    out = np.zeros((size, size), dtype=np.uint8)
    if by_mass:
        cy, cx = centre_of_mass(fitted)
        centre = size / 2          # MNIST's centres of mass sit at pixel index 14 of 0..27
        top = min(max(round(centre - cy), 0), size - fh)
        left = min(max(round(centre - cx), 0), size - fw)
    else:
        top, left = (size - fh) // 2, (size - fw) // 2
    out[top:top + fh, left:left + fw] = fitted
    com = centre_of_mass(out)
    steps.append(Step(f"Centred {'by mass ' if by_mass else ''}in {size}x{size}", out,
                      f"centre of mass: row {com[0]:.1f}, column {com[1]:.1f}" if by_mass else "the model's input"))
    return Prepared(out[None], steps, inverted)


def like_cifar(image: Image.Image, *, size: int = 32) -> Prepared:
    """CIFAR-10's kind of image: colour, square, size x size (the centre square, resized)."""
    rgb = image.convert("RGB")
    steps = [Step("Your image", _thumb(rgb), f"{rgb.width} x {rgb.height} px")]
    side = min(rgb.size)
    left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
    square = rgb.crop((left, top, left + side, top + side))
    steps.append(Step("Centre square", _thumb(square), f"{side} x {side} px"))
    small = square.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    pixels = np.asarray(small)
    steps.append(Step(f"Resized to {size}x{size}", pixels, "the model's input"))
    return Prepared(np.ascontiguousarray(pixels.transpose(2, 0, 1)), steps)


def to_model_input(prepared: Prepared, info: DatasetInfo) -> torch.Tensor:
    """1 x C x H x W, normalised exactly as the dataset's images are (Dataset.prepare, not a copy of it)."""
    pixels = torch.from_numpy(np.ascontiguousarray(prepared.pixels)).unsqueeze(0)
    if tuple(pixels.shape[1:]) != tuple(info.shape):
        raise ValueError(f"prepared image is {tuple(pixels.shape[1:])}, the model takes {info.shape}")
    empty = torch.empty((0, *info.shape), dtype=torch.uint8)
    labels = torch.empty(0, dtype=torch.long)
    return Dataset(info, empty, labels, empty, labels).prepare(pixels)


# --- every version's answer --------------------------------------------------------------------

@dataclass
class Answer:
    """One version's prediction for one image: its top classes with confidences, and how long the call took."""

    name: str
    available: bool
    note: str = ""
    top: list[tuple[str, float]] = field(default_factory=list)   # (class, softmax probability), best first
    latency_ms: float | None = None    # measured: this one call, batch 1, input conversion included

    @property
    def label(self) -> str | None:
        return self.top[0][0] if self.top else None


def warm_up(variants: list[Variant], info: DatasetInfo) -> None:
    """One untimed call per version at batch 1: oneDNN picks its kernels on the first call of a shape."""
    x = torch.zeros((1, *info.shape))
    with torch.inference_mode():
        for v in variants:
            if v.available and v.module is not None:
                v(x)


def predict(variants: list[Variant], prepared: Prepared, info: DatasetInfo, k: int = 3) -> list[Answer]:
    """Each version's top-k for the image, and the wall time of its call (the call only, not the softmax)."""
    x = to_model_input(prepared, info)
    answers = []
    with torch.inference_mode():
        for v in variants:
            if not v.available or v.module is None:
                answers.append(Answer(v.name, False, v.note or "not available here"))
                continue
            start = time.perf_counter()
            logits = v(x)
            latency = (time.perf_counter() - start) * 1000
            probs = torch.softmax(logits.float(), dim=1)[0]
            p, idx = probs.topk(min(k, len(info.classes)))
            answers.append(Answer(v.name, True, v.note, [(info.classes[i], float(q)) for q, i in zip(p, idx)],
                                  latency))
    return answers
