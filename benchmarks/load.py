"""Load benchmark: N users at once on one real `streamlit run`, each a browser context in one Chromium.

(A script of ~800 lines, not a module: the browser-side JavaScript, the users, the sampler and the
report of one experiment, read top to bottom.)

    python benchmarks/load.py [--n 1,10,30] [--timeout 600] [--settle 120]
    python benchmarks/load.py --memory [--memory-sessions 10] [--settle 180]
    python benchmarks/load.py --backends inproc,ray [--trainings 10] [--settle 10]

What it does (issue 9 §7). For each N, a FRESH server (so the shared result cache starts
empty): `streamlit run dashboard/entry.py` with a throwaway HOME, `TRAIN_INFER_LAB_DATA` inside
it and `TRAIN_INFER_LAB_DISCONNECT_GRACE_S=5` (a closed tab's job stops 5 s later). N users,
each a Playwright browser context (own cookies, own `?s=` session) in ONE headless Debian
Chromium:
- 80 % ("demo") open Home and click "Run the whole demo" with the default settings;
- 20 % ("other") train on the Train page with other settings (1 epoch, 2,000 training images, a
  seed of their own, so nothing is shared), then on Compress & benchmark measure a quick set
  (fp32, 90 % of weights zeroed, int8 static).
Every user first gets its page ready (not timed; a few at a time), then all wait at a barrier
and click together.

Per user: completed or not; errors (an exception element, an error notice, a stop, a
timeout); time from each click to its result notice on screen (an "other" user: training plus
compress, each click to its result); the queue wait (click until its own job's progress bar
appears, i.e. it got the compute slot; for a job too short for any poll to see its bar, until
the last poll that still saw it waiting; none for a demo that followed or was served); whether a
demo was computed, followed another session's identical run ("An identical demo ... is
running") or served from the shared results. Page state is polled inside the browser every
0.5 s (wait_for_function), so nothing in Python sleeps or round-trips while a user waits; a
timeout counts the user as not completed. The server log is searched for tracebacks. After every user has its results, all contexts close and the server is left
alone for --settle seconds (it frees idle sessions), then its RSS is read again.

A separate thread samples every 0.5 s: the server's RSS and CPU (its process tree) and the
browser side's CPU (this Python process and everything under it but the server: the
Playwright driver and the Chromium tree), as % of the whole machine (100 % = every core),
plus the whole machine's CPU, so the table shows when the browser itself eats the cores.

Why the async API: Playwright's sync objects belong to the thread that made them, so threads
would each need their own Playwright: one Node driver process per thread, and a browser per
driver (a browser launched by one cannot be used from another). Thirty drivers and thirty
Chromiums would take the two cores from the server being measured. One asyncio loop drives
one driver and one Chromium for any N, and it idles while the in-page polls wait.

--memory (issue 9 §4): 10 users (--memory-sessions), EACH trains with the Train page's
defaults (3 epochs, all images; only the seed differs, so no two models are alike) and then runs
the whole demo (shared: computed once); server RSS with all still open, the peak, and after
they close and --settle (default 180 s) passes; against a first fresh server on which one
user did the same. Targets: <= 1.3 GB after 10 (CUDA build of torch), back within 100 MB of
the one-user figure after they closed.

--backends (issue 24): --trainings users (10) each train on the Train page (1 epoch, 2,000 images, a
seed of their own: nothing shared), all clicking together, once per backend in the same run, each on a
fresh server: `inproc` (the compute slot in the server's process) and `ray` (a local Ray cluster started
for the round as separate processes, `ray start --head --num-cpus=2 --resources='{"measure":1}'` on a free
port in a throwaway temp dir with its own auth token, the server pointed at it by
TRAIN_INFER_LAB_RAY_ADDRESS; its processes are ended by pid afterwards, whatever happened). Per backend:
p50/p95 click to result, the job's time on the page (progress bar to result), peak RSS of the server and,
for Ray, of every cluster process (psutil), and the overhead per job, Ray minus in-process. Writes
benchmarks/results/load-backends.json (benchmarks/capacity.py reads it).

Targets on 2 cores: N = 10: all complete, no errors, demo p95 <= 60 s. N = 30: all complete.
Prints a markdown table and writes benchmarks/results/load.json (load-memory.json for
--memory) with every per-user record, the samples, the machine and the settings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._table import RESULTS, markdown_table, write_json
from benchmarks.app import CHROMIUM_ARGS, IDLE, chromium, rss_bytes, torch_build, tree_rss
from benchmarks.server import free_port, start_server, stop_server, wait_healthy

MB = 1e6
SAMPLE_S = 0.5
DEMO_P95_TARGET_S = 60.0
MEMORY_TARGET_MB = 1300.0
MEMORY_RETURN_MB = 100.0
SERVER_START_TIMEOUT_S = 120
TRACEBACK = "Traceback (most recent call last)"

# What each timed click waits for: a success notice (regex), or, should the notice have been
# missed, the sidebar line the same rerun draws, once the script is idle.
DEMO_DONE = r"Demo done: a CNN trained, \d+ compressed versions measured"
DEMO_SIDEBAR = r"\b5 model versions measured"
TRAIN_DONE = r"Training finished: [\d.]+ % test accuracy"
TRAIN_SIDEBAR = r"Model: cnn on digits"
COMPRESS_DONE = r"Measured \d+ versions of your model|\d+ versions of your model: figures"
COMPRESS_SIDEBAR = r"\b3 model versions measured"
ENDED = r"(Demo|Training|Compress & measure) (stopped|cancelled) "   # an info notice: it ended early
SHARED = r"measured on this server at \d\d:\d\d"                     # figures another run measured

# Runs in the page every poll: records when things first showed (browser clock, ms since the
# epoch) in window.__load and returns it once the result, an error or an early end is on screen.
PROBE = """(spec) => {
  const o = window.__load || (window.__load = {first: {}, maxAhead: null, maxWaiting: null});
  const now = Date.now();
  const mark = (k) => { if (o.first[k] === undefined) o.first[k] = now; };
  const texts = (id) => Array.from(document.querySelectorAll(`[data-testid="${id}"]`), (e) => e.innerText.trim());
  for (const t of texts("stProgress")) {
    if (!t) continue;
    mark("progress");
    o.progress = t;
    const stage = t.replace(/[\\d.,]+/g, "#");   // "Training cnn: step # of #, epoch # of #", "Making int#-static"
    o.stages ??= {};
    if (o.stages[stage] === undefined && Object.keys(o.stages).length < 80) o.stages[stage] = now;
  }
  for (const t of texts("stAlertContentInfo")) {
    const ahead = t.match(/Waiting for a free slot: (\\d+) jobs? ahead/);
    if (ahead) { mark("waiting"); o.maxAhead = Math.max(o.maxAhead ?? 0, Number(ahead[1])); }
    if (ahead || /Starting\\.\\.\\./.test(t)) o.lastWaiting = now;   // still in the queue
    if (/An identical .* started by another session is running/.test(t)) { mark("following"); o.follow ??= t; }
    if (new RegExp(spec.ended).test(t)) o.ended = t;
  }
  const side = texts("stSidebar").join("\\n");
  const queue = side.match(/Server: (running an? [^,\\n]+|starting a job), (\\d+) waiting/);
  if (queue) o.maxWaiting = Math.max(o.maxWaiting ?? 0, Number(queue[2]));
  const app = document.querySelector('[data-testid="stApp"]');
  const idle = !!app && app.getAttribute("data-test-script-state") === "notRunning";
  const notice = texts("stAlertContentSuccess").find((t) => new RegExp(spec.done).test(t));
  if (notice) o.notice = notice;
  const exceptions = texts("stException");
  if (exceptions.length) o.exception = exceptions.join(" | ").slice(0, 600);
  const errors = texts("stAlertContentError");
  if (errors.length) o.error = errors.join(" | ").slice(0, 600);
  const finished = !!notice || (idle && new RegExp(spec.fallback).test(side));
  if (!finished && !o.exception && !o.error && !(o.ended && idle)) return false;
  o.end = now;
  o.finished = finished;
  o.shared = new RegExp(spec.shared).test(document.body.innerText);
  return o;
}"""


@dataclass
class Config:
    timeout_s: float = 600.0          # per timed click
    setup_timeout_s: float = 180.0    # per setup step (page load, a widget change)
    settle_s: float = 120.0           # after all contexts closed, before the last RSS reading
    other_share: float = 0.2
    setup_concurrency: int = 4        # users getting their page ready at once (not timed)
    poll_ms: int = 500
    shots: str = ""                   # folder for screenshots of users that went wrong
    server_env: dict[str, str] = field(default_factory=dict)


@dataclass
class User:
    index: int
    kind: str            # "demo", "other", "memory" or "train" (a key of KINDS)
    seed: int | None = None


# --- the server ------------------------------------------------------------------------------

def server_tracebacks(log: Path, keep: int = 5) -> tuple[int, list[str]]:
    """How many tracebacks the server logged, and the first few (with the line before)."""
    lines = log.read_text(errors="replace").splitlines()
    starts = [i for i, line in enumerate(lines) if TRACEBACK in line]
    return len(starts), ["\n".join(lines[max(0, i - 1):i + 25]) for i in starts[:keep]]


# --- sampling RSS and CPU ----------------------------------------------------------------------

def process_tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def rss_of(procs: list[psutil.Process]) -> float:
    """Resident MB of these processes together (one that has gone, or cannot be read, counts nothing)."""
    return rss_bytes(procs, skip=psutil.Error) / MB


class Sampler(threading.Thread):
    """Every 0.5 s: server tree RSS (MB) and CPU, browser-side CPU, whole-machine CPU (% of the machine)."""

    def __init__(self, server_pid: int) -> None:
        super().__init__(daemon=True, name="load sampler")
        self.server_pid, self.cores = server_pid, psutil.cpu_count() or 1
        self.t0 = time.monotonic()
        self.rows: list[tuple[float, float, float, float, float]] = []  # t, rss MB, server %, browser %, machine %
        self._cpu: dict[tuple[int, float], float] = {}  # (pid, start time) -> CPU seconds at the last sample
        self._done = threading.Event()

    def _cpu_delta(self, procs: list[psutil.Process]) -> float:
        """CPU seconds these processes used since the last sample (a new process: all of its own)."""
        total = 0.0
        for p in procs:
            try:
                key = (p.pid, p.create_time())
                t = p.cpu_times()
            except psutil.Error:
                continue
            now = t.user + t.system
            total += now - self._cpu.get(key, 0.0)
            self._cpu[key] = now
        return total

    def _sample(self, dt: float) -> None:
        server = process_tree(self.server_pid)
        server_pids = {p.pid for p in server}
        browser = [p for p in process_tree(os.getpid()) if p.pid not in server_pids]
        scale = 100.0 / (dt * self.cores)
        self.rows.append((round(time.monotonic() - self.t0, 2), round(rss_of(server), 1),
                          round(self._cpu_delta(server) * scale, 1), round(self._cpu_delta(browser) * scale, 1),
                          round(psutil.cpu_percent(None), 1)))

    def run(self) -> None:
        psutil.cpu_percent(None)
        self._cpu_delta([*process_tree(self.server_pid), *process_tree(os.getpid())])
        last = time.monotonic()
        while not self._done.wait(SAMPLE_S):
            now = time.monotonic()
            self._sample(now - last)
            last = now

    def stop(self) -> None:
        self._done.set()
        self.join()

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 2)

    def summary(self, start: float, end: float) -> dict:
        """Peak RSS and mean/peak CPU of the samples taken between `start` and `end` (sampler time)."""
        rows = [r for r in self.rows if start <= r[0] <= end]
        if not rows:
            return {"samples": 0}
        col = lambda i: [r[i] for r in rows]
        mean = lambda xs: round(sum(xs) / len(xs), 1)
        browser = col(3)
        return {"samples": len(rows), "seconds": round(end - start, 1),
                "server_rss_peak_mb": max(col(1)), "server_rss_min_mb": min(col(1)),
                "server_cpu_mean_pct": mean(col(2)), "server_cpu_peak_pct": max(col(2)),
                "browser_cpu_mean_pct": mean(browser), "browser_cpu_peak_pct": max(browser),
                "browser_at_least_one_core_s": round(SAMPLE_S * sum(b >= 100 / self.cores for b in browser), 1),
                "machine_cpu_mean_pct": mean(col(4)),
                "other_cpu_mean_pct": mean([max(0.0, r[4] - r[2] - r[3]) for r in rows])}


# --- driving one page -------------------------------------------------------------------------

def short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


# A widget change is only safe to follow with a page change once the run it started has
# finished (a run that never reaches the page's save() loses the value: see the report).
# The script-state attribute can still read "notRunning" just after the change, so watch for
# the run itself to start (an observer on the whole document, in case the app element is
# redrawn), then end.
WATCH_RUN = """() => {
  window.__ran = false;
  window.__runWatch?.disconnect();
  window.__runWatch = new MutationObserver((changes) => {
    if (changes.some((c) => c.target.getAttribute("data-test-script-state") === "running")) window.__ran = true;
  });
  window.__runWatch.observe(document.documentElement,
                            {subtree: true, attributes: true, attributeFilter: ["data-test-script-state"]});
}"""
RUN_START_S = 20.0   # a change whose run was not seen starting by then: fall back to "idle now"


async def settle(page, ms: float) -> None:
    """Wait until the script is idle (after a page load or a page change)."""
    await page.wait_for_selector(IDLE, state="attached", timeout=ms)


async def rerun_after(page, action, ms: float) -> None:
    """Do `action` (a widget change) and wait until the script run it started has finished."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout
    await page.evaluate(WATCH_RUN)
    await action()
    try:
        await page.wait_for_function("() => window.__ran === true", timeout=RUN_START_S * 1000, polling=100)
    except PlaywrightTimeout:
        pass  # not seen starting (it may never have): idle now is the best there is
    await settle(page, ms)


async def open_home(page, url: str, ms: float) -> None:
    from playwright.async_api import expect
    await page.goto(url, timeout=ms)
    await expect(page.get_by_role("heading", name="Train & Infer Lab", level=1)).to_be_visible(timeout=ms)
    await settle(page, ms)


async def go(page, link: str, heading: str, ms: float) -> None:
    """Change page through the sidebar (a URL change would start a new session)."""
    from playwright.async_api import expect
    await page.get_by_test_id("stSidebarNav").get_by_role("link", name=link, exact=True).click(timeout=ms)
    await expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible(timeout=ms)
    await settle(page, ms)


async def set_slider(page, label: str, expected: str, keys: list[str], ms: float) -> None:
    """Move a slider with the keyboard, as a user can, and wait for the app to take the value."""
    from playwright.async_api import expect
    slider = page.locator(f'input[type="range"][aria-label="{label}"]')
    if await slider.get_attribute("aria-valuetext", timeout=ms) == expected:
        return

    async def move() -> None:
        await slider.focus(timeout=ms)
        for key in keys:
            await slider.press(key)
        await expect(slider).to_have_attribute("aria-valuetext", expected, timeout=ms)
        await slider.blur()

    await rerun_after(page, move, ms)


async def set_number(page, label: str, value: int, ms: float) -> None:
    from playwright.async_api import expect
    field = page.get_by_label(label, exact=True)
    if await field.input_value(timeout=ms) == str(value):
        return

    async def enter() -> None:
        await field.fill(str(value), timeout=ms)
        await field.press("Enter")
        await expect(field).to_have_value(str(value), timeout=ms)

    await rerun_after(page, enter, ms)


async def set_checkbox(page, label: str, checked: bool, ms: float) -> None:
    from playwright.async_api import expect
    box = page.get_by_test_id("stCheckbox").filter(has_text=label)
    if await box.get_by_role("checkbox").is_checked(timeout=ms) == checked:
        return

    async def click() -> None:
        await box.get_by_text(label, exact=True).click(timeout=ms)
        await expect(box.get_by_role("checkbox")).to_be_checked(checked=checked, timeout=ms)

    await rerun_after(page, click, ms)


async def timed_click(page, button: str, done: str, fallback: str, cfg: Config) -> dict:
    """Click `button` and wait, polling inside the page, until its result (or an error) is on screen."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout
    await page.evaluate("window.__load = undefined")
    spec = {"done": done, "fallback": fallback, "ended": ENDED, "shared": SHARED}
    clicked = time.time()
    await page.get_by_role("button", name=button, exact=True).click(timeout=cfg.setup_timeout_s * 1000)
    try:
        handle = await page.wait_for_function(PROBE, arg=spec, polling=cfg.poll_ms, timeout=cfg.timeout_s * 1000)
        seen, timed_out = await handle.json_value(), False
    except PlaywrightTimeout:
        seen, timed_out = await page.evaluate("window.__load || {}"), True
    return phase_record(seen, clicked, timed_out, cfg.timeout_s)


def phase_record(seen: dict, clicked: float, timed_out: bool, timeout_s: float) -> dict:
    """One click's outcome in seconds after the click (the page's clock is this machine's)."""
    first = seen.get("first") or {}

    def after(ms: float | None) -> float | None:
        return None if ms is None else round(ms / 1000 - clicked, 1)

    errors = []
    if timed_out:
        errors.append(f"timeout: no result after {timeout_s:.0f} s (last progress: {seen.get('progress')!r})")
    for key, what in (("exception", "exception on the page"), ("error", "error notice"), ("ended", "ended early")):
        if seen.get(key):
            errors.append(f"{what}: {seen[key]}")
    finished = bool(seen.get("finished")) and not timed_out
    accuracy = re.search(r"([\d.]+) % test accuracy", seen.get("notice") or "")
    # Queue wait: until its own progress bar showed; a job so short that no poll saw its bar
    # counts until the last poll that still saw it waiting.
    wait_end = first.get("progress") or seen.get("lastWaiting")
    return {"completed": finished and not errors, "results_s": after(seen.get("end")) if finished else None,
            "queue_wait_s": after(wait_end),
            "queue_wait_until": "progress bar" if first.get("progress") else "last waiting line" if wait_end else None,
            "waiting_line_at_s": after(first.get("waiting")),
            "following_at_s": after(first.get("following")), "max_jobs_ahead": seen.get("maxAhead"),
            "max_server_waiting": seen.get("maxWaiting"), "notice": seen.get("notice"),
            "shared_label": bool(seen.get("shared")), "follow_text": seen.get("follow"),
            "last_progress": seen.get("progress"), "errors": errors,
            "test_accuracy_pct": float(accuracy.group(1)) if accuracy else None,
            "stages": {k: after(v) for k, v in sorted((seen.get("stages") or {}).items(), key=lambda kv: kv[1])}}


# --- what each kind of user does ----------------------------------------------------------------

async def setup_demo(page, url: str, user: User, cfg: Config) -> None:
    await open_home(page, url, cfg.setup_timeout_s * 1000)


async def run_demo(page, user: User, cfg: Config, rec: dict) -> None:
    rec["phases"]["demo"] = await timed_click(page, "Run the whole demo", DEMO_DONE, DEMO_SIDEBAR, cfg)


async def setup_other(page, url: str, user: User, cfg: Config) -> None:
    """Train page with other settings: 1 epoch, 2,000 training images, the user's own seed."""
    ms = cfg.setup_timeout_s * 1000
    await open_home(page, url, ms)
    await go(page, "Train", "Train a model", ms)
    await set_slider(page, "Epochs (passes over the training images)", "1", ["Home"], ms)
    await page.get_by_text("More settings", exact=True).click(timeout=ms)
    await set_slider(page, "Training images", "2,000", ["Home", "ArrowRight", "ArrowRight", "ArrowRight"], ms)
    await set_number(page, "Seed (same seed, same result)", user.seed, ms)


async def run_other(page, user: User, cfg: Config, rec: dict) -> None:
    """Train, then compress a quick set: fp32, 90 % unstructured, int8 static."""
    from playwright.async_api import expect
    ms = cfg.setup_timeout_s * 1000
    rec["phases"]["training"] = phase = await timed_click(page, "Train", TRAIN_DONE, TRAIN_SIDEBAR, cfg)
    if not phase["completed"]:
        return
    await go(page, "Compress & benchmark", "Compress & benchmark", ms)
    await set_checkbox(page, "Remove whole channels (structured)", False, ms)
    await set_checkbox(page, "int8 dynamic (Linear layers only)", False, ms)
    await set_checkbox(page, "Zero the smallest weights (unstructured)", True, ms)
    await set_checkbox(page, "int8 static (whole model, calibrated)", True, ms)
    await expect(page.get_by_text("Will make and measure: fp32, pruned-unstructured-90, int8-static.")).to_be_visible(
        timeout=ms)
    rec["phases"]["compress"] = await timed_click(page, "Compress & measure", COMPRESS_DONE, COMPRESS_SIDEBAR, cfg)


async def setup_memory(page, url: str, user: User, cfg: Config) -> None:
    """Train page with its default settings, only the seed the user's own."""
    ms = cfg.setup_timeout_s * 1000
    await open_home(page, url, ms)
    await go(page, "Train", "Train a model", ms)
    await set_number(page, "Seed (same seed, same result)", user.seed, ms)


async def run_memory(page, user: User, cfg: Config, rec: dict) -> None:
    """Train (own seed), then the whole demo from Home."""
    rec["phases"]["training"] = phase = await timed_click(page, "Train", TRAIN_DONE, TRAIN_SIDEBAR, cfg)
    if not phase["completed"]:
        return
    await go(page, "Home", "Train & Infer Lab", cfg.setup_timeout_s * 1000)
    rec["phases"]["demo"] = await timed_click(page, "Run the whole demo", DEMO_DONE, DEMO_SIDEBAR, cfg)


async def run_train(page, user: User, cfg: Config, rec: dict) -> None:
    """Train only (1 epoch, 2,000 images, own seed: set up as an 'other' user), for --backends."""
    rec["phases"]["training"] = await timed_click(page, "Train", TRAIN_DONE, TRAIN_SIDEBAR, cfg)


KINDS = {"demo": (setup_demo, run_demo, ["demo"]), "other": (setup_other, run_other, ["training", "compress"]),
         "memory": (setup_memory, run_memory, ["training", "demo"]), "train": (setup_other, run_train, ["training"])}


def user_record(user: User, rec: dict) -> dict:
    """Totals over the user's timed clicks: completed, time to results, queue wait, demo source."""
    phases = rec["phases"]
    expected = KINDS[user.kind][2]
    rec["errors"] += [f"{name}: {e}" for name, p in phases.items() for e in p["errors"]]
    rec["completed"] = not rec["errors"] and all(phases.get(n, {}).get("completed") for n in expected)
    times = [phases[n]["results_s"] for n in expected if n in phases]
    rec["results_s"] = round(sum(times), 1) if rec["completed"] else None
    waits = [p["queue_wait_s"] for p in phases.values() if p["queue_wait_s"] is not None]
    rec["queue_wait_s"] = round(sum(waits), 1) if waits else None
    demo = phases.get("demo")
    if demo is not None and demo["completed"]:
        # A follower's notice names the other session's run too: what it saw while waiting tells them apart.
        rec["source"] = ("followed" if demo["following_at_s"] is not None else "shared") \
            if demo["shared_label"] else "computed"
    return rec


async def one_user(browser, url: str, user: User, cfg: Config, barrier: asyncio.Barrier,
                   setup_slots: asyncio.Semaphore, marks: dict) -> tuple[dict, object]:
    """Set the page up, wait for everyone, then do the timed part; the context stays open."""
    setup, run, _ = KINDS[user.kind]
    rec = {**asdict(user), "completed": False, "errors": [], "phases": {}}
    context = page = None
    ready = False
    try:
        async with setup_slots:
            context = await browser.new_context(viewport={"width": 1400, "height": 1200}, color_scheme="light")
            context.set_default_timeout(cfg.setup_timeout_s * 1000)
            page = await context.new_page()
            await setup(page, url, user, cfg)
        ready = True
    except Exception as exc:  # a user that could not get ready still releases the barrier
        rec["errors"].append(f"setup: {short(exc)}")
    await barrier.wait()
    marks.setdefault("start", time.monotonic())
    started = time.monotonic()
    if ready:
        try:
            await run(page, user, cfg, rec)
        except Exception as exc:
            rec["errors"].append(f"{'/'.join(rec['phases']) or 'click'}: {short(exc)}")
    rec["wall_s"] = round(time.monotonic() - started, 1)
    rec = user_record(user, rec)
    if rec["errors"] and cfg.shots and page is not None:
        path = Path(cfg.shots) / f"{user.kind}-{user.index:02d}-{int(time.time())}.png"
        try:
            await page.screenshot(path=str(path), full_page=True)
            rec["screenshot"] = str(path)
        except Exception as exc:  # the page may be gone; the record says what went wrong anyway
            rec["screenshot"] = f"failed: {short(exc)}"
    return rec, context


async def drive(url: str, users: list[User], cfg: Config, sampler: Sampler, server_pid: int) -> dict:
    """All users at once in one Chromium; then every context closes. Returns records and marks (sampler time)."""
    from playwright.async_api import async_playwright

    marks: dict[str, float] = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium(), headless=True, args=CHROMIUM_ARGS)
        barrier, slots = asyncio.Barrier(len(users)), asyncio.Semaphore(cfg.setup_concurrency)
        done = await asyncio.gather(*(one_user(browser, url, u, cfg, barrier, slots, marks) for u in users))
        all_done = sampler.now()
        rss_all_done = tree_rss(server_pid) / MB
        for _, context in done:
            if context is not None:
                await context.close()
        chromium_version = browser.version
        await browser.close()
    start = marks.get("start", time.monotonic())
    return {"records": [r for r, _ in done], "chromium": chromium_version,
            "marks": {"start": round(start - sampler.t0, 2), "all_done": all_done, "closed": sampler.now()},
            "rss_all_done_mb": round(rss_all_done)}


# --- one round: a fresh server, its users, the settle ------------------------------------------

def run_round(users: list[User], cfg: Config, beside: "RaySampler | None" = None) -> dict:
    """A fresh server (empty shared cache), `users` at once, all closed, `cfg.settle_s` of quiet.
    `beside`: a sampler of the processes the server hands its jobs to (a Ray cluster), run alongside."""
    with tempfile.TemporaryDirectory(prefix="til-load-home-") as home:
        # A closed tab's job stops 5 s later (30 s by default): the memory check need not wait long.
        server = start_server(Path(home), {"TRAIN_INFER_LAB_DISCONNECT_GRACE_S": "5", **cfg.server_env})
        sampler = None
        try:
            wait_healthy(server, SERVER_START_TIMEOUT_S)
            rss_idle = tree_rss(server.process.pid) / MB
            sampler = Sampler(server.process.pid)
            sampler.start()
            if beside is not None:
                beside.start_with(server.process.pid, sampler)
            load_before = os.getloadavg()[0]
            result = asyncio.run(drive(server.url, users, cfg, sampler, server.process.pid))
            rss_closed = tree_rss(server.process.pid) / MB
            time.sleep(cfg.settle_s)  # not timed: the server alone, freeing what the closed sessions held
            rss_settled = tree_rss(server.process.pid) / MB
            settled = sampler.now()
        finally:
            if sampler is not None:
                sampler.stop()
            if beside is not None:
                beside.stop()
            stop_server(server)
        tracebacks, excerpts = server_tracebacks(server.log)
    m = result["marks"]
    return {**result, "fresh_server": True, "users": len(users), "rss_server_idle_mb": round(rss_idle),
            "rss_at_close_mb": round(rss_closed), "rss_after_settle_mb": round(rss_settled),
            "settle_s": cfg.settle_s, "load_average_before": round(load_before, 2),
            "load_average_after": round(os.getloadavg()[0], 2),
            "server_tracebacks": tracebacks, "traceback_excerpts": excerpts,
            "samples_summary": {"setup": sampler.summary(0, m["start"]),
                                "run": sampler.summary(m["start"], m["all_done"]),
                                "settle": sampler.summary(m["closed"], settled),
                                "whole": sampler.summary(0, settled)},
            "samples": {"columns": ["t_s", "server_rss_mb", "server_cpu_pct", "browser_cpu_pct", "machine_cpu_pct"],
                        "rows": sampler.rows}}


# --- summaries and the table -------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..1); None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return round(xs[lo] + (xs[hi] - xs[lo]) * (k - lo), 1)


def spread(values: list[float], qs=(0.5, 0.95)) -> dict:
    return {f"p{round(100 * q)}": percentile(values, q) for q in qs} | {"n": len(values)}


def summarize(rnd: dict) -> dict:
    recs = rnd["records"]
    demo = [r for r in recs if r["kind"] in ("demo", "memory")]
    other = [r for r in recs if r["kind"] == "other"]
    waits = [r["queue_wait_s"] for r in recs if r["queue_wait_s"] is not None]
    bad = sum(1 for r in recs if r["errors"])
    return {"users": len(recs), "demo_users": len([r for r in recs if r["kind"] == "demo"]), "other_users": len(other),
            "completed": sum(r["completed"] for r in recs), "users_with_errors": bad,
            "errors": bad + rnd["server_tracebacks"],
            "demo_results_s": spread([r["results_s"] for r in demo if r["results_s"] is not None]),
            "other_results_s": spread([r["results_s"] for r in other if r["results_s"] is not None]),
            "queue_wait_s": {**spread(waits), "max": max(waits) if waits else None},
            "demo_sources": dict(Counter(r.get("source", "not completed") for r in demo)),
            "server_rss_peak_mb": round(max([rnd["samples_summary"]["whole"].get("server_rss_peak_mb", 0),
                                             rnd["rss_all_done_mb"]])),
            "run_cpu": rnd["samples_summary"]["run"]}


def load_verdict(n: int, s: dict) -> tuple[str, str]:
    """(target, PASS/FAIL) for N = 10 and 30; no target for other N."""
    if n == 10:
        p95 = s["demo_results_s"]["p95"]
        ok = s["completed"] == n and s["errors"] == 0 and p95 is not None and p95 <= DEMO_P95_TARGET_S
        return f"all complete, no errors, demo p95 <= {DEMO_P95_TARGET_S:.0f} s", "PASS" if ok else "FAIL"
    if n == 30:
        return "all complete", "PASS" if s["completed"] == n else "FAIL"
    return "-", "-"


def fmt(*values) -> str:
    return " / ".join("-" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def load_row(n: int, rnd: dict, s: dict) -> list:
    cpu = s["run_cpu"]
    target, verdict = load_verdict(n, s)
    errors = str(s["errors"]) if not s["errors"] else \
        f"{s['errors']} ({s['users_with_errors']} users, {rnd['server_tracebacks']} tracebacks)"
    src = s["demo_sources"]
    return [n, fmt(s["demo_users"], s["other_users"]), f"{s['completed']}/{n}", errors,
            fmt(s["demo_results_s"]["p50"], s["demo_results_s"]["p95"]),
            fmt(s["other_results_s"]["p50"], s["other_results_s"]["p95"]),
            fmt(s["queue_wait_s"]["p50"], s["queue_wait_s"]["p95"], s["queue_wait_s"]["max"]),
            fmt(src.get("computed", 0), src.get("followed", 0), src.get("shared", 0)),
            s["server_rss_peak_mb"], rnd["rss_after_settle_mb"],
            fmt(cpu.get("browser_cpu_mean_pct"), cpu.get("browser_cpu_peak_pct")), fmt(cpu.get("server_cpu_mean_pct")),
            target, verdict]


LOAD_HEADERS = ["N (fresh server each)", "users demo / other", "completed", "errors",
                "demo: click to results p50 / p95 (s)", "other: train + compress p50 / p95 (s)",
                "queue wait p50 / p95 / max (s)", "demos computed / followed / shared", "server RSS peak (MB)",
                "server RSS {settle} s after close (MB)", "browser-side CPU mean / peak (% of machine)",
                "server CPU mean (% of machine)", "target", "verdict"]


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    return {"cpu": cpu, "logical_cores": os.cpu_count(), "usable_cores": usable, "arch": platform.machine(),
            "memory_gb": round(psutil.virtual_memory().total / 1e9, 1), "python": platform.python_version(),
            "streamlit": version("streamlit"), "playwright": version("playwright")}


def torch_note(build: dict) -> str:
    if build["cuda"]:
        return (f"torch {build['torch']}: the CUDA build ({build['build']}) on this machine, importing it alone costs "
                f"{build['import_rss_mb']} MB RSS; the CPU-only wheel a hosted copy installs costs ~300 MB less "
                "(FIELD-NOTES), so every server RSS here reads ~300 MB higher than a hosted copy's.")
    return f"torch {build['torch']}: CPU-only build (importing it costs {build['import_rss_mb']} MB RSS)."


def plan_users(n: int, other_share: float) -> list[User]:
    """n users, round(n * other_share) of them 'other', spread evenly; each 'other' with its own seed."""
    others = round(n * other_share)
    kinds = ["other" if (i * others) // n != ((i + 1) * others) // n else "demo" for i in range(n)]
    return [User(i, k, 1000 + i if k == "other" else None) for i, k in enumerate(kinds)]


def print_notes(rounds: list[dict], build: dict, label: str = "N={users}") -> None:
    print(f"\n{torch_note(build)}")
    for r in rounds:
        run = r["samples_summary"]["run"]
        print(f"{label.format(users=r['users'])}: {run.get('seconds', 0):.0f} s from the common click to the last result; machine CPU "
              f"mean {run.get('machine_cpu_mean_pct')} % (other processes {run.get('other_cpu_mean_pct')} %), browser "
              f"side >= one core for {run.get('browser_at_least_one_core_s')} s; setup (not timed) browser CPU mean "
              f"{r['samples_summary']['setup'].get('browser_cpu_mean_pct')} %; server RSS idle {r['rss_server_idle_mb']}"
              f" MB, with all users done {r['rss_all_done_mb']} MB, at close {r['rss_at_close_mb']} MB; load average "
              f"{r['load_average_before']} before, {r['load_average_after']} after; "
              f"most jobs ahead seen {max([p.get('max_jobs_ahead') or 0 for u in r['records'] for p in u['phases'].values()], default=0)}.")
        for u in r["records"]:
            for e in u["errors"]:
                print(f"  user {u['index']} ({u['kind']}): {e}" + (f" [screenshot {u['screenshot']}]" if u.get("screenshot") else ""))
        for t in r["traceback_excerpts"]:
            print("  server traceback:\n    " + t.replace("\n", "\n    "))


# --- --backends: the same trainings on the in-process slot and on a local Ray cluster (issue 24) ---

RAY_START_TIMEOUT_S = 120
BACKENDS = ("inproc", "ray")


def ray_processes(temp_dir: str) -> list[psutil.Process]:
    """The local cluster's processes: those whose command line names its temp dir (GCS, raylet, monitors),
    with everything under them (the raylet's workers and agents, which rename themselves ray::...)."""
    found: dict[int, psutil.Process] = {}
    for p in psutil.process_iter(["cmdline"]):
        try:
            if temp_dir in " ".join(p.info["cmdline"] or []):
                for q in [p, *p.children(recursive=True)]:
                    found[q.pid] = q
        except psutil.Error:
            continue
    return list(found.values())


class RayCluster:
    """A local Ray cluster as separate processes (`ray start --head`), in a throwaway temp dir; stop()
    ends exactly the processes it started (by pid: never `ray stop`, which ends every cluster of the user)."""

    def __init__(self, num_cpus: int = 2) -> None:
        self.temp_dir = tempfile.mkdtemp(prefix="til-ray-", dir="/tmp")   # short: Ray's socket paths must fit
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.command = [str(Path(sys.executable).with_name("ray")), "start", "--head", f"--num-cpus={num_cpus}",
                        '--resources={"measure":1}', "--include-dashboard=false", f"--port={self.port}",
                        "--node-ip-address=127.0.0.1", f"--temp-dir={self.temp_dir}", "--disable-usage-stats"]
        # Ray 2.60 authenticates with a token, by default ~/.ray/auth_token, which the server (a throwaway HOME)
        # would not find: this cluster and its server share one of their own, in the temp dir.
        token = Path(self.temp_dir) / "auth_token"
        token.write_text(secrets.token_hex(32))
        self.env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
        self.started_s: float | None = None
        self.idle_rss_mb: float | None = None

    def start(self) -> None:
        t0 = time.monotonic()
        out = subprocess.run(self.command, capture_output=True, text=True, timeout=RAY_START_TIMEOUT_S,
                             env={**os.environ, **self.env})
        if out.returncode != 0:
            raise RuntimeError(f"ray start failed ({out.returncode}):\n{(out.stdout + out.stderr)[-3000:]}")
        self.started_s = round(time.monotonic() - t0, 1)
        time.sleep(2)   # its agents come up after `ray start` returns
        self.idle_rss_mb = round(rss_of(ray_processes(self.temp_dir)))

    def stop(self) -> None:
        """SIGTERM, then SIGKILL what lingers (the GCS ignores SIGTERM for a while); an interrupt while
        waiting still kills, then is raised again."""
        interrupted = None
        for sig, wait_s in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
            procs = ray_processes(self.temp_dir)
            if not procs:
                break
            for p in procs:
                try:
                    p.send_signal(sig)
                except psutil.Error:
                    pass
            try:
                psutil.wait_procs(procs, timeout=wait_s)
            except KeyboardInterrupt as exc:
                interrupted = exc
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        if interrupted is not None:
            raise interrupted


class RaySampler(threading.Thread):
    """Every 0.5 s, on the load Sampler's clock: the Ray cluster's RSS (all its processes) and the server's
    tree + the cluster's together (MB)."""

    def __init__(self, cluster: RayCluster) -> None:
        super().__init__(daemon=True, name="ray sampler")
        self.cluster, self.server_pid, self.clock = cluster, 0, None
        self.rows: list[tuple[float, float, float]] = []   # t, ray RSS MB, server + ray RSS MB
        self._done = threading.Event()

    def start_with(self, server_pid: int, clock: Sampler) -> None:
        self.server_pid, self.clock = server_pid, clock
        self.start()

    def run(self) -> None:
        while not self._done.wait(SAMPLE_S):
            ray = rss_of(ray_processes(self.cluster.temp_dir))
            server = rss_of(process_tree(self.server_pid))
            self.rows.append((self.clock.now(), round(ray, 1), round(ray + server, 1)))

    def stop(self) -> None:
        self._done.set()
        if self.is_alive():
            self.join()

    def peaks(self, start: float, end: float) -> dict:
        return peaks(self.rows, start, end)


def peaks(rows: list[tuple[float, float, float]], start: float, end: float) -> dict:
    """RaySampler rows' peaks over the samples from start to end; None (shown "-") where that window has none."""
    rows = [r for r in rows if start <= r[0] <= end]
    return {"ray_rss_peak_mb": round(max(r[1] for r in rows)) if rows else None,
            "server_plus_ray_rss_peak_mb": round(max(r[2] for r in rows)) if rows else None,
            "samples": len(rows)}


def training_summary(rnd: dict, n: int) -> dict:
    """Per training: click to result; the job's own time on the page (its progress bar first seen to its
    result: the job holding the slot, compute plus whatever the backend adds); the queue wait."""
    phases = [r["phases"].get("training", {}) for r in rnd["records"]]
    done = [p for p in phases if p.get("completed")]
    results = [p["results_s"] for p in done]
    service = [round(p["results_s"] - p["queue_wait_s"], 1) for p in done
               if p.get("queue_wait_until") == "progress bar"]
    waits = [p["queue_wait_s"] for p in done if p.get("queue_wait_s") is not None]
    span = rnd["samples_summary"]["run"].get("seconds")
    return {"trainings": n, "completed": len(done), "errors": sum(1 for r in rnd["records"] if r["errors"]),
            "server_tracebacks": rnd["server_tracebacks"], "results_s": spread(results),
            "in_slot_s": spread(service), "queue_wait_s": spread(waits), "all_done_s": span,
            "per_job_s": round(span / len(done), 2) if span and done else None,
            "server_rss_peak_mb": round(max(rnd["samples_summary"]["run"].get("server_rss_peak_mb", 0),
                                            rnd["rss_all_done_mb"])),
            "server_rss_idle_mb": rnd["rss_server_idle_mb"]}


def overhead_vs_inproc(s: dict, base: dict) -> dict:
    """A backend's training_summary minus in-process's: the median job on the page (bar to result) and per job
    (last result / completed); None where either side has no figure."""
    d1 = None if None in (s["in_slot_s"]["p50"], base["in_slot_s"]["p50"]) else \
        round(s["in_slot_s"]["p50"] - base["in_slot_s"]["p50"], 1)
    d2 = None if None in (s["per_job_s"], base["per_job_s"]) else round(s["per_job_s"] - base["per_job_s"], 2)
    return {"in_slot_p50_s": d1, "per_job_s": d2}


def backend_round(backend: str, n: int, cfg: Config) -> dict:
    """n trainings at once on a fresh server, jobs in-process or on a fresh local Ray cluster (stopped after,
    whatever happens)."""
    users = [User(i, "train", 1000 + i) for i in range(n)]
    if backend == "inproc":
        # Empty, not just absent: the server's environment starts from this process's, and an exported
        # address would put the in-process round on Ray (backend.address() reads empty as unset).
        env = {**cfg.server_env, "TRAIN_INFER_LAB_RAY_ADDRESS": ""}
        rnd = run_round(users, Config(**{**asdict(cfg), "server_env": env}))
        return {"backend": backend, **rnd, "summary": training_summary(rnd, n)}
    cluster = RayCluster()
    try:
        cluster.start()
        sampler = RaySampler(cluster)
        env = {**cfg.server_env, **cluster.env, "TRAIN_INFER_LAB_RAY_ADDRESS": cluster.address}
        rnd = run_round(users, Config(**{**asdict(cfg), "server_env": env}), beside=sampler)
        m = rnd["marks"]
        summary = {**training_summary(rnd, n), **sampler.peaks(m["start"], m["all_done"]),
                   "ray_rss_idle_mb": cluster.idle_rss_mb, "ray_start_s": cluster.started_s}
        return {"backend": backend, **rnd, "summary": summary, "ray_command": cluster.command,
                "ray_samples": {"columns": ["t_s", "ray_rss_mb", "server_plus_ray_rss_mb"], "rows": sampler.rows}}
    finally:
        cluster.stop()


BACKEND_HEADERS = ["backend", "trainings completed / errors", "click to result p50 / p95 (s)",
                   "job on the page (bar to result) p50 / p95 (s)", "queue wait p50 / p95 (s)",
                   "all done (s) / per job (s)", "server RSS idle / peak (MB)", "Ray processes RSS idle / peak (MB)",
                   "server + Ray RSS peak (MB)", "overhead per job vs inproc: bar-to-result p50 / per job (s)"]


def backends_mode(backends: list[str], n: int, cfg: Config, folder: Path) -> None:
    build, rounds = torch_build(), []
    for backend in backends:
        print(f"{backend}: fresh server" + (" and local Ray cluster" if backend == "ray" else "") +
              f", {n} trainings ...", flush=True)
        rounds.append(backend_round(backend, n, cfg))
    base = next((r["summary"] for r in rounds if r["backend"] == "inproc"), None)
    rows = []
    for r in rounds:
        s = r["summary"]
        over = "-"
        if base is not None and r["backend"] != "inproc":
            s["overhead_vs_inproc"] = overhead_vs_inproc(s, base)
            over = fmt(*s["overhead_vs_inproc"].values())
        errors = s["errors"] + s["server_tracebacks"]
        rows.append([r["backend"], f"{s['completed']}/{n} / {errors}",
                     fmt(s["results_s"]["p50"], s["results_s"]["p95"]), fmt(s["in_slot_s"]["p50"], s["in_slot_s"]["p95"]),
                     fmt(s["queue_wait_s"]["p50"], s["queue_wait_s"]["p95"]),
                     fmt(s["all_done_s"], s["per_job_s"]), fmt(s["server_rss_idle_mb"], s["server_rss_peak_mb"]),
                     fmt(s.get("ray_rss_idle_mb"), s.get("ray_rss_peak_mb")), fmt(s.get("server_plus_ray_rss_peak_mb")),
                     over])
    print(markdown_table(BACKEND_HEADERS, rows))
    print("\nEach training: Train page, cnn on the bundled digits, 1 epoch, 2,000 training images, its own seed "
          "(nothing shared); all N clicked together. 'Job on the page': from the job's progress bar first seen "
          "(it holds a compute place) to its result notice, i.e. its compute plus what the backend adds (for Ray: "
          "dispatch, a worker's import, weights and curves crossing, the 50 ms relay). 'Per job': from the common "
          "click to the last result, divided by the trainings completed (one job at a time on both: the Ray "
          "cluster has one measuring node). Overhead per job: Ray's figure minus in-process's, for each of the "
          "two. Ray RSS: every process of the cluster (GCS, raylet, agents, monitors, workers), read with "
          "psutil; the server's RSS is its process tree (the Ray driver inside it included). In the notes below, "
          "'other processes' of the ray round include the Ray cluster's own (they are not the server's tree).")
    print_notes(rounds, build, label="{users} trainings")
    path = write_json("load-backends", {
        "what": f"load --backends: {n} trainings at once, in-process slot vs a local Ray cluster (ray start --head, "
                "one measuring node), same machine, same run; one fresh server each",
        "when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "torch": build,
        "ray": version("ray") if "ray" in backends else None,
        "settings": {**asdict(cfg), "n": n, "backends": backends, "sample_s": SAMPLE_S},
        "definitions": {"results_s": "click to result notice", "in_slot_s": "progress bar first seen to result",
                        "per_job_s": "common click to last result / trainings completed",
                        "overhead_vs_inproc": "ray minus inproc of in_slot p50 and of per_job"},
        "rounds": rounds}, folder)
    print(f"wrote {path}")


# --- the two modes ------------------------------------------------------------------------------

def load_mode(ns: list[int], cfg: Config, folder: Path) -> None:
    build, rounds, rows = torch_build(), [], []
    for n in ns:
        print(f"N={n}: fresh server, {n} users ...", flush=True)
        rnd = run_round(plan_users(n, cfg.other_share), cfg)
        rnd["summary"] = summarize(rnd)
        rounds.append(rnd)
        rows.append(load_row(n, rnd, rnd["summary"]))
    headers = [h.replace("{settle}", f"{cfg.settle_s:g}") for h in LOAD_HEADERS]
    print(markdown_table(headers, rows))
    print_notes(rounds, build)
    path = write_json("load", {
        "what": "load: N users at once, 80 % default demo, 20 % train + compress; one fresh server per N",
        "when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "torch": build,
        "settings": {**asdict(cfg), "n": ns, "sample_s": SAMPLE_S},
        "targets": {"n10": f"all complete, no errors, demo p95 <= {DEMO_P95_TARGET_S:.0f} s", "n30": "all complete"},
        "rounds": rounds}, folder)
    print(f"wrote {path}")


def memory_mode(sessions: int, cfg: Config, folder: Path) -> None:
    build = torch_build()
    print("memory: one user trains + runs the demo on a fresh server ...", flush=True)
    one = run_round([User(0, "memory", 1)], Config(**{**asdict(cfg), "settle_s": 0}))
    one["summary"] = summarize(one)
    print(f"memory: {sessions} users each train + run the demo on a fresh server ...", flush=True)
    many = run_round([User(i, "memory", i + 1) for i in range(sessions)], cfg)
    many["summary"] = summarize(many)
    base, after, settled = one["rss_all_done_mb"], many["rss_all_done_mb"], many["rss_after_settle_mb"]
    ok_after = after <= MEMORY_TARGET_MB
    ok_back = settled <= base + MEMORY_RETURN_MB
    rows = [
        ["server RSS, 1 user trained + ran the demo (tab open)", f"{base} MB", "-", "-"],
        [f"server RSS, {sessions} users each trained + ran the demo (tabs open)", f"{after} MB",
         f"<= {MEMORY_TARGET_MB / 1000:.1f} GB" + (" (CUDA torch)" if build["cuda"] else ""),
         ("PASS" if ok_after else "FAIL") if sessions == 10 else f"({sessions} users, target is for 10)"],
        ["server RSS peak while they ran", f"{many['summary']['server_rss_peak_mb']} MB", "-", "-"],
        [f"server RSS {cfg.settle_s:g} s after all {sessions} closed", f"{settled} MB",
         f"<= {base} + {MEMORY_RETURN_MB:.0f} MB", "PASS" if ok_back else "FAIL"],
        ["users completed / with errors / server tracebacks",
         (f"{many['summary']['completed']}/{sessions} / {many['summary']['users_with_errors']} / "
          f"{many['server_tracebacks']}"), "all / 0 / 0",
         "PASS" if many["summary"]["completed"] == sessions and many["summary"]["errors"] == 0 else "FAIL"],
    ]
    print(markdown_table(["measure (memory, each on a fresh server)", "value", "target", "verdict"], rows))
    print_notes([one, many], build, label="memory, {users} user(s)")
    path = write_json("load-memory", {
        "what": "memory: each user trains (own seed, Train page defaults) then runs the whole demo",
        "when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "torch": build,
        "settings": {**asdict(cfg), "sessions": sessions, "sample_s": SAMPLE_S},
        "targets": {"after_mb": MEMORY_TARGET_MB, "back_within_mb": MEMORY_RETURN_MB},
        "verdicts": {"after": "PASS" if ok_after else "FAIL", "back": "PASS" if ok_back else "FAIL"},
        "one_user": one, "many_users": many}, folder)
    print(f"wrote {path}")


def parse_env(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        k, sep, v = pair.partition("=")
        if not sep or not k:
            sys.exit(f"--server-env wants KEY=VALUE, got {pair!r}")
        out[k] = v
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="1,10,30", help="users per round, comma-separated; each round a fresh server")
    parser.add_argument("--memory", action="store_true", help="the memory target instead (issue 9 §4)")
    parser.add_argument("--backends", default="",
                        help="e.g. inproc,ray: --trainings trainings at once on each backend, same run (issue 24)")
    parser.add_argument("--trainings", type=int, default=10, help="trainings at once in --backends")
    parser.add_argument("--memory-sessions", type=int, default=10, help="users in --memory (target is for 10)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for any one timed click's result")
    parser.add_argument("--setup-timeout", type=float, default=180, help="seconds for any one setup step")
    parser.add_argument("--settle", type=float, default=None,
                        help="seconds of quiet after all contexts closed before the last RSS reading "
                             "(default 120; 180 with --memory)")
    parser.add_argument("--other-share", type=float, default=0.2, help="share of users that train + compress")
    parser.add_argument("--setup-concurrency", type=int, default=4, help="users getting their page ready at once")
    parser.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the server (repeatable), e.g. "
                             "STREAMLIT_RUNNER_POST_SCRIPT_GC=false")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the JSON")
    parser.add_argument("--shots", type=Path, default=Path(tempfile.gettempdir()) / "til-load-shots",
                        help="folder for screenshots of users that went wrong")
    args = parser.parse_args()

    args.shots.mkdir(parents=True, exist_ok=True)
    settle_s = args.settle if args.settle is not None else (180.0 if args.memory else 120.0)
    cfg = Config(timeout_s=args.timeout, setup_timeout_s=args.setup_timeout, settle_s=settle_s,
                 other_share=args.other_share, setup_concurrency=args.setup_concurrency, shots=str(args.shots),
                 server_env=parse_env(args.server_env))
    if args.backends:
        chosen = [b.strip() for b in args.backends.split(",") if b.strip()]
        if not chosen or set(chosen) - set(BACKENDS):
            sys.exit(f"--backends wants a comma-separated list of {', '.join(BACKENDS)}, got {args.backends!r}")
        backends_mode(chosen, args.trainings, cfg, args.results)
    elif args.memory:
        memory_mode(args.memory_sessions, cfg, args.results)
    else:
        load_mode([int(x) for x in args.n.split(",") if x.strip()], cfg, args.results)


if __name__ == "__main__":
    main()
