"""What the board tests share that is not a fixture: the sample result they post, a clock moved by hand, and a
throwaway PostgreSQL server. Plain code, not fixtures, because benchmarks/board_flood.py (not run by pytest) starts
the same throwaway server, and RESULT is a value the tests' own parametrize lists and defaults name.
The fixtures built on them (postgres_url, url) are in tests/service/conftest.py."""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from dashboard.service.board_posts import Result

RESULT = Result(  # what every board test posts unless it says otherwise
    accuracy=0.985, size_bytes=400_000, latency_ms=0.25, energy_j_per_1000_images=2.0,
    energy_measured=False, energy_note="estimated: CPU time x 45 W",
    variant="pruned-channels-50+int8-static", model="cnn", dataset="digits")


def result(**change) -> Result:
    return dataclasses.replace(RESULT, **change)


class Clock:
    """A monotonic clock that moves only when told (a board's `clock=`): rate limits and ages read it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _initdb() -> str | None:
    """The newest Debian PostgreSQL's initdb, if installed."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    return max(found, key=lambda p: int(Path(p).parts[-3].split(".")[0])) if found else None


def _as_server(program: str, *args: str) -> None:
    """Run a PostgreSQL program, as the postgres user when root (the server refuses to run as root)."""
    command = [program, *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        pytest.fail(f"{Path(program).name} failed: {done.stderr.strip()}")


@contextlib.contextmanager
def throwaway_postgres():
    """A PostgreSQL on a unix socket in a temporary folder, started from Debian's server binaries, stopped and
    removed after; yields its URL, or None where the server is not installed. (benchmarks/board_flood.py too.)"""
    initdb = _initdb()
    if initdb is None or (os.geteuid() == 0 and not _has_user("postgres")):
        yield None
        return
    pg_ctl = str(Path(initdb).with_name("pg_ctl"))
    # Not under pytest's tmp folder: that is private to root, and the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="board-pg-"))
    data = str(folder / "data")
    options = f"-k {folder} -c listen_addresses='' -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        _as_server(initdb, "-D", data, "--username=board", "--auth=trust", "--encoding=UTF8", "--locale=C",
                   "--no-sync")
        _as_server(pg_ctl, "-D", data, "-o", options, "-l", str(folder / "log"), "-w", "start")
        yield f"postgresql://board@/postgres?host={folder}"
    finally:
        if (folder / "data" / "postmaster.pid").exists():
            _as_server(pg_ctl, "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
