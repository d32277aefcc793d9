"""Spec files -> one merged document, with file:line for every error.

A spec folder holds any number of ``*.yaml``, ``*.yml`` and ``*.json`` files (searched
recursively; hidden files and folders are skipped; processed in sorted order of their path
relative to the folder, with ``/`` separators). Each file's top level is a mapping of *kinds*:

* ``ipam`` and ``provider`` are singletons: a mapping of fields, defined in at most one file;
* every other kind (``pools``, ``vpcs``, ...) maps resource names to mappings of fields, and is
  merged across files: a name may be defined once per kind.

Field contents are validated elsewhere; this module reads, merges and locates.

Loading is built for large specs: YAML is read from libyaml's event stream (``CSafeLoader``'s
parser) into plain dicts and lists, with every safety rule checked on the way (nesting depth,
alias count and expansion, duplicate and non-string keys), and no node tree or marks kept.
:meth:`SpecDocument.locate` resolves a path to ``file:line`` lazily, by re-reading the one file
concerned and caching a light line map of it.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from json.decoder import scanstring as _json_scanstring
from pathlib import Path
from typing import Any, Iterable

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from .errors import ReconcilerError, SpecError, raise_all

__all__ = [
    "SpecDocument",
    "load_specs",
    "SINGLETON_KINDS",
    "SPEC_SUFFIXES",
    "MAX_FILE_BYTES",
    "MAX_DEPTH",
    "MAX_ALIASES",
    "MAX_ALIAS_NODES",
]

#: Kinds whose value is one mapping of fields, defined in at most one file.
SINGLETON_KINDS = frozenset({"ipam", "provider"})
#: Named kinds whose entries are plain values, not mappings of fields (``import: {vpc.legacy: vpc-2ze...}``).
SCALAR_KINDS = frozenset({"import"})
#: File name endings read as spec files (compared case-insensitively).
SPEC_SUFFIXES = (".yaml", ".yml", ".json")
#: Files larger than this are refused without being read.
MAX_FILE_BYTES = 32 * 1024 * 1024
#: Deepest nesting of mappings and sequences (the file's top-level mapping is level 1).
MAX_DEPTH = 32
#: Most YAML alias uses (``*name``, including those under merge keys ``<<``) in one file.
MAX_ALIASES = 100
#: Most nodes that alias uses may add to one file once expanded (stops "billion laughs").
MAX_ALIAS_NODES = 100_000

# libyaml when present; the pure-Python parser otherwise. Only the parser is used.
_Loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader

_INTERNAL = "unexpected internal error"


# --------------------------------------------------------------------------------------------
# The document


@dataclass(frozen=True)
class SpecDocument:
    """The merged desired state and where each part of it came from."""

    data: dict
    files: tuple[str, ...] = ()
    _index: Any = field(default=None, repr=False, compare=False)

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

    def locate(self, path: Iterable[str | int]) -> tuple[str | None, int | None]:
        """File and 1-based line of the node at ``path`` (``("pools", "hz", "cidrs", 0)``).

        The line is the key's for a mapping entry and the item's for a list entry. A path that
        goes past what exists resolves to its nearest existing ancestor; ``(None, None)`` when
        even the kind is unknown.
        """
        path = tuple(path)
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
            names = index.names.get(kind, {})
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
        self.singletons: dict[str, tuple] = {}
        self.kinds: dict[str, tuple] = {}  # named kind -> its first appearance
        self.names: dict[str, dict[str, tuple]] = {}
        self.paths: list[tuple] = []  # per file: (path to re-read, is JSON, (size, mtime) when loaded)
        self._locators: dict[int, Any] = {}

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

    def entry(self, kind: Any, name: Any) -> tuple | None:
        try:
            if name is None:
                return self.singletons.get(kind) or self.kinds.get(kind)
            names = self.names.get(kind)
            return names.get(name) if names is not None else None
        except TypeError:  # unhashable argument
            return None

    def locator(self, file_i: int):
        """The line map of one file, built on first use; None if the file changed since."""
        if file_i in self._locators:
            return self._locators[file_i]
        locator = None
        if 0 <= file_i < len(self.paths):
            path, is_json, stamp = self.paths[file_i]
            try:
                text = _read_text_if_unchanged(path, stamp)
                if text is not None:
                    locator = _JsonLocator(text) if is_json else _YamlLocator(text)
            except Exception:  # unreadable now: recorded lines only
                locator = None
        self._locators[file_i] = locator
        return locator

    def line(self, file_i: int, path: tuple) -> int | None:
        """The line of ``path`` in one file, or None."""
        locator = self.locator(file_i)
        if locator is None:
            return None
        try:
            return locator.locate(path)
        except Exception:
            return None


# --------------------------------------------------------------------------------------------
# Loading


def load_specs(spec_dir: Path | str, *, display_base: Path | str | None = None) -> SpecDocument:
    """Read every spec file under ``spec_dir`` and merge them into one :class:`SpecDocument`.

    Raises a :class:`SpecError` (or an ``ErrorGroup`` of them, every problem in every file)
    when the files cannot be read or merged. Display paths are relative to ``display_base``
    (default: the spec folder's parent, so they read ``specs/main.yaml``).
    """
    spec_dir = Path(os.path.abspath(os.fspath(spec_dir)))
    base = Path(os.path.abspath(os.fspath(display_base))) if display_base is not None else spec_dir.parent

    def show(path: str | Path) -> str:
        return _show(_display(Path(path), base))

    errors: list[ReconcilerError] = []
    if not spec_dir.is_dir():
        what = "does not exist" if not spec_dir.exists() else "is not a folder"
        raise SpecError("Spec.NoFiles", f"spec folder {show(spec_dir)} {what}", file=show(spec_dir))

    found = _discover(spec_dir, errors, show)
    if not found and not errors:
        raise SpecError(
            "Spec.NoFiles",
            f"spec folder {show(spec_dir)} holds no spec file (*.yaml, *.yml or *.json)",
            file=show(spec_dir),
        )

    index = _Index()
    data: dict = {}
    files: list[str] = []
    counter = 0
    for rel, given_path, open_path in found:
        display = show(given_path)
        is_json = rel.lower().endswith(".json")
        parsed = _load_file(open_path, display, is_json, errors)
        if parsed is None:
            continue
        file_i = len(files)
        files.append(display)
        index.paths.append((Path(open_path), is_json, parsed.stamp))
        counter = _merge(parsed, file_i, display, data, index, counter, errors, files)

    raise_all(errors)
    return SpecDocument(data=data, files=tuple(files), _index=index)


def _display(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        try:
            return Path(os.path.relpath(path, base)).as_posix()
        except ValueError:  # pragma: no cover - different drives on Windows
            return path.as_posix()


def _within(target: str, roots: Iterable[str]) -> bool:
    for root in roots:
        if target == root or target.startswith(root.rstrip(os.sep) + os.sep):
            return True
    return False


def _discover(spec_dir: Path, errors: list, show) -> list[tuple[str, str, str]]:
    """Spec files under ``spec_dir``: (relative path, path as found, path to open), sorted."""
    workspace = os.path.realpath(spec_dir.parent)
    allowed = (workspace, os.path.realpath(spec_dir))
    found: list[tuple[str, str, str]] = []
    visited = {os.path.realpath(spec_dir)}
    stack: list[tuple[str, str]] = [(str(spec_dir), "")]

    def error(code: str, path: str, detail: str) -> None:
        errors.append(SpecError(code, detail, file=show(path)))

    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            error("Spec.Unreadable", folder, f"cannot list folder: {exc.strerror or exc}")
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            rel = prefix + name
            path = entry.path
            is_spec = name.lower().endswith(SPEC_SUFFIXES)
            try:
                if entry.is_symlink():
                    target = os.path.realpath(path)
                    if not _within(target, allowed):
                        if is_spec or os.path.isdir(path):
                            error(
                                "Spec.Symlink",
                                path,
                                f"symlink resolves to {target}, outside the workspace "
                                f"{workspace}; spec files must live inside the workspace",
                            )
                        continue
                    try:
                        st = os.stat(target)
                    except OSError as exc:
                        if is_spec:
                            error("Spec.NotAFile", path, f"broken symlink ({exc.strerror or exc}); not read")
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        if target in visited:
                            error(
                                "Spec.Symlink",
                                path,
                                f"symlink to folder {target}, which is already being read "
                                f"(a symlink loop or a second link to the same folder)",
                            )
                            continue
                        visited.add(target)
                        stack.append((path, rel + "/"))
                    elif is_spec:
                        if stat.S_ISREG(st.st_mode):
                            found.append((rel, path, target))
                        else:
                            error("Spec.NotAFile", path, f"symlink to {_file_type(st.st_mode)}, not a regular file; not read")
                elif entry.is_dir(follow_symlinks=False):
                    real = os.path.realpath(path)
                    if real in visited:
                        continue
                    visited.add(real)
                    stack.append((path, rel + "/"))
                elif is_spec:
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(st.st_mode):
                        found.append((rel, path, path))
                    else:
                        error("Spec.NotAFile", path, f"is {_file_type(st.st_mode)}, not a regular file; not read")
            except OSError as exc:
                error("Spec.Unreadable", path, f"cannot inspect: {exc.strerror or exc}")
    found.sort(key=lambda item: item[0])
    return found


def _file_type(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (fifo)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


class _FileProblem(Exception):
    def __init__(self, code: str, detail: str, line: int | None = None):
        super().__init__(detail)
        self.code, self.detail, self.line = code, detail, line


def _read_bytes(path: str | Path) -> tuple[bytes, tuple[int, int]]:
    """The file's bytes and (size, mtime) stamp; refuses non-regular and oversized files
    before reading them."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _FileProblem("Spec.Unreadable", f"cannot open: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _FileProblem("Spec.NotAFile", f"is {_file_type(st.st_mode)}, not a regular file; not read")
        if st.st_size > MAX_FILE_BYTES:
            raise _FileProblem(
                "Spec.TooLarge",
                f"file is {st.st_size} bytes; spec files may be at most {MAX_FILE_BYTES} bytes (32 MiB)",
            )
        try:
            raw = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise _FileProblem("Spec.Unreadable", f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise _FileProblem("Spec.TooLarge", f"file grew past {MAX_FILE_BYTES} bytes (32 MiB) while being read")
    return raw, (st.st_size, st.st_mtime_ns)


def _decode(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", "replace")
        line = _line_at(before, len(before))
        hint = ""
        if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            hint = "; the file looks like UTF-16, save it as UTF-8"
        raise _FileProblem(
            "Spec.Encoding",
            f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} ({exc.reason}){hint}",
            line,
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _read_text_if_unchanged(path: Path, stamp: tuple[int, int] | None) -> str | None:
    """The file's text again, or None when it cannot be read or is no longer what was loaded."""
    try:
        raw, now = _read_bytes(path)
        if stamp is not None and now != stamp:
            return None
        return _decode(raw)
    except _FileProblem:
        return None


class _Parsed:
    """One file's content: its top-level mapping and the lines of its first two levels."""

    __slots__ = ("root", "root_line", "kind_lines", "name_lines", "stamp")

    def __init__(self, root: dict, root_line: int | None, kind_lines: dict | None, name_lines: dict | None):
        self.stamp: tuple[int, int] | None = None
        self.root = root
        self.root_line = root_line
        self.kind_lines = kind_lines  # kind -> line (None when not recorded, e.g. JSON)
        self.name_lines = name_lines  # kind -> {name -> line}


def _load_file(path: str, display: str, is_json: bool, errors: list) -> _Parsed | None:
    """Parse one file; its problems go to ``errors``. None when nothing usable came out."""
    try:
        raw, stamp = _read_bytes(path)
        text = _decode(raw)
    except _FileProblem as problem:
        errors.append(SpecError(problem.code, problem.detail, file=display, line=problem.line))
        return None
    own: list[ReconcilerError] = []
    try:
        parsed = _parse_json(text, display, own) if is_json else _parse_yaml(text, display, own)
    except _FileProblem as problem:
        own.append(SpecError(problem.code, problem.detail, file=display, line=problem.line))
        parsed = None
    except Exception as exc:  # a last resort: nothing but SpecError leaves load_specs
        own.append(SpecError("Spec.Syntax", f"could not be read ({_INTERNAL}: {type(exc).__name__}: {_show(exc)})", file=display))
        parsed = None
    errors.extend(own)
    if parsed is None:
        return None
    root = parsed.root
    if root is None:  # an empty file, comments only, or an explicit null
        parsed = _Parsed({}, parsed.root_line, {}, {})
        root = parsed.root
    if not isinstance(root, dict):
        errors.append(
            SpecError(
                "Spec.NotAMapping",
                f"the top level of a spec file must be a mapping of kinds (such as 'pools:'), "
                f"not {_describe(root)}",
                file=display,
                line=parsed.root_line,
            )
        )
        return None
    parsed.stamp = stamp
    return parsed


def _merge(parsed: _Parsed, file_i: int, display: str, data: dict, index: _Index, counter: int,
           errors: list, files: list) -> int:
    """Merge one file's kinds into ``data`` and ``index``; returns the next declaration index."""
    kind_lines = parsed.kind_lines
    name_lines = parsed.name_lines

    def line_of(*path: str) -> int | None:
        """The line of ``path`` in this file (recorded for YAML, looked up for JSON)."""
        if kind_lines is not None:
            if len(path) == 1:
                return kind_lines.get(path[0])
            return (name_lines.get(path[0]) or {}).get(path[1]) or kind_lines.get(path[0])
        return index.line(file_i, path)

    def where(entry: tuple, *path: str) -> str:
        other_file = files[entry[0]]
        line = entry[2]
        if line is None:  # JSON: looked up only now that it is needed
            line = index.line(entry[0], path)
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
                line = lines.get(name) or kind_lines.get(kind)
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


def _line_at(text: str, pos: int) -> int:
    """1-based line of character ``pos``: LF, CRLF and a lone CR end a line (as in libyaml);
    U+0085, U+2028 and U+2029 do not (as in editors)."""
    lf = text.count("\n", 0, pos)
    cr = text.count("\r", 0, pos)
    if cr:
        cr -= text.count("\r\n", 0, pos)
        if 0 < pos < len(text) and text[pos - 1] == "\r" and text[pos] == "\n":
            cr += 1  # ``pos`` sits inside a CRLF: its CR counted already
    return lf + cr + 1


def _last_line(text: str) -> int:
    return _line_at(text, len(text.rstrip()))


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


# --------------------------------------------------------------------------------------------
# YAML


_TAG = "tag:yaml.org,2002:"
_MERGE_TAG = _TAG + "merge"
_MAP_TAGS = (None, "!", _TAG + "map")
_SEQ_TAGS = (None, "!", _TAG + "seq")
_SC = SafeConstructor()
_SCALAR_CONSTRUCTORS = {
    _TAG + name: SafeConstructor.yaml_constructors[_TAG + name]
    for name in ("null", "bool", "int", "float", "binary", "timestamp", "str")
}
# first character -> [(tag, regexp)] of the YAML 1.1 implicit resolvers; tags read as plain
# strings ('=' and the like) are left out, and the merge tag is handled by the loader.
_IMPLICIT: dict[str, list] = {}
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


class _Abort(Exception):
    """Stops reading one file: the error is the file's only one."""

    def __init__(self, code: str, detail: str, line: int | None):
        super().__init__(detail)
        self.code, self.detail, self.line = code, detail, line


class _AliasBudget(Exception):
    pass


_ODD_BREAKS = re.compile("[\x85\u2028\u2029]")


def _mark_liner(text: str):
    """mark -> 1-based line. libyaml and PyYAML also end lines at U+0085, U+2028 and U+2029,
    which editors do not: those are taken back out (only when the text has any)."""
    if "\x85" not in text and "\u2028" not in text and "\u2029" not in text:
        return lambda mark: mark.line + 1
    odd = [m.start() for m in _ODD_BREAKS.finditer(text)]

    def line(mark) -> int:
        return mark.line + 1 - bisect.bisect_left(odd, mark.index)

    return line


def _event_liner(text: str):
    mark_line = _mark_liner(text)

    def line(event: Any) -> int | None:
        mark = getattr(event, "start_mark", None)
        return mark_line(mark) if mark is not None else None

    return line


def _construct(tag: str, event: Any, err) -> Any:
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


def _measure(value: Any, budget: int) -> tuple[int, int]:
    """(node count, nesting depth) of a built value; raises _AliasBudget past ``budget``."""
    size = 0
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        size += 1
        if size > budget:
            raise _AliasBudget
        kind = type(node)
        if kind is dict:
            if depth > deepest:
                deepest = depth
            stack.extend((child, depth + 1) for child in node.values())
        elif kind is list:
            if depth > deepest:
                deepest = depth
            stack.extend((child, depth + 1) for child in node)
    return size, deepest


def _clone(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: _clone(v) for k, v in value.items()}
    if kind is list:
        return [_clone(v) for v in value]
    return value


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    problem = _show(exc.problem or "invalid YAML")
    if exc.context:
        context = exc.context
        if exc.context_mark is not None and exc.problem_mark is not None and exc.context_mark.line != exc.problem_mark.line:
            context += f" started at line {exc.context_mark.line + 1}"
        return f"YAML syntax error: {problem} ({context})"
    return f"YAML syntax error: {problem}"


def _parse_yaml(text: str, display: str, errors: list) -> _Parsed | None:
    loader = None
    try:
        loader = _Loader(text)  # the pure-Python reader checks characters here already
        return _build_yaml(loader, display, errors, _event_liner(text))
    except _Abort as abort:
        errors.append(SpecError(abort.code, abort.detail, file=display, line=abort.line))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and (mark is None or mark.index >= len(text.rstrip())):
            mark = exc.context_mark  # "unexpected end of stream": where the unclosed thing began
        line = None
        if mark is not None:
            line = min(_mark_liner(text)(mark), _last_line(text))
        errors.append(SpecError("Spec.Syntax", _yaml_problem(exc), file=display, line=line))
    except yaml.reader.ReaderError as exc:
        line = None
        if isinstance(exc.position, int) and exc.position >= 0:
            position = exc.position
            if _Loader is not yaml.SafeLoader:  # libyaml reports the offset in the UTF-8 bytes
                position = len(text.encode("utf-8")[:position].decode("utf-8", "ignore"))
            line = _line_at(text, position)
        character = exc.character
        shown = f"#x{character:04x}" if isinstance(character, int) else repr(character)
        errors.append(SpecError("Spec.Syntax", f"YAML syntax error: {exc.reason} (character {shown})",
                                file=display, line=line))
    except yaml.YAMLError as exc:
        errors.append(SpecError("Spec.Syntax", f"YAML syntax error: {exc}", file=display))
    finally:
        if loader is not None:
            try:
                loader.dispose()
            except Exception:  # pragma: no cover
                pass
    return None


def _build_yaml(loader: Any, display: str, errors: list, _line) -> _Parsed:
    """Build plain data from the event stream, checking every rule as it goes."""
    get_event = loader.get_event

    def err(code: str, detail: str, event: Any) -> None:
        errors.append(SpecError(code, detail, file=display, line=_line(event)))

    stack: list[tuple] = []
    push = stack.append
    pop = stack.pop
    # the open collection ("frame"): container, is-mapping, pending key and where it came
    # from, key -> line (recorded for the first two levels only), merge sources, anchor,
    # and the event that opened it
    obj: Any = None
    is_map = False
    key: Any = _NOKEY
    key_event: Any = None
    lines: dict | None = None
    merges: list | None = None
    anchor: str | None = None
    start: Any = None

    depth = 0
    anchors: dict[str, Any] = {}
    open_anchors: list[str] = []
    alias_uses = 0
    alias_budget = MAX_ALIAS_NODES
    documents = 0
    root: Any = None
    root_line: int | None = None
    kind_lines: dict = {}
    name_lines: dict = {}

    while True:
        event = get_event()
        etype = type(event)
        if etype is ScalarEvent:
            value = event.value
            tag = event.tag
            if tag is None:
                if event.implicit[0]:
                    resolvers = _IMPLICIT.get(value[:1])
                    if resolvers is not None:
                        for rtag, regexp in resolvers:
                            if regexp.match(value):
                                if rtag == _MERGE_TAG:
                                    if is_map and key is _NOKEY:
                                        value = _MERGE
                                else:
                                    value = _construct(rtag, event, err)
                                break
            elif tag != "!":
                value = _construct(tag, event, err)
            if event.anchor is not None:
                anchors[event.anchor] = value
            source = event
        elif etype is MappingStartEvent or etype is SequenceStartEvent:
            depth += 1
            if depth > MAX_DEPTH:
                raise _Abort("Spec.TooDeep", f"nesting is deeper than {MAX_DEPTH} levels", _line(event))
            push((obj, is_map, key, key_event, lines, merges, anchor, start))
            if etype is MappingStartEvent:
                obj, is_map = {}, True
                lines = {} if depth <= 2 else None
                if event.tag not in _MAP_TAGS:
                    err("Spec.Syntax", f"unsupported tag {event.tag!r} on a mapping; use plain YAML mappings", event)
            else:
                obj, is_map, lines = [], False, None
                if event.tag not in _SEQ_TAGS:
                    err("Spec.Syntax", f"unsupported tag {event.tag!r} on a sequence; use plain YAML sequences", event)
            key = _NOKEY
            key_event = None
            merges = None
            anchor = event.anchor
            if anchor is not None:
                open_anchors.append(anchor)
            start = event
            continue
        elif etype is MappingEndEvent or etype is SequenceEndEvent:
            value = obj
            if merges is not None:
                value = _apply_merges(value, merges, err)
            if anchor is not None:
                anchors[anchor] = value
                open_anchors.remove(anchor)
            frame_lines = lines
            source = start
            obj, is_map, key, key_event, lines, merges, anchor, start = pop()
            depth -= 1
            if frame_lines is not None:
                if obj is None:
                    kind_lines = frame_lines
                elif depth == 1 and is_map and type(key) is str:
                    name_lines[key] = frame_lines
        elif etype is AliasEvent:
            name = event.anchor
            if name not in anchors:
                if name in open_anchors:
                    raise _Abort("Spec.AliasLimit",
                                 f"alias *{name} refers to a node that contains it; recursive aliases are not allowed",
                                 _line(event))
                raise _Abort("Spec.Syntax", f"YAML syntax error: found undefined alias *{name}", _line(event))
            alias_uses += 1
            if alias_uses > MAX_ALIASES:
                raise _Abort("Spec.AliasLimit",
                             f"more than {MAX_ALIASES} alias uses (*name) in one file; write the values out instead",
                             _line(event))
            value = anchors[name]
            if type(value) is dict or type(value) is list:
                try:
                    size, nested = _measure(value, alias_budget)
                except _AliasBudget:
                    raise _Abort("Spec.AliasLimit",
                                 f"aliases expand to more than {MAX_ALIAS_NODES} nodes in one file "
                                 f"(an alias bomb?); write the values out instead",
                                 _line(event)) from None
                alias_budget -= size
                if depth + nested > MAX_DEPTH:
                    raise _Abort("Spec.TooDeep",
                                 f"nesting is deeper than {MAX_DEPTH} levels once alias *{name} is expanded",
                                 _line(event))
                value = _clone(value)
            source = event
        elif etype is DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _Abort("Spec.Syntax",
                             "more than one YAML document ('---') in one file; split them into separate files",
                             _line(event))
            continue
        elif etype is StreamEndEvent:
            break
        else:
            continue

        # place the finished value into the open collection
        if obj is None:
            root = value
            root_line = _line(source)
        elif is_map:
            if key is _NOKEY:
                key = value
                key_event = source
            else:
                k = key
                key = _NOKEY
                if type(k) is str:
                    if k in obj:
                        first = f" (first at line {lines[k]})" if lines is not None and k in lines else ""
                        err("Spec.DuplicateKey",
                            f"key '{_show(k)}' appears twice in the same mapping{first}; each key may appear only once",
                            key_event)
                    obj[k] = value
                    if lines is not None:
                        lines[k] = _line(key_event)
                elif k is _MERGE:
                    if merges is None:
                        merges = []
                    merges.append((value, key_event))
                else:
                    _key_type_error(k, key_event, depth, err)
        else:
            obj.append(value)

    if documents == 0:
        return _Parsed(None, None, {}, {})
    return _Parsed(root, root_line, kind_lines, name_lines)


def _key_type_error(key: Any, event: Any, depth: int, err) -> None:
    where = "kind" if depth == 1 else "key"
    raw = getattr(event, "value", None)
    if isinstance(key, bool):
        err("Spec.KeyType",
            f"{where} {raw!r} was read as the boolean {str(key).lower()} (YAML 1.1 reads unquoted "
            f"yes/no/on/off/true/false as booleans); quote it: \"{raw}\"",
            event)
    elif raw == "" and key is None:
        err("Spec.KeyType", f"{where} is empty (null); keys must be non-empty strings", event)
    elif isinstance(raw, str) and not isinstance(key, (dict, list)):
        err("Spec.KeyType",
            f"{where} {raw!r} was read as {_describe(key)}; keys must be strings, quote it: \"{_show(raw)}\"",
            event)
    else:
        err("Spec.KeyType", f"{where} is {_describe(key)}; keys must be strings", event)


def _apply_merges(obj: dict, merges: list, err) -> dict:
    """YAML merge keys (``<<: *base``) as PyYAML applies them: explicit keys win, then
    later merge keys over earlier ones, then earlier list items over later ones."""
    combined: dict = {}
    for source, key_event in merges:
        if type(source) is dict:
            sources = [source]
        elif type(source) is list and all(type(item) is dict for item in source):
            sources = list(reversed(source))
        else:
            err("Spec.NotAMapping",
                f"the value of a merge key '<<' must be a mapping or a list of mappings, not {_describe(source)}",
                key_event)
            continue
        for item in sources:
            combined.update(item)
    if not combined:
        return obj
    combined.update(obj)
    return combined


class _YamlLocator:
    """A light line map of one YAML file: mapping -> {key: (line, child)}, sequence ->
    [(line, child)], scalar -> None. Built once, on first use, from the event stream."""

    def __init__(self, text: str):
        self.root = self._build(text)

    @staticmethod
    def _build(text: str):
        mark_line = _mark_liner(text)
        loader = _Loader(text)
        try:
            get_event = loader.get_event
            stack: list = []
            node: Any = None
            is_map = False
            key: Any = _NOKEY
            key_line = None
            merges: list | None = None
            anchor = None
            start_line = None
            anchors: dict = {}
            root = None
            while True:
                event = get_event()
                etype = type(event)
                if etype is ScalarEvent:
                    child = None
                    line = mark_line(event.start_mark)
                    value: Any = event.value
                    if (is_map and key is _NOKEY and value == "<<" and event.tag is None
                            and event.implicit[0]):
                        value = _MERGE
                    if event.anchor is not None:
                        anchors[event.anchor] = None
                elif etype is MappingStartEvent or etype is SequenceStartEvent:
                    if len(stack) >= MAX_DEPTH:  # not what was loaded: give up
                        return None
                    stack.append((node, is_map, key, key_line, merges, anchor, start_line))
                    node, is_map = ({}, True) if etype is MappingStartEvent else ([], False)
                    key, key_line, merges = _NOKEY, None, None
                    anchor = event.anchor
                    start_line = mark_line(event.start_mark)
                    continue
                elif etype is MappingEndEvent or etype is SequenceEndEvent:
                    child = node
                    if merges:
                        for source in merges:
                            for item in (source if isinstance(source, list) else [source]):
                                if isinstance(item, tuple):
                                    item = item[1]
                                if isinstance(item, dict):
                                    for k, v in item.items():
                                        child.setdefault(k, v)
                    if anchor is not None:
                        anchors[anchor] = child
                    line = start_line
                    node, is_map, key, key_line, merges, anchor, start_line = stack.pop()
                    value = _NOKEY
                elif etype is AliasEvent:
                    child = anchors.get(event.anchor)
                    line = mark_line(event.start_mark)
                    value = _NOKEY
                elif etype is StreamEndEvent:
                    break
                elif etype is DocumentStartEvent and root is not None:
                    break
                else:
                    continue
                if node is None:
                    root = (line, child)
                elif is_map:
                    if key is _NOKEY:
                        key, key_line = (value if value is not _NOKEY else _NOKEY_COLLECTION), line
                    else:
                        if key is _MERGE:
                            if merges is None:
                                merges = []
                            merges.append(child)
                        else:
                            try:
                                node[key] = (key_line, child)
                            except TypeError:
                                pass
                        key = _NOKEY
                else:
                    node.append((line, child))
            return root
        finally:
            loader.dispose()

    def locate(self, path: tuple) -> int | None:
        if self.root is None:
            return None
        line, node = self.root
        found = None
        for element in path:
            if type(node) is dict:
                try:
                    entry = node.get(element)
                except TypeError:
                    break
            elif type(node) is list and type(element) is int and 0 <= element < len(node):
                entry = node[element]
            else:
                break
            if entry is None:
                break
            line, node = entry
            found = line
        return found


_NOKEY_COLLECTION = object()  # a mapping or sequence used as a key: never matches a path


# --------------------------------------------------------------------------------------------
# JSON


_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)
# every ASCII character but brackets and quotes deleted; non-ASCII ones can only be in strings
_JSON_KEEP_BRACKETS = {i: None for i in range(128) if chr(i) not in '[]{}"'}
_JSON_BARE_STRING = re.compile(r'"[^"]*"')
_JSON_INNERMOST = re.compile(r"\[\]|\{\}")


def _parse_json(text: str, display: str, errors: list) -> _Parsed | None:
    if not text.strip():
        return _Parsed(None, None, None, None)
    duplicates = False

    def pairs_hook(pairs: list) -> dict:
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
    root_line = _line_at(text, _JSON_WS.match(text).end())
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
            seen: set = set()
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

    def __init__(self, text: str):
        self.text = text
        self.scan = json.JSONDecoder().scan_once
        self._objects: dict[int, dict] = {}
        self._arrays: dict[int, list] = {}

    def skip_ws(self, pos: int) -> int:
        return _JSON_WS.match(self.text, pos).end()

    def line(self, pos: int) -> int:
        return _line_at(self.text, pos)

    def object_entries(self, pos: int) -> list[tuple[str, int, int]]:
        text = self.text
        entries = []
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

    def locate(self, path: tuple) -> int | None:
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
