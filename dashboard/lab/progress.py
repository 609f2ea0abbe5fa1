"""A one-line progress bar for the command line (stderr, so stdout stays clean for results)."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    def __init__(self, label: str, *, width: int = 30, quiet: bool = False, stream=None):
        self.label, self.width, self.quiet = label, width, quiet
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self._tty = getattr(self.stream, "isatty", lambda: False)()
        self._last_pct = -1

    def update(self, fraction: float, detail: str = "") -> None:
        if self.quiet:
            return
        fraction = min(max(fraction, 0.0), 1.0)
        pct = int(fraction * 100)
        if not self._tty and pct // 10 == self._last_pct // 10:
            return  # in a log file, one line per 10 %
        self._last_pct = pct
        filled = int(fraction * self.width)
        line = (f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {pct:3d}% "
                f"{time.perf_counter() - self.start:5.1f} s {detail}")
        self.stream.write(("\r" + line + "\033[K") if self._tty else line + "\n")
        self.stream.flush()

    def log(self, message: str) -> None:
        if not self.quiet:
            self.stream.write(("\r\033[K" if self._tty else "") + message + "\n")
            self.stream.flush()

    def close(self) -> None:
        if not self.quiet and self._tty:
            self.stream.write("\n")
            self.stream.flush()
