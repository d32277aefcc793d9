"""The state journal: what an apply did (and is about to do) that the snapshot does not hold yet.

One JSON line per record (compact, sorted keys, ``\\n``-terminated), each with ``checksum``: the
sha256 hex of the canonical JSON (compact, sorted keys) of the line's other fields. Four kinds:

change (no ``kind``; written by ``StateTransaction.record``)::

    {"address": "ipam_pool.hz", "checksum": ..., "lineage": ..., "record": {...} | null, "serial": 7}

intent -- a cloud call about to be made, durable (fsynced) before the call::

    {"actions": [<PlannedAction.to_dict()>, ...], "api": "CreateVpc", "boot": "<boot id>" | null,
     "checksum": ..., "intent": 12, "kind": "intent", "lineage": ..., "provider": {"type": "sandbox", ...},
     "token": "<ClientToken>"}

(``boot``: the machine's boot id when the intent was written; see :func:`boot_id`.)

done -- the call of intent 12 succeeded; the records it produced (serial: after the last one)::

    {"changes": [{"address": ..., "record": {...} | null}, ...], "checksum": ..., "intent": 12,
     "kind": "done", "lineage": ..., "serial": 9}

cancel -- these intents were not carried out (refused, or never started) and never will be::

    {"checksum": ..., "intents": [13, 14], "kind": "cancel", "lineage": ..., "reason": "..."}

An intent with neither a done line nor a cancel line is *pending*: its call may or may not have
happened, and recovery re-issues it with the same ClientToken (see :mod:`reconciler.apply.recovery`).
Change serials (of change lines and of each change of a done line) are consecutive.

Reading tolerates exactly one kind of damage: a torn final line (no trailing newline, or a line
that fails to parse or verify with nothing after it) is what a crash in the middle of an append
leaves, and is ignored. Damage anywhere else is corruption.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from reconciler import faults
from reconciler.errors import StateError
from reconciler.states.state import canonical_bytes, record_problem, sha256_hex


@dataclass(frozen=True)
class JournalEntry:
    lineage: str
    serial: int
    address: str
    record: dict | None


@dataclass(frozen=True)
class Intent:
    n: int  # numbers intents within a journal, increasing
    lineage: str
    token: str  # the ClientToken the call carries, re-used verbatim by recovery
    api: str
    actions: tuple  # PlannedAction.to_dict() of each action the call carries (a batch has several)
    provider: dict  # provider settings the call went through
    boot: str | None = None  # boot id of the machine that wrote it


@dataclass(frozen=True)
class JournalContents:
    entries: list[JournalEntry]  # every change, in order (those of done lines flattened)
    torn: bool  # a torn final line was found (and ignored)
    size: int  # bytes in the file
    intents: list[Intent] = field(default_factory=list)
    resolved: frozenset[int] = frozenset()  # intents with a done or cancel line

    @property
    def pending(self) -> list[Intent]:
        return [i for i in self.intents if i.n not in self.resolved]

    @property
    def last_intent(self) -> int:
        return self.intents[-1].n if self.intents else 0


def _line(body: dict) -> bytes:
    """``canonical_bytes(dict(body, checksum=sha256_hex(canonical_bytes(body)))) + b"\\n"``, serialising
    ``body`` once: the keys sorting before "checksum" and those after it are serialised apart, and the
    checksum is put between them (the keys are ASCII, so str order is the canonical byte order)."""
    lo = canonical_bytes({k: v for k, v in body.items() if k < "checksum"})[1:-1]
    hi = canonical_bytes({k: v for k, v in body.items() if k > "checksum"})[1:-1]
    digest = sha256_hex(b"{" + b",".join(p for p in (lo, hi) if p) + b"}")
    return b"{" + b",".join(p for p in (lo, b'"checksum":"' + digest.encode() + b'"', hi) if p) + b"}\n"


def encode_entry(entry: JournalEntry) -> bytes:
    return _line({"address": entry.address, "lineage": entry.lineage, "record": entry.record, "serial": entry.serial})


def encode_intent(intent: Intent) -> bytes:
    return _line({"kind": "intent", "intent": intent.n, "lineage": intent.lineage, "token": intent.token,
                  "api": intent.api, "actions": list(intent.actions), "provider": intent.provider,
                  "boot": intent.boot})


def encode_done(lineage: str, n: int, serial: int, changes: list[tuple[str, dict | None]]) -> bytes:
    return _line({"kind": "done", "intent": n, "lineage": lineage, "serial": serial,
                  "changes": [{"address": a, "record": r} for a, r in changes]})


def encode_done_bytes(lineage: str, n: int, serial: int, changes: list[tuple[str, bytes]]) -> bytes:
    """:func:`encode_done` byte for byte, from each record's canonical bytes (``b"null"`` for a removal)
    serialised once by the caller. The checksum is taken over the line's canonical body as always."""
    items = b",".join(b'{"address":' + canonical_bytes(a) + b',"record":' + r + b"}" for a, r in changes)
    rest = canonical_bytes({"intent": n, "kind": "done", "lineage": lineage, "serial": serial})[1:]
    head = b'{"changes":[' + items + b"],"  # "changes" < "checksum" < "intent": the keys stay sorted
    return head + b'"checksum":"' + sha256_hex(head + rest).encode() + b'",' + rest + b"\n"


def encode_cancel(lineage: str, ns: list[int], reason: str) -> bytes:
    return _line({"kind": "cancel", "intents": list(ns), "lineage": lineage, "reason": reason})


_KEYS = {
    None: {"address", "lineage", "record", "serial"},
    "intent": {"kind", "intent", "lineage", "token", "api", "actions", "provider", "boot"},
    "done": {"kind", "intent", "lineage", "serial", "changes"},
    "cancel": {"kind", "intents", "lineage", "reason"},
}


def _change_problem(address, record) -> str | None:
    if record is None:
        return None if isinstance(address, str) and "." in address else f"address {address!r} is not TYPE.NAME"
    return record_problem(address, record)


def _positive(value) -> bool:
    return type(value) is int and value >= 1


def decode_line(line: bytes):
    """Parse and verify one line (without its newline): a JournalEntry, an Intent, or a ``("done", n,
    [JournalEntry...])`` / ``("cancel", [n...])`` tuple. ValueError says what is wrong."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or "checksum" not in doc:
        raise ValueError("not a journal entry object")
    kind = doc.get("kind")
    if kind not in _KEYS or set(doc) != _KEYS[kind] | {"checksum"}:
        raise ValueError("not a journal entry object")
    checksum = doc.pop("checksum")
    if checksum != sha256_hex(canonical_bytes(doc)):
        raise ValueError("checksum mismatch")
    lineage = doc["lineage"]
    if not isinstance(lineage, str):
        raise ValueError("bad lineage")
    if kind is None:
        serial, address, record = doc["serial"], doc["address"], doc["record"]
        if not _positive(serial):
            raise ValueError("bad lineage or serial")
        problem = _change_problem(address, record)
        if problem:
            raise ValueError(problem)
        return JournalEntry(lineage, serial, address, record)
    if kind == "intent":
        actions, provider = doc["actions"], doc["provider"]
        if (not _positive(doc["intent"]) or not isinstance(doc["token"], str) or not isinstance(doc["api"], str)
                or not isinstance(actions, list) or not actions or not all(isinstance(a, dict) for a in actions)
                or not isinstance(provider, dict) or not isinstance(doc["boot"], (str, type(None)))):
            raise ValueError("bad intent")
        return Intent(doc["intent"], lineage, doc["token"], doc["api"], tuple(actions), provider, doc["boot"])
    if kind == "done":
        serial, changes = doc["serial"], doc["changes"]
        if not _positive(doc["intent"]) or not isinstance(changes, list) or type(serial) is not int \
                or serial < len(changes):
            raise ValueError("bad done line")
        entries = []
        for i, change in enumerate(changes):
            if not isinstance(change, dict) or set(change) != {"address", "record"}:
                raise ValueError("bad change in done line")
            problem = _change_problem(change["address"], change["record"])
            if problem:
                raise ValueError(problem)
            entries.append(JournalEntry(lineage, serial - len(changes) + 1 + i, change["address"], change["record"]))
        return ("done", doc["intent"], entries)
    ns = doc["intents"]
    if not isinstance(ns, list) or not all(_positive(n) for n in ns) or not isinstance(doc["reason"], str):
        raise ValueError("bad cancel line")
    return ("cancel", ns)


def decode_entry(line: bytes) -> JournalEntry:
    """Parse and verify one change line (without its newline); ValueError says what is wrong."""
    item = decode_line(line)
    if not isinstance(item, JournalEntry):
        raise ValueError("not a change entry")
    return item


def parse_journal(data: bytes, where: str) -> JournalContents:
    """Contents of a journal's bytes. ``where`` names the file in ValueError messages."""
    lines = data.split(b"\n")
    torn = lines[-1] != b""  # the last write did not finish its line
    lines = lines[:-1]
    entries: list[JournalEntry] = []
    intents: dict[int, Intent] = {}
    resolved: set[int] = set()
    last = 0
    for number, line in enumerate(lines, start=1):
        try:
            item = decode_line(line)
            if isinstance(item, Intent):
                if item.n <= last:
                    raise ValueError(f"intent {item.n} does not follow intent {last}")
                intents[item.n], last = item, item.n
            elif isinstance(item, JournalEntry):
                entries.append(item)
            else:
                ns = [item[1]] if item[0] == "done" else item[1]
                unknown = [n for n in ns if n not in intents]
                if unknown:
                    raise ValueError(f"it resolves intent {unknown[0]}, which is not in the journal")
                if item[0] == "done":
                    if item[1] in resolved:
                        raise ValueError(f"intent {item[1]} is resolved twice")
                    entries.extend(item[2])
                resolved.update(ns)
        except ValueError as exc:
            if number == len(lines) and not torn:
                torn = True  # a complete but damaged final line: the torn tail of a crashed append
                break
            raise ValueError(f"{where} line {number} is damaged ({exc}) and changes follow it") from None
    return JournalContents(entries, torn, len(data), list(intents.values()), frozenset(resolved))


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
    """Appends lines to a journal file. ``append`` writes and fsyncs; ``write`` only writes (the page
    cache survives a killed process, not a power cut) and a later ``append``/``sync`` makes it durable.

    After a failed write the file is cut back to its last complete line; if even that fails the
    writer refuses further writes (the torn tail is dropped by the next snapshot write).
    """

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None
        self._size = 0
        self._dirty = False
        self._broken: str | None = None

    def reopened(self) -> "JournalWriter":
        """The writer to go on with after a snapshot write replaced the journal: one on the new file."""
        return JournalWriter(self.path)

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

    def write(self, data: bytes, *, sync: bool = False, what: str = "a change", address: str | None = None) -> None:
        if self._broken:
            raise StateError("State.WriteFailed", f"{self.path}: no more changes can be recorded: {self._broken}")
        try:
            if self._fd is None:
                self._fd = self._open()
            faults.write_all(self._fd, data)
            if sync:
                os.fsync(self._fd)
                faults.synced(self._size + len(data))
        except OSError as exc:
            self._recover(exc)
            raise StateError("State.WriteFailed", f"cannot record {what} in {self.path}: "
                             f"{errno.errorcode.get(exc.errno or 0, '')} {exc}", address=address) from exc
        self._size += len(data)
        self._dirty = not sync

    def append(self, entry: JournalEntry) -> None:
        try:
            self.write(encode_entry(entry), sync=True, address=entry.address,
                       what=f"the change to {entry.address} (serial {entry.serial})")
        except StateError as exc:
            raise StateError(exc.code, f"{exc.detail}; the change was made but is NOT recorded in the state, so it "
                             "must be imported or re-applied once the disk is fixed", address=entry.address) from exc

    def sync(self) -> None:
        """Make everything written so far durable."""
        if self._fd is not None and self._dirty:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise StateError("State.WriteFailed", f"cannot make {self.path} durable: {exc}") from exc
            faults.synced(self._size)
            self._dirty = False

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


def boot_id() -> str | None:
    """This boot of this machine (Linux), or None when it cannot be told. Lines written to a file
    and not fsynced survive a killed process but not a reboot, so recovery trusts the journal's
    unsynced tail only when its intents were written in the current boot."""
    if faults.BOOT_ID:
        return faults.BOOT_ID
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def split_pending(pending: list[Intent]) -> tuple[list[Intent], list[Intent]]:
    """(the pending intents whose calls may have been made, those known never started).

    Calls are made one at a time and each result is written before the next call starts; written
    lines survive a killed process. So when the intents were written in this boot, only the first
    pending one can have been started. After a reboot (or without a boot id) any of them may."""
    current = boot_id()
    if current is not None and all(i.boot == current for i in pending):
        return pending[:1], pending[1:]
    return pending, []


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["JournalEntry", "JournalContents", "JournalWriter", "Intent", "encode_entry", "encode_intent",
           "encode_done", "encode_done_bytes", "encode_cancel", "decode_entry", "decode_line", "parse_journal", "read_journal", "boot_id", "split_pending",
           "fsync_dir"]
