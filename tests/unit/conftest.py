"""Fixtures of the engine's tests (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

import math

import pytest


@pytest.fixture
def windows_count_as_quiet(monkeypatch):
    """No timed window counts as disturbed (lab.measure.quiet's thresholds out of reach), so nothing is measured
    again or labelled. For tests of what is made of the figures (a device profile's fits, a replay's contents):
    on a loaded 2-core machine a window can stay disturbed, and a disturbed figure decides no fit and is refused
    by a replay, which tests/unit/test_quiet.py, test_bench.py, test_edge.py's
    test_a_disturbed_time_decides_no_fit_and_gives_no_headroom and test_replay.py's
    test_a_replay_refuses_figures_that_stayed_disturbed check with disturbances they make themselves."""
    from dashboard.lab.measure import quiet

    monkeypatch.setattr(quiet, "DISTURBED_SHARE", math.inf)
    monkeypatch.setattr(quiet, "OTHERS_SHARE", math.inf)
