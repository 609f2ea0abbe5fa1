"""The presenter key (service.authority): the right key unlocks one session, a wrong one is refused and
rate-limited per session and for the room, and presenter actions refuse a student where they run; the
room's caps: sessions held by the server, jobs queued."""

from __future__ import annotations

import dataclasses
import threading
from collections import deque

import pytest

from dashboard.lab import settings
from dashboard.service import authority
from dashboard.service.jobs import Busy, Job, JobRunner
from dashboard.service.sessions import Registry, RoomFull, Session
from tests.keys import PRESENTER_KEY


def test_the_right_key_unlocks_only_the_session_that_typed_it():
    a, b = Session(), Session()
    ok, line = authority.unlock(a, PRESENTER_KEY)
    assert ok and a.presenter and not b.presenter and "Presenter controls are on" in line
    authority.require(a, "clear a board")
    with pytest.raises(authority.NotPresenter, match="Only the presenter can clear a board"):
        authority.require(b, "clear a board")
    authority.lock(a)
    with pytest.raises(authority.NotPresenter):
        authority.require(a)


@pytest.mark.parametrize("typed", ["", " ", "test-presenter-ke", "TEST-PRESENTER-KEY", PRESENTER_KEY + "x",
                                   "x" * 10_000, "test-presenter-key\x00", "' OR 1=1 --"])
def test_a_wrong_key_is_refused_with_one_line_and_unlocks_nothing(typed):
    s = Session()
    ok, line = authority.unlock(s, typed, now=1_000.0)
    assert not ok and not s.presenter
    assert line.startswith("That is not the presenter key") and "\n" not in line and PRESENTER_KEY not in line


def test_wrong_keys_from_one_session_make_it_wait_longer_and_longer_even_for_the_right_key():
    s = Session()
    now = 5_000.0
    lines = [authority.unlock(s, "guess", now=now)[1] for _ in range(authority.FREE_TRIES)]
    assert "2 more tries" in lines[0] and "Wait 30 s" in lines[-1]
    ok, line = authority.unlock(s, PRESENTER_KEY, now=now + 1)   # the right key, but too soon
    assert not ok and not s.presenter and "Too many wrong keys from this session: try again in 29 s" in line
    ok, line = authority.unlock(s, "guess again", now=now + 31)   # after the wait: one more wrong one doubles it
    assert not ok and "Wait 60 s" in line
    ok, _ = authority.unlock(s, PRESENTER_KEY, now=now + 31 + 61)
    assert ok and s.presenter
    other = Session()   # another session's count is its own
    assert "2 more tries" in authority.unlock(other, "nope", now=now + 100)[1]


def test_the_room_as_a_whole_is_limited_so_many_sessions_cannot_guess_together():
    now = 9_000.0
    guessers = [Session() for _ in range(authority.ROOM_WRONG_PER_MIN)]
    for s in guessers:
        assert not authority.unlock(s, "guess", now=now)[0]
    newcomer = Session()
    ok, line = authority.unlock(newcomer, PRESENTER_KEY, now=now + 1)
    assert not ok and "Too many wrong presenter keys in this room" in line
    assert authority.unlock(newcomer, PRESENTER_KEY, now=now + 62)[0]


def test_the_key_comes_from_secrets_before_the_environment_and_a_generated_one_is_printed_to_the_log(
        capsys, monkeypatch):
    try:
        authority.reset_for_tests()
        settings.override(dataclasses.replace(settings.current(), presenter_key="from-the-environment"))
        assert authority.configure("from-secrets").source == "secrets"
        authority.reset_for_tests()
        assert authority.configure(None).source == "environment"
        assert authority.unlock(Session(), "from-the-environment")[0]
        authority.reset_for_tests()
        settings.override(dataclasses.replace(settings.current(), presenter_key=""))
        assert authority.configure(None).source == "generated"
        err = capsys.readouterr().err
        generated = err.split("presenter key for this server run is ")[1].split()[0]
        assert authority.unlock(Session(), generated)[0]
    finally:
        settings.override(None)
        authority.reset_for_tests()
        authority.configure(PRESENTER_KEY)


def test_the_server_holds_at_most_max_sessions_and_says_so(monkeypatch):
    settings.override(dataclasses.replace(settings.current(), max_sessions=3))
    try:
        registry = Registry()
        monkeypatch.setattr(registry, "_start_janitor", lambda *a, **k: None)
        made = [registry.create() for _ in range(3)]
        with pytest.raises(RoomFull, match="already holds 3 sessions"):
            registry.create()
        assert registry.sessions() == made   # the others are untouched
    finally:
        settings.override(None)


def test_a_cookie_names_the_new_session_once_and_a_malformed_one_is_ignored(monkeypatch):
    registry = Registry()
    monkeypatch.setattr(registry, "_start_janitor", lambda *a, **k: None)
    token = "0123456789abcdef" * 2
    s = registry.create(token)
    assert s.token == token and registry.get(token) is s
    assert registry.create(token).token != token          # never two sessions under one token
    assert registry.create("../../etc/passwd").token != "../../etc/passwd"
    assert s.public_id != s.token and len(s.public_id) == 16


def test_one_job_per_session_and_a_bounded_queue_for_the_room():
    settings.override(dataclasses.replace(settings.current(), max_queued_jobs=2))
    runner = JobRunner()
    release = threading.Event()

    def body(job):
        release.wait(30)

    try:
        first = runner.submit("a" * 32, Job("training", "a"), body)
        with pytest.raises(Busy, match="one job per session"):
            runner.submit("a" * 32, Job("training", "a again"), body)
        runner.submit("b" * 32, Job("training", "b"), body)
        with pytest.raises(Busy, match="queue is full \\(2 jobs"):
            runner.submit("c" * 32, Job("training", "c"), body)
        assert [j.owner for j in runner.queue()] == ["a" * 32, "b" * 32]
    finally:
        release.set()
        first.wait(30)
        settings.override(None)


def test_the_wrong_key_counts_stay_bounded_and_forget_only_long_quiet_sessions(monkeypatch):
    monkeypatch.setattr(authority, "MAX_TRACKED", 2)
    monkeypatch.setattr(authority, "_tries", {})   # none of the other tests' sessions
    monkeypatch.setattr(authority, "_room_wrong", deque())
    old = [Session() for _ in range(3)]
    for s in old:
        authority.unlock(s, "guess", now=20_000.0)
    later = 20_000.0 + authority.MAX_WAIT_S + 1
    recent = Session()
    authority.unlock(recent, "guess", now=later)
    assert len(authority._tries) == 1 and recent.public_id in authority._tries   # the three quiet ones went
    assert "1 more try" in authority.unlock(recent, "guess again", now=later + 1)[1]   # its own count kept
