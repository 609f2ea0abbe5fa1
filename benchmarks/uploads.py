"""Uploads benchmark: the server's peak memory while 8 students upload worst-case images at the same moment.

(A script of ~350 lines: one experiment, read top to bottom.)

    python benchmarks/uploads.py [--sessions 8] [--timeout 120] [--before REV]

1. The files (made here, in a temporary folder): the worst a student can send under the server's default
   limits. At the pixel cap (13 megapixels): a 16-bit RGBA PNG, an RGBA PNG half transparent, a 16-bit grey
   PNG, a phone-like JPEG; at their own, lower caps: a progressive full-colour (4:4:4) JPEG and a WebP; a PNG
   at the byte limit and an RGBA PNG at both limits; a PNG bomb (10 gigapixels in 1 KB) and a PNG text bomb (63 MB of text in 64 KB). The
   valid ones are flat (a white page), so each page ends at "Nothing to recognise" right after decoding:
   what is measured is the upload path, not a prediction. Each file is checked first, in this process, to
   give the line the page should show.
2. The real app (benchmarks/server.py) on a fresh server; N browser contexts (own cookie, own session) in one
   headless Chromium; each runs the whole demo (one computes, the others share it) so the Try it page opens,
   then picks "Upload a file". One round per file: all N pages upload it at once (set_input_files, gathered);
   then a mixed round, each page a different file. Per round: the server's RSS just before (baseline), its
   peak until every page shows its line (the kernel's high-water mark, VmHWM, reset at the baseline; and
   psutil samples every 10 ms), and what each page said. Goal: peak growth under 100 MB in every round.
3. Before/after, in a fresh process per measurement: the peak RSS growth of one decode of each file, and of
   the mixed set decoded by N threads at once, with this decoder and with the one before the bounded
   decoder (git REV, by default the parent of the commit that introduced DECODES_AT_ONCE).

Prints markdown tables, writes benchmarks/results/uploads.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import re
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._table import markdown_table, write_json  # noqa: E402
from benchmarks.app import CHROMIUM_ARGS, IDLE, chromium  # noqa: E402
from benchmarks.server import start_server, stop_server, wait_healthy  # noqa: E402
from dashboard.lab import hardware  # noqa: E402
from dashboard.lab.inputs import data, uploads
from dashboard.lab.serving import preprocess

MB = 1e6
GOAL_MB = 100.0
SAMPLE_S = 0.01
SERVER_START_TIMEOUT_S = 120
DEMO_TIMEOUT_S = 900
CAP = 13_000_000                                   # the default max_upload_pixels this script is written for
PHONE = (4_160, 3_120)                             # 12,979,200 pixels: at the cap
# What a page says when it is done with an upload (its one line).
DONE = re.compile(r"Nothing to recognise|decompression bomb|this server decodes|read whole|hidden text|"
                  r"truncated|damaged|not a PNG|reading other students|could not be used|takes images up to")


@dataclass
class Case:
    name: str
    path: Path
    says: str            # what the page should show, checked in this process first


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_by_hand(width: int, height: int, bit_depth: int, colour: int, row: bytes, extra: bytes = b"",
                rows: int | None = None) -> bytes:
    """A PNG of `rows` copies of one row (Pillow writes no 16-bit RGBA; a bomb has far fewer rows than it says)."""
    z = zlib.compressobj(9)
    body = b"".join(z.compress(b"\x00" + row) for _ in range(height if rows is None else rows)) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0))
            + extra + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def save(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def make_files(folder: Path) -> list[Case]:
    w, h = PHONE
    rgba = Image.new("RGBA", PHONE, (255, 255, 255, 255))
    rgba.paste((0, 0, 0, 0), (0, 0, w // 2, h))                  # left half: transparent black
    jpeg_444 = (3_400, 2_548)                                    # 8.66 megapixels: 4:4:4's cap is 8.67
    webp = (2_080, 1_560)                                        # 3.24 megapixels: WebP's cap is 3.25
    rng = np.random.default_rng(0)
    grain = (250 + rng.integers(0, 6, (3_000, 3_900), np.uint8)).astype(np.uint8)   # paper grain: ~4.9 MB
    heavy = np.full((h, w, 4), 255, np.uint8)                    # both limits at once: 13 MP RGBA and ~4.9 MB
    heavy[:740, :, :3] = 250 + rng.integers(0, 6, (740, w, 3), np.uint8)
    text = b"".join(chunk(b"zTXt", b"k%d\x00\x00" % i + zlib.compress(b"a" * 1_000_000, 9)) for i in range(63))
    files = {
        "16-bit RGBA PNG, 13 MP": png_by_hand(w, h, 16, 6, struct.pack(">HHHH", 65535, 65535, 65535, 32768) * w),
        "RGBA PNG, half transparent, 13 MP": save(rgba, "PNG"),
        "16-bit grey PNG, 13 MP": png_by_hand(w, h, 16, 0, struct.pack(">H", 60_000) * w),
        "JPEG 4:2:0 (a phone's), 13 MP": save(Image.new("RGB", PHONE, (236, 236, 236)), "JPEG", quality=90),
        "progressive JPEG 4:4:4, 8.7 MP": save(Image.new("RGB", jpeg_444, (236, 236, 236)), "JPEG", quality=90,
                                               progressive=True, subsampling=0),
        "WebP, 3.2 MP": save(Image.new("RGB", webp, (236, 236, 236)), "WEBP", lossless=True),
        "PNG at the byte limit, 11.7 MP": save(Image.fromarray(grain, "L"), "PNG"),
        "RGBA PNG at both limits, 13 MP": save(Image.fromarray(heavy, "RGBA"), "PNG"),
        "PNG bomb, 10 gigapixels": png_by_hand(100_000, 100_000, 8, 0, bytes(100_000), rows=10),
        "PNG text bomb, 63 MB of text": png_by_hand(8, 8, 8, 0, bytes(8), extra=text),
    }
    cases = []
    for i, (name, raw) in enumerate(files.items()):
        path = folder / f"case{i}.png"     # the name is never read: the content decides
        path.write_bytes(raw)
        cases.append(Case(name, path, expected_line(raw)))
    return cases


def expected_line(raw: bytes) -> str:
    """What the Try it page shows for this file with a digits model (decoded here, as the page does)."""
    try:
        checked = uploads.read_image(raw)
        preprocess.for_dataset(checked.image, data.CATALOG["digits"])
    except (uploads.UploadRejected, preprocess.NoInk) as exc:
        return str(exc)
    raise SystemExit("a benchmark file would go to the model: it must end at a message")


# --- the server's RSS ------------------------------------------------------------------------------


class RssSampler(threading.Thread):
    """The server's RSS every SAMPLE_S; and its kernel high-water mark (VmHWM), reset on mark()."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc, self.samples, self._done = psutil.Process(pid), [], threading.Event()

    def run(self) -> None:
        while not self._done.wait(SAMPLE_S):
            try:
                self.samples.append((time.monotonic(), self.proc.memory_info().rss))
            except psutil.NoSuchProcess:
                return

    def stop(self) -> None:
        self._done.set()
        self.join()

    def rss(self) -> int:
        return self.proc.memory_info().rss

    def reset_peak(self) -> bool:
        try:
            Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def kernel_peak(self) -> int | None:
        try:
            line = next(li for li in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines()
                        if li.startswith("VmHWM:"))
            return int(line.split()[1]) * 1024
        except (OSError, StopIteration):
            return None

    def sampled_peak(self, since: float) -> int:
        return max((rss for t, rss in self.samples if t >= since), default=0)


# --- the browser side ------------------------------------------------------------------------------


async def run_demo(page, url: str) -> None:
    """Home, then the whole demo: a model for Try it to ask (computed once, then served from shared results)."""
    from playwright.async_api import expect
    await page.goto(url)
    await expect(page.get_by_role("heading", name="Train & Infer Lab", level=1)).to_be_visible(timeout=120_000)
    await page.wait_for_selector(IDLE, state="attached", timeout=120_000)
    await page.get_by_role("button", name="Run the whole demo", exact=True).click()
    await expect(page.get_by_text(re.compile(r"Demo done"))).to_be_visible(timeout=DEMO_TIMEOUT_S * 1000)
    await page.wait_for_selector(IDLE, state="attached", timeout=60_000)


async def open_try_it(page) -> None:
    """Try it yourself, with "Upload a file" picked."""
    from playwright.async_api import expect
    await page.get_by_test_id("stSidebarNav").get_by_role("link", name="Try it yourself", exact=True).click()
    await expect(page.get_by_role("heading", name="Try it yourself", level=1)).to_be_visible(timeout=60_000)
    await page.wait_for_selector(IDLE, state="attached", timeout=60_000)
    await page.get_by_text("Upload a file", exact=True).click()
    await expect(page.get_by_text("Your image goes here: choose a file.")).to_be_visible(timeout=60_000)
    await page.wait_for_selector(IDLE, state="attached", timeout=60_000)


async def upload(page, path: Path, timeout_s: float) -> dict:
    """Upload one file and wait for the page's line; when it showed and what it said."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout
    await page.get_by_test_id("stFileUploader").locator('input[type="file"]').set_input_files(str(path))
    line = page.get_by_test_id("stAlertContainer").filter(has_text=DONE).first
    try:
        await line.wait_for(state="visible", timeout=timeout_s * 1000)
        return {"done": time.monotonic(), "said": (await line.inner_text()).strip()}
    except PlaywrightTimeout:
        return {"done": None, "said": "(nothing within the timeout)"}


async def clear(page) -> None:
    """Remove the uploaded file; wait until the page is back to "choose a file"."""
    from playwright.async_api import expect
    delete = page.get_by_test_id("stFileChipDeleteBtn")
    if await delete.count():
        await delete.first.click()
    await expect(page.get_by_text("Your image goes here: choose a file.")).to_be_visible(timeout=60_000)
    await page.wait_for_selector(IDLE, state="attached", timeout=60_000)


async def one_round(pages, files: list[Case], sampler: RssSampler, timeout_s: float) -> dict:
    await asyncio.gather(*(clear(p) for p in pages))
    await asyncio.sleep(1.0)                                   # let the server's redraws end
    baseline = sampler.rss()
    kernel = sampler.reset_peak()
    start = time.monotonic()
    outcomes = await asyncio.gather(*(upload(p, case.path, timeout_s) for p, case in zip(pages, files)))
    end = time.monotonic()
    peak = sampler.kernel_peak() if kernel else None
    sampled = sampler.sampled_peak(start)
    said = [o["said"] for o in outcomes]
    right = sum(case.says in o["said"] for o, case in zip(outcomes, files))    # (after the icon's name)
    return {"files": [c.name for c in files], "baseline_mb": baseline / MB,
            "peak_growth_mb": ((peak if peak else sampled) - baseline) / MB,
            "sampled_peak_growth_mb": (sampled - baseline) / MB, "peak_from": "VmHWM" if peak else "samples",
            "done": sum(o["done"] is not None for o in outcomes), "as_expected": right,
            "busy": sum("reading other students" in s for s in said), "said": said,
            "last_line_s": max((o["done"] - start for o in outcomes if o["done"]), default=None),
            "wall_s": end - start}


async def drive(url: str, cases: list[Case], sessions: int, sampler: RssSampler, timeout_s: float) -> list[dict]:
    from playwright.async_api import async_playwright
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium(), headless=True, args=CHROMIUM_ARGS)
        contexts = [await browser.new_context(viewport={"width": 1400, "height": 1200}) for _ in range(sessions)]
        pages = [await c.new_page() for c in contexts]
        await run_demo(pages[0], url)                                 # computes it ...
        await asyncio.gather(*(run_demo(p, url) for p in pages[1:]))  # ... the others are served its results
        await asyncio.gather(*(open_try_it(p) for p in pages))
        rounds = []
        for case in cases:
            rounds.append(await one_round(pages, [case] * sessions, sampler, timeout_s))
            print(f"  {case.name}: +{rounds[-1]['peak_growth_mb']:.1f} MB", flush=True)
        mixed = [cases[i % len(cases)] for i in range(sessions)]
        rounds.append(await one_round(pages, mixed, sampler, timeout_s))
        rounds[-1]["mixed"] = True
        print(f"  mixed: +{rounds[-1]['peak_growth_mb']:.1f} MB", flush=True)
        await browser.close()
    return rounds


# --- before/after, in-process --------------------------------------------------------------------------

PEAK = """
import importlib.util, io, json, sys, threading
from PIL import Image
import dashboard.lab                     # the package its relative imports resolve in
spec = importlib.util.spec_from_file_location("dashboard.lab._decoder_under_test", sys.argv[1])
decoder = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(decoder)
raws = [open(p, "rb").read() for p in sys.argv[2:]]

def rss(field):
    line = next(li for li in open("/proc/self/status") if li.startswith(field))
    return int(line.split()[1]) * 1024

def decode(raw):
    try:
        decoder.read_image(raw)
    except ValueError:
        pass          # refused: the peak until then still counts

warm = io.BytesIO()
Image.new("RGBA", (8, 8)).save(warm, "PNG")
decode(warm.getvalue())
open("/proc/self/clear_refs", "w").write("5")
base = rss("VmRSS:")
threads = [threading.Thread(target=decode, args=(raw,)) for raw in raws]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps((rss("VmHWM:") - base) / 1e6))
"""


def decoder_before(rev: str | None, folder: Path) -> tuple[str, Path] | None:
    """The upload decoder as it was before DECODES_AT_ONCE came in (or at `rev`), written to a file."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    try:
        if rev is None:
            introduced = git("log", "--format=%H", "-S", "DECODES_AT_ONCE", "--", "dashboard/lab/inputs/uploads.py")
            if not introduced:
                return None
            rev = introduced.splitlines()[-1] + "^"
        rev = git("rev-parse", "--short", rev)
        path = folder / "uploads_before.py"
        path.write_text(git("show", f"{rev}:dashboard/lab/inputs/uploads.py"))
        return rev, path
    except (OSError, subprocess.CalledProcessError):
        return None


def decode_peak(decoder: Path, files: list[Path]) -> float:
    out = subprocess.run([sys.executable, "-c", PEAK, str(decoder), *map(str, files)], cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"measuring {decoder.name} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def before_after(cases: list[Case], sessions: int, before: tuple[str, Path] | None) -> dict:
    now = Path(uploads.__file__)
    mixed = [cases[i % len(cases)].path for i in range(sessions)]
    rows = {c.name: {"now_mb": decode_peak(now, [c.path])} for c in cases}
    at_once = {"now_mb": decode_peak(now, mixed)}
    if before:
        for c in cases:
            rows[c.name]["before_mb"] = decode_peak(before[1], [c.path])
        at_once["before_mb"] = decode_peak(before[1], mixed)
    return {"before_rev": before[0] if before else None, "one_decode": rows, f"{sessions}_threads_mixed": at_once}


# --- report ----------------------------------------------------------------------------------------


def verdict(growth: float) -> str:
    return "yes" if growth < GOAL_MB else "**no**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a page may take to show its line")
    parser.add_argument("--before", default=None, help="git revision of the decoder to compare with")
    args = parser.parse_args()
    if uploads.limits()[1] != CAP:
        sys.exit(f"this benchmark's files are sized for the default pixel cap ({CAP:,}); "
                 f"TRAIN_INFER_LAB_MAX_UPLOAD_PIXELS is set to {uploads.limits()[1]:,}")

    with tempfile.TemporaryDirectory(prefix="til-uploads-") as tmp:
        folder = Path(tmp)
        cases = make_files(folder)
        sizes = {c.name: c.path.stat().st_size for c in cases}
        print(f"{len(cases)} files made; in-process before/after ...", flush=True)
        compared = before_after(cases, args.sessions, decoder_before(args.before, folder))

        home = folder / "home"
        server = start_server(home)
        try:
            wait_healthy(server, SERVER_START_TIMEOUT_S)
            sampler = RssSampler(server.process.pid)
            sampler.start()
            print(f"server up; {args.sessions} sessions run the demo, then upload ...", flush=True)
            rounds = asyncio.run(drive(server.url, cases, args.sessions, sampler, args.timeout))
            sampler.stop()
            tracebacks = server.log.read_text(errors="replace").count("Traceback (most recent call last)")
        finally:
            stop_server(server)

    rows = []
    for r in rounds:
        what = "mixed: each page a different file" if r.get("mixed") else r["files"][0]
        rows.append([what, f"{r['done']} / {args.sessions}", f"{r['as_expected']} / {args.sessions}", r["busy"],
                     f"{r['last_line_s']:.1f} s", f"{r['baseline_mb']:,.0f} MB", f"+{r['peak_growth_mb']:.1f} MB",
                     f"+{r['sampled_peak_growth_mb']:.1f} MB", verdict(r["peak_growth_mb"])])
    print(f"\n{args.sessions} sessions upload at the same moment; server peak RSS growth over the RSS just before "
          f"(kernel high-water mark; psutil every {SAMPLE_S * 1e3:.0f} ms beside it). Goal: under {GOAL_MB:.0f} MB.\n")
    print(markdown_table(["upload (each of the N pages)", "pages with a line", "the expected line",
                          "told busy", "last line after", "server RSS before", "peak growth", "sampled peak", f"< {GOAL_MB:.0f} MB"],
                         rows))
    worst = max(r["peak_growth_mb"] for r in rounds)
    print(f"\nworst round: +{worst:.1f} MB: goal {'met' if worst < GOAL_MB else 'NOT met'}; "
          f"server tracebacks: {tracebacks}")

    rev = compared["before_rev"]
    print(f"\nOne decode in a fresh process, peak RSS growth: this decoder"
          + (f" and the one before it (git {rev})" if rev else "") + ".\n")
    head = ["file", "bytes", "now"] + (["before"] if rev else [])
    table = [[name, f"{sizes[name]:,}", f"+{v['now_mb']:.1f} MB"] + ([f"+{v['before_mb']:.1f} MB"] if rev else [])
             for name, v in compared["one_decode"].items()]
    both = compared[f"{args.sessions}_threads_mixed"]
    table.append([f"the mixed set, {args.sessions} threads at once", "", f"+{both['now_mb']:.1f} MB"]
                 + ([f"+{both['before_mb']:.1f} MB"] if rev else []))
    print(markdown_table(head, table))

    path = write_json("uploads", {
        "goal_mb": GOAL_MB, "met": worst < GOAL_MB, "worst_growth_mb": worst, "sessions": args.sessions,
        "decodes_at_once": uploads.DECODES_AT_ONCE, "limits": dict(zip(("max_bytes", "max_pixels"), uploads.limits())),
        "files": [{"name": c.name, "bytes": sizes[c.name], "page_says": c.says} for c in cases],
        "rounds": rounds, "in_process": compared, "server_tracebacks": tracebacks,
        "cpu": hardware.cpu_model(), "machine": platform.platform(), "cores": os.cpu_count()})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
