"""Try it yourself with hostile uploads, one after another in one session: each gives one line on the page, no
exception, and the session keeps its model, results and runs; a busy decoder is not remembered as a refusal:
the same file is read when the student asks again. (What each file is refused for: tests/unit.)"""

from __future__ import annotations

import io
import struct
import threading
import zlib

from PIL import Image

from dashboard.lab.inputs import uploads
from dashboard.service.sessions import DataChoice
from tests.app.drive import digit_png, finish_job, give_model, open_try_it, session


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png(width: int, height: int, chunks: bytes = b"") -> bytes:
    """A grey PNG whose header claims width x height, with a little zero data: a bomb when the size is big."""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) + chunks
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))


def jpeg_cut_short() -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((256, 256), 60).convert("L").save(buf, "JPEG")
    return buf.getvalue()[:1_500]


TEXT_BOMB = b"".join(chunk(b"zTXt", b"k%d\x00\x00" % i + zlib.compress(b"a" * 1_000_000, 9)) for i in range(63))
HOSTILE = [
    ("bomb.png", png(100_000, 100_000), "decompression bomb"),
    ("poster.png", png(5_000, 5_000), "this server decodes up to 13 megapixels"),
    ("bomb.webp", bytes.fromhex("524946461a000000574542505650384c0e0000002ffebfff0f071011fd0f4444ff03"),
     "decompression bomb"),
    ("cut.jpg", jpeg_cut_short(), "truncated"),
    ("notes.png", b"a text file, named .png\n" * 5, "not a PNG, JPEG or WebP"),
    ("text-bomb.png", png(8, 8, TEXT_BOMB), "hidden text"),
]


def test_hostile_uploads_give_one_line_and_keep_the_session(tiny_trained, monkeypatch):
    at = open_try_it()
    give_model(at, tiny_trained, DataChoice("digits", train_images=512))
    s = session(at)
    trained, digest, results, runs = s.trained, s.digest, list(s.results), list(s.runs)
    at.radio(key="try_source").set_value("upload")
    at.run()

    def kept() -> None:
        assert not at.exception, [e.value for e in at.exception]
        assert s.trained is trained and s.digest == digest and s.results == results and s.runs == runs
        assert not s.busy and not at.table                         # nothing was sent to the model

    for name, content, words in HOSTILE:
        at.file_uploader(key="try_upload").set_value((name, content, "image/png"))
        at.run()
        lines = [w.value for w in at.warning] + [e.value for e in at.error]
        assert len(lines) == 1 and words in lines[0] and "\n" not in lines[0], (name, lines)
        kept()

    # The decoder busy with other students' images: one line, and a button to read the same file again.
    monkeypatch.setattr(uploads, "DECODE_WAIT_S", 0.05)
    let_go, started = threading.Event(), [threading.Event() for _ in range(uploads.DECODES_AT_ONCE)]
    held = [uploads._DECODER.submit(lambda e=e: (e.set(), let_go.wait(30))) for e in started]
    assert all(e.wait(10) for e in started)
    try:
        at.file_uploader(key="try_upload").set_value(("one.png", digit_png("1"), "image/png"))
        at.run()
        assert [i.value for i in at.info if "students" in i.value] == [uploads.BUSY]
        assert not at.warning and not at.error
        kept()
    finally:
        let_go.set()
        for job in held:
            job.result(10)
    next(b for b in at.button if b.label == "Read my image again").click()
    at.run()
    finish_job(at)
    assert not at.warning and not any(uploads.BUSY == i.value for i in at.info)
    assert list(at.table[0].value["version"]) == ["fp32"]          # the same file, read and answered this time
    assert s.trained is trained and s.results == results
