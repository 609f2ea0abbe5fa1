"""Dataclasses to JSON-able dicts and back: the one field filter every record type shares.

    d = to_plain(result, exclude=("per_image",))    # nested dataclasses too; torch dtypes as "float32"
    result = from_plain(BenchResult, d)              # unknown keys dropped (older or newer JSON still loads)

Record, a base for the engine's frozen result dataclasses, gives them `to_dict()` (dataclasses.asdict).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, TypeVar

T = TypeVar("T")


def _value(v: Any) -> Any:
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return to_plain(v)
    if isinstance(v, dict):
        return {k: _value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_value(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None  # JSON has no inf/nan
    if type(v).__module__ == "torch" and type(v).__name__ == "dtype":
        return str(v).replace("torch.", "")
    return v


def to_plain(obj: Any, exclude: tuple[str, ...] = ()) -> dict:
    """The dataclass's fields (minus `exclude`) as plain JSON-able values."""
    return {f.name: _value(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name not in exclude}


def from_plain(cls: type[T], d: dict) -> T:
    """An instance of the dataclass `cls` from a dict, ignoring keys it has no field for."""
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    return cls(**{k: v for k, v in d.items() if k in names})


class Record:
    """Base for a result dataclass: `to_dict()` is its fields as a dict, nested dataclasses too."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
