"""The browser side of Measure on this device ships inside the package: onnxruntime-web's three runtime files as
its README lists them, the component's own page loading only files beside it (no CDN: it works offline), and
pyproject's package data carrying the folder into a wheel."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "dashboard" / "ui" / "device_component"
RUNTIME = {"ort.wasm.min.js": 50_196, "ort-wasm-simd-threaded.mjs": 24_381, "ort-wasm-simd-threaded.wasm": 14_239_897}


def test_the_runtime_files_are_the_ones_the_readme_names():
    readme = (FOLDER / "README.md").read_text()
    assert "onnxruntime-web 1.30.0" in readme and (FOLDER / "LICENSE.onnxruntime-web.txt").is_file()
    for name, size in RUNTIME.items():
        assert (FOLDER / name).stat().st_size == size, name
        assert f"| `{name}` | {size:,} |" in readme


def test_the_component_loads_nothing_from_elsewhere():
    for name in ("index.html", "measure.js"):
        text = (FOLDER / name).read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), name
        assert "http://" not in text and "https://" not in text, name
    assert '<script src="ort.wasm.min.js">' in (FOLDER / "index.html").read_text()


def test_the_runtime_version_the_page_names_is_the_one_shipped():
    from dashboard.ui import device_view

    assert device_view.RUNTIME_VERSION == "1.30.0" and device_view.WASM_BYTES == RUNTIME["ort-wasm-simd-threaded.wasm"]
    assert "ONNX Runtime Web v1.30.0" in (FOLDER / "ort.wasm.min.js").read_text()[:200]


def test_pyproject_puts_the_whole_folder_in_the_wheel():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["dashboard.ui"]
    shipped = {p.name for p in FOLDER.iterdir() if p.is_file()}
    assert shipped >= set(RUNTIME) | {"index.html", "measure.js", "README.md"}
    for name in shipped:
        assert any(Path("device_component", name).match(pattern) for pattern in data), name
