"""A progress bar on stderr for long plans and applies (the CLI edge; the core never prints).

Shown only when stderr is a terminal, and only once the operation has run for more than
``DELAY`` seconds (``IPAM_PROGRESS_DELAY`` overrides it: tests use 0), so short runs, ``--json``
and piped or redirected output never see it. Drawn with a carriage return and spaces only (no
escape sequences), at most every ``INTERVAL`` seconds, and wiped when the operation ends.

Lines the command prints meanwhile go through :meth:`Progress.echo`: while the bar is on the same
terminal they are printed with its next redraw (the bar taken off the line, the lines, the bar
again), so the two never mix and a flood of lines costs ten redraws a second, not two per line. (:meth:`Progress.echo` also buffers lines
when stdout is not a terminal and flushes them at most every ``INTERVAL`` seconds: a flush per
line would cost more than the actions they report.)
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import Self, TextIO

DELAY = 1.0  # seconds an operation runs before its bar appears
INTERVAL = 0.1  # seconds between redraws (and between flushes of buffered lines)
WIDTH = 30  # cells of the bar itself


def _delay() -> float:
    try:
        return max(0.0, float(os.environ["IPAM_PROGRESS_DELAY"]))
    except (KeyError, ValueError):
        return DELAY


class Progress:
    """``total`` steps of ``label``; :meth:`update` as they are done, :meth:`close` at the end.

    ``interval``: least seconds between redraws (0 for a few long steps, each worth showing)."""

    def __init__(self, label: str, total: int, *, enabled: bool = True, stream: TextIO | None = None,
                 out: TextIO | None = None, interval: float = INTERVAL):
        self.label, self.total, self.interval = label, max(0, total), interval
        self.stream = stream if stream is not None else sys.stderr
        self.out = out if out is not None else sys.stdout
        self.enabled = enabled and _isatty(self.stream)
        self.out_tty = _isatty(self.out)
        self.start = time.monotonic()
        self.delay = _delay()
        self.done, self.what = 0, ""
        self._drawn = 0  # characters of the bar on the terminal line now (0: none)
        self._shown = False  # the bar has been drawn at least once
        self._last = 0.0  # when it was last drawn
        self._flushed = self.start
        self._lines: list[str] = []  # printed while the bar is on the terminal, waiting for its next redraw

    def update(self, done: int, what: str = "") -> None:
        """``done`` of ``total`` steps are finished; ``what`` names the current one."""
        self.done, self.what = done, what
        if self.enabled:
            now = time.monotonic()
            if now - self._last >= self.interval and now - self.start > self.delay:
                self._draw(now)

    def echo(self, line: str) -> None:
        """Print ``line`` (and a newline) on stdout without mixing it with the bar."""
        now = time.monotonic()
        if self._drawn and self.out_tty:  # the bar is on the same terminal: lines go out with its redraws
            self._lines.append(line)
            if now - self._last >= self.interval:
                self._draw(now)
            return
        self.out.write(line + "\n")
        if self.out_tty or now - self._flushed >= INTERVAL:
            self.out.flush()
            self._flushed = now

    def close(self) -> None:
        """Wipe the bar (when drawn) and print what is waiting."""
        if self._drawn:
            self._wipe()
        self._emit()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def shown(self) -> bool:
        return self._shown

    def _text(self) -> str:
        total = self.total or 1
        filled = min(WIDTH, WIDTH * self.done // total)
        pct = min(100, 100 * self.done // total)
        text = f"{self.label} [{'#' * filled}{'-' * (WIDTH - filled)}] {pct:3d}% {self.done}/{self.total}"
        if self.what:
            text += f" {self.what}"
        columns = shutil.get_terminal_size((80, 24)).columns
        return text[:max(10, columns - 1)]

    def _emit(self) -> None:
        if self._lines:
            self.out.write("\n".join(self._lines) + "\n")
            self._lines.clear()
        self.out.flush()

    def _draw(self, now: float) -> None:
        text = self._text()
        pad = " " * max(0, self._drawn - len(text))
        if self._lines:  # lines printed since the last redraw: above the bar, which is drawn again below
            self._wipe()
            pad = ""
        self._emit()
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self._drawn, self._shown, self._last = len(text), True, now

    def _wipe(self) -> None:
        self.stream.write("\r" + " " * self._drawn + "\r")
        self.stream.flush()
        self._drawn = 0


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
