"""An uploaded image, checked by its content (never its name) before anything uses it, in bounded memory.

    checked = read_image(raw_bytes)          # UploadRejected with a one-line message, or:
    checked.image                            # a PIL image, mode "L" or "RGB", at most WORK_SIDE px a side

What is refused, each with one sentence the page shows: an empty file, one over the byte limit,
anything that is not a PNG, JPEG or WebP (a text file renamed .png, a GIF), more pixels than this
server decodes (decompression bombs: a few KB that would decode to gigabytes), PNG text chunks that
inflate to megabytes, truncated or corrupt files, and, while other students' images keep the decoder
busy for DECODE_WAIT_S, a new one (DecoderBusy: a moment later it works). What is converted: 16-bit
greyscale (scaled, not clipped), CMYK, palette, transparency (composited on white, as it shows in a
browser), EXIF rotation; an animated PNG or WebP gives its first frame, and says so.

Memory. A hosted copy has 0.7-2.7 GB for everything, so one decode may hold at most what a PNG at the
pixel cap holds (DECODE_BYTES_PER_CAP_PIXEL bytes a pixel), and DECODES_AT_ONCE decode at once across
the server, on a decoder thread of their own. Nothing goes through float64 or through a full-size copy: JPEG is decoded at 1/2 to
1/8 scale (draft); PNG and WebP cannot be, so their whole image is decoded once, then converted,
composited and reduced a strip at a time.

The limits are the server's: `max_upload_bytes` and `max_upload_pixels` in lab.settings' Limits.
"""

from __future__ import annotations

import ctypes
import io
import platform
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from dashboard.lab import settings

EXIF_ORIENTATION = 0x0112
# Decoded images are reduced to this longest side: a digit a quarter of a photo's width is still 128 px for a
# 20 x 20 box. Preprocessing works at this size: 8 students' inked photos prepared at once, measured with
# the server's allocator: +85 MB at 1024 px, +22 MB at 512.
WORK_SIDE = 512
FORMATS = ("PNG", "JPEG", "WEBP")    # the only decoders Pillow is allowed to try
_ALLOWED_KINDS = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"RIFF", "WebP"))
# Files people may try that are not allowed here, by their first bytes: named in the message.
_OTHER_KINDS = (
    (b"GIF8", "a GIF"), (b"BM", "a BMP"), (b"II*\x00", "a TIFF"), (b"MM\x00*", "a TIFF"),
    (b"%PDF", "a PDF"), (b"<svg", "an SVG"), (b"<?xml", "an SVG or other XML"),
    (b"\x00\x00\x00\x0cjP", "a JPEG 2000"), (b"PK\x03\x04", "a ZIP archive"),
)

# --- memory bounds ---------------------------------------------------------------------------------
# The budget of one decode: a PNG at the pixel cap, which Pillow holds whole at 4 bytes a pixel (RGB is
# padded to 4). At the default cap (settings: 13 megapixels, a 12-megapixel phone photo with room) that
# is 52 MB; the other formats get the pixels that fit the same bytes. What a decode holds at its peak, per
# pixel of the file, measured with Pillow 13 (peak RSS, 4032 x 3024 files):
#   PNG   the whole image in Pillow's mode: 1 B (L, P, 1), 2 B (16-bit grey), 4 B (the rest)
#   WebP  ~16 B: libwebp's canvas and Pillow's copy, all at full size (Pillow cannot decode it smaller):
#         3.3 megapixels at the default cap, more than a picture saved from a web page
#   JPEG  decoded at 1/2-1/8 scale (draft), but libjpeg keeps every DCT coefficient of a progressive or
#         multi-scan file (2 B a sample; a header does not say which it is, so every JPEG is costed so):
#         3 B a pixel for a phone's 4:2:0 photo (13 megapixels fit), 6 B at 4:4:4 (8.7), 8 B for CMYK
DECODE_BYTES_PER_CAP_PIXEL = 4
_PNG_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}   # else 4
_WEBP_BYTES_PER_PIXEL = 16
# One decode at a time across the server, on a thread of its own: two would double the peak on a 2-core host
# for no gain in a room (a 13-megapixel PNG decodes in ~0.4 s: the 8th of 8 students at once waits ~3 s).
# Its own thread, not a lock around the student's: glibc gives each thread a heap arena of its own and, with
# lab.hardware.tune_allocator's thresholds, never hands back the top of one (malloc_trim cannot either).
# Decoded on 8 students' threads, 8 progressive JPEGs took +375 MB on a real server and kept most of it;
# decoded on one thread, each decode reuses the memory of the one before.
DECODES_AT_ONCE = 1
DECODE_WAIT_S = 10.0                 # a student's upload waits this long for the decoder, then hears BUSY
_DECODER = ThreadPoolExecutor(max_workers=DECODES_AT_ONCE, thread_name_prefix="upload-decoder")
BUSY = "The server is reading other students' images: try again in a few seconds."
# Conversions run on strips of about this many source pixels, never on a full-size copy.
STRIP_PIXELS = 1 << 18
# Pillow keeps up to 64 MB of a PNG's text chunks in memory, and a 64 KB file of compressed text reaches it
# (a text bomb, measured: +63 MB per open). Nothing here reads PNG text: 1 MB is plenty for any real
# file's metadata. (Process-wide: this is the server's Pillow; nothing else in the app reads PNG text.)
PngImagePlugin.MAX_TEXT_MEMORY = min(PngImagePlugin.MAX_TEXT_MEMORY, 1_000_000)

_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
              5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}   # EXIF orientation -> the turn that makes it upright
_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L")
_ALPHA_MODES = ("RGBA", "LA", "RGBa", "La", "PA")
WHITE = (255, 255, 255, 255)


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:                  # musl and other C libraries: no malloc_trim
        return None


_LIBC = _glibc()


class UploadRejected(ValueError):
    """The upload cannot be used; str() is the one line the page shows."""


class DecoderBusy(UploadRejected):
    """Every decode slot stayed taken by other uploads: the same file may work a moment later."""


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


def _megapixels(n: float) -> str:
    text = f"{n / 1e6:.0f}" if n >= 10e6 else f"{n / 1e6:.1f}"
    return f"{text.removesuffix('.0')} megapixels"


def read_image(raw: bytes, *, max_bytes: int | None = None, max_pixels: int | None = None) -> CheckedImage:
    """Check and decode an uploaded file; raise UploadRejected (one line) for anything unusable."""
    default_bytes, default_pixels = limits()
    max_bytes = default_bytes if max_bytes is None else max_bytes
    max_pixels = default_pixels if max_pixels is None else max_pixels
    if not raw:
        raise UploadRejected("The file is empty (0 bytes): choose an image file.")
    if len(raw) > max_bytes:
        raise UploadRejected(f"The file is {_mb(len(raw))}; this server takes images up to {_mb(max_bytes)}.")

    # Everything from the header on runs on the decoder thread: even a header can cost memory (Pillow's WebP
    # probe allocates the whole canvas).
    job = _DECODER.submit(_read_and_hand_back, raw, max_pixels)
    try:
        error = job.exception(timeout=DECODE_WAIT_S)
    except FutureTimeout:
        job.cancel()          # not started: dropped; started: it ends soon and nobody reads it
        raise DecoderBusy(BUSY) from None
    if isinstance(error, UploadRejected):
        # A new one: re-raising the future's own would tie it, this frame and the upload's bytes in a cycle
        # that only a garbage collection frees.
        raise UploadRejected(str(error))
    checked, frames = job.result()      # (anything else, a bug, is raised here as it is)
    if frames > 1 and checked.format != "MPO":   # (an MPO's second picture is the camera's preview)
        checked.notes.insert(0, f"An animated image ({frames} frames): the first frame is used.")
    return checked


def _read_and_hand_back(raw: bytes, max_pixels: int) -> tuple[CheckedImage, int]:
    """On the decoder thread: the checked image and its frame count; then the freed decode goes back to the
    system before the next one starts."""
    try:
        return _read(raw, max_pixels)
    finally:
        _hand_back_memory()


def _read(raw: bytes, max_pixels: int) -> tuple[CheckedImage, int]:
    try:
        fmt, size = _probe(raw, max_pixels)
        image, notes, frames = _decode(raw)
        return CheckedImage(image, fmt, size, notes), frames
    except UploadRejected as exc:
        message = str(exc)
    # A fresh exception, raised once the old one is gone: its traceback held the decoder's frames, and through
    # them the full-size image, for as long as the student's page kept the exception.
    raise UploadRejected(message)


def _probe(raw: bytes, max_pixels: int) -> tuple[str, tuple[int, int]]:
    """What is it, and what would decoding it cost? Only the header is read (no pixels); (format, size).
    (Pillow's WebP probe holds a full-size canvas: it is gone when this returns.)"""
    try:
        with Image.open(io.BytesIO(raw), formats=FORMATS) as probe:
            fmt, size = probe.format or "?", probe.size
            _check_pixels(size, max_pixels, _pixel_cap(probe, max_pixels), fmt)
            probe.verify()       # PNG: every chunk's checksum; the others check their headers here
            return fmt, size
    except UploadRejected:
        raise
    except UnidentifiedImageError:
        raise UploadRejected(_not_an_image(raw)) from None
    except Image.DecompressionBombError:
        raise UploadRejected(f"The image has far more pixels than the {_megapixels(max_pixels)} this server "
                             "decodes (a decompression bomb?).") from None
    except Exception as exc:  # noqa: BLE001  Pillow raises many types for damaged files; each is one message
        raise UploadRejected(_damaged(exc)) from None


def _decode(raw: bytes) -> tuple[Image.Image, list[str], int]:
    """The first frame, converted and reduced; its frame count. The full-size decode is freed on return."""
    try:
        with Image.open(io.BytesIO(raw), formats=FORMATS) as im:   # again: verify() left the probe unusable
            frames = getattr(im, "n_frames", 1)
            im.seek(0)
            if im.format in ("JPEG", "MPO"):
                # Decode at 1/2, 1/4 or 1/8 scale where the result still fills WORK_SIDE on its long side.
                im.draft(im.mode, _fitted(im.size, WORK_SIDE))
            im.load()
            image, notes = _convert(im)
            return image, notes, frames
    except MemoryError:
        raise UploadRejected("The server ran short of memory reading this image: try a smaller one.") from None
    except Exception as exc:  # noqa: BLE001  truncated data, a decoder error, a bad palette ...
        raise UploadRejected(_damaged(exc)) from None


def _hand_back_memory() -> None:
    """Return the freed decode's pages to the system (glibc: malloc_trim(0), a few ms). It frees what lies in
    the arenas' free lists; the decoder thread's own arena top stays for the next decode to reuse.
    (lab.hardware.release_memory does the same after a job, with a full garbage collection this does not
    need: no cycles hold an image.)"""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _pixel_cap(probe: Image.Image, max_pixels: int) -> int:
    """The most pixels this file may have: the server's cap, or fewer where its format needs more bytes a
    pixel to decode than a PNG at the cap (see DECODE_BYTES_PER_CAP_PIXEL)."""
    if probe.format == "WEBP":
        per_pixel = _WEBP_BYTES_PER_PIXEL
    elif probe.format in ("JPEG", "MPO"):
        layers = getattr(probe, "layer", None) or [("", 1, 1, 0)]     # (id, h, v, table) per component
        h_max, v_max = max(h for _, h, _, _ in layers), max(v for _, _, v, _ in layers)
        per_pixel = 2 * sum(h * v for _, h, v, _ in layers) / (h_max * v_max)
    else:
        per_pixel = _PNG_BYTES_PER_PIXEL.get(probe.mode, 4)
    return min(max_pixels, int(max_pixels * DECODE_BYTES_PER_CAP_PIXEL / per_pixel))


def _check_pixels(size: tuple[int, int], max_pixels: int, cap: int, fmt: str) -> None:
    w, h = size
    if w < 1 or h < 1:
        raise UploadRejected("The image has no pixels (0 wide or 0 high).")
    if w * h > cap:
        if cap == max_pixels:
            what = f"this server decodes up to {_megapixels(max_pixels)}"
        elif fmt in ("JPEG", "MPO"):
            what = f"a JPEG stored like this one is read whole, up to {_megapixels(cap)}: make it smaller"
        else:
            what = (f"a {'WebP' if fmt == 'WEBP' else fmt} is read whole, up to {_megapixels(cap)}: save it as "
                    "a JPEG or make it smaller")
        raise UploadRejected(f"The image is {w:,} x {h:,} pixels ({_megapixels(w * h)}); {what}.")


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
    """One plain line; the decoder's own words (class names, offsets) stay out of the page."""
    text = str(exc).lower()
    if "text chunk" in text:      # Pillow's words when MAX_TEXT_MEMORY is reached
        return "The image carries more hidden text (metadata) than this server reads: save it again without it."
    what = "cut short (truncated)" if "truncated" in text else "damaged"
    return f"The image is {what} and cannot be decoded: save it again, or choose another file."


def _fitted(size: tuple[int, int], side: int) -> tuple[int, int]:
    """`size` scaled so its longer side is `side` (never below 1 px)."""
    w, h = size
    scale = side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _convert(im: Image.Image) -> tuple[Image.Image, list[str]]:
    """Any mode these formats decode to -> "L" or "RGB", upright, at most WORK_SIDE a side.

    Reduced first, by a whole factor, a strip at a time: every conversion (16 bits to 8, palette, CMYK,
    transparency onto white) happens on one strip of the source, never on a full-size copy. Compositing on
    white before the reduction, strip by strip, is what a browser shows, averaged: no premultiplied-alpha
    question arises, and the result is the same as compositing the whole image and then reducing it."""
    notes: list[str] = []
    orientation = im.getexif().get(EXIF_ORIENTATION, 1)
    if orientation in _TRANSPOSE:   # phones store photos sideways and say so
        notes.append("Turned upright, as its EXIF orientation says.")
    if im.mode.startswith("I"):
        notes.append("16-bit greyscale, scaled to 8 bits.")
    elif im.mode == "CMYK":
        notes.append("CMYK (print colours), converted to RGB.")

    out_mode = "L" if im.mode in _GREY_MODES else "RGB"
    w, h = im.size
    factor = max(1, max(w, h) // WORK_SIDE)          # leaves the long side in [WORK_SIDE, 2 x WORK_SIDE)
    if im.mode == out_mode:                          # nothing to convert (most photos): no copy at all
        out = im.reduce(factor) if factor > 1 else im
    else:
        rows = max(factor, STRIP_PIXELS // w // factor * factor)   # whole blocks of `factor` rows a strip
        out = Image.new(out_mode, (-(-w // factor), -(-h // factor)))
        transparent = False
        for top in range(0, h, rows):
            strip, see_through = _flatten(im.crop((0, top, w, min(h, top + rows))), out_mode)
            transparent = transparent or see_through
            out.paste(strip.reduce(factor), (0, top // factor))
        if transparent:
            notes.append("Transparent parts shown on white, as a browser shows them.")
    if max(out.size) > WORK_SIDE:
        out = out.resize(_fitted(out.size, WORK_SIDE), Image.Resampling.LANCZOS)
    if orientation in _TRANSPOSE:
        out = out.transpose(_TRANSPOSE[orientation])
    return out, notes


def _flatten(strip: Image.Image, out_mode: str) -> tuple[Image.Image, bool]:
    """One strip of the source in `out_mode` ("L" or "RGB"), on white; and whether any of it was see-through."""
    if strip.mode.startswith("I"):
        # 16-bit grey: convert("L") would clip every value above 255 to white. Scale 0..65535 to 0..255 in
        # integers: (v + 128) // 257 is round(v / 257) for every 16-bit v (no v / 257 ends in exactly .5).
        values = np.clip(np.asarray(strip), 0, 65535).astype(np.uint32)
        return Image.fromarray(((values + 128) // 257).astype(np.uint8), "L"), False
    if strip.mode == "P":
        strip = strip.convert("RGBA" if "transparency" in strip.info else "RGB")
    see_through = False
    if strip.mode in _ALPHA_MODES:
        rgba = strip.convert("RGBA")
        see_through = rgba.getchannel("A").getextrema()[0] < 255
        strip = Image.alpha_composite(Image.new("RGBA", rgba.size, WHITE), rgba)
    return (strip if strip.mode == out_mode else strip.convert(out_mode)), see_through
