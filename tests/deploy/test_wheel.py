"""The installed package works without the checkout: built here as a wheel, offline.

Streamlit Community Cloud installs the package non-editable (requirements.txt's `.` line) and runs
`streamlit run dashboard/app.py` from the checkout, whose app then imports the installed copy; a
`pip install` elsewhere has no checkout at all. The editable install these tests otherwise run on
hides both (FIELD-NOTES, "Installing"), so this builds the wheel, installs it into a folder with
`pip --target`, and runs it from there with PYTHONPATH (which comes before the editable install's
finder). Every check also asserts where the code and the data were loaded from: the editable
finder could otherwise quietly supply a file the wheel lacks.

TRAIN_INFER_LAB_WHEEL_SRC=/other/tree builds that tree (and runs its app.py) instead of this
checkout: to show that a tree without the packaging fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from benchmarks.server import free_port

pytestmark = pytest.mark.slow  # builds and installs a wheel, starts interpreters and a server

ROOT = Path(__file__).resolve().parents[2]
SRC = Path(os.environ.get("TRAIN_INFER_LAB_WHEEL_SRC") or ROOT)
# Not copied into the build: environments, caches, build leftovers (a stale build/ folder would
# leak deleted modules into the wheel).
_IGNORE = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__",
                                 ".pytest_cache", "node_modules", "results")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The wheel of this tree, built offline and installed with `pip --target` (no checkout in it)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src, wheels, target = tmp / "src", tmp / "dist", tmp / "site"
    shutil.copytree(SRC, src, ignore=_IGNORE)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels), str(src)],
                   check=True, timeout=300)
    (wheel,) = wheels.glob("*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
                   check=True, timeout=300)
    return target


def _env(site: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(site), HOME=str(home), TRAIN_INFER_LAB_DATA=str(home / "data"),
               OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("STREAMLIT_SERVER_PORT", None)
    return env


def _python(code: str, *, site: Path, cwd: Path, home: Path, timeout: float = 300) -> dict:
    """Run code in a fresh interpreter (-P: cwd not on sys.path); it prints one JSON line last,
    returned with the interpreter's stderr under "stderr"."""
    result = subprocess.run([sys.executable, "-P", "-c", code], cwd=cwd, env=_env(site, home),
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]) | {"stderr": result.stderr}


def _is_under(path: str, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


def test_wheel_carries_the_bundled_data_and_lessons(site):
    assert (site / "dashboard" / "assets" / "digits.npz").is_file()
    assert (site / "dashboard" / "lessons" / "explain" / "int8.md").is_file()
    assert (site / "dashboard" / "app.py").is_file() and (site / "dashboard" / "cli.py").is_file()
    assert (site / "dashboard" / "lab" / "measure" / "accelerators.toml").is_file()   # the Hardware page's peaks


def test_wheel_carries_the_browser_runtime_unchanged(site):
    # Measure on this device runs onnxruntime-web from the package itself (no CDN): every file of the component,
    # byte for byte, in the installed copy.
    shipped = ROOT / "dashboard" / "ui" / "device_component"
    installed = site / "dashboard" / "ui" / "device_component"
    names = sorted(f.name for f in shipped.iterdir() if f.is_file())
    assert "ort-wasm-simd-threaded.wasm" in names and "measure.js" in names
    assert sorted(f.name for f in installed.iterdir() if f.is_file()) == names
    for name in names:
        assert (installed / name).read_bytes() == (shipped / name).read_bytes(), name


def test_the_installed_course_presets_run_of_show_and_replays_load(site, tmp_path):
    """What the Lessons, Run of show and Train/Compress links read, from the installed package alone."""
    code = """
import json
from dashboard.course import lessons, replay, run_of_show, shareable
found, errors = lessons.load_lessons()
r = replay.load("demo")
print(json.dumps({"lessons": [x.slug for x in found], "errors": [str(e) for e in errors],
                  "glossary": len(lessons.load_glossary()), "presets": sorted(shareable.presets()),
                  "steps": len(run_of_show.steps()), "step_errors": run_of_show.step_errors(),
                  "replays": replay.names(), "demo": [res.name for res in r.record.results],
                  "lessons_file": lessons.__file__}))
"""
    out = _python(code, site=site, cwd=tmp_path, home=tmp_path)
    assert _is_under(out["lessons_file"], site)
    assert len(out["lessons"]) == 6 and out["errors"] == [] and out["glossary"] >= 20
    assert {"lesson-train", "lesson-compress"} <= set(out["presets"])
    assert out["steps"] == 6 and out["step_errors"] == []
    assert {"demo", "lesson"} <= set(out["replays"]) and out["demo"][0] == "fp32"


def test_community_cloud_layout(site, tmp_path):
    """(a) The checkout's app.py over the installed package, as `streamlit run dashboard/app.py` does."""
    app = SRC / "dashboard" / "app.py"
    code = f"""
import json, sys
sys.path.insert(0, {str(app.parent)!r})  # what `streamlit run dashboard/app.py` puts first
import dashboard
from dashboard.lab.inputs import data
from dashboard.ui import explain
ds = data.load_dataset("digits")
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({str(app)!r}, default_timeout=120)
at.run()
print(json.dumps({{"dashboard": dashboard.__file__, "digits": str(data.BUNDLED_DIGITS),
                   "lessons": str(explain.EXPLAIN_DIR), "n": [ds.n_train, ds.n_test],
                   "explain": explain.text("int8"), "exceptions": [e.value for e in at.exception],
                   "title": [t.value for t in at.title]}}))
"""
    out = _python(code, site=site, cwd=SRC, home=tmp_path)
    for key in ("dashboard", "digits", "lessons"):
        assert _is_under(out[key], site), f"{key} came from {out[key]}, not the installed package"
    assert out["n"] == [8000, 2000]
    assert len(out["explain"]) > 100
    # The checkout's config.toml redacts errors on the page; the traceback is in the log.
    assert out["exceptions"] == [], out["stderr"][-4000:]
    assert "Train & Infer Lab" in out["title"]


def test_cli_trains_on_the_bundled_digits_without_a_checkout(site, tmp_path):
    """(b) `pip install` of the wheel alone: the engine's CLI on the bundled digits, from an empty folder."""
    cwd = tmp_path / "empty"
    cwd.mkdir()
    where = _python("import json, dashboard.lab.__main__ as m, dashboard.lab.inputs.data as d\n"
                    "print(json.dumps({'cli': m.__file__, 'digits': str(d.BUNDLED_DIGITS)}))",
                    site=site, cwd=cwd, home=tmp_path)
    assert _is_under(where["cli"], site) and _is_under(where["digits"], site), where
    result = subprocess.run([sys.executable, "-m", "dashboard.lab", "train", "--model", "mlp", "--epochs", "1",
                             "--threads", "1", "--quiet", "--json", "out.json"],
                            cwd=cwd, env=_env(site, tmp_path), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    training = json.loads((cwd / "out.json").read_text())["training"]
    assert training["dataset"] == "digits"
    assert training["test_accuracy"] > 0.8


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


@pytest.mark.skipif(sys.platform == "win32", reason="process groups: POSIX only")
def test_console_command_starts_the_installed_app(site, tmp_path):
    """(c) `train-infer-lab app` (the console script pip wrote) serves the installed app."""
    cwd = tmp_path / "empty"
    cwd.mkdir()
    where = _python("import json, dashboard.cli as c\nprint(json.dumps({'app': str(c.APP)}))",
                    site=site, cwd=cwd, home=tmp_path)
    assert _is_under(where["app"], site), where
    script = site / "bin" / "train-infer-lab"
    assert script.is_file(), "no console script: check [project.scripts] in pyproject.toml"
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(script), "app", "--server.port", str(port),
                                 "--server.headless", "true"],
                                cwd=cwd, env=_env(site, tmp_path), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline, answer = time.monotonic() + 90, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    answer = r.read().decode().strip()
                break
            except OSError:
                time.sleep(0.5)
        assert answer == "ok", f"exit status {proc.poll()}; log:\n{log.read_text()[-3000:]}"
    finally:
        _stop(proc)
