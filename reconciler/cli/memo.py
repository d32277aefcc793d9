"""The whole-plan memo: a no-change ``ipamctl plan`` answered without planning again.

After a plain ``plan`` (no ``--out``, ``--json``, ``--markdown``, ``--refresh``, ``--reserve``) on the
local backend finds no changes, and made no read outside the workspace's files (no cloud read:
managed ENIs, discovery, imports; no external pool), its output is kept in ``state/plan.memo`` with
a key: the SHA-256 of

* the memo's own format and this ipamctl's source (every file of the installed package),
* every file under ``specs/`` (path and bytes; the provider settings are in them),
* every file under ``state/`` but the memo and the lock (path and bytes: the state, its journal and
  lineage, the sandbox database when it sits there),
* the options that change the output (colour, ``--detailed-exitcode``).

The next plain ``plan`` whose key is the same prints the kept output, before the planner's modules
are even imported (:func:`answer`, called by the process's entry point). Anything else plans in full:
another key, another option, a memo that is not whole, ``plan --full``. Not for the postgres backend
(its state is in the database: reading it costs the connection the memo would save) -- a plan there
always plans. A sandbox database outside ``state/`` keeps the memo from being written, as its
appearance would change what discovery reads.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

MEMO = "plan.memo"
_LOCK = ".lock"
_FORMAT = b"ipamctl plan memo 1\n"
_PACKAGE = Path(__file__).resolve().parent.parent  # the reconciler package


def _files(folder: Path, skip: frozenset[str] = frozenset()) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        out += [Path(dirpath) / f for f in sorted(filenames) if f not in skip]
    return out


def _feed(h: "hashlib._Hash", label: bytes, folder: Path, skip: frozenset[str] = frozenset()) -> None:
    h.update(label)
    for path in _files(folder, skip):
        data = path.read_bytes()
        name = str(path.relative_to(folder)).encode("utf-8", "surrogateescape")
        h.update(b"%d:%s%d:" % (len(name), name, len(data)))
        h.update(data)


def key(root: Path, *, colour: bool, detailed: bool, package: Path = _PACKAGE) -> str:
    """The memo's key for a plain ``plan`` of the workspace at ``root`` (see the module doc)."""
    h = hashlib.sha256(_FORMAT)
    _feed(h, b"package\n", package)
    _feed(h, b"specs\n", root / "specs")
    _feed(h, b"state\n", root / "state", frozenset({MEMO, _LOCK}))
    h.update(b"options %d %d\n" % (colour, detailed))
    return h.hexdigest()


def path(root: Path) -> Path:
    return root / "state" / MEMO


def lookup(root: Path, memo_key: str) -> tuple[int, bytes] | None:
    """The exit code and output kept for ``memo_key``, or None."""
    try:
        data = path(root).read_bytes()
    except OSError:
        return None
    head, sep, text = data.partition(b"\n\n")
    fields = head.split(b" ")
    if not sep or len(fields) != 4 or fields[0] != b"memo" or fields[1] != memo_key.encode():
        return None
    try:
        code, length = int(fields[2]), int(fields[3])
    except ValueError:
        return None
    return (code, text) if len(text) == length else None  # (a memo cut short is not one)


def record(memo_key: str, code: int, text: bytes) -> bytes:
    """The memo file's bytes."""
    return b"memo %s %d %d\n\n" % (memo_key.encode(), code, len(text)) + text


def utf8_stdout() -> bool:
    """The memo keeps UTF-8 bytes: it answers, and is kept, only where stdout writes UTF-8."""
    return (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "") == "utf8"


def snapshot(root: Path) -> list[tuple[str, int, int]]:
    """Every keyed workspace file's path, size and time of change: taken before a plan and compared
    after it, so a file changed while planning never gets the output of its other bytes."""
    out = []
    for folder, skip in ((root / "specs", frozenset()), (root / "state", frozenset({MEMO, _LOCK}))):
        for p in _files(folder, skip):
            try:
                st = p.stat()
            except OSError:  # (a broken link, a file gone: the plan reports it; such a plan keeps no memo)
                out.append((str(p), -1, -1))
                continue
            out.append((str(p), st.st_size, st.st_mtime_ns))
    return out


def keep(root: Path, before: list[tuple[str, int, int]], *, colour: bool, detailed: bool, code: int,
         text: str) -> None:
    """Keep a no-change plain plan's output; nothing when a keyed file changed while it planned, or when
    the memo cannot be written (a read-only workspace plans as before)."""
    from reconciler.cli.files import write_output
    from reconciler.errors import ReconcilerError

    try:
        memo_key = key(root, colour=colour, detailed=detailed)
        if snapshot(root) != before:
            return
        write_output(path(root), record(memo_key, code, text.encode("utf-8")))
    except (OSError, ReconcilerError):
        pass


def _plain_plan(argv: list[str]) -> tuple[Path, bool, bool] | None:
    """``plan`` with only ``-C DIR``, ``--no-color`` and ``--detailed-exitcode``: the workspace, the
    colour and the flag; anything else (another option, a typo) is for the full CLI to parse."""
    root, colour, detailed, seen_plan = Path("."), True, False, False
    args = iter(argv)
    for arg in args:
        if arg in ("-C", "--chdir"):
            value = next(args, None)
            if value is None or seen_plan:
                return None
            root = Path(value)
        elif arg.startswith("--chdir=") and not seen_plan:
            root = Path(arg.split("=", 1)[1])
        elif arg == "--no-color" and not seen_plan:
            colour = False
        elif arg == "plan" and not seen_plan:
            seen_plan = True
        elif arg == "--detailed-exitcode" and seen_plan:
            detailed = True
        else:
            return None
    return (root, colour and sys.stdout.isatty(), detailed) if seen_plan else None


def answer(argv: list[str]) -> int | None:
    """Print the kept output of this plain ``plan`` and return its exit code; None to plan in full."""
    plain = _plain_plan(argv)
    if plain is None or not utf8_stdout():
        return None
    root, colour, detailed = plain
    if not (root / "state" / MEMO).is_file():
        return None
    try:
        found = lookup(root, key(root, colour=colour, detailed=detailed))
    except OSError:
        return None  # (an unreadable file: the full plan reports it properly)
    if found is None:
        return None
    code, text = found
    try:
        sys.stdout.buffer.write(text)
        sys.stdout.flush()
    except OSError:  # (a closed pipe: nothing more to say, and no traceback)
        return 1
    return code
