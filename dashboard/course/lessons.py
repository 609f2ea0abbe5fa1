"""The course: six lessons kept as markdown in lessons/NN-*.md, read and checked here.

    lessons, errors = load_lessons()      # sorted by order; a malformed file is an error, the rest load
    glossary = load_glossary()            # term -> definition, from lessons/glossary.md
    score(lesson, {0: 1, 1: 0})           # Score(correct, answered, total)

A lesson file is edited by a teacher, so its format is plain and every mistake in it gets a
one-line message naming the file and the problem (`LessonError`) instead of breaking a page:

    +++
    title = "Training vs inference"
    order = 1                 # its place in the course (unique)
    minutes = 15
    objectives = ["...", "..."]
    page = "train"            # the app page it opens: one of PAGES
    preset = "lesson-train"   # optional: settings from lessons/presets.toml
    check = "training-costs-more"   # optional: a check in course.lesson_checks
    replay = "lesson"         # optional: the bundled replay the check reads while the student has no results
    +++
    ## Lesson                 (then, in any order, each exactly once:)
    ## Figure                 a table, a diagram, or ![alt](figure:NAME) for a chart the page draws
    ## Predict, then check    one question, then 2-4 options as "- " lines
    ## What you should see
    ## What it means for you  four paragraphs: **Developer:**, **Product manager:**,
                              **Business leader choosing hardware:**, **Policymaker weighing energy and access:**
    ## Sources                "1. authors, title, venue, year, URL" (a claim cites one as [1])
    ## Quiz                   3-5 of: "### Q: text", "- [ ]" / "- [x]" options (one [x]), "> explanation"

The files live in the top-level lessons/ folder, installed as the package dashboard.lessons, and
are found with importlib.resources: an installed wheel has them too. Never imports streamlit.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from dashboard.course.lesson_checks import CHECKS

LESSONS_DIR = resources.files("dashboard.lessons")
GLOSSARY_FILE = "glossary.md"
LESSON_FILE = re.compile(r"^\d+-[\w-]+\.md$")   # 01-training-vs-inference.md: the slug is the name without .md

# The app's page url paths a lesson may open ("" is Home). app.py is not imported here (it is
# Streamlit); a test holds the two together.
PAGES = frozenset({"", "train", "compress", "try-it", "compare", "hardware", "edge", "results"})

LESSON, FIGURE, PREDICT, SHOULD_SEE, FOR_YOU, SOURCES, QUIZ = (
    "Lesson", "Figure", "Predict, then check", "What you should see", "What it means for you", "Sources", "Quiz")
SECTIONS = (LESSON, FIGURE, PREDICT, SHOULD_SEE, FOR_YOU, SOURCES, QUIZ)
AUDIENCES = ("Developer", "Product manager", "Business leader choosing hardware",
             "Policymaker weighing energy and access")
QUIZ_QUESTIONS = (3, 5)
PREDICT_OPTIONS = (2, 4)

_REQUIRED = {"title": str, "order": int, "minutes": int, "objectives": list, "page": str}
_OPTIONAL = {"preset": str, "check": str, "replay": str}
_KINDS = {str: "a text in quotes", int: "a whole number", list: "a list [...]"}
_REF = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\](?!\()")        # [1] or [1, 3]; not a link's text "[1](...)"
_URL = re.compile(r"https?://\S+")
_SOURCE_ITEM = re.compile(r"^(\d+)\.\s+(.*)$")
_REPLAY_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")    # course.replay's names (that module loads torch)
_OPTION = re.compile(r"^[-*]\s+\[( |x|X)\]\s+(.*)$")
FIGURE_REF = re.compile(r"!\[([^\]]*)\]\(figure:([\w-]+)\)")   # ![alt](figure:NAME): groups alt, NAME
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass
class Question:
    text: str
    options: list[str]
    answer: int            # index of the right option
    explanation: str       # shown after answering


@dataclass
class Prediction:
    """The question asked before the experiment: no right answer here, the experiment gives it."""

    question: str
    options: list[str]


@dataclass
class Lesson:
    slug: str              # the file name without .md
    title: str
    order: int
    minutes: int
    objectives: list[str]
    page: str              # url path of the page it opens (one of PAGES)
    preset: str | None
    check: str | None      # a name in course.lesson_checks.CHECKS
    sections: dict[str, str]          # section name -> its markdown, in file order
    quiz: list[Question]
    sources: list[str]                # entry n is sources[n - 1]
    prediction: Prediction
    perspectives: dict[str, str] = field(default_factory=dict)   # audience -> its paragraph (markdown)
    figures: list[str] = field(default_factory=list)             # names of ![..](figure:NAME) the page draws
    replay: str | None = None      # assets/presets/NAME.json: the check's figures while the student has none


class LessonError(Exception):
    """A lesson that cannot be used; `message` is one line naming the file and the problem."""

    def __init__(self, slug: str, message: str):
        super().__init__(message)
        self.slug = slug
        self.message = message


@dataclass(frozen=True)
class Score:
    correct: int
    answered: int
    total: int


# ------------------------------------------------------------------ loading

@lru_cache(maxsize=8)
def bundled_text(name: str) -> str:
    """A content file bundled beside the lessons (the run of show, the presets): its text, "" where this copy has none."""
    path = LESSONS_DIR / name
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def load_lessons(root: Traversable | Path | str | None = None) -> tuple[list[Lesson], list[LessonError]]:
    """Every lessons/NN-*.md, sorted by order, and one LessonError per file that cannot be used."""
    base = _root(root)
    files = sorted((f for f in base.iterdir() if f.is_file() and LESSON_FILE.match(f.name)), key=lambda f: f.name)
    parsed: list[Lesson] = []
    errors: list[LessonError] = []
    for f in files:
        slug = f.name[:-len(".md")]
        try:
            parsed.append(parse_lesson(slug, f.read_text(encoding="utf-8")))
        except LessonError as e:
            errors.append(e)
        except (OSError, UnicodeDecodeError) as e:
            # The reason without the path: an OSError's text names the server's folders.
            reason = "not UTF-8 text" if isinstance(e, UnicodeDecodeError) else (e.strerror or "unreadable")
            errors.append(LessonError(slug, f"{slug}.md: cannot be read ({reason})"))
    lessons: list[Lesson] = []
    owner: dict[int, str] = {}
    for lesson in parsed:   # in file-name order: the first file keeps an order, a later one is the error
        if lesson.order in owner:
            errors.append(LessonError(lesson.slug, f"{lesson.slug}.md: order {lesson.order} is already taken by "
                                                   f"{owner[lesson.order]}.md; give each lesson its own order"))
        else:
            owner[lesson.order] = lesson.slug
            lessons.append(lesson)
    return sorted(lessons, key=lambda x: x.order), errors


def parse_lesson(slug: str, text: str) -> Lesson:
    """One lesson from its file's text; LessonError (one line, naming the file) if it is malformed."""
    def fail(problem: str) -> LessonError:
        return LessonError(slug, f"{slug}.md: {' '.join(problem.split())}")

    meta, body = _front_matter(text, fail)
    sections = _sections(body, fail)
    sources = _sources(sections[SOURCES], fail)
    for name, content in sections.items():
        if name == SOURCES:
            continue
        for m in _REF.finditer(content):
            for n in (int(x) for x in m.group(1).split(",")):
                if not 1 <= n <= len(sources):
                    raise fail(f"reference [{n}] in '## {name}' has no source {n} (Sources lists {len(sources)})")
    return Lesson(
        slug=slug, title=meta["title"], order=meta["order"], minutes=meta["minutes"],
        objectives=list(meta["objectives"]), page=meta["page"], preset=meta.get("preset"), check=meta.get("check"),
        sections=sections, quiz=_quiz(sections[QUIZ], fail), sources=sources,
        prediction=_prediction(sections[PREDICT], fail), perspectives=_perspectives(sections[FOR_YOU], fail),
        figures=[name for _, name in FIGURE_REF.findall(sections[FIGURE])], replay=meta.get("replay"))


def load_glossary(root: Traversable | Path | str | None = None) -> dict[str, str]:
    """lessons/glossary.md as term -> definition (markdown), in file order; {} if it is missing."""
    path = _root(root) / GLOSSARY_FILE
    if not path.is_file():
        return {}
    terms: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("### "):
            current = terms.setdefault(line[4:].strip(), [])
        elif line.startswith("#"):
            current = None
        elif current is not None:
            current.append(line)
    definitions = {term: "\n".join(lines).strip() for term, lines in terms.items()}
    return {term: text for term, text in definitions.items() if text}


def glossary_anchor(term: str) -> str:
    """A stable url fragment for a glossary term: 'gCO2e/kWh' -> 'gco2e-kwh', 'round-trip time' -> 'round-trip-time'."""
    return re.sub(r"[^a-z0-9]+", "-", term.lower()).strip("-") or "term"


def score(lesson: Lesson, answers: dict[int, int | None]) -> Score:
    """Quiz answers (question index -> option index) scored; unanswered or stale entries are not counted."""
    correct = answered = 0
    for i, q in enumerate(lesson.quiz):
        a = answers.get(i)
        if isinstance(a, bool) or not isinstance(a, int) or not 0 <= a < len(q.options):
            continue
        answered += 1
        correct += a == q.answer
    return Score(correct, answered, len(lesson.quiz))


# ------------------------------------------------------------------ the parts of a lesson

def _root(root: Traversable | Path | str | None) -> Traversable | Path:
    if root is None:
        return LESSONS_DIR
    return Path(root) if isinstance(root, str) else root


def _front_matter(text: str, fail) -> tuple[dict, str]:
    lines = text.replace("\r\n", "\n").lstrip("\ufeff").split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None or lines[start].strip() != "+++":
        raise fail("no front matter: the file must start with a '+++' line, the TOML fields, then '+++'")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip() == "+++"), None)
    if end is None:
        raise fail("the front matter is not closed: no second '+++' line")
    try:
        meta = tomllib.loads("\n".join(lines[start + 1:end]))
    except tomllib.TOMLDecodeError as e:
        raise fail(f"the front matter is not valid TOML: {e}") from None
    for key in _REQUIRED:
        if key not in meta:
            raise fail(f"the front matter has no '{key}'")
    for key, value in meta.items():
        kind = _REQUIRED.get(key) or _OPTIONAL.get(key)
        if kind is None:
            raise fail(f"unknown front-matter field '{key}' (the fields are {', '.join([*_REQUIRED, *_OPTIONAL])})")
        if not isinstance(value, kind) or isinstance(value, bool):
            raise fail(f"'{key}' must be {_KINDS[kind]}, not {value!r}")
    if not meta["title"].strip():
        raise fail("'title' is empty")
    if meta["order"] < 1 or meta["minutes"] < 1:
        raise fail("'order' and 'minutes' must be at least 1")
    if not meta["objectives"] or not all(isinstance(o, str) and o.strip() for o in meta["objectives"]):
        raise fail("'objectives' must be a list of at least one non-empty text")
    if meta["page"] not in PAGES:
        raise fail(f"page {meta['page']!r} is not a page of the app (one of {', '.join(repr(p) for p in sorted(PAGES))})")
    if "check" in meta and meta["check"] not in CHECKS:
        raise fail(f"check {meta['check']!r} is not a check (one of {', '.join(CHECKS)})")
    if "replay" in meta and not _REPLAY_NAME.fullmatch(meta["replay"]):
        raise fail(f"replay {meta['replay']!r} is not a replay's name (lower-case letters, digits and '-')")
    if "replay" in meta and "check" not in meta:
        raise fail("'replay' is for a check to read: give the lesson a 'check' too, or leave 'replay' out")
    if "preset" in meta and not meta["preset"].strip():
        raise fail("'preset' is empty (leave it out for none)")
    return meta, "\n".join(lines[end + 1:])


def _sections(body: str, fail) -> dict[str, str]:
    """'## Name' -> its text. Headings inside a fenced block (a diagram) are text."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    in_fence = False
    for line in body.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        if not in_fence and line.startswith("## "):
            name = line[3:].strip()
            if name not in SECTIONS:
                raise fail(f"unknown section '## {name}' (the sections are {', '.join(SECTIONS)})")
            if name in sections:
                raise fail(f"section '## {name}' appears twice")
            current = sections[name] = []
        elif current is not None:
            current.append(line)
        elif line.strip() and not line.startswith("# "):
            raise fail(f"text before the first '## ' section: {line.strip()[:60]!r}")
    for name in SECTIONS:
        if name not in sections:
            raise fail(f"missing section '## {name}'")
        if not "\n".join(sections[name]).strip():
            raise fail(f"section '## {name}' is empty")
    return {name: "\n".join(lines).strip() for name, lines in sections.items()}


def _items(text: str, start: re.Pattern) -> list[tuple[re.Match, list[str]]]:
    """List items whose first line matches `start`, each with its continuation lines."""
    items: list[tuple[re.Match, list[str]]] = []
    for line in text.split("\n"):
        m = start.match(line)
        if m:
            items.append((m, [m.group(2).strip()]))
        elif line.strip() and items:
            items[-1][1].append(line.strip())
    return items


def _sources(text: str, fail) -> list[str]:
    items = _items(text, _SOURCE_ITEM)
    if not items:
        raise fail("'## Sources' has no numbered entries ('1. authors, title, venue, year, URL')")
    sources = []
    for expected, (m, lines) in enumerate(items, start=1):
        if int(m.group(1)) != expected:
            raise fail(f"sources must be numbered 1, 2, 3... in order: entry {expected} is numbered {m.group(1)}")
        entry = " ".join(lines)
        if not _URL.search(entry):
            raise fail(f"source {expected} has no URL (http:// or https://)")
        sources.append(entry)
    return sources


def _prediction(text: str, fail) -> Prediction:
    question, options = [], []
    for line in text.split("\n"):
        s = line.strip()
        if s.startswith(("- ", "* ")):
            options.append(s[2:].strip())
        elif s and not options:
            question.append(s)
        elif s:
            raise fail(f"'## {PREDICT}': text after the options: {s[:60]!r}")
    lo, hi = PREDICT_OPTIONS
    if not question:
        raise fail(f"'## {PREDICT}' has no question before its options")
    if not lo <= len(options) <= hi:
        raise fail(f"'## {PREDICT}' needs {lo} to {hi} options as '- ' lines, not {len(options)}")
    return Prediction(" ".join(question), options)


def _perspectives(text: str, fail) -> dict[str, str]:
    found: dict[str, str] = {}
    for paragraph in re.split(r"\n\s*\n", text):
        m = re.match(r"\*\*([^*]+?):\*\*\s*(.*)", paragraph.strip(), re.DOTALL)
        if m and m.group(1) in AUDIENCES:
            found[m.group(1)] = " ".join(m.group(2).split())
    missing = [a for a in AUDIENCES if a not in found]
    if missing:
        raise fail(f"'## {FOR_YOU}' has no paragraph starting '**{missing[0]}:**'")
    return {a: found[a] for a in AUDIENCES}


def _quiz(text: str, fail) -> list[Question]:
    blocks: list[tuple[str, list[str]]] = []
    for line in text.split("\n"):
        if line.startswith("### Q:"):
            blocks.append((line[len("### Q:"):].strip(), []))
        elif blocks:
            blocks[-1][1].append(line)
        elif line.strip():
            raise fail(f"'## {QUIZ}': text before the first '### Q:' question: {line.strip()[:60]!r}")
    lo, hi = QUIZ_QUESTIONS
    if not lo <= len(blocks) <= hi:
        raise fail(f"the quiz needs {lo} to {hi} questions ('### Q: ...'), not {len(blocks)}")
    quiz = []
    for number, (question, lines) in enumerate(blocks, start=1):
        options, right, explanation = [], [], []
        for line in lines:
            s = line.strip()
            m = _OPTION.match(s)
            if m:
                if m.group(1) in "xX":
                    right.append(len(options))
                options.append(m.group(2).strip())
            elif s.startswith(">"):
                explanation.append(s[1:].strip())
            elif s:
                raise fail(f"quiz question {number}: unexpected line {s[:60]!r} (options are '- [ ] ...' or "
                           "'- [x] ...', the explanation '> ...')")
        if not question:
            raise fail(f"quiz question {number} has no text after '### Q:'")
        if len(options) < 2:
            raise fail(f"quiz question {number} needs at least 2 options")
        if len(right) != 1:
            raise fail(f"quiz question {number} has {len(right)} right answers: mark exactly one option '- [x]'")
        if not " ".join(explanation).strip():
            raise fail(f"quiz question {number} has no explanation ('> ...' after its options)")
        quiz.append(Question(question, options, right[0], " ".join(e for e in explanation if e)))
    return quiz
