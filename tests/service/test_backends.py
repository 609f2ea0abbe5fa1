"""The compute backends (service.backend): the same jobs in this process and on a real local Ray cluster (tests'
ray_cluster fixture): the same weights, live curves before the end, a Stop that keeps the partial model, a task
that raises failing with its message, and a lost worker failing the job while the session keeps its model; every
run, notice and served result naming the machine it ran on; a cluster without a measuring node refusing in one
line."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dashboard.lab import hardware, pipeline
from dashboard.lab.compression.compress import CompressSettings
from dashboard.lab.energy import EnergySettings
from dashboard.lab.measure.record import RunRecord
from dashboard.lab.training.train import TrainConfig
from dashboard.service import backend, measuring, runs, training_jobs
from dashboard.service.backend import InProcess, Place
from dashboard.service.jobs import DONE, FAILED, RUNNER, RUNNING, STOPPED, Job
from dashboard.service.sessions import REGISTRY, DataChoice
from dashboard.service.shared import SHARED, SharedResults, label
from dashboard.service.slot import COMPUTE

TINY = TrainConfig(model="mlp", epochs=1, train_images=400, seed=5)
LONG = TrainConfig(model="cnn", epochs=10, seed=5)   # minutes on 1 thread: every test stops it long before
NO_FINETUNE = CompressSettings(finetune_epochs_channels=0, finetune_epochs_unstructured=0)


# A Ray cluster takes seconds to start and its workers import torch: its cases are "slow" (the whole suite and CI
# run them; the fast tier runs the in-process ones).
@pytest.fixture(params=["in-process", pytest.param("ray", marks=pytest.mark.slow)])
def on(request):
    """The server's backend for one test: in this process, or the local Ray cluster's."""
    chosen = InProcess() if request.param == "in-process" else request.getfixturevalue("ray_cluster")
    before = backend.use(chosen)
    yield chosen
    backend.use(before)


@pytest.fixture
def on_ray(ray_cluster):
    before = backend.use(ray_cluster)
    yield ray_cluster
    backend.use(before)


def wait_until(predicate, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout   # only so a broken run ends; no assertion on how long it took
    while not predicate():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.01)


def train(s, config: TrainConfig = TINY):
    job = training_jobs.start_training(s, config)
    assert job.wait(300) and job.state == DONE, job.error
    return job


@pytest.mark.slow
def test_both_backends_train_the_same_weights_and_measure_the_same_accuracy(ray_cluster):
    outcomes = {}
    for chosen in (InProcess(), ray_cluster):
        before = backend.use(chosen)
        try:
            s = REGISTRY.create()
            job = train(s)
            measure = measuring.start_compress(s, ["fp32", "int8-dynamic"], NO_FINETUNE, fresh=True)
            assert measure is not None and measure.wait(300) and measure.state == DONE, measure.error
            outcomes[chosen.name] = (s.digest, s.trained.test_accuracy, [(r.name, r.accuracy) for r in s.results],
                                     job.where, measure.where)
        finally:
            backend.use(before)
    here, there = outcomes["in-process"], outcomes["ray"]
    assert here[:3] == there[:3]
    assert here[3:] == ("", "") and all(w.startswith("Ray node ") for w in there[3:])


def test_live_curves_arrive_while_it_trains_and_a_stop_keeps_the_partial_model(on):
    s = REGISTRY.create()
    job = training_jobs.start_training(s, LONG)
    assert job.slot is on.slot()
    wait_until(lambda: len(job.view.get("steps", [])) >= 2, "two steps of the curve")
    assert job.state == RUNNING and job.active and job.progress > 0   # the points came before the end
    job.stop()
    assert job.wait(300)
    assert job.state == STOPPED and s.trained is not None and not s.trained.completed
    assert s.trained.samples_seen < LONG.epochs * 8_000
    assert s.runs[-1].outcome == "stopped by you"
    assert s.weights is not None and s.steps   # the partial model and its curve are the session's
    assert job.where.startswith("Ray node ") == (on.name == "ray")   # it ran where the backend says


def test_the_whole_demo_runs_through_the_backend_and_fills_the_session(on, monkeypatch):
    # The demo's settings, small (an mlp on 400 digits, two versions): they cross to the task as plain data.
    monkeypatch.setattr(pipeline, "DEMO_CONFIG", TrainConfig(model="mlp", epochs=1, train_images=400, seed=8))
    monkeypatch.setattr(pipeline, "DEMO_VARIANTS", ["fp32", "int8-dynamic"])
    monkeypatch.setattr(pipeline, "DEMO_COMPRESS", NO_FINETUNE)
    s = REGISTRY.create()
    s.presenter = True   # measured afresh (not served from another test's demo): the presenter's to ask
    job = measuring.start_demo(s, fresh=True)
    assert job is not None and job.wait(300) and job.state == DONE, job.error
    assert job.view["steps"] and s.trained is not None and s.trained.config.model == "mlp"
    assert [r.name for r in s.results] == ["fp32", "int8-dynamic"] and s.runs[-1].kind == "demo"
    assert job.where.startswith("Ray node ") == (on.name == "ray")


def test_the_sensitivity_scan_runs_through_the_backend(on):
    s = REGISTRY.create()
    train(s)
    job = measuring.start_sensitivity(s, fresh=True)
    assert job is not None and job.wait(300) and job.state == DONE, job.error
    assert s.sensitivity is not None and s.sensitivity is job.result.scan
    assert job.where.startswith("Ray node ") == (on.name == "ray") == job.result.place.remote


def test_a_task_that_raises_fails_the_job_with_its_message(on):
    s = REGISTRY.create()

    def body(job: Job):
        return backend.current().run(job, training_jobs.train_task, TINY, DataChoice("no-such-set"),
                                     EnergySettings())

    job = RUNNER.submit(s.token, Job("training", "a training of a missing dataset", slot=on.slot()), body)
    assert job.wait(120) and job.state == FAILED
    assert job.error.startswith("Unknown dataset 'no-such-set'. Choose one of: ")
    assert job.where.startswith("Ray") == (on.name == "ray")


def test_an_engine_failure_fails_the_job_with_an_incident_line(on, tiny_trained):
    import dataclasses

    s = REGISTRY.create()
    record = dataclasses.replace(tiny_trained, module=None)

    def body(job: Job):   # weights that are no weights: torch.load fails inside the task
        return backend.current().run(job, measuring.sensitivity_task, DataChoice("digits"), record, b"not weights")

    job = RUNNER.submit(s.token, Job("sensitivity", "a scan of broken weights", slot=on.slot()), body)
    assert job.wait(120) and job.state == FAILED
    assert job.error.startswith("Something went wrong on the server (incident ")
    assert job.where.startswith("Ray") == (on.name == "ray")


@pytest.mark.slow
def test_a_lost_worker_fails_the_job_and_the_session_keeps_its_model(on_ray):
    s = REGISTRY.create()
    train(s)
    kept, digest = s.trained, s.digest
    job = training_jobs.start_training(s, LONG)
    wait_until(lambda: len(job.view.get("steps", [])) >= 1 and "worker" in job.view, "the worker's first step")
    os.kill(job.view["worker"]["pid"], signal.SIGKILL)   # the worker's process dies mid-training
    assert job.wait(120) and job.state == FAILED
    assert "compute worker running this job was lost" in job.error
    assert s.trained is kept and s.digest == digest
    assert s.runs[-1].outcome.startswith("failed: ")
    level, text = s.take_notices()[-1]
    assert level == "error" and text.endswith("Your previous model and results are kept.")
    train(s)   # the cluster takes the next job on a fresh worker


def test_the_backend_is_in_process_unless_a_ray_address_is_set(monkeypatch):
    monkeypatch.delenv(backend.ADDRESS_VARIABLE, raising=False)
    before = backend.use(None)   # read the variable again
    try:
        assert backend.address() is None and isinstance(backend.current(), InProcess)
        assert backend.job_slot() is backend.COMPUTE
    finally:
        backend.use(before)
    monkeypatch.setenv(backend.ADDRESS_VARIABLE, " auto ")
    assert backend.address() == "auto"
    monkeypatch.setenv(backend.ADDRESS_VARIABLE, "ray://head:10001 --and-more")
    with pytest.raises(ValueError, match="TRAIN_INFER_LAB_RAY_ADDRESS must be"):
        backend.address()


@pytest.mark.slow
def test_a_ray_job_waits_for_a_measuring_node_not_for_the_servers_own_slot(on_ray):
    # The server's slot held by an in-process job (a device profile, say) that is not done: a training sent to the
    # cluster runs all the same; queued in the server's slot, it would wait for that job (and this test time out).
    held, release = threading.Event(), threading.Event()

    def in_process_job():
        with COMPUTE.hold("an in-process job"):
            held.set()
            release.wait(600)

    other = threading.Thread(target=in_process_job)
    other.start()
    try:
        assert held.wait(60)
        s = REGISTRY.create()
        job = train(s)
        assert job.slot is on_ray.slot() and job.where.startswith("Ray node ")
    finally:
        release.set()
        other.join()


# --- where it ran: every run, notice and served result names the machine ---------------------------------------

APP_CPU = "the app's own CPU (named so by the test)"


@pytest.fixture
def apps_cpu_named(monkeypatch):
    """This process's hardware.describe names its CPU APP_CPU: a figure that says APP_CPU was made in the app's
    process. A Ray worker is a process of its own, whose describe is the real one (nothing of Ray is replaced)."""
    real = hardware.describe
    monkeypatch.setattr(hardware, "describe", lambda device="auto": dataclasses.replace(real(device), cpu=APP_CPU))


def test_every_run_and_notice_names_the_machine_it_ran_on(on, apps_cpu_named, windows_count_as_quiet):
    from dashboard.service import machine
    from dashboard.ui import compress_view, results_view, status, tvi_view

    s = REGISTRY.create()
    job = train(s)
    measure = measuring.start_compress(s, ["fp32"], NO_FINETUNE, fresh=True)
    assert measure is not None and measure.wait(300) and measure.state == DONE, measure.error
    trained_run, measured_run = s.runs[-2:]
    first, last = [text for _, text in s.take_notices()][-2:]
    shown = compress_view.Measured.of(s)
    if on.name == "in-process":   # as it always said
        assert job.where == measure.where == "" and job.hardware is None
        assert trained_run.record.hardware["cpu"] == measured_run.record.hardware["cpu"] == APP_CPU
        assert trained_run.source == measured_run.source == "measured here"
        assert runs.machines(s) == [] and not s.results_elsewhere
        assert first.startswith("Training finished: ") and re.match(r"Measured 1 version of your model[.,]", last)
        assert shown.machine == "" and shown.hw.cpu == APP_CPU
        assert status.running_where(job) is None
        assert status.takes_turns(job).startswith("Heavy work takes turns on this server")
        assert "measured earlier on this server;" in results_view.figures_caption(runs.machines(s))
        assert machine._fp32_rates(s)   # this server's own figures: its peaks page reuses them
        assert not s.trained_place.remote and tvi_view.machines_note(s) is None   # Training vs inference: as always
        return
    node, worker = job.where, job.hardware   # what the worker reported, as the page has it
    assert node.startswith("Ray node ") and measure.where == node   # the cluster has one measuring node
    assert worker["cpu"] == hardware.cpu_model() != APP_CPU        # the worker's own describe, not the app's
    name = f"{node} ({worker['cpu']})"
    assert trained_run.record.hardware == worker and measured_run.record.hardware["cpu"] == worker["cpu"]
    assert trained_run.source == measured_run.source == f"measured on {name}"
    assert trained_run.place == measured_run.place == Place(node, worker) == s.results_place == s.trained_place
    assert tvi_view.machines_note(s) == (False, f"Training and inference both ran on {name}.")
    s.results_place = Place("Ray node 99999999", worker)   # measured on another node than it was trained on
    assert tvi_view.machines_note(s) == (True, f"Your model was trained on **{name}** and its inference measured on "
                                               f"**Ray node 99999999 ({worker['cpu']})**: each ratio on this page "
                                               "holds one machine's figure against another's.")
    s.results_place = Place(node, worker)
    assert runs.machines(s) == [name] and s.results_elsewhere   # never reused as this server's figures
    assert first.startswith(f"Training finished on {name}: ")
    assert last.startswith(f"Measured 1 version of your model on {name}")
    assert shown.machine == name and shown.hw.cpu == worker["cpu"]
    assert status.running_where(job) == f"Running on {name}: its figures are that machine's."
    assert status.takes_turns(job).startswith("Heavy work takes turns on the compute cluster's 1 measuring node,")
    assert name in results_view.figures_caption(runs.machines(s))
    assert json.loads(runs.to_json(s))["runs"][-1]["hardware"]["cpu"] == worker["cpu"]
    assert machine._fp32_rates(s) == {}   # another machine's figures: this server's peaks page does not reuse them
    s.results_place = None                # (it would, were they this server's, unless they stayed disturbed)
    assert machine._fp32_rates(s) or s.results[0].is_disturbed("batch1")


def test_a_served_result_names_the_machine_that_measured_it_not_the_server_serving_it(on, apps_cpu_named):
    SHARED.clear()   # the key names the app's hardware, not the backend: the other backend's scan would be served
    a = REGISTRY.create()
    train(a)
    scanned = measuring.start_sensitivity(a)
    assert scanned is not None and scanned.wait(300) and scanned.state == DONE, scanned.error
    b = REGISTRY.create()   # another session with the same model asks the same
    b.set_model(a.trained, a.data_choice(), a.steps, a.training_energy, a.inspection, weights=a.weights,
                digest=a.digest)
    assert measuring.start_sensitivity(b) is None   # served from the shared results: no job
    mine, served = a.take_notices()[-1][1], b.take_notices()[-1][1]
    if on.name == "in-process":   # as it always said
        assert mine == "Sensitivity scan done."
        assert served.startswith("Sensitivity scan measured on this server at ")
    else:
        name = f"{scanned.where} ({scanned.hardware['cpu']})"
        assert scanned.where.startswith("Ray node ") and scanned.hardware["cpu"] != APP_CPU
        assert mine == f"Sensitivity scan done on {name}."
        assert served.startswith(f"Sensitivity scan measured on {name} at ") and "this server" not in served
    assert served.endswith("for another session with identical settings, not run again.")


def test_the_label_of_a_served_result_names_the_machine_its_value_carries():
    s = REGISTRY.create()
    node = Place("Ray node 1a2b3c4d", {"cpu": "Some Vendor CPU 9000"})
    record = RunRecord(config={}, hardware=node.hardware)
    measured = measuring.MeasureOutcome(record, [], place=node)
    kept = SharedResults(budget_bytes=2**20)
    for value in (measured, measuring.DemoOutcome(None, measured), measuring.Scanned(None, node)):
        entry = kept.put("k", value, "another session")
        assert label(entry, s) == (f"measured on Ray node 1a2b3c4d (Some Vendor CPU 9000) at "
                                   f"{time.strftime('%H:%M', time.localtime(entry.measured_at))} for another session "
                                   "with identical settings")
    here = measuring.MeasureOutcome(record, [], place=Place("", {"cpu": "this server's"}))
    for value in (here, {"stored before places": True}):   # this server's, and a value that carries none
        assert label(kept.put("k", value, s.token), s).startswith("measured on this server at ")


@pytest.mark.slow
def test_a_cluster_without_a_measuring_node_refuses_in_one_line_and_the_session_keeps_all():
    # A real cluster whose only node declares no "measure" resource, in a process of its own (this process's Ray
    # is the ray_cluster fixture's, which has a measuring node): see tests/service/cluster_without_measure.py.
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "tests.service.cluster_without_measure"], cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    from dashboard.service.ray_backend import NO_NODE

    assert out["nodes"] == 0
    assert "\n" not in NO_NODE and NO_NODE.startswith("The compute cluster has no measuring node")
    for what, refused in out["refused"].items():   # each start button: jobs.Busy's one line, nothing queued
        assert refused == {"class": "ClusterUnavailable", "message": NO_NODE}, what
    assert out["after"] == {**out["before"], "notices": []}   # the same model, runs and last job; nothing said
    assert out["queued_job"] == {"state": FAILED, "error": NO_NODE}   # not an incident: the same line
