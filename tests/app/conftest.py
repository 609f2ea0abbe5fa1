"""The pages' jobs run on one thread with the app's timing windows cut short (see quick_app_jobs); the
class board in a temporary data folder (data_dir); the installed components looked up once per run
(_components_scanned_once) and the pages' scripts compiled once (_scripts_compiled_once). Driving the pages: tests/app/drive.py."""

import functools
import os

import pytest

from dashboard.lab import settings


@pytest.fixture(scope="session", autouse=True)
def _components_scanned_once():
    """Streamlit's own scan of every installed package for components (streamlit.components.v2), done once
    per run, as a real server does it once when it starts: AppTest does it again for every new AppTest, about
    75 ms each over the ~110 distributions installed here, some 10 s of the fast tier. The scan itself is
    Streamlit's, and what it found is handed to each AppTest as a new list (what is installed cannot change
    during a run)."""
    from streamlit.components.v2 import manifest_scanner

    scan = functools.cache(manifest_scanner.scan_component_manifests)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(manifest_scanner, "scan_component_manifests", lambda max_workers=None: list(scan()))
        yield


@pytest.fixture(scope="session", autouse=True)
def _scripts_compiled_once():
    """One cache of the pages' compiled scripts for the whole run, as a real server keeps one for as long as it runs
    (its Runtime's ScriptCache): AppTest makes two new ones for every run, so every click compiled dashboard/app.py
    and the page again (about a fifth of a page test's time). The cache is Streamlit's own; the scripts do not
    change during a run."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner

    shared = ScriptCache()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(app_test, "ScriptCache", lambda: shared)
        mp.setattr(local_script_runner, "ScriptCache", lambda: shared)
        yield


@pytest.fixture(autouse=True)
def _quick_app_jobs(quick_app_jobs):
    pass


@pytest.fixture
def data_dir(tmp_path, quick_app_jobs):
    """The board's SQLite file in a temporary folder, no database URL (after quick_app_jobs, which re-reads
    the settings); the variables as they were, and the settings re-read, after."""
    names = ("TRAIN_INFER_LAB_DATABASE_URL", "TRAIN_INFER_LAB_DATA_DIR")
    before = {name: os.environ.get(name) for name in names}
    os.environ.pop("TRAIN_INFER_LAB_DATABASE_URL", None)
    os.environ["TRAIN_INFER_LAB_DATA_DIR"] = str(tmp_path / "lab-data")
    settings.override(None)
    yield tmp_path / "lab-data"
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    settings.override(None)
