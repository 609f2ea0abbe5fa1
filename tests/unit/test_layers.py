"""The layout's rules, read from the code's own imports: the engine's rooms build on each other in the
order dashboard/lab/__init__.py gives, the engine never reaches up into the course, the service or the
pages, and the course never into the service or the pages."""

import ast
from pathlib import Path

import dashboard

ROOT = Path(dashboard.__file__).parent
# dashboard/lab's rooms in its opening comment's order: a room may import only rooms before it (and itself).
LAB_ORDER = ["common", "inputs", "energy", "training", "serving", "compression", "measure", "deploy", "top"]
COMMON = {"settings", "serial", "hardware", "fmt", "claims", "progress"}


def imports_of(path: Path) -> set[str]:
    """Every dashboard.* module a file imports, at any depth of its code (lazy imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if m.startswith("dashboard.")}


def lab_room(module: str) -> str | None:
    """The room of dashboard/lab that a module (or a name imported from it) lives in."""
    parts = module.split(".")
    if parts[:2] != ["dashboard", "lab"]:
        return None
    if len(parts) == 2:
        return "common"                   # `from dashboard.lab import settings` names its modules
    if parts[2] in COMMON:
        return "common"
    if parts[2] in {"pipeline", "__main__"}:
        return "top"
    return parts[2] if parts[2] in LAB_ORDER else None


def module_of(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    return ".".join(p for p in rel.parts if p != "__init__")


def test_every_lab_module_is_in_a_named_room():
    strays = [str(p.relative_to(ROOT)) for p in (ROOT / "lab").rglob("*.py")
              if p.name != "__init__.py" and lab_room(module_of(p)) is None]
    assert strays == []


def test_the_engine_rooms_import_only_rooms_before_them():
    upward = []
    for path in (ROOT / "lab").rglob("*.py"):
        here = lab_room(module_of(path))
        for target in imports_of(path):
            there = lab_room(target)
            if there is not None and LAB_ORDER.index(there) > LAB_ORDER.index(here):
                upward.append(f"{module_of(path)} ({here}) -> {target} ({there})")
    assert upward == []


def test_the_engine_never_imports_the_course_service_or_pages():
    offenders = [f"{module_of(p)} -> {m}" for p in (ROOT / "lab").rglob("*.py") for m in imports_of(p)
                 if m.split(".")[1] in {"course", "service", "ui", "app_pages", "app", "entry", "cli"}]
    assert offenders == []


def test_the_course_never_imports_the_service_or_pages():
    offenders = [f"{module_of(p)} -> {m}" for p in (ROOT / "course").rglob("*.py") for m in imports_of(p)
                 if m.split(".")[1] in {"service", "ui", "app_pages", "app", "entry"}]
    assert offenders == []


def test_the_rule_reader_sees_a_lazy_upward_import(tmp_path):
    # The checks above are only as good as imports_of and lab_room: a lazy import inside a function counts.
    stray = tmp_path / "stray.py"
    stray.write_text("import os\n\ndef f():\n    from dashboard.lab.deploy import edge\n    return edge\n")
    found = imports_of(stray)
    assert "dashboard.lab.deploy.edge" in found and "os" not in found
    assert lab_room("dashboard.lab.deploy.edge") == "deploy"
    assert LAB_ORDER.index(lab_room("dashboard.lab.deploy.edge")) > LAB_ORDER.index(lab_room("dashboard.lab.inputs.data"))
