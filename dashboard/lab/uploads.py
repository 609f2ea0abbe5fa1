"""An uploaded image, checked by its content (never its name) before anything uses it.

    checked = read_image(raw_bytes)          # UploadRejected with a one-line message, or:
    checked.image                            # a PIL image, mode "L" or "RGB", at most WORK_SIDE px a side

What is refused, each with one sentence the page shows: an empty file, one over the byte limit,
anything that is not a PNG, JPEG or WebP (a text file renamed .png, a GIF), more pixels than the
pixel limit (decompression bombs: a few KB that would decode to gigabytes), truncated or corrupt
files. What is converted: 16-bit greyscale (scaled, not clipped), CMYK, palette, transparency
(composited on white, as it shows in a browser), EXIF rotation; an animated PNG or WebP gives
its first frame, and says so.

The limits are the server's: `max_upload_bytes` and `max_upload_pixels` in lab.settings' Limits
where it has them, else the defaults below.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import settings

EXIF_ORIENTATION = 0x0112
WORK_SIDE = 1024                     # decoded images are reduced to this longest side: plenty for 28x28
FORMATS = ("PNG", "JPEG", "WEBP")    # the only decoders Pillow is allowed to try
_ALLOWED_KINDS = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"RIFF", "WebP"))
# Files people may try that are not allowed here, by their first bytes: named in the message.
_OTHER_KINDS = (
    (b"GIF8", "a GIF"), (b"BM", "a BMP"), (b"II*\x00", "a TIFF"), (b"MM\x00*", "a TIFF"),
    (b"%PDF", "a PDF"), (b"<svg", "an SVG"), (b"<?xml", "an SVG or other XML"),
    (b"\x00\x00\x00\x0cjP", "a JPEG 2000"), (b"PK\x03\x04", "a ZIP archive"),
)


class UploadRejected(ValueError):
    """The upload cannot be used; str() is the one line the page shows."""


@dataclass
class CheckedImage:
    """A decoded, converted image ready for preprocessing."""

    image: Image.Image                  # mode "L" (grey sources) or "RGB"
    format: str                         # what the content is: PNG, JPEG, WEBP (or MPO: a camera's JPEG)
    original_size: tuple[int, int]      # width, height as stored in the file
    notes: list[str] = field(default_factory=list)   # what was done that the user should know


def limits() -> tuple[int, int]:
    """(max bytes, max pixels) of one upload: the server's settings (lab.settings.Limits)."""
    caps = settings.current().limits
    return caps.max_upload_bytes, caps.max_upload_pixels


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _megapixels(n: int) -> str:
    return f"{n / 1e6:.0f} megapixels" if n >= 10e6 else f"{n / 1e6:.1f} megapixels"


def read_image(raw: bytes, *, max_bytes: int | None = None, max_pixels: int | None = None) -> CheckedImage:
    """Check and decode an uploaded file; raise UploadRejected (one line) for anything unusable."""
    default_bytes, default_pixels = limits()
    max_bytes = default_bytes if max_bytes is None else max_bytes
    max_pixels = default_pixels if max_pixels is None else max_pixels
    if not raw:
        raise UploadRejected("The file is empty (0 bytes): choose an image file.")
    if len(raw) > max_bytes:
        raise UploadRejected(f"The file is {_mb(len(raw))}; this server takes images up to {_mb(max_bytes)}.")

    # 1. What is it? Only the PNG, JPEG and WebP decoders may look at it.
    try:
        with Image.open(io.BytesIO(raw), formats=FORMATS) as probe:
            fmt, size = probe.format or "?", probe.size
            _check_pixels(size, max_pixels)
            probe.verify()       # PNG: every chunk's checksum; the others check their headers here
    except UploadRejected:
        raise
    except UnidentifiedImageError:
        raise UploadRejected(_not_an_image(raw)) from None
    except Image.DecompressionBombError:
        raise UploadRejected(f"The image has far more pixels than the {_megapixels(max_pixels)} this server "
                             "decodes (a decompression bomb?).") from None
    except Exception as exc:  # noqa: BLE001  Pillow raises many types for damaged files; each is one message
        raise UploadRejected(_damaged(exc)) from None

    # 2. Decode it for real (verify() leaves the image unusable: open it again).
    try:
        with Image.open(io.BytesIO(raw), formats=FORMATS) as im:
            frames = getattr(im, "n_frames", 1)
            im.seek(0)
            if im.format == "JPEG":
                im.draft(im.mode, (WORK_SIDE, WORK_SIDE))  # decode at 1/2, 1/4, 1/8 scale where that suffices
            im.load()
            image, notes = _convert(im)
    except UploadRejected:
        raise
    except Exception as exc:  # noqa: BLE001  truncated data, a decoder error, a bad palette ...
        raise UploadRejected(_damaged(exc)) from None

    if frames > 1:
        notes.insert(0, f"An animated image ({frames} frames): the first frame is used.")
    return CheckedImage(image, fmt, size, notes)


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    w, h = size
    if w < 1 or h < 1:
        raise UploadRejected("The image has no pixels (0 wide or 0 high).")
    if w * h > max_pixels:
        raise UploadRejected(f"The image is {w:,} x {h:,} pixels ({_megapixels(w * h)}); this server decodes up "
                             f"to {_megapixels(max_pixels)}.")


def _not_an_image(raw: bytes) -> str:
    for magic, kind in _ALLOWED_KINDS:
        if raw.startswith(magic) and (kind != "WebP" or raw[8:12] == b"WEBP"):
            return f"The file starts like a {kind} image but is cut short or damaged: it cannot be read."
    head = raw[:64].lstrip()
    for magic, kind in _OTHER_KINDS:
        if head.startswith(magic):
            return f"This file is {kind}, not a PNG, JPEG or WebP image: convert it to one of those first."
    return "This file is not a PNG, JPEG or WebP image, whatever its name says."


def _damaged(exc: Exception) -> str:
    what = "cut short (truncated)" if "truncated" in str(exc).lower() else "damaged"
    return f"The image is {what} and cannot be decoded ({_reason(exc)})."


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:120]}" if text else type(exc).__name__


def _convert(im: Image.Image) -> tuple[Image.Image, list[str]]:
    """Any mode these formats decode to -> "L" or "RGB", upright, at most WORK_SIDE a side."""
    notes: list[str] = []
    if im.getexif().get(EXIF_ORIENTATION, 1) not in (0, 1):   # phones store photos sideways and say so
        im = ImageOps.exif_transpose(im)
        notes.append("Turned upright, as its EXIF orientation says.")
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        # 16-bit grey: convert("L") would clip every value above 255 to white. Scale 0..65535 to 0..255.
        values = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8), "L")
        notes.append("16-bit greyscale, scaled to 8 bits.")
    elif mode == "F":
        values = np.nan_to_num(np.asarray(im, dtype=np.float64))
        span = values.max() - values.min()
        scaled = (values - values.min()) / span * 255 if span > 0 else np.zeros_like(values)
        im = Image.fromarray(np.rint(scaled).astype(np.uint8), "L")
    elif mode == "CMYK":
        im = im.convert("RGB")
        notes.append("CMYK (print colours), converted to RGB.")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "PA":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        grey = im.mode in ("LA", "La")
        rgba = im.convert("RGBA")
        if rgba.getchannel("A").getextrema()[0] < 255:
            notes.append("Transparent parts shown on white, as a browser shows them.")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba).convert("L" if grey else "RGB")
    if im.mode not in ("L", "RGB"):
        im = im.convert("L" if im.mode == "1" else "RGB")
    if max(im.size) > WORK_SIDE:
        im = im.copy()
        im.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return im, notes
