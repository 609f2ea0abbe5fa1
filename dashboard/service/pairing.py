"""Measure on my phone, the server's part: a one-time pairing code that lets a phone in the room run a session's
browser files (service.device_jobs) and send its result back into that session, without ever holding the session.

    p = PAIRS.make(s, bset)                 # on the laptop: the code for the link and its QR code
    bset, run_id = PAIRS.claim(code, tab)   # on the phone's page: the files to run (PairingError: why not)
    run = PAIRS.deliver(code, tab, raw)     # the phone's result, checked and kept in the laptop's session

The session is bound to its browser by a cookie (service.room_guard); the phone opens the app in a browser of its
own, so it gets a cookie of its own, and its page never looks a session up by it. The code is the only thing the
link carries: it names a pairing held here, which holds the session. A code is random (about 59 bits: guessing one
among the live codes is hopeless), lives TTL_S, is claimed by the first page that opens it (another page, or a
second opening, is told it was used) and spent once its result is kept. Bounded: MAX_LIVE_PER_SESSION codes waiting
per session, MAX_LIVE on the server.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from dashboard.lab.deploy import browser_result
from dashboard.service import device_jobs
from dashboard.service.sessions import Session

TTL_S = 600.0                  # a code opens the phone's page within 10 minutes of being made
RESULT_S = 600.0               # once opened, the phone has this long to send its figures
MAX_LIVE_PER_SESSION = 3
MAX_LIVE = 300                 # a room of 30 with every student's codes waiting, and more
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I/L: read off a screen and typed on a phone
GROUPS, GROUP = 3, 4           # "K7QX-M2PD-9WXA": 31**12, about 2**59
PARAM = "pair"                 # the link's only parameter


class PairingError(ValueError):
    """A code that cannot be used, or cannot be made; the message says why in one line a student can read."""


@dataclass
class Pairing:
    code: str
    session: Session = field(repr=False)   # held here, never sent: the phone's page sees the files and the code
    bset: object = field(repr=False)       # the BrowserSet the code was made for (the files the phone runs)
    run_id: str
    made_at: float
    claimed_by: str | None = None
    claimed_at: float | None = None
    spent: bool = False
    refused: str = ""                      # why the phone's result was not kept, for the laptop's page to say

    def live(self, now: float) -> bool:
        """Not spent, and either waiting to be opened (inside TTL_S) or opened and waiting for its result."""
        if self.spent:
            return False
        if self.claimed_at is None:
            return now - self.made_at < TTL_S
        return now - self.claimed_at < RESULT_S


def new_code() -> str:
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(GROUP)) for _ in range(GROUPS))


def normalise(code) -> str:
    """A code as typed or scanned: upper case, dashes where they belong; '' when it cannot be one."""
    if not isinstance(code, str) or len(code) > 40:
        return ""
    chars = "".join(c for c in code.upper() if c.isalnum())
    if len(chars) != GROUPS * GROUP or any(c not in ALPHABET for c in chars):
        return ""
    return "-".join(chars[i:i + GROUP] for i in range(0, len(chars), GROUP))


def link(base: str | None, code: str) -> str:
    """The phone's link: the app's address and the code, nothing else (`base` None: a relative link)."""
    return f"{base.rstrip('/') if base else ''}/?{PARAM}={code}"


class Pairings:
    """The server's pairing codes, in memory (a restart forgets them: a student presses again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, Pairing] = {}

    def _prune(self, now: float) -> None:
        # A spent or expired code is kept a while to say so rather than "no such code"; then forgotten.
        for code in [c for c, p in self._codes.items() if not p.live(now) and now - p.made_at > TTL_S + RESULT_S]:
            del self._codes[code]

    def make(self, s: Session, bset, *, now: float | None = None) -> Pairing:
        """A new code for `bset` (the session's current files). PairingError when the session or the server has
        as many codes waiting as allowed."""
        now = time.time() if now is None else now
        with self._lock:
            self._prune(now)
            live = [p for p in self._codes.values() if p.live(now)]
            if sum(p.session is s for p in live) >= MAX_LIVE_PER_SESSION:
                raise PairingError(f"You have {MAX_LIVE_PER_SESSION} pairing codes waiting already: use one, or "
                                   f"wait for one to expire ({TTL_S / 60:.0f} minutes after it was made).")
            if len(live) >= MAX_LIVE:
                raise PairingError("The server has as many pairing codes waiting as it allows: try again in a few "
                                   "minutes.")
            code = new_code()
            while code in self._codes:
                code = new_code()
            p = Pairing(code, s, bset, secrets.token_hex(8), now)
            self._codes[code] = p
            return p

    def _find(self, code, now: float) -> Pairing:
        p = self._codes.get(normalise(code))
        if p is None:
            raise PairingError("This pairing code is not one this server made: check the link, or press "
                               "**Measure on my phone** on your laptop for a new one.")
        if p.spent:
            raise PairingError("This pairing code was used already: each code works once. Press **Measure on my "
                               "phone** on your laptop for a new one.")
        if not p.live(now):
            raise PairingError("This pairing code has expired: press **Measure on my phone** on your laptop for a "
                               "new one.")
        return p

    def claim(self, code, claimant: str, *, now: float | None = None) -> Pairing:
        """The pairing for the page `claimant` (the phone's page: its Streamlit session id) that opened `code`: the
        first page to open a code has it; any other is told it was used."""
        now = time.time() if now is None else now
        with self._lock:
            p = self._find(code, now)
            if p.claimed_by is None:
                p.claimed_by, p.claimed_at = claimant, now
            elif p.claimed_by != claimant:
                raise PairingError("This pairing code was opened already, on another page: each code works once. "
                                   "Press **Measure on my phone** on your laptop for a new one.")
            if p.session.browser is not p.bset:
                p.spent = True
                raise PairingError("The model on the laptop changed since this code was made: press **Measure on "
                                   "my phone** there again.")
            return p

    def deliver(self, code, claimant: str, raw, *, now: float | None = None) -> browser_result.DeviceRun:
        """The phone's result for `code`, checked and kept in the session that made the code; the code is spent.
        BadBrowserResult (nothing kept, the code spent) or PairingError when it cannot be."""
        now = time.time() if now is None else now
        with self._lock:
            p = self._find(code, now)
            if p.claimed_by != claimant:
                raise PairingError("This pairing code belongs to another page: each code works once.")
            p.spent = True
        try:
            if p.session.browser is not p.bset:
                raise PairingError("The model on the laptop changed while your phone measured: its figures were "
                                   "not kept. Press **Measure on my phone** there again.")
            return device_jobs.keep_browser_result(p.session, p.bset, raw, p.run_id, paired=True)
        except (PairingError, browser_result.BadBrowserResult) as exc:
            p.refused = str(exc)
            raise

    def get(self, code) -> Pairing | None:
        """The pairing a code names, in whatever state it is (for the laptop's page that made it)."""
        with self._lock:
            return self._codes.get(normalise(code))

    def waiting_for(self, s: Session, *, now: float | None = None) -> list[Pairing]:
        """The session's codes still live (made, or opened and measuring), oldest first."""
        now = time.time() if now is None else now
        with self._lock:
            return [p for p in self._codes.values() if p.session is s and p.live(now)]

    def clear(self) -> None:
        with self._lock:
            self._codes.clear()


PAIRS = Pairings()

__all__ = ["MAX_LIVE", "MAX_LIVE_PER_SESSION", "PAIRS", "PARAM", "RESULT_S", "TTL_S", "Pairing", "PairingError",
           "Pairings", "link", "new_code", "normalise"]
