"""The real app as a subprocess: `streamlit run dashboard/entry.py` on a free localhost port.

Shared by the browser tests (tests/e2e/conftest.py) and the browser benchmarks (app.py, load.py):
a throwaway HOME and data folder, its own process group (stopping it stops only what it started),
the server's output in a log file.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "entry.py"   # the app behind its session cookie (dashboard/entry.py)
ACCESS_LINE = re.compile(r'"(GET|POST|HEAD) \S+ HTTP/[\d.]+" \d{3}')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log: Path

    def log_tail(self, n: int = 60) -> str:
        """The last n lines of the server's output, without the HTTP access lines."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join([line for line in lines if not ACCESS_LINE.search(line)][-n:])


def start_server(home: Path, extra_env: dict[str, str] | None = None, *, script: Path = APP,
                 before: str = "") -> Server:
    """`streamlit run dashboard/entry.py` (or `script`) in its own process group, HOME and data folder in `home`.
    `before`: Python statements the server's process runs first, then the same Streamlit command line (the browser
    tests shorten the app's timing windows with it)."""
    port = free_port()
    cache = home / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(cache),
           "TRAIN_INFER_LAB_DATA": str(cache / "train-infer-lab"),
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    log = home / "streamlit.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*_streamlit(before), "run", str(script), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return Server(process, f"http://127.0.0.1:{port}", log)


def _streamlit(before: str) -> list[str]:
    """`python -m streamlit`, or with `before` a `python -c` that runs it and then what `python -m streamlit` runs."""
    if not before:
        return [sys.executable, "-m", "streamlit"]
    return [sys.executable, "-c", f"{before}\nfrom streamlit.web.cli import main\nmain(prog_name='streamlit')"]


def wait_healthy(server: Server, timeout_s: float) -> float:
    """Poll /_stcore/health until it answers 'ok' and return time.monotonic() then; fail early,
    with the server's log, if it exits or stays unhealthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as response:
                if response.status == 200 and response.read().strip() == b"ok":
                    return time.monotonic()
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"streamlit not healthy at {server.url} after {timeout_s:.0f} s:\n{server.log_tail()}")


def stop_server(server: Server) -> None:
    """SIGTERM the server's own process group, SIGKILL if it lingers."""
    process = server.process
    for sig, wait_s in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            pass
