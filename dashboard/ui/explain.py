"""Short explanations the pages show ("why did it come out so"), kept as markdown in lessons/explain/."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

# Inside the package (top-level lessons/ installed as dashboard.lessons, see pyproject), so an
# installed copy without the checkout (Community Cloud, `pip install`) has them too.
EXPLAIN_DIR = resources.files("dashboard.lessons") / "explain"


TITLES = {
    "unstructured-pruning": "Zeroed weights: why not faster?",
    "channels-pruning": "Removed channels: why faster?",
    "int8": "int8: slower at batch 1, faster at batch 256?",
    "half-precision": "bf16 / fp16: only with the right CPU",
    "distillation": "Distillation: did the teacher help?",
}


@lru_cache(maxsize=32)
def text(name: str) -> str:
    """The markdown of lessons/explain/<name>.md; empty if missing (content must never break a page)."""
    path = EXPLAIN_DIR / f"{name}.md"
    return path.read_text(encoding="utf-8").strip() if path.is_file() else ""


def for_variant(name: str) -> str | None:
    """Which explanation fits a variant name."""
    if name.startswith("pruned-unstructured"):
        return "unstructured-pruning"
    if "int8" in name:
        return "int8"
    if name.startswith("pruned-channels"):
        return "channels-pruning"
    if name in ("bf16", "fp16"):
        return "half-precision"
    if name in ("distilled", "student-baseline"):
        return "distillation"
    return None
