"""The shared results in the database of TRAIN_INFER_LAB_DATABASE_URL, so that app replicas serve each other's
results: what one replica published, another serves with the same figures, measured at the same time.

service.shared keeps its memory cache in front: a result it publishes is also written here, and a miss in memory
looks here before computing. One table, `shared_results`, in the class board's database (its engine: one per URL
per process): the key, the value, its size, when it was measured, the public id of the session that computed it
(never its token: a token is a credential), and when a replica last stored or read it. The table keeps within a
byte budget (settings' result_cache_mb, the memory cache's), dropping the rows stored or read longest ago; a value
larger than the whole budget is not stored.

Values are records (numbers, curves, the trained weights as bytes), pickled. Unpickling runs what the bytes name,
so whoever could write this table could run code in every replica; the loader here (`_Loader`) builds only the
engine's and service's dataclasses and enums, numpy arrays, builtin values and a few named classes, and refuses
anything else (the row is then a miss). A value it could not read back is not stored, which `save` checks.

A database that cannot be reached or fails is logged (password masked) and skipped: the job computes as if nothing
was stored, the page shows no error, and the database is not tried again for RETRY_S, so jobs do not each wait for
a connect timeout.

Not shared through here: following a computation in progress. Following is per replica (service.shared.follow);
an identical request on another replica while one runs computes it too.
"""

from __future__ import annotations

import dataclasses
import enum
import io
import logging
import pickle
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Float,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    exc,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from dashboard.lab import settings
from dashboard.service.board import Board, BoardUnavailable

log = logging.getLogger("train_infer_lab.shared_store")
RETRY_S = 30.0       # after a failure, the database is left alone this long (jobs compute without it)
MAX_ROWS = 10_000    # a bound on rows whatever their size (a room's distinct requests are a few hundred)

_metadata = MetaData()
_results = Table(
    "shared_results", _metadata,
    Column("key", String(64), primary_key=True),          # service.shared.key
    Column("value", LargeBinary, nullable=False),         # the record, pickled (read back by _Loader only)
    Column("size_bytes", BigInteger, nullable=False),     # len(value): what the budget counts
    Column("measured_at", Float, nullable=False),         # unix time the computation ended
    Column("by_public", String(64), nullable=False),      # the computing session's public_id ("" unknown)
    Column("used_at", Float, nullable=False),             # last stored or read by a replica: eviction's order
    Index("shared_results_used", "used_at"),
)


@dataclass(frozen=True)
class Stored:
    """A row read back: the value and what service.shared.Entry keeps of it."""

    value: Any
    size_bytes: int
    measured_at: float
    by_public: str


# Classes a stored value may name besides the dashboard's own dataclasses and enums: numpy arrays (how a pickled
# array rebuilds itself), torch's version string, and builtin values pickle names by class.
_ALLOWED = {
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
    ("torch.torch_version", "TorchVersion"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"), ("builtins", "bytearray"),
    ("collections", "OrderedDict"), ("datetime", "datetime"), ("datetime", "date"), ("datetime", "timedelta"),
    ("datetime", "timezone"),
}


class _Loader(pickle.Unpickler):
    """Unpickles a record: only the classes above and the dashboard's dataclasses and enums (never a function,
    never a class another module re-exports under a dashboard name)."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        # Only the engine's and the service's modules, which import without side effects (no page, no Streamlit).
        if module.startswith(("dashboard.lab.", "dashboard.service.")) and "." not in name:
            found = super().find_class(module, name)
            if (isinstance(found, type) and found.__module__ == module
                    and (dataclasses.is_dataclass(found) or issubclass(found, enum.Enum))):
                return found
        raise pickle.UnpicklingError(f"a shared result may not hold {module}.{name}")


def loads(data: bytes) -> Any:
    """A stored value read back with the restricted loader (pickle.UnpicklingError for what it may not hold)."""
    return _Loader(io.BytesIO(data)).load()


class ResultStore:
    """The shared results of one database URL (a postgresql:// or sqlite:///file URL, as the board's)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._where = settings.mask_url(url)
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._down_until = 0.0

    def load(self, key: str) -> Stored | None:
        """The stored value of `key`, marked as just used; None when there is none, or the database failed."""
        row = self._run("read", lambda conn: conn.execute(
            update(_results).where(_results.c.key == key).values(used_at=time.time())
            .returning(_results.c.value, _results.c.size_bytes, _results.c.measured_at, _results.c.by_public)
        ).first())
        if row is None:
            return None
        try:
            value = loads(row.value)
        except Exception as e:   # a row this code cannot read (another version, or written by someone else)
            log.warning("shared result %s in the database not read back (%s): computing it", key, e)
            return None
        return Stored(value, row.size_bytes, row.measured_at, row.by_public)

    def save(self, key: str, data: bytes, *, measured_at: float, by_public: str, budget_bytes: int) -> bool:
        """Store `data` (a pickled value) under `key`, replacing the key's older value, then drop the least recently
        used rows past `budget_bytes` (or MAX_ROWS). A value over the budget, or one the loader refuses, is not
        stored (the key's older value is dropped all the same). False when not stored."""
        fits = len(data) <= budget_bytes
        if fits:
            try:
                loads(data)
            except Exception as e:
                log.warning("shared result %s not stored in the database: %s", key, e)
                fits = False

        def write(conn) -> None:
            if not fits:
                conn.execute(delete(_results).where(_results.c.key == key))
                return
            now = time.time()
            row = {"key": key, "value": data, "size_bytes": len(data), "measured_at": measured_at,
                   "by_public": by_public, "used_at": now}
            insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(_results).values(row)
            conn.execute(insert.on_conflict_do_update(
                index_elements=["key"], set_={k: insert.excluded[k] for k in row if k != "key"}))
            order = (_results.c.used_at.desc(), _results.c.key)
            ranked = select(_results.c.key,
                            func.sum(_results.c.size_bytes).over(order_by=order).label("running"),
                            func.row_number().over(order_by=order).label("n")).subquery()
            over = select(ranked.c.key).where(or_(ranked.c.running > budget_bytes, ranked.c.n > MAX_ROWS))
            conn.execute(delete(_results).where(_results.c.key.in_(over)))

        return self._run("write", write, failed=False) is not False and fits

    def stats(self) -> dict | None:
        """Rows and bytes stored; None when the database cannot be reached."""
        row = self._run("count", lambda conn: conn.execute(
            select(func.count(), func.coalesce(func.sum(_results.c.size_bytes), 0))).one())
        return None if row is None else {"rows": row[0], "bytes": int(row[1])}

    def _run(self, what: str, work, failed: Any = None) -> Any:
        """`work(conn)` in a transaction; `failed` when the database is down or fails (logged once per outage)."""
        try:
            with self._connect().begin() as conn:
                result = work(conn)
        except _Down:
            return failed
        except Exception as e:   # unreachable, refused, or anything else: a cache never fails a job
            if not isinstance(e, (exc.SQLAlchemyError, BoardUnavailable, OSError)):
                log.exception("shared results: unexpected failure")
            reason = (str(getattr(e, "orig", None) or e).strip().splitlines() or [type(e).__name__])[0]
            with self._lock:
                first = self._down_until == 0.0
                self._down_until = time.monotonic() + RETRY_S
            (log.error if first else log.warning)(
                "shared results: cannot %s %s (%s); computing without it for %.0f s",
                what, self._where, settings.mask_url(reason), RETRY_S)
            return failed
        with self._lock:
            if self._down_until:
                log.info("shared results: %s answers again", self._where)
            self._down_until = 0.0
        return result

    def _connect(self) -> Engine:
        """The engine, made at first use; _Down while the database is left alone after a failure."""
        with self._lock:   # threads arriving while one connects wait for it, then see whether it failed
            if time.monotonic() < self._down_until:
                raise _Down()
            if self._engine is None:
                engine = Board(self._url, rate=None).engine   # the board's engine for this URL, its tables made
                _metadata.create_all(engine)
                self._engine = engine
            return self._engine


class _Down(Exception):
    """The database failed less than RETRY_S ago."""


_stores: dict[str, ResultStore] = {}
_stores_lock = threading.Lock()


def for_url(url: str) -> ResultStore | None:
    """This process's store for `url` (one per URL); None for "" (no database: memory only)."""
    if not url:
        return None
    with _stores_lock:
        if url not in _stores:
            _stores[url] = ResultStore(url)
        return _stores[url]
