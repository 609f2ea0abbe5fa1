"""The Ray backend: a job's task runs as a Ray task on a measuring node of a cluster (service.backend).

Chosen by TRAIN_INFER_LAB_RAY_ADDRESS; `ray` (the optional extra, 2.60) is imported here only. What it
owns: connecting, the app's queue for the cluster's measuring nodes, sending a task and relaying what it
reports, and turning a lost worker into one clear failure.

- One measurement per node: each worker node declares the custom resource {"measure": 1} (`ray start
  --resources='{"measure":1}'`) and every task asks for it with num_cpus=0, so two never share a node.
  The app keeps its own queue (`slot()`, one place per node: place in line, time to wait) and sends a
  task only when a place is free, so Ray never holds a hidden queue of its own.
- Progress and Stop go through one small actor, the Hub (a mailbox per job): the worker sends what it
  reports every POLL_S and learns in the same call whether the job was stopped; the job's thread in the
  app takes the messages every POLL_S and hands them to the Job. A streaming generator would be simpler,
  but the ray:// client cannot iterate one; an actor works over both ways of connecting.
- Across the boundary goes plain data only: the task function (by reference: worker nodes need the same
  package version, and the datasets present, since they cannot download), its plain arguments, the
  messages, the result. Weights travel as bytes.
- A worker or node that dies fails the job with WorkerLost; a task that raises fails it as in-process.
"""

from __future__ import annotations

import os
import pickle
import threading
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from dashboard.service.backend import WorkerLost, WorkerRefused
from dashboard.service.jobs import Busy, Job
from dashboard.service.slot import Slot

T = TypeVar("T")
POLL_S = 0.05       # how often progress and Stop cross (20-40 ms latency measured at 50 ms on 2 cores)
NAMESPACE = "train-infer-lab"
RESOURCE = "measure"
NO_NODE = ("The compute cluster has no measuring node (none started with --resources='{\"measure\":1}'): jobs "
           "cannot run until one joins.")


class ClusterUnavailable(Busy):
    """The Ray cluster cannot take jobs (not reachable, or no measuring node): said to the user in one line, as
    a busy server is (the pages' start buttons show a Busy's message and keep the page)."""


class Hub:
    """A mailbox per running job: the worker puts what it reports, the app takes it and says Stop."""

    def __init__(self) -> None:
        self._boxes: dict[str, tuple[list[bytes], list[bool]]] = {}

    def open(self, job_id: str) -> None:
        self._boxes[job_id] = ([], [False])

    def put(self, job_id: str, blob: bytes) -> bool:
        """The worker's messages (one pickled list); True when the job was stopped (or is gone)."""
        box = self._boxes.get(job_id)
        if box is None:
            return True
        if blob:
            box[0].append(blob)
        return box[1][0]

    def take(self, job_id: str, stop: bool) -> list[bytes]:
        """The app's side: what arrived since the last take; `stop` is the job's Stop."""
        box = self._boxes.get(job_id)
        if box is None:
            return []
        box[1][0] = box[1][0] or stop
        out = list(box[0])
        box[0].clear()
        return out

    def close(self, job_id: str) -> None:
        self._boxes.pop(job_id, None)


class RemoteChannel:
    """A Job's reporting calls inside a Ray worker, sent to the Hub every POLL_S by a thread of its own."""

    def __init__(self, hub: Any, job_id: str) -> None:
        import ray

        self._ray, self._hub, self._id = ray, hub, job_id
        self._lock = threading.Lock()
        self._out: list[tuple] = []
        self._stop = threading.Event()
        self._tells: list[Callable[[], None]] = []
        self._done = threading.Event()
        from dashboard.lab import hardware

        node = (ray.get_runtime_context().get_node_id() or "")[:8]
        # Where the task runs, as a Job has it (service.backend.place_of): its figures name this machine.
        self.where, self.hardware = f"Ray node {node}", hardware.describe("cpu").to_dict()
        self._send(("worker", {"node": node, "pid": os.getpid(), "hardware": self.hardware}))
        self._thread = threading.Thread(target=self._loop, name="job channel", daemon=True)
        self._thread.start()

    # the Job's calls (service.jobs.Job)
    def report(self, fraction: float, message: str) -> None:
        self._send(("report", float(fraction), message))

    def show(self, **values: Any) -> None:
        self._send(("show", values))

    def add(self, key: str, item: Any) -> None:
        self._send(("add", key, item))

    def keep(self, value: Any) -> None:
        self._send(("keep", value))

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def on_stop(self, tell: Callable[[], None]) -> None:
        self._tells.append(tell)
        if self._stop.is_set():
            tell()

    def _send(self, message: tuple) -> None:
        with self._lock:
            self._out.append(message)

    def _flush(self) -> None:
        with self._lock:
            batch, self._out = self._out, []
        try:
            stopped = self._ray.get(self._hub.put.remote(self._id, pickle.dumps(batch) if batch else b""))
        except Exception:  # noqa: BLE001  the app's mailbox is gone: nobody follows this job any more
            stopped = True
        if stopped and not self._stop.is_set():
            self._stop.set()
            for tell in self._tells:
                tell()

    def _loop(self) -> None:
        while not self._done.wait(POLL_S):
            self._flush()

    def close(self) -> None:
        """Send what is left (before the task returns, so the app has every message with the result)."""
        self._done.set()
        self._thread.join()
        self._flush()


def _run_task(task: Callable[..., Any], args: tuple, hub: Any, job_id: str, threads: int) -> Any:
    """In the worker: the server's thread count, the channel, the task; a user's error keeps its line."""
    from dashboard.lab import hardware
    from dashboard.service import incidents

    hardware.set_threads(threads)
    channel = RemoteChannel(hub, job_id)
    try:
        return task(channel, *args)
    except Exception as exc:
        if incidents.is_user_error(exc):
            raise WorkerRefused(incidents.student_line(exc)) from None
        raise
    finally:
        channel.close()


class RayBackend:
    """Jobs as Ray tasks on the measuring nodes of the cluster at `address` (None: Ray already initialised)."""

    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        import ray

        self._ray = ray
        if not ray.is_initialized():
            try:
                ray.init(address=address, namespace=NAMESPACE, logging_level="WARNING")
            except Exception as exc:  # noqa: BLE001  ConnectionError, or ray:// without ray[client]
                raise ClusterUnavailable(f"The compute cluster ({address}) could not be reached: "
                                         f"{type(exc).__name__}. Jobs cannot run until it answers.") from exc
        self._task = ray.remote(_run_task).options(num_cpus=0, resources={RESOURCE: 1}, max_retries=0)
        self._hub: Any = None
        self._lock = threading.Lock()
        self._slot = Slot(capacity=max(1, self.nodes()))

    def nodes(self) -> int:
        """Measuring places in the cluster now (the sum of its nodes' "measure" resource)."""
        return int(self._ray.cluster_resources().get(RESOURCE, 0))

    def slot(self) -> Slot:
        """The app's queue for the measuring nodes, one place per node; ClusterUnavailable when there is none (the
        start button says so in one line and nothing is queued)."""
        n = self.nodes()
        if n < 1:
            raise ClusterUnavailable(NO_NODE)
        self._slot.capacity = n   # nodes may have joined or left since the last job
        return self._slot

    def _hub_handle(self) -> Any:
        with self._lock:
            if self._hub is None:
                from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

                here = self._ray.get_runtime_context().get_node_id()   # beside the app: a lost worker node
                self._hub = self._ray.remote(Hub).options(                # takes no other job's mailbox
                    num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=True)).remote()
            return self._hub

    def run(self, job: Job, task: Callable[..., T], *args: Any) -> T:
        from dashboard.lab import settings

        ray = self._ray
        if self.nodes() < 1:   # the last one left while the job waited
            raise ClusterUnavailable(NO_NODE)
        job_id = uuid.uuid4().hex
        job.where = "Ray"
        try:
            hub = self._hub_handle()
            ray.get(hub.open.remote(job_id))
            ref = self._task.remote(task, args, hub, job_id, settings.current().threads)
            try:
                done = False
                while not done:
                    done = bool(ray.wait([ref], timeout=POLL_S)[0])
                    relay(job, ray.get(hub.take.remote(job_id, job.stopping)))
                return ray.get(ref)
            finally:
                hub.close.remote(job_id)
        except ray.exceptions.RayTaskError as exc:   # the task raised: that error, as in-process
            cause = exc.cause if isinstance(exc.cause, Exception) else None
            if cause is None:
                raise RuntimeError(str(exc)) from None
            raise cause from exc
        except ray.exceptions.RayError as exc:       # the worker, its node or the mailbox is gone
            if isinstance(exc, ray.exceptions.RayActorError):
                with self._lock:
                    self._hub = None                 # the next job makes a new mailbox
            raise WorkerLost(f"The compute worker running this job was lost ({type(exc).__name__}: its process "
                             "or its machine stopped). Start it again.") from exc


def relay(job: Job, blobs: list[bytes]) -> None:
    """Hand a worker's messages to the Job, in the order they were sent."""
    for blob in blobs:
        for message in pickle.loads(blob):
            kind = message[0]
            if kind == "report":
                job.report(message[1], message[2])
            elif kind == "show":
                job.show(**message[1])
            elif kind == "add":
                job.add(message[1], message[2])
            elif kind == "keep":
                job.keep(message[1])
            elif kind == "worker":
                job.where, job.hardware = f"Ray node {message[1]['node']}", message[1].get("hardware")
                job.show(worker=message[1])
