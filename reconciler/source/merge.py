"""One file's parsed content, and merging it into the document: kinds, singletons, names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from reconciler.errors import ReconcilerError, SpecError
from reconciler.source.document import SCALAR_KINDS, SINGLETON_KINDS, _Entry, _Index
from reconciler.source.messages import _at, _describe, _show


class _Parsed:
    """One file's content: its top-level mapping and the lines of its first two levels."""

    __slots__ = ("root", "root_line", "kind_lines", "name_lines", "stamp")

    def __init__(
        self,
        root: Any,  # the file's top-level value: a mapping once the loader has checked it
        root_line: int | None,
        kind_lines: Mapping[str, int | None] | None,
        name_lines: Mapping[str, Mapping[str, int | None]] | None,
    ) -> None:
        self.stamp: tuple[int, int] | None = None
        self.root = root
        self.root_line = root_line
        self.kind_lines = kind_lines  # kind -> line (None when not recorded, e.g. JSON)
        self.name_lines = name_lines  # kind -> {name -> line}


def _merge(parsed: _Parsed, file_i: int, display: str, data: dict[str, Any], index: _Index, counter: int,
           errors: list[ReconcilerError], files: list[str]) -> int:
    """Merge one file's kinds into ``data`` and ``index``; returns the next declaration index."""
    kind_lines = parsed.kind_lines
    name_lines = parsed.name_lines

    def line_of(*path: str) -> int | None:
        """The line of ``path`` in this file (recorded for YAML, looked up for JSON)."""
        if kind_lines is not None:
            if len(path) == 1:
                return kind_lines.get(path[0])
            # the loader records both levels or neither: name_lines is set here
            return (name_lines.get(path[0]) or {}).get(path[1]) or kind_lines.get(path[0])  # type: ignore[union-attr]
        return index.line(file_i, path)

    def where(entry: _Entry, *path: str) -> str:
        other_i = cast(int, entry[0])  # an entry merged from a file (only hand-built indexes hold None)
        other_file = files[other_i]
        line = entry[2]
        if line is None:  # JSON: looked up only now that it is needed
            line = index.line(other_i, path)
        return _at(other_file, line)

    for kind, value in parsed.root.items():
        if kind in SINGLETON_KINDS:
            if not isinstance(value, dict):
                errors.append(SpecError(
                    "Spec.NotAMapping",
                    f"'{_show(kind)}' must be a mapping of fields, not {_describe(value)}",
                    file=display, line=line_of(kind)))
                continue
            line = line_of(kind)
            previous = index.singletons.get(kind)
            if previous is not None:
                errors.append(SpecError(
                    "Spec.DuplicateName",
                    f"'{_show(kind)}' is defined in both {where(previous, kind)} and {_at(display, line)}; "
                    f"it may be defined in only one spec file",
                    file=display, line=line))
                continue
            index.singletons[kind] = (file_i, counter, line)
            counter += 1
            data[kind] = value
            continue

        if not isinstance(value, dict):
            errors.append(SpecError(
                "Spec.NotAMapping",
                f"'{_show(kind)}' must be a mapping of names to resources, not {_describe(value)}"
                + (" (write '{}' for none)" if value is None else ""),
                file=display, line=line_of(kind)))
            continue
        if kind not in index.kinds:
            index.kinds[kind] = (file_i, counter, line_of(kind))
            counter += 1
            data[kind] = {}
            index.names[kind] = {}
        merged = data[kind]
        names = index.names[kind]
        lines = name_lines.get(kind) if name_lines is not None else None
        for name, entry in value.items():
            if lines is not None:
                line = lines.get(name) or kind_lines.get(kind)  # type: ignore[union-attr]  # both levels recorded
            else:
                line = None
            if type(entry) is not dict and kind not in SCALAR_KINDS:
                errors.append(SpecError(
                    "Spec.NotAMapping",
                    f"{_show(kind)} '{_show(name)}' must be a mapping of fields, not {_describe(entry)}"
                    + (" (write '{}' for no fields)" if entry is None else ""),
                    file=display, line=line if lines is not None else line_of(kind, name)))
                continue
            previous = names.get(name)
            if previous is not None:
                if lines is None:
                    line = line_of(kind, name)
                errors.append(SpecError(
                    "Spec.DuplicateName",
                    f"{_show(kind)} '{_show(name)}' is defined in both {where(previous, kind, name)} and {_at(display, line)}; "
                    f"a name may be defined only once per kind across all spec files",
                    file=display, line=line))
                continue
            names[name] = (file_i, counter, line)
            counter += 1
            merged[name] = entry
    return counter
