"""Every version of the session's model again, for Try it yourself and the device profiles (Edge & cloud).

The Session keeps the measured versions' figures, not their models: `versions` says which set was
measured and how it was made, and the jobs here make that set again once per model (same seed and
settings: the same weights) and keep it in the caller's store for every later use. `start_prediction`
puts one image through every version; `start_edge` measures every version under device profiles.

Not yet through the compute backend (service.backend): with a Ray cluster configured, this job still runs in this
process, in the COMPUTE slot.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import torch

from dashboard.lab import pipeline, settings
from dashboard.lab.compression.compress import CompressSettings, make_variants, resolve_names
from dashboard.lab.deploy import edge
from dashboard.lab.inputs import data
from dashboard.lab.serving import preprocess
from dashboard.lab.training.train import TrainedModel
from dashboard.service.jobs import CANCELLED, DONE, FAILED, RUNNER, STOPPED, Job
from dashboard.service.sessions import Session, copy_results
from dashboard.service.training_jobs import estimate


@dataclass
class Versions:
    """What it takes to make the session's measured versions again (see `versions`)."""

    names: list[str]
    settings: CompressSettings
    layouts: dict[str, str]
    key: tuple
    kept: list | None        # the versions already made for this key, or None


def versions(s: Session, kept: dict) -> Versions:
    """The session's measured set of versions (a stopped run: its part; none measured: fp32). The
    Session keeps results, not the versions' modules, so they are made again once per model and set
    (same seed and settings: the same weights; pruned and distilled ones fine-tune again, seconds)
    and kept in `kept`, the caller's own store (per tab), for every later use."""
    if s.trained is None:
        raise ValueError("train a model first")
    measured = s.results_settings if s.results else {}
    names = resolve_names([r.name for r in s.results] or ["fp32"])
    fields = {f.name for f in dataclasses.fields(CompressSettings)}
    cs = CompressSettings(**{k: v for k, v in (measured.get("compress") or {}).items() if k in fields})
    cs = dataclasses.replace(cs, try_channels_last=False)   # no timing: each takes the layout it was measured in
    k = (s.digest, tuple(names), repr(sorted(cs.to_dict().items())))
    return Versions(names, cs, {r.name: r.layout for r in s.results}, k,
                    kept.get("variants") if kept.get("key") == k else None)


def _make_versions(job: Job, trained: TrainedModel, dataset: data.Dataset, v: Versions, kept: dict,
                   share: float) -> list | None:
    """Make the versions (progress up to `share`), each in the layout it was measured in; None if stopped."""
    once = " (once for this model; later uses take milliseconds)"
    made = make_variants(trained, dataset, v.names, v.settings, should_stop=lambda: job.stopping,
                         on_progress=lambda f, m: job.report(share * f, m + once))
    if job.stopping or len(made) < len(v.names):
        return None
    for m in made:
        # A torch.compile'd version keeps the layout it was compiled for (another would recompile).
        if (v.layouts.get(m.name) == "channels_last" and m.module is not None
                and type(m.module).__name__ not in ("CompiledModule", "OptimizedModule")):
            try:
                m.module = copy.deepcopy(m.module).to(memory_format=torch.channels_last)
            except (RuntimeError, TypeError):
                pass   # quantized graphs: only the input changes layout, as when measured
            m.layout = "channels_last"
    kept.clear()
    kept.update(key=v.key, variants=made)
    return made


def _versions_estimate(s: Session, v: Versions) -> float:
    """Seconds to make the versions again (0 when kept); raises LimitExceeded beyond the caps."""
    if v.kept is not None:
        return 0.0
    config = s.trained.config
    n_train = min(data.TRAIN_SIZES.get(config.dataset, 0), config.train_images or 10**9)
    images = pipeline.check_budget(config, n_train, v.names, v.settings, train=False)
    return estimate(config, images) + 0.3 * len(v.names)


def start_prediction(s: Session, prepared, kept: dict) -> Job:
    """One prepared image (lab.serving.preprocess.Prepared) through every version of the session's model, as a
    light job in the compute slot; every image after the first costs one call per version,
    milliseconds. job.result: [preprocess.Answer]; job.view["wanted"]: the (model digest, image
    digest) it answers."""
    v = versions(s, kept)
    info = data.CATALOG[s.trained.dataset]
    estimate = _versions_estimate(s, v)
    trained = s.trained_model() if v.kept is None else None
    loaded: dict[str, data.Dataset] = {}

    def prepare(job: Job) -> None:
        if trained is not None:
            job.message = f"loading {info.title}"
            loaded["ds"] = s.dataset()

    def body(job: Job) -> list | None:
        use = v.kept
        if use is None:
            use = _make_versions(job, trained, loaded["ds"], v, kept, 0.95)
            if use is None:
                return None
            job.report(0.95, "a first, untimed call of each version")
            preprocess.warm_up(use, info)
        job.report(0.97, "predicting")
        return preprocess.predict(use, prepared, info)

    job = Job("prediction", f"one image through {len(v.names)} version(s)", estimate or 0.2)
    job.view["wanted"] = (s.digest, prepared.digest)
    return RUNNER.submit(s.token, job, body, prepare=prepare)


def start_edge(s: Session, profiles: list, kept: dict) -> Job:
    """Every version of the session's model under each lab.deploy.edge.DeviceProfile in `profiles`, one job
    in the compute slot; each EdgeRun lands in s.edge_runs under its profile's key as it is done."""
    limits, threads = settings.current().limits, settings.current().threads
    for p in profiles:
        p.check(threads, limits.max_batch_size)
    v = versions(s, kept)
    estimate = _versions_estimate(s, v) + len(profiles) * (1.0 + 1.2 * len(v.names))
    trained = s.trained_model() if v.kept is None else None
    digest, names = s.digest, tuple(v.names)
    # One measured thing, one figure: a profile at the benchmark's threads and batch reads the Compress figures
    # of this model (not a replay's or a compute cluster node's: those were measured on another machine).
    known = [] if s.results_elsewhere else copy_results(s.results)
    known_from = "Compress & benchmark" + (f" ({s.results_note})" if s.results_note else "")
    loaded: dict[str, data.Dataset] = {}

    def prepare(job: Job) -> None:
        job.message = "loading the test images"
        loaded["ds"] = s.dataset()

    def body(job: Job) -> list | None:
        use = v.kept
        share = 0.3 if use is None else 0.0
        if use is None:
            use = _make_versions(job, trained, loaded["ds"], v, kept, share)
            if use is None:
                return None
        done = []
        for i, p in enumerate(profiles):
            if job.stopping:
                break
            base, width = share + (1 - share) * i / len(profiles), (1 - share) / len(profiles)
            run = edge.run_profile(use, loaded["ds"], p, energy_settings=s.settings,
                                   on_progress=lambda f, m, p=p: job.report(base + width * f, f"{p.title}: {m}"),
                                   should_stop=lambda: job.stopping, known=known, known_from=known_from)
            if run.stopped:
                break
            run.key = (digest, names)
            with s.lock:
                if s.digest == digest:
                    s.edge_runs[p.key] = run
            done.append(run)
        return done

    def finish(job: Job) -> None:
        n = len(job.result or [])
        if job.state == DONE and n == len(profiles):
            s.notify("success", f"Measured every version under {n} device profile{'s' if n > 1 else ''}.")
        elif job.state in (DONE, STOPPED):
            s.notify("info", f"Stopped ({job.stop_reason or 'stopped'}): {n} of {len(profiles)} profiles measured; "
                             "those are shown.")
        elif job.state == FAILED:
            s.notify("error", f"Measuring under the device profiles failed: {job.error} What you had is kept.")
        elif job.state == CANCELLED:
            s.notify("info", f"Device profiles cancelled before they started ({job.stop_reason}).")

    what = profiles[0].title if len(profiles) == 1 else f"{len(profiles)} device profiles"
    return RUNNER.submit(s.token, Job("edge", f"every version under {what}", estimate), body,
                         prepare=prepare, finish=finish)
