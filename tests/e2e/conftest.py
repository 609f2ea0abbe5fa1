"""End-to-end fixtures: the real `streamlit run` on a free localhost port, and Debian's Chromium.

The server gets a throwaway HOME (and cache) so nothing a user has configured leaks in and
nothing the test writes survives it. Every test in this folder is marked `e2e` and `slow` (a real
server and browser: not the fast tier, `pytest -m "not slow"`) and is skipped,
with the reason, only where no Chromium is installed (`playwright install` cannot fetch one here).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
APP = ROOT / "dashboard" / "app.py"

BROWSER_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
]
ACCESS_LINE = re.compile(r'"(GET|POST|HEAD) \S+ HTTP/[\d.]+" \d{3}')
SERVER_START_TIMEOUT_S = 90  # torch imports slowly on a busy 2-core box


def find_chromium() -> str | None:
    """Debian's chromium: /usr/bin/chromium, else whatever `chromium` is on PATH."""
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


CHROMIUM = find_chromium()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="no Chromium: install Debian's `chromium` package "
                                   "(/usr/bin/chromium); `playwright install` cannot download one here")
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)
            if CHROMIUM is None:
                item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def log_tail(self, n: int = 60) -> str:
        """The last n lines of the server's output, without the HTTP access lines."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join([line for line in lines if not ACCESS_LINE.search(line)][-n:])


def wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    """Poll /_stcore/health until it answers 'ok'; fail early if the server died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200 and response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"streamlit not healthy at {url} after {timeout_s:.0f} s:\n{log.read_text(errors='replace')}")


def start_server(home: Path, port: int | None = None) -> Server:
    """`streamlit run dashboard/app.py` as a subprocess in its own process group."""
    port = port or free_port()
    cache = home / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(cache),
           "TRAIN_INFER_LAB_DATA": str(cache / "train-infer-lab"),
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "PYTHONUNBUFFERED": "1",
           # A closed tab's job is stopped 5 s after (30 s by default): the test need not wait long.
           "TRAIN_INFER_LAB_DISCONNECT_GRACE_S": "5"}
    log = home / "streamlit.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return Server(f"http://127.0.0.1:{port}", process, log)


def stop_server(server: Server) -> None:
    """Terminate the server's process group (only what start_server started), then kill if it lingers."""
    process = server.process
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def app_server() -> Iterator[Server]:
    """The real app on a free localhost port, with a temporary HOME; always terminated."""
    with tempfile.TemporaryDirectory(prefix="til-e2e-home-") as home:
        server = start_server(Path(home))
        try:
            wait_healthy(server.url, server.process, server.log, SERVER_START_TIMEOUT_S)
            yield server
        finally:
            stop_server(server)
            print(f"\n--- streamlit log (tail) ---\n{server.log_tail(40)}")


@pytest.fixture(scope="session")
def app_url(app_server: Server) -> str:
    return app_server.url


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright (a fresh temporary profile per launch)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser) -> Iterator[Callable[[], object]]:
    """Open a page in a new browser context: each context is a separate user (own cookies, own session)."""
    contexts = []

    def make():
        context = browser.new_context(viewport={"width": 1400, "height": 1600}, accept_downloads=True,
                                      color_scheme="light")
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
