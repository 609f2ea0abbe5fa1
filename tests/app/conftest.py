"""The pages' jobs run on one thread with the app's timing windows cut short (see quick_app_jobs); the
class board in a temporary data folder (data_dir). Driving the pages: tests/app/drive.py."""

import os

import pytest

from dashboard.lab import settings


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
