"""Driving the app's pages with Streamlit's AppTest as a user would: open a page, press a button, wait
for the session's job, train or measure something tiny. Plain functions a test calls as it goes, several
times and with different arguments (train_tiny twice with two seeds, fresh() for a second tab), not
set-up to be done before a test: so a module, not fixtures. The fixtures are in conftest.py.

Heavy work runs as server-side jobs in their own threads (dashboard.service.jobs): finish_job waits
for the session's job to end and runs the page again, as the page's own polling would."""

from __future__ import annotations

import copy
import dataclasses
import io
import time
from pathlib import Path

from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from dashboard.lab.training.models import weights_digest
from dashboard.service.sessions import MODEL_FIELDS, REGISTRY, DataChoice, state_bytes
from dashboard.ui.session import KEY

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def fresh() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def button(at: AppTest, label: str):
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r}; have {[b.label for b in at.button]}"
    return matches[0]


def session(at: AppTest):
    return REGISTRY.get(at.session_state[KEY])


def finish_job(at: AppTest, timeout: float = 180) -> None:
    """Wait for this session's job to end, then draw the page again (the page polls the same way)."""
    s = session(at)
    deadline = time.monotonic() + timeout
    while s.busy:
        assert time.monotonic() < deadline, f"the {s.job.kind} did not end in {timeout:.0f} s"
        time.sleep(0.1)
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def train_tiny(at: AppTest, *, images: int = 500, epochs: int = 1, model: str = "mlp", seed: int = 0) -> None:
    """Set the Train page's widgets for a run of a few seconds, start it, wait for its job to end."""
    open_page(at, "app_pages/train.py")
    at.selectbox(key="train_model").set_value(model)
    at.slider(key="train_epochs").set_value(epochs)
    at.select_slider(key="train_images").set_value(images)
    at.number_input(key="train_seed").set_value(seed)
    at.run()
    button(at, "Train").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    finish_job(at)
    assert not session(at).busy, "training did not finish"


def measure_tiny(at: AppTest, *, int8_static: bool = True) -> None:
    """train_tiny, then measure its fp32 (and int8-static) version on Compress, waiting for the job."""
    train_tiny(at)
    open_page(at, "app_pages/compress.py")
    for key, on in (("c_unstructured", False), ("c_channels", False), ("c_int8_dynamic", False),
                    ("c_int8_static", int8_static)):
        at.checkbox(key=key).set_value(on)
    at.run()
    button(at, "Compress & measure").click()
    at.run()
    finish_job(at)


def measured_state(at: AppTest) -> dict:
    """The session's model and everything measured on it (sessions.MODEL_FIELDS), as measure_tiny left them."""
    s = session(at)
    with s.lock:
        return copy.deepcopy({name: getattr(s, name) for name in MODEL_FIELDS})


def give_measured(at: AppTest, state: dict) -> None:
    """Put a copy of a measured_state into the AppTest's session, as if it had trained and measured that model
    itself (conftest's tiny_measured: one for the whole run), and draw the page again."""
    s = session(at)
    with s.lock:
        for name, value in copy.deepcopy(state).items():
            setattr(s, name, value)
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def open_try_it() -> AppTest:
    """A fresh session on Try it yourself."""
    return open_page(fresh(), "app_pages/try_it.py")


def give_model(at: AppTest, trained, choice: DataChoice) -> None:
    """Put a trained model into the AppTest's session, as the end of a training job does."""
    module = copy.deepcopy(trained.module)
    session(at).set_model(dataclasses.replace(trained, module=module), choice, [], None, None,
                          weights=state_bytes(module), digest=weights_digest(module))
    at.run()


def digit_png(digit: str = "1") -> bytes:
    """A hand-drawn-looking 1 (or 7) as a PNG, as a student would upload it."""
    im = Image.new("L", (200, 200), 240)
    pen = ImageDraw.Draw(im)
    pen.line([(100, 30), (95, 170)] if digit == "1" else [(50, 40), (150, 40), (90, 170)], fill=20, width=16)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()
