"""An error nobody expected is one plain line with an incident id on the page, and its traceback under the
same id in the server log; an error a user can cause keeps its own message (service.incidents)."""

from __future__ import annotations

import logging
import re

import pytest

from dashboard.lab.inputs.data import DatasetUnavailable
from dashboard.lab.settings import LimitExceeded
from dashboard.lab.training.train import TrainingDiverged
from dashboard.service import authority, incidents
from dashboard.service.jobs import Busy

LINE = re.compile(r"Something went wrong on the server \(incident ([0-9a-f]{8})\); "
                  r"the presenter can find the details in the server log\.")


def raised(exc: BaseException) -> BaseException:
    """`exc` with a traceback, as an except clause gets it."""
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001
        return caught


def test_an_unexpected_error_is_an_incident_line_and_its_traceback_is_logged(caplog):
    exc = raised(OSError(2, "No such file or directory", "/srv/lab/secret/board.sqlite3"))
    with caplog.at_level(logging.ERROR, logger="train_infer_lab"):
        line = incidents.student_line(exc, "the Train page")
    match = LINE.fullmatch(line)
    assert match, line
    assert "OSError" not in line and "/srv" not in line and "No such file" not in line
    incident = match.group(1)
    logged = [r for r in caplog.records if incident in r.getMessage()]
    assert len(logged) == 1
    text = caplog.text
    assert "the Train page" in text and "/srv/lab/secret/board.sqlite3" in text and "Traceback" in text
    assert "test_incidents.py" in text   # the frame it was raised in


def test_an_error_recorded_twice_keeps_one_id_and_one_log_entry(caplog):
    exc = raised(RuntimeError("kernel crashed at 0x7f3a"))
    with caplog.at_level(logging.ERROR, logger="train_infer_lab"):
        first = incidents.record(exc, "a job")
        again = incidents.student_line(exc, "the page that shows the job")
    assert again == incidents.incident_line(first) and "0x7f3a" not in again
    assert sum(first in r.getMessage() for r in caplog.records) == 1


def test_once_logs_an_error_a_page_meets_on_every_run_once(caplog):
    with caplog.at_level(logging.ERROR, logger="train_infer_lab"):
        ids = {incidents.record(raised(ImportError("no canvas here")), "a canvas", once=True) for _ in range(5)}
    assert len(ids) == 1 and sum("no canvas here" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("exc", [
    LimitExceeded("epochs is 12, more than this lab's settings allow (10; whoever runs it can raise that with "
                  "TRAIN_INFER_LAB_MAX_EPOCHS)"),
    DatasetUnavailable("Could not get MNIST here (download failed: no internet?).", "detail /root/.cache"),
    TrainingDiverged("The loss became NaN: lower the learning rate."),
    authority.NotPresenter("Only the presenter can do this: it affects everyone in the room."),
    Busy("You already have a training running."),
])
def test_an_error_a_user_can_cause_keeps_its_own_message(exc, caplog):
    with caplog.at_level(logging.ERROR, logger="train_infer_lab"):
        line = incidents.student_line(raised(exc))
    assert line == str(exc) and "incident" not in line
    assert not caplog.records   # not an incident: nothing for the presenter to look up


def test_a_plain_value_error_is_the_users_when_the_lab_raised_it_and_an_incident_when_a_library_did():
    from dashboard.lab.training.train import TrainConfig

    with pytest.raises(ValueError) as ours:
        TrainConfig(epochs=0).validate()
    assert incidents.student_line(ours.value) == str(ours.value)

    with pytest.raises(ValueError) as library:
        int("not a number from /etc/passwd")
    assert LINE.fullmatch(incidents.student_line(library.value, "test"))


def test_a_permission_error_from_the_file_system_is_not_mistaken_for_a_refusal():
    exc = raised(PermissionError(13, "Permission denied", "/var/lib/lab/board.sqlite3"))
    assert LINE.fullmatch(incidents.student_line(exc, "test"))


def test_a_users_message_is_one_bounded_line():
    line = incidents.student_line(raised(LimitExceeded("first line\nsecond line " + "x" * 1000)))
    assert "\n" not in line and line.startswith("first line second line") and len(line) <= incidents.MAX_LINE


def test_a_failed_job_shows_the_incident_line(caplog):
    from dashboard.service.jobs import user_message

    with caplog.at_level(logging.ERROR, logger="train_infer_lab"):
        line = user_message(raised(KeyError("weights['fc.bias']")), "job training of a test")
    incident = LINE.fullmatch(line).group(1)
    assert "KeyError" not in line and "fc.bias" not in line
    assert any(incident in r.getMessage() and "job training of a test" in r.getMessage() for r in caplog.records)


def test_the_log_reaches_stderr_without_any_logging_setup(capfd):
    """Streamlit configures only its own loggers: the lab's records get a stderr handler of their own."""
    import subprocess
    import sys

    code = ("from dashboard.service import incidents\n"
            "try:\n    raise RuntimeError('boom at /srv/x')\n"
            "except RuntimeError as e:\n    print(incidents.student_line(e, 'a subprocess'))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    incident = LINE.fullmatch(done.stdout.strip()).group(1)
    assert f"incident {incident} in a subprocess" in done.stderr and "Traceback" in done.stderr
    assert "ERROR" in done.stderr and "train_infer_lab.incidents" in done.stderr
