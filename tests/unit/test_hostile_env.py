"""Hostile environment values: every TRAIN_INFER_LAB_* setting is checked at start, a bad value is one
clear sentence that names the variable and what it takes, the default is used instead, and nothing that
could be a secret (or a megabyte of anything) is echoed back. The launcher refuses to start on any of them."""

from __future__ import annotations

import pytest

from dashboard import cli
from dashboard.lab import settings
from dashboard.lab.settings import MAX_RAW_CHARS, PREFIX, ServerSettings

DEFAULTS = ServerSettings()


def one_error(name: str, raw: str) -> tuple[ServerSettings, str]:
    s, errors = settings.load({PREFIX + name: raw})
    assert len(errors) == 1, errors
    assert "\n" not in errors[0] and len(errors[0]) < 600   # one readable line, whatever came in
    assert errors[0].startswith(PREFIX + name)
    return s, errors[0]


# name, raw value, what the message must say (how a good value looks, and why this one is not)
CASES = [
    ("MAX_EPOCHS", "-3", "a whole number of epochs from 1 to 100"),
    ("MAX_EPOCHS", "0", "a whole number of epochs from 1 to 100"),
    ("MAX_EPOCHS", "1000000", "from 1 to 100"),
    ("MAX_BATCH_SIZE", "0x100", "a whole number from 16 to 2048"),                 # hex is not a number here
    ("MAX_TRAIN_IMAGES", "\u0666\u0660\u0660\u0660", "from 100 to 60000"),        # Arabic-Indic digits: int() takes them
    ("MAX_JOB_IMAGES", "\uff11\uff10\uff10\uff10", "from 1000 to 3000000"),       # full-width digits
    ("MAX_UPLOAD_BYTES", "50000000", "20 MB"),                                    # over the 20 MB bound
    ("MAX_UPLOAD_PIXELS", "1e9", "a whole number of pixels from 784 to 50000000"),
    ("RESULT_CACHE_MB", "99999", "megabytes from 0 to 1024"),
    ("PRICE_PER_KWH", "NaN", "a price per kWh from 0 to 1000"),
    ("IDLE_FREE_MINUTES", "inf", "minutes from 1 to 1440"),
    ("SESSION_KEEP_MINUTES", "-Infinity", "minutes from 1 to 1440"),
    ("SESSION_KEEP_MINUTES", "100000", "minutes from 1 to 1440 (a day)"),
    ("DISCONNECT_GRACE_S", "86400", "seconds from 5 to 3600"),
    ("DISCONNECT_GRACE_S", "30\n31", "seconds from 5 to 3600"),                   # a newline inside
    ("MAX_SESSIONS", "0", "a whole number of sessions from 1 to 2000"),
    ("MAX_QUEUED_JOBS", "501", "a whole number of jobs from 1 to 500"),
    ("MAX_CALIBRATION_IMAGES", "60000", "from 1 to 10000"),
    ("MAX_FINETUNE_EPOCHS", "2.5", "a whole number of epochs from 0 to 20"),
    ("MAX_DISTILL_EPOCHS", "ten", "a whole number of epochs from 1 to 50"),
    ("COUNTRY", "France", "a 3-letter ISO country code"),
    ("CURRENCY", "EURO\tEUR", "1 to 8 characters"),
]


@pytest.mark.parametrize("name, raw, says", CASES, ids=[f"{n}={r!r}"[:40] for n, r, _ in CASES])
def test_a_bad_value_is_one_clear_sentence_and_the_default_is_used(name, raw, says):
    s, message = one_error(name, raw)
    assert " is not valid" in message and says in message
    assert message.endswith("is used instead.")
    assert s == DEFAULTS


def test_threads_above_the_cpus_this_process_may_use():
    cpus = settings.effective_cpus()
    s, message = one_error("THREADS", str(cpus + 1))
    assert f"from 1 to {cpus} (the CPUs this process may use)" in message and f"The default ({cpus})" in message
    assert s.threads == DEFAULTS.threads


def test_a_megabyte_value_is_refused_without_being_echoed():
    raw = "7" * (1 << 20)
    s, message = one_error("MAX_EPOCHS", raw)
    assert f"{1 << 20:,} characters long, more than the {MAX_RAW_CHARS:,}" in message
    assert "7777777" not in message and len(message) < 300
    assert s.limits.max_epochs == DEFAULTS.limits.max_epochs


def test_a_long_value_is_quoted_in_part_only():
    s, message = one_error("COUNTRY", "X" * 500)
    assert "X" * 61 not in message and "(500 characters)" in message


def test_a_database_url_password_is_never_echoed():
    s, message = one_error("DATABASE_URL", "mysql://lab:hunter2-very-secret@db.internal/board")
    assert "hunter2" not in message and "lab:***@" in message and "postgresql://user:password@host" in message
    assert s.database_url == ""
    good, errors = settings.load({PREFIX + "DATABASE_URL": "postgresql://lab:hunter2@db:5432/board"})
    assert errors == [] and "hunter2" not in repr(good)


@pytest.mark.parametrize("raw", ["short", "k" * 129, "tab\tinside-the-key", "\x00" * 12])
def test_a_bad_presenter_key_is_never_echoed(raw):
    s, message = one_error("PRESENTER_KEY", raw)
    assert "(its value is not shown)" in message and "8 to 128 printable characters" in message
    assert raw not in message and raw.strip()[:5] not in message
    assert "generated at start" in message
    assert s.presenter_key == ""


def test_a_good_presenter_key_is_taken_and_kept_out_of_repr():
    s, errors = settings.load({PREFIX + "PRESENTER_KEY": "  correct horse battery  "})
    assert errors == [] and s.presenter_key == "correct horse battery"
    assert "horse" not in repr(s)


def test_the_dataset_folder_must_not_be_a_file(tmp_path):
    a_file = tmp_path / "digits.npz"
    a_file.write_bytes(b"x")
    s, message = one_error("DATA", str(a_file))
    assert "(it is a file)" in message and "an absolute path of a folder for downloaded datasets" in message
    assert s.dataset_dir == ""


def test_the_dataset_folder_must_be_absolute():
    s, message = one_error("DATA", "data/cache")
    assert "relative path" in message and s.dataset_dir == ""


def test_the_dataset_folder_has_a_bounded_length():
    s, message = one_error("DATA", "/" + "d" * 2_000)
    assert "more than 1,024 characters" in message and "d" * 100 not in message and s.dataset_dir == ""


def test_a_good_dataset_folder_is_taken_and_read_by_the_engine(tmp_path, monkeypatch):
    from dashboard.lab.inputs import data

    s, errors = settings.load({PREFIX + "DATA": f" {tmp_path / 'new' / 'cache'} "})
    assert errors == [] and s.dataset_dir == str(tmp_path / "new" / "cache")
    home, errors = settings.load({PREFIX + "DATA": "~/datasets"})
    assert errors == [] and home.dataset_dir.endswith("/datasets") and not home.dataset_dir.startswith("~")
    settings.override(s)
    try:
        assert data.default_cache_dir() == tmp_path / "new" / "cache"
    finally:
        settings.override(None)


def test_the_board_folder_and_lessons_folder_are_checked_too(tmp_path):
    a_file = tmp_path / "f"
    a_file.write_text("x")
    assert "(it is a file)" in one_error("DATA_DIR", str(a_file))[1]
    assert "(it is a file)" in one_error("LESSONS_DIR", str(a_file))[1]
    assert "relative path" in one_error("LESSONS_DIR", "my-lessons")[1]


def test_good_values_at_the_bounds_are_taken():
    s, errors = settings.load({PREFIX + "MAX_EPOCHS": "100", PREFIX + "MAX_BATCH_SIZE": "16",
                               PREFIX + "MAX_SESSIONS": "2000", PREFIX + "MAX_QUEUED_JOBS": "1",
                               PREFIX + "MAX_TRAIN_IMAGES": "60_000", PREFIX + "DISCONNECT_GRACE_S": "3600",
                               PREFIX + "MAX_UPLOAD_BYTES": "20000000", PREFIX + "RESULT_CACHE_MB": "0"})
    assert errors == []
    assert (s.limits.max_epochs, s.limits.max_batch_size, s.max_sessions, s.max_queued_jobs) == (100, 16, 2000, 1)
    assert (s.limits.max_train_images, s.disconnect_grace_s, s.result_cache_mb) == (60_000, 3600.0, 0)


def test_the_new_settings_have_their_defaults():
    assert (DEFAULTS.max_sessions, DEFAULTS.max_queued_jobs, DEFAULTS.presenter_key, DEFAULTS.dataset_dir) == \
        (120, 40, "", "")


def test_every_bad_value_is_reported_at_once():
    env = {PREFIX + "MAX_EPOCHS": "0", PREFIX + "MAX_SESSIONS": "0", PREFIX + "PRESENTER_KEY": "abc"}
    s, errors = settings.load(env)
    assert [e.split("=")[0].split(" ")[0] for e in errors] == [PREFIX + "MAX_EPOCHS", PREFIX + "MAX_SESSIONS",
                                                                 PREFIX + "PRESENTER_KEY"]


@pytest.mark.parametrize("name, raw", [("MAX_SESSIONS", "0"), ("PRESENTER_KEY", "s3cr3t"), ("DATA", "relative"),
                                       ("MAX_EPOCHS", "9" * 5000)])
def test_the_launcher_refuses_to_start_and_says_why(monkeypatch, capsys, name, raw):
    monkeypatch.setenv(PREFIX + name, raw)
    started = []
    monkeypatch.setattr("streamlit.web.cli.main", lambda **kw: started.append(kw))
    assert cli.run_app([]) == 2
    assert started == []
    err = capsys.readouterr().err
    assert PREFIX + name in err and "is not valid" in err
    if name == "PRESENTER_KEY":
        assert "s3cr3t" not in err
    assert "9" * 100 not in err


def test_streamlit_run_logs_the_errors_once(monkeypatch, capsys):
    monkeypatch.setenv(PREFIX + "MAX_SESSIONS", "0")
    settings.override(None)
    try:
        assert len(settings.log_errors()) == 1
        settings.log_errors()   # a second call (another page's first run) writes nothing more
        err = capsys.readouterr().err
        assert err.count(PREFIX + "MAX_SESSIONS") == 1 and "server setting ignored" in err
    finally:
        monkeypatch.delenv(PREFIX + "MAX_SESSIONS")
        settings.override(None)
