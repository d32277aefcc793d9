"""The local file state backend: ``<workspace>/state/`` holding a snapshot, its backup, a journal, a lock.

Files in ``state_dir``:

* ``state.json`` -- the snapshot, :meth:`State.to_json_bytes`. Replaced atomically and durably:
  temp file in the same directory, fsync, old snapshot hard-linked to ``state.json.backup``,
  ``os.replace``, fsync of the directory.
* ``state.json.backup`` -- the snapshot before the last write. (When that snapshot was damaged,
  it is kept as ``state.json.damaged`` instead and the backup is left alone.)
* ``state.journal`` -- changes recorded by a running (or crashed) apply and not yet in the
  snapshot, and the intents of its cloud calls (see :mod:`reconciler.states.journal`). ``read()`` replays
  the changes; a snapshot write clears the journal but for the intents still pending, which it
  carries over (they are resolved only by recovery, :mod:`reconciler.apply.recovery`).
* ``.lock`` -- the workspace lock (see :mod:`reconciler.states.lock`).
* ``lineage`` -- the workspace's lineage (one line) before there is a snapshot: written once, by the
  first ``plan --out`` (:meth:`LocalStateBackend.fix_lineage`), so that a saved plan is bound to this
  workspace; the empty state reads with it, and the first snapshot keeps it.

The backend does not take the lock itself: commands that change the state hold
``backend.lock(...)`` around read-transaction-commit.
"""

from __future__ import annotations

import os
import re
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from reconciler import faults
from reconciler.errors import StateError
from reconciler.states.backend import StateVersion
from reconciler.states.history import HISTORY_FILE, LocalHistory
from reconciler.states.journal import (
    Intent,
    JournalContents,
    JournalEntry,
    JournalWriter,
    encode_intent,
    fsync_dir,
    read_journal,
    split_pending,
)
from reconciler.states.local_files import (
    _identity,
    _unlink_quietly,
    _write_failed,
    _write_new,
    corrupt,
    parse_lineage,
    remove_temps,
)
from reconciler.states.lock import LockInfo, LockStatus, WorkspaceLock
from reconciler.states.replay import replay
from reconciler.states.state import ResourceMap, State, parse_state
from reconciler.states.transaction import StateTransaction

SNAPSHOT, BACKUP, JOURNAL, LOCK = "state.json", "state.json.backup", "state.journal", ".lock"
DAMAGED = "state.json.damaged"
# the temp files of this module's writes: "." + the file's name + "." + uuid4().hex + ".tmp"
_STALE_TEMP = re.compile(r"\.(?:%s)\.[0-9a-f]{32}\.tmp" % "|".join(re.escape(n) for n in (SNAPSHOT, JOURNAL, BACKUP,
                                                                                         DAMAGED)))
LINEAGE = "lineage"


class LocalStateBackend:
    """A :class:`~reconciler.states.state.StateBackend` over files in ``state_dir`` (created when needed)."""

    def __init__(self, state_dir: Path):
        self.state_dir = Path(state_dir)
        self.snapshot_path = self.state_dir / SNAPSHOT
        self.backup_path = self.state_dir / BACKUP
        self.journal_path = self.state_dir / JOURNAL
        self.lineage_path = self.state_dir / LINEAGE
        self._lock = WorkspaceLock(self.state_dir / LOCK)

    @property
    def description(self) -> str:
        return f"the local state in {self.state_dir}"

    # -- reading -----------------------------------------------------------------------------

    def has_journal(self) -> bool:
        return self.journal_path.exists()

    def has_snapshot(self) -> bool:
        return self.snapshot_path.exists()

    def versions(self) -> list[StateVersion]:
        """The backup (the snapshot before the last write) and the snapshot: all this backend keeps."""
        out = []
        for path, current in ((self.backup_path, False), (self.snapshot_path, True)):
            state = self._read_kept(path)
            if state is not None:
                created = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                out.append(StateVersion(state.serial, state.lineage, created, len(state.resources),
                                        state.checksum(), current))
        return out

    def written_at(self) -> str | None:
        try:
            mtime = self.snapshot_path.stat().st_mtime
        except FileNotFoundError:
            return None
        if self.journal_path.exists():  # an apply records its changes there before the snapshot
            mtime = max(mtime, self.journal_path.stat().st_mtime)
        return datetime.fromtimestamp(mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def history(self) -> LocalHistory:
        return LocalHistory(self.state_dir / HISTORY_FILE)

    def read_version(self, serial: int) -> State:
        for path in (self.snapshot_path, self.backup_path):
            state = self._read_kept(path)
            if state is not None and state.serial == serial:
                return state
        kept = ", ".join(str(v.serial) for v in self.versions()) or "none"
        raise StateError("State.NoSuchVersion", f"{self.state_dir} keeps no version with serial {serial} (the local "
                         f"backend keeps the snapshot and its backup only; serials kept: {kept})")

    def _read_kept(self, path: Path) -> State | None:
        data = self._read_bytes(path)
        try:
            return None if data is None else parse_state(data)
        except ValueError as exc:
            raise self._corrupt(path, str(exc)) from None

    def read(self) -> State:
        """Snapshot plus journal; an empty State when there is neither. StateError on damage."""
        return self.read_with_intents()[0]

    def read_with_intents(self) -> tuple[State, list[Intent]]:
        """The state and the pending intents of the journal (calls that may have been made and
        whose results are not recorded: an interrupted apply's), read together."""
        for _ in range(5):  # retried if a snapshot write lands while we read (an unlocked reader)
            before = _identity(self.snapshot_path)
            state, journal = self._read_once()
            if _identity(self.snapshot_path) == before:
                break
        return state, journal.pending if journal is not None else []

    def pending_intents(self) -> list[Intent]:
        """The journal's pending intents; they are the journal's alone, so the snapshot is not read."""
        journal = self._read_journal()
        return journal.pending if journal is not None else []

    def _read_journal(self) -> JournalContents | None:
        try:
            return read_journal(self.journal_path)
        except ValueError as exc:
            raise self._corrupt(self.journal_path, str(exc)) from None

    def _read_once(self) -> tuple[State, JournalContents | None]:
        data = self._read_bytes(self.snapshot_path)
        journal = self._read_journal()
        if data is None:
            if journal is not None and journal.entries or self.backup_path.exists():
                present = "state.json.backup" if self.backup_path.exists() else "state.journal"
                raise self._corrupt(self.snapshot_path, f"it is missing although {present} exists")
            lineage = self._kept_lineage()
            return (State.empty() if lineage is None else State(lineage, 0, ResourceMap())), journal
        try:
            snapshot = parse_state(data)
        except ValueError as exc:
            raise self._corrupt(self.snapshot_path, str(exc)) from None
        if journal is None or not journal.entries:
            return snapshot, journal
        return self._replay(snapshot, journal.entries), journal

    def _kept_lineage(self) -> str | None:
        """The lineage ``state/lineage`` keeps for a workspace without a snapshot, or None."""
        data = self._read_bytes(self.lineage_path)
        if data is None:
            return None
        return parse_lineage(data, self.lineage_path, SNAPSHOT)

    def fix_lineage(self) -> str:
        """The workspace's lineage, kept from now on: the snapshot's when there is one, else the one
        ``state/lineage`` keeps, else a new one written there (a temp file, fsync, hard-linked into
        place so that it never replaces one another run wrote meanwhile, fsync of the directory).
        Only ``plan --out`` calls this: reading commands never write."""
        if self.snapshot_path.exists():
            return self.read().lineage
        kept = self._kept_lineage()
        if kept is not None:
            return kept
        tmp = self.state_dir / f".{LINEAGE}.{uuid.uuid4().hex}.tmp"
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            _write_new(tmp, (str(uuid.uuid4()) + "\n").encode())
            try:
                os.link(tmp, self.lineage_path)
            except FileExistsError:
                pass  # another run fixed it first: that one is the workspace's
            except OSError:  # no hard links here
                if not os.path.lexists(self.lineage_path):
                    os.replace(tmp, self.lineage_path)
            fsync_dir(self.state_dir)
        except OSError as exc:
            raise _write_failed(self.lineage_path, exc, "a saved plan must be bound to its workspace's lineage, "
                                "which is kept there until the first apply writes the state (`plan` without "
                                "--out writes nothing)") from exc
        finally:
            _unlink_quietly(tmp)
        return self.read().lineage

    def _replay(self, snapshot: State, entries: list[JournalEntry]) -> State:
        """Snapshot plus the entries after its serial; entries up to it are already in it."""
        state = replay(snapshot, entries)
        if isinstance(state, str):
            raise self._corrupt(self.journal_path, f"it does not continue the snapshot: {state}")
        return state

    def _read_bytes(self, path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError("State.ReadFailed", f"cannot read {path}: {exc}") from exc

    def _corrupt(self, path: Path, reason: str) -> StateError:
        return corrupt(path, reason, self.snapshot_path, self.backup_path, self.journal_path)

    # -- writing -----------------------------------------------------------------------------

    def write(self, state: State, *, keep_intents: list[Intent] | None = None) -> None:
        """Replace the snapshot with ``state`` atomically and durably and clear the journal, but for
        its pending intents (``keep_intents``, else those the journal on disk holds), which are
        carried over into a new journal (written aside, fsynced, renamed over the old one).

        Unconditional: it does not compare serials or lineages with what is on disk (hold the
        lock and read first); it only refuses to overwrite a snapshot of a newer format
        (``State.UnsupportedVersion``). On failure (``State.WriteFailed``) the previous snapshot
        and journal are left as they were -- or, when only the journal step failed, the new
        snapshot with the old journal, whose changes up to it are then skipped on reading.
        """
        if keep_intents is None:
            keep_intents = self._pending_on_disk()
        data = state.to_json_bytes()
        tmp = self.state_dir / f".{SNAPSHOT}.{uuid.uuid4().hex}.tmp"
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            _write_new(tmp, data)
            if self.snapshot_path.exists():
                self._keep_previous()
            os.replace(tmp, self.snapshot_path)
        except BaseException as exc:
            _unlink_quietly(tmp)
            if isinstance(exc, OSError):
                raise _write_failed(self.snapshot_path, exc, "the previous state and journal are unchanged") from exc
            raise
        try:
            fsync_dir(self.state_dir)
            faults.point("snapshot-replaced")
            self._reset_journal(keep_intents)
        except OSError as exc:
            raise _write_failed(self.snapshot_path, exc, f"serial {state.serial} was written but may not be "
                                "durable yet; the journal is still there and replays harmlessly") from exc

    def _pending_on_disk(self) -> list[Intent]:
        try:
            journal = read_journal(self.journal_path)
        except ValueError:
            return []  # damaged: read() refuses to go on before anything is written over it
        except StateError as exc:
            if not os.path.lexists(self.journal_path):
                return []
            raise StateError("State.WriteFailed", f"{exc.detail}; the snapshot was not written, so that the "
                             "intents the journal may hold are not lost") from exc
        return journal.pending if journal is not None else []

    def _reset_journal(self, intents: list[Intent]) -> None:
        """Replace the journal by one holding only ``intents`` (written aside, fsynced, renamed over
        it), or remove it when there are none."""
        if intents:
            data = b"".join(encode_intent(i) for i in intents)
            tmp = self.state_dir / f".{self.journal_path.name}.{uuid.uuid4().hex}.tmp"
            try:
                _write_new(tmp, data)
                os.replace(tmp, self.journal_path)
            except BaseException:
                _unlink_quietly(tmp)
                raise
            fsync_dir(self.state_dir)
            faults.synced(len(data))
        elif self.journal_path.exists():
            os.unlink(self.journal_path)
            fsync_dir(self.state_dir)
            faults.synced(0)

    def _keep_previous(self) -> None:
        """Hard-link (or copy) the current snapshot to the backup -- or, when it is damaged, to
        ``state.json.damaged`` so that a good backup is not overwritten by a bad snapshot."""
        data = self.snapshot_path.read_bytes()
        try:
            parse_state(data)  # a newer format raises State.UnsupportedVersion: never downgrade it
            keep = self.backup_path
        except ValueError:
            keep = self.state_dir / DAMAGED
        tmp = self.state_dir / f".{keep.name}.{uuid.uuid4().hex}.tmp"
        try:
            try:
                os.link(self.snapshot_path, tmp)
            except OSError:  # no hard links here: copy instead
                _write_new(tmp, data)
            os.replace(tmp, keep)
        except BaseException:
            _unlink_quietly(tmp)
            raise

    def transaction(self, base: State) -> "StateTransaction":
        """A transaction recording changes on top of ``base``, which must be the state on disk.

        When the journal holds changes, resolved intents or a torn tail, or there is no snapshot
        yet, ``base`` is written as the snapshot first so that the journal starts clean -- holding
        only the pending intents, which the transaction knows (recovery resolves them).
        """
        on_disk, journal = self._read_once()
        if self.snapshot_path.exists():
            if on_disk.lineage != base.lineage:
                raise StateError("State.LineageMismatch", f"the state in {self.state_dir} has lineage "
                                 f"{on_disk.lineage}, not {base.lineage}: it belongs to another workspace history")
            if on_disk.serial != base.serial or on_disk.resources != base.resources:
                raise StateError("State.Stale", f"the state in {self.state_dir} is at serial {on_disk.serial}, "
                                 f"but this run started from serial {base.serial}; it changed meanwhile, plan again")
        pending = journal.pending if journal is not None else []
        if not self.snapshot_path.exists() or journal is not None and journal.entries:
            self.write(base, keep_intents=pending)
        elif journal is not None and (journal.torn or len(journal.intents) > len(pending)):
            try:
                self._reset_journal(pending)  # nothing to fold: drop resolved intents and a torn tail
            except OSError as exc:
                raise _write_failed(self.journal_path, exc, "the journal is unchanged") from exc
        return StateTransaction(base, JournalWriter(self.journal_path), self.write, pending,
                                journal.last_intent + 1 if journal is not None else 1)

    # -- locking -----------------------------------------------------------------------------

    @contextmanager
    def lock(self, command: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        try:
            info = self._lock.acquire(command, timeout)
        except StateError as exc:
            if exc.code != "State.LockStale":
                raise
            raise StateError(exc.code, exc.detail + self._in_flight_note()) from None
        try:
            self.remove_stale_temps()
            yield info
        finally:
            self._lock.release()

    def remove_stale_temps(self) -> list[Path]:
        """Remove the temp files a killed write left (``.state.json.<hex>.tmp``, and the journal's,
        backup's and damaged copy's): only this backend writes them, always under the lock, so while
        the lock is held (call it then) none of them is in use. Returns what was removed."""
        return remove_temps(self.state_dir, _STALE_TEMP)

    def _in_flight_note(self) -> str:
        try:
            pending = self.pending_intents()
        except StateError:
            return ""
        if not pending:
            return ""
        maybe, never = split_pending(pending)
        unstarted = f", and {len(never)} announced but not started" if never else ""
        return (f" It left {len(maybe)} cloud call(s) in flight{unstarted} (intents in {self.journal_path}); the "
                "next `ipamctl apply` re-issues the calls in flight with their ClientTokens and records what they "
                "did before planning anything new.")

    def lock_info(self) -> LockInfo | None:
        return self._lock.info()

    def lock_status(self) -> LockStatus | None:
        """Who holds the lock and whether that process is alive (None: no lock)."""
        return self._lock.status()

    def force_unlock(self, lock_id: str) -> None:
        self._lock.force_unlock(lock_id)
