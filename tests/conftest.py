"""Shared fixtures. Tests run on the bundled digits only: no network anywhere.

Two tiers. `pytest -n 2` runs everything in two pytest-xdist workers (the README's command, and CI's; share_group
below says which tests run together). `pytest -m "not slow" -n 2` is the fast tier, about a minute on 2 cores (the
README says what was measured: most runs under one): no training longer than a second. A test that
needs real training (an accuracy target, a full-size run, energy metered around a whole
pipeline) is marked `slow`; so is every e2e test (tests/e2e/conftest.py) and the wheel build
(tests/deploy/test_wheel.py). A test that only needs *a* trained model takes `tiny_trained`; a page test that needs
a model trained and measured through the pages takes `tiny_measured` (tests/app/drive.py's give_measured).
"""

from __future__ import annotations

import gc
import os
import socket
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.error import URLError

import pytest

# No cyclic garbage collection while the tests are imported and collected (turned back on in
# pytest_collection_finish): importing torch and rewriting the test files' asserts leave half a million objects,
# and each automatic full collection walked them all, 2.2 s of every process's 9.6 s start-up.
gc.disable()

# One test process makes hundreds of sessions in the one registry, each held by its test: the server's cap
# (120) is for a room. Tests of the cap set their own (tests/service/test_authority.py).
os.environ.setdefault("TRAIN_INFER_LAB_MAX_SESSIONS", "2000")

import dashboard  # noqa: F401, I001  first: its OpenMP default must precede torch
from tests.keys import PRESENTER_KEY

# torch, torchvision and the engine are imported where a fixture needs them, not here: `pytest -n 2`'s first
# process only hands out the tests, and importing them there (2.5 s) delayed both workers' start.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")   # set in each of `pytest -n 2`'s workers
if XDIST_WORKER:
    import torch

    # Two workers share the 2 cores: torch on one thread each, unless a test asks for more, so neither worker's
    # OpenMP threads spin on a core the other worker holds.
    torch.set_num_threads(1)
CNN_TRAINED = ("tests/unit/test_train.py", "tests/unit/test_compress.py")   # they share cnn_trained (three epochs)


def share_group(nodeid: str) -> str:
    """Which tests `pytest -n 2` runs in one worker, by what they share, so it is made once per run: the browser tests
    one server and one Chromium, test_train and test_compress the cnn_trained model, every other file its module's
    fixtures."""
    path = nodeid.split("::")[0]
    if path.startswith("tests/e2e/"):
        return "browser"
    return "cnn_trained" if path in CNN_TRAINED else path


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:   # no pytest-xdist: one process, nothing to schedule
    pass
else:
    class ByWhatTheyShare(LoadScopeScheduling):
        """xdist's scope scheduling, with share_group as the scope: a whole group goes to one worker. (xdist's own
        --dist loadgroup marks the groups in the test ids, which pytest 9.2 no longer lets it change.)"""

        def _split_scope(self, nodeid: str) -> str:
            return share_group(nodeid)

    def pytest_xdist_make_scheduler(config: pytest.Config, log) -> LoadScopeScheduling:
        config.option.loadscopereorder = False   # the groups in collection order (see below)
        return ByWhatTheyShare(config, log)


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.enable()   # from here on, _frozen_heap keeps what was made so far out of every collection


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In `pytest -n 2`'s workers, the groups in the order they are handed out: the browser tests first, the longest
    group by far, so the other worker takes everything else meanwhile; then the groups with the most tests (xdist's
    own order), so no large one is left for the end. In one process the order stays."""
    if XDIST_WORKER:
        group = {item.nodeid: share_group(item.nodeid) for item in items}
        size = Counter(group.values())
        items.sort(key=lambda item: (group[item.nodeid] != "browser", -size[group[item.nodeid]]))


@pytest.fixture(scope="session")
def digits():
    from dashboard.lab.inputs.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="session")
def tiny_digits(digits):
    """The first 512 training and 256 test digits: enough to learn something in a fraction of a second."""
    return digits.subset(512, 256)


@pytest.fixture(scope="session")
def tiny_trained(tiny_digits):
    """An mlp after one epoch on `tiny_digits` (well above chance, far from good). Shared by the
    whole session: use it read-only."""
    from dashboard.lab.training.train import TrainConfig, train

    return train(TrainConfig(model="mlp", epochs=1, batch_size=64, threads=1), tiny_digits)


@pytest.fixture(scope="session")
def cnn_trained(digits):
    """The default cnn after three real epochs on all 8,000 bundled digits, on torch's threads (2 on a 2-core machine,
    1 in each of `pytest -n 2`'s workers; slow tests only: a few seconds on a quiet 2-core machine):
    tests/unit/test_train.py checks what it reaches, test_compress.py makes every variant of it. Shared by the whole
    session: use it read-only."""
    import torch

    from dashboard.lab.training.train import TrainConfig, train

    before = torch.get_num_threads()
    try:
        return train(TrainConfig(model="cnn", epochs=3, threads=before), digits)
    finally:
        torch.set_num_threads(before)


@contextmanager
def _quick_jobs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """quick_app_jobs' settings, for a fixture of any scope: set through `monkeypatch` (undone with it) and
    the server's thread count, set and restored here."""
    from dashboard.lab import settings
    from tests import quick_timing

    quick_timing.apply(monkeypatch.setattr)
    # Set and restored here, not with monkeypatch: the settings must be re-read after the
    # variable is gone, and monkeypatch restores only after this fixture has ended.
    before = os.environ.get("TRAIN_INFER_LAB_THREADS")
    os.environ["TRAIN_INFER_LAB_THREADS"] = "1"
    settings.override(None)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TRAIN_INFER_LAB_THREADS", None)
        else:
            os.environ["TRAIN_INFER_LAB_THREADS"] = before
        settings.override(None)


@pytest.fixture
def quick_app_jobs(monkeypatch):
    """The app's jobs as a test needs them: figures, not good ones, and no fight for the cores.

    One server thread (TRAIN_INFER_LAB_THREADS=1, so a test that re-reads the settings keeps it):
    two spinning OpenMP threads on a 2-core machine that also runs something else made one
    page test take 20 s instead of 1. And the app's timing windows cut to one short round
    (energy still metered over it).
    """
    with _quick_jobs(monkeypatch):
        yield


@pytest.fixture(scope="session")
def tiny_measured() -> dict:
    """A tiny mlp trained through the Train page and its fp32 and int8-static versions measured through Compress
    & benchmark (tests/app/drive.py's measure_tiny, with quick_app_jobs' settings), once per run: what the session
    then holds of its model (tests/app/drive.py's measured_state). For page tests that need a measured model, not
    the training: each puts its own copy into its own session (drive.give_measured). tests/app/test_pages.py
    trains and measures through the pages itself."""
    from tests.app.drive import fresh, measure_tiny, measured_state

    with pytest.MonkeyPatch.context() as mp, _quick_jobs(mp):
        at = fresh()
        measure_tiny(at)
        return measured_state(at)


@pytest.fixture
def windows_count_as_quiet(monkeypatch):
    """No timed window counts as disturbed (lab.measure.quiet's thresholds out of reach), so nothing is measured
    again or labelled. For tests of what is made of the figures (a device profile's fits, a replay's contents):
    on a loaded 2-core machine a window can stay disturbed, and a disturbed figure decides no fit and is refused
    by a replay, which tests/unit/test_quiet.py, test_bench.py, test_edge.py's
    test_a_disturbed_time_decides_no_fit_and_gives_no_headroom and test_replay.py's
    test_a_replay_refuses_figures_that_stayed_disturbed and tests/service/test_shared_and_sessions.py's
    test_a_measurement_that_stayed_disturbed_... check with disturbances they make themselves. Also for tests of
    what is done with quiet figures (sharing them), which a loaded machine would otherwise keep waiting. The
    browser tests' server counts every window quiet too (tests/e2e/conftest.py)."""
    from tests import quick_timing

    quick_timing.all_quiet(monkeypatch.setattr)


@pytest.fixture(scope="module", autouse=True)
def _frozen_heap():
    """Before each test module: what is alive now (torch, streamlit and every other import, the session's
    fixtures, what earlier modules left) is collected once and frozen (gc.freeze), so no later collection
    walks it. The engine runs a full gc.collect() before every timed round (lab.measure.bench) and after a
    long job (lab.hardware.release_memory); in this process, which holds over half a million objects after
    collection, each took 0.3-0.45 s, about 60 s of the fast tier. Objects made from here on are still
    collected as before (tests/unit/test_hostile_uploads.py counts what a collection finds)."""
    gc.collect()
    gc.freeze()
    yield


@pytest.fixture(autouse=True)
def _torch_threads():
    # The suite must fit 2 cores; one thread keeps tests from fighting each other.
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


NO_NETWORK = "<urlopen error [Errno -3] Temporary failure in name resolution>"


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    """torchvision's downloads fail as they do offline, whether or not this machine is connected.

    The dataset classes stay torchvision's own (files already in the cache still load); only
    their download step is replaced by what it raises when no mirror answers: MNIST and
    Fashion-MNIST try each mirror and raise RuntimeError("Error downloading ..."), CIFAR-10's
    urllib raises URLError (see torchvision/datasets/mnist.py and cifar.py).
    """
    from torchvision import datasets as tv_datasets

    def mnist_download(self) -> None:
        if self._check_exists():
            return
        tried = "".join(f"Tried {mirror}, got:\n{NO_NETWORK}\n" for mirror in self.mirrors)
        raise RuntimeError(f"Error downloading {self.resources[0][0]}:\n{tried}")

    def cifar_download(self) -> None:
        if self._check_integrity():
            return
        raise URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(tv_datasets.MNIST, "download", mnist_download)  # FashionMNIST inherits it
    monkeypatch.setattr(tv_datasets.CIFAR10, "download", cifar_download)


@pytest.fixture
def training_alongside():
    """A context manager: while it is open, another thread trains a small model in a loop (as a
    second user's job would). It yields a function that says how many steps that thread has done,
    and on exit it checks the thread raised nothing."""
    import threading
    from contextlib import contextmanager

    import torch
    import torch.nn.functional as F

    from dashboard.lab.training.models import ModelSpec, build_model

    @contextmanager
    def alongside(model: str = "mlp", batch: int = 16):
        stop, started, errors, steps = threading.Event(), threading.Event(), [], [0]

        def train_elsewhere():
            other = build_model(ModelSpec(model))
            opt = torch.optim.Adam(other.parameters())
            x, y = torch.randn(batch, 1, 28, 28), torch.zeros(batch, dtype=torch.long)
            try:
                while not stop.is_set():
                    loss = F.cross_entropy(other(x), y)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    steps[0] += 1
                    started.set()
            except Exception as e:  # noqa: BLE001  reported below
                errors.append(e)

        thread = threading.Thread(target=train_elsewhere)
        thread.start()
        try:
            assert started.wait(10)
            yield lambda: steps[0]
        finally:
            stop.set()
            thread.join()
        assert errors == []

    return alongside


@pytest.fixture
def gil_held_alongside():
    """A context manager: while it is open, another Python thread computes all the time, so it holds the
    GIL whenever the measuring thread lets go of it (every torch call does), as another session's page
    rerun does in the app. A real disturbance, on a quiet machine and a busy one alike."""
    import threading
    from contextlib import contextmanager

    @contextmanager
    def alongside():
        stop = threading.Event()

        def spin() -> None:
            while not stop.is_set():
                sum(range(2000))

        thread = threading.Thread(target=spin)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    return alongside


@pytest.fixture(scope="session", autouse=True)
def _known_presenter_key():
    """A known presenter key for the whole run, so no test process prints a generated one and tests can type it."""
    from dashboard.service import authority

    authority.reset_for_tests()
    authority.configure(PRESENTER_KEY)
    yield
