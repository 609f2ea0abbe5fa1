"""The run of show: a workshop as steps (intro, train, compress, ...), for the presenter's page.

    steps, errors = load_steps(text)              # a bad step is left out with one sentence; never raises
    run_of_show.steps()                           # lessons/run_of_show.toml, checked against the app's pages,
                                                  # the presets and the bundled replays
    step_link(step, "https://lab.example.org")    # 'https://lab.example.org/train?preset=lesson-train'
    render_notes(step, [("this session", evidence)])  # the notes with this run's figures, and where they came from

The steps are content (lessons/run_of_show.toml, installed as dashboard.lessons); the pages they open
are the app's own, read from dashboard/app.py's st.Page(...) list without running it (app_pages()).

A note never states a figure written by hand: it names a fact, `{sizes}`, and the page fills it in from
the figures it has (the presenter's session, else the step's replay), through lab.claims; with none,
the note says the same thing without the figure (FACTS). A step's replay must hold what the step's page
shows (SHOWS), or the step keeps its page and loses the replay, with the reason. A step may carry a
question for the room (course.room_questions); one that does not check out is left out, with the reason.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import PurePosixPath

from dashboard.course import lessons, replay, room_questions, shareable
from dashboard.lab import claims, fmt, settings
from dashboard.course.lesson_checks import Evidence

STEPS_FILE = "run_of_show.toml"
HOME = "home"           # how a step names the app's default page (its address is the app's own)
MIN_NOTES, MAX_NOTES = 3, 6
_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,29}")
NOTE_FACT = re.compile(r"\{([a-z0-9-]+)\}")   # {sizes} in a note: a fact filled in from the figures (FACTS)


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
    question: room_questions.Question | None = None   # what the presenter may ask the room at this step


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


# ---------------------------------------------------------------- what a step's replay must hold

def _measured(r: replay.Replay) -> bool:
    return any(x.available for x in r.record.results)


# The page a step opens -> what it shows from a replay, and whether a replay holds it.
SHOWS: dict[str, tuple[str, Callable[[replay.Replay], bool]]] = {
    HOME: ("measured versions", _measured),
    "train": ("training curves", lambda r: bool(r.steps)),
    "compress": ("measured versions", _measured),
    "compare": ("the training's energy and energy per image",
                lambda r: r.record.training_energy is not None and any(x.energy for x in r.record.results)),
    "edge": ("device-profile runs (a replay made with --edge)", lambda r: bool(r.edge_runs)),
}


def missing(page: str, r: replay.Replay) -> str | None:
    """What the step's page shows that the replay does not hold, or None when it holds it all."""
    what, holds = SHOWS.get(page, ("", lambda _: True))
    return None if holds(r) else what


# ---------------------------------------------------------------- the notes' figures

def _by_name(ev: Evidence) -> dict:
    return {r.name: r for r in ev.results if r.available}


def _sizes(ev: Evidence) -> str | None:
    """'fp32's file is 1.61 MiB: pruned-unstructured-90 about the same size (1.61 MiB), int8-static 3.89× smaller (424 KiB)'."""
    ok = _by_name(ev)
    fp32 = ok.get("fp32")
    others = [r for r in ok.values() if r.name != "fp32" and r.size_bytes]
    if fp32 is None or not fp32.size_bytes or not others:
        return None
    parts = [f"{r.name} {claims.compare(fp32.size_bytes, r.size_bytes, more='smaller', less='larger', same='about the same size')} "
             f"({fmt.size(r.size_bytes)})" for r in others]
    return f"fp32's file is {fmt.size(fp32.size_bytes)}: " + ", ".join(parts)


def _accuracy(ev: Evidence) -> str | None:
    """'fp32 answers 97.6 % of the test images right; its versions from 96.4 % (pruned-unstructured-90) to 97.7 % (int8-static)'."""
    ok = _by_name(ev)
    fp32 = ok.get("fp32")
    others = sorted((r for r in ok.values() if r.name != "fp32"), key=lambda r: r.accuracy)
    if fp32 is None or not others:
        return None
    low, high = others[0], others[-1]
    return (f"fp32 answers {fmt.pct(fp32.accuracy)} of the test images right; its versions from "
            f"{fmt.pct(low.accuracy)} ({low.name}) to {fmt.pct(high.accuracy)} ({high.name})")


def _training_time(ev: Evidence) -> str | None:
    """'the cnn's 3 epochs took 5.2 s'."""
    t = ev.trained.summary() if ev.trained is not None else ev.training
    if not t or not t.get("seconds"):
        return None
    n = t.get("epochs_completed") or t.get("epochs")
    return f"the {t.get('model')}'s {n} epoch{'s' if n != 1 else ''} took {fmt.seconds(t['seconds'])}"


def _edge_fits(ev: Evidence) -> str | None:
    """'Phone-class: 5 of 5 versions fit; Microcontroller-class (256 KiB): 1 of 5 (pruned-channels-50+int8-static)'."""
    runs = [run for run in ev.edge_runs.values() if run.fits]
    if not runs:
        return None
    parts = []
    for run in runs:
        p = run.profile
        budget = f" ({fmt.size(p.memory_budget)})" if p.memory_budget else ""
        names = [f.name for f in run.fitting]
        shown = f": {', '.join(names)}" if 0 < len(names) <= 2 else ""
        parts.append(f"{p.title}{budget}: {len(names)} of {len(run.fits)} versions fit{shown}")
    return "; ".join(parts)


@dataclass(frozen=True)
class Fact:
    """A figure a note may name: made from a run's figures, or the same point without one."""

    figures: Callable[[Evidence], str | None]   # None: this run has no such figures
    otherwise: str


FACTS: dict[str, Fact] = {
    "sizes": Fact(_sizes, "the size column: which files shrank, which stayed as they were, and why"),
    "accuracy": Fact(_accuracy, "the accuracy column, each version against fp32's"),
    "training-time": Fact(_training_time, "the page shows how long it takes"),
    "edge-fits": Fact(_edge_fits, "which versions fit each profile, the microcontroller's budget above all"),
}


def render_notes(step: Step, sources: Sequence[tuple[str, Evidence]]) -> tuple[list[str], list[str]]:
    """The step's notes with each {fact} filled in from the first source that has its figures (sources:
    (what it is, its figures), in order of preference), and the sources used. A fact no source has is
    said without a figure."""
    used: list[str] = []

    def fill(m: re.Match) -> str:
        fact = FACTS[m.group(1)]
        for label, ev in sources:
            text = fact.figures(ev)
            if text is not None:
                used.append(label) if label not in used else None
                return text
        return fact.otherwise

    return [NOTE_FACT.sub(fill, note) for note in step.notes], used


# ---------------------------------------------------------------- the steps

def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def load_steps(text: str, source: str = STEPS_FILE, *, pages: Collection[str] | None = None,
               presets: dict[str, shareable.Preset] | None = None,
               replays: Collection[str] | Mapping[str, replay.Replay] | None = None) -> tuple[list[Step], list[str]]:
    """The steps in TOML `text` and one sentence for each problem. `pages`, `presets`, `replays`: what
    exists, when known (replays by name, or name -> Replay to check that each holds what its step's page
    shows). A step that cannot be shown (no title, an unknown page, notes missing, a note naming a fact
    there is none of) is left out; one naming a preset or replay that does not exist, or a replay without
    what its page shows, is kept without it. Never raises."""
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
        elif unknown := sorted({f for n in notes for f in NOTE_FACT.findall(n)} - set(FACTS)):
            problem = (f"its notes name {{{unknown[0]}}}, which is no figure the page can fill in "
                       f"(the figures: {', '.join('{' + f + '}' for f in FACTS)})")
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
        elif (replay_name is not None and isinstance(replays, Mapping)
              and (lacks := missing(page, replays[replay_name])) is not None):
            errors.append(f"{where}: the replay {replay_name} holds no {lacks}, which its page shows; "
                          "the step has no replay.")
            replay_name = None
        # A question that cannot be asked costs the step only its question.
        question = None
        if "question" in entry:
            question, why = room_questions.parse(entry["question"])
            if why is not None:
                errors.append(f"{where}: its question was left out: {why}.")
        seen.add(key)
        steps.append(Step(key, title, page, tuple(n.strip() for n in notes), preset, replay_name, question))
    if not entries:
        errors.append(f"{source} has no [[steps]].")
    return steps, errors


@lru_cache(maxsize=4)
def _checked(limits: settings.Limits) -> tuple[list[Step], list[str]]:
    # The presets a server offers depend on its caps: one answer per caps (the pages and the bundled
    # replays are the package's own), so the presenter's page does not parse the TOML on every rerun.
    return load_steps(lessons.bundled_text(STEPS_FILE), pages=bundled_pages(), presets=shareable.presets(),
                      replays=_bundled_replays())


def _bundled_replays() -> dict[str, replay.Replay]:
    """Every bundled replay that reads, by name, without its model (a broken one is the page's to report)."""
    found = {}
    for name in replay.names():
        try:
            found[name] = replay.peek(name)
        except replay.ReplayError:
            pass
    return found


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
