"""What a YAML scalar means: PyYAML's YAML 1.1 implicit types (booleans yes/no/on/off, octal
and sexagesimal integers, timestamps, null ``~``...) and the standard tags, as the spec loader
reads them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeAlias

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from reconciler.source.messages import _show

_TAG = "tag:yaml.org,2002:"
_MERGE_TAG = _TAG + "merge"

_SC = SafeConstructor()
_SCALAR_CONSTRUCTORS = {
    _TAG + name: SafeConstructor.yaml_constructors[_TAG + name]
    for name in ("null", "bool", "int", "float", "binary", "timestamp", "str")
}
# first character -> [(tag, regexp)] of the YAML 1.1 implicit resolvers; tags read as plain
# strings ('=' and the like) are left out, and the merge tag is handled by the loader.
_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
for _first, _resolvers in Resolver.yaml_implicit_resolvers.items():
    if _first is None:
        continue
    _kept = [(t, rx) for t, rx in _resolvers if t in _SCALAR_CONSTRUCTORS or t == _MERGE_TAG]
    if _kept:
        _IMPLICIT[_first] = _kept
del _first, _resolvers, _kept


class _MergeKey:
    __slots__ = ()

    def __repr__(self) -> str:  # pragma: no cover
        return "<<"


_MERGE = _MergeKey()
_NOKEY = object()

#: Reports a problem: (code, detail, the event it is about, for its line).
_Report: TypeAlias = Callable[[str, str, Any], None]


def _construct(tag: str, event: Any, err: _Report) -> Any:
    """A scalar of a standard tag through PyYAML's SafeConstructor; bad ones are errors."""
    constructor = _SCALAR_CONSTRUCTORS.get(tag)
    if constructor is None:
        err("Spec.Syntax", f"unsupported tag {tag!r} on value {event.value!r}; use plain YAML values", event)
        return event.value
    try:
        return constructor(_SC, ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style))
    except Exception as exc:
        short = tag[len(_TAG):] if tag.startswith(_TAG) else tag
        reason = exc.problem if isinstance(exc, yaml.MarkedYAMLError) and exc.problem else exc
        err("Spec.Syntax", f"cannot read {event.value!r} as {short}: {_show(reason)}", event)
        return event.value


# ---- YAML 1.1 against YAML 1.2 -------------------------------------------------------------------
# The loader reads YAML 1.1 (as PyYAML does); JSON Schema tools and most other readers read YAML 1.2's
# core schema. A plain scalar the two read differently is refused, with the spelling both read alike.
_CORE_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_CORE_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_CORE_BOOL = frozenset(("true", "True", "TRUE", "false", "False", "FALSE"))
_INT_TAG, _FLOAT_TAG, _BOOL_TAG = _TAG + "int", _TAG + "float", _TAG + "bool"


def _core(text: str) -> Any:
    """What YAML 1.2's core schema reads a plain scalar ``text`` as (null, bool, int and float only;
    anything else is the string itself)."""
    if text in _CORE_BOOL:
        return text[0] in "tT"
    try:
        if _CORE_INT.fullmatch(text):
            if text.startswith(("0o", "0x")):
                return int(text[2:], 8 if text[1] == "o" else 16)
            return int(text)
        if _CORE_FLOAT.fullmatch(text):
            return float(text.replace(".", "", 1)) if text.lstrip("+-")[1:2].isalpha() else float(text)
    except ValueError:  # an integer too long to convert: judged as the text (its reading fails anyway)
        pass
    return text


def _spelled(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _what(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {_spelled(value)}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value!r}"
    return f"the string {value!r}"


def ambiguous(text: str, read: Any) -> str | None:
    """Why the plain scalar ``text``, which YAML 1.1 read as ``read`` (a bool, int or float), is
    ambiguous: YAML 1.2's core schema reads it otherwise (None when it reads it alike). Cheap for the
    common case: a decimal integer without a leading zero, true/false."""
    kind = type(read)
    if kind is int:
        if text.isdigit() and (text[0] != "0" or len(text) == 1):
            return None
    elif kind is bool:
        if text in _CORE_BOOL:
            return None
    elif kind is not float:  # (a string YAML 1.2 reads as a number, 1e3 or 0o12, is let be: PyYAML's
        # own dump writes such strings unquoted, and a field that needs a number refuses a string)
        return None
    core = _core(text)
    if type(core) is kind and (core == read or core != core and read != read):  # (nan is not nan)
        return None
    return (f"{text!r} is {_what(read)} to this tool (YAML 1.1) but {_what(core)} to YAML 1.2 readers; "
            f"write {_spelled(read)} for {_what(read)}, or quote it (\"{text}\") for a string")
