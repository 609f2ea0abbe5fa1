"""The short explanations pages show ("why did it come out so"), kept as markdown in lessons/explain/.

Which explanation fits a variant, and its title, come from the variant registry (lab.compress).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from dashboard.lab import compress

# Inside the package (top-level lessons/ installed as dashboard.lessons, see pyproject), so an
# installed copy without the checkout (Community Cloud, `pip install`) has them too.
EXPLAIN_DIR = resources.files("dashboard.lessons") / "explain"


@lru_cache(maxsize=32)
def text(name: str) -> str:
    """The markdown of lessons/explain/<name>.md; empty if missing (content must never break a page)."""
    path = EXPLAIN_DIR / f"{name}.md"
    return path.read_text(encoding="utf-8").strip() if path.is_file() else ""


def for_results(names: list[str]) -> list[tuple[str, str]]:
    """(title, markdown) of each explanation that fits these variants, once each, in their order."""
    out, seen = [], set()
    for name in names:
        topic = compress.explanation(name)
        if topic and topic not in seen and text(topic):
            seen.add(topic)
            out.append((compress.EXPLANATIONS.get(topic, topic), text(topic)))
    return out
