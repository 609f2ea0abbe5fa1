"""The `train-infer-lab` command: `app` starts the app from wherever the package is installed,
`replay` is the course's command line (python -m dashboard.course), every other subcommand is the
engine's (python -m dashboard.lab).

    train-infer-lab app [streamlit options, e.g. --server.port 8600]
    train-infer-lab train --model cnn --epochs 2 --json out.json
    train-infer-lab replay --demo --out demo.json

It lives outside dashboard/lab because the engine never imports Streamlit.
"""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).with_name("entry.py")   # the app behind its session cookie

# What .streamlit/config.toml holds, as command-line options: an installed copy started from any
# directory has no .streamlit/config.toml beside it, so the launcher passes the same settings
# itself. tests/unit/test_cli_launcher.py checks the two agree, option by option.
CONFIG_FLAGS: dict[str, str] = {
    "server.headless": "true",
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "server.maxUploadSize": "5",
    "server.maxMessageSize": "50",
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "viewer",
    "client.showErrorDetails": "none",
    "client.showErrorLinks": "false",
    "runner.fastReruns": "true",
    "runner.postScriptGC": "false",
    "theme.light.primaryColor": "#0072B2",
    "theme.dark.primaryColor": "#56B4E9",
}

USAGE = "train-infer-lab app [streamlit options]: start the app (e.g. --server.port 8600)"


def streamlit_args(extra: list[str]) -> list[str]:
    """`streamlit run` arguments: the installed app.py, CONFIG_FLAGS, then the user's own options,
    which win (a default the user also gives is left out)."""
    given = set()
    for token in extra:
        if token == "--":  # what follows goes to the script, not to Streamlit
            break
        if token.startswith("--"):
            given.add(token[2:].split("=", 1)[0])
    defaults = [f"--{key}={value}" for key, value in CONFIG_FLAGS.items() if key not in given]
    return ["run", str(APP), *defaults, *extra]


def settings_errors() -> list[str]:
    """The server settings' errors (bad TRAIN_INFER_LAB_* values); none where that module is absent."""
    try:
        from dashboard.lab import settings
    except ImportError:
        return []
    return list(settings.load()[1])


def run_app(extra: list[str]) -> int:
    """Start Streamlit on the installed app; refuse (2) on bad settings."""
    errors = settings_errors()
    if errors:
        for line in errors:
            print(line, file=sys.stderr)
        return 2
    # In this process, through the very function the `streamlit` command calls: one process, so
    # Ctrl+C and a container's SIGTERM reach the server directly and its exit status is ours
    # (a child `python -m streamlit` would need signals forwarded and a second interpreter).
    from streamlit.web import cli as streamlit_cli

    streamlit_cli.main(args=streamlit_args(extra), prog_name="streamlit")  # exits (click)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point: `app` starts the app, `replay` goes to the course's CLI, anything else to the engine's."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["app"]:
        return run_app(args[1:])
    if args[:1] == ["replay"]:
        from dashboard.course.__main__ import main as course_main

        return course_main(args)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
    from dashboard.lab.__main__ import main as lab_main

    return lab_main(args)


if __name__ == "__main__":
    sys.exit(main())
