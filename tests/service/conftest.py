"""The service's jobs run on one thread with the app's timing windows cut short (see quick_app_jobs);
the class board's fixtures: a throwaway PostgreSQL for the whole run, and an empty board on it or on SQLite;
a local Ray cluster for the compute backend's tests."""

import os

import pytest
from sqlalchemy import create_engine, text

from dashboard.service.board import Board
from tests.service.board_kit import throwaway_postgres

TABLES = "class_board, board_nicknames, board_classes"


@pytest.fixture(autouse=True)
def _quick_app_jobs(quick_app_jobs):
    pass


@pytest.fixture(scope="session")
def postgres_url():
    """One throwaway PostgreSQL for every board test of the run (each `url` empties its tables)."""
    with throwaway_postgres() as url:
        if url is None:
            reason = ("PostgreSQL's server is not installed (/usr/lib/postgresql/*/bin/initdb): "
                      "apt-get install postgresql (Debian's package)")
            if os.environ.get("TRAIN_INFER_LAB_REQUIRE_POSTGRES") == "1":
                pytest.fail(reason + "; TRAIN_INFER_LAB_REQUIRE_POSTGRES=1 requires it")
            pytest.skip(reason)
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """A URL to an empty board."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'board.sqlite3'}"
    url = request.getfixturevalue("postgres_url")
    Board(url)  # its table exists from here on
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES}"))
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def ray_cluster():
    """A real local Ray cluster for the whole run, with one measuring node as a cluster declares it (the custom
    resource {"measure": 1}), and the Ray backend on it (tests/service/test_backends.py). Not mocked, never
    skipped: `ray` is in the test extra."""
    import ray

    from dashboard.service.ray_backend import NAMESPACE, RayBackend

    ray.init(num_cpus=2, resources={"measure": 1}, include_dashboard=False, namespace=NAMESPACE,
             object_store_memory=200 * 2**20, logging_level="WARNING")
    try:
        yield RayBackend()
    finally:
        ray.shutdown()
