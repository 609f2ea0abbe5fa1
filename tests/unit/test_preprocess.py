"""A student's image made to look like the training data: each step's shape and centre of mass, digits
drawn by the test recognised by a trained CNN whatever their ink, size and place, and every version's answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from dashboard.lab.inputs import data
from dashboard.lab.serving import preprocess
from dashboard.lab.serving.preprocess import (
    NoInk,
    centre_of_mass,
    for_dataset,
    from_canvas,
    like_cifar,
    like_mnist,
)
from dashboard.lab.training.variant import Variant, unavailable

DIGITS = data.CATALOG["digits"]
# Strokes of a hand-drawn digit on a 280 x 280 canvas, as a student would draw them.
STROKES = {
    "1": [[(150, 40), (140, 240)]],
    "7": [[(70, 50), (210, 50), (120, 240)]],
    "0": [[(140, 40), (200, 80), (210, 160), (170, 230), (110, 230), (70, 160), (80, 80), (140, 40)]],
}


def draw(digit: str, *, ink: int = 255, paper: int = 0, side: int = 280, scale: float = 1.0,
         offset: tuple[int, int] = (0, 0), width: int = 22) -> Image.Image:
    """The digit drawn with lines: light on dark (a canvas) or dark on light (paper), any size and place."""
    im = Image.new("L", (side, side), paper)
    pen = ImageDraw.Draw(im)
    for stroke in STROKES[digit]:
        points = [(x * scale + offset[0], y * scale + offset[1]) for x, y in stroke]
        pen.line(points, fill=ink, width=max(1, round(width * scale)), joint="curve")
    return im


# --- the steps ------------------------------------------------------------------------------------

def test_each_step_of_the_mnist_recipe():
    p = like_mnist(draw("7", ink=0, paper=255))              # black ink on white paper
    titles = [s.title for s in p.steps]
    assert titles == ["Your image", "Greyscale", "Inverted", "Paper to black", "Cropped to the ink",
                      "Fitted into 20x20", "Centred by mass in 28x28"]
    step = {s.title: s.image for s in p.steps}
    assert p.inverted is True
    assert step["Greyscale"].shape == (280, 280)
    assert step["Inverted"][0, 0] == 0 and step["Inverted"].max() == 255        # paper black, ink white
    crop = step["Cropped to the ink"]
    assert crop.shape[0] > crop.shape[1] > 100                                    # the 7 is taller than wide
    assert crop[0].max() == 255 and crop[-1].max() > 0 and crop[:, 0].max() > 0 and crop[:, -1].max() > 0
    fitted = step["Fitted into 20x20"]
    assert max(fitted.shape) == 20 and fitted.shape == (20, round(20 * crop.shape[1] / crop.shape[0]))
    out = step["Centred by mass in 28x28"]
    assert out.shape == (28, 28) and p.pixels.shape == (1, 28, 28) and p.pixels.dtype == np.uint8
    assert (out == p.pixels[0]).all()
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5                        # where MNIST's centres sit
    assert out[:4].max() == 0 or out[-4:].max() == 0                          # 20 px of digit in 28: a margin


def test_light_ink_on_dark_is_not_inverted():
    p = like_mnist(draw("1"))
    assert p.inverted is False and [s.title for s in p.steps][2] == "Not inverted"
    assert max(p.steps[5].image.shape) == 20


def test_small_digit_in_a_corner_is_cropped_and_centred():
    p = like_mnist(draw("0", scale=0.3, offset=(10, 180), width=60))
    out = p.pixels[0]
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    rows = np.nonzero(out)[0]
    assert rows.max() - rows.min() + 1 == 20                                   # fitted to 20 high, as MNIST


def test_a_photo_of_paper_with_grain_and_shadow():
    rng = np.random.default_rng(0)
    paper = np.clip(190 + rng.normal(0, 8, (600, 800)) + np.linspace(-30, 30, 800)[None], 0, 255)
    ink = np.asarray(draw("7", side=600, scale=2.0, offset=(100, 0), width=18))[:, :600]
    photo = np.array(paper)
    photo[:, :600] = np.where(ink > 128, 60, photo[:, :600])
    p = like_mnist(Image.fromarray(photo.astype(np.uint8)))
    out = p.pixels[0]
    assert p.inverted is True
    assert (out == 0).mean() > 0.6                                            # the paper went black
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_fashion_items_fill_the_frame_and_cifar_is_colour_32x32():
    fashion = for_dataset(draw("0"), data.CATALOG["fashion-mnist"])
    assert fashion.pixels.shape == (1, 28, 28)
    assert max(fashion.steps[5].image.shape) == 28 and fashion.steps[-1].title == "Centred in 28x28"

    photo = Image.new("RGB", (64, 48), (220, 30, 30))
    c = for_dataset(photo, data.CATALOG["cifar10"])
    assert c.pixels.shape == (3, 32, 32) and c.pixels.dtype == np.uint8
    assert [s.title for s in c.steps] == ["Your image", "Centre square", "Resized to 32x32"]
    assert c.steps[1].image.shape[:2] == (48, 48)
    assert tuple(c.pixels[:, 16, 16]) == (220, 30, 30)                        # colour kept, channels first
    assert like_cifar(Image.new("L", (10, 10), 128)).pixels.shape == (3, 32, 32)


@pytest.mark.parametrize("image", [Image.new("L", (280, 280), 0), Image.new("L", (280, 280), 255),
                                   Image.new("RGB", (50, 50), (120, 120, 120))])
def test_nothing_drawn_says_so(image):
    with pytest.raises(NoInk) as exc:
        like_mnist(image)
    assert "Nothing to recognise" in str(exc.value)


def test_canvas_pixels_transparent_is_black():
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[100:180, 130:150] = (255, 255, 255, 255)
    grey = from_canvas(rgba)
    assert grey.mode == "L" and grey.size == (280, 280)
    a = np.asarray(grey)
    assert a[0, 0] == 0 and a[140, 140] == 255
    assert like_mnist(grey).inverted is False


def test_model_input_is_normalised_as_the_dataset(digits):
    pixels = digits.test_images[:1]
    prepared = preprocess.Prepared(pixels[0].numpy(), [])
    x = preprocess.to_model_input(prepared, digits.info)
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
    assert torch.equal(x, digits.test_tensors(1)[0])
    with pytest.raises(ValueError):
        preprocess.to_model_input(prepared, data.CATALOG["cifar10"])


def test_an_mnist_digit_blown_up_comes_back_close_to_itself(digits):
    """A real test digit, enlarged 10x as a photo of it would be, goes through the steps back to ~itself."""
    original = digits.test_images[3, 0].numpy()
    big = Image.fromarray(original).resize((280, 280), Image.Resampling.BILINEAR)
    back = like_mnist(big).pixels[0].astype(np.float64)
    a = original.astype(np.float64)
    cosine = (a * back).sum() / np.sqrt((a * a).sum() * (back * back).sum())
    assert cosine > 0.8, cosine


# --- every version's answer -------------------------------------------------------------------------

def test_predict_gives_top3_and_latency_per_version(tiny_trained):
    fp32 = Variant("fp32", tiny_trained.module.eval(), "the trained mlp")
    missing = unavailable("bf16", "bf16", "this CPU has no native bf16")
    prepared = like_mnist(draw("1"))
    preprocess.warm_up([fp32, missing], DIGITS)
    answers = preprocess.predict([fp32, missing], prepared, DIGITS)
    assert [a.name for a in answers] == ["fp32", "bf16"]
    a, b = answers
    assert a.available and len(a.top) == 3 and a.latency_ms > 0
    probs = [p for _, p in a.top]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert all(label in DIGITS.classes for label, _ in a.top) and a.label == a.top[0][0]
    assert not b.available and "bf16" in b.note and b.top == [] and b.latency_ms is None
    assert prepared.digest == like_mnist(draw("1")).digest != like_mnist(draw("7")).digest


@pytest.fixture(scope="module")
def digit_cnn(digits):
    """A CNN after one epoch on all 8,000 bundled digits (about 4 s on one thread): ~96 % test accuracy."""
    from dashboard.lab.training.train import TrainConfig, train

    return train(TrainConfig(model="cnn", epochs=1, batch_size=64, threads=1), digits)


@pytest.mark.slow
@pytest.mark.parametrize("digit", ["1", "7"])
@pytest.mark.parametrize("style", ["canvas", "paper", "small"])
def test_a_drawn_digit_is_recognised(digit_cnn, digit, style):
    image = {"canvas": lambda: draw(digit),                                       # white on black, as drawn here
             "paper": lambda: draw(digit, ink=30, paper=235).convert("RGB"),       # black on white, a scan
             "small": lambda: draw(digit, scale=0.35, offset=(150, 20), width=40)}[style]()
    prepared = for_dataset(image, DIGITS)
    answer = preprocess.predict([Variant("fp32", digit_cnn.module.eval(), "cnn")], prepared, DIGITS)[0]
    assert answer.label == digit, answer.top
