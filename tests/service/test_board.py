"""The class board's store, each test against SQLite and a real PostgreSQL.

The PostgreSQL is a private throwaway server from Debian's binaries (package `postgresql`; board_kit.py),
started once for the whole run (the `postgres_url` fixture, tests/service/conftest.py) on a unix socket in a
temporary folder, fsync off, and stopped at the end.
Without the binaries its tests are skipped, or fail where TRAIN_INFER_LAB_REQUIRE_POSTGRES=1 (CI).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import sqlite3
import threading
from types import SimpleNamespace

import pytest

from dashboard.lab import settings
from dashboard.lab.settings import ServerSettings
from dashboard.service.board import Board, BoardUnavailable
from dashboard.service.board_posts import CHALLENGES, Result, energy_note
from dashboard.service.sessions import Session
from tests.service.board_kit import RESULT, result

SMALLEST, GREENEST, FASTEST = CHALLENGES
PRESENTER = Session(presenter=True)


@pytest.fixture
def board(url):
    return Board(url, rate=None)   # these tests post many times a second; the rate's own are in test_hostile_board


def owner_of(nickname: str) -> str:
    """A session id per nickname as typed: each nickname here is posted by a session of its own."""
    return hashlib.sha256(nickname.encode()).hexdigest()[:16]


def post(board: Board, class_code: str, nickname: str, r: Result = RESULT):
    return board.post(class_code, nickname, r, owner=owner_of(nickname))


# Posting, listing, replacing

def test_a_post_is_listed_with_everything_it_said(board):
    entry = post(board, "room-1", "  Ana  ", RESULT)
    assert (entry.class_code, entry.nickname, entry.result) == ("ROOM-1", "Ana", RESULT)
    assert board.entries("ROOM-1") == [entry]
    assert entry.posted_at.tzinfo is not None


def test_entries_are_newest_first(board):
    for name in ("first", "second", "third"):
        post(board, "room-1", name, RESULT)
    assert [e.nickname for e in board.entries("room-1")] == ["third", "second", "first"]


def test_a_later_post_by_the_same_nickname_replaces_theirs(board):
    first = post(board, "room-1", "Ana", RESULT)
    post(board, "room-1", "Bo", RESULT)
    better = post(board, "room-1", "Ana", result(size_bytes=100_000, variant="int8-static"))
    entries = board.entries("room-1")
    assert [e.nickname for e in entries] == ["Ana", "Bo"]
    assert entries[0] == better and entries[0].result.size_bytes == 100_000
    assert better.posted_at > first.posted_at


# Challenges

def test_a_challenge_ranks_by_its_metric_among_entries_meeting_its_threshold(board):
    post(board, "room-1", "small-but-wrong", result(accuracy=0.979, size_bytes=10))
    post(board, "room-1", "big", result(accuracy=0.99, size_bytes=900_000))
    post(board, "room-1", "small", result(accuracy=0.98, size_bytes=50_000))
    post(board, "room-1", "medium", result(accuracy=0.985, size_bytes=200_000))
    assert SMALLEST.min_accuracy == 0.98 and SMALLEST.title == "Smallest model at ≥ 98 % accuracy"
    assert [e.nickname for e in board.leaders("room-1", SMALLEST)] == ["small", "medium", "big"]


def test_each_challenge_uses_its_own_metric_and_threshold(board):
    post(board, "room-1", "green", result(accuracy=0.975, energy_j_per_1000_images=0.5, latency_ms=0.9))
    post(board, "room-1", "fast", result(accuracy=0.99, energy_j_per_1000_images=3.0, latency_ms=0.1))
    assert [e.nickname for e in board.leaders("room-1", GREENEST)] == ["green", "fast"]
    assert [e.nickname for e in board.leaders("room-1", FASTEST)] == ["fast"]  # green is under 98 %
    stricter = dataclasses.replace(GREENEST, min_accuracy=0.99)
    assert [e.nickname for e in board.leaders("room-1", stricter)] == ["fast"]


def test_a_tie_goes_to_the_earlier_post(board):
    for name in ("zed", "amy", "kim"):
        post(board, "room-1", name, result(size_bytes=123_456))
    assert [e.nickname for e in board.leaders("room-1", SMALLEST)] == ["zed", "amy", "kim"]


# Hostile and unusual nicknames: stored as typed, returned as typed, never escaped

@pytest.mark.parametrize("nickname", [
    "<svg onload=alert(1)>", "<script>x</script>", "Robert'); DROP TABLE--", "' OR '1'='1", "a\\'; --%_",
    "🦊" * 24, "Zoë & <b>Ünal</b>",
])
def test_hostile_looking_nicknames_are_stored_and_returned_verbatim(board, nickname):
    post(board, "room-1", nickname, RESULT)
    post(board, "room-1", "next", RESULT)  # the table still works after it
    assert {e.nickname for e in board.entries("room-1")} == {nickname, "next"}


@pytest.mark.parametrize("nickname, message", [
    ("<script>alert(1)</script>", "at most 24 characters; this one has 25"),
    ("x" * 25, "at most 24 characters"), ("🦊" * 25, "at most 24 characters; this one has 25"),
    ("", "Type a nickname"), ("   \t ", "Type a nickname"), ("\u200b\u200e", "Type a nickname"),
    ("Ana\nBob", "one line"), ("Ana\r\nBob", "one line"),
])
def test_unusable_nicknames_are_refused_with_one_line(board, nickname, message):
    with pytest.raises(ValueError, match=message) as refused:
        post(board, "room-1", nickname, RESULT)
    assert "\n" not in str(refused.value)
    assert board.entries("room-1") == []


def test_control_characters_are_removed_from_a_nickname(board):
    assert post(board, "room-1", "\tA\x00n\u202ea\x07\u200b \n", RESULT).nickname == "Ana"
    assert [e.nickname for e in board.entries("room-1")] == ["Ana"]


def test_every_read_is_bounded(board, monkeypatch):
    from dashboard.service import board as service_board

    monkeypatch.setattr(service_board, "READ_LIMIT", 3)
    for i in range(5):
        post(board, "room-1", f"n{i}", result(accuracy=0.99))
    assert len(board.entries("room-1")) == 3 and len(board.entries("room-1", limit=50)) == 3
    assert len(board.leaders("room-1", SMALLEST)) == 3 and board.count("room-1") == 5


# A board file from before nicknames had owners (class_board alone, no indexes)

OLD_SCHEMA = """CREATE TABLE class_board (class_code VARCHAR(16) NOT NULL, nickname VARCHAR(24) NOT NULL,
    accuracy FLOAT NOT NULL, size_bytes BIGINT NOT NULL, latency_ms FLOAT NOT NULL,
    energy_j_per_1000_images FLOAT NOT NULL, energy_measured BOOLEAN NOT NULL, energy_note VARCHAR(80) NOT NULL,
    variant VARCHAR(80) NOT NULL, model VARCHAR(40) NOT NULL, dataset VARCHAR(40) NOT NULL,
    posted_at DATETIME NOT NULL, PRIMARY KEY (class_code, nickname))"""


def test_a_board_file_from_before_nickname_owners_opens_with_its_entries(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(OLD_SCHEMA)
        db.execute("INSERT INTO class_board VALUES ('ROOM-1', 'Ana', 0.985, 400000, 0.25, 2.0, 0, 'estimated', "
                   "'int8-static', 'cnn', 'digits', '2026-11-01 10:00:00.000000')")
    db.close()
    board = Board(f"sqlite:///{path}", rate=None)
    [old] = board.entries("room-1")
    assert (old.nickname, old.result.variant, old.posted_at.year) == ("Ana", "int8-static", 2026)
    with sqlite3.connect(path) as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert {"board_nicknames", "board_classes", "class_board_newest", "class_board_size"} <= names
    # An entry from before has no owner: the first session to post under its nickname takes it (replacing it).
    assert board.post("room-1", "Ana", result(size_bytes=1), owner="a1").result.size_bytes == 1
    with pytest.raises(ValueError, match="already taken"):
        board.post("room-1", "ana", RESULT, owner="b2")
    assert [e.nickname for e in board.entries("room-1")] == ["Ana"]


# Class codes

def test_class_codes_are_case_insensitive_and_isolated(board):
    post(board, "room-a", "Ana", RESULT)
    post(board, "ROOM-B", "Bo", RESULT)
    post(board, "Room-A", "Cy", result(size_bytes=1_000))
    assert [e.nickname for e in board.entries("ROOM-A")] == ["Cy", "Ana"]
    assert [e.nickname for e in board.entries("room-b")] == ["Bo"]
    assert [e.nickname for e in board.leaders("room-b", SMALLEST)] == ["Bo"]
    assert board.entries("room-c") == []


@pytest.mark.parametrize("code", ["", "room 1", "x" * 17, "ÄBC", "room_1", "r;--"])
def test_bad_class_codes_are_refused(board, code):
    with pytest.raises(ValueError, match="class code is 1 to 16 letters, digits or '-'"):
        post(board, code, "Ana", RESULT)


def test_clear_removes_only_that_class(board):
    post(board, "room-a", "Ana", RESULT)
    post(board, "room-a", "Bo", RESULT)
    post(board, "room-b", "Cy", RESULT)
    assert board.clear("Room-A", by=PRESENTER) == 2
    assert board.entries("room-a") == [] and len(board.entries("room-b")) == 1
    assert board.clear("room-a", by=PRESENTER) == 0


# Numbers and texts out of range

@pytest.mark.parametrize("change, message", [
    ({"accuracy": 1.2}, "accuracy must be from 0 to 1"), ({"accuracy": float("nan")}, "accuracy"),
    ({"size_bytes": 0}, "model size"), ({"size_bytes": 10.5}, "model size"),
    ({"latency_ms": 0.0}, "batch-1 latency"), ({"latency_ms": float("inf")}, "batch-1 latency"),
    ({"energy_j_per_1000_images": -0.1}, "energy per 1,000 images"), ({"accuracy": True}, "accuracy"),
    ({"variant": "v" * 81}, "variant must be 1 to 80 characters; it has 81"), ({"model": ""}, "model name"),
])
def test_numbers_and_texts_out_of_range_are_refused(board, change, message):
    with pytest.raises(ValueError, match=message):
        post(board, "room-1", "Ana", result(**change))
    assert board.entries("room-1") == []


def test_zero_energy_and_texts_are_cleaned_into_one_line(board):
    entry = post(board, "room-1", "Ana", result(energy_j_per_1000_images=0, energy_note="measured:\nRAPL\x00",
                                               energy_measured=True))
    assert entry.result.energy_note == "measured: RAPL" and entry.result.energy_j_per_1000_images == 0
    assert board.entries("room-1")[0].result == entry.result


# Many sessions at once

def test_eight_threads_posting_at_once_all_land(url):
    start = threading.Barrier(8)
    failures = []

    def student(n: int) -> None:
        try:
            start.wait()
            board = Board(url, rate=None)  # each session opens its own Board: they share one engine
            for attempt in range(10):
                post(board, "room-1", f"student-{n}", result(size_bytes=1_000 * (n + 1) + attempt))
                post(board, "room-2", f"student-{n}-{attempt}", RESULT)
        except Exception as e:  # noqa: BLE001  every failure is reported below
            failures.append(repr(e))

    threads = [threading.Thread(target=student, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    board = Board(url)
    assert sorted(e.result.size_bytes for e in board.entries("room-1")) == [1_000 * (n + 1) + 9 for n in range(8)]
    assert len(board.entries("room-2")) == 80


# Where the board lives, and when it cannot be reached

@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "not-yet" / "lab"
    settings.override(ServerSettings(data_dir=str(folder)))
    yield folder
    settings.override(None)


def test_without_a_url_the_board_is_a_sqlite_file_in_the_data_folder(data_dir):
    post(Board(), "room-1", "Ana", RESULT)
    assert (data_dir / "board.sqlite3").is_file()
    assert [e.nickname for e in Board.configured().entries("room-1")] == ["Ana"]


def test_the_settings_read_the_data_folder_and_database_url(tmp_path):
    s, errors = settings.load({"TRAIN_INFER_LAB_DATA_DIR": f" {tmp_path} ",
                               "TRAIN_INFER_LAB_DATABASE_URL": "postgresql://lab:pw@db:5432/board"})
    assert errors == [] and (s.data_dir, s.database_url) == (str(tmp_path), "postgresql://lab:pw@db:5432/board")
    assert "pw" not in repr(s)
    assert settings.load({})[0].data_dir == "" and settings.load({})[0].database_url == ""


def test_a_bad_database_url_setting_is_reported_without_its_password():
    s, errors = settings.load({"TRAIN_INFER_LAB_DATABASE_URL": "mysql://lab:hunter2@db/board"})
    assert s.database_url == "" and len(errors) == 1
    assert "hunter2" not in errors[0] and "lab:***@db" in errors[0]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("url", [
    "postgresql://student:s3cret-pw@127.0.0.1:{closed_port}/board",   # filled in by the test: one id per run
    "postgresql+psycopg://student:s3cret-pw@127.0.0.1:notaport/board",
    "mysql://student:s3cret-pw@127.0.0.1/board",
    "sqlite://",
])
def test_an_unreachable_board_raises_one_line_without_the_password(url):
    with pytest.raises(BoardUnavailable) as unavailable:
        Board(url.format(closed_port=_closed_port())).entries("room-1")
    message = str(unavailable.value)
    assert "s3cret-pw" not in message and "\n" not in message and message.startswith("The class board")


def test_the_energy_note_says_measured_or_estimated_and_with_what():
    def e(measured: bool, method: str = "", **assumptions):
        reading = SimpleNamespace(assumptions=assumptions)
        return SimpleNamespace(measured=measured, method=method, readings=[reading])
    assert energy_note(e(True, "measured: RAPL")) == "measured: RAPL"
    assert energy_note(e(False, cpu_watts_total=45.0, ram_watts=3.0)) == \
        "estimated: CPU time x 45 W + RAM 3 W (lab defaults)"
    assert energy_note(e(False, cpu_watts_total=45.0)) == "estimated: CPU time x 45 W (lab defaults)"
    assert energy_note(e(False)) == "estimated: CodeCarbon's CPU model (lab defaults)"
    assert len(energy_note(e(True, "measured: " + "x" * 200))) == 80


def test_every_open_tab_of_a_class_shares_one_bounded_read_and_a_post_shows_at_once(board, monkeypatch):
    from dashboard.service import board as service_board

    monkeypatch.setattr(service_board, "SHOWN_ENTRIES", 5)
    for i in range(8):
        post(board, "room-s", f"nick{i}", result(accuracy=0.99, latency_ms=1.0 + i))
    first = service_board.snapshot(board, "room-s")
    assert first.total == 8 and [e.nickname for e in first.entries] == [f"nick{i}" for i in range(7, 2, -1)]
    assert all(len(v) <= service_board.TOP for v in first.leaders.values())
    assert [e.nickname for e in first.leaders["fastest"]] == ["nick0", "nick1", "nick2"]
    assert service_board.snapshot(board, "ROOM-S") is first          # another tab, within the refresh: no read
    post(board, "room-s", "late", result(accuracy=0.99, latency_ms=0.5))
    after = service_board.snapshot(board, "room-s")                  # a post is seen at once by everyone
    assert after is not first and after.total == 9 and after.leaders["fastest"][0].nickname == "late"
    board.clear("room-s", by=PRESENTER)
    assert service_board.snapshot(board, "room-s").total == 0
