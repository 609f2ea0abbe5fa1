"""The Dockerfile, read as text (no Docker engine runs here; .ci/run builds it where one does)."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, backslash continuations joined."""
    out, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        full = pending + stripped
        pending = ""
        word, _, args = full.partition(" ")
        out.append((word.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def words(args: str) -> list[str]:
    """An instruction's arguments: exec form (JSON) or shell form."""
    return json.loads(args) if args.startswith("[") else shlex.split(args)


@pytest.fixture(scope="module")
def docker() -> list[tuple[str, str]]:
    return instructions((ROOT / "Dockerfile").read_text())


def _all(docker, name: str) -> list[str]:
    return [args for word, args in docker if word == name]


def test_base_image_is_a_pinned_python_the_project_supports(docker):
    base = _all(docker, "FROM")
    assert len(base) == 1
    m = re.fullmatch(r"python:(\d+)\.(\d+)(?:\.\d+)?-slim(?:-\w+)?", base[0])
    assert m, f"expected python:X.Y-slim, got {base[0]!r}"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    low = re.fullmatch(r">=\s*(\d+)\.(\d+)", requires)
    assert low, requires
    assert (int(m[1]), int(m[2])) >= (int(low[1]), int(low[2]))


def test_cpu_only_torch_from_requirements_txt_then_the_package_non_editable(docker):
    runs = _all(docker, "RUN")
    requirements = (ROOT / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in requirements
    assert re.search(r"^torch==[\d.]+\+cpu$", requirements, re.M)
    assert re.search(r"^torchvision==[\d.]+\+cpu$", requirements, re.M)
    torch_step = [i for i, r in enumerate(runs) if "requirements.txt" in r and "pip install -r" in r]
    package_step = [i for i, r in enumerate(runs) if re.search(r"pip install (\S+ )*\.(\s|$)", r)]
    assert torch_step and package_step and torch_step[0] < package_step[0]
    copies = _all(docker, "COPY")
    assert any("requirements.txt" in c for c in copies)
    for r in runs:  # an editable install would need the checkout at run time
        if "pip install" in r:
            assert not re.search(r"(^|\s)(-e|--editable)(\s|$)", r), r


def test_runs_as_a_non_root_user(docker):
    order = [word for word, _ in docker]
    users = _all(docker, "USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert max(i for i, w in enumerate(order) if w == "USER") < order.index("CMD")


def test_health_check_asks_streamlits_health_endpoint(docker):
    (check,) = _all(docker, "HEALTHCHECK")
    assert "CMD" in check and "/_stcore/health" in check and "8501" in check
    assert "curl" not in check and "wget" not in check  # the slim image has neither
    assert "8501" in _all(docker, "EXPOSE")[0].split()


def test_cmd_starts_the_console_command_on_all_interfaces(docker):
    (cmd,) = _all(docker, "CMD")
    assert cmd.startswith("["), "exec form, so the server gets the container's signals"
    argv = words(cmd)
    assert argv[:2] == ["train-infer-lab", "app"]
    assert argv[argv.index("--server.address") + 1] == "0.0.0.0"
    assert argv[argv.index("--server.port") + 1] == "8501"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["train-infer-lab"] == "dashboard.cli:main"


def test_dockerignore_keeps_environments_out_and_what_the_build_needs_in():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".venv", ".git", "tests", "benchmarks/results"} <= ignored
    assert any("__pycache__" in line for line in ignored)
    # pyproject reads README.md; the package needs its sources, data and lessons.
    for needed in ("README.md", "pyproject.toml", "requirements.txt", "dashboard", "assets", "lessons"):
        assert needed not in ignored and f"/{needed}" not in ignored


def test_parser_joins_continuations_and_drops_comments():
    got = instructions("# c\nFROM python:3.12-slim\nRUN a \\\n    # inside\n    && b\nCMD [\"x\", \"y\"]\n")
    assert got == [("FROM", "python:3.12-slim"), ("RUN", "a && b"), ("CMD", '["x", "y"]')]
