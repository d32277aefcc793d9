"""One hierarchy of errors, each with structured fields and a message built from them.

``code`` is the cloud's own error code where one exists (``OperationDenied.CidrUnavailableInPool``),
otherwise a project code in the same dotted style (``Spec.UnknownKey``). ``address`` is a resource
address string such as ``ipam_pool.hz``; ``file`` and ``line`` point into the spec files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, overload


@overload
def printable(text: str) -> str: ...


@overload
def printable(text: None) -> None: ...


def printable(text: str | None) -> str | None:
    """``text`` with anything that cannot be written as UTF-8 (lone surrogates from a JSON escape)
    shown as a backslash escape, so that every message can be printed and put in JSON."""
    if not isinstance(text, str):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class ReconcilerError(Exception):
    """Base of every error the reconciler reports to a user."""

    kind = "error"

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        address: str | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        self.code = code
        self.detail = printable(detail)
        self.address = printable(address)
        self.file = printable(file)
        self.line = line
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        target = f"{self.address}: " if self.address else ""
        return f"{where}{target}{self.code}: {self.detail}"

    def __str__(self) -> str:
        return self.message

    def located(self, file: str | None, line: int | None) -> "ReconcilerError":
        """A copy of this error pointing at ``file:line`` (used once lines are resolved)."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.file, clone.line = file, line
        Exception.__init__(clone, clone.message)
        return clone

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "address": self.address,
            "file": self.file,
            "line": self.line,
            "message": self.message,
        }


class SpecError(ReconcilerError):
    """The spec files cannot be read or do not validate."""


class PlanError(ReconcilerError):
    """The desired state breaks a rule of the cloud; found at plan time."""


class StateError(ReconcilerError):
    """The recorded state cannot be read, written or locked, or a saved plan no longer fits it."""


class CloudError(ReconcilerError):
    """A provider call was refused; ``code`` is the cloud's error code."""

    def __init__(self, code: str, detail: str, *, address: str | None = None, http_status: int = 400) -> None:
        self.http_status = http_status
        super().__init__(code, detail, address=address)


class ErrorGroup(ReconcilerError):
    """Several errors found in one pass; every one of them is reported, in a stable order."""

    def __init__(self, errors: Iterable[ReconcilerError]) -> None:
        ordered = sorted(
            errors, key=lambda e: (e.file or "", e.line or 0, e.address or "", e.code, e.detail)
        )
        self.errors: list[ReconcilerError] = ordered
        first = ordered[0] if ordered else None
        super().__init__(
            first.code if first else "Error",
            f"{len(ordered)} error(s)",
            address=first.address if first else None,
        )

    @property
    def message(self) -> str:
        return "\n".join(e.message for e in getattr(self, "errors", []))

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - callers use .errors
        return {"errors": [e.to_dict() for e in self.errors]}


def raise_all(errors: Sequence[ReconcilerError]) -> None:
    """Raise nothing, the single error, or an :class:`ErrorGroup` of all of them."""
    if not errors:
        return
    if len(errors) == 1:
        raise errors[0]
    raise ErrorGroup(errors)


def flatten(error: ReconcilerError) -> list[ReconcilerError]:
    return list(error.errors) if isinstance(error, ErrorGroup) else [error]
