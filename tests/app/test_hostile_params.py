"""Hostile addresses, as a curious student types them: another session's token, `?mode=present`, the
presenter's page, values that are too long, in other scripts, paths or markup. Each gets a clear line (or
is simply ignored) and the session keeps what it had: the same Session, its model, its forms; no
exception, no presenter control."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.lab.training.inspect import inspect_model
from dashboard.service.sessions import REGISTRY, DataChoice
from tests.app.drive import APP, session

TRAIN, PRESENT, BOARD, LESSONS = "app_pages/train.py", "app_pages/present.py", "app_pages/board.py", \
    "app_pages/lessons.py"


@pytest.fixture(scope="module")
def inspection(tiny_trained, tiny_digits):
    return inspect_model(tiny_trained.module, tiny_digits)


def with_model(tiny_trained, inspection=None) -> AppTest:
    """A student's tab whose session holds a model (the shared tiny one: nothing trains here)."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    s = session(at)
    s.set_model(tiny_trained, DataChoice("digits"), [], None, inspection, weights=b"", digest="tiny")
    return at


def visit(at: AppTest, page: str, **params: str) -> AppTest:
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def intact(at: AppTest, s, tiny_trained) -> None:
    assert session(at) is s, "the tab must stay on its own session"
    assert s.trained is tiny_trained and not s.presenter
    assert not any('id="presenter-mode"' in h.proto.body for h in at.get("html"))


def lines(at: AppTest) -> str:
    return " ".join(e.value.replace("\\", "") for e in [*at.warning, *at.info, *at.error])


def test_another_sessions_token_in_the_address_is_never_read_and_leaves_the_address(tiny_trained):
    victim = REGISTRY.create()
    victim.set_model(tiny_trained, DataChoice("digits"), [], None, None, weights=b"", digest="victim")
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["s"] = victim.token
    at.run()
    assert not at.exception
    assert session(at) is not victim and session(at).trained is None
    assert "s" not in at.query_params


@pytest.mark.parametrize("params", [{"mode": "present"}, {"mode": "PRESENT"}, {"mode": "present", "s": "0" * 32}])
def test_mode_present_gives_a_student_the_key_box_not_the_controls(tiny_trained, params):
    at = with_model(tiny_trained)
    s = session(at)
    visit(at, "app_pages/home.py", **params)
    intact(at, s, tiny_trained)
    assert at.text_input(key="presenter_key_typed") is not None
    assert not [t for t in at.toggle if t.key == "presenter_mode"]
    assert "mode" not in at.query_params


def test_the_run_of_show_is_not_among_a_students_pages(tiny_trained):
    at = with_model(tiny_trained)
    s = session(at)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PRESENT)
    intact(at, s, tiny_trained)


def test_a_typed_key_opens_the_run_of_show_and_presenter_mode(tiny_trained):
    from tests.keys import PRESENTER_KEY

    at = with_model(tiny_trained)
    at.text_input(key="presenter_key_typed").input(PRESENTER_KEY)
    at.button(key="presenter_unlock").click().run()
    assert session(at).presenter and at.toggle(key="presenter_mode").value is True
    assert at.session_state["presenter_key_typed"] == ""   # the key does not stay in the widget's state
    assert not [t for t in at.text_input if t.key == "presenter_key_typed"]   # no box once unlocked
    visit(at, PRESENT)
    assert "Run of show is the presenter's page" not in lines(at)
    assert [e for e in at.expander if e.label == "Presenter notes"]


@pytest.mark.parametrize(("page", "params", "said"), [
    (TRAIN, {"preset": "../../etc/passwd"}, "preset"),
    (TRAIN, {"preset": "<script>alert(1)</script>"}, "preset"),
    (TRAIN, {"epochs": "1e9"}, "epochs"),
    (TRAIN, {"epochs": "٣"}, "epochs"),                      # Arabic-Indic three: not ASCII digits
    (TRAIN, {"epochs": "99999999999"}, "epochs"),
    (TRAIN, {"lr": "nan"}, "lr"),
    (TRAIN, {"model": "x" * 10_000}, "model"),
    (TRAIN, {"model": "cnn\n## injected heading"}, "model"),
    (BOARD, {"class": "ROOM'; DROP TABLE class_board; --"}, "class code"),
    (BOARD, {"class": "R" * 5_000}, "class code"),
    (LESSONS, {"lesson": "../../README"}, "lesson"),
])
def test_a_bad_value_in_the_address_gets_one_line_and_the_session_keeps_what_it_had(tiny_trained, inspection, page,
                                                                                    params, said):
    at = with_model(tiny_trained, inspection)
    s = session(at)
    forms_before = {k: dict(v) for k, v in s.forms.items() if k != "presenter"}
    visit(at, page, **params)
    intact(at, s, tiny_trained)
    shown = lines(at)
    assert said in shown.lower(), shown
    assert "Traceback" not in shown and "incident" not in shown
    for value in params.values():
        assert value not in shown or len(value) <= 20, "a long value is never echoed whole"
    for form, values in forms_before.items():   # what the student had set elsewhere is untouched
        assert {k: s.forms[form].get(k) for k in values} == values, form


def test_the_demos_measure_afresh_for_everyone_is_the_presenters_button_only(tiny_trained):
    at = with_model(tiny_trained)
    s = session(at)
    s.results_note, s.results_settings = "measured on this server at 09:00 for another session", {"demo": True}
    visit(at, "app_pages/home.py")
    assert not [b for b in at.button if b.key == "demo_fresh"]
    s.presenter = True
    at.run()
    assert [b.label for b in at.button if b.key == "demo_fresh"] == ["Measure afresh for everyone"]
