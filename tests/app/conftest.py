"""The pages' jobs run on one thread with the app's timing windows cut short (see quick_app_jobs)."""

import pytest


@pytest.fixture(autouse=True)
def _quick_app_jobs(quick_app_jobs):
    pass
