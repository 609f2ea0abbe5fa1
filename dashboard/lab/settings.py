"""The server's settings in one place: caps on what a user can ask, threads, memory, timeouts.

Every value has a default sized for a hosted copy (Streamlit Community Cloud: up to 2 shared
cores, 690 MB-2.7 GB for every user together) and an environment variable that overrides it:

    TRAIN_INFER_LAB_THREADS=2 TRAIN_INFER_LAB_MAX_EPOCHS=20 train-infer-lab app

`load()` reads and checks them all at once and returns the errors as sentences; a bad value
never crashes a page: the app shows the errors on every page and uses the default instead,
the `train-infer-lab app` launcher refuses to start, the CLI prints them. The engine's
validation (TrainConfig, CompressSettings, the job budget) reads the caps from `current()`,
so a request beyond them fails with the same message wherever it comes from.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

PREFIX = "TRAIN_INFER_LAB_"


@dataclass(frozen=True)
class Limits:
    """Caps on one request. A job beyond them is refused before any work, with the reason."""

    max_epochs: int = 10                # training epochs per run
    max_train_images: int = 60_000      # training images used (full MNIST)
    max_batch_size: int = 512
    max_finetune_epochs: int = 5        # after pruning
    max_distill_epochs: int = 10        # each of the two student models
    max_calibration_images: int = 4_096  # int8 static
    # Images through forward+backward in one job (training, fine-tuning, distillation together).
    # 240,000 is about 40 s of the default CNN on 2 cores: long enough for every lesson, short
    # enough that a room of 30 waits minutes, not an hour.
    max_job_images: int = 240_000
    # Try it yourself: one uploaded image. A phone photo is 2-4 MB; 25 megapixels is more than any
    # phone camera and at most 100 MB decoded as RGBA.
    max_upload_bytes: int = 5_000_000
    max_upload_pixels: int = 25_000_000


@dataclass(frozen=True)
class ServerSettings:
    threads: int = field(default_factory=lambda: effective_cpus())  # torch threads for every job
    limits: Limits = field(default_factory=Limits)
    result_cache_mb: int = 64          # shared results of identical requests (records, not models)
    idle_free_minutes: float = 10.0    # a session idle this long frees its live model (kept as weights)
    session_keep_minutes: float = 120.0  # a session with no open tab this long is forgotten
    disconnect_grace_s: float = 30.0   # a job whose tabs all closed is cancelled after this
    country: str = ""                  # grid for CO2 (ISO-3); "" = CodeCarbon's config, else world average
    price_per_kwh: float | None = None  # None = the published default in lab.energy
    currency: str = ""
    data_dir: str = ""                 # the class board's SQLite file; "" = a per-user folder (service.board)
    # PostgreSQL shared by replicas; "" = SQLite in data_dir. Out of repr: it may hold a password.
    database_url: str = field(default="", repr=False)


def effective_cpus() -> int:
    """CPUs this process may really use: the affinity mask, capped by a cgroup CPU quota.

    A container often sees all the host's cores in os.cpu_count() while its quota allows two;
    more torch threads than that only take turns and ruin every timing."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    for path, parse in (("/sys/fs/cgroup/cpu.max", _cgroup2), ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", _cgroup1)):
        try:
            with open(path, encoding="ascii") as f:
                quota = parse(f.read(), path)
        except (OSError, ValueError):
            continue
        if quota:
            n = min(n, quota)
    return max(1, n)


def _cgroup2(text: str, _path: str) -> int | None:
    quota, period = text.split()[:2]
    return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))


def _cgroup1(text: str, path: str) -> int | None:
    quota = int(text.strip())
    if quota <= 0:
        return None
    with open(path.replace("cfs_quota_us", "cfs_period_us"), encoding="ascii") as f:
        return max(1, math.ceil(quota / int(f.read().strip())))


# env name (without prefix) -> (field path, parser, check, what a good value looks like)
def _int(text: str) -> int:
    return int(text.strip())


def _float(text: str) -> float:
    value = float(text.strip())
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


_VARS: dict[str, tuple[str, Callable[[str], object], Callable[[object], bool], str]] = {
    "THREADS": ("threads", _int, lambda v: 1 <= v <= effective_cpus(),
                "a whole number of threads from 1 to the CPUs this process may use"),
    "MAX_EPOCHS": ("limits.max_epochs", _int, lambda v: v >= 1, "a whole number >= 1"),
    "MAX_TRAIN_IMAGES": ("limits.max_train_images", _int, lambda v: v >= 100, "a whole number >= 100"),
    "MAX_BATCH_SIZE": ("limits.max_batch_size", _int, lambda v: v >= 16, "a whole number >= 16"),
    "MAX_FINETUNE_EPOCHS": ("limits.max_finetune_epochs", _int, lambda v: v >= 0, "a whole number >= 0"),
    "MAX_DISTILL_EPOCHS": ("limits.max_distill_epochs", _int, lambda v: v >= 1, "a whole number >= 1"),
    "MAX_CALIBRATION_IMAGES": ("limits.max_calibration_images", _int, lambda v: v >= 1, "a whole number >= 1"),
    "MAX_JOB_IMAGES": ("limits.max_job_images", _int, lambda v: v >= 1_000, "a whole number >= 1000"),
    "MAX_UPLOAD_BYTES": ("limits.max_upload_bytes", _int, lambda v: v >= 1_000, "a whole number of bytes >= 1000"),
    "MAX_UPLOAD_PIXELS": ("limits.max_upload_pixels", _int, lambda v: v >= 784, "a whole number of pixels >= 784"),
    "RESULT_CACHE_MB": ("result_cache_mb", _int, lambda v: v >= 0, "megabytes, 0 to turn sharing off"),
    "IDLE_FREE_MINUTES": ("idle_free_minutes", _float, lambda v: v > 0, "minutes > 0"),
    "SESSION_KEEP_MINUTES": ("session_keep_minutes", _float, lambda v: v > 0, "minutes > 0"),
    "DISCONNECT_GRACE_S": ("disconnect_grace_s", _float, lambda v: v >= 5, "seconds >= 5"),
    "COUNTRY": ("country", lambda t: t.strip().upper(), lambda v: v == "WORLD" or (len(v) == 3 and v.isalpha()),
                "a 3-letter ISO country code such as FRA, or WORLD"),
    # 0 to 1000 per kWh covers every currency in use (JPY ~31, EUR ~0.29, IDR ~1,500 is out:
    # raise the cap in code if a class needs it).
    "PRICE_PER_KWH": ("price_per_kwh", _float, lambda v: 0 <= v <= 1000,
                      "a price per kWh from 0 to 1000 in your currency, e.g. 0.2872"),
    "CURRENCY": ("currency", str.strip, lambda v: 0 < len(v) <= 8, "a short currency name such as EUR"),
    "DATA_DIR": ("data_dir", lambda t: os.path.expanduser(t.strip()), lambda v: not os.path.isfile(v),
                 "a folder (created on first use), not a file"),
    "DATABASE_URL": ("database_url", str.strip,
                     lambda v: re.fullmatch(r"(postgres(ql)?(\+psycopg)?://\S+|sqlite:///\S+)", v) is not None,
                     "postgresql://user:password@host:5432/dbname, or sqlite:///path/to/board.sqlite3"),
}


def mask_url(text: str) -> str:
    """`text` with any URL password shown as ***: settings and their errors never show one."""
    # Up to the last '@': a password typed with an unescaped '@' or '/' is still hidden (more may be).
    text = re.sub(r"(://[^/?#@:]*:).*@", r"\1***@", text)
    return re.sub(r"(password=)[^&\s]*", r"\1***", text, flags=re.IGNORECASE)


def load(environ: Mapping[str, str] | None = None) -> tuple[ServerSettings, list[str]]:
    """Settings from the environment; a bad value keeps its default and adds one error sentence."""
    env = os.environ if environ is None else environ
    top: dict[str, object] = {}
    caps: dict[str, object] = {}
    errors: list[str] = []
    for name, (path, parse, check, good) in _VARS.items():
        raw = env.get(PREFIX + name)
        if raw is None or raw.strip() == "":
            continue
        try:
            value = parse(raw)
            ok = check(value)
        except (ValueError, TypeError):
            ok = False
        if not ok:
            errors.append(f"{PREFIX}{name}={mask_url(raw)!r} is not valid: use {good}. The default is used instead.")
            continue
        if path.startswith("limits."):
            caps[path.split(".", 1)[1]] = value
        else:
            top[path] = value
    settings = ServerSettings(**top)
    if caps:
        settings = replace(settings, limits=replace(settings.limits, **caps))
    return settings, errors


_current: tuple[ServerSettings, list[str]] | None = None


def current() -> ServerSettings:
    """The settings of this process, read from the environment once."""
    global _current
    if _current is None:
        _current = load()
    return _current[0]


def errors() -> list[str]:
    """What was wrong in the environment when the settings were read (shown, never fatal)."""
    current()
    return list(_current[1]) if _current else []


def override(settings: ServerSettings | None) -> None:
    """Use these settings from now on (tests, benchmarks); None re-reads the environment."""
    global _current
    _current = (settings, []) if settings is not None else None


class LimitExceeded(ValueError):
    """A request beyond this server's caps; the message names the cap and its variable."""


def check(value: float, cap: float, what: str, variable: str) -> None:
    """Raise LimitExceeded when `value` is above `cap`: '<what> is 12, more than this lab's settings allow (10; ...)'."""
    if value > cap:
        raise LimitExceeded(f"{what} is {value:,.0f}, more than this lab's settings allow ({cap:,.0f}; "
                            f"whoever runs it can raise that with {PREFIX}{variable})")
