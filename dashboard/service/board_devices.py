"""Students' device measurements on the class board: the same version on this server, in the students' browsers on
their computers and on their phones, across the room.

    post = post_device(board, "ROOM-12", "Ada", s)   # the session's latest kept browser runs (its own, its phone's)
    post.figures, post.left_out                      # what was stored, and each version left out with why
    rows = room_devices(board, "ROOM-12")            # per version: the room's median p50 by device class, counts

What may be posted is only what the session itself keeps: a browser run checked and kept by service.device_jobs
(lab.deploy.browser_result) for the session's current model, never figures a page sends. Of each run, only the
versions whose browser figure is steady (p95 within browser_result.STEADY_SPREAD of p50) are stored; the others are
left out and said so. What the board keeps of the device is its class (computer, phone, tablet), the browser's name
and major version and its core count: never the whole user agent, which helps tell one person's device from another.
The server's figure for the same file goes along when it was measured in quiet windows.

The rules are the board's (service.board, board_posts): the nickname is cleaned and belongs to the session that took
it in the class, look-alikes refused; a post counts against the session's post rate (the board's, shared with its
result posts); a class holds at most MAX_DEVICE_POSTS device posts, one per session and device class (a later one
replaces it); the presenter's Board.clear removes them with the class's entries. Stored in the board's tables
board_device_posts and board_device_entries, beside its entries table.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select

from dashboard.lab.deploy import browser_result
from dashboard.lab.deploy.browser_result import DeviceRun
from dashboard.service.board import MAX_ENTRIES, Board, _check_owner, _device_figures, _device_posts, forget, shared
from dashboard.service.board_posts import (
    MAX_NAME,
    MAX_VARIANT,
    Refused,
    clean_class_code,
    clean_nickname,
    look_alike_keys,
)
from dashboard.service.sessions import Session

MAX_DEVICE_POSTS = MAX_ENTRIES   # device posts per class: one per session and device class, ten per student or so
MAX_VERSIONS = 6                 # versions per post (lab.deploy.browser_models.MAX_FILES)
DEVICE_CLASSES = ("computer", "phone", "tablet", "device")


@dataclass(frozen=True)
class DeviceFigure:
    """One version as one device ran it: the browser's p50 / p95 per call, this server's p50 for the same file."""

    version: str
    p50_ms: float
    p95_ms: float
    server_p50_ms: float | None   # None: the server's figure was not measured, or not in quiet windows


@dataclass(frozen=True)
class DevicePost:
    """What one session posted of one device: its class, browser and cores, its steady figures."""

    class_code: str
    nickname: str
    device_class: str
    browser: str
    cores: int | None
    model: str
    dataset: str
    figures: tuple[DeviceFigure, ...]
    left_out: tuple[tuple[str, str], ...]   # (version, why) for each version not posted
    posted_at: datetime


def _run_post(run: DeviceRun, bset, model: str, dataset: str, code: str, nickname: str,
              when: datetime) -> DevicePost:
    """The figures of one kept run that may be posted (steady ones), and the others with why."""
    figures, left_out = [], []
    for m in bset.models[:MAX_VERSIONS]:
        t = run.timing(m.name)
        if t is None:
            continue
        if not t.steady:
            left_out.append((m.name, f"its figure on your {run.device_class} was unsteady (p95 over "
                                     f"{browser_result.STEADY_SPREAD:g} times its p50): measure again with "
                                     "nothing else running"))
            continue
        if not (math.isfinite(t.p50_ms) and math.isfinite(t.p95_ms) and 0 < t.p50_ms <= t.p95_ms):
            left_out.append((m.name, "its figure is not a usable time"))
            continue
        quiet = m.server_p50_ms is not None and not m.server_disturbed and m.server_p50_ms > 0
        figures.append(DeviceFigure(m.name[:MAX_VARIANT], t.p50_ms, t.p95_ms, m.server_p50_ms if quiet else None))
    cores = run.cores if run.cores is not None and 1 <= run.cores <= browser_result.MAX_CORES else None
    kind = run.device_class if run.device_class in DEVICE_CLASSES else "device"
    return DevicePost(code, nickname, kind, run.browser[:40], cores, model[:MAX_NAME], dataset[:MAX_NAME],
                      tuple(figures), tuple(left_out), when)


def _of_current_model(s: Session, bset, trained) -> bool:
    """Whether `bset` (the session's BrowserSet) was made for the session's current model `trained`."""
    return bset is not None and trained is not None and bool(bset.key) and bset.key[0] == s.digest


def postable_runs(s: Session) -> list[DeviceRun]:
    """The session's latest kept run of its own browser and of its paired device, for its current model."""
    with s.lock:
        bset, trained = s.browser, s.trained
        if not _of_current_model(s, bset, trained):
            return []
        runs = list(bset.runs)
    own = next((r for r in reversed(runs) if not r.paired), None)
    paired = next((r for r in reversed(runs) if r.paired), None)
    return [r for r in (own, paired) if r is not None]


def preview(s: Session) -> list[DevicePost]:
    """What post_device would post of the session's latest runs (no class code or nickname yet), one per device
    class: what the page shows before the button."""
    with s.lock:
        bset, trained = s.browser, s.trained
    posts: dict[str, DevicePost] = {}
    for run in postable_runs(s):
        post = _run_post(run, bset, trained.spec.name, trained.dataset, "", "", datetime.now(UTC))
        posts[post.device_class] = post
    return list(posts.values())


def post_device(board: Board, class_code: str, nickname: str, s: Session,
                runs: Sequence[DeviceRun] | None = None) -> list[DevicePost]:
    """Post the session's device figures under `nickname`: `runs` (default: postable_runs(s)), each of which must be
    a run the session keeps for its current model; one post per device class, replacing the session's earlier one
    of that class. ValueError for unusable input (a nickname, a class code, a run that is not the session's, no
    steady figure); Refused for the board's limits (the nickname is another session's, the rate, the class full)."""
    code, name = clean_class_code(class_code), clean_nickname(nickname)
    owner = _check_owner(s.public_id)
    with s.lock:
        bset, trained = s.browser, s.trained
        kept = list(bset.runs) if bset is not None else []
        current = _of_current_model(s, bset, trained)
    chosen = postable_runs(s) if runs is None else list(runs)
    if not chosen:
        raise ValueError("Measure on this device first (Edge & cloud): there is no measurement of your browser to "
                         "post.")
    if not current or any(not any(r is k for k in kept) for r in chosen):
        raise ValueError("Only your own browser's measurement of your current model, as this session keeps it, can "
                         "be posted.")
    when = datetime.now(UTC)
    posts: dict[str, DevicePost] = {}
    for run in chosen:   # the newest run of each device class
        post = _run_post(run, bset, trained.spec.name, trained.dataset, code, name, when)
        posts[post.device_class] = post
    if not any(p.figures for p in posts.values()):
        why = "; ".join(f"{v}: {w}" for p in posts.values() for v, w in p.left_out)
        raise ValueError("None of your device's figures is steady enough to post" + (f" ({why})" if why else "")
                         + ".")
    keys = look_alike_keys(name)
    held = board.rate.reserve(owner) if board.rate is not None else None
    try:
        with board.transaction() as conn:
            mine = [p for p in posts.values() if p.figures]
            board.claim_nickname(conn, code, name, owner, when, keys)   # the class's lock row first, as a post
            _check_room(conn, code, owner, [p.device_class for p in mine])
            for p in mine:
                _store(conn, board, owner, p)
    except BaseException:
        if held is not None:
            board.rate.release(owner, held)   # a refused or failed post does not count against the rate
        raise
    forget(board, code)
    return list(posts.values())


def _check_room(conn, code: str, owner: str, classes: list[str]) -> None:
    """Refused when the class holds MAX_DEVICE_POSTS device posts and these would add one (a session's post of a
    device class it posted before replaces it)."""
    others = conn.execute(select(func.count()).select_from(_device_posts).where(
        _device_posts.c.class_code == code,
        ~((_device_posts.c.owner == owner) & _device_posts.c.device_class.in_(classes)))).scalar_one()
    if others + len(classes) > MAX_DEVICE_POSTS:
        raise Refused(f"This class's board holds {MAX_DEVICE_POSTS} device posts already: ask the presenter to clear "
                      "it or use another class code.")


def _store(conn, board: Board, owner: str, p: DevicePost) -> None:
    where = ((_device_figures.c.class_code == p.class_code) & (_device_figures.c.owner == owner)
             & (_device_figures.c.device_class == p.device_class))
    conn.execute(delete(_device_figures).where(where))
    row = {"class_code": p.class_code, "owner": owner, "device_class": p.device_class, "nickname": p.nickname,
           "browser": p.browser, "cores": p.cores, "model": p.model, "dataset": p.dataset, "posted_at": p.posted_at}
    insert = board.insert(_device_posts).values(row)
    conn.execute(insert.on_conflict_do_update(
        index_elements=["class_code", "owner", "device_class"],
        set_={k: insert.excluded[k] for k in row if k not in ("class_code", "owner", "device_class")}))
    conn.execute(_device_figures.insert(), [
        {"class_code": p.class_code, "owner": owner, "device_class": p.device_class, "version": f.version,
         "p50_ms": f.p50_ms, "p95_ms": f.p95_ms, "server_p50_ms": f.server_p50_ms} for f in p.figures])


# --- what the room's table shows -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Median:
    """The room's median p50 of one version in one place, and how many figures it is the median of."""

    p50_ms: float
    count: int


@dataclass(frozen=True)
class VersionRow:
    """One version of one model across the room: this server's figure (one per session), and each device class's."""

    model: str
    dataset: str
    version: str
    server: Median | None
    devices: dict[str, Median]   # device class -> the median of its browsers' p50


@dataclass(frozen=True)
class RoomDevices:
    rows: list[VersionRow]
    posts: int          # device posts in the class
    taken_at: float


def _median(values: list[float]) -> Median | None:
    return Median(statistics.median(values), len(values)) if values else None


def read_room(board: Board, class_code: str) -> RoomDevices:
    """The class's device figures, per model, dataset and version: the median p50 of each device class's browsers
    and of this server (each session's latest server figure counted once), with counts. One bounded read."""
    code = clean_class_code(class_code)
    p, f = _device_posts, _device_figures
    query = (select(p.c.owner, p.c.device_class, p.c.model, p.c.dataset, p.c.posted_at, f.c.version, f.c.p50_ms,
                    f.c.server_p50_ms)
             .join(f, (f.c.class_code == p.c.class_code) & (f.c.owner == p.c.owner)
                   & (f.c.device_class == p.c.device_class))
             .where(p.c.class_code == code)
             .order_by(p.c.posted_at.desc(), p.c.owner, p.c.device_class, f.c.version)
             .limit(MAX_DEVICE_POSTS * MAX_VERSIONS))
    with board.transaction() as conn:
        found = conn.execute(query).all()
        posts = conn.execute(select(func.count()).select_from(p).where(p.c.class_code == code)).scalar_one()
    browsers: dict[tuple, dict[str, list[float]]] = {}
    server: dict[tuple, dict[str, float]] = {}   # group -> owner -> the newest quiet server figure
    for r in found:   # newest first
        group = (r.model, r.dataset, r.version)
        browsers.setdefault(group, {}).setdefault(r.device_class, []).append(r.p50_ms)
        if r.server_p50_ms is not None:
            server.setdefault(group, {}).setdefault(r.owner, r.server_p50_ms)
    rows = [VersionRow(*group, _median(list(server.get(group, {}).values())),
                       {k: _median(v) for k, v in sorted(by_class.items(), key=lambda kv: DEVICE_CLASSES.index(kv[0])
                                                         if kv[0] in DEVICE_CLASSES else 99)})
            for group, by_class in sorted(browsers.items())]
    return RoomDevices(rows, posts, time.monotonic())


def room_devices(board: Board, class_code: str) -> RoomDevices:
    """read_room, shared by every open tab of the class for board.SNAPSHOT_S; a post or the presenter's clear drops
    it (board.forget), so whoever looks next sees it at once."""
    code = clean_class_code(class_code)
    return shared(board, code, "devices", lambda: read_room(board, code))


__all__ = ["DEVICE_CLASSES", "MAX_DEVICE_POSTS", "DeviceFigure", "DevicePost", "Median", "RoomDevices", "VersionRow",
           "post_device", "postable_runs", "preview", "read_room", "room_devices"]
