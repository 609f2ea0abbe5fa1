"""The run of show: a workshop as steps (intro, train, compress, ...), for the presenter's page.

    steps, errors = load_steps(text)              # a bad step is left out with one sentence; never raises
    run_of_show.steps()                           # lessons/run_of_show.toml, checked against the app's pages,
                                                  # the presets and the bundled replays
    step_link(step, "https://lab.example.org")    # 'https://lab.example.org/train?preset=lesson-train'

The steps are content (lessons/run_of_show.toml, installed as dashboard.lessons); the pages they open
are the app's own, read from dashboard/app.py's st.Page(...) list without running it (app_pages()).
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import PurePosixPath

from . import replay, settings, shareable

STEPS_FILE = "run_of_show.toml"
HOME = "home"           # how a step names the app's default page (its address is the app's own)
MIN_NOTES, MAX_NOTES = 3, 6
_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,29}")


@dataclass(frozen=True)
class AppPage:
    """One of the app's pages as dashboard/app.py declares it."""

    script: str         # relative to app.py: "app_pages/compress.py" (what st.switch_page takes)
    title: str
    url_path: str       # "compress"; the default page: HOME
    default: bool = False


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    page: str                   # an AppPage.url_path
    notes: tuple[str, ...]      # for the presenter's eyes
    preset: str | None = None   # lessons/presets.toml, for that page
    replay: str | None = None   # assets/presets/NAME.json


# ---------------------------------------------------------------- the app's pages

def app_pages(text: str) -> dict[str, AppPage]:
    """url path -> AppPage for each st.Page("...", ...) call in app.py's source (not run). A page
    without url_path gets Streamlit's, its file name; the default page is also reachable as HOME."""
    found: dict[str, AppPage] = {}
    for node in ast.walk(ast.parse(text)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Page"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            continue
        kw = {k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)}
        script = node.args[0].value
        default = kw.get("default") is True
        url = HOME if default else str(kw.get("url_path") or PurePosixPath(script).stem)
        found[url] = AppPage(script, str(kw.get("title") or PurePosixPath(script).stem), url, default)
    return found


@lru_cache(maxsize=1)
def bundled_pages() -> dict[str, AppPage]:
    """The installed app's pages (dashboard/app.py)."""
    path = resources.files("dashboard") / "app.py"
    return app_pages(path.read_text(encoding="utf-8")) if path.is_file() else {}


# ---------------------------------------------------------------- the steps

def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def load_steps(text: str, source: str = STEPS_FILE, *, pages: Collection[str] | None = None,
               presets: dict[str, shareable.Preset] | None = None,
               replays: Collection[str] | None = None) -> tuple[list[Step], list[str]]:
    """The steps in TOML `text` and one sentence for each problem. `pages`, `presets`, `replays`: what
    exists, when known. A step that cannot be shown (no title, an unknown page, notes missing) is left
    out; one naming a preset or replay that does not exist is kept without it. Never raises."""
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, TypeError) as exc:
        return [], [f"{source} is not valid TOML: {exc}."]
    entries = doc.get("steps", [])
    if not isinstance(entries, list):
        return [], [f"{source}: 'steps' must be a list of [[steps]] entries."]
    steps: list[Step] = []
    errors: list[str] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries, 1):
        where = f"{source}: step {i}"
        if not isinstance(entry, dict):
            errors.append(f"{where} must be a table with key, title, page and notes.")
            continue
        key = entry.get("key")
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            errors.append(f"{where}: its key must be lower-case letters, digits and '-', not {shareable.quote(key)}.")
            continue
        where = f"{source}: step {i} ({key})"
        title, page = _text(entry.get("title")), _text(entry.get("page"))
        notes, preset, replay_name = entry.get("notes"), entry.get("preset"), entry.get("replay")
        problem = None
        if key in seen:
            problem = "its key is used by an earlier step"
        elif title is None:
            problem = "it needs a title"
        elif page is None:
            problem = "it needs the page it opens"
        elif pages is not None and page not in pages:
            problem = f"the page {shareable.quote(page)} is not one of the app's ({', '.join(sorted(pages))})"
        elif (not isinstance(notes, list) or not MIN_NOTES <= len(notes) <= MAX_NOTES
              or not all(_text(n) for n in notes)):
            problem = f"its notes must be a list of {MIN_NOTES} to {MAX_NOTES} lines of text"
        elif preset is not None and not isinstance(preset, str):
            problem = "its preset must be a preset's name"
        elif replay_name is not None and not isinstance(replay_name, str):
            problem = "its replay must be a replay's name"
        if problem:
            errors.append(f"{where} was left out: {problem}.")
            continue
        # A preset this server does not offer (its caps) or a replay that is missing costs the step only
        # that: the room still gets the page.
        if preset is not None and presets is not None and preset not in presets:
            errors.append(f"{where}: the preset {shareable.quote(preset)} is not one this lab offers; "
                          "the step opens its page without it.")
            preset = None
        elif preset is not None and presets is not None and presets[preset].page != page:
            errors.append(f"{where}: the preset {preset} is for the {presets[preset].page} page, not {page}; "
                          "the step opens its page without it.")
            preset = None
        if replay_name is not None and replays is not None and replay_name not in replays:
            errors.append(f"{where}: the replay {shareable.quote(replay_name)} is not in assets/presets; "
                          "the step has no replay.")
            replay_name = None
        seen.add(key)
        steps.append(Step(key, title, page, tuple(n.strip() for n in notes), preset, replay_name))
    if not entries:
        errors.append(f"{source} has no [[steps]].")
    return steps, errors


@lru_cache(maxsize=1)
def _bundled_text() -> str:
    path = resources.files("dashboard.lessons") / STEPS_FILE
    return path.read_text(encoding="utf-8") if path.is_file() else ""


@lru_cache(maxsize=4)
def _checked(limits: settings.Limits) -> tuple[list[Step], list[str]]:
    # The presets a server offers depend on its caps: one answer per caps (the pages and the bundled
    # replays are the package's own), so the presenter's page does not parse the TOML on every rerun.
    return load_steps(_bundled_text(), pages=bundled_pages(), presets=shareable.presets(), replays=replay.names())


def _bundled() -> tuple[list[Step], list[str]]:
    return _checked(settings.current().limits)


def steps() -> list[Step]:
    """The run of show in lessons/run_of_show.toml, the steps that passed their checks."""
    return list(_bundled()[0])


def step_errors() -> list[str]:
    """What is wrong in lessons/run_of_show.toml, one sentence each (empty when every step loads whole)."""
    return list(_bundled()[1])


def step_link(step: Step, base: str | None, pages: dict[str, AppPage] | None = None) -> str:
    """The address students open for this step: its page under `base` (the app's address, no trailing
    page), with ?preset=NAME when the step has one; without a base, the page's relative link."""
    page = (pages or bundled_pages()).get(step.page)
    path = "" if page is not None and page.default else step.page
    root = base.rstrip("/") if base else ""
    where = f"{root}/{path}" if root else (path or "./")
    return shareable.link(where, {shareable.PRESET_PARAM: step.preset} if step.preset else {})
