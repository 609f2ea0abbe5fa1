"""The shared results in a database (service.shared_store): two SharedResults on one database are two app replicas.

Each test runs against a SQLite file and the throwaway PostgreSQL of tests/service/conftest.py (the `url`
fixture; CI requires the PostgreSQL). What one replica publishes another serves with the same figures; the table
keeps within its budget; a session's token never reaches it; a database that cannot be reached changes nothing
but the sharing; a row naming anything but a record is not run.
"""

from __future__ import annotations

import logging
import pickle
import time

import numpy as np
import pytest
from sqlalchemy import create_engine, select, text

from dashboard.lab.compression.compress import CompressSettings
from dashboard.lab.compression.sensitivity import LayerSensitivity, SensitivityScan
from dashboard.lab.measure.record import RunRecord
from dashboard.lab.training.train import TrainConfig
from dashboard.service import measuring, shared, shared_store, training_jobs
from dashboard.service.jobs import DONE, Job
from dashboard.service.sessions import REGISTRY
from dashboard.service.shared import SharedResults, label
from dashboard.service.slot import COMPUTE

NO_FINETUNE = CompressSettings(finetune_epochs_channels=0, finetune_epochs_unstructured=0)


def trained_session(config: TrainConfig):
    s = REGISTRY.create()
    job = training_jobs.start_training(s, config)
    assert job.wait(120) and job.state == DONE, job.error
    return s


def emptied(url: str) -> str:
    """`url`, its shared_results table made and emptied."""
    shared_store.for_url(url).stats()   # makes the table (and the board's)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM shared_results"))
    engine.dispose()
    return url


@pytest.fixture
def db(url):
    """A SQLite file's or the throwaway PostgreSQL's URL, no shared result stored."""
    return emptied(url)


def rows(url: str) -> list[dict]:
    """Every row of the table, every column, as stored."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        found = [dict(r) for r in conn.execute(select(shared_store._results)).mappings()]
    engine.dispose()
    return found


def figures(seed: float, size: int = 1000) -> dict:
    """A stand-in record: the engine's own dataclasses, a numpy curve and weights as bytes, as the real ones hold."""
    scan = SensitivityScan(seed * 0.1, [0.25, 0.5], [LayerSensitivity("fc", "Linear", size, [0.9, seed * 0.01])], 100)
    return {"scan": scan, "curve": np.arange(5, dtype=np.float32) * seed, "weights": bytes([int(seed) % 256]) * size}


def publish(replica: SharedResults, k: str, value, *, by: str = "token-a" * 4, by_public: str = "a1b2c3d4") -> None:
    flight, mine = replica.begin(k, leader=None)
    assert mine
    replica.finish(flight, value, by, by_public=by_public)


# Two replicas on one database

def test_what_one_replica_publishes_another_serves_with_the_same_figures(db):
    a, b = SharedResults(url=db), SharedResults(url=db)
    assert b.get("k-demo") is None
    value = figures(7)
    publish(a, "k-demo", value)
    published = a.get("k-demo")

    served = b.get("k-demo")
    assert served is not None and served is not published
    assert served.value["scan"] == value["scan"] and served.value["weights"] == value["weights"]
    assert np.array_equal(served.value["curve"], value["curve"])
    assert served.measured_at == published.measured_at and served.size_bytes == published.size_bytes
    assert served.by == "" and served.by_public == "a1b2c3d4"   # no token came back: it was never stored
    session = REGISTRY.create()
    assert label(served, session).endswith("for another session with identical settings")
    assert b.stats()["entries"] == 1   # now in b's memory: the next get does not ask the database
    assert b.get("k-demo") is b.get("k-demo")


def test_an_identical_compress_on_another_replica_is_served_not_measured_again(postgres_url, monkeypatch,
                                                                               windows_count_as_quiet):
    """The app's path, against PostgreSQL as deployed: Compress & measure on replica A publishes; the same request on
    replica B (its memory empty) is served at once with A's figures, no job."""
    db = emptied(postgres_url)
    a_replica, b_replica = SharedResults(url=db), SharedResults(url=db)
    config = TrainConfig(model="mlp", epochs=1, train_images=400, seed=31)
    s, t = trained_session(config), trained_session(config)   # t: a student on replica B, same model
    assert s.digest == t.digest

    for module in (shared, measuring):
        monkeypatch.setattr(module, "SHARED", a_replica)
    job = measuring.start_compress(s, ["fp32", "int8-dynamic"], NO_FINETUNE)
    assert job is not None and job.wait(120) and job.state == DONE, job.error
    assert all(r.clean for r in s.results)

    for module in (shared, measuring):
        monkeypatch.setattr(module, "SHARED", b_replica)
    with COMPUTE.hold("someone else's long measurement"):   # a served result takes no turn
        assert measuring.start_compress(t, ["fp32", "int8-dynamic"], NO_FINETUNE) is None
    assert t.results_note.startswith("measured on ")
    assert t.results_note.endswith("for another session with identical settings")
    assert [r.name for r in t.results] == [r.name for r in s.results]
    assert [r.throughput_batch256_ips for r in t.results] == [r.throughput_batch256_ips for r in s.results]


def test_a_job_queued_while_another_replica_publishes_is_served_when_its_turn_comes(db):
    a, b = SharedResults(url=db), SharedResults(url=db)
    computed, adopted = [], []
    s = REGISTRY.create()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(shared, "SHARED", b)
        with COMPUTE.hold("another job"):
            job = shared.submit(s, Job("demo", "the demo on replica B", 1.0), "k-queued", fresh=False,
                                compute=lambda job: computed.append(1) or figures(2),
                                adopt=lambda value, note, busy: adopted.append((value, note)),
                                partial=lambda job: None)
            deadline = time.monotonic() + 10
            while job.label not in COMPUTE.queue_labels():   # prepared (looked: nothing), now waiting its turn
                assert time.monotonic() < deadline and job.state != DONE
                time.sleep(0.01)
            publish(a, "k-queued", figures(9))              # replica A finishes the same request meanwhile
        assert job.wait(30) and job.state == DONE, job.error
    assert computed == []
    [(value, note)] = adopted
    assert value["scan"] == figures(9)["scan"] and note.endswith("for another session with identical settings")


def test_a_request_that_begins_computing_looks_in_the_database_first(db, monkeypatch):
    """Between the page's look and the job's start another replica may publish: the job is served, not led."""
    a, b = SharedResults(url=db), SharedResults(url=db)
    monkeypatch.setattr(shared, "SHARED", b)
    publish(a, "k-begin", figures(3))
    flight, entry = shared.follow(Job("demo", "the demo on replica B", 1.0), "k-begin")
    assert flight is None and entry.value["scan"] == figures(3)["scan"]
    assert b.stats()["in_flight"] == 0   # nobody is left following a computation that never runs


# The budget

def test_the_table_keeps_within_its_budget_dropping_the_least_recently_used(db):
    budget = 3 * len(pickle.dumps(figures(1, 1000), protocol=pickle.HIGHEST_PROTOCOL)) + 500   # room for three
    a = SharedResults(budget_bytes=budget, url=db)
    for k in ("k1", "k2", "k3"):
        publish(a, k, figures(1, 1000))
        time.sleep(0.01)
    assert len(rows(db)) == 3
    assert SharedResults(budget_bytes=budget, url=db).get("k1") is not None   # another replica reads k1: used now
    time.sleep(0.01)
    publish(a, "k4", figures(4, 1000))
    assert sorted(r["key"] for r in rows(db)) == ["k1", "k3", "k4"]           # k2, used longest ago, is gone
    assert sum(r["size_bytes"] for r in rows(db)) <= budget
    fresh = SharedResults(budget_bytes=budget, url=db)
    assert fresh.get("k2") is None and fresh.get("k4") is not None


def test_one_value_larger_than_the_budget_is_not_stored_and_drops_the_keys_older_value(db):
    budget = len(pickle.dumps(figures(1, 1000), protocol=pickle.HIGHEST_PROTOCOL)) + 500
    a = SharedResults(budget_bytes=budget, url=db)
    publish(a, "k-big", figures(1, 1000))
    assert [r["key"] for r in rows(db)] == ["k-big"]
    publish(a, "k-small", figures(2, 10))
    publish(a, "k-big", figures(3, 5000))   # replaces k-big's value: too large, so neither is stored
    assert [r["key"] for r in rows(db)] == ["k-small"]
    assert SharedResults(budget_bytes=budget, url=db).get("k-big") is None


def test_a_replica_with_sharing_turned_off_neither_writes_nor_reads_the_table(db):
    off = SharedResults(budget_bytes=0, url=db)   # TRAIN_INFER_LAB_RESULT_CACHE_MB=0
    publish(off, "k-off", figures(1))
    assert rows(db) == []
    publish(SharedResults(url=db), "k-on", figures(2))
    assert off.get("k-on") is None


# Credentials

def test_a_session_token_never_reaches_the_table(db, monkeypatch):
    replica = SharedResults(url=db)
    monkeypatch.setattr(shared, "SHARED", replica)
    student, presenter = REGISTRY.create(), REGISTRY.create()
    presenter.presenter = True
    for s, k, fresh in ((student, "k-student", False), (presenter, "k-presenter", True)):   # finish, then put
        job = shared.submit(s, Job("demo", "a demo", 1.0), k, fresh=fresh, compute=lambda job: figures(5),
                            adopt=lambda value, note, busy: None, partial=lambda job: None)
        assert job.wait(30) and job.state == DONE, job.error
    stored = rows(db)
    assert sorted(r["key"] for r in stored) == ["k-presenter", "k-student"]
    assert {r["key"]: r["by_public"] for r in stored} == {"k-student": student.public_id,
                                                          "k-presenter": presenter.public_id}
    everything = repr(stored).encode() + b"".join(r["value"] for r in stored)
    for s in (student, presenter):
        assert s.token.encode() not in everything and s.token.encode("utf-16-le") not in everything


def test_a_result_from_another_replica_names_that_replica_and_a_sessions_own_reads_as_its_own(db, monkeypatch):
    # Two replicas are two host names: replica web-1 measures in its own process and publishes; replica web-2 (its
    # memory empty) serves it and says it was measured on web-1, with web-1's CPU, not "on this server".
    from dashboard.service import backend

    a, b = SharedResults(url=db), SharedResults(url=db)
    student, other = REGISTRY.create(), REGISTRY.create()
    monkeypatch.setattr(backend, "server_name", lambda: "web-1")
    place = backend.here()
    value = measuring.MeasureOutcome(RunRecord(config={}, hardware=place.hardware), [], place=place)
    publish(a, "k-measured", value, by=student.token, by_public=student.public_id)
    when = time.strftime("%H:%M", time.localtime(a.get("k-measured").measured_at))
    assert label(a.get("k-measured"), other) == f"measured on this server at {when} for another session with identical settings"

    monkeypatch.setattr(backend, "server_name", lambda: "web-2")
    served = b.get("k-measured")
    cpu = value.place.hardware["cpu"]
    assert served.value.place.remote and served.value.place.name == f"replica web-1 of this app ({cpu})"
    assert label(served, other) == (f"measured on replica web-1 of this app ({cpu}) at {when} for another session "
                                    "with identical settings")
    # Read back from the database the entry holds no token, only the public id: the student's own still reads so.
    assert served.by == "" and label(served, student).endswith(f"at {when} by you earlier with identical settings")


# A database that cannot be reached

@pytest.mark.parametrize("unreachable", [
    "postgresql://lab:s3cret-pw@127.0.0.1:1/lab",             # nothing listens on port 1: refused at once
    "sqlite:////nonexistent-folder/for/results.sqlite3",      # a file that cannot be opened
])
def test_an_unreachable_database_computes_as_if_nothing_was_stored(unreachable, monkeypatch, caplog):
    replica = SharedResults(url=unreachable)
    monkeypatch.setattr(shared, "SHARED", replica)
    monkeypatch.setattr(shared_store, "_stores", {})   # a fresh store: its first failure is logged
    tries = []
    real_board = shared_store.Board
    monkeypatch.setattr(shared_store, "Board", lambda *args, **kw: tries.append(1) or real_board(*args, **kw))
    s = REGISTRY.create()
    adopted = []
    with caplog.at_level(logging.WARNING):
        assert replica.get("k-nowhere") is None
        job = shared.submit(s, Job("demo", "a demo", 1.0), "k-nowhere", fresh=False,
                            compute=lambda job: figures(6), adopt=lambda value, note, busy: adopted.append(note),
                            partial=lambda job: None)
        assert job.wait(30) and job.state == DONE, job.error
    assert adopted == [""]                                   # computed here, as without a database
    assert replica.get("k-nowhere").value["scan"] == figures(6)["scan"]   # kept in memory all the same
    said = [r.getMessage() for r in caplog.records if r.name == "train_infer_lab.shared_store"]
    assert said and "s3cret-pw" not in " ".join(r.getMessage() for r in caplog.records)
    assert SharedResults(url=unreachable).get("k-other") is None
    assert tries == [1]   # a get, a job's looks and its publishing, another get: one try, then left alone a while


# What a row may hold

class _Runs:
    def __reduce__(self):
        return (print, ("a stored row ran code",))


def test_a_row_naming_anything_but_a_record_is_not_run_and_such_a_value_is_not_stored(db, capsys):
    engine = create_engine(db.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(shared_store._results.insert().values(
            key="k-hostile", value=pickle.dumps(_Runs()), size_bytes=10, measured_at=0.0, by_public="", used_at=0.0))
    engine.dispose()
    assert SharedResults(url=db).get("k-hostile") is None
    assert "ran code" not in capsys.readouterr().out

    a = SharedResults(url=db)
    publish(a, "k-odd", {"fine": 1.0, "odd": _Runs})       # a value holding a class the loader refuses
    assert a.get("k-odd") is not None                        # this replica keeps it in memory
    assert "k-odd" not in [r["key"] for r in rows(db)]      # but never writes what no replica could read
