"""Questions the presenter asks the room at a run-of-show step: predict together, then measure.

    q, problem = parse(entry["question"])        # a step's [steps.question] table, checked; never raises
    q.check(4.0)                                 # an answer as stored; ValueError (one line) when it is not one
    measured(q, board_rows, "ROOM-12", "lesson") # the room's measured value: the class board's posts, else the replay
    reveal(q, answers, found)                    # the answers' distribution beside it, the closest predictions

A question is a number with its unit ("how many times as fast ...?", in ×) or a choice among options. What it is
held against is a named measure (MEASURES): the measure gives the unit, the sane range of an answer and how
the value is found, first in the class board's posted results (service.board_posts.Result: variant, model,
dataset, accuracy, size, batch-1 latency), then in a bundled replay when the board holds none of it. Every word
that compares an answer with the measured value comes from lab.claims (or signed points for percentages).

Plain Python: service.room stores the answers, ui.room_questions draws them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from dashboard.lab import claims, fmt

if TYPE_CHECKING:
    from dashboard.course.lesson_checks import Evidence

NUMBER, CHOICE = "number", "choice"
MAX_TEXT = 200          # a question's text, in characters
MIN_OPTIONS, MAX_OPTIONS, MAX_OPTION = 2, 6, 60
CLOSEST = 3             # predictions named at the reveal
NAMED_RIGHT = 5         # for a choice: at most this many who picked the measured option are named
MAX_BINS = 12
ANONYMOUS = "anonymous"


class BoardRow(Protocol):
    """What a measure reads of one posted result (service.board_posts.Result has these)."""

    variant: str
    model: str
    dataset: str
    accuracy: float
    size_bytes: int
    latency_ms: float


@dataclass(frozen=True)
class Found:
    value: float      # the number in the question's unit, or the index of the option
    text: str         # what the value is made of, in words with units (the value itself is shown beside it)
    detail: str       # which figures it came from ("the medians of 3 fp32 and 2 int8-static entries"), or ""


@dataclass(frozen=True)
class Measure:
    """What a question is held against and where that is found."""

    key: str
    kind: str                                             # NUMBER or CHOICE
    what: str                                             # in a few words, for the presenter
    from_replay: Callable[[Evidence], Found | None]
    from_board: Callable[[Sequence[BoardRow]], Found | None] | None = None
    board_lacks: str = ""                                 # why the class board cannot say, where it cannot
    unit: str = ""                                        # NUMBER: "×", "%"
    low: float = 0.0                                      # NUMBER: the widest range an answer may take
    high: float = 0.0
    options: int = 0                                      # CHOICE: how many options its answer indexes
    ratio: bool = False                                   # compared as ratios (log scale), not differences


# ---------------------------------------------------------------- the measures

def _median_of(rows: Sequence[BoardRow], pick: Callable[[BoardRow], float]) -> float:
    return float(statistics.median(pick(r) for r in rows))


def _ok(ev: Evidence) -> dict[str, Any]:
    return {r.name: r for r in ev.results if r.available}


def _board_int8_speedup(rows: Sequence[BoardRow]) -> Found | None:
    """fp32's median batch-1 latency over int8-static's, among the posts of one model on one dataset (the pair
    with the most such posts)."""
    groups: dict[tuple[str, str], dict[str, list[BoardRow]]] = {}
    for r in rows:
        if r.variant in ("fp32", "int8-static"):
            groups.setdefault((r.model, r.dataset), {"fp32": [], "int8-static": []})[r.variant].append(r)
    usable = [(k, g) for k, g in groups.items() if g["fp32"] and g["int8-static"]]
    if not usable:
        return None
    (model, dataset), g = max(usable, key=lambda kg: len(kg[1]["fp32"]) + len(kg[1]["int8-static"]))
    fp32 = _median_of(g["fp32"], lambda r: r.latency_ms)
    int8 = _median_of(g["int8-static"], lambda r: r.latency_ms)
    return Found(fp32 / int8, _speed_text(fp32, int8),
                 f"the medians of {_entries(len(g['fp32']), 'fp32')} and {_entries(len(g['int8-static']), 'int8-static')} "
                 f"of the {model} on {dataset}")


def _speed_text(fp32_ms: float, int8_ms: float) -> str:
    """'int8-static takes 466 µs per image at batch 1, fp32 355 µs: int8-static is 1.31× slower'."""
    said = claims.compare(fp32_ms, int8_ms, more="faster", less="slower", same="about as fast")
    return (f"int8-static takes {fmt.ms(int8_ms)} per image at batch 1, fp32 {fmt.ms(fp32_ms)}: "
            f"int8-static is {said}")


def _entries(n: int, what: str) -> str:
    return f"{n} {what} {'entry' if n == 1 else 'entries'}"


def _replay_int8_speedup(ev: Evidence) -> Found | None:
    ok = _ok(ev)
    fp32, int8 = ok.get("fp32"), ok.get("int8-static")
    if (fp32 is None or int8 is None or int8.speedup_batch1 is None or int8.is_disturbed("speedup_batch1")
            or not fp32.latency_ms_batch1_p50 or not int8.latency_ms_batch1_p50):
        return None
    return Found(int8.speedup_batch1, _speed_text(fp32.latency_ms_batch1_p50, int8.latency_ms_batch1_p50), "")


def _board_accuracy(rows: Sequence[BoardRow]) -> Found | None:
    """The median test accuracy of the room's posted cnn versions on the bundled digits."""
    mine = [r for r in rows if r.model == "cnn" and r.dataset == "digits"]
    if not mine:
        return None
    acc = _median_of(mine, lambda r: r.accuracy)
    return Found(100 * acc, "of the test images right",
                 f"the median of {_entries(len(mine), 'cnn')} (every version posted, compressed ones too)")


def _replay_accuracy(ev: Evidence) -> Found | None:
    fp32 = _ok(ev).get("fp32")
    if fp32 is None or fp32.accuracy is None:
        return None
    return Found(100 * fp32.accuracy, "of the test images right",
                 f"the {ev.model or 'model'} as trained (fp32)")


def _replay_fits_microcontroller(ev: Evidence) -> Found | None:
    """Lesson 3's check on the replay's device-profile runs: the option it gives, and what fits."""
    from dashboard.course import lesson_checks

    outcome = lesson_checks.held("fits-microcontroller", ev)
    run = ev.edge_runs.get(lesson_checks.MICROCONTROLLER)
    if outcome.answer is None or run is None or run.profile.memory_budget is None:
        return None
    fitting = [f.name for f in run.fits if f.runnable and f.fits_memory]
    budget = fmt.size(run.profile.memory_budget)
    text = (f"{', '.join(fitting)} fit{'s' if len(fitting) == 1 else ''} the {budget} budget" if fitting
            else f"nothing fits the {budget} budget")
    return Found(float(outcome.answer), text, f"every version measured under the {run.profile.title} profile "
                                              "(weights + peak activations)")


MEASURES: dict[str, Measure] = {m.key: m for m in (
    Measure("int8-speedup-batch1", NUMBER, "int8-static's speed-up over fp32 at batch 1 (one image per call)",
            _replay_int8_speedup, _board_int8_speedup, unit="×", low=0.01, high=1000.0, ratio=True),
    Measure("cnn-accuracy", NUMBER, "the cnn's test accuracy on the bundled digits", _replay_accuracy,
            _board_accuracy, unit="%", low=0.0, high=100.0),
    Measure("fits-microcontroller", CHOICE, "which version fits the Microcontroller-class profile's memory budget",
            _replay_fits_microcontroller, None, board_lacks="the class board holds no device-profile runs",
            options=4),
)}


# ---------------------------------------------------------------- the question

@dataclass(frozen=True)
class Question:
    """A question a run-of-show step asks the room."""

    text: str
    measure: str                        # a key of MEASURES
    options: tuple[str, ...] = ()       # CHOICE: what the students pick from, in the measure's order
    low: float | None = None            # NUMBER: the range an answer may take (default: the measure's)
    high: float | None = None

    @property
    def how(self) -> Measure:
        return MEASURES[self.measure]

    @property
    def kind(self) -> str:
        return self.how.kind

    @property
    def unit(self) -> str:
        return self.how.unit

    @property
    def bounds(self) -> tuple[float, float]:
        m = self.how
        return (m.low if self.low is None else self.low), (m.high if self.high is None else self.high)

    def check(self, value: Any) -> float:
        """`value` as the answer stored (a number in the question's unit, or an option's index); ValueError
        with one line a student can act on."""
        if self.kind == CHOICE:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(self.options):
                raise ValueError(f"Pick one of the {len(self.options)} options.")
            return float(value)
        lo, hi = self.bounds
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError("Answer with a number.")
        if not lo <= value <= hi:
            raise ValueError(f"Answer with a number from {self.shown(lo)} to {self.shown(hi)}: "
                             f"{self.shown(value)} is outside that range.")
        return float(value)

    def shown(self, value: float) -> str:
        """An answer as people read it: '0.76×', '97.5 %', or the option's text."""
        if self.kind == CHOICE:
            return self.options[int(value)]
        if self.unit == "×":
            # A prediction or a bound, not a comparison of two figures shown: said as meant (lab.claims).
            return claims.statement(claims.times(value))
        return f"{fmt.number(value)} {self.unit}".strip()


def _number(raw: Any) -> float | None:
    return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw) else None


def parse(raw: Any) -> tuple[Question | None, str | None]:
    """A step's question table checked: (the question, None), or (None, why it was left out). Never raises."""
    if not isinstance(raw, Mapping):
        return None, "it must be a table with text and measure"
    text, key = raw.get("text"), raw.get("measure")
    if not isinstance(text, str) or not text.strip() or len(text.strip()) > MAX_TEXT:
        return None, f"its text must be 1 to {MAX_TEXT} characters"
    if key not in MEASURES:
        return None, (f"its measure {key!r} is not one the lab can measure "
                      f"(the measures: {', '.join(MEASURES)})")
    m = MEASURES[key]
    unknown = sorted(set(raw) - {"text", "measure", "options", "low", "high"})
    if unknown:
        return None, f"it has fields the lab does not read: {', '.join(unknown)}"
    if m.kind == CHOICE:
        options = raw.get("options")
        if "low" in raw or "high" in raw:
            return None, "a choice has options, not a range"
        if (not isinstance(options, list) or len(options) != m.options
                or not all(isinstance(o, str) and 0 < len(o.strip()) <= MAX_OPTION for o in options)):
            return None, (f"its measure {key} picks one of {m.options} options: give {m.options} options of 1 to "
                          f"{MAX_OPTION} characters, in its order")
        if len({o.strip().casefold() for o in options}) != len(options):
            return None, "two of its options are the same"
        return Question(" ".join(text.split()), key, tuple(o.strip() for o in options)), None
    if "options" in raw:
        return None, f"its measure {key} is a number in {m.unit}, which takes no options"
    low, high = raw.get("low", m.low), raw.get("high", m.high)
    lo, hi = _number(low), _number(high)
    if lo is None or hi is None or not m.low <= lo < hi <= m.high or (m.ratio and lo <= 0):
        return None, (f"its range must be numbers with low < high, within {m.low:g} to {m.high:g} {m.unit}")
    return Question(" ".join(text.split()), key, (), lo if "low" in raw else None, hi if "high" in raw else None), None


# ---------------------------------------------------------------- what the room measured

@dataclass(frozen=True)
class Measured:
    value: float
    text: str        # "int8-static 466 µs against fp32 355 µs per image at batch 1"
    source: str      # where it comes from: "the class board of ROOM-12 (...)", or a replay's label (...)


def measured(q: Question, board_rows: Sequence[BoardRow], class_code: str | None,
             replay_evidence: Callable[[], tuple[str, Evidence] | None]) -> tuple[Measured | None, str]:
    """The room's measured value for `q`: from the class board's posts (`board_rows`, of `class_code`) where
    they hold it, else from the replay (`replay_evidence()`: its label and figures, or None). Also one line on
    why the board did not give it (empty when it did)."""
    m = q.how
    if m.from_board is None:
        why = m.board_lacks
    elif not class_code:
        why = "no class code is set on your Class board page"
    elif (found := m.from_board(board_rows)) is not None:
        return Measured(found.value, found.text, f"the class board of {class_code} ({found.detail})"), ""
    else:
        why = f"the class board of {class_code} holds no posts that give it yet"
    got = replay_evidence()
    if got is not None and (found := m.from_replay(got[1])) is not None:
        return Measured(found.value, found.text, got[0] + (f" ({found.detail})" if found.detail else "")), why
    return None, why


# ---------------------------------------------------------------- the reveal

@dataclass(frozen=True)
class Answer:
    value: float
    nickname: str | None = None     # None: shown as ANONYMOUS


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    measured: bool      # the measured value falls here


@dataclass(frozen=True)
class Named:
    nickname: str
    answer: str         # as shown
    off: str            # how far from the measured value, in words


@dataclass(frozen=True)
class Reveal:
    n: int
    bars: tuple[Bar, ...]
    measured: Measured | None
    summary: str                 # the room's answers against the measured value, in one sentence
    closest: tuple[Named, ...]


def off(q: Question, value: float, target: float) -> str:
    """How far an answer is from the measured value: '1.3× higher', '2.0 points lower', 'right'."""
    if q.kind == CHOICE:
        return "right" if int(value) == int(target) else "another option"
    if q.how.ratio:
        return claims.compare(value, target, more="higher", less="lower", same="about right")
    if round(value - target, 1) == 0:
        return "about right"
    return fmt.points((value - target) / 100) if q.unit == "%" else f"{fmt.number(value - target)} {q.unit}".strip()


def yours(q: Question, value: float, found: Measured) -> str:
    """A student's own answer against the measured value, in one sentence."""
    if q.kind == CHOICE:
        return (f"You picked {q.shown(value)}: "
                + ("what was measured." if int(value) == int(found.value) else "not what was measured."))
    said = off(q, value, found.value)
    if said == "about right":
        return f"You predicted {q.shown(value)}: about right."
    return f"You predicted {q.shown(value)}: " + (f"{said} than measured." if q.how.ratio else f"{said} from it.")


def _distance(q: Question, value: float, target: float) -> float:
    if q.how.ratio:
        return abs(math.log(value / target))
    return abs(value - target)


def reveal(q: Question, answers: Sequence[Answer], found: Measured | None) -> Reveal:
    """The room's answers for the presenter: their distribution (a bar per option, or a histogram of the
    numbers), the measured value beside it, the closest predictions named (a nickname, else ANONYMOUS)."""
    n = len(answers)
    target = found.value if found is not None else None
    if q.kind == CHOICE:
        counts = [sum(1 for a in answers if int(a.value) == i) for i in range(len(q.options))]
        bars = tuple(Bar(o, c, target is not None and int(target) == i) for i, (o, c) in enumerate(zip(q.options, counts)))
        if target is None:
            return Reveal(n, bars, None, f"{fmt.plural(n, 'answer')}; nothing measured to hold them against.", ())
        right = [a for a in answers if int(a.value) == int(target)]
        named = tuple(Named(a.nickname or ANONYMOUS, q.shown(a.value), "right") for a in right[:NAMED_RIGHT])
        summary = (f"{len(right)} of {fmt.plural(n, 'answer')} picked what was measured: {q.options[int(target)]}."
                   if n else "No answers.")
        return Reveal(n, bars, found, summary, named)
    values = [a.value for a in answers]
    bars = tuple(Bar(label, c, hit) for label, c, hit in histogram(q, values, target))
    if not n:
        return Reveal(n, bars, found, "No answers.", ())
    median = float(statistics.median(values))
    if target is None:
        return Reveal(n, bars, None, f"{fmt.plural(n, 'answer')}, median {q.shown(median)}; nothing measured to "
                                     "hold them against.", ())
    order = sorted(answers, key=lambda a: _distance(q, a.value, target))
    closest = tuple(Named(a.nickname or ANONYMOUS, q.shown(a.value), off(q, a.value, target)) for a in order[:CLOSEST])
    far = off(q, median, target)
    said = ("about right" if far == "about right" else
            f"{far} than measured" if q.how.ratio else f"{far} from what was measured")
    summary = (f"The room's median prediction, {q.shown(median)} ({fmt.plural(n, 'answer')}), is {said}: "
               f"{q.shown(target)}.")
    return Reveal(n, bars, found, summary, closest)


def _ratio_edges(lo: float, hi: float) -> list[float]:
    """Bin edges in powers of 2 (powers of 10 when that makes too many) from under `lo` to over `hi`."""
    for base in (2.0, 10.0):
        first, last = math.floor(math.log(lo, base) + 1e-9), math.floor(math.log(hi, base) + 1e-9) + 1
        if last - first <= MAX_BINS or base == 10.0:
            return [base ** k for k in range(first, last + 1)]
    raise AssertionError("unreachable")


def _linear_edges(lo: float, hi: float) -> list[float]:
    """Equal bins of a round width (1, 2, 5, 10, 20, ...) from under `lo` to over `hi`, at most MAX_BINS."""
    span = max(hi - lo, 1e-9)
    width = 10.0 ** math.floor(math.log10(span / MAX_BINS))
    for step in (1, 2, 5, 10):
        if span / (width * step) <= MAX_BINS - 1:
            width *= step
            break
    first = math.floor(lo / width) * width
    edges = [first]
    while edges[-1] <= hi:
        edges.append(edges[-1] + width)
    return edges


def _edge_text(v: float) -> str:
    return f"{v:,.6g}"   # the edges are round numbers: 0.25, 2, 96, 1,000


def histogram(q: Question, values: Sequence[float], target: float | None) -> list[tuple[str, int, bool]]:
    """(bin label with its unit, how many answers fall in it, whether the measured value does): bins cover the
    answers and the measured value; a value on an edge falls in the bin above it ("2–4×" holds 2, not 4)."""
    points = [v for v in values] + ([target] if target is not None else [])
    if not points:
        return []
    lo, hi = min(points), max(points)
    edges = _ratio_edges(lo, hi) if q.how.ratio else _linear_edges(lo, hi)
    unit = q.unit if q.unit == "×" else f" {q.unit}"

    def which(v: float) -> int:
        for i in range(len(edges) - 1):
            if v < edges[i + 1]:
                return i
        return len(edges) - 2

    counts = [0] * (len(edges) - 1)
    for v in values:
        counts[which(v)] += 1
    hit = which(target) if target is not None else -1
    return [(f"{_edge_text(a)}–{_edge_text(b)}{unit}", c, i == hit)
            for i, (a, b, c) in enumerate(zip(edges, edges[1:], counts))]
