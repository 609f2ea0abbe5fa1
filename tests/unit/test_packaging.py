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


def test_every_data_file_under_dashboard_is_declared():
    # A data file beside the code (the accelerators' published peaks) goes into the wheel only when
    # package-data names it: the checkout would read it and an installed copy would not find it.
    data = PYPROJECT["package-data"]
    files = [p for p in (ROOT / "dashboard").rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")
             and "__pycache__" not in p.parts]
    assert any(p.name == "accelerators.toml" for p in files)
    for path in files:
        package = ".".join(path.parent.relative_to(ROOT).parts)
        while package not in data and "." in package:   # device_component/* is declared on dashboard.ui
            package = package.rsplit(".", 1)[0]
        rel = path.relative_to(ROOT.joinpath(*package.split(".")))
        assert any(rel.match(pattern) for pattern in data.get(package, ())), f"add to package-data: {path}"


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


def _third_party_imports() -> set[str]:
    """Top-level modules that dashboard/ imports (at any depth, lazily too), minus the stdlib and itself."""
    import ast
    import sys

    names = set()
    for path in (ROOT / "dashboard").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"dashboard", "__future__"}


def test_what_the_code_imports_is_declared_and_what_is_declared_is_imported():
    import re

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!~ \[]", d)[0].lower().replace("-", "_") for d in project["dependencies"]}
    optional = {re.split(r"[<>=!~ \[]", d)[0].lower().replace("-", "_")
                for extra in project["optional-dependencies"].values() for d in extra}
    # Where a distribution's name differs from the module it installs.
    imported = {{"PIL": "pillow"}.get(name, name).lower() for name in _third_party_imports()}
    # Loaded by name, never imported: SQLAlchemy loads psycopg for a postgresql+psycopg:// URL (service.board).
    imported |= {"psycopg"}
    assert imported - declared - optional == set(), "imported but not declared in pyproject.toml"
    assert declared - imported == set(), "declared in pyproject.toml but never imported"


def test_entry_points_import_dashboard_before_torch():
    # dashboard/__init__.py sets GNU OpenMP's spin count, which libgomp reads once when torch loads
    # it; an import sorter moving `import torch` first silently undoes it (benchmarks ran slower).
    import re

    for path in [ROOT / "tests" / "conftest.py", *sorted((ROOT / "benchmarks").glob("*.py"))]:
        text = path.read_text(encoding="utf-8")
        if path.parent.name == "benchmarks" and "__main__" not in text:
            continue  # a module the scripts import after dashboard, not an entry point
        lines = text.splitlines()
        torch_at = next((i for i, x in enumerate(lines) if re.match(r"(import|from) torch\b", x)), None)
        if torch_at is None:
            continue
        first = next((i for i, x in enumerate(lines) if re.match(r"(import dashboard\b|from dashboard\b)", x)), None)
        assert first is not None and first < torch_at, f"{path.name}: import dashboard before torch"
