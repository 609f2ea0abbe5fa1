"""The Hardware page in AppTest: on a fresh session it says what needs a model and measures the peaks
alone; after a tiny training and a measurement of two versions (conftest's tiny_measured, copied into the
page's session) it shows how close they get.

The page is run on its own file (it needs nothing from the app's navigation); its job runs with
the timing windows cut to hundredths of a second and short retries (quick_app_jobs, tests/conftest.py:
what is shown, not how fast, is tested here)."""

from __future__ import annotations

from pathlib import Path

import torch
from streamlit.testing.v1 import AppTest

from dashboard.lab.measure import roofline
from dashboard.service.backend import Place
from dashboard.service.sessions import REGISTRY
from dashboard.ui.session import KEY
from tests.app.drive import give_measured

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "app_pages" / "hardware.py")
TITLE = "Hardware: how close to the limit"


def page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def session(at: AppTest):
    return REGISTRY.get(at.session_state[KEY])


def wait(at: AppTest, timeout: float = 120) -> None:
    """Let the session's job end, then draw the page again (as its polling would)."""
    job = session(at).job
    assert job is not None and job.wait(timeout), "the job did not end"
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def measure(at: AppTest) -> None:
    next(b for b in at.button if b.label == "Measure this machine").click()
    at.run()
    wait(at)


def specs(at: AppTest) -> str:
    return "\n".join(c.proto.spec for c in at.get("plotly_chart"))


def test_a_fresh_session_sees_the_machine_and_what_needs_a_model():
    at = page()
    assert [t.value for t in at.title] == [TITLE]
    assert not at.error
    assert {m.label for m in at.metric} >= {"CPU cores (logical)", "PyTorch threads", "GPU"}
    infos = [i.value for i in at.info]
    assert sum("Train a model first" in i for i in infos) == 3   # closeness, threads, other chips
    if not torch.cuda.is_available():
        assert any(i.startswith("No GPU here") for i in infos)
    assert at.get("plotly_chart") == []


def test_measuring_without_a_model_shows_the_peaks_alone():
    at = page()
    measure(at)
    s = session(at)
    assert s.hardware_probe.parallelism is None
    labels = [m.label for m in at.metric]
    assert "fp32 peak" in labels
    assert any("Measured this machine's peaks" in x.value for x in at.success)
    assert any("Train a model first" in i.value for i in at.info)


def test_after_a_tiny_training_and_a_measurement_it_shows_how_close_the_model_gets(tiny_measured):
    at = page()
    s = session(at)
    give_measured(at, tiny_measured)   # a tiny mlp, its fp32 and int8-static measured (the run's one, copied)
    assert any("Press **Measure this machine**" in i.value for i in at.info)
    measure(at)
    probe = s.hardware_probe
    assert probe.digest == s.digest and probe.parallelism.thread_counts == [1]   # the tests' server: 1 thread
    assert probe.interference is not None and "notable" in probe.interference   # other work meanwhile, read
    shown = specs(at)
    for title in ("Achieved vs peak", "Share of this CPU's peak", "on more threads",
                  "Your training's arithmetic on other chips"):
        assert title in shown, title
    text = "\n".join(m.value for m in at.markdown)
    fp32 = [p for p in roofline.achieved(s.results, probe.peaks) if p.name == "fp32"]
    if all(p.checked_share is not None for p in fp32):   # a busy machine may leave one disturbed: then no share
        assert "of the fp32 peak" in text and "at batch 256" in text
    else:
        assert any("Not held against a peak" in c.value for c in at.caption)
    assert "https://cloud.google.com/tpu/docs/v5e" in text            # every published peak with its source
    assert any("estimate from published peaks, not measured here" in c.value for c in at.caption)

    # Versions measured on a compute cluster's node are not held against this server's peaks: the page says where.
    s.results_place = Place("Ray node 1a2b3c4d", {"cpu": "Some Vendor CPU 9000"})
    at.run()
    assert any(i.value.startswith("Your versions were measured on Ray node 1a2b3c4d (Some Vendor CPU 9000), the "
                                  "peaks above on this server") for i in at.info)
    assert "Achieved vs peak" not in specs(at)
