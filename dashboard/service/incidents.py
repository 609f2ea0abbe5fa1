"""Errors nobody expected: the detail to the server log under a short incident id, one plain line to the page.

    except Exception as exc:
        st.error(incidents.student_line(exc, "the Train page"))

An error a user can cause (a cap reached, a bad upload, a dataset that cannot be downloaded here, a
presenter action without the key) keeps its own message: it says what to do. Anything else becomes
"Something went wrong on the server (incident 3f9a1c2e); ...": no exception type, message or path
reaches a student (they may name files, hosts or settings of the server), and the presenter finds
the traceback in the server log (stderr) by its id. Streamlit-free: jobs, pages and the CLI share it.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
import traceback

log = logging.getLogger("train_infer_lab.incidents")
PACKAGE = "dashboard"            # errors of the lab's own making are classes of this package
MAX_LINE = 300                   # a user's message is one line, at most this long
INCIDENT_LINE = ("Something went wrong on the server (incident {id}); the presenter can find the details in the "
                 "server log.")
_ID = "_train_infer_lab_incident"   # the attribute an exception keeps its incident id in (recorded once)
_ONCE_MAX = 256                     # kinds of error remembered by record(..., once=True)
_once: dict[tuple[str, str, str], str] = {}
_once_lock = threading.Lock()


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes (as logging.lastResort does): pytest and
    Streamlit may replace sys.stderr after this handler was made."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # noqa: D102 - StreamHandler's attribute
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _install_handler() -> None:
    """Give the lab's loggers ("train_infer_lab.*") a handler of their own: Streamlit configures only its
    own loggers and nothing configures the root one, so without it an error would reach stderr only through
    logging's last resort (warnings and up, no time, no logger name)."""
    root = logging.getLogger("train_infer_lab")
    if any(getattr(h, "_train_infer_lab", False) for h in root.handlers):
        return
    handler = _Stderr()
    handler._train_infer_lab = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root.addHandler(handler)
    if root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


_install_handler()


def is_user_error(exc: BaseException) -> bool:
    """Whether `exc` is an error a user can cause, whose message is written for them.

    Those are the lab's own refusals (LimitExceeded, UploadRejected, the board's Refused, NotPresenter,
    DatasetUnavailable, TrainingDiverged, Busy ...: classes of this package deriving from ValueError,
    PermissionError or RuntimeError), and a plain ValueError the lab's own code raised (an engine check
    such as TrainConfig.validate). The same class raised by a library (a ValueError deep in torch, a
    PermissionError opening a file) is not: its message may name internals."""
    cls = type(exc)
    if cls.__module__.split(".")[0] == PACKAGE:
        return isinstance(exc, (ValueError, PermissionError, RuntimeError))
    if cls is ValueError:
        frames = traceback.extract_tb(exc.__traceback__)
        return bool(frames) and _ours(frames[-1].filename)
    return False


def _ours(filename: str) -> bool:
    """Whether a traceback's file is one of this package's modules (wherever it is installed)."""
    import dashboard

    return os.path.abspath(filename).startswith(os.path.dirname(os.path.abspath(dashboard.__file__)) + os.sep)


def record(exc: BaseException, where: str, *, once: bool = False) -> str:
    """Log `exc` with its traceback under a new incident id (8 hex characters) and return the id. An
    exception recorded before keeps its id and is not logged twice; with `once`, neither is another of
    the same type and message from the same place (a page that meets it on every rerun)."""
    known = getattr(exc, _ID, None)
    if known:
        return known
    incident = secrets.token_hex(4)
    if once:
        key = (where, type(exc).__qualname__, str(exc)[:200])
        with _once_lock:
            if key in _once:
                return _once[key]
            if len(_once) < _ONCE_MAX:
                _once[key] = incident
    try:
        setattr(exc, _ID, incident)
    except (AttributeError, TypeError):
        pass  # an exception without a __dict__: it is logged again if recorded again
    log.error("incident %s in %s: %s: %s", incident, where or "the app", type(exc).__name__, exc,
              exc_info=(type(exc), exc, exc.__traceback__))
    return incident


def incident_line(incident: str) -> str:
    """The line a student sees for an incident: its id and where its detail is, nothing else."""
    return INCIDENT_LINE.format(id=incident)


def student_line(exc: BaseException, where: str = "") -> str:
    """The one line a student sees for `exc`: its own message when a user can cause it, else the
    incident line (the error recorded first, see `record`)."""
    if is_user_error(exc):
        text = " ".join(str(exc).split()) if str(exc).strip() else ""
        if text:
            return text if len(text) <= MAX_LINE else text[:MAX_LINE - 3].rstrip() + "..."
    return incident_line(record(exc, where))
