"""Output files the CLI writes (``plan --out``, ``report --html``): one way to write them, and paths
resolved as ``-C`` says.

:func:`write_output` replaces a regular file (or creates a new one) atomically: the bytes go to a
unique temp file in the target's directory (``tempfile.mkstemp``, so two runs never share one),
are fsynced, and the temp file is renamed over the target, so a reader sees the old file or the
new one, never half of one. Anything else is written directly, as a shell redirection would:
a device (``/dev/null``, ``/dev/stdout``), a pipe or a socket is opened and written, never replaced
by a file. A symlink is followed: its target is written (by the same rule) and the link is kept.

A failure is a ``Output.WriteFailed``† error naming the path (a missing folder, no permission, a
full disk), never a traceback; a temp file left by the failure is removed.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from reconciler.errors import ReconcilerError


def resolve(root: Path, path: str | os.PathLike) -> Path:
    """``path`` as the command means it: a relative path is relative to the ``-C`` folder (``root``),
    as ``git -C`` and ``make -C`` resolve theirs; an absolute path is kept."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(root) / p


def write_output(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` (see the module doc)."""
    target = Path(path)
    try:
        real = Path(os.path.realpath(target))  # a symlink's target (the link is kept)
        try:
            mode: int | None = os.stat(real).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and not stat.S_ISREG(mode):
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(21, "Is a directory")
            _write_direct(real, data)
            return
        _write_replacing(real, data, mode)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, FileNotFoundError):
            reason = f"the folder {target.parent} does not exist"
        raise ReconcilerError("Output.WriteFailed", f"cannot write {target}: {reason}") from None


def _write_direct(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _write_replacing(path: Path, data: bytes, mode: int | None) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            # the file keeps its permissions; a new one gets what open() would give it (0666 & ~umask)
            os.fchmod(fd, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
