"""End-to-end fixtures: the real `streamlit run` on a free localhost port, and Debian's Chromium.

The server gets a throwaway HOME (and cache) so nothing a user has configured leaks in and
nothing the test writes survives it. Every test in this folder is marked `e2e` and `slow` (a real
server and browser: not the fast tier, `pytest -m "not slow"`) and is skipped,
with the reason, only where no Chromium is installed (`playwright install` cannot fetch one here).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from benchmarks.server import Server, start_server, stop_server, wait_healthy
from tests.e2e.browse import GRACE_S, unlock_presenter
from tests.keys import E2E_PRESENTER_KEY

HERE = Path(__file__).resolve().parent

BROWSER_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
]
SERVER_START_TIMEOUT_S = 90  # torch imports slowly on a busy 2-core box
# The server's measurements: the app's timing windows cut short and every window counted quiet (tests/quick_timing.py),
# as in the page tests that count them quiet: these tests check what a student sees and does, not this machine's speed,
# and a busy machine (Chromium and pytest share its 2 cores) must not change what a page shows. Its pages redraw about
# every second, so a test waits for what they show rather than for the app's longer intervals.
QUICK_TIMING = "from tests import quick_timing\nquick_timing.apply()\nquick_timing.all_quiet()\nquick_timing.quick_polls()"
TRACEBACK = "Traceback (most recent call last)"


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


@pytest.fixture(scope="session")
def app_server() -> Iterator[Server]:
    """The real app on a free localhost port, with a temporary HOME; always terminated."""
    with tempfile.TemporaryDirectory(prefix="til-e2e-home-") as home:
        # A closed tab's job is stopped GRACE_S after (30 s by default): the test need not wait long.
        env = {"TRAIN_INFER_LAB_DISCONNECT_GRACE_S": str(GRACE_S), "TRAIN_INFER_LAB_PRESENTER_KEY": E2E_PRESENTER_KEY}
        if os.environ.get("PYTEST_XDIST_WORKER"):   # another worker runs tests beside it: one core each (conftest.py)
            env["TRAIN_INFER_LAB_THREADS"] = "1"
        server = start_server(Path(home), env, before=QUICK_TIMING)
        try:
            wait_healthy(server, SERVER_START_TIMEOUT_S)
            yield server
        finally:
            stop_server(server)
            print(f"\n--- streamlit log (tail) ---\n{server.log_tail(40)}")


@pytest.fixture(scope="session")
def app_url(app_server: Server) -> str:
    return app_server.url


@pytest.fixture
def server_log_clean(app_server):
    """After the test: the server logged no traceback while it ran (a page can hide one in a fragment)."""
    start = app_server.log.stat().st_size
    yield
    with app_server.log.open("rb") as f:
        f.seek(start)
        new = f.read().decode(errors="replace")
    assert TRACEBACK not in new, "the server logged a traceback:\n" + new[new.index(TRACEBACK) - 200:][:4000]


@pytest.fixture
def presenter_unlock() -> Callable:
    """unlock_presenter, for tests: gives the page's session the presenter's controls."""
    return unlock_presenter


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


PROJECTOR = {"width": 1280, "height": 720}   # what a room's projector shows


@pytest.fixture
def projector_page(browser):
    """A page at a projector's 1280x720, in a context of its own."""
    context = browser.new_context(viewport=PROJECTOR, color_scheme="light")
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def camera_page(browser):
    """A 1280x720 page in a second Chromium with a fake camera (a moving test pattern) that needs no
    permission prompt: st.camera_input gets a real video stream."""
    fake = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    camera_browser = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS + fake)
    try:
        context = camera_browser.new_context(viewport=PROJECTOR, color_scheme="light", permissions=["camera"])
        context.set_default_timeout(30_000)
        yield context.new_page()
    finally:
        camera_browser.close()
