"""A board that holds (issue 21): hostile nicknames and floods, each refused with one clear line while the
board's rows stay as they were and the refused session can go on posting what is allowed.

Nickname cases run on SQLite (what they test is the text); ownership, caps, floods and clearing run on
SQLite and on the throwaway PostgreSQL (tests/service/conftest.py). The rate uses a clock these tests move by hand:
no test waits or times anything.
"""

from __future__ import annotations

import threading

import pytest

from dashboard.service import authority
from dashboard.service.board import Board
from dashboard.service.board_posts import PostRate, Refused, clean_nickname, look_alike_keys
from dashboard.service.sessions import Session
from tests.service.board_kit import RESULT, Clock, result

CODE = "ROOM-H"
TAKEN = f"is already taken in {CODE} by another session"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def board(url, clock):
    return Board(url, rate=PostRate(clock=clock))


@pytest.fixture
def sqlite_board(tmp_path, clock):
    return Board(f"sqlite:///{tmp_path / 'board.sqlite3'}", rate=PostRate(clock=clock))


def rows(board: Board, code: str = CODE) -> list:
    """Everything the class's board holds, to compare before and after a refusal."""
    return board.entries(code)


def refused(call, *words: str) -> str:
    """Run `call`, which must be refused with a one-line ValueError containing each of `words`."""
    with pytest.raises(ValueError) as e:
        call()
    message = str(e.value)
    assert "\n" not in message and message.endswith("."), message
    for w in words:
        assert w in message, message
    return message


@pytest.fixture
def ana(board):
    """A class where a first session took "Ana"; returns (that session, a second one)."""
    first, second = Session(), Session()
    board.post(CODE, "Ana", RESULT, owner=first.public_id)
    return first, second


def still_postable(board: Board, s: Session, nickname: str = "Bo") -> None:
    """The refused session goes on: a nickname of its own is accepted, the rest of the board as it was."""
    before = {e.nickname: e for e in rows(board)}
    entry = board.post(CODE, nickname, RESULT, owner=s.public_id)
    after = {e.nickname: e for e in rows(board)}
    assert after == {**before, entry.nickname: entry}


# --- nicknames (SQLite) -------------------------------------------------------------------------------

@pytest.mark.parametrize("nickname", ["", "   \t ", "\u200b\u200d\u2060", "\u3164\u3164", "\u2800", "\ufe0f"])
def test_an_empty_or_blank_looking_nickname_is_refused(sqlite_board, nickname):
    board = sqlite_board
    first, second = Session(), Session()
    board.post(CODE, "Ana", RESULT, owner=first.public_id)
    before = rows(board)
    refused(lambda: board.post(CODE, nickname, RESULT, owner=second.public_id), "Type a nickname (1 to 24")
    assert rows(board) == before
    still_postable(board, second)


@pytest.mark.parametrize("nickname, length", [("x" * 25, 25), ("\ufdfa" * 2, 36), ("🦊" * 25, 25)])
def test_a_too_long_nickname_is_refused_counting_what_it_becomes(sqlite_board, nickname, length):
    """Length is counted after NFKC: one ligature character that spells 18 letters counts as 18."""
    s = Session()
    refused(lambda: sqlite_board.post(CODE, nickname, RESULT, owner=s.public_id),
            f"at most 24 characters; this one has {length}")
    assert rows(sqlite_board) == []
    still_postable(sqlite_board, s)


def test_control_characters_and_escape_sequences_are_removed(sqlite_board):
    s = Session()
    entry = sqlite_board.post(CODE, "Bo\x00\x07\x1b[31m \x7f\x9b", RESULT, owner=s.public_id)
    assert entry.nickname == "Bo[31m" and [e.nickname for e in rows(sqlite_board)] == ["Bo[31m"]
    refused(lambda: sqlite_board.post(CODE, "Bo\nBob", RESULT, owner=s.public_id), "one line")


def test_zero_width_characters_inside_a_taken_name_do_not_make_it_another(sqlite_board):
    board = sqlite_board
    first, second = Session(), Session()
    board.post(CODE, "Ana", RESULT, owner=first.public_id)
    before = rows(board)
    for disguised in ("A\u200dn\u200ca", "\u200bAna", "An\u2060a", "Ana\ufe00", "A\u034fna", "Ana\u3164"):
        refused(lambda n=disguised: board.post(CODE, n, RESULT, owner=second.public_id), TAKEN, CODE)
    assert rows(board) == before
    still_postable(board, second)


def test_bidi_overrides_are_removed_and_cannot_disguise_a_taken_name(sqlite_board):
    board = sqlite_board
    first, second = Session(), Session()
    board.post(CODE, "Ana", RESULT, owner=first.public_id)
    before = rows(board)
    # "\u202eanA" shows as "Ana" where the override is obeyed; without it, it is "anA": Ana in other case.
    refused(lambda: board.post(CODE, "\u202eanA\u202c", RESULT, owner=second.public_id), TAKEN)
    refused(lambda: board.post(CODE, "\u2067Ana\u2069", RESULT, owner=second.public_id), TAKEN)
    assert rows(board) == before
    assert board.post(CODE, "\u202eoB", RESULT, owner=second.public_id).nickname == "oB"   # no override stored


@pytest.mark.parametrize("look_alike", [
    "\u0410na",           # Cyrillic capital A
    "\u0430n\u0430",      # Cyrillic small a, twice
    "\u0391n\u03b1",      # Greek capital and small alpha
    "\U0001d400na",       # mathematical bold capital A
    "\u13aana",           # Cherokee letter GO, drawn as A
])
def test_other_alphabets_letters_that_look_like_a_taken_name_are_refused(sqlite_board, look_alike):
    board = sqlite_board
    first, second = Session(), Session()
    board.post(CODE, "Ana", RESULT, owner=first.public_id)
    before = rows(board)
    refused(lambda: board.post(CODE, look_alike, RESULT, owner=second.public_id), TAKEN, "choose another")
    assert rows(board) == before
    still_postable(board, second)


def test_fullwidth_is_the_same_name_and_is_stored_plain(sqlite_board):
    board = sqlite_board
    first, second = Session(), Session()
    assert board.post(CODE, "Ａｎａ", RESULT, owner=first.public_id).nickname == "Ana"   # NFKC
    before = rows(board)
    refused(lambda: board.post(CODE, "Ana", RESULT, owner=second.public_id), TAKEN)
    refused(lambda: board.post(CODE, "Ａｎａ", RESULT, owner=second.public_id), TAKEN)
    assert rows(board) == before


@pytest.mark.parametrize("variant", ["ANA", "ana", "aNA", "ＡＮＡ"])
def test_a_taken_name_in_another_case_is_refused(sqlite_board, variant):
    board = sqlite_board
    first, second = Session(), Session()
    board.post(CODE, "Ana", RESULT, owner=first.public_id)
    before = rows(board)
    refused(lambda: board.post(CODE, variant, RESULT, owner=second.public_id), TAKEN)
    assert rows(board) == before


def test_capital_i_for_small_l_and_digits_for_letters_are_look_alikes(sqlite_board):
    board = sqlite_board
    first, second = Session(), Session()
    board.post(CODE, "Bill", RESULT, owner=first.public_id)
    board.post(CODE, "Oscar", RESULT, owner=first.public_id)
    before = rows(board)
    for look_alike in ("BiII", "Bi1l", "B\u0456ll", "0scar", "BILL"):
        refused(lambda n=look_alike: board.post(CODE, n, RESULT, owner=second.public_id), TAKEN)
    assert rows(board) == before
    # Names that only share letters are not look-alikes.
    assert board.post(CODE, "Billy", RESULT, owner=second.public_id).nickname == "Billy"


@pytest.mark.parametrize("nickname", ["<b>Ana</b>", "**Ana**", "[Ana](http://x.y)", "<img src=x onerror=y>",
                                      "`Ana`", "# Ana"])
def test_html_and_markdown_are_kept_literally_as_text(sqlite_board, nickname):
    """The board stores text and the page shows it only as table cells (text): markup is neither run nor
    refused, and it does not pass for the name inside it (it is shown with its markup)."""
    board = sqlite_board
    first, second = Session(), Session()
    board.post(CODE, "Ana", RESULT, owner=first.public_id)
    entry = board.post(CODE, nickname, RESULT, owner=second.public_id)
    assert entry.nickname == nickname
    assert {e.nickname for e in rows(board)} == {"Ana", nickname}


@pytest.mark.parametrize("nickname", ["Ana' OR '1'='1", "'; DROP TABLE board--", "x\\'; --%_", "1; DELETE FROM x"])
def test_sql_looking_nicknames_are_stored_as_text_and_the_tables_survive(sqlite_board, nickname):
    board = sqlite_board
    first, second = Session(), Session()
    board.post(CODE, "Ana", RESULT, owner=first.public_id)
    assert board.post(CODE, nickname, RESULT, owner=second.public_id).nickname == nickname
    assert {e.nickname for e in rows(board)} == {"Ana", nickname}
    refused(lambda: board.post(CODE, "ANA", RESULT, owner=second.public_id), TAKEN)  # ownership still checked


def test_look_alike_keys_are_those_of_unicodes_confusables():
    same = {look_alike_keys(clean_nickname(n))[0] for n in ("Ana", "ANA", "\u0410na", "Ａｎａ", "\u0391na")}
    assert len(same) == 1
    assert look_alike_keys("Bill")[1] == look_alike_keys("BiII")[1]      # as written: capital I ~ small l
    assert look_alike_keys("Sam")[0] == look_alike_keys("Sarn")[0]       # "rn" ~ "m" (confusables.txt)
    assert look_alike_keys("Ana")[0] != look_alike_keys("Ana2")[0] != look_alike_keys("Ann")[0]


# --- ownership, caps, floods, clearing (SQLite and PostgreSQL) -------------------------------------------

def test_another_session_cannot_reuse_a_taken_nickname(board, ana):
    first, second = ana
    before = rows(board)
    refused(lambda: board.post(CODE, "Ana", result(size_bytes=1), owner=second.public_id), TAKEN, CODE)
    assert rows(board) == before and before[0].result == RESULT
    # The same nickname in another class is another name.
    assert board.post("ROOM-Z", "Ana", RESULT, owner=second.public_id).nickname == "Ana"
    still_postable(board, second)


def test_the_same_session_posts_again_under_its_nickname_and_replaces_its_entry(board, ana, clock):
    first, _ = ana
    clock.now += 60
    better = board.post(CODE, "Ana", result(size_bytes=1_000), owner=first.public_id)
    assert rows(board) == [better]
    clock.now += 60
    # Its own look-alike spelling is its nickname too: the entry is replaced under the new spelling.
    again = board.post(CODE, "ANA", result(size_bytes=500), owner=first.public_id)
    assert rows(board) == [again] and again.nickname == "ANA"


def test_a_flood_gets_the_burst_then_a_message_saying_when_it_can_post_again(board, ana, clock):
    first, second = ana
    accepted, messages = 0, []
    for i in range(60):   # 60 posts at one instant (the 60 in 1.2 s)
        try:
            board.post(CODE, "Bo", result(size_bytes=1_000 + i), owner=second.public_id)
            accepted += 1
        except Refused as e:
            messages.append(e)
    assert accepted == 3 and len(messages) == 57
    assert all(m.retry_after_s == pytest.approx(30) for m in messages)
    assert str(messages[0]) == "You have posted 3 times in the last 30 s: you can post again in 30 s."
    entries = {e.nickname: e for e in rows(board)}
    assert set(entries) == {"Ana", "Bo"} and entries["Bo"].result.size_bytes == 1_002   # the 3rd accepted
    assert entries["Ana"].result == RESULT
    # Another session is not held up by the flood.
    clock.now += 1
    assert board.post(CODE, "Ana", result(size_bytes=7), owner=first.public_id).result.size_bytes == 7
    clock.now += 10
    refused(lambda: board.post(CODE, "Bo", RESULT, owner=second.public_id), "can post again in 19 s")
    clock.now += 19
    assert board.post(CODE, "Bo", result(size_bytes=9), owner=second.public_id).result.size_bytes == 9


def test_twenty_posts_an_hour_then_a_wait_in_minutes(board, clock):
    s = Session()
    for i in range(20):
        board.post(CODE, "Cy", result(size_bytes=1_000 + i), owner=s.public_id)
        clock.now += 31   # past the 30 s window each time
    message = refused(lambda: board.post(CODE, "Cy", RESULT, owner=s.public_id),
                      "posted 20 times in the last hour: you can post again in")
    assert message.endswith(" min.")
    assert [e.result.size_bytes for e in rows(board)] == [1_019]
    clock.now += 3600
    board.post(CODE, "Cy", RESULT, owner=s.public_id)


def test_refused_posts_do_not_count_against_the_rate(board, ana):
    _, second = ana
    for _ in range(10):
        refused(lambda: board.post(CODE, "ana", RESULT, owner=second.public_id), TAKEN)
    for name in ("Bo", "Bo", "Bo"):
        board.post(CODE, name, RESULT, owner=second.public_id)


def test_the_row_cap_refuses_the_next_new_nickname_and_keeps_every_entry(url, clock):
    board = Board(url, rate=PostRate(clock=clock), max_entries=5)
    sessions = [Session() for _ in range(6)]
    for i, s in enumerate(sessions[:5]):
        board.post(CODE, f"student {i}", result(size_bytes=1_000 + i), owner=s.public_id)
    before = rows(board)
    refused(lambda: board.post(CODE, "late", RESULT, owner=sessions[5].public_id),
            "This class's board is full (5 entries): ask the presenter to clear it or use another class code.")
    assert rows(board) == before and board.count(CODE) == 5
    # Those already on it still post better results (a replacement, not a new entry) ...
    clock.now += 60
    better = board.post(CODE, "student 0", result(size_bytes=10), owner=sessions[0].public_id)
    assert board.count(CODE) == 5 and rows(board)[0] == better
    # ... the refused session posts to another class, and "late" was not taken by its refused try.
    assert board.post("ROOM-Z", "late", RESULT, owner=sessions[5].public_id).nickname == "late"
    board.clear(CODE, by=Session(presenter=True))
    assert board.post(CODE, "late", RESULT, owner=sessions[5].public_id).nickname == "late"


def test_one_session_holds_at_most_three_nicknames_in_a_class(board, clock):
    s = Session()
    for name in ("Ana", "Bo", "Cy"):
        board.post(CODE, name, RESULT, owner=s.public_id)
    clock.now += 60
    before = rows(board)
    refused(lambda: board.post(CODE, "Dee", RESULT, owner=s.public_id),
            "This session already posts under 3 nicknames in ROOM-H", "post again under one of them")
    assert rows(board) == before
    board.post(CODE, "Bo", result(size_bytes=1), owner=s.public_id)   # one of its own: fine
    board.post("ROOM-Z", "Dee", RESULT, owner=s.public_id)            # another class: fine


def test_a_student_clearing_the_board_is_refused_and_the_rows_stay(board, ana):
    first, second = ana
    board.post(CODE, "Bo", RESULT, owner=second.public_id)
    before = rows(board)
    student = Session()
    assert student.presenter is False
    with pytest.raises(authority.NotPresenter, match="Only the presenter can clear a class's board"):
        board.clear(CODE, by=student)
    assert rows(board) == before
    refused(lambda: board.post(CODE, "ana", RESULT, owner=second.public_id), TAKEN)   # nicknames kept too
    assert board.clear(CODE, by=Session(presenter=True)) == 2
    assert rows(board) == []
    # A cleared class frees its nicknames.
    assert board.post(CODE, "ana", RESULT, owner=second.public_id).nickname == "ana"


def test_many_sessions_at_once_never_go_past_the_cap_nor_share_a_nickname(url, clock):
    board = Board(url, rate=PostRate(clock=clock), max_entries=12)
    start = threading.Barrier(8)
    outcomes, failures = [], []

    def student(n: int) -> None:
        s = Session()
        try:
            start.wait()
            for name in (f"s{n}-a", f"s{n}-b", "Ana"):   # every session also tries to take "Ana"
                try:
                    board.post(CODE, name, RESULT, owner=s.public_id)
                    outcomes.append(("ok", name))
                except Refused as e:
                    outcomes.append(("refused", str(e)))
        except Exception as e:  # noqa: BLE001  every failure is reported below
            failures.append(repr(e))

    threads = [threading.Thread(target=student, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    names = [e.nickname for e in board.entries(CODE)]
    assert len(names) == 12 == board.count(CODE) and len(set(names)) == 12
    assert [n for kind, n in outcomes if kind == "ok"].count("Ana") <= 1
    assert {m.split(":")[0] for kind, m in outcomes if kind == "refused"} <= {
        "This class's board is full (12 entries)", "That nickname, or one that looks like it, is already taken in "
        "ROOM-H by another session"}


def test_the_owner_is_a_public_id_never_empty(sqlite_board):
    with pytest.raises(TypeError, match="public_id"):
        sqlite_board.post(CODE, "Ana", RESULT, owner="")
    assert rows(sqlite_board) == []
