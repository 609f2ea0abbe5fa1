"""The Hardware page's job: this machine's peak rate per number format and, with a model, how its
inference scales with threads and batch (lab.measure.peak), reading the fp32 figures Compress &
benchmark measured where they are the same measured thing.

Not yet through the compute backend (service.backend): with a Ray cluster configured, this job still runs in this
process, in the COMPUTE slot.
"""

from __future__ import annotations

from dashboard.lab import settings
from dashboard.lab.measure import peak
from dashboard.service.jobs import CANCELLED, DONE, FAILED, RUNNER, STOPPED, Job
from dashboard.service.sessions import Session


def start_hardware(s: Session) -> Job:
    """Measure this machine's peak rate per number format and, with a model, how its inference scales
    with threads and batch (and CPU vs GPU where there is one): one job holding the compute slot.
    When it ends, the lab.measure.peak.HardwareProbe is the session's `hardware_probe`."""
    trained = s.trained_model() if s.trained is not None else None
    digest, probe_settings = s.digest if trained is not None else "", peak.APP_PROBE
    known, known_from = _fp32_rates(s), "Compress & benchmark" + (f" ({s.results_note})" if s.results_note else "")

    def body(job: Job) -> peak.HardwareProbe:
        return peak.probe(trained, threads=settings.current().threads, digest=digest, settings=probe_settings,
                          on_progress=job.report, should_stop=lambda: job.stopping, known=known, known_from=known_from)

    def finish(job: Job) -> None:
        if job.state in (DONE, STOPPED) and job.result is not None:
            if job.interference is not None:
                job.result.interference = job.interference.to_dict()
            s.hardware_probe = job.result
            s.notify("success" if job.state == DONE else "info",
                     "Measured this machine's peaks" + (" and your model's speed on 1 to "
                                                        f"{job.result.threads} threads" if trained is not None else "")
                     + ("." if job.state == DONE else f", stopped ({job.stop_reason}): what was done is shown."))
        elif job.state == FAILED:
            s.notify("error", f"Measuring this machine failed: {job.error} What you had before is kept.")
        elif job.state == CANCELLED:
            s.notify("info", f"Measuring this machine was cancelled before it started ({job.stop_reason}).")

    estimate = 3.0 + (6.0 if trained is not None else 0.0)
    return RUNNER.submit(s.token, Job("hardware", "measuring this machine's peaks", estimate), body, finish=finish)


def _fp32_rates(s: Session) -> dict[tuple[int, int], float]:
    """Images/s of this model's fp32 as Compress & benchmark measured it, quiet, on this server: {(threads,
    batch): images/s} at batch 1 (1 / its median call) and at the benchmark's batch. A replay's or a compute
    cluster node's are another machine's, so none then."""
    fp32 = next((r for r in s.results if r.name == "fp32" and r.available), None)
    if fp32 is None or s.trained is None or s.results_elsewhere or fp32.layout != s.trained.layout:
        return {}   # (the sweep runs the model in its training layout: another layout is another measured thing)
    out = {}
    if fp32.latency_ms_batch1_p50 and not fp32.is_disturbed("batch1"):
        out[(fp32.threads, 1)] = 1000.0 / fp32.latency_ms_batch1_p50
    if fp32.throughput_batch256_ips and not fp32.is_disturbed("batch"):
        out[(fp32.threads, fp32.batch_size)] = fp32.throughput_batch256_ips
    return out
