"""Nothing internal reaches a student: the sidebar shows no server setting or its error, the presenter's
diagnostics do; a page that fails shows one line with an incident id (ui.incident), and Streamlit's own
st.stop / st.rerun pass through it."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest
from tests.app.drive import fresh

from dashboard.lab import settings

LINE = re.compile(r"Something went wrong on the server \(incident [0-9a-f]{8}\); "
                  r"the presenter can find the details in the server log\.")


def texts(at) -> list[str]:
    return [str(e.value) for kind in ("warning", "error", "info", "success", "markdown", "caption", "text")
            for e in getattr(at, kind)]


def bad_environment(monkeypatch) -> None:
    monkeypatch.setenv("TRAIN_INFER_LAB_MAX_EPOCHS", "0")
    monkeypatch.setenv("TRAIN_INFER_LAB_DATABASE_URL", "postgresql://lab:hunter2@db.internal.example:5432/board")
    settings.override(None)   # read again (quick_app_jobs reads the environment again at its end)


def test_a_students_sidebar_shows_no_setting_and_no_settings_error(monkeypatch):
    bad_environment(monkeypatch)
    assert settings.errors()   # the server knows ...
    at = fresh()
    assert not at.exception
    shown = texts(at) + [str(e.value) for e in at.sidebar.warning]
    # ... a student sees none of it.
    assert not [t for t in shown if "TRAIN_INFER_LAB" in t or "setting ignored" in t or "db.internal" in t]


def diagnostics_script() -> None:
    import streamlit as st

    from dashboard.service.sessions import Session
    from dashboard.ui import diagnostics

    s = Session(presenter=st.session_state.get("presenter", False))
    with st.sidebar:
        diagnostics.panel(s)
    st.write("page")


def test_the_presenter_sees_the_settings_errors_and_the_server_in_the_diagnostics(monkeypatch):
    bad_environment(monkeypatch)
    at = AppTest.from_function(diagnostics_script, default_timeout=30)
    at.session_state["presenter"] = True
    at.run()
    assert not at.exception
    warnings = [w.value for w in at.sidebar.warning]
    assert len(warnings) == 1 and "TRAIN_INFER_LAB_MAX_EPOCHS='0' is not valid" in warnings[0]
    lines = [m.value for m in at.sidebar.markdown]
    for what in ("Presenter key", "Threads per job", "Sessions", "Jobs", "Class board"):
        assert any(line.startswith(f"**{what}:**") for line in lines), lines
    assert any("PostgreSQL" in line for line in lines)
    everything = " ".join(texts(at) + warnings + lines)
    assert "db.internal" not in everything and "hunter2" not in everything and "5432" not in everything


def test_a_student_gets_no_diagnostics_panel(monkeypatch):
    bad_environment(monkeypatch)
    at = AppTest.from_function(diagnostics_script, default_timeout=30)
    at.run()
    assert not at.exception
    assert len(at.sidebar.children) == 0 or not texts(at.sidebar)
    assert not at.expander and [m.value for m in at.markdown] == ["page"]


def test_diagnostics_rows_refuse_a_student():
    import pytest

    from dashboard.service.authority import NotPresenter
    from dashboard.service.sessions import Session
    from dashboard.ui import diagnostics

    with pytest.raises(NotPresenter):
        diagnostics.rows(Session())
    assert diagnostics.database_kind("postgresql://u:p@host.example/db") == "PostgreSQL (shared by every copy that names it)"
    assert "host" not in diagnostics.database_kind("sqlite:////srv/host/board.sqlite3")


def page_script() -> None:
    import streamlit as st

    from dashboard.lab.settings import LimitExceeded
    from dashboard.ui import incident

    class Page:
        url_path = "broken"

        def run(self) -> None:
            what = st.session_state.get("what")
            if what == "crash":
                raise RuntimeError("/srv/lab/secret exploded")
            if what == "refused":
                raise LimitExceeded("epochs is 12, more than this lab's settings allow (10)")
            if what == "stop":
                st.stop()
            if what == "rerun":
                st.session_state["runs"] = st.session_state.get("runs", 0) + 1
                if st.session_state["runs"] == 1:
                    st.rerun()
            st.write("page ran")

    incident.run_page(Page())
    st.write("after the page")


def run_page_with(what: str) -> AppTest:
    at = AppTest.from_function(page_script, default_timeout=30)
    at.session_state["what"] = what
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_page_that_fails_shows_one_line_with_an_incident_id():
    at = run_page_with("crash")
    assert len(at.error) == 1 and LINE.fullmatch(at.error[0].value), at.error[0].value
    assert "RuntimeError" not in at.error[0].value and "/srv" not in at.error[0].value
    assert [m.value for m in at.markdown] == ["after the page"]   # the sidebar and the rest still draw


def test_a_refusal_keeps_its_own_message():
    at = run_page_with("refused")
    assert [e.value for e in at.error] == ["epochs is 12, more than this lab's settings allow (10)"]


def test_st_stop_and_st_rerun_pass_through():
    at = run_page_with("stop")
    assert not at.error and [m.value for m in at.markdown] == []   # stopped: nothing after it ran
    at = run_page_with("rerun")
    assert not at.error and at.session_state["runs"] == 2
    assert [m.value for m in at.markdown] == ["page ran", "after the page"]
