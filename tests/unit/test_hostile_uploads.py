"""Hostile and worst-case uploads: each gives one plain line (or the right image), in bounded memory, and the
server's one decoder keeps working. (Odd but ordinary files: test_uploads.py. The Try it page keeping
the session intact: tests/app/test_try_it_hostile_uploads.py.)"""

from __future__ import annotations

import gc
import io
import re
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dashboard.lab.inputs import uploads
from dashboard.lab.inputs.uploads import DecoderBusy, UploadRejected, read_image
from tests.unit.upload_files import encode, one_line, png_chunk, raw_png

ROOT = Path(__file__).resolve().parents[2]
# What a message to a student must not carry: exception class names, paths, decoder internals.
INTERNALS = re.compile(r"Error|Exception|Traceback|PIL|libjpeg|zlib|0x[0-9a-f]|/\w|\\\w|\w+\.py\b")


def refused(raw: bytes, **limits) -> str:
    with pytest.raises(UploadRejected) as exc:
        read_image(raw, **limits)
    text = one_line(exc)
    assert not INTERNALS.search(text), text
    return text


def header_only_png(width: int, height: int, bit_depth: int = 8, colour_type: int = 0) -> bytes:
    """A PNG whose header claims width x height, with a few rows of zeros after it: a decompression bomb."""
    return raw_png(width, height, bit_depth, colour_type, b"\x00" * 1000)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real 16 x 16 JPEG whose frame header (SOF0) is rewritten to claim width x height."""
    raw = bytearray(encode(Image.new("RGB", (16, 16), "white"), "JPEG"))
    sof = raw.index(b"\xff\xc0")
    raw[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(raw)


def rgba16_png(width: int, height: int, pixel: tuple[int, int, int, int]) -> bytes:
    """A 16-bit-per-channel RGBA PNG, written by hand (Pillow cannot write one)."""
    row = b"\x00" + struct.pack(">HHHH", *pixel) * width
    return raw_png(width, height, 16, 6, row * height)


# --- bombs and impossible headers: refused from the header, before any pixel is decoded ------------


@pytest.mark.parametrize("raw", [
    header_only_png(100_000, 100_000),                        # 10 gigapixels in ~1 KB
    jpeg_claiming(60_000, 60_000),                            # 3.6 gigapixels in a 16 x 16 JPEG
], ids=["png", "jpeg"])
def test_bombs_past_pillows_own_limit_say_bomb(raw):
    assert len(raw) < 2_000
    assert "decompression bomb" in refused(raw)


# 16,383 x 16,383 (WebP's largest), black, lossless: 34 bytes that decode to 1 GB. Made with Pillow (13 s):
# Image.new("RGB", (16383, 16383)).save(f, "WEBP", lossless=True, method=0).
WEBP_BOMB = bytes.fromhex("524946461a000000574542505650384c0e0000002ffebfff0f071011fd0f4444ff03")


def test_webp_bomb():
    assert "decompression bomb" in refused(WEBP_BOMB)


@pytest.mark.parametrize("raw,size", [
    (header_only_png(5_000, 5_000), "5,000 x 5,000"),
    (jpeg_claiming(8_000, 6_000), "8,000 x 6,000"),
], ids=["png", "jpeg"])
def test_huge_dimensions_in_a_tiny_file_are_refused_by_the_pixel_cap(raw, size):
    text = refused(raw)
    assert size in text and "this server decodes up to 13 megapixels" in text, text   # not "truncated": no decode


def test_a_header_with_no_pixels():
    text = refused(raw_png(0, 10, 8, 0, b""))
    assert "pixels" in text or "damaged" in text, text


def test_png_text_bomb_is_refused():
    # 63 compressed text chunks of 1 MB each: ~64 KB that Pillow would hold as 63 MB (its default limit 64 MB).
    body = zlib.compress(b"a" * 1_000_000, 9)
    text_chunks = b"".join(png_chunk(b"zTXt", b"k%d\x00\x00" % i + body) for i in range(63))
    raw = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)) + text_chunks
           + png_chunk(b"IDAT", zlib.compress(b"\x00" * 72)) + png_chunk(b"IEND", b""))
    assert len(raw) < 100_000
    assert "hidden text" in refused(raw)


# --- each format gets the pixels its decoder's memory allows ----------------------------------------


def test_formats_read_whole_get_fewer_pixels():
    cap = 300_000
    webp_cap, jpeg444_cap = cap * 4 // 16, cap * 4 // 6          # 16 and 6 bytes a pixel against a PNG's 4
    text = refused(encode(Image.new("RGB", (300, 300)), "WEBP"), max_pixels=cap)       # 90,000 > 75,000
    assert "a WebP is read whole, up to 0.1 megapixels: save it as a JPEG" in text, text
    assert read_image(encode(Image.new("RGB", (250, 250)), "WEBP"), max_pixels=cap).format == "WEBP"
    full_colour = encode(Image.new("RGB", (500, 480)), "JPEG", subsampling=0)        # 240,000 > 200,000
    assert "a JPEG stored like this one is read whole, up to 0.2 megapixels" in refused(full_colour, max_pixels=cap)
    phone_like = encode(Image.new("RGB", (500, 480)), "JPEG", subsampling=2)         # 4:2:0, as phones save
    assert read_image(phone_like, max_pixels=cap).format == "JPEG"
    assert jpeg444_cap < 240_000 <= cap
    grey = encode(Image.new("L", (600, 501)))                                        # 1 byte a pixel: the cap
    assert "this server decodes up to 0.3 megapixels" in refused(grey, max_pixels=cap)


# --- damaged, disguised, not an image ----------------------------------------------------------------


def noise(size: tuple[int, int], mode: str = "L") -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (size[1], size[0], len(mode)), np.uint8)
                           .squeeze(), mode)


@pytest.mark.parametrize("raw,words", [
    (encode(noise((300, 200)))[:-2_000], "truncated"),
    (encode(noise((300, 200)), "JPEG")[:3_000], "truncated"),
    (b"just some notes, saved with a .png name\n" * 10, "not a PNG, JPEG or WebP"),
    (encode(Image.new("L", (4, 4)), "GIF"), "a GIF"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>', "an SVG"),
    (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "a PDF"),
    (b"", "empty"),
], ids=["truncated-png", "truncated-jpeg", "text-named-png", "gif", "svg", "pdf", "empty"])
def test_damaged_or_not_an_image(raw, words):
    assert words in refused(raw)


def test_a_zip_named_png():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("digit.png", encode(Image.new("L", (8, 8))))
    assert "a ZIP archive" in refused(buf.getvalue())


def test_over_the_byte_limit():
    raw = encode(noise((200, 200)))
    text = refused(raw, max_bytes=len(raw) - 1)
    assert "MB" in text and "this server takes images up to" in text


# --- worst cases that are valid: the right image ------------------------------------------------------


def test_rgba_at_the_cap_is_composited_on_white_without_fringes():
    """Exactly at the pixel cap it is decoded, one row more it is refused. Transparent pixels that hold black
    (as many editors save them) must not darken the reduced image: averaging colour without its alpha would
    give grey; what a browser shows, reduced, is white. A half-transparent red is pink on white."""
    side, cap = 2_100, 2_100 * 2_100
    px = np.zeros((side, side, 4), np.uint8)
    px[::2, ::2] = (255, 255, 255, 255)             # opaque white on every other pixel, transparent black between
    px[:, 1_050:] = (255, 0, 0, 128)                 # right half: red at half alpha
    raw = encode(Image.fromarray(px, "RGBA"), compress_level=1)
    checked = read_image(raw, max_pixels=cap)
    out = np.asarray(checked.image).astype(int)
    assert checked.image.mode == "RGB" and max(checked.image.size) <= uploads.WORK_SIDE
    middle = out.shape[1] // 2                         # (away from it: the last resize rings at the edge)
    left, right = out[:, : middle - 8], out[:, middle + 8:]
    assert left.min() == 255                                                  # white, not grey
    assert (right[..., 0] == 255).all() and abs(right[..., 1:] - 127).max() <= 1   # pink
    assert any("white" in n for n in checked.notes)
    taller = header_only_png(side, side + 1, colour_type=6)
    assert f"{side:,} x {side + 1:,}" in refused(taller, max_pixels=cap)


def test_strips_give_what_compositing_the_whole_image_gives():
    """The reduction runs a strip at a time: the result must equal compositing the full image, then reducing."""
    y, x = np.arange(2_100, dtype=np.uint8)[:, None], np.arange(1_100, dtype=np.uint8)[None, :]   # wrap at 256
    px = np.stack(np.broadcast_arrays(x * 7, y * 3, x * y, x + 2 * y), axis=-1)
    rgba = Image.fromarray(px, "RGBA")
    whole = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    reduced = whole.reduce(2_100 // uploads.WORK_SIDE)             # by a whole factor, then to the work size
    expected = reduced.resize(uploads._fitted(reduced.size, uploads.WORK_SIDE), Image.Resampling.LANCZOS)
    got = read_image(encode(rgba, compress_level=1)).image
    assert np.array_equal(np.asarray(got), np.asarray(expected))


def test_16bit_grey_is_scaled_in_integers_after_reducing():
    values = np.full((40, 2_100), 65_535, np.uint16)
    values[:, 1_050:] = 1_000                        # 1000 / 257 = 3.9 -> 4; clipped it would be 255
    checked = read_image(encode(Image.fromarray(values)))
    out = np.asarray(checked.image)
    assert checked.image.mode == "L" and checked.image.size[0] <= uploads.WORK_SIDE
    quarter = out.shape[1] // 4
    assert out[:, :quarter].min() == 255 and out[:, -quarter:].max() == 4 and out[:, -quarter:].min() == 4
    assert any("16-bit" in n for n in checked.notes)


def test_16bit_rgba():
    checked = read_image(rgba16_png(64, 48, (65_535, 0, 0, 32_768)))      # red at half alpha, 16 bits a channel
    r, g, b = checked.image.getpixel((10, 10))
    assert checked.image.mode == "RGB" and r == 255 and abs(g - 127) <= 1 and abs(b - 127) <= 1


def test_palette_with_transparency_reduced():
    p = Image.new("P", (2_400, 300), 0)
    p.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    p.paste(1, (1_200, 0, 2_400, 300))             # right half: opaque red; left half: index 0, transparent
    checked = read_image(encode(p, transparency=0))
    out = np.asarray(checked.image)
    assert checked.image.mode == "RGB"
    quarter = out.shape[1] // 4
    assert out[:, :quarter].min() == 255 and (out[:, -quarter:] == (200, 0, 0)).all()


def test_cmyk_jpeg_reduced():
    checked = read_image(encode(Image.new("CMYK", (3_000, 200), (0, 255, 255, 0)), "JPEG", quality=95))
    r, g, b = checked.image.getpixel((100, 20))
    assert checked.image.mode == "RGB" and max(checked.image.size) <= uploads.WORK_SIDE
    assert r > 230 and g < 30 and b < 30


def test_animated_png_first_frame():
    frames = [Image.new("L", (30, 20), v) for v in (10, 128, 250)]
    checked = read_image(encode(frames[0], save_all=True, append_images=frames[1:], duration=50))
    assert np.asarray(checked.image).max() == 10
    assert any("3 frames" in n for n in checked.notes)


def test_exif_rotated_photo_is_reduced_then_turned_upright():
    im = Image.new("RGB", (2_400, 1_200), "white")
    im.paste((0, 0, 0), (0, 0, 300, 300))              # a black block, top-left as stored
    exif = Image.Exif()
    exif[uploads.EXIF_ORIENTATION] = 6                  # "rotate 90 degrees clockwise to view"
    checked = read_image(encode(im, "JPEG", exif=exif.tobytes(), quality=95))
    out = np.asarray(checked.image.convert("L"))
    side = uploads.WORK_SIDE
    assert checked.image.size == (side // 2, side)
    k = side // 16                                                       # well inside the block's 1/8
    assert out[:k, -k:].max() < 40 and out[:k, :k].min() > 215           # now top-right; top-left is white
    assert any("upright" in n for n in checked.notes)


def test_a_line_one_pixel_high_at_the_cap():
    line = encode(Image.new("L", (1_000_000, 1), 0))
    checked = read_image(line, max_pixels=1_000_000)
    assert checked.image.size == (uploads.WORK_SIDE, 1)


# --- the server's decoder -------------------------------------------------------------------------------


@contextmanager
def decoder_busy():
    """Every decoder thread held by another student's upload (a task that waits to be let go)."""
    let_go = threading.Event()
    started = [threading.Event() for _ in range(uploads.DECODES_AT_ONCE)]
    held = [uploads._DECODER.submit(lambda e=e: (e.set(), let_go.wait(30))) for e in started]
    assert all(e.wait(10) for e in started)
    try:
        yield
    finally:
        let_go.set()
        for job in held:
            job.result(10)


def test_a_busy_decoder_says_try_again(monkeypatch):
    monkeypatch.setattr(uploads, "DECODE_WAIT_S", 0.05)
    raw = encode(Image.new("L", (20, 20)))
    with decoder_busy(), pytest.raises(DecoderBusy) as exc:
        read_image(raw)
    assert one_line(exc) == "The server is reading other students' images: try again in a few seconds."
    assert read_image(raw).image.size == (20, 20)                    # free again: the same file is read


def test_decodes_take_turns_on_one_thread(monkeypatch):
    at_once, most, threads_seen = 0, 0, set()
    lock = threading.Lock()
    convert = uploads._convert

    def counting(im):
        nonlocal at_once, most
        with lock:
            at_once += 1
            most = max(most, at_once)
            threads_seen.add(threading.get_ident())
        time.sleep(0.02)                  # long enough for the other students to arrive (nothing is timed)
        with lock:
            at_once -= 1
        return convert(im)

    monkeypatch.setattr(uploads, "_convert", counting)
    raw = encode(Image.new("RGB", (64, 64)))
    results: list = []
    students = [threading.Thread(target=lambda: results.append(read_image(raw))) for _ in range(6)]
    for t in students:
        t.start()
    for t in students:
        t.join()
    assert len(results) == 6 and most == uploads.DECODES_AT_ONCE == 1
    assert len(threads_seen) == 1 and threading.get_ident() not in threads_seen   # the decoder's own thread


def test_the_decoder_keeps_working_after_failures(monkeypatch):
    def short_of_memory(im):
        raise MemoryError

    monkeypatch.setattr(uploads, "_convert", short_of_memory)
    assert "short of memory" in refused(encode(Image.new("L", (20, 20))))
    monkeypatch.undo()
    refused(encode(noise((300, 200)))[:-2_000])                      # a decoder error on its thread
    assert read_image(encode(Image.new("L", (20, 20)))).image.size == (20, 20)


def test_a_refusal_holds_no_decoded_image():
    """The exception a page keeps must not keep the decoder's frames, nor the full-size image in them."""
    with pytest.raises(UploadRejected) as exc:
        read_image(encode(noise((300, 200)))[:-2_000])
    tb, frames = exc.value.__traceback__, []
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert not {"_probe", "_decode", "_convert"} & set(frames), frames
    assert exc.value.__context__ is None and exc.value.__cause__ is None


@pytest.mark.parametrize("raw", [encode(noise((300, 200)))[:-2_000], b"not an image", encode(Image.new("L", (20, 20)))],
                         ids=["truncated", "not-an-image", "fine"])
def test_an_upload_leaves_nothing_for_the_garbage_collector(raw):
    """The server runs no collection after a page (runner.postScriptGC = false): whatever an upload leaves in a
    reference cycle (the future, its exception, the bytes) would stay until the next automatic one."""
    def page():
        try:
            read_image(raw)
        except UploadRejected as exc:
            str(exc)

    page()
    gc.collect()
    gc.disable()
    try:
        page()
        assert gc.collect() == 0
    finally:
        gc.enable()


# --- memory: measured in a fresh process, so nothing else in it hides or adds to the peak ----------------

PEAK = """
import sys
from dashboard.lab.inputs import uploads
from PIL import Image
import io

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

raw = open(sys.argv[1], "rb").read()
warm = io.BytesIO()
Image.new("RGBA", (8, 8)).save(warm, "PNG")
uploads.read_image(warm.getvalue())                  # the decoders' first-use allocations are not the file's
open("/proc/self/clear_refs", "w").write("5")        # peak RSS := RSS now
base = rss("VmRSS:")
uploads.read_image(raw)
print(rss("VmHWM:") - base)
"""
MB = 1_000_000
W, H = 2_400, 1_600          # 3.8 megapixels: float64 or a full-size composite would cost 75+ MB
# The reduced image, its strips and the final resize: 5-7 MB measured here (Pillow 13); the bound leaves room.
# (The decoder before this one: 100, 77 and 80 MB on these files, against bounds of 24, 31 and 20 MB.)
ALLOWANCE = 16 * MB


def worst_cases() -> dict[str, tuple[bytes, int]]:
    """name -> (file, bytes a pixel Pillow must hold to decode it whole)."""
    y, x = np.arange(H)[:, None], np.arange(W)[None, :]
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 3] = x % 256, y % 256, (x // 12) % 256
    palette = Image.fromarray(((x // 40 + y // 40) % 3).astype(np.uint8), "P")
    palette.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    return {
        "16-bit grey PNG": (encode(Image.fromarray(((x * 21 + y) % 65_536).astype(np.uint16)), compress_level=1), 2),
        "RGBA PNG, transparent": (encode(Image.fromarray(rgba, "RGBA"), compress_level=1), 4),
        "palette PNG, transparent": (encode(palette, transparency=0, compress_level=1), 1),
    }


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads peak RSS from /proc (Linux)")
def test_decoding_worst_cases_holds_little_more_than_the_decoded_file(tmp_path):
    """A decode may hold the file's pixels once, as its decoder gives them, plus a small reduced copy: never a
    float64 array or a full-size converted or composited copy (either would at least double the peak)."""
    peaks = {}
    for name, (raw, per_pixel) in worst_cases().items():
        assert len(raw) <= 5 * MB, (name, len(raw))
        path = tmp_path / "upload"
        path.write_bytes(raw)
        out = subprocess.run([sys.executable, "-c", PEAK, str(path)], cwd=ROOT, capture_output=True, text=True,
                             check=True)
        peaks[name] = int(out.stdout.split()[-1])
        assert peaks[name] < W * H * per_pixel + ALLOWANCE, {k: f"{v / MB:.0f} MB" for k, v in peaks.items()}
