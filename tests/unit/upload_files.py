"""Image files made byte by byte for the upload tests (test_uploads.py, test_hostile_uploads.py): plain
functions that build bytes, called with different arguments inside a test and inside parametrize lists,
so a module rather than fixtures. one_line is the check both files make of a refusal's message."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image


def encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def raw_png(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes) -> bytes:
    """A PNG written by hand: what Pillow cannot write (48-bit RGB) or will not decode (a bomb)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(rows, 9))
            + png_chunk(b"IEND", b""))


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert text and "\n" not in text and len(text) < 200, text
    return text


# --- refused, each with its own line ---------------------------------------------------------------
