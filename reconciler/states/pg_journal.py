"""The apply journal kept as rows: the writer a :class:`~reconciler.states.transaction.StateTransaction` records through.

Rows hold exactly the lines :mod:`reconciler.states.journal` encodes (one line a row), so reading
is :func:`parse_journal` over the rows joined, with the same checks. Each ``write`` is committed
before it returns, whether or not the caller asked for ``sync``: a committed row survives the
writer's death as a written line does, and also a crash of the server, so recovery's rule "only
the first pending intent of this boot can have started" holds for rows exactly as for lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from reconciler.states.journal import JournalWriter

Insert = Callable[[list[bytes], str, "str | None"], None]  # (lines, what, address): committed, or StateError


class PgJournalWriter(JournalWriter):
    """A :class:`JournalWriter` whose lines go to the backend's ``journal`` table through ``insert``."""

    def __init__(self, where: str, insert: Insert):
        super().__init__(Path(where))  # (named in messages only: no file is opened)
        self._insert = insert

    def write(self, data: bytes, *, sync: bool = False, what: str = "a change", address: str | None = None) -> None:
        lines = [line + b"\n" for line in data.split(b"\n")[:-1]]
        if lines:
            self._insert(lines, what, address)

    def sync(self) -> None:
        """Nothing to do: every write was committed before it returned."""

    def close(self) -> None:
        """Nothing to close: the backend owns the connection."""

    def reopened(self) -> "PgJournalWriter":
        """The same writer: a snapshot write clears rows, it replaces no file."""
        return self
