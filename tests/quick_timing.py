"""What the tests' measurements run with: the app's timing windows cut to one short round (`apply`: the page tests,
tests/conftest.py's quick_app_jobs, and the browser tests' server), every window counted quiet (`all_quiet`:
conftest's windows_count_as_quiet, and the browser tests' server), and the pages redrawn about every second
(`quick_polls`: the browser tests' server). These tests check what is shown and done with
figures, not how fast this machine is: that is benchmarks/' work, with the app's own windows
(dashboard.lab.pipeline.APP_BENCH, lab.deploy.edge.PROFILE_BENCH, lab.deploy.browser_models.SERVER_BENCH and
BROWSER_TIMING, lab.measure.peak.APP_PROBE).

A plain module, not fixtures: the browser tests' server is another process, which runs these before Streamlit
starts (benchmarks/server.py's `before`)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

SetAttr = Callable[[object, str, object], None]
# Measure on this device's timing in the browser (lab.deploy.browser_models.BrowserTiming), for the browser tests.
BROWSER_TIMING = {"warmup_ms": 50.0, "batch_ms": 5.0, "rounds": 2, "batches_per_round": 3}


def apply(set_attr: SetAttr = setattr) -> None:
    """Set the short windows with `set_attr(module, name, value)` (a test's monkeypatch.setattr undoes them)."""
    from dashboard.lab import pipeline
    from dashboard.lab.deploy import browser_models, edge
    from dashboard.lab.measure import peak

    # A disturbed window is still measured again (lab.measure.quiet), within a second or two per measurement.
    set_attr(pipeline, "APP_BENCH", dataclasses.replace(
        pipeline.APP_BENCH, rounds=1, batch1_min_calls=5, batch1_min_seconds=0.01, batch_min_seconds=0.05,
        warmup_seconds=0.01, quiet_wait_s=0.2, retry_budget_s=2.0))
    set_attr(pipeline, "APP_LAYOUT_SECONDS", 0.01)
    set_attr(edge, "PROFILE_BENCH", dataclasses.replace(
        edge.PROFILE_BENCH, rounds=1, batch1_min_calls=5, batch1_min_seconds=0.01, batch_min_seconds=0.02,
        warmup_seconds=0.01, quiet_wait_s=0.2, retry_budget_s=2.0))
    # Measure on this device: the server's own timing of each browser file.
    set_attr(browser_models, "SERVER_BENCH", dataclasses.replace(
        browser_models.SERVER_BENCH, rounds=1, batch1_min_calls=5, batch1_min_seconds=0.01, batch_min_seconds=0.02,
        warmup_seconds=0.01, quiet_wait_s=0.2, retry_budget_s=2.0))
    # ... and the browser's timing of each file (sent to it with the files).
    set_attr(browser_models, "BROWSER_TIMING", browser_models.BrowserTiming(**BROWSER_TIMING))
    # The Hardware page's "Measure this machine": small matmuls, short windows, the same short retries.
    set_attr(peak, "APP_PROBE", peak.ProbeSettings(
        size=256, peak_seconds=0.02, sweep_sizes=(64,), sweep_seconds=0.01, batches=(1, 64), parallel_seconds=0.1,
        device_seconds=0.02, quiet_wait_s=0.2, retry_budget_s=2.0))


def all_quiet(set_attr: SetAttr = setattr) -> None:
    """No timed window counts as disturbed (lab.measure.quiet's thresholds out of reach), so nothing is measured
    again, waited for or labelled (see windows_count_as_quiet in tests/conftest.py for who may use it)."""
    from dashboard.lab.measure import quiet

    set_attr(quiet, "DISTURBED_SHARE", math.inf)
    set_attr(quiet, "OTHERS_SHARE", math.inf)
    set_attr(quiet, "PROBE_SLOW", math.inf)
    set_attr(quiet, "CALLS_SLOW", math.inf)


def quick_polls(set_attr: SetAttr = setattr) -> None:
    """The pages' redraw intervals cut to about a second, for the browser tests' server: a job's end, the sidebar's
    line about other sessions and a follower's next step then show within a second, not after the app's 2-10 s (chosen
    to spare a room's server and a measuring laptop's cores), and a test that waits for them waits less. What is
    redrawn is unchanged. Not Edge & cloud's phone poll (ui.device_view): importing that module before Streamlit
    starts would register its browser component with no app to serve it."""
    from dashboard.ui import board_view, follow, room_questions, status

    set_attr(status, "POLL_MEASURING_S", 1.0)
    set_attr(status, "POLL_QUEUED_S", 1.0)
    set_attr(status, "POLL_SERVER_S", 2.0)
    set_attr(follow, "FOLLOW_S", 1.0)
    set_attr(follow, "FOLLOW_MEASURING_S", 1.0)
    set_attr(room_questions, "COUNT_S", 1.0)
    set_attr(board_view, "REFRESH_S", 2.0)
