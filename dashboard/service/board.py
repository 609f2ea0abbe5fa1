"""The class board: students post their best result under a nickname, the presenter's page shows the
room and a few challenges (smallest model, lowest energy, fastest batch-1 at an accuracy threshold).

Storage is SQLite in the app's data folder by default (nothing to install, one server), or
PostgreSQL when `TRAIN_INFER_LAB_DATABASE_URL` is set, so several replicas share one board. Both go
through SQLAlchemy Core, one engine per URL per process, shared by every session's thread. What a post
may hold is checked first (service.board_posts: its numbers and texts, nickname, class code, the
session's post rate), with one-line messages a student can act on; a board that cannot be reached raises
`BoardUnavailable` (password masked) so the page can say so and keep the student's session.

A board that holds against a hostile room (issue 21): a class holds at most MAX_ENTRIES entries, every
read has a LIMIT, a nickname belongs to the session (its `public_id`, never its token) that first took it
in a class and no look-alike of it can be taken (board_posts.look_alike_keys), and a session posts at a
bounded rate (board_posts.PostRate). Clearing a class is the presenter's (service.authority, checked
here where it runs).

Why one module of this size: the board's tables, the one engine per URL that every replica's sessions share and
the transactions on them (a post, its nickname and the class cap in one) are one storage; what a post may hold
(board_posts) and the device figures beside it (board_devices) are already their own modules.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
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
    Index,
    Integer,
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
from dashboard.service import authority
from dashboard.service.board_posts import (
    CHALLENGES,
    MAX_NAME,
    MAX_NICKNAME,
    MAX_NOTE,
    MAX_VARIANT,
    RATE,
    Challenge,
    PostRate,
    Refused,
    Result,
    check_result,
    clean_class_code,
    clean_nickname,
    look_alike_keys,
)

log = logging.getLogger("train_infer_lab.board")
SQLITE_BUSY_S = 30  # a writer waits this long for another one instead of failing with "database is locked"
PG_CONNECT_S = 5    # a PostgreSQL that does not answer is reported after this, not after the OS's minutes

# The limits of a board (issue 21: 60 posts in 1.2 s and 20,000 rows were accepted).
# A room is ~30 students, each with a nickname or two: 300 entries is ten per student, and 300 rows are
# what a refresh reads in a few ms. Past it the class is full until the presenter clears it.
MAX_ENTRIES = 300
# One session may hold 3 nicknames in a class (a student, a pair sharing a laptop, a second try): one
# session alone can fill 1 % of the board, not all of it.
MAX_NICKNAMES_PER_SESSION = 3
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


# Students' device measurements (service.board_devices): new tables beside the entries table, never new columns of
# it, so a board file made before them opens as it is (create_all adds them). One post per session and device class
# in a class (its later post replaces it), and one row per version it measured steadily; cleared with the class.
_device_posts = Table(
    "board_device_posts", _metadata,
    Column("class_code", String(16), primary_key=True),
    Column("owner", String(64), primary_key=True),              # the posting session's public_id
    Column("device_class", String(16), primary_key=True),       # "computer", "phone", "tablet", "device"
    Column("nickname", String(MAX_NICKNAME), nullable=False),
    Column("browser", String(40), nullable=False),              # "Chrome 140": never the whole user agent
    Column("cores", Integer),                                   # logical cores the browser reported
    Column("model", String(MAX_NAME), nullable=False),
    Column("dataset", String(MAX_NAME), nullable=False),
    Column("posted_at", DateTime(timezone=True), nullable=False),
    Index("board_device_posts_newest", "class_code", "posted_at"),
)
_device_figures = Table(
    "board_device_entries", _metadata,
    Column("class_code", String(16), primary_key=True),
    Column("owner", String(64), primary_key=True),
    Column("device_class", String(16), primary_key=True),
    Column("version", String(MAX_VARIANT), primary_key=True),   # the browser file: "fp32", "int8-static", ...
    Column("p50_ms", Float, nullable=False),                    # in the browser, per call (steady only)
    Column("p95_ms", Float, nullable=False),
    Column("server_p50_ms", Float),                             # the same file here, native; None: not quiet
)


class BoardUnavailable(RuntimeError):
    """The board's database cannot be reached or used; the message is one line, password masked."""


@dataclass(frozen=True)
class Entry:
    """One row of a class's board: a nickname's latest result and when it was posted (UTC)."""

    class_code: str
    nickname: str
    result: Result
    posted_at: datetime


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
        """Inside the post's transaction: the nickname for `owner` (claim_nickname), and the class's entry cap
        when the nickname is new to this session."""
        code = entry.class_code

        def room_for_one_more() -> None:
            # An entry under this very nickname from before nicknames had owners is replaced, not added.
            others = conn.execute(select(func.count()).select_from(_entries)
                                  .where(_entries.c.class_code == code, _entries.c.nickname != entry.nickname)
                                  ).scalar_one()
            if others >= self.max_entries:
                raise Refused(f"This class's board is full ({self.max_entries} entries): ask the presenter to "
                              "clear it or use another class code.")

        self.claim_nickname(conn, code, entry.nickname, owner, entry.posted_at, keys, if_new=room_for_one_more)

    def claim_nickname(self, conn: Connection, code: str, nickname: str, owner: str, when: datetime,
                       keys: tuple[str, str], *, if_new=None) -> None:
        """Inside a post's transaction (this board's or service.board_devices'): take the class's lock row, then
        check the nickname's look-alike keys and the session's nickname count; take the keys for `owner`
        (dropping this session's own look-alike entry it replaces). `if_new()`: a further check (a cap) run when
        the nickname is new to this session, before it is taken. Refused when another session holds it."""
        lock = self.insert(_classes).values(class_code=code, last_post_at=when)
        conn.execute(lock.on_conflict_do_update(index_elements=["class_code"], set_={"last_post_at": when}))
        found = conn.execute(select(_nicknames.c.nickname, _nicknames.c.owner)
                             .where(_nicknames.c.class_code == code, _nicknames.c.look_alike_key.in_(keys))
                             .limit(len(keys))).all()
        if any(row.owner != owner for row in found):
            raise Refused(f"That nickname, or one that looks like it, is already taken in {code} by another "
                          "session: choose another.")
        mine = {row.nickname for row in found}
        if mine:   # this session's own nickname: its new spelling replaces the old one's entry
            old = mine - {nickname}
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
            if if_new is not None:
                if_new()
        rows = [{"class_code": code, "look_alike_key": k, "nickname": nickname, "owner": owner,
                 "taken_at": when} for k in keys]
        conn.execute(self.insert(_nicknames).values(rows).on_conflict_do_update(
            index_elements=["class_code", "look_alike_key"], set_={"nickname": nickname}))

    def _upsert(self, entry: Entry):
        row = {"class_code": entry.class_code, "nickname": entry.nickname, "posted_at": entry.posted_at,
               **asdict(entry.result)}
        insert = self.insert(_entries).values(row)
        return insert.on_conflict_do_update(
            index_elements=["class_code", "nickname"],
            set_={name: insert.excluded[name] for name in row if name not in ("class_code", "nickname")})

    def insert(self, table: Table):
        """An INSERT of this board's dialect, with its on_conflict_do_* (for service.room and board_devices too)."""
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
        """Remove every entry of the class, its device figures (service.board_devices) and free its nicknames;
        returns how many entries there were.
        A presenter action: raises authority.NotPresenter (nothing removed) unless session `by` gave the key."""
        authority.require(by, "clear a class's board")
        code = clean_class_code(class_code)
        with self._transaction() as conn:
            # The lock row first, as a post takes it: a post running meanwhile lands wholly before or after.
            conn.execute(update(_classes).where(_classes.c.class_code == code)
                         .values(last_post_at=datetime.now(UTC)))
            n = conn.execute(delete(_entries).where(_entries.c.class_code == code)).rowcount
            conn.execute(delete(_nicknames).where(_nicknames.c.class_code == code))
            conn.execute(delete(_device_figures).where(_device_figures.c.class_code == code))
            conn.execute(delete(_device_posts).where(_device_posts.c.class_code == code))
        forget(self, code)
        return n

    def nickname_owner(self, class_code: str, nickname: str) -> str | None:
        """The session (public_id) that took `nickname`, or a look-alike of it, in the class; None when free.
        ValueError for a nickname or class code that is not one."""
        code, keys = clean_class_code(class_code), look_alike_keys(clean_nickname(nickname))
        with self._transaction() as conn:
            return conn.execute(select(_nicknames.c.owner)
                                .where(_nicknames.c.class_code == code, _nicknames.c.look_alike_key.in_(keys))
                                .limit(1)).scalar()

    def _rows(self, query) -> list[Entry]:
        with self._transaction() as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]

    def _transaction(self):
        return _transaction(self._engine, self._url)

    def transaction(self):
        """A transaction on the board's database, whose errors become BoardUnavailable: for the tables that live
        beside the board's (service.room)."""
        return self._transaction()

    @property
    def rate(self) -> PostRate | None:
        """The per-session post rate this board's posts count against (service.board_devices' too)."""
        return self._rate

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def key(self) -> str:
        """Names the database (password hidden): what a process-wide cache of its contents is keyed by."""
        return self._url.render_as_string(hide_password=True)


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


def shared(board: Board, class_code: str, what: str, read):
    """What `read()` returns (an object with a `taken_at` of time.monotonic()), read at most once per SNAPSHOT_S for
    every tab of the class, like `snapshot`, and dropped with it by `forget` (a post, the presenter's clear): for
    what lives beside the board's entries (service.board_devices)."""
    code = clean_class_code(class_code)
    key = (str(board._url), code, what)
    with _snapshots_lock:
        snap = _snapshots.get(key)
        if snap is None or time.monotonic() - snap.taken_at > SNAPSHOT_S:
            snap = _snapshots[key] = read()
        return snap


def forget(board: Board, class_code: str) -> None:
    """Drop a class's snapshot (after a post or a clear: whoever looks next sees it at once)."""
    code = clean_class_code(class_code)
    with _snapshots_lock:
        for key in [k for k in _snapshots if k[:2] == (str(board._url), code)]:
            del _snapshots[key]


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
