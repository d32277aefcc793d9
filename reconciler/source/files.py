"""Finding spec files in a folder and reading them safely (regular files only, size-limited,
UTF-8, no symlinks out of the workspace)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from reconciler.errors import ReconcilerError, SpecError
from reconciler.source.limits import MAX_FILE_BYTES, SPEC_SUFFIXES
from reconciler.source.lines import _line_at


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


def _discover(
    spec_dir: Path, errors: list[ReconcilerError], show: Callable[[str], str]
) -> list[tuple[str, str, str]]:
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


def spec_paths(spec_dir: Path, base: Path, errors: list[ReconcilerError]) -> list[tuple[str, Path]]:
    """(path as shown, path to open) of every spec file, sorted as the loader reads them (``ipamctl fmt``)."""
    return [(_display(Path(found), base), Path(opened)) for _, found, opened in
            _discover(spec_dir, errors, lambda p: _display(Path(p), base))]


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
    def __init__(self, code: str, detail: str, line: int | None = None) -> None:
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


# byte-order marks, the longer first: UTF-32 LE's (FF FE 00 00) begins with UTF-16 LE's (FF FE)
_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"),
         (b"\xfe\xff", "UTF-16"))


def _encoding_hint(raw: bytes) -> str:
    """What the bytes that are not UTF-8 look like, as advice ("" when nothing is known)."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return f"; the file looks like {name} (it starts with {name}'s byte-order mark), save it as UTF-8"
    return ""


def _decode(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", "replace")
        line = _line_at(before, len(before))
        hint = _encoding_hint(raw)
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
