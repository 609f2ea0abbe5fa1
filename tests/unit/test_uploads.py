"""Uploads are checked by content: every hostile or odd file gives one line and no exception; odd but
valid images (16-bit, CMYK, RGBA, palette, animated, rotated) come out right."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import Image

from dashboard.lab.inputs import uploads
from dashboard.lab.inputs.uploads import UploadRejected, read_image
from tests.unit.upload_files import encode, one_line, raw_png


def digit_png() -> bytes:
    im = Image.new("L", (64, 64), 255)
    im.paste(0, (28, 8, 36, 56))
    return encode(im)


HOSTILE = {
    "zero bytes": (b"", "empty"),
    "text renamed .png": (b"hello, I am not an image\n" * 20, "not a PNG, JPEG or WebP"),
    "html renamed .png": (b"<html><body>hi</body></html>", "not a PNG, JPEG or WebP"),
    "a GIF": (encode(Image.new("L", (4, 4)), "GIF"), "GIF"),
    "truncated PNG": (digit_png()[:-40], "truncated"),
    "corrupt PNG (bad checksum)": (digit_png()[:60] + bytes(10) + digit_png()[70:], "damaged"),
    "truncated JPEG": (encode(Image.effect_noise((256, 256), 60).convert("L"), "JPEG")[:800], "truncated"),
    "PNG signature only": (b"\x89PNG\r\n\x1a\n", "starts like a PNG"),
    "JPEG cut after its header": (encode(Image.new("L", (64, 64)), "JPEG")[:40], None),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_files_give_one_line(name):
    raw, words = HOSTILE[name]
    with pytest.raises(UploadRejected) as exc:
        read_image(raw)
    text = one_line(exc)
    if words:
        assert words in text, text


def test_byte_limit():
    raw = digit_png()
    with pytest.raises(UploadRejected) as exc:
        read_image(raw, max_bytes=len(raw) - 1)
    assert "MB" in one_line(exc)
    assert read_image(raw, max_bytes=len(raw)).image.size == (64, 64)


def test_pixel_limit_before_decoding():
    raw = encode(Image.new("L", (600, 500), 255))
    with pytest.raises(UploadRejected) as exc:
        read_image(raw, max_pixels=299_999)
    assert "600 x 500" in one_line(exc) and "megapixels" in str(exc.value)


@pytest.mark.parametrize("side", [6_000, 100_000])
def test_decompression_bombs_are_refused_from_their_header(side):
    # 36 megapixels (under Pillow's own bomb limit, over ours) and 10 gigapixels (over Pillow's too), each a
    # few KB of zeros: only the header is ever read (50 rows of IDAT; the rest would be "truncated").
    row = b"\x00" + bytes(side)
    bomb = raw_png(side, side, 8, 0, row * 50)
    assert len(bomb) < 50_000
    with pytest.raises(UploadRejected) as exc:
        read_image(bomb)
    assert "megapixels" in one_line(exc)


def test_limits_come_from_the_server_settings(monkeypatch):
    from dashboard.lab import settings

    settings.override(None)
    assert uploads.limits() == (5_000_000, 13_000_000)          # the defaults
    monkeypatch.setenv("TRAIN_INFER_LAB_MAX_UPLOAD_BYTES", "1000")
    monkeypatch.setenv("TRAIN_INFER_LAB_MAX_UPLOAD_PIXELS", "2000")
    settings.override(None)
    try:
        assert uploads.limits() == (1_000, 2_000)
        with pytest.raises(UploadRejected) as exc:
            read_image(digit_png())                         # 64 x 64 = 4,096 pixels > 2,000
        assert "64 x 64" in one_line(exc)
    finally:
        monkeypatch.undo()
        settings.override(None)


# --- odd but valid: converted right -------------------------------------------------------------


def test_png_renamed_jpg_is_read_by_content():
    checked = read_image(digit_png())        # the name is never looked at: only the bytes
    assert checked.format == "PNG" and checked.image.mode == "L"


def test_16bit_grey_is_scaled_not_clipped():
    values = np.array([[0, 1000, 32768, 65535]], dtype=np.uint16).repeat(4, axis=0)
    checked = read_image(encode(Image.fromarray(values)))
    out = np.asarray(checked.image)
    assert checked.image.mode == "L"
    assert list(out[0]) == [0, 4, 128, 255]      # /257, not clipped at 255
    assert any("16-bit" in n for n in checked.notes)


def test_16bit_rgb_png():
    pixel = struct.pack(">HHH", 65535, 32768, 0)          # 16 bits per channel, written by hand
    rows = b"".join(b"\x00" + pixel * 4 for _ in range(3))
    checked = read_image(raw_png(4, 3, 16, 2, rows))
    assert checked.image.mode == "RGB"
    r, g, b = checked.image.getpixel((1, 1))
    assert r == 255 and abs(g - 128) <= 1 and b == 0


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))   # pure red in print colours
    checked = read_image(encode(cmyk, "JPEG", quality=95))
    assert checked.image.mode == "RGB"
    r, g, b = checked.image.getpixel((8, 8))
    assert r > 230 and g < 30 and b < 30
    assert any("CMYK" in n for n in checked.notes)


def test_rgba_is_composited_on_white():
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))      # transparent black...
    rgba.paste((0, 0, 0, 255), (3, 3, 7, 7))              # ...with an opaque black square
    checked = read_image(encode(rgba))
    out = np.asarray(checked.image)
    assert checked.image.mode == "RGB"
    assert (out[0, 0] == 255).all() and (out[5, 5] == 0).all()   # transparent -> white, not black
    assert any("white" in n for n in checked.notes)


def test_grey_with_alpha_and_palette_with_transparency():
    la = Image.new("LA", (6, 6), (0, 0))
    assert np.asarray(read_image(encode(la)).image).min() == 255
    p = Image.new("P", (6, 6), 0)
    p.putpalette([10, 20, 30] + [0] * 765)
    p.info["transparency"] = 0
    assert np.asarray(read_image(encode(p, transparency=0)).image).min() == 255


def test_webp_and_jpeg():
    for fmt in ("WEBP", "JPEG"):
        checked = read_image(encode(Image.new("RGB", (40, 30), (200, 10, 10)), fmt))
        assert checked.format == fmt and checked.image.size == (40, 30) and checked.image.mode == "RGB"


def test_animated_png_gives_the_first_frame_and_says_so():
    frames = [Image.new("L", (8, 8), v) for v in (0, 128, 255)]
    raw = encode(frames[0], save_all=True, append_images=frames[1:], duration=100)
    checked = read_image(raw)
    assert np.asarray(checked.image).max() == 0                       # frame 1 of 3
    assert any("animated" in n and "3 frames" in n for n in checked.notes)


def test_animated_webp_too():
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0))]
    raw = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    checked = read_image(raw)
    assert checked.image.getpixel((4, 4))[0] > 200
    assert any("2 frames" in n for n in checked.notes)


def test_exif_rotation_is_applied():
    im = Image.new("L", (40, 20), 255)
    exif = Image.Exif()
    exif[uploads.EXIF_ORIENTATION] = 6                     # "rotate 90 degrees clockwise to view"
    checked = read_image(encode(im, "JPEG", exif=exif.tobytes()))
    assert checked.image.size == (20, 40)
    assert any("upright" in n for n in checked.notes)


def test_big_images_are_reduced_for_work():
    checked = read_image(encode(Image.new("RGB", (3000, 1500), "white"), "JPEG"))
    assert checked.original_size == (3000, 1500)
    assert max(checked.image.size) <= uploads.WORK_SIDE
