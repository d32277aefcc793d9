"""Spec files -> one merged document, with file:line for every error.

A spec folder holds any number of ``*.yaml``, ``*.yml`` and ``*.json`` files (searched
recursively; hidden files and folders are skipped; processed in sorted order of their path
relative to the folder, with ``/`` separators). Each file's top level is a mapping of *kinds*:

* ``ipam`` and ``provider`` are singletons: a mapping of fields, defined in at most one file;
* every other kind (``pools``, ``vpcs``, ...) maps resource names to mappings of fields, and is
  merged across files: a name may be defined once per kind.

Field contents are validated elsewhere; this module reads, merges and locates. It is the entry
point; the rules live in modules named by what they produce:

* ``source_files``: finding spec files and reading them safely; ``source_limits``: the limits;
* ``source_yaml``: YAML text -> data from libyaml's event stream, every safety rule checked on
  the way; ``source_yaml_scalars``: what a plain YAML scalar means (YAML 1.1 types);
  ``source_yaml_fast``: the same data, three times faster, from yaml-rs for the plain files
  where it provably reads the same (the others, and every error, go to ``source_yaml``);
* ``source_json``: JSON text -> data, and JSON line maps;
* ``source_merge``: one file's content merged into the document (kinds, singletons, names);
* ``source_document``: :class:`SpecDocument` and its index of origins and declaration order;
* ``source_yaml_lines``, ``source_lines``, ``source_messages``: YAML line maps, line counting,
  and how user text is shown in messages.

Lines are resolved lazily: :meth:`SpecDocument.locate` re-reads the one file concerned and
builds a light line map of it only when an error needs a line the loader did not record.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError, SpecError, raise_all
from reconciler.source.document import (
    SCALAR_KINDS,
    SINGLETON_KINDS,
    SpecDocument,
    _Index,
)
from reconciler.source.files import (
    _decode,
    _discover,
    _display,
    _FileProblem,
    _read_bytes,
)
from reconciler.source.json_text import _json_depth_exceeds, _JsonLocator, _parse_json
from reconciler.source.limits import (
    MAX_ALIAS_NODES,
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    SPEC_SUFFIXES,
)
from reconciler.source.merge import _merge, _Parsed
from reconciler.source.messages import _INTERNAL, _describe, _show
from reconciler.source.yaml_events import _Loader, _parse_yaml
from reconciler.source.yaml_fast import parse_yaml_fast
from reconciler.source.yaml_lines import _YamlLocator

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

# ``_Loader``, ``_read_bytes``, ``parse_yaml_fast`` and ``_YamlLocator`` are looked up in this
# module when called, so that a test can swap the YAML parser, the file reader, the fast path or
# the line maps here; with another parser than libyaml's, the fast path (which stands in for it)
# is left out.
_DEFAULT_LOADER = _Loader
# names that were defined here before the split, still importable from here
_REEXPORTED = (SCALAR_KINDS, _INTERNAL, _json_depth_exceeds)


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
    index.make_locator = _make_locator
    data: dict[str, Any] = {}
    files: list[str] = []
    counter = 0
    jobs = [(open_path, show(given_path), rel.lower().endswith(".json")) for rel, given_path, open_path in found]
    for (open_path, display, is_json), (parsed, own) in zip(jobs, _load_files(jobs)):
        errors.extend(own)
        if parsed is None:
            continue
        file_i = len(files)
        files.append(display)
        index.paths.append((Path(open_path), is_json, parsed.stamp))
        counter = _merge(parsed, file_i, display, data, index, counter, errors, files)

    raise_all(errors)
    return SpecDocument(data=data, files=tuple(files), _index=index)


def _load_files(jobs: list[tuple[str, str, bool]]) -> list[tuple[_Parsed | None, list[ReconcilerError]]]:
    """:func:`_load_file` of each ``(path, display, is_json)``, with its own problems, in order. Two
    threads when there are several files: the YAML parser (yaml-rs) lets go of the interpreter while
    it parses, so one file parses while the other's result is checked."""
    def one(job: tuple[str, str, bool]) -> tuple[_Parsed | None, list[ReconcilerError]]:
        own: list[ReconcilerError] = []
        return _load_file(*job, own), own

    if len(jobs) > 1:
        from concurrent.futures import ThreadPoolExecutor

        try:
            with ThreadPoolExecutor(2) as pool:
                return list(pool.map(one, jobs))
        except RuntimeError:  # no thread to be had (e.g. under a tight address-space limit): one by one
            pass
    return [one(job) for job in jobs]


def _load_file(path: str, display: str, is_json: bool, errors: list[ReconcilerError]) -> _Parsed | None:
    """Parse one file; its problems go to ``errors``. None when nothing usable came out."""
    try:
        raw, stamp = _read_bytes(path)
        text = _decode(raw)
    except _FileProblem as problem:
        errors.append(SpecError(problem.code, problem.detail, file=display, line=problem.line))
        return None
    own: list[ReconcilerError] = []
    try:
        if is_json:
            parsed = _parse_json(text, display, own)
        else:
            parsed = parse_yaml_fast(text) if _Loader is _DEFAULT_LOADER else None
            if parsed is None:
                parsed = _parse_yaml(text, display, own, _Loader)
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


def _make_locator(text: str, is_json: bool) -> _JsonLocator | _YamlLocator:
    """The line map of one file's text, built when an error needs a line."""
    if is_json:
        return _JsonLocator(text)
    if _Loader is _DEFAULT_LOADER:
        return _YamlLocator(text)
    return _YamlLocator(text, _Loader)
