"""Files of the local state backend: writing a new file durably, the lineage file's content, the
temp files a killed write leaves. (The backend itself, and what each file holds: local.py.)"""

from __future__ import annotations

import os
import re
from pathlib import Path

from reconciler import faults
from reconciler.errors import StateError
from reconciler.states.state import parse_state

_LINEAGE_MAX = 200  # characters: a uuid4 is 36


def parse_lineage(data: bytes, path: Path, snapshot_name: str) -> str:
    """The lineage a ``state/lineage`` file holds (one line); ``State.Corrupt`` when it holds none."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        text = ""
    lineage = text.removesuffix("\n")
    if not lineage or len(lineage) > _LINEAGE_MAX or not lineage.isprintable() or " " in lineage:
        raise StateError("State.Corrupt", f"{path} is damaged: it is not one line holding a "
                         f"lineage ({len(data)} bytes). It keeps the lineage saved plans of this workspace are "
                         f"bound to; there is no {snapshot_name} yet, so removing it loses no state, but plans "
                         "saved here before no longer apply (make them again).")
    return lineage


def corrupt(path: Path, reason: str, snap: Path, backup: Path, journal: Path) -> StateError:
    """``State.Corrupt`` for a damaged snapshot or journal, with what the backup holds and how to restore."""
    try:
        data = backup.read_bytes()
        good = parse_state(data)
        about = (f"The backup {backup} (the snapshot before the last write) is readable: serial "
                 f"{good.serial}, {len(good.resources)} resource(s), lineage {good.lineage}.")
    except FileNotFoundError:
        about = f"There is no backup ({backup} does not exist)."
    except (ValueError, OSError, StateError) as exc:
        about = f"The backup {backup} is not readable either ({exc})."
    if path == journal:
        fix = (f"The journal holds changes recorded after the snapshot {snap}, and the intents of calls "
               f"in flight. To read the snapshot alone, move the journal aside (`mv {path} {path}.damaged`), "
               "then compare its damaged lines and its intents (calls that may have been made) with the "
               "cloud and import what is missing (`ipamctl plan` shows it).")
    else:
        keep = f"keep the damaged file (`cp {snap} {snap}.damaged`), then " if snap.exists() else ""
        fix = (f"To restore: {keep}"
               f"`cp {backup} {snap}` and remove {journal} if it exists; changes recorded "
               "after the backup are missing from it, so run `ipamctl plan` and import what it lacks.")
    return StateError("State.Corrupt", f"{path} is damaged: {reason}. It was NOT read as an empty state. {about} {fix}")


def remove_temps(folder: Path, pattern: re.Pattern[str]) -> list[Path]:
    """Remove the files of ``folder`` whose names match ``pattern``; what was removed."""
    removed: list[Path] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if pattern.fullmatch(name):
            path = folder / name
            try:
                os.unlink(path)
            except OSError:
                continue
            removed.append(path)
    return removed


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_mtime_ns


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        faults.write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _write_failed(path: Path, exc: OSError, outcome: str) -> StateError:
    return StateError("State.WriteFailed", f"cannot write {path}: {exc}; {outcome}")
