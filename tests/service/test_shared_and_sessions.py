"""Shared results (identical requests served at once, labelled; a running one is followed, not
repeated) and the session registry (closed tabs stop their job, idle sessions free their model)."""

from __future__ import annotations

import sys
import time

import pytest

from dashboard.lab import settings
from dashboard.lab.compression.compress import CompressSettings
from dashboard.lab.training.train import TrainConfig
from dashboard.service import measuring, training_jobs
from dashboard.service.jobs import CANCELLED, DONE, RUNNING, STOPPED
from dashboard.service.sessions import REGISTRY, Registry
from dashboard.service.shared import SHARED
from dashboard.service.slot import COMPUTE

TINY = TrainConfig(model="mlp", epochs=1, train_images=400, seed=3)
QUICK = ["fp32", "int8-dynamic"]
NO_FINETUNE = CompressSettings(finetune_epochs_channels=0, finetune_epochs_unstructured=0)


def trained_session(config: TrainConfig = TINY):
    s = REGISTRY.create()
    job = training_jobs.start_training(s, config)
    assert job.wait(120) and job.state == DONE, job.error
    return s


def test_same_seed_same_weights_and_an_identical_measurement_is_served_without_the_slot(windows_count_as_quiet):
    # Only quiet figures are shared (lab.measure.quiet): here every window counts as quiet, so what is checked is
    # the sharing, on a loaded machine too (the disturbed case is the test below).
    a, b = trained_session(), trained_session()
    assert a.digest == b.digest, "same config and seed must give the same weights"
    job = measuring.start_compress(a, QUICK, NO_FINETUNE)
    assert job is not None and job.wait(120) and job.state == DONE, job.error
    a.presenter = True   # its measurements afresh replace the shared ones (a student's stay theirs)
    assert all(r.clean for r in a.results)
    assert a.results_note == "" and a.runs[-1].source == "measured here"

    with COMPUTE.hold("someone else's long measurement"):   # the slot is busy: a hit must not wait for it
        served = measuring.start_compress(b, QUICK, NO_FINETUNE)
    assert served is None   # served inside the block, while another job holds the slot: no job, no queue
    assert [r.name for r in b.results] == [r.name for r in a.results]
    assert b.results[0].throughput_batch256_ips == a.results[0].throughput_batch256_ips
    assert b.results[0] is not a.results[0]   # a private copy: b's break-even cannot change a's
    assert b.results_note.startswith("measured on this server at ")
    assert b.results_note.endswith("for another session with identical settings")
    assert b.runs[-1].source == "shared: " + b.results_note

    # A student measures afresh: computed now, for them alone; the room keeps the shared figures.
    before = SHARED.stats()["entries"]
    fresh = measuring.start_compress(b, QUICK, NO_FINETUNE, fresh=True)
    assert fresh is not None and fresh.wait(120) and fresh.state == DONE, fresh.error
    assert b.results_note == "" and b.runs[-1].source == "measured here"
    c = trained_session()
    assert measuring.start_compress(c, QUICK, NO_FINETUNE) is None
    assert c.results[0].throughput_batch256_ips == a.results[0].throughput_batch256_ips
    assert c.results[0].throughput_batch256_ips != b.results[0].throughput_batch256_ips

    # The presenter measures afresh: it replaces the shared figures for everyone.
    b.presenter = True
    fresh = measuring.start_compress(b, QUICK, NO_FINETUNE, fresh=True)
    assert fresh is not None and fresh.wait(120) and fresh.state == DONE, fresh.error
    assert all(r.clean for r in b.results)
    assert SHARED.stats()["entries"] == before
    d = trained_session()
    assert measuring.start_compress(d, QUICK, NO_FINETUNE) is None
    assert d.results_note.endswith("for another session with identical settings")
    assert d.results[0].throughput_batch256_ips == b.results[0].throughput_batch256_ips


def test_a_students_demo_afresh_is_refused_where_it_runs_not_only_at_its_button():
    from dashboard.service import authority

    s = REGISTRY.create()
    with pytest.raises(authority.NotPresenter, match="Only the presenter"):
        measuring.start_demo(s, fresh=True)
    assert s.job is None and s.runs == []   # nothing queued, nothing recorded




def test_an_identical_request_while_one_runs_follows_it_instead_of_computing_again(windows_count_as_quiet):
    # Every window counts as quiet, so the leader's figures are shareable on a loaded machine too (a disturbed
    # result is never shared: test_a_measurement_that_stayed_disturbed_... below).
    config = TrainConfig(model="mlp", epochs=1, train_images=400, seed=11)
    a, b, c = trained_session(config), trained_session(config), trained_session(config)
    names = ["fp32", "pruned-unstructured-50", "int8-dynamic"]
    leader = measuring.start_compress(a, names, NO_FINETUNE)
    while leader.state != RUNNING:
        time.sleep(0.01)
    follower, quitter = measuring.start_compress(b, names, NO_FINETUNE), measuring.start_compress(c, names, NO_FINETUNE)
    deadline = time.monotonic() + 30
    while (follower.following is None or quitter.following is None) and leader.active:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert follower.following is leader and quitter.following is leader
    quitter.stop()                                    # one of them gives up waiting: only it ends
    assert quitter.wait(30) and quitter.state == CANCELLED and c.results == []
    assert leader.active or leader.state == DONE
    assert follower.wait(120) and leader.wait(30)
    assert follower.state == DONE and [r.name for r in b.results] == ["fp32", "pruned-unstructured-50", "int8-dynamic"]
    assert all(r.clean for r in a.results)
    assert follower.interference is None   # it never ran anything itself: it got the leader's figures
    assert b.results_note.startswith("measured on this server")


def test_a_job_is_never_stopped_before_the_grace_period_after_its_last_tab_closed():
    """The janitor sees tabs only when it sweeps: a tab closed just before a sweep, a whole sweep interval after the
    last sweep that saw it open, still has its full grace period from there."""
    from dashboard.service.jobs import RUNNER, Job

    registry, open_tabs = Registry(), {"tab-1"}
    registry.tab_connected = lambda tab: tab in open_tabs
    s = registry.create()
    s.tabs.add("tab-1")

    def until_stopped(job: Job) -> None:
        while not job.stopping:
            time.sleep(0.01)

    job = RUNNER.submit(s.token, Job("training", "until stopped"), until_stopped)
    try:
        while job.state != RUNNING:
            time.sleep(0.01)
        grace, t0 = settings.current().disconnect_grace_s, time.time()
        assert registry.sweep(t0)["stopped"] == 0                   # open
        open_tabs.clear()                                           # closed at some moment after t0 ...
        assert registry.sweep(t0 + grace + 1)["stopped"] == 0       # ... perhaps just now: not stopped yet
        assert registry.sweep(t0 + 2 * grace + 2)["stopped"] == 1   # a grace period after it was first seen gone
        assert job.wait(10) and job.state == STOPPED
    finally:
        job.stop("test over")


def test_closed_tabs_stop_the_job_and_idle_sessions_free_their_model(monkeypatch):
    registry = Registry()
    open_tabs = {"tab-1"}
    registry.tab_connected = lambda tab: tab in open_tabs
    s = trained_session(TrainConfig(model="mlp", epochs=1, train_images=400, seed=5))
    registry._sessions[s.token] = s
    s.tabs.add("tab-1")
    digest = s.digest

    job = training_jobs.start_training(s, TrainConfig(model="cnn", epochs=10, seed=5))
    while job.state != RUNNING:
        time.sleep(0.01)
    grace = settings.current().disconnect_grace_s
    assert registry.sweep()["stopped"] == 0                         # the tab is open
    open_tabs.clear()
    now = time.time()
    assert registry.sweep(now)["stopped"] == 0                      # closed just now: within the grace
    assert registry.sweep(now + grace + 1)["stopped"] == 1
    assert job.wait(10) and job.state == STOPPED
    assert job.stop_reason == "every tab of this session was closed"
    assert s.runs[-1].outcome.startswith("stopped")

    # Idle past the limit: the live module goes, the weights stay and rebuild the same model.
    s.trained_model()                       # a job used the model: it is live again
    assert s.trained.module is not None
    s.last_seen = time.time() - settings.current().idle_free_minutes * 60 - 1
    assert registry.sweep()["freed"] == 1
    assert s.trained.module is None
    from dashboard.lab.training.models import weights_digest
    rebuilt = s.trained_model()
    assert weights_digest(rebuilt.module) == s.digest != digest   # the stopped cnn is now the model

    # Long gone: forgotten.
    keep = settings.current().session_keep_minutes * 60
    assert registry.sweep(time.time() + keep + 10)["forgotten"] == 1
    assert registry.get(s.token) is None
    from dashboard.service.jobs import RUNNER
    assert RUNNER.job_of(s.token) is None       # its last job's curves and results go with it


def test_clear_all_forgets_the_measurements_but_keeps_settings_and_the_course():
    from dashboard.service.sessions import Session

    s = Session()
    s.forms["train"] = {"train_epochs": 5}
    s.lessons["04-smaller-faster-models"] = {"read": True, "answers": {0: 1}}
    s.edge_runs["phone"] = object()
    s.results_note = "something measured"
    s.clear()
    assert s.forms["train"] == {"train_epochs": 5}
    assert s.lessons["04-smaller-faster-models"]["read"]
    assert s.edge_runs == {} and s.results_note == ""


def test_a_measurement_that_stayed_disturbed_is_labelled_kept_out_of_the_shared_results_and_the_board(
        gil_held_alongside, monkeypatch):
    import dataclasses

    from dashboard.lab import pipeline
    from dashboard.service import board_posts

    # Every window here is disturbed on purpose: one re-measurement after a short wait shows the label as well as
    # three would, without spending the whole retry budget waiting for a quiet that cannot come.
    monkeypatch.setattr(pipeline, "APP_BENCH", dataclasses.replace(pipeline.APP_BENCH, retries=1, quiet_wait_s=0.05,
                                                                   retry_budget_s=0.5))
    config = TrainConfig(model="mlp", epochs=1, train_images=400, seed=21)
    a, b = trained_session(config), trained_session(config)
    # Another thread holds the GIL all the time: every window is disturbed. It hands the GIL over every 0.5 ms
    # instead of Python's 5 ms, so the job's untimed work (making the version, its accuracy, the energy meter's
    # start and stop) waits a tenth as long each time; each timed call still waits longer than it computes.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        with gil_held_alongside():
            job = measuring.start_compress(a, ["fp32"], NO_FINETUNE)
            assert job is not None and job.wait(300) and job.state == DONE, job.error
    finally:
        sys.setswitchinterval(interval)
    (r,) = a.results
    assert r.disturbed and not r.clean   # which regimes stayed disturbed depends on the machine's own load too
    assert a.notices[-1][0] == "warning" and "labelled *disturbed*" in a.notices[-1][1]
    # Not shared: the identical request of another session is measured for it, not served.
    again = measuring.start_compress(b, ["fp32"], NO_FINETUNE)
    assert again is not None, "a disturbed result must not be served to another session"
    assert again.wait(300) and again.state == DONE, again.error
    # Not postable: the board's own check says why, where the post is made.
    assert board_posts.postable(a.results) == [] and board_posts.unpostable(a.results)[0][0] == "fp32"
    with pytest.raises(ValueError, match="stayed disturbed"):
        board_posts.board_result(r, "mlp", "digits")


def test_freeing_a_sessions_model_changes_no_record_anyone_else_holds(tiny_trained):
    from dashboard.service.sessions import Session, state_bytes

    s = Session()
    s.trained, s.weights = tiny_trained, state_bytes(tiny_trained.module)
    assert s.free_models()
    assert s.trained.module is None and tiny_trained.module is not None   # the caller's record is untouched
    again = s.trained_model()
    assert again.module is not None and s.trained.module is not None and again.module is not s.trained.module
