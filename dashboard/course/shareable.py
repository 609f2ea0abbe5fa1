"""Settings a link can carry: the Train and Compress pages' widgets, and the device profile Edge & cloud
opens on, as short query parameters.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlencode

from dashboard.course import lessons
from dashboard.lab.inputs import data
from dashboard.lab import settings as lab_settings
from dashboard.lab.compression.compress import CompressSettings
from dashboard.lab.training.models import MODEL_NAMES
from dashboard.lab.training.train import OPTIMIZERS, SCHEDULES, TrainConfig, precision_choices

# The pages' select_slider choices, here so that a link and its widget offer the same list.
BATCH_SIZES = (16, 32, 64, 128, 256, 512)
# Up to 10: the lesson on divergence needs rates far past where Adam trains well (about 0.001 to 0.01).
LEARNING_RATES = (0.0001, 0.0003, 0.001, 0.002, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
TRAIN_IMAGES = (0, 500, 1000, 2000, 4000, 8000, 20000)    # 0: all of them
CALIBRATION_IMAGES = (64, 256, 1024, 4096)

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


@dataclass(frozen=True)
class Setting:
    """One shareable widget: its parameter, its widget key, and what values it accepts."""

    param: str                    # the query parameter: short and readable
    key: str                      # the widget key on the page (its FORM dict)
    kind: type                    # bool, int, float or str
    what: str                     # in plain words, for notices
    default: Callable[[], object]
    choices: Callable[[], Sequence] | None = None   # the widget's options (before the cap)
    lo: float | None = None       # a slider's range and step (before the cap)
    hi: float | None = None
    step: float | None = None
    cap: Callable[[lab_settings.Limits], float] | None = None   # this server's cap on the value
    words: Mapping[str, object] = field(default_factory=dict)   # readable spellings: all -> 0

    def allowed(self) -> list | None:
        """The choices this server offers (the widget's list, capped), or None for a range."""
        if self.choices is None:
            return None
        cap = self.cap(_limits()) if self.cap else math.inf
        return [c for c in self.choices() if not isinstance(c, (int, float)) or c <= cap]

    def high(self) -> float:
        """The top of the range on this server."""
        cap = self.cap(_limits()) if self.cap else math.inf
        return min(self.hi if self.hi is not None else math.inf, cap)


def _const(value: object) -> Callable[[], object]:
    return lambda: value


def _flag(param: str, key: str, what: str, default: bool) -> Setting:
    return Setting(param, key, bool, what, _const(default))


TRAIN = (
    Setting("dataset", "train_dataset", str, "the dataset", _const("digits"), choices=lambda: list(data.CATALOG)),
    Setting("model", "train_model", str, "the model", _const("cnn"), choices=lambda: list(MODEL_NAMES)),
    # 3 epochs (not the engine's 6) keep a live run short; the page's FORM has the same default.
    Setting("epochs", "train_epochs", int, "the number of epochs", lambda: min(3, _limits().max_epochs),
            lo=1, step=1, cap=lambda c: c.max_epochs),
    Setting("batch", "train_batch", int, "the batch size", _const(64), choices=lambda: BATCH_SIZES,
            cap=lambda c: c.max_batch_size),
    Setting("lr", "train_lr", float, "the learning rate", lambda: TrainConfig().lr, choices=lambda: LEARNING_RATES),
    Setting("opt", "train_optimizer", str, "the optimizer", _const("adam"), choices=lambda: OPTIMIZERS),
    Setting("seed", "train_seed", int, "the seed", _const(0), lo=0, hi=10_000, step=1),
    Setting("images", "train_images", int, "the number of training images", _const(0),
            choices=lambda: TRAIN_IMAGES, cap=lambda c: c.max_train_images, words={"all": 0}),
    _flag("augment", "train_augment", "augmentation", False),
    Setting("schedule", "train_schedule", str, "the learning-rate schedule", _const("onecycle"),
            choices=lambda: SCHEDULES),
    # Only the precisions this machine runs well, as the page offers them.
    Setting("precision", "train_precision", str, "the precision", _const("fp32"),
            choices=lambda: list(precision_choices("auto"))),
)

_d = CompressSettings()
COMPRESS = (
    _flag("prune", "c_unstructured", "zeroing weights", True),
    Setting("prune_pct", "c_unstructured_pct", int, "the percentage of weights zeroed", _const(90),
            lo=10, hi=95, step=5),
    _flag("channels", "c_channels", "removing channels", True),
    Setting("channels_pct", "c_channels_pct", int, "the percentage of channels removed", _const(50),
            lo=10, hi=90, step=10),
    _flag("int8_dyn", "c_int8_dynamic", "int8 dynamic", True),
    _flag("int8", "c_int8_static", "int8 static", True),
    _flag("combo", "c_combo", "removed channels with int8 static", False),
    _flag("bf16", "c_bf16", "bf16", False),
    _flag("fp16", "c_fp16", "fp16", False),
    _flag("distil", "c_distilled", "distillation", False),
    _flag("onnx", "c_onnx", "ONNX Runtime fp32", False),
    _flag("onnx_int8", "c_onnx_int8", "ONNX Runtime int8", False),
    _flag("onnx_pruned", "c_onnx_pruned", "removed channels in ONNX Runtime", False),
    Setting("finetune", "c_finetune", int, "the fine-tune epochs after removing channels", _const(1),
            lo=0, hi=5, step=1, cap=lambda c: c.max_finetune_epochs),
    Setting("finetune_prune", "c_finetune_unstructured", int, "the fine-tune epochs after zeroing weights",
            _const(0), lo=0, hi=3, step=1, cap=lambda c: c.max_finetune_epochs),
    Setting("calib", "c_calibration", int, "the number of calibration images", _const(_d.calibration_images),
            choices=lambda: CALIBRATION_IMAGES, cap=lambda c: c.max_calibration_images),
    Setting("temp", "c_temperature", float, "the distillation temperature", _const(_d.distill_temperature),
            lo=1.0, hi=10.0, step=0.5),
    Setting("alpha", "c_alpha", float, "the distillation weight alpha", _const(_d.distill_alpha),
            lo=0.0, hi=1.0, step=0.1),
)
# Edge & cloud: which device profile the page opens on (lesson 3 asks about the microcontroller).
# The keys of lab.deploy.edge.default_profiles, written out: that module loads torch and ONNX Runtime.
EDGE_PROFILES = ("cloud", "laptop", "phone", "microcontroller")
EDGE = (
    Setting("profile", "edge_profile", str, "the device profile", _const("phone"), choices=lambda: EDGE_PROFILES),
)
SCHEMA: dict[str, tuple[Setting, ...]] = {"train": TRAIN, "compress": COMPRESS, "edge": EDGE}


def schema(page: str) -> dict[str, Setting]:
    """The page's settings by query parameter; ValueError for a page that shares none."""
    if page not in SCHEMA:
        raise ValueError(f"no shareable settings on page {page!r}; pages: {', '.join(PAGES)}")
    return {s.param: s for s in SCHEMA[page]}


def defaults(page: str) -> dict[str, object]:
    """Widget key -> default on this server (the page's FORM has the same)."""
    return {s.key: s.default() for s in schema(page).values()}


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
