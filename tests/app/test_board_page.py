"""The Class board page: a student posts one of their own measured versions under a nickname to a class
code (from the link or typed), sees it in the room's table and the challenges; nicknames show as typed,
as text; another class does not see it, the same class does; the presenter clears it; a board that
cannot be reached is one error line. The board lives in a temporary data folder, never the user's
(the data_dir fixture, tests/app/conftest.py)."""

from __future__ import annotations

import dataclasses
import os
import socket

import pytest

from dashboard.lab import settings
from dashboard.lab.energy import EnergySettings
from dashboard.service.board import Board
from dashboard.service.board_posts import CHALLENGES
from dashboard.ui import board_view, presenter
from dashboard.ui.share import plain
from tests.app.drive import button, fresh, give_measured, open_page, session

PAGE = "app_pages/board.py"
HOSTILE = "<b>x</b>"


def _env(name: str, value: str | None):
    """Set (or, with None, remove) one variable and re-read the settings; returns a function restoring it."""
    before = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    settings.override(None)

    def restore() -> None:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
        settings.override(None)
    return restore


@pytest.fixture
def measured_app(data_dir, tiny_measured):
    """An AppTest whose session has a tiny trained model and its int8-static version measured (a copy of the
    run's one, conftest's tiny_measured: trained and measured through the pages once)."""
    at = fresh()
    give_measured(at, tiny_measured)
    # These tests post; a test machine busy with other work may leave a figure disturbed, and a disturbed
    # figure cannot be posted (tests/service/test_shared_and_sessions.py checks that). Here they count as quiet.
    s = session(at)
    s.results = [dataclasses.replace(r, disturbed={}) for r in s.results]
    return at


def open_board(at, code: str | None = None):
    if code is not None:
        at.query_params[board_view.PARAM] = code
    return open_page(at, PAGE)


def post(at, nickname: str, version: str | None = None):
    at.text_input(key=board_view.NICK_KEY).set_value(nickname)
    if version is not None:
        at.selectbox(key=board_view.VERSION_KEY).set_value(version)
    at.run()
    button(at, "Post to the board").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def tables(at):
    """(the room's entries, [each challenge's top 3]) as DataFrames."""
    frames = [d.value for d in at.dataframe]
    room = [f for f in frames if "version" in f.columns]
    return (room[0] if room else None), [f for f in frames if "#" in f.columns]


def test_without_a_measurement_the_page_points_to_compress(data_dir):
    at = open_board(fresh(), "room-1")
    assert any("Measure your model first" in i.value for i in at.info)
    assert at.text_input(key=board_view.CLASS_KEY).value == "ROOM-1"
    assert not at.error


def test_post_see_it_in_the_table_and_challenges_other_class_does_not(data_dir, measured_app, monkeypatch):
    at = measured_app
    s = session(at)
    assert [r.name for r in s.results] == ["fp32", "int8-static"]

    # The class code comes from the link (cleaned, remembered) and leaves the address bar.
    open_board(at, "room-1")
    assert at.text_input(key=board_view.CLASS_KEY).value == "ROOM-1"
    assert board_view.PARAM not in at.query_params
    room, _ = tables(at)
    assert room is None and any("No entries yet" in c.value for c in at.caption)

    post(at, "Ana", "int8-static")
    assert any("Posted to ROOM-1" in m.value for m in at.success)
    room, challenges = tables(at)
    int8 = next(r for r in s.results if r.name == "int8-static")
    assert list(room["nickname"]) == ["Ana"] and list(room["version"]) == ["int8-static"]
    assert room["accuracy (%)"][0] == pytest.approx(100 * int8.accuracy, abs=0.01)
    assert room["size (KiB)"][0] == pytest.approx(int8.size_bytes / 1024, abs=0.1)
    # The board shows 3 significant digits (0.0446 ms for 0.044646 ms): the figure, rounded to them.
    assert room["latency (ms)"][0] == float(f"{int8.latency_ms_batch1_p50:.3g}")
    assert room["model"][0] == f"{s.trained.spec.name}, {s.trained.dataset}"

    # Energy is priced under the lab's defaults whatever this student assumed: 1,000 W here changes nothing.
    fair = 1000 * int8.energy.with_settings(EnergySettings()).joules_per_image
    assert room["J/1,000 images"][0] == float(f"{fair:.3g}")
    s.set_settings(EnergySettings(cpu_watts=1000.0, ram_watts=100.0))
    post(at, "Ana", "int8-static")
    [entry] = Board.configured().entries("room-1")
    assert entry.result.energy_j_per_1000_images == pytest.approx(fair, rel=1e-6)
    assert entry.result.energy_measured == int8.energy.measured
    assert "lab defaults" in entry.result.energy_note or entry.result.energy_measured
    kind = "measured" if entry.result.energy_measured else "estimated"
    assert entry.result.energy_note.startswith(kind)
    assert any(f"per 1,000 images ({kind})" in m.value for m in at.success)   # never energy without its kind
    assert any("so everyone's is comparable" in c.value for c in at.caption)
    # When the entry was posted and how its energy was obtained, under the table (no nickname there).
    assert any("Newest post at" in c.value and f"Energy: {plain(entry.result.energy_note)}." in c.value
               for c in at.caption)
    s.set_settings(EnergySettings())

    # The challenges, each with its title: a tiny model is under their thresholds (98 %, 97 %) ...
    assert int8.accuracy < min(c.min_accuracy for c in CHALLENGES)
    titles = [m.value for m in at.markdown if m.value.startswith("**") and "accuracy**" in m.value]
    assert titles == [f"**{c.title}**" for c in CHALLENGES]
    assert tables(at)[1] == [] and sum("No entry at ≥" in c.value for c in at.caption) == 3
    # ... so with thresholds it meets, it leads each, with the challenge's figure in its unit.
    monkeypatch.setattr(board_view, "CHALLENGES", [dataclasses.replace(c, min_accuracy=0.1) for c in CHALLENGES])
    at.run()
    _, challenges = tables(at)
    assert [list(t["nickname"]) for t in challenges] == [["Ana"]] * 3
    assert challenges[0]["size (KiB)"][0] == room["size (KiB)"][0]
    assert challenges[1]["J/1,000 images"][0] == room["J/1,000 images"][0]
    assert challenges[2]["latency (ms)"][0] == room["latency (ms)"][0]
    assert (data_dir / "board.sqlite3").is_file()   # the test's folder, not the user's

    # A hostile-looking nickname is shown verbatim, as a table cell (text), and nowhere as markdown.
    post(at, HOSTILE, "fp32")
    room, _ = tables(at)
    assert list(room["nickname"]) == [HOSTILE, "Ana"]
    shown = [e.value for e in (*at.markdown, *at.caption, *at.success, *at.info, *at.warning, *at.error)]
    assert not any(HOSTILE in v or "<b>" in v for v in shown)

    # A second user in another class sees none of it; a third in the same class sees both.
    other = open_board(fresh(), "room-2")
    room, _ = tables(other)
    assert room is None and any("No entries yet" in c.value for c in other.caption)
    same = open_board(fresh(), "Room-1")
    room, _ = tables(same)
    assert list(room["nickname"]) == [HOSTILE, "Ana"]

    # The presenter (in presenter mode: students do not see it) clears the class, behind a confirmation;
    # the other class is untouched.
    Board.configured().post("room-2", "Bo", Board.configured().entries("room-1")[0].result, owner="b0b0")
    assert "Clear this class's board" not in [b.label for b in same.button]
    session(same).presenter = True   # the presenter key was given (service.authority: clearing checks it)
    same.run()                       # the presenter's controls appear ...
    same.toggle(key=presenter.KEY).set_value(True)
    same.run()
    assert any(c.value == "board?class=ROOM-1" for c in same.code)   # the room's link (no address known here)
    assert button(same, "Clear this class's board").disabled
    same.checkbox(key=board_view.SURE_KEY).check()
    same.run()
    button(same, "Clear this class's board").click()
    same.run()
    assert not same.exception
    assert any("2 entries removed" in m.value for m in same.success)
    room, _ = tables(same)
    assert room is None and Board.configured().entries("room-1") == []
    assert [e.nickname for e in Board.configured().entries("room-2")] == ["Bo"]
    assert same.checkbox(key=board_view.SURE_KEY).value is False


def test_bad_class_codes_and_nicknames_are_warnings_with_their_message(data_dir, measured_app):
    at = open_board(measured_app, "room 1;--")
    assert any("A class code is 1 to 16 letters" in w.value for w in at.warning)
    assert at.text_input(key=board_view.CLASS_KEY).value != "room 1;--"
    at.text_input(key=board_view.CLASS_KEY).set_value(" room-9")
    at.run()
    assert at.text_input(key=board_view.CLASS_KEY).value == "ROOM-9"   # shown as the board keys it
    post(at, "x" * 25)
    assert any("A nickname has at most 24 characters; this one has 25." in w.value for w in at.warning)
    post(at, "   ")
    assert any("Type a nickname" in w.value for w in at.warning)
    assert Board.configured().entries("room-9") == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_board_is_one_error_line_and_the_page_keeps_working(data_dir, measured_app):
    restore = _env("TRAIN_INFER_LAB_DATABASE_URL", f"postgresql://lab:s3cret@127.0.0.1:{_closed_port()}/board")
    try:
        at = open_board(measured_app, "room-1")
        assert not at.exception
        assert len(at.error) == 1 and "The class board's database cannot be reached right now" in at.error[0].value
        assert "s3cret" not in at.error[0].value
        assert button(at, "Post to the board").disabled
        assert [t.value for t in at.title] == ["Class board"]
        open_page(at, "app_pages/results.py")   # the session goes on
        assert not at.error
    finally:
        restore()
