"""The room together: the run-of-show step that students who follow the presenter see, and the questions the
presenter asks at a step, with one answer per session.

    room = Room.configured()                  # beside the class board, in its database (service.board)
    room.move(s, "compress")                  # the presenter only: followers open that step's page
    room.snapshot()                           # RoomState: the step, its move number, the latest questions
    q = room.open(s, "compress", "ROOM-12")   # the presenter only; at most MAX_OPEN open at once
    room.answer(q.id, 4.0, owner=t.public_id, nickname="Ada")   # a second answer replaces the first
    room.close(s, q.id); room.reveal(s, q.id)  # the presenter only; the reveal stores what was measured
    room.answers(q.id), room.count(q.id), room.answer_of(q.id, t.public_id)

Stored with the class board (SQLite by default, PostgreSQL when TRAIN_INFER_LAB_DATABASE_URL is set), so every
copy of the app on one database shares the room, and a restart keeps it. One presenter per server, one room.

Every follower's tab asks for the room's state every few seconds: `snapshot` reads it from the database at most
once per SNAPSHOT_S for all the tabs of the process (a primary-key row and a bounded list), and a write made here
is seen at once. The presenter's actions check the presenter key where they run (service.authority), so a student
who calls them some other way than their buttons is refused the same. An answer is checked against its question
(course.room_questions: a number in range, one of the options), a nickname is the board's kind of nickname and
may not be one another session holds on the class board or in the question's answers; each question takes at
most MAX_ANSWERS answers (a room's size, with room to spare) and a session answers at a bounded rate.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, DateTime, Float, Index, Integer, MetaData, String, Table, delete, func, select, update

from dashboard.course import replay, room_questions, run_of_show
from dashboard.course.room_questions import Answer, Measured, Question
from dashboard.lab import settings
from dashboard.service import authority
from dashboard.service.board import Board
from dashboard.service.board_posts import (
    MAX_NICKNAME,
    PostRate,
    Refused,
    _wait_text,
    clean_class_code,
    clean_nickname,
    look_alike_keys,
)

ROOM = "room"               # one presenter per server: one room, one row
OPEN, CLOSED, REVEALED = "open", "closed", "revealed"
SNAPSHOT_S = 1.0            # the room's state is read at most this often per process, for every tab that asks
MAX_OPEN = 3                # questions open at once: the presenter closes one before opening a fourth
MAX_ANSWERS = 500           # answers per question: a room of ~30, a lecture hall of a few hundred
MAX_ROUNDS = 100            # questions kept; opening another forgets the oldest, with their answers
SHOWN_ROUNDS = 20           # the newest questions a snapshot holds (the open ones are among them: MAX_OPEN)
OPEN_FOR = timedelta(hours=3)     # an open question takes answers this long at most (a workshop), then is closed
FOLLOW_FOR = timedelta(hours=8)   # a step moved to longer ago than this is yesterday's room: nobody is sent there
# Answers per session: 5 in any 30 s (change your mind a few times) and 60 an hour; a flood gets 5 in.
ANSWER_WINDOWS = ((5, 30.0), (60, 3600.0))
ANSWER_RATE = PostRate(ANSWER_WINDOWS)   # this server's: every Room of the process shares it

_metadata = MetaData()
_state = Table(
    "room_state", _metadata,
    Column("room", String(16), primary_key=True),
    Column("step_key", String(30)),                    # None: the presenter has not moved the room yet
    Column("step_seq", Integer, nullable=False),       # moves so far: a follower goes along when it changes
    Column("version", Integer, nullable=False),        # any change a follower's page redraws for
    Column("moved_at", DateTime(timezone=True)),
)
_questions = Table(
    "room_questions", _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("room", String(16), nullable=False),
    Column("step_key", String(30), nullable=False),    # the run-of-show step whose question it is
    Column("class_code", String(16)),                  # whose class board holds the room's measured values
    Column("state", String(8), nullable=False),        # OPEN, CLOSED, REVEALED
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("measured_value", Float),                   # stored at the reveal (None: nothing was measured)
    Column("measured_text", String(300)),
    Column("measured_source", String(400)),
    Column("board_note", String(200)),                 # why the class board did not give it, when it did not
    Index("room_questions_newest", "room", "id"),
)
_answers = Table(
    "room_answers", _metadata,
    Column("question_id", Integer, primary_key=True),
    Column("owner", String(64), primary_key=True),     # the answering session's public_id: one answer each
    Column("value", Float, nullable=False),            # the number, or the option's index
    Column("nickname", String(MAX_NICKNAME)),          # None: anonymous
    Column("folded_key", String(64)),                  # the nickname's look-alike keys (board_posts.look_alike_keys)
    Column("written_key", String(64)),
    Column("answered_at", DateTime(timezone=True), nullable=False),
    Index("room_answers_folded", "question_id", "folded_key"),
    Index("room_answers_written", "question_id", "written_key"),
)


@dataclass(frozen=True)
class Round:
    """One opening of a step's question."""

    id: int
    step_key: str
    class_code: str | None
    state: str
    opened_at: datetime
    measured: Measured | None = None
    board_note: str = ""

    @property
    def is_open(self) -> bool:
        return self.state == OPEN


@dataclass(frozen=True)
class RoomState:
    """The room as a follower's page reads it."""

    step_key: str | None      # the step followers are sent to (None: none yet, or yesterday's)
    step_seq: int             # how many moves so far
    version: int              # changes with every move, question opened, closed or revealed
    rounds: tuple[Round, ...]  # the newest questions, newest first
    taken_at: float = 0.0

    def open_rounds(self) -> list[Round]:
        return [r for r in self.rounds if r.is_open]

    def latest(self, step_key: str) -> Round | None:
        """The newest round of a step's question."""
        return next((r for r in self.rounds if r.step_key == step_key), None)


_rooms: dict[tuple, Room] = {}
_rooms_lock = threading.Lock()
_ready: set[str] = set()
_ready_lock = threading.Lock()
_cache: dict[tuple[str, str], RoomState] = {}
_cache_lock = threading.Lock()


def _utc(t: datetime | None) -> datetime | None:
    """SQLite keeps no zone (every time stored here is UTC), PostgreSQL its session's."""
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


class Room:
    """The room of one server, in `board`'s database. `steps`: the run of show's steps (the bundled ones by
    default); `rate`: answers per session (None: no rate, for scripts); `clock`: now, in UTC."""

    def __init__(self, board: Board, name: str = ROOM, *, steps: Callable[[], list] = run_of_show.steps,
                 rate: PostRate | None = ANSWER_RATE, max_open: int = MAX_OPEN, max_answers: int = MAX_ANSWERS,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.board, self.name = board, name
        self._steps, self._rate, self._clock = steps, rate, clock
        self.max_open, self.max_answers = max_open, max_answers
        with _ready_lock:   # the tables once per database per process, beside the board's
            if board.key not in _ready:
                with board.transaction() as conn:
                    _metadata.create_all(conn)
                _ready.add(board.key)

    @classmethod
    def configured(cls) -> Room:
        """The room of this server's board (TRAIN_INFER_LAB_DATABASE_URL, else SQLite), made once per setting:
        followers ask for it every few seconds. BoardUnavailable when its database cannot be reached."""
        now = settings.current()
        key = (now.database_url, now.data_dir, os.environ.get("XDG_DATA_HOME"), os.environ.get("HOME"))
        with _rooms_lock:
            if key not in _rooms:
                _rooms.clear()   # the settings changed (tests): the earlier room is not asked for again
                _rooms[key] = cls(Board.configured())
            return _rooms[key]

    # ------------------------------------------------------------ reading

    def snapshot(self, fresh: bool = False) -> RoomState:
        """The room's state, read at most once per SNAPSHOT_S for every tab of the process (`fresh`: now)."""
        key = (self.board.key, self.name)
        with _cache_lock:   # one tab reads; the others wait for it and share what it read
            snap = _cache.get(key)
            if fresh or snap is None or time.monotonic() - snap.taken_at > SNAPSHOT_S:
                snap = self._read()
                _cache[key] = snap
            return snap

    def _read(self) -> RoomState:
        now = self._clock()
        with self.board.transaction() as conn:
            row = conn.execute(select(_state).where(_state.c.room == self.name)).mappings().first()
            rows = conn.execute(select(_questions).where(_questions.c.room == self.name)
                                .order_by(_questions.c.id.desc()).limit(SHOWN_ROUNDS)).mappings().all()
        rounds = tuple(self._round(r, now) for r in rows)
        if row is None:
            return RoomState(None, 0, 0, rounds, time.monotonic())
        moved = _utc(row["moved_at"])
        step = row["step_key"] if moved is not None and now - moved <= FOLLOW_FOR else None
        return RoomState(step, row["step_seq"], row["version"], rounds, time.monotonic())

    def _round(self, row, now: datetime) -> Round:
        opened = _utc(row["opened_at"])
        state = row["state"]
        if state == OPEN and now - opened > OPEN_FOR:
            state = CLOSED
        found = (Measured(row["measured_value"], row["measured_text"] or "", row["measured_source"] or "")
                 if row["measured_value"] is not None else None)
        return Round(row["id"], row["step_key"], row["class_code"], state, opened, found, row["board_note"] or "")

    def round(self, question_id: int) -> Round:
        """One question of the room; ValueError when it has none by that id."""
        with self.board.transaction() as conn:
            row = conn.execute(select(_questions).where(_questions.c.id == int(question_id),
                                                        _questions.c.room == self.name)).mappings().first()
        if row is None:
            raise ValueError("That question is no longer asked.")
        return self._round(row, self._clock())

    def question(self, step_key: str) -> Question:
        """The question of a run-of-show step; ValueError when the step has none."""
        step = next((s for s in self._steps() if s.key == step_key), None)
        if step is None or step.question is None:
            raise ValueError(f"The run of show has no question at step {step_key!r}.")
        return step.question

    def answers(self, question_id: int) -> list[Answer]:
        """A question's answers, oldest first (MAX_ANSWERS at most, as stored)."""
        with self.board.transaction() as conn:
            rows = conn.execute(select(_answers.c.value, _answers.c.nickname)
                                .where(_answers.c.question_id == int(question_id))
                                .order_by(_answers.c.answered_at, _answers.c.owner).limit(self.max_answers)).all()
        return [Answer(r.value, r.nickname) for r in rows]

    def count(self, question_id: int) -> int:
        with self.board.transaction() as conn:
            return conn.execute(select(func.count()).select_from(_answers)
                                .where(_answers.c.question_id == int(question_id))).scalar_one()

    def answer_of(self, question_id: int, owner: str) -> Answer | None:
        """This session's answer to a question, if it gave one."""
        with self.board.transaction() as conn:
            row = conn.execute(select(_answers.c.value, _answers.c.nickname)
                               .where(_answers.c.question_id == int(question_id), _answers.c.owner == owner)).first()
        return None if row is None else Answer(row.value, row.nickname)

    # ------------------------------------------------------------ the presenter's actions

    def move(self, by, step_key: str) -> RoomState:
        """Send the room to a step: followers open its page. The presenter only (authority.NotPresenter)."""
        authority.require(by, "move the room to another step")
        if not any(s.key == step_key for s in self._steps()):
            raise ValueError(f"The run of show has no step {step_key!r}.")
        with self.board.transaction() as conn:
            self._lock(conn)
            conn.execute(update(_state).where(_state.c.room == self.name).values(
                step_key=step_key, step_seq=_state.c.step_seq + 1, moved_at=self._clock()))
        return self._changed()

    def open(self, by, step_key: str, class_code: str | None = None) -> Round:
        """Open a step's question for answers (its round already open, if there is one). `class_code`: whose
        class board holds the room's measured values. Refused past `max_open` open questions."""
        authority.require(by, "open a question for the room")
        self.question(step_key)
        code = clean_class_code(class_code) if class_code and class_code.strip() else None
        now = self._clock()
        with self.board.transaction() as conn:
            self._lock(conn)
            rows = conn.execute(select(_questions).where(_questions.c.room == self.name, _questions.c.state == OPEN)
                                .order_by(_questions.c.id.desc()).limit(SHOWN_ROUNDS)).mappings().all()
            open_now = [r for r in (self._round(row, now) for row in rows) if r.is_open]
            mine = next((r for r in open_now if r.step_key == step_key), None)
            if mine is not None:
                return mine
            if len(open_now) >= self.max_open:
                raise Refused(f"{len(open_now)} questions are open already, the most at once: close one first.")
            new_id = conn.execute(_questions.insert().values(
                room=self.name, step_key=step_key, class_code=code, state=OPEN, opened_at=now)).inserted_primary_key[0]
            self._forget_old(conn)
        self._changed()
        return Round(new_id, step_key, code, OPEN, now)

    def _forget_old(self, conn) -> None:
        """Past MAX_ROUNDS questions, the oldest go, with their answers."""
        keep = select(_questions.c.id).where(_questions.c.room == self.name).order_by(_questions.c.id.desc()) \
            .limit(MAX_ROUNDS).subquery()
        old = [r.id for r in conn.execute(select(_questions.c.id).where(
            _questions.c.room == self.name, _questions.c.id.not_in(select(keep.c.id)))).all()]
        if old:
            conn.execute(delete(_answers).where(_answers.c.question_id.in_(old)))
            conn.execute(delete(_questions).where(_questions.c.id.in_(old)))

    def close(self, by, question_id: int) -> Round:
        """No more answers to a question (they are kept for the reveal). The presenter only."""
        authority.require(by, "close a question")
        r = self.round(question_id)
        with self.board.transaction() as conn:
            self._lock(conn)
            conn.execute(update(_questions).where(_questions.c.id == r.id, _questions.c.state == OPEN)
                         .values(state=CLOSED, closed_at=self._clock()))
        self._changed()
        return self.round(question_id)

    def reveal(self, by, question_id: int) -> Round:
        """Close a question and store the room's measured value beside its answers (the class board of its
        class code, else the step's replay): what every screen then shows. The presenter only."""
        authority.require(by, "reveal a question's answers")
        r = self.round(question_id)
        found, note = self.measure(r)
        with self.board.transaction() as conn:
            self._lock(conn)
            conn.execute(update(_questions).where(_questions.c.id == r.id).values(
                state=REVEALED, closed_at=func.coalesce(_questions.c.closed_at, self._clock()),
                measured_value=found.value if found else None, measured_text=found.text[:300] if found else None,
                measured_source=found.source[:400] if found else None, board_note=note[:200]))
        self._changed()
        return self.round(question_id)

    def measure(self, r: Round) -> tuple[Measured | None, str]:
        """The room's measured value for a round's question: its class board's posts, else the step's replay
        (the lesson replay where the step names none); and why the board did not give it."""
        q = self.question(r.step_key)
        rows = [e.result for e in self.board.entries(r.class_code)] if r.class_code else []
        step = next(s for s in self._steps() if s.key == r.step_key)

        def from_replay():
            try:
                found = replay.peek(step.replay or "lesson")
            except replay.ReplayError:
                return None
            return found.label, found.evidence()

        return room_questions.measured(q, rows, r.class_code, from_replay)

    # ------------------------------------------------------------ a student's answer

    def answer(self, question_id: int, value, *, owner: str, nickname: str | None = None) -> Answer:
        """Store this session's answer (`owner`: its public_id), replacing its earlier one. ValueError for an
        answer that is not one (out of range, no such option, a nickname that is not one); Refused when the
        question is closed, full, the nickname is another session's, or the session answers too often."""
        r = self.round(question_id)
        if not r.is_open:
            raise Refused("This question is closed: the presenter is no longer taking answers.")
        stored = self.question(r.step_key).check(value)
        name = clean_nickname(nickname) if nickname and nickname.strip() else None
        keys = look_alike_keys(name) if name else (None, None)
        if name and r.class_code and self.board.nickname_owner(r.class_code, name) not in (None, owner):
            raise Refused(f"That nickname, or one that looks like it, is another session's on the class board of "
                          f"{r.class_code}: choose another, or leave it empty to answer anonymously.")
        held = self._reserve(owner)
        try:
            with self.board.transaction() as conn:
                # The question's row first, as a lock: answers to one question go one at a time, so two sessions
                # cannot both take the last place or one nickname.
                locked = conn.execute(update(_questions).where(_questions.c.id == r.id, _questions.c.state == OPEN)
                                      .values(state=OPEN)).rowcount
                if not locked or self._clock() - r.opened_at > OPEN_FOR:
                    raise Refused("This question is closed: the presenter is no longer taking answers.")
                others = conn.execute(select(func.count()).select_from(_answers).where(
                    _answers.c.question_id == r.id, _answers.c.owner != owner)).scalar_one()
                if others >= self.max_answers:
                    raise Refused(f"This question has its {self.max_answers} answers already: no more are taken.")
                if name and conn.execute(select(_answers.c.owner).where(
                        _answers.c.question_id == r.id, _answers.c.owner != owner,
                        (_answers.c.folded_key.in_(keys)) | (_answers.c.written_key.in_(keys))).limit(1)).first():
                    raise Refused("Another session answered this question under that nickname, or one that looks "
                                  "like it: choose another, or leave it empty to answer anonymously.")
                row = {"question_id": r.id, "owner": owner, "value": stored, "nickname": name,
                       "folded_key": keys[0], "written_key": keys[1], "answered_at": self._clock()}
                insert = self.board.insert(_answers).values(row)
                conn.execute(insert.on_conflict_do_update(
                    index_elements=["question_id", "owner"],
                    set_={k: insert.excluded[k] for k in row if k not in ("question_id", "owner")}))
        except BaseException:
            if held is not None:
                self._rate.release(owner, held)   # a refused or failed answer does not count against the rate
            raise
        return Answer(stored, name)

    def _reserve(self, owner: str) -> float | None:
        if self._rate is None:
            return None
        try:
            return self._rate.reserve(owner)
        except Refused as e:
            raise Refused(f"Too many answers from this session just now: you can answer again in "
                          f"{_wait_text(e.retry_after_s or 1)}.", e.retry_after_s) from None

    # ------------------------------------------------------------ plumbing

    def _lock(self, conn) -> None:
        """The room's row, made if missing and taken first: the presenter's changes go one at a time, and each
        one counts as a change (its version) that followers' pages redraw for."""
        conn.execute(self.board.insert(_state).values(room=self.name, step_key=None, step_seq=0, version=0,
                                                 moved_at=None).on_conflict_do_nothing(index_elements=["room"]))
        conn.execute(update(_state).where(_state.c.room == self.name).values(version=_state.c.version + 1))

    def _changed(self) -> RoomState:
        """After a change here: this process's tabs see it at once."""
        return self.snapshot(fresh=True)


def forget_all() -> None:
    """Drop every cached room state (tests that make rooms of their own)."""
    with _cache_lock:
        _cache.clear()
