"""What may be posted to the class board, checked before the database is touched: a Result and its
numbers and texts, the challenges it is ranked in, nicknames and their look-alikes, class codes, which
measured versions may be posted (none with a disturbed ranked figure), and how often a session may post.
Plain Python: service.board stores what passes here.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from confusable_homoglyphs.confusables import confusables_data

from dashboard.lab.energy import EnergySettings, PerImageEnergy
from dashboard.lab.measure.bench import BenchResult
from dashboard.service.runs import per_image_now

MAX_NICKNAME = 24
MAX_VARIANT = 80
MAX_NAME = 40      # model and dataset names
MAX_NOTE = 80      # the energy's assumptions, e.g. "estimated: CPU time x 45 W"


# Posts per session: 3 in any 30 s (post, notice a better version, post it: normal) and 20 in any hour
# (a better result every few minutes for an hour-long workshop). A flood of 60 posts in 1.2 s gets 3.
POST_WINDOWS = ((3, 30.0), (20, 3600.0))   # (posts, in this many seconds)


class Refused(ValueError):
    """A post the board's limits refuse (rate, cap, a taken nickname); one line a student can act on.
    `retry_after_s`: when this session may post again, for a refusal that passes with time."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Result:
    """What a student posts: one measured variant of their model."""

    accuracy: float                   # top-1 on the test split, 0..1
    size_bytes: int
    latency_ms: float                 # batch 1, median
    energy_j_per_1000_images: float
    energy_measured: bool             # False: estimated (then `energy_note` gives the assumed watts)
    energy_note: str                  # e.g. "measured: RAPL", "estimated: CPU time x 45 W"
    variant: str                      # e.g. "pruned-channels-50+int8-static"
    model: str
    dataset: str


@dataclass(frozen=True)
class Challenge:
    """Lowest `metric` (a Result field) among the entries with at least `min_accuracy`."""

    key: str
    label: str
    metric: str
    min_accuracy: float

    @property
    def title(self) -> str:
        """E.g. "Smallest model at ≥ 98 % accuracy"."""
        return f"{self.label} at ≥ {self.min_accuracy * 100:g} % accuracy"


CHALLENGES = [
    Challenge("smallest", "Smallest model", "size_bytes", 0.98),
    Challenge("greenest", "Lowest energy per 1,000 images", "energy_j_per_1000_images", 0.97),
    Challenge("fastest", "Fastest batch-1 latency", "latency_ms", 0.98),
]


class PostRate:
    """Posts per session (by public_id) in this process: at most `posts` in any `seconds`, for each window.
    A session lives in one server process (sessions.REGISTRY), so its count is kept here, in memory."""

    def __init__(self, windows: Sequence[tuple[int, float]] = POST_WINDOWS,
                 clock: Callable[[], float] = time.monotonic):
        self.windows = tuple(windows)
        self._clock = clock
        self._span = max((s for _, s in self.windows), default=0.0)
        self._posts: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def reserve(self, owner: str) -> float:
        """Count a post by `owner` now and return its time; Refused (nothing counted) if a window is full."""
        with self._lock:
            now = self._clock()
            times = self._posts.setdefault(owner, deque())
            while times and now - times[0] >= self._span:
                times.popleft()
            for posts, seconds in self.windows:
                recent = [t for t in times if now - t < seconds]
                if len(recent) >= posts:
                    wait = recent[-posts] + seconds - now
                    raise Refused(f"You have posted {_times(len(recent))} in the last {_span_text(seconds)}: you "
                                  f"can post again in {_wait_text(wait)}.", retry_after_s=wait)
            times.append(now)
            if len(self._posts) > 5000:   # bounded: sessions whose posts are all older than every window go
                for key in [k for k, v in self._posts.items() if not v or now - v[-1] >= self._span]:
                    del self._posts[key]
            return now

    def release(self, owner: str, when: float) -> None:
        """Uncount a reserved post (the board refused it, or could not be reached)."""
        with self._lock:
            times = self._posts.get(owner)
            if times is not None and when in times:
                times.remove(when)


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _span_text(seconds: float) -> str:
    return "hour" if seconds == 3600 else f"{seconds:g} s" if seconds < 120 else f"{seconds / 60:g} min"


def _wait_text(seconds: float) -> str:
    seconds = max(1, math.ceil(seconds))
    return f"{seconds} s" if seconds < 90 else f"{math.ceil(seconds / 60)} min"


RATE = PostRate()   # this server's: every Board of the process shares it


# Characters that draw nothing but are letters or symbols, not format characters (category C goes anyway):
# Hangul fillers and the braille blank, which make a blank-looking or trailing-blank nickname.
_BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800")

# Invisible modifiers a look-alike may add to a taken name without changing how it looks: variation
# selectors, the combining grapheme joiner, Mongolian free variation selectors. Kept in the nickname (an
# emoji's presentation), left out of its look-alike keys.
_INVISIBLE = frozenset(chr(c) for c in (*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0), 0x034F, 0x180B,
                                        0x180C, 0x180D, 0x180F, 0x17B4, 0x17B5))


def clean_nickname(text: str) -> str:
    """The nickname as the board keeps it: NFKC-normalised (fullwidth and styled letters become plain
    ones), without control, format or blank characters (zero-width joiners, bidi overrides), runs of
    spaces as one, trimmed; ValueError (one line) if it is not one line of 1 to MAX_NICKNAME characters."""
    if len(text.strip().splitlines()) > 1:
        raise ValueError("A nickname is one line: remove the line break.")
    text = unicodedata.normalize("NFKC", text)
    nickname = " ".join("".join(c for c in text if not unicodedata.category(c).startswith("C")
                                and c not in _BLANKS).split())
    if not "".join(c for c in nickname if c not in _INVISIBLE):
        raise ValueError(f"Type a nickname (1 to {MAX_NICKNAME} characters).")
    if len(nickname) > MAX_NICKNAME:
        raise ValueError(f"A nickname has at most {MAX_NICKNAME} characters; this one has {len(nickname)}.")
    return nickname


def look_alike_keys(nickname: str) -> tuple[str, str]:
    """Two keys of a cleaned nickname; two nicknames look alike when either key is equal. Both are Unicode's
    confusable skeleton (UTS #39, section 4: each character replaced by its prototype in confusables.txt, as
    shipped by the confusable-homoglyphs package), without invisible modifiers:
    - of the case-folded name ("ANA", "Ana", Cyrillic "Аna", Greek "Αna" -> "ana"): case never tells
      two names apart;
    - of the name as written ("BiII" with capital i's -> "Bill"): where a capital I passes for a small L,
      which case-folding first would hide.
    Stored as sha256 hex: a skeleton may be several times longer than its name ("m" -> "rn")."""
    bare = "".join(c for c in nickname if c not in _INVISIBLE)
    folded = _skeleton(_skeleton(bare.casefold()).casefold())
    written = _skeleton(bare)
    return (hashlib.sha256(("folded:" + folded).encode()).hexdigest(),
            hashlib.sha256(("written:" + written).encode()).hexdigest())


def _skeleton(text: str) -> str:
    """UTS #39 skeleton: NFD, each character to its prototype, NFD again."""
    return unicodedata.normalize("NFD", "".join(_prototype(c) for c in unicodedata.normalize("NFD", text)))


@lru_cache(maxsize=4096)
def _prototype(char: str) -> str:
    """The character that `char` is confusable with, per confusables.txt. confusable-homoglyphs lists, for each
    character, the prototype it maps to (a source has exactly one) and every source mapping to it (so a
    prototype with several sources has several); of a pair listing only each other, either is the prototype:
    the smaller is taken, the same from both sides."""
    found = confusables_data.get(char)
    if not found or len(found) > 1:
        return char
    other = found[0]["c"]
    if len(other) > 1 or len(confusables_data.get(other, ())) > 1:
        return other
    return min(char, other)


def clean_class_code(text: str) -> str:
    """The class code in upper case; ValueError unless 1 to 16 letters, digits or '-'."""
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z0-9-]{1,16}", code):
        raise ValueError("A class code is 1 to 16 letters, digits or '-', such as ROOM-12: "
                         "ask your presenter for it.")
    return code


def check_result(result: Result) -> Result:
    """`result` with its texts cleaned; ValueError naming the first number or text out of range."""
    _number(result.accuracy, "accuracy", lambda v: 0 <= v <= 1, "from 0 to 1")
    _number(result.size_bytes, "model size", lambda v: v > 0 and v == int(v), "a whole number of bytes above 0")
    _number(result.latency_ms, "batch-1 latency", lambda v: v > 0, "above 0 ms")
    _number(result.energy_j_per_1000_images, "energy per 1,000 images", lambda v: v >= 0, "0 J or more")
    return Result(float(result.accuracy), int(result.size_bytes), float(result.latency_ms),
                  float(result.energy_j_per_1000_images), bool(result.energy_measured),
                  _text(result.energy_note, "energy note", 0, MAX_NOTE), _text(result.variant, "variant", 1, MAX_VARIANT),
                  _text(result.model, "model name", 1, MAX_NAME), _text(result.dataset, "dataset name", 1, MAX_NAME))


# The figures the board ranks: batch-1 latency and energy per image at the benchmark's batch (lab.measure.bench regimes).
RANKED_REGIMES = ("batch1", "batch")


def postable(results: Sequence[BenchResult]) -> list[BenchResult]:
    """The measured versions a student can post: every figure the board ranks is there and was measured in
    quiet windows (a disturbed figure would rank a busy moment of the server, not the version)."""
    return [r for r in results if r.available and r.accuracy is not None and r.size_bytes
            and r.latency_ms_batch1_p50 and r.energy is not None and not _disturbed(r)]


def unpostable(results: Sequence[BenchResult]) -> list[tuple[str, str]]:
    """(version, why in a few words) for each measured version that cannot be posted because a figure the
    board ranks stayed disturbed: what the page tells the student instead of leaving it out silently."""
    return [(r.name, f"its {' and '.join(_disturbed(r))} stayed disturbed while the server was busy: measure it "
                     "again when the room is quieter") for r in results if r.available and _disturbed(r)]


def _disturbed(r: BenchResult) -> list[str]:
    words = {"batch1": "batch-1 latency", "batch": "energy per image"}
    return [words[regime] for regime in RANKED_REGIMES if r.is_disturbed(regime)]


def board_result(r: BenchResult, model: str, dataset: str) -> Result:
    """What the board stores for a measured version: its own figures, its energy re-priced under the lab's
    default assumptions (EnergySettings()), so everyone's is comparable whatever watts they set. Raises
    ValueError for a version whose ranked figures are disturbed (checked here, where the post is made)."""
    if why := _disturbed(r):
        raise ValueError(f"{r.name} cannot be posted: its {' and '.join(why)} stayed disturbed while the server "
                         "was busy. Measure it again when the room is quieter.")
    e = per_image_now(r.energy, EnergySettings())
    return Result(accuracy=r.accuracy, size_bytes=int(r.size_bytes), latency_ms=r.latency_ms_batch1_p50,
                  energy_j_per_1000_images=1000 * e.joules_per_image, energy_measured=e.measured,
                  energy_note=energy_note(e), variant=r.name, model=model, dataset=dataset)


def energy_note(e: PerImageEnergy) -> str:
    """How an energy priced at the lab's defaults was obtained, in one short line: 'measured: RAPL', or
    'estimated: CPU time x 45 W + RAM 3 W (lab defaults)'."""
    if e.measured:
        return e.method[:MAX_NOTE]
    a = e.readings[0].assumptions if e.readings else {}
    cpu, ram = a.get("cpu_watts_total"), a.get("ram_watts")
    if cpu:
        note = f"estimated: CPU time x {cpu:.3g} W" + (f" + RAM {ram:.3g} W" if ram else "") + " (lab defaults)"
    else:
        note = "estimated: CodeCarbon's CPU model (lab defaults)"
    return note[:MAX_NOTE]


def _number(value, what: str, ok, good: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or not ok(value):
        raise ValueError(f"The {what} must be {good}; this result has {value!r}.")


def _text(value: str, what: str, least: int, most: int) -> str:
    """One line: control characters (line breaks too) become spaces, runs of spaces one."""
    text = " ".join("".join(" " if unicodedata.category(c).startswith("C") else c for c in value).split())
    if not least <= len(text) <= most:
        raise ValueError(f"The {what} must be {least} to {most} characters; it has {len(text)}.")
    return text
