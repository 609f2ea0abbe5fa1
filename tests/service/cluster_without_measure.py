"""Run by tests/service/test_backends.py in a process of its own (one process holds one Ray cluster, and the test
run's has a measuring node): a real local Ray cluster whose only node declares no "measure" resource, the Ray
backend on it, and a session that already has a model and a run. Prints, as one JSON line, what starting jobs
there did to the session."""

from __future__ import annotations

import json
import os


def main() -> dict:
    os.environ["TRAIN_INFER_LAB_THREADS"] = "1"   # as the tests' quick_app_jobs: no fight for the cores
    import ray

    from dashboard.lab.compression.compress import CompressSettings
    from dashboard.lab.energy import EnergySettings
    from dashboard.lab.training.train import TrainConfig
    from dashboard.service import backend, measuring, training_jobs
    from dashboard.service.backend import InProcess
    from dashboard.service.jobs import DONE, RUNNER, Busy, Job
    from dashboard.service.ray_backend import NAMESPACE, RayBackend
    from dashboard.service.sessions import REGISTRY, DataChoice
    from dashboard.service.slot import Slot

    tiny = TrainConfig(model="mlp", epochs=1, train_images=400, seed=5)
    s = REGISTRY.create()
    backend.use(InProcess())
    trained = training_jobs.start_training(s, tiny)   # what the session has and must keep
    assert trained.wait(120) and trained.state == DONE, trained.error
    s.take_notices()
    kept = {"digest": s.digest, "runs": len(s.runs), "job": s.job is trained}

    # address="local": a new cluster of this process's own, whatever else runs on this machine
    ray.init(address="local", num_cpus=1, include_dashboard=False, namespace=NAMESPACE,
             object_store_memory=100 * 2**20, logging_level="WARNING")
    out: dict = {"before": kept}
    try:
        cluster = RayBackend()
        backend.use(cluster)
        out["nodes"] = cluster.nodes()
        refused = {}
        for what, start in (("training", lambda: training_jobs.start_training(s, tiny)),
                            ("compress", lambda: measuring.start_compress(s, ["fp32"], CompressSettings())),
                            ("sensitivity", lambda: measuring.start_sensitivity(s, fresh=True))):
            try:
                start()
                refused[what] = None
            except Busy as exc:
                refused[what] = {"class": type(exc).__name__, "message": str(exc)}
        out["refused"] = refused
        out["after"] = {"digest": s.digest, "runs": len(s.runs), "job": s.job is trained,
                        "notices": s.take_notices()}
        # A job already queued when the last measuring node left: it fails with the same line, as a user's error.
        job = RUNNER.submit("a queued job's session", Job("training", "a training queued before", slot=Slot()),
                            lambda job: cluster.run(job, training_jobs.train_task, tiny, DataChoice("digits"),
                                                    EnergySettings()))
        assert job.wait(60)
        out["queued_job"] = {"state": job.state, "error": job.error}
    finally:
        ray.shutdown()
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
