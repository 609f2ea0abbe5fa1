"""The class board: students post their best result under a nickname, the presenter's page shows the
room and a few challenges (smallest model, lowest energy, fastest batch-1 at an accuracy threshold).

Storage is SQLite in the app's data folder by default (nothing to install, one server), or
PostgreSQL when `TRAIN_INFER_LAB_DATABASE_URL` is set, so several replicas share one board. Both go
through SQLAlchemy Core, one engine per URL per process, shared by every session's thread. Input is
checked here, with one-line messages a student can act on; a board that cannot be reached raises
`BoardUnavailable` (password masked) so the page can say so and keep the student's session.
`board_result` turns one measured version into what is posted, its energy re-priced under the lab's
default assumptions so everyone's is comparable.

A board that holds against a hostile room (issue 21): each session posts at a bounded rate
(POST_WINDOWS), a class holds at most MAX_ENTRIES entries, every read has a LIMIT, a nickname belongs to
the session (its `public_id`, never its token) that first took it in a class, and a nickname that looks
like a taken one (other case, fullwidth, another alphabet's letters, invisible characters) is refused.
Clearing a class is the presenter's (service.authority, checked here where it runs).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from confusable_homoglyphs.confusables import confusables_data
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Index,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    exc,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url

from dashboard.lab import settings
from dashboard.lab.measure.bench import BenchResult
from dashboard.lab.energy import EnergySettings, PerImageEnergy
from dashboard.service import authority
from dashboard.service.runs import per_image_now

log = logging.getLogger("train_infer_lab.board")
MAX_NICKNAME = 24
MAX_VARIANT = 80
MAX_NAME = 40      # model and dataset names
MAX_NOTE = 80      # the energy's assumptions, e.g. "estimated: CPU time x 45 W"
SQLITE_BUSY_S = 30  # a writer waits this long for another one instead of failing with "database is locked"
PG_CONNECT_S = 5    # a PostgreSQL that does not answer is reported after this, not after the OS's minutes

# The limits of a board (issue 21: 60 posts in 1.2 s and 20,000 rows were accepted).
# A room is ~30 students, each with a nickname or two: 300 entries is ten per student, and 300 rows are
# what a refresh reads in a few ms. Past it the class is full until the presenter clears it.
MAX_ENTRIES = 300
# One session may hold 3 nicknames in a class (a student, a pair sharing a laptop, a second try): one
# session alone can fill 1 % of the board, not all of it.
MAX_NICKNAMES_PER_SESSION = 3
# Posts per session: 3 in any 30 s (post, notice a better version, post it: normal) and 20 in any hour
# (a better result every few minutes for an hour-long workshop). A flood of 60 posts in 1.2 s gets 3.
POST_WINDOWS = ((3, 30.0), (20, 3600.0))   # (posts, in this many seconds)
READ_LIMIT = 1000   # no read returns more rows than this, whatever it is asked (boards older than the cap
                    # may hold more than MAX_ENTRIES rows until cleared)

_metadata = MetaData()
_entries = Table(
    "class_board", _metadata,
    Column("class_code", String(16), primary_key=True),
    Column("nickname", String(MAX_NICKNAME), primary_key=True),
    Column("accuracy", Float, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("energy_j_per_1000_images", Float, nullable=False),
    Column("energy_measured", Boolean, nullable=False),
    Column("energy_note", String(MAX_NOTE), nullable=False),
    Column("variant", String(MAX_VARIANT), nullable=False),
    Column("model", String(MAX_NAME), nullable=False),
    Column("dataset", String(MAX_NAME), nullable=False),
    Column("posted_at", DateTime(timezone=True), nullable=False),
)
# What each read walks: the newest entries, and each challenge's figure in order (the accuracy threshold
# is checked on the way, so a leaders query stops after its first few rows).
_indexes = [
    Index("class_board_newest", _entries.c.class_code, _entries.c.posted_at),
    Index("class_board_size", _entries.c.class_code, _entries.c.size_bytes),
    Index("class_board_energy", _entries.c.class_code, _entries.c.energy_j_per_1000_images),
    Index("class_board_latency", _entries.c.class_code, _entries.c.latency_ms),
]
# Who took which nickname in a class: new tables, not new columns, so a board file made before them
# (class_board alone) opens as it is, create_all adding what is missing. Each nickname has two look-alike
# keys (look_alike_keys); a key is taken once per class. Entries older than this table have no owner: the
# first session to post under such a nickname takes it.
_nicknames = Table(
    "board_nicknames", _metadata,
    Column("class_code", String(16), primary_key=True),
    Column("look_alike_key", String(64), primary_key=True),   # sha256 hex of a key (its text can be long)
    Column("nickname", String(MAX_NICKNAME), nullable=False),  # the entry's nickname, as shown
    Column("owner", String(64), nullable=False),               # the session's public_id
    Column("taken_at", DateTime(timezone=True), nullable=False),
    Index("board_nicknames_owner", "class_code", "owner"),
)
# One row per class that posts take first, as a lock: posts to one class go one at a time (SQLite's
# write lock, PostgreSQL's row lock), so two sessions cannot both take the last place or one nickname.
_classes = Table(
    "board_classes", _metadata,
    Column("class_code", String(16), primary_key=True),
    Column("last_post_at", DateTime(timezone=True), nullable=False),
)


class BoardUnavailable(RuntimeError):
    """The board's database cannot be reached or used; the message is one line, password masked."""


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
class Entry:
    """One row of a class's board: a nickname's latest result and when it was posted (UTC)."""

    class_code: str
    nickname: str
    result: Result
    posted_at: datetime


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


# --- how often a session may post ---------------------------------------------------------------

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


class Board:
    """One board store. `url`: a PostgreSQL or SQLite URL; None = SQLite file `<data dir>/board.sqlite3`.

    Nicknames are stored normalised (clean_nickname: NFKC, no invisible characters, spaces collapsed), not
    escaped: whoever shows them must render them as text, never as HTML or markdown. A nickname belongs to
    the session that first posted under it in the class; that session's later post replaces its entry
    (`posted_at` is then the time of the later post). `rate`: the per-session post rate (RATE, this
    process's; None: no rate, for scripts that fill a board); `max_entries`: the class's row cap."""

    def __init__(self, url: str | None = None, *, rate: PostRate | None = RATE, max_entries: int = MAX_ENTRIES,
                 max_nicknames_per_session: int = MAX_NICKNAMES_PER_SESSION):
        self._url = _resolve(url)
        self._engine = _engine(self._url)
        self._rate = rate
        self.max_entries = max_entries
        self.max_nicknames_per_session = max_nicknames_per_session

    @classmethod
    def configured(cls) -> Board:
        """The board of this server's settings (TRAIN_INFER_LAB_DATABASE_URL, else SQLite)."""
        return cls(settings.current().database_url or None)

    def post(self, class_code: str, nickname: str, result: Result, *, owner: str) -> Entry:
        """Store `result` as this nickname's entry in the class, replacing the previous one of `owner` (the
        posting session's public_id). ValueError for unusable input; Refused when this session posts too
        often, the nickname (or a look-alike) is another session's, or the class is full."""
        entry = Entry(clean_class_code(class_code), clean_nickname(nickname), check_result(result),
                      datetime.now(UTC))
        owner = _check_owner(owner)
        keys = look_alike_keys(entry.nickname)
        held = self._rate.reserve(owner) if self._rate is not None else None
        try:
            with self._transaction() as conn:
                self._claim(conn, entry, owner, keys)
                conn.execute(self._upsert(entry))
        except BaseException:
            if held is not None:
                self._rate.release(owner, held)   # a refused or failed post does not count against the rate
            raise
        forget(self, entry.class_code)
        return entry

    def _claim(self, conn: Connection, entry: Entry, owner: str, keys: tuple[str, str]) -> None:
        """Inside the post's transaction: take the class's lock row, then check the nickname's keys and the
        caps; take the keys for `owner` (dropping this session's own look-alike entry it replaces)."""
        code, when = entry.class_code, entry.posted_at
        lock = self._insert(_classes).values(class_code=code, last_post_at=when)
        conn.execute(lock.on_conflict_do_update(index_elements=["class_code"], set_={"last_post_at": when}))
        found = conn.execute(select(_nicknames.c.nickname, _nicknames.c.owner)
                             .where(_nicknames.c.class_code == code, _nicknames.c.look_alike_key.in_(keys))
                             .limit(len(keys))).all()
        if any(row.owner != owner for row in found):
            raise Refused(f"That nickname, or one that looks like it, is already taken in {code} by another "
                          "session: choose another.")
        mine = {row.nickname for row in found}
        if mine:   # this session's own nickname: its new spelling replaces the old one's entry
            old = mine - {entry.nickname}
            if old:
                conn.execute(delete(_entries).where(_entries.c.class_code == code, _entries.c.nickname.in_(old)))
                conn.execute(delete(_nicknames).where(_nicknames.c.class_code == code,
                                                      _nicknames.c.nickname.in_(old)))
        else:
            nicknames = conn.execute(select(func.count(func.distinct(_nicknames.c.nickname)))
                                     .where(_nicknames.c.class_code == code, _nicknames.c.owner == owner)).scalar_one()
            if nicknames >= self.max_nicknames_per_session:
                raise Refused(f"This session already posts under {nicknames} nicknames in {code}, the most one "
                              "session may: post again under one of them (your later post replaces its entry).")
            # An entry under this very nickname from before nicknames had owners is replaced, not added.
            others = conn.execute(select(func.count()).select_from(_entries)
                                  .where(_entries.c.class_code == code, _entries.c.nickname != entry.nickname)
                                  ).scalar_one()
            if others >= self.max_entries:
                raise Refused(f"This class's board is full ({self.max_entries} entries): ask the presenter to "
                              "clear it or use another class code.")
        rows = [{"class_code": code, "look_alike_key": k, "nickname": entry.nickname, "owner": owner,
                 "taken_at": when} for k in keys]
        conn.execute(self._insert(_nicknames).values(rows).on_conflict_do_update(
            index_elements=["class_code", "look_alike_key"], set_={"nickname": entry.nickname}))

    def _upsert(self, entry: Entry):
        row = {"class_code": entry.class_code, "nickname": entry.nickname, "posted_at": entry.posted_at,
               **asdict(entry.result)}
        insert = self._insert(_entries).values(row)
        return insert.on_conflict_do_update(
            index_elements=["class_code", "nickname"],
            set_={name: insert.excluded[name] for name in row if name not in ("class_code", "nickname")})

    def _insert(self, table: Table):
        return (postgresql if self._engine.dialect.name == "postgresql" else sqlite).insert(table)

    def entries(self, class_code: str, limit: int | None = None) -> list[Entry]:
        """The entries of the class, newest first (the newest `limit` of them, READ_LIMIT at most)."""
        code = clean_class_code(class_code)
        query = (select(_entries).where(_entries.c.class_code == code)
                 .order_by(_entries.c.posted_at.desc(), _entries.c.nickname).limit(_bounded(limit)))
        return self._rows(query)

    def count(self, class_code: str) -> int:
        """How many entries the class has."""
        code = clean_class_code(class_code)
        with self._transaction() as conn:
            return conn.execute(select(func.count()).select_from(_entries)
                                .where(_entries.c.class_code == code)).scalar_one()

    def leaders(self, class_code: str, challenge: Challenge, limit: int | None = None) -> list[Entry]:
        """The class's entries that meet the challenge's accuracy, best first (the first `limit`, READ_LIMIT
        at most); a tie goes to the earlier post."""
        code = clean_class_code(class_code)
        query = (select(_entries)
                 .where(_entries.c.class_code == code, _entries.c.accuracy >= challenge.min_accuracy)
                 .order_by(_entries.c[challenge.metric], _entries.c.posted_at, _entries.c.nickname)
                 .limit(_bounded(limit)))
        return self._rows(query)

    def clear(self, class_code: str, *, by) -> int:
        """Remove every entry of the class and free its nicknames; returns how many entries there were.
        A presenter action: raises authority.NotPresenter (nothing removed) unless session `by` gave the key."""
        authority.require(by, "clear a class's board")
        code = clean_class_code(class_code)
        with self._transaction() as conn:
            # The lock row first, as a post takes it: a post running meanwhile lands wholly before or after.
            conn.execute(update(_classes).where(_classes.c.class_code == code)
                         .values(last_post_at=datetime.now(UTC)))
            n = conn.execute(delete(_entries).where(_entries.c.class_code == code)).rowcount
            conn.execute(delete(_nicknames).where(_nicknames.c.class_code == code))
        forget(self, code)
        return n

    def _rows(self, query) -> list[Entry]:
        with self._transaction() as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]

    def _transaction(self):
        return _transaction(self._engine, self._url)


def _bounded(limit: int | None) -> int:
    return READ_LIMIT if limit is None else max(0, min(int(limit), READ_LIMIT))


def _check_owner(owner: str) -> str:
    """The posting session's public id (a random hex string): never its token, never empty."""
    if not isinstance(owner, str) or not re.fullmatch(r"[0-9A-Za-z_-]{1,64}", owner):
        raise TypeError("owner must be the posting session's public_id (1 to 64 letters, digits, '-' or '_')")
    return owner


# --- what an open board page shows, shared by every tab of the room ---------------------------------

SHOWN_ENTRIES = 200   # the newest entries a board draws; older ones are counted, not drawn
TOP = 3               # leaders per challenge
SNAPSHOT_S = 4.5      # a snapshot serves every tab of a class for this long (pages refresh every 5 s)


@dataclass(frozen=True)
class Snapshot:
    """A class's board as the page draws it: the newest entries, how many there are, each challenge's top."""

    entries: list[Entry]
    total: int
    leaders: dict[str, list[Entry]]
    taken_at: float


_snapshots: dict[tuple, Snapshot] = {}   # (board URL, class code, challenges) -> what was read
_snapshots_lock = threading.Lock()


def snapshot(board: Board, class_code: str, challenges: Sequence[Challenge] = CHALLENGES) -> Snapshot:
    """The class's board, read at most once per SNAPSHOT_S for all the tabs that show it: thirty open boards
    refreshing every 5 s cost one bounded query set (the newest SHOWN_ENTRIES, a count, TOP per challenge),
    not thirty unbounded ones, so they take little CPU from a measurement running meanwhile."""
    code = clean_class_code(class_code)
    key = (str(board._url), code, tuple(challenges))
    with _snapshots_lock:   # one tab reads; the others wait for it and share what it read
        snap = _snapshots.get(key)
        if snap is None or time.monotonic() - snap.taken_at > SNAPSHOT_S:
            snap = Snapshot(board.entries(code, SHOWN_ENTRIES), board.count(code),
                            {c.key: board.leaders(code, c, TOP) for c in challenges}, time.monotonic())
            _snapshots[key] = snap
            if len(_snapshots) > 1000:   # bounded: the oldest classes' snapshots go first
                for old in sorted(_snapshots, key=lambda k: _snapshots[k].taken_at)[:500]:
                    del _snapshots[old]
        return snap


def forget(board: Board, class_code: str) -> None:
    """Drop a class's snapshot (after a post or a clear: whoever looks next sees it at once)."""
    code = clean_class_code(class_code)
    with _snapshots_lock:
        for key in [k for k in _snapshots if k[:2] == (str(board._url), code)]:
            del _snapshots[key]


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


# ---------------------------------------------------------------- what a student may post

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


_RESULT_FIELDS = tuple(f.name for f in fields(Result))   # once, not per row: a refresh makes ~200 entries


def _entry(row) -> Entry:
    posted = row["posted_at"]  # SQLite keeps no zone (every time stored here is UTC), PostgreSQL its session's
    posted = posted.replace(tzinfo=UTC) if posted.tzinfo is None else posted.astimezone(UTC)
    result = Result(*(row[name] for name in _RESULT_FIELDS))
    return Entry(row["class_code"], row["nickname"], result, posted)


def _data_dir() -> Path:
    """TRAIN_INFER_LAB_DATA_DIR, else $XDG_DATA_HOME/train-infer-lab (~/.local/share/train-infer-lab)."""
    configured = settings.current().data_dir
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "train-infer-lab"


def _unavailable(student: str, detail: str) -> BoardUnavailable:
    """The one line a student reads (no folder, host or driver text); the detail goes to the server log for the
    presenter, password masked."""
    log.error("class board unavailable: %s", settings.mask_url(detail))
    return BoardUnavailable(student + " (The presenter finds why in the server log.)")


def _resolve(url: str | None) -> URL:
    """The URL to connect to, with psycopg 3 as the PostgreSQL driver; BoardUnavailable if unusable."""
    if url is None:
        folder = _data_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise _unavailable("The class board cannot store entries on this server (its folder cannot be made).",
                               f"cannot create its folder {folder}: {e.strerror}") from e
        return URL.create("sqlite", database=str(folder / "board.sqlite3"))
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError) as e:
        raise _unavailable("The class board's database setting is not usable.",
                           f"database URL {settings.mask_url(url)!r} is not a URL") from e
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    # An in-memory SQLite would be one board per pooled connection, not one per server.
    sqlite_file = parsed.drivername == "sqlite" and parsed.database not in (None, "", ":memory:")
    if not (sqlite_file or parsed.drivername == "postgresql+psycopg"):
        raise _unavailable("The class board's database setting is not usable.",
                           f"needs a postgresql:// or sqlite:///file URL, not {parsed.render_as_string(hide_password=True)!r}")
    return parsed


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _engine(url: URL) -> Engine:
    """This process's engine for `url`, made once with its tables; every session's thread shares it."""
    key = url.render_as_string(hide_password=False)
    with _engines_lock:
        if key not in _engines:
            engine = _new_engine(url)
            with _transaction(engine, url) as conn:
                _metadata.create_all(conn)
                for index in _indexes:   # create_all makes a table's indexes only with the table: a board
                    index.create(conn, checkfirst=True)   # file from before them gets them here
            _engines[key] = engine
        return _engines[key]


def _new_engine(url: URL) -> Engine:
    if url.drivername == "sqlite":
        # One file shared by threads: WAL lets readers go on during a write, and `timeout` (SQLite's
        # busy timeout) makes a writer wait for another instead of failing with "database is locked".
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_S})
        event.listen(engine, "connect", _wal)
        return engine
    # pre-ping: a pooled connection that a PostgreSQL restart closed is replaced, not reported.
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": PG_CONNECT_S})


def _wal(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


@contextmanager
def _transaction(engine: Engine, url: URL) -> Iterator[Connection]:
    """A transaction whose database errors become one BoardUnavailable line, password masked."""
    try:
        with engine.begin() as conn:
            yield conn
    except exc.DBAPIError as e:
        reason = (str(e.orig).strip().splitlines() or [type(e.orig).__name__])[0]
        where = url.render_as_string(hide_password=True)
        raise _unavailable("The class board's database cannot be reached right now. Your results stay in this "
                           "session; try again in a minute.", f"cannot reach {where}: {reason}") from e
