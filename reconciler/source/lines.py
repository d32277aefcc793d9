"""Line numbers as editors count them, for positions in a spec file's text and for parser marks."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from typing import Any, Protocol


class _Mark(Protocol):
    """A parser's position (PyYAML's ``Mark``, or libyaml's): 0-based line, offset in the text."""

    line: int
    index: int


def _line_at(text: str, pos: int) -> int:
    """1-based line of character ``pos``: LF, CRLF and a lone CR end a line (as in libyaml);
    U+0085, U+2028 and U+2029 do not (as in editors)."""
    lf = text.count("\n", 0, pos)
    cr = text.count("\r", 0, pos)
    if cr:
        cr -= text.count("\r\n", 0, pos)
        if 0 < pos < len(text) and text[pos - 1] == "\r" and text[pos] == "\n":
            cr += 1  # ``pos`` sits inside a CRLF: its CR counted already
    return lf + cr + 1


def _last_line(text: str) -> int:
    return _line_at(text, len(text.rstrip()))


_ODD_BREAKS = re.compile("[\x85\u2028\u2029]")


def _mark_liner(text: str) -> Callable[[_Mark], int]:
    """mark -> 1-based line. libyaml and PyYAML also end lines at U+0085, U+2028 and U+2029,
    which editors do not: those are taken back out (only when the text has any)."""
    if "\x85" not in text and "\u2028" not in text and "\u2029" not in text:
        return lambda mark: mark.line + 1
    odd = [m.start() for m in _ODD_BREAKS.finditer(text)]

    def line(mark: _Mark) -> int:
        return mark.line + 1 - bisect.bisect_left(odd, mark.index)

    return line


def _event_liner(text: str) -> Callable[[Any], int | None]:
    mark_line = _mark_liner(text)

    def line(event: Any) -> int | None:
        mark = getattr(event, "start_mark", None)
        return mark_line(mark) if mark is not None else None

    return line
