"""The class board: students post their best result under a nickname, the presenter's page shows the
room and a few challenges (smallest model, lowest energy, fastest batch-1 at an accuracy threshold).

Storage is SQLite in the app's data folder by default (nothing to install, one server), or
PostgreSQL when `TRAIN_INFER_LAB_DATABASE_URL` is set, so several replicas share one board. Both go
through SQLAlchemy Core, one engine per URL per process, shared by every session's thread. Input is
checked here, with one-line messages a student can act on; a board that cannot be reached raises
`BoardUnavailable` (password masked) so the page can say so and keep the student's session.
`board_result` turns one measured version into what is posted, its energy re-priced under the lab's
default assumptions so everyone's is comparable.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    exc,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url

from dashboard.lab import settings
from dashboard.lab.bench import BenchResult
from dashboard.lab.energy import EnergySettings, PerImageEnergy
from dashboard.service.runs import per_image_now

MAX_NICKNAME = 24
MAX_VARIANT = 80
MAX_NAME = 40      # model and dataset names
MAX_NOTE = 80      # the energy's assumptions, e.g. "estimated: CPU time x 45 W"
SQLITE_BUSY_S = 30  # a writer waits this long for another one instead of failing with "database is locked"
PG_CONNECT_S = 5    # a PostgreSQL that does not answer is reported after this, not after the OS's minutes

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


class BoardUnavailable(RuntimeError):
    """The board's database cannot be reached or used; the message is one line, password masked."""


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


class Board:
    """One board store. `url`: a PostgreSQL or SQLite URL; None = SQLite file `<data dir>/board.sqlite3`.

    Nicknames are stored as typed (after removing control characters), not escaped: whoever shows
    them must render them as text, never as HTML or markdown. A nickname's later post replaces
    its entry, and `posted_at` is then the time of that later post."""

    def __init__(self, url: str | None = None):
        self._url = _resolve(url)
        self._engine = _engine(self._url)

    @classmethod
    def configured(cls) -> Board:
        """The board of this server's settings (TRAIN_INFER_LAB_DATABASE_URL, else SQLite)."""
        return cls(settings.current().database_url or None)

    def post(self, class_code: str, nickname: str, result: Result) -> Entry:
        """Store `result` as this nickname's entry in the class, replacing their previous one."""
        entry = Entry(clean_class_code(class_code), clean_nickname(nickname), check_result(result),
                      datetime.now(UTC))
        row = {"class_code": entry.class_code, "nickname": entry.nickname, "posted_at": entry.posted_at,
               **asdict(entry.result)}
        insert = (postgresql if self._engine.dialect.name == "postgresql" else sqlite).insert(_entries).values(row)
        upsert = insert.on_conflict_do_update(
            index_elements=["class_code", "nickname"],
            set_={name: insert.excluded[name] for name in row if name not in ("class_code", "nickname")})
        with self._transaction() as conn:
            conn.execute(upsert)
        forget(self, entry.class_code)
        return entry

    def entries(self, class_code: str, limit: int | None = None) -> list[Entry]:
        """The entries of the class, newest first (the newest `limit` of them when given)."""
        code = clean_class_code(class_code)
        query = (select(_entries).where(_entries.c.class_code == code)
                 .order_by(_entries.c.posted_at.desc(), _entries.c.nickname).limit(limit))
        return self._rows(query)

    def count(self, class_code: str) -> int:
        """How many entries the class has."""
        code = clean_class_code(class_code)
        with self._transaction() as conn:
            return conn.execute(select(func.count()).select_from(_entries)
                                .where(_entries.c.class_code == code)).scalar_one()

    def leaders(self, class_code: str, challenge: Challenge, limit: int | None = None) -> list[Entry]:
        """The class's entries that meet the challenge's accuracy, best first (the first `limit`); a tie goes
        to the earlier post."""
        code = clean_class_code(class_code)
        query = (select(_entries)
                 .where(_entries.c.class_code == code, _entries.c.accuracy >= challenge.min_accuracy)
                 .order_by(_entries.c[challenge.metric], _entries.c.posted_at, _entries.c.nickname).limit(limit))
        return self._rows(query)

    def clear(self, class_code: str) -> int:
        """Remove every entry of the class; returns how many there were."""
        code = clean_class_code(class_code)
        with self._transaction() as conn:
            n = conn.execute(delete(_entries).where(_entries.c.class_code == code)).rowcount
        forget(self, code)
        return n

    def _rows(self, query) -> list[Entry]:
        with self._transaction() as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]

    def _transaction(self):
        return _transaction(self._engine, self._url)


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


def clean_nickname(text: str) -> str:
    """The nickname as typed, without control characters and surrounding spaces; ValueError if unusable."""
    if len(text.strip().splitlines()) > 1:
        raise ValueError("A nickname is one line: remove the line break.")
    nickname = "".join(c for c in text if not unicodedata.category(c).startswith("C")).strip()
    if not nickname:
        raise ValueError("Type a nickname (1 to 24 characters).")
    if len(nickname) > MAX_NICKNAME:
        raise ValueError(f"A nickname has at most {MAX_NICKNAME} characters; this one has {len(nickname)}.")
    return nickname


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

# The figures the board ranks: batch-1 latency and energy per image at the benchmark's batch (lab.bench regimes).
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


def _entry(row) -> Entry:
    posted = row["posted_at"]  # SQLite keeps no zone (every time stored here is UTC), PostgreSQL its session's
    posted = posted.replace(tzinfo=UTC) if posted.tzinfo is None else posted.astimezone(UTC)
    result = Result(**{f.name: row[f.name] for f in fields(Result)})
    return Entry(row["class_code"], row["nickname"], result, posted)


def _data_dir() -> Path:
    """TRAIN_INFER_LAB_DATA_DIR, else $XDG_DATA_HOME/train-infer-lab (~/.local/share/train-infer-lab)."""
    configured = settings.current().data_dir
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "train-infer-lab"


def _resolve(url: str | None) -> URL:
    """The URL to connect to, with psycopg 3 as the PostgreSQL driver; BoardUnavailable if unusable."""
    if url is None:
        folder = _data_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BoardUnavailable(f"The class board cannot create its folder {folder}: {e.strerror}.") from e
        return URL.create("sqlite", database=str(folder / "board.sqlite3"))
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError) as e:
        raise BoardUnavailable(f"The class board's database URL {settings.mask_url(url)!r} is not a URL.") from e
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    # An in-memory SQLite would be one board per pooled connection, not one per server.
    sqlite_file = parsed.drivername == "sqlite" and parsed.database not in (None, "", ":memory:")
    if not (sqlite_file or parsed.drivername == "postgresql+psycopg"):
        raise BoardUnavailable(f"The class board needs a postgresql:// or sqlite:///file URL, "
                               f"not {parsed.render_as_string(hide_password=True)!r}.")
    return parsed


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _engine(url: URL) -> Engine:
    """This process's engine for `url`, made once with its table; every session's thread shares it."""
    key = url.render_as_string(hide_password=False)
    with _engines_lock:
        if key not in _engines:
            engine = _new_engine(url)
            with _transaction(engine, url) as conn:
                _metadata.create_all(conn)
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
        raise BoardUnavailable(settings.mask_url(f"The class board cannot be reached ({where}): {reason}. "
                                                 "Your results stay in this session; try again in a minute.")) from e
