"""How the spec loader shows the user's text in messages: safe strings, file:line, value kinds."""

from __future__ import annotations

from typing import Any

#: Marks a last-resort message for an exception the loader did not expect.
_INTERNAL = "unexpected internal error"


def _show(text: Any) -> str:
    """A user's string as safe to print: unprintable characters (controls, lone surrogates
    from JSON escapes) are escaped."""
    text = str(text)
    return text if text.isprintable() else repr(text)[1:-1]


def _at(file: str, line: int | None) -> str:
    return f"{file}:{line}" if line else file


def _describe(value: Any) -> str:
    if value is None:
        return "null (an empty value)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a sequence"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, bytes):
        return "binary data"
    return f"a {type(value).__name__} ({value})"
