"""The state journal: completed changes not yet folded into the snapshot, one JSON line each.

Line format (compact JSON, sorted keys, ``\\n``-terminated)::

    {"address": "ipam_pool.hz", "checksum": "<sha256 hex>", "lineage": "<uuid>",
     "record": {...} | null, "serial": 7}

``checksum`` is the sha256 hex of the canonical JSON (compact, sorted keys) of the other four
fields. ``serial`` is the state serial after the change; entries are consecutive.

Reading tolerates exactly one kind of damage: a torn final line (no trailing newline, or a
line that fails to parse or verify with nothing after it) is what a crash in the middle of an
append leaves, and is ignored. Damage anywhere else is corruption.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
import orjson

from reconciler.errors import StateError
from reconciler.state import canonical_bytes, record_problem, sha256_hex


@dataclass(frozen=True)
class JournalEntry:
    lineage: str
    serial: int
    address: str
    record: dict | None


@dataclass(frozen=True)
class JournalContents:
    entries: list[JournalEntry]
    torn: bool  # a torn final line was found (and ignored)
    size: int  # bytes in the file


def encode_entry(entry: JournalEntry) -> bytes:
    body = {"address": entry.address, "lineage": entry.lineage, "record": entry.record, "serial": entry.serial}
    line = dict(body, checksum=sha256_hex(canonical_bytes(body)))
    return canonical_bytes(line) + b"\n"


def decode_entry(line: bytes) -> JournalEntry:
    """Parse and verify one line (without its newline); ValueError says what is wrong."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or set(doc) != {"address", "checksum", "lineage", "record", "serial"}:
        raise ValueError("not a journal entry object")
    checksum = doc.pop("checksum")
    if checksum != sha256_hex(canonical_bytes(doc)):
        raise ValueError("checksum mismatch")
    lineage, serial, address, record = doc["lineage"], doc["serial"], doc["address"], doc["record"]
    if not isinstance(lineage, str) or type(serial) is not int or serial < 1:
        raise ValueError("bad lineage or serial")
    if record is None:
        problem = None if isinstance(address, str) and "." in address else f"address {address!r} is not TYPE.NAME"
    else:
        problem = record_problem(address, record)
    if problem:
        raise ValueError(problem)
    return JournalEntry(lineage, serial, address, record)


def parse_journal(data: bytes, where: str) -> JournalContents:
    """Entries of a journal's bytes. ``where`` names the file in ValueError messages."""
    lines = data.split(b"\n")
    torn = lines[-1] != b""  # the last write did not finish its line
    lines = lines[:-1]
    entries: list[JournalEntry] = []
    for number, line in enumerate(lines, start=1):
        try:
            entries.append(decode_entry(line))
        except ValueError as exc:
            if number == len(lines) and not torn:
                torn = True  # a complete but damaged final line: the torn tail of a crashed append
                break
            raise ValueError(f"{where} line {number} is damaged ({exc}) and changes follow it") from None
    return JournalContents(entries, torn, len(data))


def read_journal(path: Path) -> JournalContents | None:
    """The journal at ``path``, or None when there is none. ValueError on damage."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError("State.ReadFailed", f"cannot read {path}: {exc}") from exc
    return parse_journal(data, str(path))


class JournalWriter:
    """Appends entries to a journal file, each flushed and fsynced before ``append`` returns.

    After a failed append the file is cut back to its last complete entry; if even that fails
    the writer refuses further appends (the torn tail is dropped by the next snapshot write).
    """

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None
        self._size = 0
        self._broken: str | None = None

    def _open(self) -> int:
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            self._size = os.fstat(fd).st_size
            if created:
                fsync_dir(self.path.parent)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def append(self, entry: JournalEntry) -> None:
        if self._broken:
            raise StateError("State.WriteFailed", f"{self.path}: no more changes can be recorded: {self._broken}")
        line = encode_entry(entry)
        try:
            if self._fd is None:
                self._fd = self._open()
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as exc:
            self._recover(exc)
            raise StateError(
                "State.WriteFailed",
                f"cannot record the change to {entry.address} (serial {entry.serial}) in {self.path}: "
                f"{errno.errorcode.get(exc.errno or 0, '')} {exc}; the change was made but is NOT recorded "
                "in the state, so it must be imported or re-applied once the disk is fixed",
                address=entry.address,
            ) from exc
        self._size += len(line)

    def _recover(self, exc: OSError) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, self._size)
            os.fsync(self._fd)
        except OSError as again:
            self._broken = f"an earlier append failed ({exc}) and the journal could not be cut back ({again})"

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["JournalEntry", "JournalContents", "JournalWriter", "encode_entry", "decode_entry", "parse_journal",
           "read_journal", "fsync_dir"]
