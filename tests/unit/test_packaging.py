"""The wheel carries every package and the bundled data: pyproject lists packages explicitly."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_under_dashboard_is_listed():
    # An explicit list cannot pick up a new subpackage by itself: this catches one left out of
    # the wheel (the app would work from the checkout and fail when installed).
    found = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "dashboard").rglob("__init__.py")
             if "__pycache__" not in init.parts}
    assert "dashboard.lab" in found
    missing = found - set(PYPROJECT["packages"])
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


def test_every_listed_package_exists():
    dirs = PYPROJECT.get("package-dir", {})
    for name in PYPROJECT["packages"]:
        folder = ROOT / dirs[name] if name in dirs else ROOT.joinpath(*name.split("."))
        assert (folder / "__init__.py").is_file(), name


def test_assets_and_lessons_are_installed_as_packages_with_their_data():
    assert PYPROJECT["package-dir"] == {"dashboard.assets": "assets", "dashboard.lessons": "lessons"}
    data = PYPROJECT["package-data"]
    assert "digits.npz" in data["dashboard.assets"]
    lessons = {p.relative_to(ROOT / "lessons") for p in (ROOT / "lessons").rglob("*.md")}
    assert lessons, "no lessons found"
    for path in lessons:  # every lesson file matches one of the package-data patterns
        assert any(path.match(pattern) for pattern in data["dashboard.lessons"]), path
