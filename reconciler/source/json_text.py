"""JSON spec text -> plain data (duplicate keys and nesting depth checked), and a line map of JSON
text walked only when an error needs a line."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from json.decoder import scanstring as _scanstring  # type: ignore[attr-defined]  # not in typeshed
from typing import Any

from reconciler.errors import ReconcilerError, SpecError
from reconciler.source.limits import MAX_DEPTH
from reconciler.source.lines import _line_at
from reconciler.source.locate import SpecPath
from reconciler.source.merge import _Parsed
from reconciler.source.messages import _show

#: (text, position after the opening quote) -> (the string, position after its closing quote)
_json_scanstring: Callable[[str, int], tuple[str, int]] = _scanstring

_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)
# every ASCII character but brackets and quotes deleted; non-ASCII ones can only be in strings
_JSON_KEEP_BRACKETS = {i: None for i in range(128) if chr(i) not in '[]{}"'}
_JSON_BARE_STRING = re.compile(r'"[^"]*"')
_JSON_INNERMOST = re.compile(r"\[\]|\{\}")


def _parse_json(text: str, display: str, errors: list[ReconcilerError]) -> _Parsed | None:
    if not text.strip():
        return _Parsed(None, None, None, None)
    duplicates = False

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal duplicates
        result = dict(pairs)
        if len(result) != len(pairs):
            duplicates = True
        return result

    def too_deep() -> SpecError:
        return SpecError("Spec.TooDeep", f"nesting is deeper than {MAX_DEPTH} levels",
                         file=display, line=_json_too_deep_line(text))

    try:
        root = json.loads(text, object_pairs_hook=pairs_hook)
    except RecursionError:
        errors.append(too_deep())
        return None
    except json.JSONDecodeError as exc:
        pos, column = exc.pos, exc.colno
        end = len(text.rstrip(" \t\n\r"))
        if pos > end:  # at the end of the input: where the last line holding anything ends
            pos = end
            column = pos - text.rfind("\n", 0, pos)
        errors.append(SpecError("Spec.Syntax", f"JSON syntax error: {exc.msg} (column {column})",
                                file=display, line=_line_at(text, pos)))
        return None
    except ValueError as exc:  # an integer past Python's digit limit: find it for the line
        line = None
        limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
        if limit:
            huge = re.search(r"[0-9]{%d,}" % (limit + 1), text)
            if huge is not None:
                line = _line_at(text, huge.start())
        errors.append(SpecError("Spec.Syntax", f"JSON syntax error: {_show(exc)}", file=display, line=line))
        return None
    if _json_depth_exceeds(text, MAX_DEPTH):
        errors.append(too_deep())
        return None
    if duplicates:
        for line, key in _json_duplicate_keys(text):
            errors.append(SpecError("Spec.DuplicateKey", f"key '{_show(key)}' appears twice in the same object",
                                    file=display, line=line))
    root_line = _line_at(text, _JSON_WS.match(text).end())  # type: ignore[union-attr]  # matches "" at worst
    return _Parsed(root, root_line, None, None)


def _json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether valid JSON nests deeper than ``limit``, at C speed: drop escaped backslashes
    and quotes, keep only brackets and quotes, drop strings, then peel innermost bracket
    pairs at most ``limit`` times."""
    reduced = text.replace("\\\\", "").replace('\\"', "").translate(_JSON_KEEP_BRACKETS)
    # adjacent quotes close one string and open the next (or are an empty string): dropping
    # them keeps every remaining quote pair intact, and leaves few strings for the regex
    brackets = _JSON_BARE_STRING.sub("", reduced.replace('""', ""))
    for _ in range(limit):
        if not brackets:
            return False
        brackets = _JSON_INNERMOST.sub("", brackets)
    return bool(brackets)


def _json_too_deep_line(text: str) -> int | None:
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return _line_at(text, match.start())
        elif token in "]}":
            depth -= 1
    return None


def _json_duplicate_keys(text: str) -> list[tuple[int, str]]:
    """(line, key) of every repeated key in every object of valid JSON."""
    found: list[tuple[int, str]] = []
    locator = _JsonLocator(text)
    stack = [locator.skip_ws(0)]
    while stack:
        pos = stack.pop()
        char = text[pos] if pos < len(text) else ""
        if char == "{":
            seen: set[str] = set()
            for key, key_pos, value_pos in locator.object_entries(pos):
                if key in seen:
                    found.append((locator.line(key_pos), key))
                seen.add(key)
                stack.append(value_pos)
        elif char == "[":
            stack.extend(locator.array_items(pos))
    return found


class _JsonLocator:
    """Walks JSON text along a path, skipping siblings at C speed; caches what it walked."""

    def __init__(self, text: str) -> None:
        self.text = text
        # (text, position) -> (the value there, position after it); typeshed omits the attribute
        self.scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
        self._objects: dict[int, dict[str, tuple[int, int]]] = {}
        self._arrays: dict[int, list[int]] = {}

    def skip_ws(self, pos: int) -> int:
        return _JSON_WS.match(self.text, pos).end()  # type: ignore[union-attr]  # matches "" at worst

    def line(self, pos: int) -> int:
        return _line_at(self.text, pos)

    def object_entries(self, pos: int) -> list[tuple[str, int, int]]:
        text = self.text
        entries: list[tuple[str, int, int]] = []
        i = self.skip_ws(pos + 1)
        if text[i] == "}":
            return entries
        while True:
            key, j = _json_scanstring(text, i + 1)
            j = self.skip_ws(j)  # at ':'
            value_pos = self.skip_ws(j + 1)
            _, end = self.scan(text, value_pos)
            entries.append((key, i, value_pos))
            k = self.skip_ws(end)
            if text[k] != ",":
                return entries
            i = self.skip_ws(k + 1)

    def array_items(self, pos: int) -> list[int]:
        text = self.text
        items: list[int] = []
        i = self.skip_ws(pos + 1)
        if text[i] == "]":
            return items
        while True:
            items.append(i)
            _, end = self.scan(text, i)
            k = self.skip_ws(end)
            if text[k] != ",":
                return items
            i = self.skip_ws(k + 1)

    def locate(self, path: SpecPath) -> int | None:
        text = self.text
        pos = self.skip_ws(0)
        found = None
        for element in path:
            char = text[pos] if pos < len(text) else ""
            if char == "{" and isinstance(element, str):
                table = self._objects.get(pos)
                if table is None:
                    table = {key: (key_pos, value_pos) for key, key_pos, value_pos in self.object_entries(pos)}
                    self._objects[pos] = table
                entry = table.get(element)
                if entry is None:
                    break
                found = self.line(entry[0])
                pos = entry[1]
            elif char == "[" and type(element) is int:
                items = self._arrays.get(pos)
                if items is None:
                    items = self.array_items(pos)
                    self._arrays[pos] = items
                if not 0 <= element < len(items):
                    break
                pos = items[element]
                found = self.line(pos)
            else:
                break
        return found
