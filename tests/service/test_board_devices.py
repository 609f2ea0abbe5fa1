"""Students' device measurements on the class board (service.board_devices), on SQLite and PostgreSQL: a session
posts its own kept browser runs (its computer's, its paired phone's), steady versions only, with the device class,
browser name and cores (never the user agent) and the server's quiet figure; the room's table is the median p50 per
version and device class with counts; a run that is not the session's, or of an earlier model, is refused, and so is
a nickname another session holds, a post past the shared post rate, a class at its cap; only the presenter clears
them, with the class's entries; a board file from before these tables opens with its entries."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, text

from dashboard.lab.deploy.browser_models import BrowserModel, BrowserSet
from dashboard.service import authority, board_devices, device_jobs
from dashboard.service.board import Board
from dashboard.service.board_devices import post_device, read_room, room_devices
from dashboard.service.board_posts import PostRate, Refused
from dashboard.service.sessions import Session
from tests.service.board_kit import RESULT, Clock

COMPUTER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"
PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile "
         "Safari/537.36")
SERVER = {"fp32": 0.05, "int8-static": 0.04}


@pytest.fixture
def board(url):
    """An empty board on the test's database, its device tables emptied too (PostgreSQL lives for the run)."""
    b = Board(url, rate=None)
    if b.engine.dialect.name == "postgresql":
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE board_device_posts, board_device_entries"))
        engine.dispose()
    return b


def student(digest: str = "d1", server_disturbed: str = "") -> Session:
    """A session with a measured model's browser files (fp32, int8-static) and this server's figure for each."""
    s = Session()
    s.trained = SimpleNamespace(spec=SimpleNamespace(name="cnn"), dataset="digits")
    s.digest = digest
    models = [BrowserModel(name, [name], name, "exported", b"onnx", server_p50_ms=ms, server_p95_ms=ms * 1.1,
                           server_disturbed=server_disturbed if name == "fp32" else "")
              for name, ms in SERVER.items()]
    s.browser = BrowserSet(key=(digest, tuple(SERVER)), models=models, example=b"")
    return s


def measure(s: Session, ua: str = COMPUTER, *, p50: float = 0.3, p95: dict | None = None, paired: bool = False,
            cores: int = 8):
    """What the session's browser (or paired phone) sent, kept as device_jobs keeps it; the kept run."""
    run_id = f"r{len(s.browser.runs)}"
    raw = {"run_id": run_id, "user_agent": ua, "runtime_version": "1.30.0", "hardware_concurrency": cores,
           "versions": [{"name": m.name, "p50_ms": p50, "p95_ms": (p95 or {}).get(m.name, p50 * 1.1),
                         "batches": 30, "calls_per_batch": 40} for m in s.browser.models]}
    return device_jobs.keep_browser_result(s, s.browser, raw, run_id, paired=paired)


def test_a_post_stores_the_steady_figures_with_the_device_class_and_the_room_gets_medians(board):
    posted = []
    for p50, phone_p50 in ((0.2, 1.0), (0.3, 1.4), (0.4, None)):
        s = student()
        measure(s, p50=p50)
        if phone_p50:
            measure(s, PHONE, p50=phone_p50, paired=True, cores=8)
        posted.append(post_device(board, "room-1", f"Ana{len(posted)}", s))
    computer, phone = posted[0]
    assert (computer.device_class, computer.browser, computer.cores) == ("computer", "Chrome 140", 8)
    assert (phone.device_class, phone.browser) == ("phone", "Chrome 140")
    assert [(f.version, f.p50_ms, f.server_p50_ms) for f in computer.figures] == [("fp32", 0.2, 0.05),
                                                                                  ("int8-static", 0.2, 0.04)]
    room = read_room(board, "ROOM-1")
    assert room.posts == 5
    fp32 = next(r for r in room.rows if r.version == "fp32")
    assert (fp32.model, fp32.dataset) == ("cnn", "digits")
    assert (fp32.devices["computer"].p50_ms, fp32.devices["computer"].count) == (pytest.approx(0.3), 3)
    assert (fp32.devices["phone"].p50_ms, fp32.devices["phone"].count) == (pytest.approx(1.2), 2)
    # The server's figure once per session, however many of its devices posted.
    assert (fp32.server.p50_ms, fp32.server.count) == (pytest.approx(0.05), 3)
    # Nothing of the user agent beyond the browser's name is stored.
    with board.transaction() as conn:
        stored = [tuple(r) for r in conn.execute(text("SELECT * FROM board_device_posts"))]
    assert len(stored) == room.posts   # one row a device's post, each read here
    assert not any("Mozilla" in str(v) or "Pixel" in str(v) for row in stored for v in row)
    assert read_room(board, "room-2").rows == []


def test_a_later_post_of_the_same_device_class_replaces_the_sessions_earlier_one(board):
    s = student()
    measure(s, p50=0.2)
    post_device(board, "room-1", "Ana", s)
    measure(s, p50=0.5)
    post_device(board, "room-1", "Ana", s)
    room = read_room(board, "room-1")
    assert room.posts == 1
    assert [(r.version, r.devices["computer"].p50_ms, r.devices["computer"].count) for r in room.rows] == [
        ("fp32", 0.5, 1), ("int8-static", 0.5, 1)]


def test_unsteady_versions_and_a_disturbed_server_figure_are_left_out_and_said(board):
    s = student(server_disturbed="the server was busy")
    measure(s, p50=0.3, p95={"int8-static": 0.9})   # int8-static: p95 3x p50
    [post] = post_device(board, "room-1", "Ana", s)
    assert [f.version for f in post.figures] == ["fp32"] and post.figures[0].server_p50_ms is None
    assert [v for v, _ in post.left_out] == ["int8-static"] and "unsteady" in post.left_out[0][1]
    [row] = read_room(board, "room-1").rows
    assert row.version == "fp32" and row.server is None
    s2 = student()
    measure(s2, p50=0.3, p95={"fp32": 0.6, "int8-static": 0.6})
    with pytest.raises(ValueError, match="None of your device's figures is steady enough"):
        post_device(board, "room-1", "Bo", s2)
    assert read_room(board, "room-1").posts == 1


def test_only_the_sessions_own_kept_run_of_its_current_model_is_posted(board):
    with pytest.raises(ValueError, match="Measure on this device first"):
        post_device(board, "room-1", "Ana", student())
    mine, other = student(), student()
    theirs = measure(other, p50=0.001)
    own = measure(mine)
    with pytest.raises(ValueError, match="Only your own browser's measurement"):
        post_device(board, "room-1", "Ana", mine, [theirs])
    mine.digest = "d2"   # another model since: its browser files (and runs) are not of it
    with pytest.raises(ValueError, match="Only your own browser's measurement"):
        post_device(board, "room-1", "Ana", mine, [own])
    with pytest.raises(ValueError, match="Measure on this device first"):
        post_device(board, "room-1", "Ana", mine)
    assert read_room(board, "room-1").posts == 0 and board.nickname_owner("room-1", "Ana") is None


def test_the_nickname_rules_are_the_boards(board):
    ana = student()
    board.post("room-1", "Ana", RESULT, owner=ana.public_id)
    bo = student()
    measure(bo)
    for taken in ("Ana", "ANA", "Аna"):   # the same, another case, a Cyrillic A
        with pytest.raises(Refused, match="already taken in ROOM-1 by another session"):
            post_device(board, "room-1", taken, bo)
    with pytest.raises(ValueError, match="at most 24 characters"):
        post_device(board, "room-1", "x" * 25, bo)
    measure(ana)
    post_device(board, "room-1", "Ana", ana)   # the nickname's own session posts under it
    post_device(board, "room-1", "Bo", bo)
    with pytest.raises(Refused, match="already taken"):   # and the device post took it for the board's posts too
        board.post("room-1", "bo", RESULT, owner=ana.public_id)
    assert read_room(board, "room-1").posts == 2


def test_device_posts_count_against_the_sessions_post_rate_shared_with_result_posts(url):
    clock = Clock()
    board = Board(url, rate=PostRate(((3, 30.0),), clock=clock))
    s = student()
    measure(s)
    board.post("room-r", "Ana", RESULT, owner=s.public_id)
    post_device(board, "room-r", "Ana", s)
    post_device(board, "room-r", "Ana", s)
    with pytest.raises(Refused, match="You have posted 3 times in the last 30 s"):
        post_device(board, "room-r", "Ana", s)
    with pytest.raises(Refused, match="You have posted 3 times"):
        board.post("room-r", "Ana", RESULT, owner=s.public_id)
    clock.now += 30
    post_device(board, "room-r", "Ana", s)


def test_a_class_holds_at_most_its_cap_of_device_posts(board, monkeypatch):
    monkeypatch.setattr(board_devices, "MAX_DEVICE_POSTS", 2)
    first, second, third = student(), student(), student()
    for s in (first, second, third):
        measure(s)
    post_device(board, "room-c", "Ana", first)
    post_device(board, "room-c", "Bo", second)
    with pytest.raises(Refused, match="holds 2 device posts already"):
        post_device(board, "room-c", "Cy", third)
    assert board.nickname_owner("room-c", "Cy") is None   # refused whole: the nickname is not taken either
    post_device(board, "room-c", "Ana", first)   # a session's repost replaces its own: no new place taken
    measure(first, PHONE, paired=True)
    with pytest.raises(Refused, match="holds 2 device posts"):   # but a new device class would take one
        post_device(board, "room-c", "Ana", first)
    post_device(board, "room-d", "Cy", third)    # another class has its own cap
    assert read_room(board, "room-c").posts == 2


def test_only_the_presenter_clears_the_device_figures_with_the_class(board):
    s, other = student(), student()
    measure(s)
    measure(other)
    post_device(board, "room-1", "Ana", s)
    post_device(board, "room-2", "Bo", other)
    assert room_devices(board, "room-1").posts == 1   # the shared read every open tab of the class draws
    with pytest.raises(authority.NotPresenter):
        board.clear("room-1", by=s)
    assert read_room(board, "room-1").posts == 1
    assert board.clear("room-1", by=Session(presenter=True)) == 0   # no result entries: the device posts go too
    assert read_room(board, "room-1").rows == [] and read_room(board, "room-1").posts == 0
    assert room_devices(board, "room-1").posts == 0   # seen at once, not after the shared read's few seconds
    assert read_room(board, "room-2").posts == 1
    post_device(board, "room-1", "Cy", s)   # the nickname was freed with the class


def test_a_board_file_from_before_the_device_tables_opens_with_its_entries(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("""CREATE TABLE class_board (class_code VARCHAR(16) NOT NULL, nickname VARCHAR(24) NOT NULL,
            accuracy FLOAT NOT NULL, size_bytes BIGINT NOT NULL, latency_ms FLOAT NOT NULL,
            energy_j_per_1000_images FLOAT NOT NULL, energy_measured BOOLEAN NOT NULL, energy_note VARCHAR(80) NOT NULL,
            variant VARCHAR(80) NOT NULL, model VARCHAR(40) NOT NULL, dataset VARCHAR(40) NOT NULL,
            posted_at DATETIME NOT NULL, PRIMARY KEY (class_code, nickname))""")
        db.execute("INSERT INTO class_board VALUES ('ROOM-1', 'Ana', 0.985, 400000, 0.25, 2.0, 0, 'estimated', "
                   "'int8-static', 'cnn', 'digits', '2026-11-01 10:00:00.000000')")
    db.close()
    board = Board(f"sqlite:///{path}", rate=None)
    s = student()
    measure(s)
    post_device(board, "room-1", "Bo", s)
    assert [e.nickname for e in board.entries("room-1")] == ["Ana"] and read_room(board, "room-1").posts == 1
