"""Measure on this device, the server's part: the session's measured versions as the ONNX files a browser runs, and
each file timed in native ONNX Runtime here (lab.deploy.browser_models), one job in the compute slot; then what a
browser sent back, checked (lab.deploy.browser_result) and kept with the files.

    job = start_browser_files(s, kept)      # s.browser: a BrowserSet for the current model and its versions
    run = keep_browser_result(s, raw, run_id)  # the checked DeviceRun, or BadBrowserResult (nothing kept)

Not yet through the compute backend (service.backend): with a Ray cluster configured, this job still runs in this
process, in the COMPUTE slot.
"""

from __future__ import annotations

from dashboard.lab.deploy import browser_models, browser_result
from dashboard.lab.inputs import data
from dashboard.service.jobs import CANCELLED, DONE, FAILED, RUNNER, STOPPED, Job
from dashboard.service.sessions import Session, copy_results
from dashboard.service.versions import _make_versions, _versions_estimate, versions

MAX_RUNS = 5   # browser measurements kept per model (a student may measure again, on another browser)


def current(s: Session, kept: dict):
    """The session's BrowserSet when it was made for the current model and its measured versions, else None."""
    bset = s.browser
    if bset is None or s.trained is None:
        return None
    return bset if bset.key == (s.digest, tuple(versions(s, kept).names)) else None


def start_browser_files(s: Session, kept: dict) -> Job:
    """Make the browser's files for the session's measured versions and time each in native ONNX Runtime here
    (1 thread, batch 1): one job in the compute slot; the BrowserSet lands in s.browser."""
    v = versions(s, kept)
    files, _ = browser_models.plan(v.names)
    estimate = _versions_estimate(s, v) + 3.0 * len(files) + 2.0
    trained = s.trained_model()
    digest, key = s.digest, (s.digest, tuple(v.names))
    # a replay's or a compute cluster node's figures were measured on another machine
    known = [] if s.results_elsewhere else copy_results(s.results)
    loaded: dict[str, data.Dataset] = {}

    def prepare(job: Job) -> None:
        job.message = "loading the test images"
        loaded["ds"] = s.dataset()

    def body(job: Job):
        ds = loaded["ds"]
        use = v.kept
        share = 0.0
        if use is None:
            share = 0.4
            use = _make_versions(job, trained, ds, v, kept, share)
            if use is None:
                return None
        bset = browser_models.export_set(
            use, trained, ds, v.names, calibration_images=v.settings.calibration_images, key=key,
            on_progress=lambda f, m: job.report(share + (0.7 - share) * f, m), should_stop=lambda: job.stopping)
        if bset is None:
            return None
        browser_models.fill_server_figures(
            bset, ds, known=known, on_progress=lambda f, m: job.report(0.7 + 0.3 * f, f"on this server: {m}"),
            should_stop=lambda: job.stopping)
        if job.stopping:
            return None
        with s.lock:
            if s.digest == digest:
                s.browser = bset
        return bset

    def finish(job: Job) -> None:
        if job.state == FAILED:
            s.notify("error", f"Making your model's files for the browser failed: {job.error} What you had is kept.")
        elif job.state in (STOPPED, CANCELLED) or (job.state == DONE and job.result is None):
            s.notify("info", f"Stopped before your browser could measure ({job.stop_reason or 'stopped'}).")

    return RUNNER.submit(s.token, Job("device", f"{len(files)} ONNX file(s) for your browser", estimate), body,
                         prepare=prepare, finish=finish)


def keep_browser_result(s: Session, bset, raw, run_id: str, *, paired: bool = False) -> browser_result.DeviceRun:
    """Check what the browser sent for `run_id` against the files it was given; keep it with them (the newest
    MAX_RUNS of the session's own browser, and of paired devices, apart: pressing again here never drops the
    phone's). `paired`: sent by a device paired with a one-time code (service.pairing). Raises BadBrowserResult,
    keeping nothing, when it cannot be used."""
    run = browser_result.parse(raw, run_id, bset.models, paired=paired)
    with s.lock:
        if s.browser is bset and all(r.run_id != run_id for r in bset.runs):
            same = [r for r in bset.runs if r.paired == paired]
            drop = {id(r) for r in [*same, run][:-MAX_RUNS]}
            bset.runs = [r for r in [*bset.runs, run] if id(r) not in drop]
    return run


def latest(bset, *, paired: bool = False) -> browser_result.DeviceRun | None:
    """The newest run kept from the session's own browser, or (paired) from a paired device."""
    return next((r for r in reversed(bset.runs) if r.paired == paired), None) if bset is not None else None


__all__ = ["MAX_RUNS", "current", "keep_browser_result", "latest", "start_browser_files"]
