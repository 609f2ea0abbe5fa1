"""What a student's browser sent back after running the ONNX files (lab.deploy.browser_models), checked before the
session keeps it, and what the device is, read from what the browser says of itself.

    run = parse(raw, run_id, bset.models)     # DeviceRun, or BadBrowserResult with one line a student can read
    run.timing("fp32").p50_ms, run.device

Nothing the browser sends is trusted: it comes from a page anyone can change. Every number must be a finite number
(not a bool, not a string) inside a plain range, every version sent must come back exactly once, the run id must be
the one this page asked for (a late answer to an earlier press is not this one), and texts are bounded. A result
that fails any check is refused whole, with the reason, and nothing of it is kept.

The browser also times a few small requests to this app (its health check) before it measures: their median is the
round trip from that browser to the server, measured, which Edge & cloud's cloud-or-device comparison sets beside the
typical networks' published values. A phone paired by a one-time code (service.pairing) sends the same result; its
run says so (`paired`) and what kind of device it is (`device_class`).

The browser times batches of calls and divides (its clock steps by 0.1 ms, about one call of the lab's cnn), so its
p50 and p95 are over batch means, `calls_per_batch` calls each: a batch mean hides the slowest single calls, so the
browser's p95 reads lower than a p95 of single calls would.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from dataclasses import dataclass, field

MAX_MS = 60_000.0            # one call taking a minute is no measurement of a model this size
MAX_BATCHES = 10_000
MAX_CALLS_PER_BATCH = 100_000
MAX_CORES = 1024
MAX_TEXT = 400               # user agent and error texts, characters
MAX_RUN_ID = 64
MAX_ROUND_TRIPS = 20         # requests timed to the app's health check
MAX_ROUND_TRIP_MS = 10_000.0
LOGIT_TOLERANCE = 1e-3       # |browser - native| per logit taken as the same answer (float32 kernels differ ~1e-5)
# A browser's timing is steady when its batches' p95 is within this of their p50. Each batch lasts ~10 ms, so the
# clock's 0.1 ms step moves a batch mean by ~1 %: a wider spread is the device doing something else meanwhile
# (another tab, another program, a power-saving clock). The browser cannot see its own scheduling the way the
# server's windows are checked (lab.measure.quiet), so its spread is the check; an unsteady figure is shown
# labelled and no comparison is built on it.
STEADY_SPREAD = 1.5


class BadBrowserResult(ValueError):
    """The browser's result cannot be used; the message says why in one line."""


@dataclass(frozen=True)
class DeviceTiming:
    """One file as the browser ran it."""

    name: str
    p50_ms: float                 # per call: the median over `batches` batch means
    p95_ms: float                 # per call: the 95th percentile of the batch means
    batches: int
    calls_per_batch: int
    max_diff: float | None = None  # largest |browser logit - native ONNX Runtime logit| on the example image

    @property
    def steady(self) -> bool:
        return self.p95_ms <= STEADY_SPREAD * self.p50_ms

    @property
    def agrees(self) -> bool | None:
        return None if self.max_diff is None else self.max_diff <= LOGIT_TOLERANCE


@dataclass
class DeviceRun:
    """One measurement in a student's browser."""

    run_id: str
    timings: list[DeviceTiming]
    device: str                   # what the device is, from what the browser says ("a computer: Chrome 140 on ...")
    user_agent: str
    cores: int | None             # navigator.hardwareConcurrency: logical cores the browser reports
    runtime: str                  # "onnxruntime-web 1.30.0, WebAssembly (SIMD), 1 thread"
    timer_step_ms: float | None   # the page clock's smallest step, as measured there
    runtime_from: str             # where the 14 MB runtime came from this time: "this browser's storage" / "the server"
    measured_at: float = field(default_factory=time.time)
    round_trips_ms: list[float] = field(default_factory=list)   # requests to the app's health check, as timed there
    paired: bool = False          # sent by a device paired with a one-time code (a phone), not the session's own page

    def timing(self, name: str) -> DeviceTiming | None:
        return next((t for t in self.timings if t.name == name), None)

    @property
    def device_class(self) -> str:
        """'phone', 'tablet', 'computer' or 'device', as the user agent says."""
        return _system(self.user_agent)[1].split(" ", 1)[1]

    @property
    def browser(self) -> str:
        """The browser's name and major version ("Chrome 140"), as the user agent says: what the class board
        shows of it (never the whole user agent, which helps tell one person's device from another)."""
        return _browser(self.user_agent)

    @property
    def round_trip_ms(self) -> float | None:
        """The median of the timed requests (the middle two's mean for an even count), None when none came."""
        return statistics.median(self.round_trips_ms) if self.round_trips_ms else None


def _number(value, what: str, low: float = -math.inf, high: float = math.inf) -> float:
    """A finite number in (0, high] when low is 0 (a time, a step), else in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadBrowserResult(f"{what} is {'missing' if value is None else 'not a number'}")
    v = float(value)
    if not math.isfinite(v):
        raise BadBrowserResult(f"{what} is not a finite number")
    if low == 0 and v <= 0:
        raise BadBrowserResult(f"{what} must be more than 0, not {v:g}")
    if v < low:
        raise BadBrowserResult(f"{what} must be at least {low:g}, not {v:g}")
    if v > high:
        raise BadBrowserResult(f"{what} is {v:g}, more than the {high:g} allowed")
    return v


def _whole(value, what: str, high: int) -> int:
    v = _number(value, what, 1, high)
    if v != int(v):
        raise BadBrowserResult(f"{what} must be a whole number, not {v:g}")
    return int(v)


def _text(value, what: str) -> str:
    if not isinstance(value, str):
        raise BadBrowserResult(f"{what} is {'missing' if value is None else 'not text'}")
    if len(value) > MAX_TEXT:
        raise BadBrowserResult(f"{what} is longer than {MAX_TEXT} characters")
    return "".join(c for c in value if c.isprintable())


def _timing(raw, reference: list[float]) -> DeviceTiming:
    name = raw.get("name")
    p50 = _number(raw.get("p50_ms"), f"{name}'s p50", 0, MAX_MS)
    p95 = _number(raw.get("p95_ms"), f"{name}'s p95", 0, MAX_MS)
    if p95 < p50:
        raise BadBrowserResult(f"{name}'s p95 ({p95:g} ms) is below its p50 ({p50:g} ms)")
    batches = _whole(raw.get("batches"), f"{name}'s number of batches", MAX_BATCHES)
    calls = _whole(raw.get("calls_per_batch"), f"{name}'s calls per batch", MAX_CALLS_PER_BATCH)
    diff = None
    logits = raw.get("logits")
    if logits is not None and reference:
        if not isinstance(logits, list) or len(logits) != len(reference):
            raise BadBrowserResult(f"{name}'s output has {len(logits) if isinstance(logits, list) else 'no'} values, "
                                   f"not the model's {len(reference)}")
        values = [_number(x, f"{name}'s output") for x in logits]
        diff = max(abs(a - b) for a, b in zip(values, reference))
    return DeviceTiming(name, p50, p95, batches, calls, diff)


def round_trips(raw) -> list[float]:
    """The browser's timed requests to the app, checked: none is allowed (an older page), else 1 to MAX_ROUND_TRIPS
    finite times above 0 ms and at most MAX_ROUND_TRIP_MS each."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_ROUND_TRIPS:
        raise BadBrowserResult(f"the round trips to the server must be a list of 1 to {MAX_ROUND_TRIPS} times")
    return [_number(x, "a round trip to the server", 0, MAX_ROUND_TRIP_MS) for x in raw]


def parse(raw, run_id: str, models: list, *, paired: bool = False) -> DeviceRun:
    """The browser's answer to measuring `models` (BrowserModel) under `run_id`, checked; BadBrowserResult when it
    cannot be used (the browser's own error included). `paired`: sent by a device paired with a one-time code."""
    if not isinstance(raw, dict):
        raise BadBrowserResult("the browser sent no result")
    got_id = raw.get("run_id")
    if not isinstance(got_id, str) or len(got_id) > MAX_RUN_ID or got_id != run_id:
        raise BadBrowserResult("the result is for another measurement than the one asked for")
    if raw.get("error") is not None:
        raise BadBrowserResult(f"your browser could not run the models: {_text(raw.get('error'), 'its error')}")
    versions = raw.get("versions")
    if not isinstance(versions, list) or not all(isinstance(v, dict) for v in versions):
        raise BadBrowserResult("the result has no list of versions")
    wanted = {m.name: m for m in models}
    names = [v.get("name") for v in versions]
    if len(set(map(str, names))) != len(names) or set(map(str, names)) != set(wanted):
        missing = sorted(set(wanted) - set(map(str, names)))
        raise BadBrowserResult("the result does not have every version exactly once"
                               + (f" (missing: {', '.join(missing)})" if missing else ""))
    timings = [_timing(v, wanted[v["name"]].reference) for v in versions]
    ua = _text(raw.get("user_agent"), "the browser's name (user agent)")
    cores_raw = raw.get("hardware_concurrency")
    cores = None if cores_raw is None else _whole(cores_raw, "the number of cores", MAX_CORES)
    step_raw = raw.get("timer_step_ms")
    step = None if step_raw is None else _number(step_raw, "the clock's step", 0, 1000)
    version = _text(raw.get("runtime_version"), "the runtime's version")
    if not re.fullmatch(r"[0-9][0-9A-Za-z.+-]{0,30}", version):
        raise BadBrowserResult("the runtime's version is not a version number")
    stored = raw.get("runtime_from") == "storage"
    trips = round_trips(raw.get("round_trip_ms"))
    order = {m.name: i for i, m in enumerate(models)}
    return DeviceRun(run_id, sorted(timings, key=lambda t: order[t.name]), describe(ua, cores), ua, cores,
                     f"onnxruntime-web {version}, WebAssembly (SIMD), 1 thread", step,
                     "this browser's storage" if stored else "the server (the first time in this browser)",
                     round_trips_ms=trips, paired=paired)


# --- what the device is -----------------------------------------------------------------------------------------

_BROWSERS = (("Edg", "Edge"), ("EdgA", "Edge"), ("OPR", "Opera"), ("SamsungBrowser", "Samsung Internet"),
             ("Firefox", "Firefox"), ("FxiOS", "Firefox"), ("CriOS", "Chrome"), ("HeadlessChrome", "Headless Chrome"),
             ("Chromium", "Chromium"), ("Chrome", "Chrome"))


def _browser(ua: str) -> str:
    for token, title in _BROWSERS:
        if m := re.search(rf"\b{token}/(\d+)", ua):
            return f"{title} {m.group(1)}"
    if "Safari/" in ua and (m := re.search(r"Version/(\d+)", ua)):
        return f"Safari {m.group(1)}"
    return "a browser"


def _system(ua: str) -> tuple[str, str]:
    """(operating system, device class) as the user agent says."""
    if m := re.search(r"Android (\d+)", ua):
        return f"Android {m.group(1)}", "a phone" if "Mobile" in ua else "a tablet"
    if "iPhone" in ua:
        return "iOS", "a phone"
    if "iPad" in ua:
        return "iPadOS", "a tablet"
    if "Windows" in ua:
        return "Windows", "a computer"
    if "Mac OS X" in ua or "Macintosh" in ua:
        return "macOS", "a computer"
    if "CrOS" in ua:
        return "ChromeOS", "a computer"
    if "Linux" in ua:
        arch = next((a for a, t in (("x86-64", "x86_64"), ("Arm 64-bit", "aarch64")) if t in ua), "")
        return f"Linux{f' ({arch})' if arch else ''}", "a computer"
    return "an unknown system", "a device"


def describe(user_agent: str, cores: int | None) -> str:
    """'a computer: Chrome 140 on Linux (x86-64), 8 logical cores', from what the browser says of itself."""
    system, kind = _system(user_agent)
    return (f"{kind}: {_browser(user_agent)} on {system}"
            + (f", {cores} logical core{'s' if cores != 1 else ''}" if cores else ""))


__all__ = ["LOGIT_TOLERANCE", "STEADY_SPREAD", "BadBrowserResult", "DeviceRun", "DeviceTiming", "describe", "parse"]
