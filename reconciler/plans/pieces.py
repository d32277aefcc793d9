"""Compact, key-sorted JSON in pieces: the bytes ``orjson.dumps(value, option=OPT_SORT_KEYS)`` makes,
made a part at a time, so a plan document can be hashed, compressed or written out without holding
its whole serialization in memory (orjson has no streaming writer).

Long lists and mappings are serialized a chunk of items at a time; the small mappings above them
(a document's top level, ``planned_values.root_module``) are opened key by key. Read-only mapping
views (the plan's records) are serialized as the dicts they show.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping, Sequence

import orjson

SORTED = orjson.OPT_SORT_KEYS
CHUNK = 4096  # list items or mapping entries serialized at a time
_OPEN = 4  # small mappings are opened down to this depth (where the long lists of a document sit)


def view(value: object) -> Any:
    """orjson's fallback: a read-only mapping view is serialized as the dict it shows, a :class:`Lazy`
    list as its items."""
    if isinstance(value, MappingProxyType):
        return value.copy()
    if isinstance(value, Lazy):
        return list(value)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


class Lazy:
    """A list whose items are made from ``keys`` by ``make`` as they are written, a chunk at a time,
    so that a long list of derived values is never held whole (equal to the list of its items)."""

    __slots__ = ("keys", "make")

    def __init__(self, keys: Sequence[Any], make: Callable[[Any], Any]) -> None:
        self.keys, self.make = keys, make

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[Any]:
        return map(self.make, self.keys)

    def chunks(self) -> Iterator[list[Any]]:
        make, keys = self.make, self.keys
        for i in range(0, len(keys), CHUNK):
            yield [make(k) for k in keys[i:i + CHUNK]]

    def __eq__(self, other: object) -> bool:
        return list(self) == (list(other) if isinstance(other, Lazy) else other)

    __hash__ = None  # type: ignore[assignment]  # (a list's)


class Serialized(dict[str, Any]):
    """A mapping whose values' serializations are made already (``dumped``: key -> bytes): written from
    them, not serialized again."""

    def __init__(self) -> None:
        super().__init__()
        self.dumped: dict[str, bytes] = {}

    def put(self, key: str, value: Any, data: bytes) -> None:
        self[key] = value
        self.dumped[key] = data

    def pieces(self) -> Iterator[bytes]:
        keys = sorted(self)
        dumped = self.dumped
        yield b"{"
        for i in range(0, len(keys), CHUNK):
            if i:
                yield b","
            yield b",".join([orjson.dumps(k) + b":" + dumped[k] for k in keys[i:i + CHUNK]])
        yield b"}"


def pieces(value: Any, depth: int = 0) -> Iterator[bytes | memoryview]:
    """The compact, key-sorted serialization of ``value``, in pieces whose concatenation is it."""
    t = type(value)
    if t is Serialized:
        yield from value.pieces()
    elif t is Lazy:
        yield b"["
        for n, chunk in enumerate(value.chunks()):
            if n:
                yield b","
            yield memoryview(orjson.dumps(chunk, default=view, option=SORTED))[1:-1]
        yield b"]"
    elif t is list or t is tuple:
        if len(value) <= CHUNK:
            yield orjson.dumps(value, default=view, option=SORTED)
            return
        yield b"["
        for i in range(0, len(value), CHUNK):
            if i:
                yield b","
            yield memoryview(orjson.dumps(value[i:i + CHUNK], default=view, option=SORTED))[1:-1]
        yield b"]"
    elif t is dict or t is MappingProxyType:
        if len(value) > CHUNK:
            items = sorted(value.items(), key=_first)
            yield b"{"
            for i in range(0, len(items), CHUNK):
                if i:
                    yield b","
                yield memoryview(orjson.dumps(dict(items[i:i + CHUNK]), default=view, option=SORTED))[1:-1]
            yield b"}"
        elif depth < _OPEN:
            yield from members(value, lambda k: True, depth)
        else:
            yield orjson.dumps(value, default=view, option=SORTED)
    else:
        yield orjson.dumps(value, default=view, option=SORTED)


def members(mapping: Mapping[str, Any], keep: Callable[[str], bool], depth: int = 0,
            close: bool = True) -> Iterator[bytes | memoryview]:
    """``mapping``'s kept keys as a JSON object, sorted, opened key by key (without its closing brace
    when not ``close``: the caller appends more members)."""
    yield b"{"
    for n, key in enumerate(sorted(k for k in mapping if keep(k))):
        yield b',"' if n else b'"'
        yield orjson.dumps(key)[1:]
        yield b":"
        yield from pieces(mapping[key], depth + 1)
    if close:
        yield b"}"


def _first(item: tuple[Any, Any]) -> Any:
    return item[0]
