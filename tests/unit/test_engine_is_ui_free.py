"""The engine (dashboard/lab) must never import Streamlit: the CLI and benchmarks use it bare."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import dashboard.lab

LAB = Path(dashboard.lab.__file__).parent


def test_no_module_under_lab_imports_streamlit():
    offenders = []
    for path in LAB.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "streamlit"]
    assert offenders == []


@pytest.mark.slow  # a fresh interpreter (torch import: seconds); the fast tier has the test above and test_layers.py
def test_importing_every_engine_module_loads_no_streamlit():
    modules = [m.name for m in pkgutil.walk_packages([str(LAB)], "dashboard.lab.")]
    assert "dashboard.lab.training.train" in modules
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
