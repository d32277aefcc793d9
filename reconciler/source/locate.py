"""Where in the spec files a thing was written, and errors collected at that place.

A path names a part of the merged spec document (``("pools", "hz", "cidrs", 0)``); a locator turns it
into the file and line that wrote it (:meth:`reconciler.source.document.SpecDocument.locate` is one).
Every check of the core reports its errors through :class:`Problems`, so each carries its file:line.
"""

from __future__ import annotations

from typing import Callable, TypeAlias

from reconciler.errors import PlanError, ReconcilerError

SpecPath: TypeAlias = tuple[str | int, ...]
Locator: TypeAlias = Callable[[SpecPath], tuple[str | None, int | None]]


def nowhere(path: SpecPath) -> tuple[str | None, int | None]:
    """The locator of checks run without spec files (tests, state-only commands)."""
    return None, None


class Problems:
    """The errors one check finds, each placed where the specs wrote the offending part."""

    __slots__ = ("locate", "errors", "error_type")

    def __init__(self, locate: Locator, error_type: type[ReconcilerError] = PlanError) -> None:
        self.locate = locate
        self.errors: list[ReconcilerError] = []
        self.error_type = error_type  # PlanError for the rules; SpecError for the spec's own checks

    def add(self, code: str, detail: str, address: str | None, path: SpecPath) -> None:
        file, line = self.locate(path)
        self.errors.append(self.error_type(code, detail, address=address, file=file, line=line))
