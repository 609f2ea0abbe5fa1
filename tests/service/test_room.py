"""The room together (service.room), on SQLite and PostgreSQL: only the presenter moves the room's step and opens,
closes or reveals a question (refused where it runs, nothing changed); one answer per session, a second one
replacing it; every bound with its one line: a number's range, an option that is no option, a nickname that is not
one or is another session's, a closed or revealed or expired question, the open questions and the answers per
question at their caps, a session answering too often; the reveal stores the room's measured value from the class
board's posts, else the step's replay, and says why."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from dashboard.service import authority, room as room_module
from dashboard.service.board import Board
from dashboard.service.board_posts import PostRate, Refused
from dashboard.service.room import CLOSED, OPEN, REVEALED, Room
from dashboard.service.sessions import Session
from tests.service.board_kit import result

NUMBER_STEP, CHOICE_STEP = "compress", "edge"   # the bundled run of show's: int8-speedup-batch1, fits-microcontroller


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def board(url):
    """An empty board and room on the test's database (url: SQLite, then PostgreSQL)."""
    b = Board(url, rate=None)
    Room(b)   # its tables exist from here on
    if b.engine.dialect.name == "postgresql":
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE room_state, room_questions, room_answers RESTART IDENTITY"))
        engine.dispose()
    room_module.forget_all()
    yield b
    room_module.forget_all()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def room(board, clock):
    return Room(board, rate=None, clock=clock)


@pytest.fixture
def presenter():
    s = Session()
    s.presenter = True   # as authority.unlock leaves it (tests/service/test_authority.py types the key)
    return s


def test_a_student_cannot_move_the_room_or_open_close_or_reveal_a_question_and_nothing_changes(room, presenter):
    student = Session()
    for action, args, verb in ((room.move, (NUMBER_STEP,), "move the room"), (room.open, (NUMBER_STEP,), "open a"),):
        with pytest.raises(authority.NotPresenter, match=f"Only the presenter can {verb}"):
            action(student, *args)
    state = room.snapshot(fresh=True)
    assert state.step_key is None and state.step_seq == 0 and state.rounds == ()
    q = room.open(presenter, NUMBER_STEP)
    room.answer(q.id, 2.0, owner=student.public_id)
    for action, verb in ((room.close, "close a question"), (room.reveal, "reveal a question")):
        with pytest.raises(authority.NotPresenter, match=f"Only the presenter can {verb}"):
            action(student, q.id)
    assert room.round(q.id).state == OPEN and room.round(q.id).measured is None
    authority.lock(presenter)   # a session that gave the presenter's controls up is a student again
    with pytest.raises(authority.NotPresenter):
        room.move(presenter, NUMBER_STEP)
    assert room.snapshot(fresh=True).step_key is None


def test_the_presenters_move_is_what_followers_read_and_each_move_counts(room, presenter, board, clock):
    room.move(presenter, "train")
    state = room.move(presenter, NUMBER_STEP)
    assert (state.step_key, state.step_seq) == (NUMBER_STEP, 2)
    again = room.move(presenter, NUMBER_STEP)   # "send them here again": the same step, a new move
    assert again.step_seq == 3 and again.version > state.version
    other = Room(board, clock=clock)   # another tab's Room of the same database reads the same
    assert other.snapshot().step_key == NUMBER_STEP and other.snapshot().step_seq == 3
    with pytest.raises(ValueError, match="no step 'nowhere'"):
        room.move(presenter, "nowhere")
    clock.now += room_module.FOLLOW_FOR + timedelta(minutes=1)   # yesterday's room sends nobody anywhere
    assert room.snapshot(fresh=True).step_key is None


def test_one_answer_per_session_a_second_replaces_the_first(room, presenter):
    q = room.open(presenter, NUMBER_STEP, "room-1")
    a, b = Session(), Session()
    room.answer(q.id, 4.0, owner=a.public_id, nickname="Ada")
    room.answer(q.id, 0.8, owner=b.public_id)
    room.answer(q.id, 1.5, owner=a.public_id, nickname="Ada")
    assert room.count(q.id) == 2
    assert sorted((x.value, x.nickname) for x in room.answers(q.id)) == [(0.8, None), (1.5, "Ada")]
    assert room.answer_of(q.id, a.public_id).value == 1.5 and room.answer_of(q.id, Session().public_id) is None


@pytest.mark.parametrize("value, message", [
    (0.0, r"Answer with a number from 0\.01× to 1,000×: 0× is outside that range"),
    (1e6, r"from 0\.01× to 1,000×: 1 million× is outside"),
    (-2.0, "is outside that range"),
    (math.nan, "Answer with a number"), (math.inf, "Answer with a number"),
    (True, "Answer with a number"), ("4", "Answer with a number"), (None, "Answer with a number"),
])
def test_a_number_out_of_its_range_or_no_number_is_refused_with_one_line(room, presenter, value, message):
    q = room.open(presenter, NUMBER_STEP)
    with pytest.raises(ValueError, match=message):
        room.answer(q.id, value, owner=Session().public_id)
    assert room.count(q.id) == 0


@pytest.mark.parametrize("value", [-1, 4, 1.0, "0", None, True])
def test_a_choice_that_is_no_option_is_refused(room, presenter, value):
    q = room.open(presenter, CHOICE_STEP)
    with pytest.raises(ValueError, match="Pick one of the 4 options"):
        room.answer(q.id, value, owner=Session().public_id)
    room.answer(q.id, 2, owner=Session().public_id)
    assert [a.value for a in room.answers(q.id)] == [2.0]


@pytest.mark.parametrize("nickname, message", [
    ("x" * 25, "at most 24 characters"), ("two\nlines", "one line"), ("\u200b\u200b", "Type a nickname"),
])
def test_a_nickname_that_is_not_one_is_refused(room, presenter, nickname, message):
    q = room.open(presenter, NUMBER_STEP)
    with pytest.raises(ValueError, match=message):
        room.answer(q.id, 2.0, owner=Session().public_id, nickname=nickname)


def test_a_nickname_another_session_holds_on_the_board_or_in_the_answers_is_refused(room, presenter, board):
    ana, ben, cy = Session(), Session(), Session()
    board.post("room-1", "Ana", result(), owner=ana.public_id)
    q = room.open(presenter, NUMBER_STEP, "room-1")
    with pytest.raises(Refused, match="another session's on the class board of ROOM-1"):
        room.answer(q.id, 2.0, owner=ben.public_id, nickname="ANA")   # a look-alike: case never tells names apart
    room.answer(q.id, 2.0, owner=ana.public_id, nickname="Ana")      # her own board nickname
    room.answer(q.id, 3.0, owner=ben.public_id, nickname="Ben")
    with pytest.raises(Refused, match="Another session answered this question under that nickname"):
        room.answer(q.id, 1.0, owner=cy.public_id, nickname="Веn")   # Cyrillic В and е
    room.answer(q.id, 1.0, owner=cy.public_id)                        # anonymous is always open
    assert sorted(a.nickname or "" for a in room.answers(q.id)) == ["", "Ana", "Ben"]


def test_closed_revealed_and_expired_questions_take_no_answers(room, presenter, clock):
    student = Session().public_id
    q = room.open(presenter, NUMBER_STEP)
    room.answer(q.id, 2.0, owner=student)
    assert room.close(presenter, q.id).state == CLOSED
    with pytest.raises(Refused, match="This question is closed"):
        room.answer(q.id, 3.0, owner=student)
    assert room.reveal(presenter, q.id).state == REVEALED
    with pytest.raises(Refused, match="This question is closed"):
        room.answer(q.id, 3.0, owner=student)
    assert [a.value for a in room.answers(q.id)] == [2.0]   # kept as it was when closed
    late = room.open(presenter, CHOICE_STEP)
    clock.now += room_module.OPEN_FOR + timedelta(seconds=1)   # a question left open past a workshop
    assert room.round(late.id).state == CLOSED and not room.snapshot(fresh=True).open_rounds()
    with pytest.raises(Refused, match="This question is closed"):
        room.answer(late.id, 1, owner=student)
    with pytest.raises(ValueError, match="no longer asked"):
        room.answer(10_000, 1.0, owner=student)


def test_at_most_max_open_questions_and_opening_an_open_one_gives_it_back(board, presenter, clock, monkeypatch):
    room = Room(board, rate=None, clock=clock, max_open=2)
    first = room.open(presenter, NUMBER_STEP)
    assert room.open(presenter, NUMBER_STEP).id == first.id
    room.answer(first.id, 2.0, owner=Session().public_id)
    room.open(presenter, CHOICE_STEP)
    with pytest.raises(Refused, match="2 questions are open already, the most at once: close one first"):
        room.open(presenter, "train")
    room.close(presenter, first.id)
    room.open(presenter, "train")
    with pytest.raises(ValueError, match="no question at step 'intro'"):
        room.open(presenter, "intro")
    # Past MAX_ROUNDS, the oldest questions go with their answers.
    monkeypatch.setattr(room_module, "MAX_ROUNDS", 3)
    for r in room.snapshot(fresh=True).open_rounds():
        room.close(presenter, r.id)
    for _ in range(2):
        r = room.open(presenter, NUMBER_STEP)
        room.reveal(presenter, r.id)
    with pytest.raises(ValueError, match="no longer asked"):
        room.round(first.id)
    assert len(room.snapshot(fresh=True).rounds) == 3


def test_answers_per_question_stop_at_the_cap_and_a_replacement_still_counts_once(board, presenter, clock):
    room = Room(board, rate=None, clock=clock, max_answers=2)
    q = room.open(presenter, NUMBER_STEP)
    a, b = Session().public_id, Session().public_id
    room.answer(q.id, 1.0, owner=a)
    room.answer(q.id, 2.0, owner=b)
    with pytest.raises(Refused, match="This question has its 2 answers already"):
        room.answer(q.id, 3.0, owner=Session().public_id)
    room.answer(q.id, 5.0, owner=a)   # already counted: a replacement is not a new answer
    assert room.count(q.id) == 2


def test_a_session_answers_at_a_bounded_rate_and_a_refused_answer_does_not_count(board, presenter, clock):
    t = [0.0]
    room = Room(board, rate=PostRate(((3, 30.0),), clock=lambda: t[0]), clock=clock)
    q = room.open(presenter, NUMBER_STEP)
    me = Session().public_id
    with pytest.raises(ValueError):
        room.answer(q.id, -1.0, owner=me)   # refused before the rate: not counted
    for v in (1.0, 2.0, 3.0):
        room.answer(q.id, v, owner=me)
    with pytest.raises(Refused, match=r"Too many answers from this session just now: you can answer again in 30 s"):
        room.answer(q.id, 4.0, owner=me)
    t[0] = 31.0
    room.answer(q.id, 4.0, owner=me)
    assert [a.value for a in room.answers(q.id)] == [4.0]


def test_the_reveal_stores_the_class_boards_measured_value_else_the_replays_and_says_why(room, presenter, board):
    # Two students posted fp32 and int8-static versions of the cnn: the board's medians give the speed-up.
    board.post("room-1", "Ana", result(variant="fp32", latency_ms=0.30), owner=Session().public_id)
    board.post("room-1", "Ben", result(variant="int8-static", latency_ms=0.40), owner=Session().public_id)
    board.post("room-1", "Cy", result(variant="int8-static", latency_ms=0.50), owner=Session().public_id)
    q = room.open(presenter, NUMBER_STEP, "room-1")
    revealed = room.reveal(presenter, q.id)
    assert revealed.measured.value == pytest.approx(0.30 / 0.45)
    assert revealed.measured.source.startswith("the class board of ROOM-1 (the medians of 1 fp32 entry and 2 "
                                               "int8-static entries of the cnn on digits)")
    assert revealed.board_note == ""
    # Another class has no such posts: the step's replay, labelled as one, and why not the board.
    other = room.open(presenter, NUMBER_STEP, "room-2")
    from_replay = room.reveal(presenter, other.id)
    assert from_replay.measured.source.startswith("a replay: measured on")
    assert from_replay.board_note == "the class board of ROOM-2 holds no posts that give it yet"
    # The board holds no device-profile runs at all: the edge question always comes from the replay.
    edge = room.reveal(presenter, room.open(presenter, CHOICE_STEP, "room-1").id)
    assert edge.measured.value == 2 and edge.board_note == "the class board holds no device-profile runs"
    # What every screen shows after the reveal is what was stored, read back the same.
    assert room.snapshot(fresh=True).latest(CHOICE_STEP).measured == edge.measured
