"""The room's one presenter: a key, given once per session, checked where every presenter action runs.

    authority.configure(secret)        # once per process: the key from st.secrets, else the environment,
                                       # else a random one printed to the server log only
    authority.unlock(s, typed)         # -> (ok, one line for the page); wrong keys are rate-limited
    authority.require(s)               # raises NotPresenter unless this session gave the key

A presenter action (clear a class's board, measure the demo afresh for everyone, the room's settings,
the server's diagnostics) calls `require` itself, in the service layer, so a student who calls it
some other way than its button is refused the same. The key is compared in constant time; nothing
stores or shows it but the server log line of a generated key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass

from dashboard.lab import settings

FREE_TRIES = 3            # wrong keys a session may type before it has to wait
FIRST_WAIT_S = 30.0       # then 30 s, doubling with every further wrong key ...
MAX_WAIT_S = 15 * 60.0    # ... up to 15 minutes
ROOM_WRONG_PER_MIN = 20   # wrong keys from all sessions together in a minute: then everyone waits
MAX_TRACKED = 5000        # sessions whose wrong keys are remembered before the long-past ones are forgotten


class NotPresenter(PermissionError):
    """A presenter action asked by a session that has not given the presenter key."""


@dataclass(frozen=True)
class Key:
    digest: bytes      # sha256 of the key: what is compared
    source: str        # "secrets", "environment" or "generated"


@dataclass
class _Tries:
    wrong: int = 0
    until: float = 0.0     # time.monotonic() before which this session's tries are refused
    last: float = 0.0      # time.monotonic() of its latest wrong key


_lock = threading.Lock()
_key: Key | None = None
_tries: dict[str, _Tries] = {}            # session public_id -> its wrong tries
_room_wrong: deque[float] = deque()       # monotonic times of the room's recent wrong keys


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def configure(secret: str | None = None) -> Key:
    """The server's presenter key, set once: `secret` (st.secrets["presenter_key"]), else
    TRAIN_INFER_LAB_PRESENTER_KEY, else a random key printed once to the server's log (stderr)."""
    global _key
    with _lock:
        if _key is not None:
            return _key
        env = str(getattr(settings.current(), "presenter_key", "") or "").strip()
        if secret and secret.strip():
            _key = Key(_digest(secret.strip()), "secrets")
        elif env:
            _key = Key(_digest(env), "environment")
        else:
            generated = secrets.token_urlsafe(9)
            _key = Key(_digest(generated), "generated")
            print(f"Train & Infer Lab: the presenter key for this server run is {generated}  (set presenter_key in "
                  ".streamlit/secrets.toml or TRAIN_INFER_LAB_PRESENTER_KEY to choose your own)",
                  file=sys.stderr, flush=True)
        return _key


def source() -> str:
    """Where the key came from ("secrets", "environment", "generated"); configures it if needed."""
    return configure().source


def _wait_text(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def unlock(s, typed: str, now: float | None = None) -> tuple[bool, str]:
    """Check `typed` against the key for session `s`; (True, ...) makes `s` the presenter's.
    Wrong keys: FREE_TRIES per session, then a wait that doubles; and a room-wide cap per minute."""
    key = configure()
    now = time.monotonic() if now is None else now
    with _lock:
        tries = _tries.setdefault(s.public_id, _Tries())
        if now < tries.until:
            return False, f"Too many wrong keys from this session: try again in {_wait_text(tries.until - now)}."
        while _room_wrong and now - _room_wrong[0] > 60:
            _room_wrong.popleft()
        if len(_room_wrong) >= ROOM_WRONG_PER_MIN:
            return False, "Too many wrong presenter keys in this room in the last minute: try again in a minute."
    typed = (typed or "").strip()[:256]
    ok = hmac.compare_digest(_digest(typed), key.digest)   # constant time: same-length digests
    with _lock:
        if ok:
            _tries.pop(s.public_id, None)
            s.presenter = True
            return True, "Presenter controls are on for this session."
        tries.wrong, tries.last = tries.wrong + 1, now
        _room_wrong.append(now)
        if len(_tries) > MAX_TRACKED:   # bounded: forget sessions with no wrong key for the longest wait
            for key in [k for k, t in _tries.items() if now - t.last > MAX_WAIT_S and now >= t.until]:
                del _tries[key]
        if tries.wrong >= FREE_TRIES:
            tries.until = now + min(MAX_WAIT_S, FIRST_WAIT_S * 2 ** (tries.wrong - FREE_TRIES))
            return False, f"That is not the presenter key. Wait {_wait_text(tries.until - now)} before the next try."
        left = FREE_TRIES - tries.wrong
        return False, f"That is not the presenter key ({left} more tr{'y' if left == 1 else 'ies'} before a wait)."


def lock(s) -> None:
    """This session gives the presenter's controls up."""
    s.presenter = False


def is_presenter(s) -> bool:
    return bool(getattr(s, "presenter", False))


def require(s, what: str = "do this") -> None:
    """Raise NotPresenter unless session `s` gave the presenter key. `what` is a verb phrase: "clear a
    class's board"."""
    if not is_presenter(s):
        raise NotPresenter(f"Only the presenter can {what}: it affects everyone in the room.")


def reset_for_tests() -> None:
    """Forget the key and every try (tests that configure a key of their own)."""
    global _key
    with _lock:
        _key = None
        _tries.clear()
        _room_wrong.clear()
