"""Settings a link can carry: the Train and Compress pages' widgets, and the device profile Edge & cloud
opens on, as short query parameters. What each widget is and offers is course.forms'; here, the link.

    values, notices = parse({"epochs": "5", "lr": "1"}, "train")   # widget key -> value
    encode({"train_epochs": 5}, "train")                          # {"epochs": "5"}

A link is input from anyone, so `parse` checks every value against what the page's widget offers
(and this server's caps), leaves a bad one out with a plain sentence saying so, and never raises.
Its sentences quote at most 20 characters of a value, with anything but letters, digits and
`.,_+-/` replaced by '?', so a value can never inject markup into the page that shows them.

Presets are named links a lesson or the presenter opens, kept as content in lessons/presets.toml
(installed as dashboard.lessons) and checked with the same `parse`.
"""

from __future__ import annotations

import math
import re
import string
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlencode

from dashboard.course import lessons
from dashboard.course.forms import Setting, schema
from dashboard.lab import settings as lab_settings

PAGES = ("train", "compress", "edge")   # the pages' url paths (dashboard/app.py)
PRESET_PARAM = "preset"         # ?preset=lesson-train: a named preset's settings
# Parameters that are not settings and are left alone: an old bookmark's session token (ui.session.OLD_PARAM,
# removed from the address there, never read)
# and Streamlit's own.
IGNORED = frozenset({"s", "embed", "embed_options"})
MAX_LENGTH = 64                 # longer values are refused unread
QUOTE_CHARS = 20                # what a notice quotes of a refused value, at most
_SAFE = frozenset(string.ascii_letters + string.digits + " .,_+-/")
_TRUE, _FALSE = ("on", "true", "yes", "1"), ("off", "false", "no", "0")
_INT = re.compile(r"[+-]?[0-9]{1,9}")   # ASCII digits only: int() also reads other scripts' digits
_FLOAT = re.compile(r"[+-]?([0-9]{1,20}\.?[0-9]{0,20}|\.[0-9]{1,20})([eE][+-]?[0-9]{1,3})?")


def _limits() -> lab_settings.Limits:
    return lab_settings.current().limits


# ---------------------------------------------------------------- parse

def quote(raw: object) -> str:
    """At most QUOTE_CHARS characters of a value, safe to show anywhere: repr() of the value with
    every character but letters, digits and `.,_+-/` replaced by '?'."""
    text = raw if isinstance(raw, str) else type(raw).__name__
    kept = "".join(c if c in _SAFE else "?" for c in text[:QUOTE_CHARS])
    return repr(kept) + ("..." if len(text) > QUOTE_CHARS else "")


def _number(value: float) -> str:
    """A number as a short string that reads back to the same number."""
    short = f"{value:g}" if isinstance(value, float) else str(value)
    return short if float(short) == value else repr(value)


def _on_grid(value: float, lo: float, step: float) -> float | None:
    k = (value - lo) / step
    if abs(k - round(k)) > 1e-6:
        return None
    return round(lo + round(k) * step, 10)


def _describe_range(s: Setting, hi: float) -> str:
    whole = s.kind is int
    top = f"{hi:g}" if not whole else f"{int(hi)}"
    text = f"{'a whole number' if whole else 'a number'} from {s.lo:g} to {top}"
    if s.step not in (None, 1):
        text += f" in steps of {s.step:g}"
    return text


def _choices_text(choices: Sequence) -> str:
    shown = [_number(c) if isinstance(c, float) else str(c) for c in choices]
    return ", ".join(shown[:-1]) + " or " + shown[-1] if len(shown) > 1 else (shown[0] if shown else "nothing")


def _convert(s: Setting, text: str) -> object:
    """The value `text` spells for this setting, or raise ValueError with what it should be."""
    low = text.strip().lower()
    if s.kind is bool:
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"{s.what} must be on or off")
    if low in s.words:
        value: object = s.words[low]
    elif s.kind is str:
        value = low
    elif s.kind is int:
        if not _INT.fullmatch(low):
            raise ValueError(f"{s.what} must be a whole number")
        value = int(low)
    else:
        if not _FLOAT.fullmatch(low):
            raise ValueError(f"{s.what} must be a number")
        value = float(low)
        if not math.isfinite(value):
            raise ValueError(f"{s.what} must be a finite number")
    allowed = s.allowed()
    if allowed is not None:
        for choice in allowed:
            if choice == value or (isinstance(choice, float) and not isinstance(value, str)
                                   and math.isclose(choice, float(value), rel_tol=1e-9)):
                return choice
        over = (s.cap is not None and not isinstance(value, str) and value in s.choices()
                and value > s.cap(_limits()))
        if over:
            raise ValueError(f"{s.what} can be at most {_number(max(allowed))} on this lab (the server's cap)")
        raise ValueError(f"{s.what} must be one of {_choices_text(allowed)}")
    hi = s.high()
    if s.cap is not None and value > hi and (s.hi is None or value <= s.hi):
        raise ValueError(f"{s.what} can be at most {_number(hi)} on this lab (the server's cap)")
    if not s.lo <= value <= hi:
        raise ValueError(f"{s.what} must be {_describe_range(s, hi)}")
    snapped = _on_grid(float(value), float(s.lo), float(s.step))
    if snapped is None:
        raise ValueError(f"{s.what} must be {_describe_range(s, hi)}")
    return int(snapped) if s.kind is int else snapped


def _last(raw: object) -> object:
    """What one parameter says: the last of repeated values (as st.query_params reads them)."""
    if isinstance(raw, (list, tuple)):
        return raw[-1] if raw else None
    return raw


def parse(query: Mapping[str, str | list[str]], page: str,
          *, allow_preset: bool = True) -> tuple[dict[str, object], list[str]]:
    """Widget key -> checked value for the page's parameters in `query`, and one sentence for each
    value left out. Never raises for any query (ValueError only for a page that shares nothing).

    Names this lab does not know are left out with one sentence naming them (a typo should not pass
    silently); the session token and Streamlit's own parameters (IGNORED) are left alone quietly.
    `preset=NAME` brings in that preset's settings; parameters beside it win over the preset's."""
    settings = schema(page)
    values: dict[str, object] = {}
    notices: list[str] = []
    unknown: list[str] = []
    try:
        items = list(query.items())
    except Exception:  # noqa: BLE001 - a query that cannot even be read is a query with nothing in it
        return {}, ["The link's settings could not be read; they were ignored."]
    for name, raw in items:
        if not isinstance(name, str):
            unknown.append(quote(name))
            continue
        if name in IGNORED:
            continue
        raw = _last(raw)
        if raw is None:
            continue
        if name == PRESET_PARAM and allow_preset:
            found, notice = _preset_values(raw, page)
            values = {**found, **values}
            notices += [notice] if notice else []
            continue
        setting = settings.get(name)
        if setting is None:
            unknown.append(quote(name))
            continue
        if not isinstance(raw, str):
            notices.append(f"The link's setting {name} was ignored: it is not text.")
            continue
        if len(raw) > MAX_LENGTH:
            notices.append(f"The link's setting {name} was ignored: its value is too long "
                           f"({len(raw):,} characters; at most {MAX_LENGTH}).")
            continue
        try:
            values[setting.key] = _convert(setting, raw)
        except ValueError as exc:
            notices.append(f"The link's setting {name}={quote(raw)} was ignored: {exc}.")
        except Exception:  # noqa: BLE001 - whatever a link holds, the page opens
            notices.append(f"The link's setting {name}={quote(raw)} was ignored: it could not be read.")
    if unknown:
        shown = ", ".join(unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        notices.append(f"The link names settings this page does not have; they were ignored: {shown}.")
    return values, notices


# ---------------------------------------------------------------- encode

def _text(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return a == b and type(a) is type(b)


def encode(values: Mapping[str, object], page: str, *, changed_only: bool = True) -> dict[str, str]:
    """Query parameters for widget values (what widgets.save returns): only those that differ from the
    defaults, in the schema's order, so links stay short. parse(encode(v)) gives v back."""
    out = {}
    for s in schema(page).values():
        if s.key in values and not (changed_only and _same(values[s.key], s.default())):
            out[s.param] = _text(values[s.key])
    return out


def link(page: str, params: Mapping[str, str], base: str | None = None) -> str:
    """The link to `page` with these parameters: `base` (the page's full URL) or, without one,
    the page's url path."""
    where = base if base else page
    return f"{where}?{urlencode(params)}" if params else where


# ---------------------------------------------------------------- presets

@dataclass(frozen=True)
class Preset:
    """Named settings for one page, written in the query-parameter vocabulary."""

    name: str
    title: str
    page: str                   # url path: one of PAGES
    params: dict[str, str]      # as the file has them, as text
    values: dict[str, object]   # widget key -> value, as parse reads them


PRESET_FILE = "presets.toml"
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def _param_text(value: object) -> str | None:
    """A TOML scalar as the text a link would carry (as `encode` writes it); None for tables and arrays."""
    return _text(value) if isinstance(value, (bool, int, float, str)) else None


def load_presets(text: str, source: str = PRESET_FILE) -> tuple[dict[str, Preset], list[str]]:
    """The presets in TOML `text`, and one sentence per preset left out (naming it and the parameter).
    A bad preset never takes the others with it; text that is not TOML gives no presets and one error."""
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, TypeError) as exc:
        return {}, [f"{source} is not valid TOML: {exc}."]
    table = doc.get("presets", {})
    if not isinstance(table, dict):
        return {}, [f"{source}: 'presets' must be a table of [presets.NAME] entries."]
    found: dict[str, Preset] = {}
    errors: list[str] = []
    for name, entry in table.items():
        where = f"{source}: preset {quote(name)}"
        if not _NAME.fullmatch(name):
            errors.append(f"{where}: a name is lower-case letters, digits and '-'.")
            continue
        if not isinstance(entry, dict):
            errors.append(f"{where} must be a table with title, page and params.")
            continue
        title, page, params = entry.get("title"), entry.get("page"), entry.get("params", {})
        if not isinstance(title, str) or not title.strip():
            errors.append(f"{where} needs a title.")
            continue
        if page not in PAGES:
            errors.append(f"{where}: page must be one of {', '.join(PAGES)}.")
            continue
        if not isinstance(params, dict):
            errors.append(f"{where}: params must be a table of settings.")
            continue
        texts = {k: _param_text(v) for k, v in params.items()}
        bad = [k for k, v in texts.items() if v is None]
        if bad:
            errors.append(f"{where}: parameter {bad[0]} must be a text, a number or true/false.")
            continue
        values, notices = parse(texts, page, allow_preset=False)
        if notices or set(texts) & IGNORED:
            problems = notices or [f"{min(set(texts) & IGNORED)} is not a setting"]
            errors.append(f"{where}: {problems[0]}")
            continue
        found[name] = Preset(name, title.strip(), page, texts, values)
    return found, errors


@lru_cache(maxsize=4)
def _checked(limits: lab_settings.Limits) -> tuple[dict[str, Preset], list[str]]:
    # Which presets load depends on the server's caps (settings.override may change them): one answer per caps,
    # so a page's rerun does not parse the TOML again.
    return load_presets(lessons.bundled_text(PRESET_FILE))


def _bundled() -> tuple[dict[str, Preset], list[str]]:
    return _checked(_limits())


def presets() -> dict[str, Preset]:
    """The presets in lessons/presets.toml that this server can open; see preset_errors() for the rest."""
    return dict(_bundled()[0])


def preset_errors() -> list[str]:
    """Why a preset in lessons/presets.toml was left out, one sentence each (empty when all load)."""
    return list(_bundled()[1])


def preset_query(name: str) -> dict[str, str]:
    """The preset's page url path under "page" and its query parameters (every one the preset sets,
    written as encode writes them). KeyError for a preset that did not load."""
    p = presets()[name]
    return {"page": p.page, **encode(p.values, p.page, changed_only=False)}


def preset_link(name: str, base: str | None = None) -> str:
    """The preset's link, e.g. 'train?model=cnn&epochs=3', or under `base` (the app's URL)."""
    query = preset_query(name)
    page = query.pop("page")
    return link(page, query, f"{base.rstrip('/')}/{page}" if base else None)


def _preset_values(raw: object, page: str) -> tuple[dict[str, object], str | None]:
    p = presets().get(raw) if isinstance(raw, str) and len(raw) <= MAX_LENGTH else None
    if p is None:
        return {}, f"The link's preset {quote(raw)} is not one this lab has; it was ignored."
    if p.page != page:
        return {}, f"The preset {quote(raw)} is for the {p.page} page; it was ignored here."
    return dict(p.values), None
