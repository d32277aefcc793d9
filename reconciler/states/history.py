"""The monitoring history a state backend keeps: one sample (a JSON object) per ``report --history`` or
``drift --history`` run, bounded by age and by count, never rewritten in place.

The local backend keeps it in ``state/report-history.jsonl`` (:class:`LocalHistory`): one line per
sample, written with one append under an exclusive ``flock`` and fsynced. Retention: when the file
holds more than ``max_samples`` plus a tenth (at least 10 more), or its oldest sample is past
``max_age_days`` by a tenth (at least a day), the samples kept are written to a new file, fsynced and
renamed over it (then the folder fsynced): a crash leaves the old file or the new, never a mixture, and
the bytes of a line are never changed where they lie. Reading applies the retention exactly, so what
is read is bounded whatever the file holds. A torn last line (a crash mid-append) is skipped on
reading, and the next append starts on a fresh line.

The PostgreSQL backend keeps it in the ``history`` table (:mod:`reconciler.states.pg_history`).
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from reconciler.errors import StateError
from reconciler.states.journal import fsync_dir

HISTORY_FILE = "report-history.jsonl"


@dataclass(frozen=True)
class Retention:
    max_age_days: int = 90
    max_samples: int = 2000


class HistoryStore(Protocol):
    @property
    def description(self) -> str: ...
    def append(self, sample: dict, retention: Retention, now: datetime) -> None: ...
    def read(self, retention: Retention, now: datetime) -> list[dict]:
        """The kept samples (raw objects, oldest first), the retention applied."""
        ...

    def newest(self, retention: Retention, now: datetime) -> dict | None:
        """The newest kept sample, or None."""
        ...


def _time(entry: dict) -> datetime | None:
    try:
        t = datetime.fromisoformat(str(entry.get("timestamp")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def kept(entries: list[dict], retention: Retention, now: datetime) -> list[dict]:
    """The entries the retention keeps, oldest first (entries without a readable timestamp are dropped)."""
    cutoff = now - timedelta(days=retention.max_age_days)
    timed = [(t, i, e) for i, e in enumerate(entries) if (t := _time(e)) is not None and t >= cutoff]
    timed.sort(key=lambda x: (x[0], x[1]))
    return [e for _, _, e in timed][-retention.max_samples:]


class LocalHistory:
    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def description(self) -> str:
        return str(self.path)

    def _failed(self, exc: OSError, what: str = "nothing was recorded") -> StateError:
        return StateError("State.WriteFailed", f"cannot append to {self.path}: {exc.strerror or exc}; {what}")

    def append(self, sample: dict, retention: Retention, now: datetime) -> None:
        line = (json.dumps(sample, sort_keys=True, separators=(",", ":")) + "\n").encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = self._open_locked()
        except OSError as exc:
            raise self._failed(exc) from None
        try:
            size = os.fstat(fd).st_size
            if size:  # a torn last line from a crash: start on a fresh line
                if os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line
            os.write(fd, line)
            os.fsync(fd)
            self._compact_if_due(fd, retention, now)
        except OSError as exc:
            raise self._failed(exc, "the history file is as it was, or has this run's sample") from None
        finally:
            os.close(fd)  # (closing releases the flock)

    def _open_locked(self) -> int:
        """The history file opened for appending under an exclusive flock; reopened when a compaction
        renamed a new file over it while this run waited for the lock."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)

    def _entries(self, data: bytes) -> list[tuple[dict, bytes]]:
        out = []
        for raw in data.split(b"\n"):
            try:
                entry = json.loads(raw)
            except ValueError:
                continue  # a torn line, or not a sample
            if isinstance(entry, dict):
                out.append((entry, raw))
        return out

    def _compact_if_due(self, fd: int, retention: Retention, now: datetime) -> None:
        data = os.pread(fd, os.fstat(fd).st_size, 0)
        entries = self._entries(data)
        over = len(entries) - retention.max_samples
        oldest = min((t for e, _ in entries if (t := _time(e)) is not None), default=None)
        grace = timedelta(days=max(1.0, retention.max_age_days / 10))
        stale = oldest is not None and oldest < now - timedelta(days=retention.max_age_days) - grace
        if over <= max(10, retention.max_samples // 10) and not stale:
            return
        keep = {id(e) for e in kept([e for e, _ in entries], retention, now)}
        body = b"".join(raw + b"\n" for e, raw in entries if id(e) in keep)
        for stale_tmp in self.path.parent.glob(f".{self.path.name}.*.tmp"):  # a killed compaction's: only
            stale_tmp.unlink(missing_ok=True)  # compactions write them, under the flock this one holds
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        finally:
            if tmp.exists():
                tmp.unlink()
        fsync_dir(self.path.parent)

    def newest(self, retention: Retention, now: datetime) -> dict | None:
        found = self.read(retention, now)
        return found[-1] if found else None

    def read(self, retention: Retention, now: datetime) -> list[dict]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StateError("State.ReadFailed", f"cannot read {self.path}: {exc.strerror or exc}") from None
        return kept([e for e, _ in self._entries(data)], retention, now)
