"""The merged spec document, and where each of its parts came from (file, order, line)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeAlias

from reconciler.source.files import _read_text_if_unchanged
from reconciler.source.locate import SpecPath

#: Kinds whose value is one mapping of fields, defined in at most one file.
SINGLETON_KINDS = frozenset({"ipam", "provider", "backend", "monitoring"})
#: Named kinds whose entries are plain values, not mappings of fields (``import: {vpc.legacy: vpc-2ze...}``).
SCALAR_KINDS = frozenset({"import"})

#: Where one declaration came from: (file index or None when built by hand, declaration order, line or None).
_Entry: TypeAlias = tuple[int | None, int, int | None]


class _LineMap(Protocol):
    """The line map of one file's text (:class:`~reconciler.source.yaml_lines._YamlLocator`,
    :class:`~reconciler.source.json_text._JsonLocator`)."""

    def locate(self, path: SpecPath) -> int | None: ...


@dataclass(frozen=True)
class SpecDocument:
    """The merged desired state and where each part of it came from."""

    data: dict[str, Any]
    files: tuple[str, ...] = ()
    _index: _Index | None = field(default=None, repr=False, compare=False)

    def _idx(self) -> "_Index":
        index = self._index
        if index is None:
            index = _Index.from_data(self.data)
            object.__setattr__(self, "_index", index)
        return index

    def origin(self, kind: str, name: str | None = None) -> str | None:
        """Display path of the file defining ``kind``/``name`` (``name`` None for singletons;
        for a named kind, None gives the first file the kind appears in)."""
        entry = self._idx().entry(kind, name)
        if entry is None or entry[0] is None:
            return None
        return self.files[entry[0]]

    def order(self, kind: str, name: str | None = None) -> int:
        """Global declaration index: files in sorted order, then top to bottom within a file.

        Every singleton, every named kind (at its first appearance) and every resource takes
        one index. Raises KeyError for something not declared.
        """
        entry = self._idx().entry(kind, name)
        if entry is None:
            raise KeyError(kind if name is None else f"{kind}.{name}")
        return entry[1]

    def orders(self, kind: str) -> dict[str, int]:
        """:meth:`order` of every name of a named kind, at once."""
        names = self._idx().names.get(kind) or {}
        return {name: entry[1] for name, entry in names.items()}

    def locate(self, path: SpecPath) -> tuple[str | None, int | None]:
        """File and 1-based line of the node at ``path`` (``("pools", "hz", "cidrs", 0)``).

        The line is the key's for a mapping entry and the item's for a list entry. A path that
        goes past what exists resolves to its nearest existing ancestor; ``(None, None)`` when
        even the kind is unknown.
        """
        path = tuple(path)  # (a list from an untyped caller works too)
        if not path:
            return (None, None)
        index = self._idx()
        kind = path[0]
        try:
            hash(kind)
        except TypeError:
            return (None, None)
        depth = 1
        if kind in index.singletons:
            file_i, _, line = index.singletons[kind]
        elif kind in index.kinds:
            file_i, _, line = index.kinds[kind]
            # looked up by any path element (the names of a hand-built document need not be text)
            names: Mapping[Any, _Entry] = index.names.get(kind, {})
            if len(path) >= 2:
                try:
                    entry = names.get(path[1])
                except TypeError:
                    entry = None
                if entry is not None:
                    file_i, _, line = entry
                    depth = 2
        else:
            return (None, None)
        if file_i is None:
            return (None, None)
        display = self.files[file_i]
        if depth == len(path) and line is not None:
            return (display, line)
        found = index.line(file_i, path)
        return (display, found if found is not None else line)


class _Index:
    """Where each declaration came from: (file index, declaration order, line or None)."""

    def __init__(self) -> None:
        self.singletons: dict[str, _Entry] = {}
        self.kinds: dict[str, _Entry] = {}  # named kind -> its first appearance
        self.names: dict[str, dict[str, _Entry]] = {}
        # per file: (path to re-read, is JSON, (size, mtime) when loaded)
        self.paths: list[tuple[Path, bool, tuple[int, int] | None]] = []
        self._locators: dict[int, _LineMap | None] = {}
        #: (text, is JSON) -> a line map with ``locate(path)``; set by the loader
        self.make_locator: Callable[[str, bool], _LineMap] | None = None

    @classmethod
    def from_data(cls, data: Any) -> "_Index":
        """An index for a document built by hand: order from the data, no files."""
        index = cls()
        counter = 0
        if isinstance(data, dict):
            for kind, value in data.items():
                if kind in SINGLETON_KINDS:
                    index.singletons[kind] = (None, counter, None)
                    counter += 1
                    continue
                index.kinds[kind] = (None, counter, None)
                counter += 1
                names = index.names.setdefault(kind, {})
                if isinstance(value, dict):
                    for name in value:
                        names[name] = (None, counter, None)
                        counter += 1
        return index

    def entry(self, kind: Any, name: Any) -> _Entry | None:
        try:
            if name is None:
                return self.singletons.get(kind) or self.kinds.get(kind)
            names = self.names.get(kind)
            return names.get(name) if names is not None else None
        except TypeError:  # unhashable argument
            return None

    def locator(self, file_i: int) -> _LineMap | None:
        """The line map of one file, built on first use; None if the file changed since."""
        if file_i in self._locators:
            return self._locators[file_i]
        locator: _LineMap | None = None
        if 0 <= file_i < len(self.paths):
            path, is_json, stamp = self.paths[file_i]
            try:
                text = _read_text_if_unchanged(path, stamp)
                if text is not None and self.make_locator is not None:
                    locator = self.make_locator(text, is_json)
            except Exception:  # unreadable now: recorded lines only
                locator = None
        self._locators[file_i] = locator
        return locator

    def line(self, file_i: int, path: SpecPath) -> int | None:
        """The line of ``path`` in one file, or None."""
        locator = self.locator(file_i)
        if locator is None:
            return None
        try:
            return locator.locate(path)
        except Exception:
            return None
