"""`train-infer-lab app` starts the installed app with the checkout's Streamlit settings."""

import tomllib
from pathlib import Path

import pytest

from dashboard import cli

ROOT = Path(__file__).resolve().parents[2]


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def test_launcher_flags_agree_with_streamlit_config_toml():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cli.CONFIG_FLAGS == _flatten(config)


def test_launcher_flags_are_streamlit_options():
    from streamlit import config
    options = config.get_config_options()
    assert [k for k in cli.CONFIG_FLAGS if k not in options] == []


def test_run_args_start_the_installed_app_and_the_users_options_win():
    args = cli.streamlit_args(["--server.port", "8600", "--server.headless=false", "--", "--server.runOnSave"])
    assert args[:2] == ["run", str(cli.APP)] and cli.APP.is_file()
    assert "--server.fileWatcherType=none" in args and "--server.maxUploadSize=5" in args
    assert "--server.headless=true" not in args  # the user's own value wins
    assert args[-5:] == ["--server.port", "8600", "--server.headless=false", "--", "--server.runOnSave"]
    assert "--server.runOnSave=false" in args  # an option after `--` belongs to the script


def test_bad_settings_refuse_to_start(monkeypatch, capsys):
    pytest.importorskip("dashboard.lab.settings")
    monkeypatch.setenv("TRAIN_INFER_LAB_THREADS", "zero")
    started = []
    monkeypatch.setattr("streamlit.web.cli.main", lambda **kw: started.append(kw))
    assert cli.main(["app"]) == 2
    assert started == []
    assert "TRAIN_INFER_LAB_THREADS" in capsys.readouterr().err


def test_other_commands_go_to_the_engine_cli(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "--help"])            # the engine's own `train` help
    assert exit_.value.code == 0 and "--epochs" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])                     # the launcher's `app` line, then the engine's commands
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and cli.USAGE in out and "train" in out.split(cli.USAGE, 1)[1]
