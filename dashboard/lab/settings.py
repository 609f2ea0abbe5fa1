"""The server's settings in one place: caps on what a user can ask, threads, memory, timeouts.

Every value has a default sized for a hosted copy (Streamlit Community Cloud: up to 2 shared
cores, 690 MB-2.7 GB for every user together) and an environment variable that overrides it:

    TRAIN_INFER_LAB_THREADS=2 TRAIN_INFER_LAB_MAX_EPOCHS=20 train-infer-lab app

Every variable has a lower and an upper bound (the reason for each is beside it below). `load()`
reads and checks them all at once and returns the errors as sentences; a bad value never crashes
a page: it keeps its default. The `train-infer-lab app` launcher refuses to start, `streamlit run`
writes the errors once to the server log (`log_errors`) and shows them to the presenter only, the
CLI prints them. No error echoes a value that could be a secret (the presenter key never, a
database URL's password masked) nor more than a short piece of a long one. The engine's
validation (TrainConfig, CompressSettings, the job budget) reads the caps from `current()`, so a
request beyond them fails with the same message wherever it comes from.
"""

from __future__ import annotations

import math
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

PREFIX = "TRAIN_INFER_LAB_"
# Longer values are not parsed at all (nor shown): no setting needs more, and an error must stay one
# readable line whatever was put in the environment.
MAX_RAW_CHARS = 4_096
MAX_PATH_CHARS = 1_024   # Linux allows 4,096; a deployment's real folders are far shorter
SHOWN_CHARS = 60         # at most this much of a bad value is quoted in its error


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
    # Try it yourself: one uploaded image of a digit: a phone photo, not a poster. A 12-megapixel phone
    # photo (4032 x 3024, 4080 x 3060) is 2-5 MB as a JPEG; 13 megapixels takes it with room, and sets the
    # memory of one decode (lab.inputs.uploads: 4 B a pixel, 52 MB; formats that cost more get fewer pixels).
    max_upload_bytes: int = 5_000_000
    max_upload_pixels: int = 13_000_000


@dataclass(frozen=True)
class ServerSettings:
    threads: int = field(default_factory=lambda: effective_cpus())  # torch threads for every job
    limits: Limits = field(default_factory=Limits)
    result_cache_mb: int = 64          # shared results of identical requests (records, not models)
    idle_free_minutes: float = 10.0    # a session idle this long frees its live model (kept as weights)
    session_keep_minutes: float = 120.0  # a session with no open tab this long is forgotten
    disconnect_grace_s: float = 30.0   # a job whose tabs all closed is cancelled after this
    max_sessions: int = 120            # sessions the server keeps at once (a room of 30, 4 tabs/browsers each)
    max_queued_jobs: int = 40          # heavy jobs waiting or running, every session together
    country: str = ""                  # grid for CO2 (ISO-3); "" = CodeCarbon's config, else world average
    price_per_kwh: float | None = None  # None = the published default in lab.energy
    currency: str = ""
    data_dir: str = ""                 # the class board's SQLite file; "" = a per-user folder (service.board)
    dataset_dir: str = ""              # torchvision's downloads; "" = ~/.cache/train-infer-lab (lab.inputs.data)
    lessons_dir: str = ""              # a lessons folder read instead of the bundled course; "" = bundled
    # PostgreSQL shared by replicas; "" = SQLite in data_dir. Out of repr: it may hold a password.
    database_url: str = field(default="", repr=False)
    # The presenter's key from the environment ("" = the secrets file's, else generated: service.authority).
    # Out of repr and never in an error message.
    presenter_key: str = field(default="", repr=False)


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


# ------------------------------------------------------------------ parsing and checking one value

# ASCII digits only: Python's int() and float() also take '٣', '３', 'nan', 'inf' and '1_0.5e3'.
_WHOLE = re.compile(r"[+-]?[0-9]+(?:_[0-9]{3})*", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def _int(text: str) -> int:
    text = text.strip()
    if not _WHOLE.fullmatch(text):
        raise ValueError("not a whole number")
    return int(text)


def _float(text: str) -> float:
    text = text.strip()
    if not _DECIMAL.fullmatch(text):
        raise ValueError("not a decimal number")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _path(text: str) -> str:
    return os.path.expanduser(text.strip())


def _between(low: float, high: float | Callable[[], float]) -> Callable[[float], bool]:
    return lambda v: low <= v <= (high() if callable(high) else high)


def _folder(*, created_on_use: bool) -> Callable[[str], bool | str]:
    """A check for a folder setting: True, or what is wrong with it (said in the error). A folder the app
    makes on first use must be one it can make; one it only reads is checked when it is read."""
    def check(path: str) -> bool | str:
        if len(path) > MAX_PATH_CHARS:
            return f"more than {MAX_PATH_CHARS:,} characters"
        if "\x00" in path or not path.isprintable():
            return "it holds control characters"
        if not os.path.isabs(path):
            return "a relative path depends on the folder the server was started from"
        if os.path.isfile(path):
            return "it is a file"
        if os.path.isdir(path) or not created_on_use:
            return True
        # Not there yet: it is made on first use, so the nearest existing folder above it must let us.
        above = os.path.dirname(path)
        while above and not os.path.exists(above):
            parent = os.path.dirname(above)
            if parent == above:
                break
            above = parent
        if not os.path.isdir(above):
            return f"{above} is not a folder"
        if not os.access(above, os.W_OK | os.X_OK):
            return "it cannot be created there (no permission)"
        return True
    return check


def _key_ok(key: str) -> bool:
    return 8 <= len(key) <= 128 and key.isprintable()


@dataclass(frozen=True)
class _Var:
    path: str                                  # the field it sets ("limits.max_epochs")
    parse: Callable[[str], object]
    check: Callable[[object], bool | str]      # True, False, or what is wrong (a short phrase)
    good: str | Callable[[], str]              # what a good value looks like, said in the error
    secret: bool = False                       # never echoed, not even in part
    instead: str = ""                          # what is used instead, when not "the default (X)"


def _ranged(path: str, parse: Callable[[str], float], low: float, high: float, what: str, extra: str = "") -> _Var:
    """A number between two bounds; what a good value looks like is said from the same bounds."""
    return _Var(path, parse, _between(low, high), f"{what} from {low} to {high}{extra}")


# env name (without prefix) -> how to read it. The comment above each says why its bounds are where they are.
_VARS: dict[str, _Var] = {
    # More torch threads than CPUs only take turns (and ruin every timing); fewer than one is no thread.
    "THREADS": _Var("threads", _int, _between(1, effective_cpus),
                    lambda: f"a whole number of threads from 1 to {effective_cpus()} (the CPUs this process may use)"),
    # An epoch of full MNIST is ~20 s of the default CNN on 2 cores: 100 is over half an hour for one student.
    "MAX_EPOCHS": _ranged("limits.max_epochs", _int, 1, 100, "a whole number of epochs"),
    # No dataset here has more training images than MNIST's 60,000; under 100 nothing is learnt.
    "MAX_TRAIN_IMAGES": _ranged("limits.max_train_images", _int, 100, 60_000, "a whole number of images"),
    # A training step of the CNN at batch 2,048 took 0.7-0.9 GB more memory (measured; 1.3-1.8 GB at 4,096),
    # more than a small hosted copy (690 MB) can spare; under 16 the curves are noise.
    "MAX_BATCH_SIZE": _ranged("limits.max_batch_size", _int, 16, 2_048, "a whole number"),
    # Fine-tuning after pruning recovers its accuracy in 3 epochs; 20 is room to show that it stops helping.
    "MAX_FINETUNE_EPOCHS": _ranged("limits.max_finetune_epochs", _int, 0, 20, "a whole number of epochs"),
    # Each epoch trains two students: 50 is already longer than any training a student starts.
    "MAX_DISTILL_EPOCHS": _ranged("limits.max_distill_epochs", _int, 1, 50, "a whole number of epochs"),
    # The calibration images are held normalised in float at once: 10,000 CIFAR-10 images are 123 MB.
    "MAX_CALIBRATION_IMAGES": _ranged("limits.max_calibration_images", _int, 1, 10_000, "a whole number of images"),
    # 3,000,000 images are ~8 minutes of the default CNN on 2 cores: a room of 30 behind it would wait hours.
    "MAX_JOB_IMAGES": _ranged("limits.max_job_images", _int, 1_000, 3_000_000, "a whole number of images"),
    # Streamlit itself refuses uploads over server.maxUploadSize (5 MB here); 20 MB is more than any photo.
    "MAX_UPLOAD_BYTES": _ranged("limits.max_upload_bytes", _int, 1_000, 20_000_000, "a whole number of bytes", " (20 MB)"),
    # 50 megapixels decode to 200 MB as RGBA; 784 is one 28x28 digit.
    "MAX_UPLOAD_PIXELS": _ranged("limits.max_upload_pixels", _int, 784, 50_000_000, "a whole number of pixels"),
    # A shared result is a record and its weights (~2 MB): 1 GB is more than a hosted copy has in all.
    "RESULT_CACHE_MB": _ranged("result_cache_mb", _int, 0, 1_024, "megabytes", ", 0 to turn sharing off"),
    # Under a minute frees a model while its student reads the page; over a day is never.
    "IDLE_FREE_MINUTES": _ranged("idle_free_minutes", _float, 1, 1_440, "minutes", " (a day)"),
    "SESSION_KEEP_MINUTES": _ranged("session_keep_minutes", _float, 1, 1_440, "minutes", " (a day)"),
    # Under 5 s a refresh cancels the job it meant to watch; an hour is the longest a lesson waits.
    "DISCONNECT_GRACE_S": _ranged("disconnect_grace_s", _float, 5, 3_600, "seconds"),
    # Each session may hold a model and its results (a few MB): 2,000 is the most 2.7 GB can keep.
    "MAX_SESSIONS": _ranged("max_sessions", _int, 1, 2_000, "a whole number of sessions"),
    # Each job waiting holds a thread; 500 at ~30 s each is four hours of queue, longer than any class.
    "MAX_QUEUED_JOBS": _ranged("max_queued_jobs", _int, 1, 500, "a whole number of jobs"),
    "COUNTRY": _Var("country", lambda t: t.strip().upper(), lambda v: v == "WORLD" or re.fullmatch("[A-Z]{3}", v),
                    "a 3-letter ISO country code such as FRA, or WORLD"),
    # 0 to 1000 per kWh covers every currency in use (JPY ~31, EUR ~0.29, IDR ~1,500 is out:
    # raise the cap in code if a class needs it).
    "PRICE_PER_KWH": _ranged("price_per_kwh", _float, 0, 1_000, "a price per kWh", " in your currency, e.g. 0.2872"),
    "CURRENCY": _Var("currency", str.strip, lambda v: 0 < len(v) <= 8 and v.isprintable() and " " not in v,
                     "a short currency name such as EUR (1 to 8 characters, no spaces)"),
    "DATA_DIR": _Var("data_dir", _path, _folder(created_on_use=True),
                     f"an absolute path of a folder (created on first use), not a file, at most {MAX_PATH_CHARS} "
                     "characters"),
    "DATA": _Var("dataset_dir", _path, _folder(created_on_use=True),
                 f"an absolute path of a folder for downloaded datasets (created on first use), not a file, "
                 f"at most {MAX_PATH_CHARS} characters"),
    "LESSONS_DIR": _Var("lessons_dir", _path, _folder(created_on_use=False),
                        f"an absolute path of a folder of lesson files, not a file, at most {MAX_PATH_CHARS} "
                        "characters"),
    "DATABASE_URL": _Var("database_url", str.strip,
                         lambda v: len(v) <= 2_048 and re.fullmatch(
                             r"(postgres(ql)?(\+psycopg)?://\S+|sqlite:///\S+)", v) is not None,
                         "postgresql://user:password@host:5432/dbname, or sqlite:///path/to/board.sqlite3 "
                         "(at most 2048 characters)"),
    # Under 8 characters a room guesses it within its rate limit; 128 is more than any passphrase.
    "PRESENTER_KEY": _Var("presenter_key", str.strip, _key_ok, "8 to 128 printable characters", secret=True,
                          instead="The secrets file's presenter_key, else a key generated at start and written "
                                  "to the server log, is used instead"),
}


def mask_url(text: str) -> str:
    """`text` with any URL password shown as ***: settings and their errors never show one."""
    # Up to the last '@': a password typed with an unescaped '@' or '/' is still hidden (more may be).
    text = re.sub(r"(://[^/?#@:]*:).*@", r"\1***@", text)
    return re.sub(r"(password=)[^&\s]*", r"\1***", text, flags=re.IGNORECASE)


def _shown(name: str, raw: str, var: _Var) -> str:
    """How an error names the value: quoted (masked, at most SHOWN_CHARS of it), or not at all."""
    if var.secret:
        return f"{PREFIX}{name} (its value is not shown)"
    if len(raw) > MAX_RAW_CHARS:
        return f"{PREFIX}{name} ({len(raw):,} characters long, more than the {MAX_RAW_CHARS:,} any setting may have)"
    text = mask_url(raw)
    if len(text) > SHOWN_CHARS:
        return f"{PREFIX}{name}={text[:SHOWN_CHARS]!r}... ({len(raw):,} characters)"
    return f"{PREFIX}{name}={text!r}"


def _default_text(var: _Var) -> str:
    if var.instead:
        return var.instead + "."
    value: object = ServerSettings()
    for part in var.path.split("."):
        value = getattr(value, part)
    if value in ("", None):
        return "The default is used instead."
    return f"The default ({value:g}) is used instead." if isinstance(value, float) else \
        f"The default ({value}) is used instead."


def load(environ: Mapping[str, str] | None = None) -> tuple[ServerSettings, list[str]]:
    """Settings from the environment; a bad value keeps its default and adds one error sentence."""
    env = os.environ if environ is None else environ
    top: dict[str, object] = {}
    caps: dict[str, object] = {}
    errors: list[str] = []
    for name, var in _VARS.items():
        raw = env.get(PREFIX + name)
        if raw is None or raw.strip() == "":
            continue
        problem: bool | str = False
        if len(raw) <= MAX_RAW_CHARS:
            try:
                value = var.parse(raw)
                result = var.check(value)
                problem = result if isinstance(result, str) else bool(result)
            except (ValueError, TypeError, OverflowError):
                problem = False
        if problem is True:
            if var.path.startswith("limits."):
                caps[var.path.split(".", 1)[1]] = value
            else:
                top[var.path] = value
            continue
        why = f" ({problem})" if isinstance(problem, str) and problem and not var.secret else ""
        good = var.good() if callable(var.good) else var.good
        errors.append(f"{_shown(name, raw, var)} is not valid{why}: use {good}. {_default_text(var)}")
    settings = ServerSettings(**top)
    if caps:
        settings = replace(settings, limits=replace(settings.limits, **caps))
    return settings, errors


_current: tuple[ServerSettings, list[str]] | None = None
_logged = False
_log_lock = threading.Lock()


def current() -> ServerSettings:
    """The settings of this process, read from the environment once."""
    global _current
    if _current is None:
        _current = load()
    return _current[0]


def errors() -> list[str]:
    """What was wrong in the environment when the settings were read (for the server log and the
    presenter's diagnostics; never shown to a student)."""
    current()
    return list(_current[1]) if _current else []


def log_errors(stream=None) -> list[str]:
    """Write the settings' errors to the server log (stderr) once per process, at start; returns them.
    `streamlit run` has no launcher to refuse a bad value: this is where whoever runs it sees it."""
    global _logged
    problems = errors()
    with _log_lock:
        if _logged:
            return problems
        _logged = True
    out = sys.stderr if stream is None else stream
    for problem in problems:
        print(f"Train & Infer Lab: server setting ignored: {problem}", file=out, flush=True)
    return problems


def override(settings: ServerSettings | None) -> None:
    """Use these settings from now on (tests, benchmarks); None re-reads the environment."""
    global _current, _logged
    _current = (settings, []) if settings is not None else None
    _logged = False


class LimitExceeded(ValueError):
    """A request beyond this server's caps; the message names the cap and its variable."""


def check(value: float, cap: float, what: str, variable: str) -> None:
    """Raise LimitExceeded when `value` is above `cap`: '<what> is 12, more than this lab's settings allow (10; ...)'."""
    if value > cap:
        raise LimitExceeded(f"{what} is {value:,.0f}, more than this lab's settings allow ({cap:,.0f}; "
                            f"whoever runs it can raise that with {PREFIX}{variable})")
