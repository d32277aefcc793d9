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
