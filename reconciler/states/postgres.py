"""The PostgreSQL state backend: many runners share one database, each workspace its own state and lock.

The contract is the local backend's (:mod:`reconciler.states.local`), kept in tables
(:mod:`reconciler.states.pg_schema`) instead of files:

* ``read_with_intents``: the newest snapshot version plus the journal rows replayed, read in one
  REPEATABLE READ transaction, with the pending intents. Damage is ``State.Corrupt``, never empty.
* ``write(state, keep_intents)``: a NEW snapshot version (every version is kept) and the journal
  cleared but for the pending intents, in one database transaction.
* ``transaction(base)``: a :class:`~reconciler.states.transaction.StateTransaction` over a
  :class:`~reconciler.states.pg_journal.PgJournalWriter`, whose every journal
  line is a row committed before the call returns -- an intent is durable before its cloud call.
* the lock: :mod:`reconciler.states.pg_lock`. While this backend holds it, every write is fenced:
  it goes through only while the ``locks`` row still names this holder and the advisory lock is
  still held by the holder's session, else ``State.LockLost`` (the server restarted, or a
  force-unlock ended the session): nothing is written after the lock is gone.

Failures of the server or the connection are ``State.BackendUnavailable`` (no password shown);
what was committed stays, and the next apply recovers the intents as with the local backend.
"""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

import psycopg
from psycopg import errors as pg_errors

from reconciler import faults
from reconciler.errors import StateError
from reconciler.states.backend import StateVersion
from reconciler.states.journal import Intent, JournalContents, encode_intent, parse_journal
from reconciler.states.lock import LockInfo, LockStatus
from reconciler.states.pg_conn import connect, translated, unavailable, where
from reconciler.states.pg_history import PgHistory
from reconciler.states.pg_journal import PgJournalWriter
from reconciler.states.pg_lock import PgLock, key_parts
from reconciler.states.pg_reservations import PgReservations
from reconciler.states.pg_schema import advisory_key, ensure_schema
from reconciler.states.pg_sql import queries
from reconciler.states.replay import replay
from reconciler.states.state import FORMAT_VERSION, ResourceMap, State, parse_state
from reconciler.states.transaction import StateTransaction

_CHECKSUM = re.compile(rb'^\{\s*"checksum":\s*"([0-9a-f]{64})"')  # the first key of State.to_json_bytes


class PostgresStateBackend:
    """A :class:`~reconciler.states.backend.StateBackend` over the tables of ``schema`` for ``workspace``."""

    def __init__(self, conninfo: str, workspace: str, schema: str = "ipamctl"):
        self.conninfo, self.workspace, self.schema = conninfo, workspace, schema
        self._where = f"postgres workspace {workspace} (schema {schema} at {where(conninfo)})"
        self._conn: psycopg.Connection | None = None
        self._lock = PgLock(conninfo, schema, workspace, advisory_key("lock", schema, workspace), self._where, self._db)
        self._sql = queries(schema)

    @property
    def description(self) -> str:
        return self._where

    def close(self) -> None:
        self._lock.release()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> "PostgresStateBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _db(self) -> psycopg.Connection:
        """The state connection, (re)opened when needed, the schema created or migrated on first use."""
        if self._conn is None or self._conn.closed:
            conn = connect(self.conninfo, "state")
            try:
                with translated(self.conninfo, "create or migrate the tables of"):
                    conn.execute("SET synchronous_commit = on")  # a committed row is on the server's disk
                    ensure_schema(conn, self.schema)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _params(self, **more: Any) -> dict[str, Any]:
        held = self._lock.held
        fence = {"id": held.id, **key_parts(self._lock.key)} if held is not None else {}
        return {"w": self.workspace, **fence, **more}

    def _fence(self, conn: psycopg.Connection) -> None:
        """While this backend holds the lock: refuse to write unless the lock is still ours."""
        held = self._lock.held
        if held is not None and conn.execute(self._sql["fence"], self._params()).fetchone() is None:
            raise self._lost(held)

    def _lost(self, held: LockInfo) -> StateError:
        return StateError("State.LockLost", f"the lock of {self._where} (lock ID {held.id}) is no longer held by "
                          "this run: the database restarted, the lock's session was cut, or `ipamctl force-unlock` "
                          "ended it; nothing more was written. What was recorded before stays, and the next "
                          "`ipamctl apply` recovers the calls left in flight")

    def peer(self, workspace: str) -> "PostgresStateBackend":
        """Another workspace of the same schema, to read only (``external_pools:``), over this
        backend's connection: one connection per command however many workspaces it reads."""
        other = PostgresStateBackend(self.conninfo, workspace, self.schema)
        other._db = self._db  # type: ignore[method-assign]  # reads only: its lock is never taken
        return other

    def workspaces(self) -> list[str]:
        """Every workspace of the schema that has written a state, sorted."""
        with translated(self.conninfo, "list the workspaces of"):
            return [r[0] for r in self._db().execute(self._sql["workspaces"]).fetchall()]

    # -- reading -----------------------------------------------------------------------------

    def read(self) -> State:
        return self.read_with_intents()[0]

    def read_with_intents(self) -> tuple[State, list[Intent]]:
        state, journal, _ = self._read_once()
        return state, journal.pending if journal is not None else []

    def _read_once(self) -> tuple[State, JournalContents | None, bool]:
        """(state, journal, whether there is a snapshot), from one consistent view of the tables."""
        conn = self._db()
        with translated(self.conninfo, "read the state from"), conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            row = conn.execute(self._sql["newest"], self._params(), binary=True).fetchone()
            lines = conn.execute(self._sql["lines"], self._params(), binary=True).fetchall()
            kept = None if row else conn.execute(self._sql["kept_lineage"], self._params()).fetchone()
        journal = self._journal(lines)
        if row is None:
            if journal is not None and journal.entries:
                raise self._corrupt("the journal holds changes but there is no snapshot")
            return (State.empty() if kept is None else State(kept[0], 0, ResourceMap())), journal, False
        snapshot = self._parse(row)
        if journal is None or not journal.entries:
            return snapshot, journal, True
        state = replay(snapshot, journal.entries)
        if isinstance(state, str):
            raise self._corrupt(f"the journal does not continue the snapshot: {state}")
        return state, journal, True

    def _journal(self, rows: list[Any]) -> JournalContents | None:
        if not rows:
            return None
        try:
            return parse_journal(b"".join(bytes(r[0]) for r in rows), f"the journal of {self._where}")
        except ValueError as exc:
            raise self._corrupt(str(exc)) from None

    def _parse(self, row: Any) -> State:
        version, serial, lineage, data = row
        try:
            state = parse_state(bytes(data))
        except ValueError as exc:
            raise self._corrupt(f"snapshot version {version} (serial {serial}) is damaged: {exc}") from None
        if (state.serial, state.lineage) != (serial, lineage):
            raise self._corrupt(f"snapshot version {version} holds serial {state.serial} of lineage {state.lineage}, "
                                f"its row says serial {serial} of lineage {lineage}")
        return state

    def _corrupt(self, reason: str) -> StateError:
        return StateError("State.Corrupt", f"the state of {self._where} is damaged: {reason}. It was NOT read as an "
                          "empty state. Every earlier version is kept: `ipamctl state history` lists them, and "
                          "`ipamctl state pull --serial N > old.json` then `ipamctl state push --force old.json` "
                          "restores one (run `ipamctl plan` afterwards and import what it lacks).")

    def pending_intents(self) -> list[Intent]:
        conn = self._db()
        with translated(self.conninfo, "read the journal from"):
            lines = conn.execute(self._sql["lines"], self._params(), binary=True).fetchall()
        journal = self._journal(lines)
        return journal.pending if journal is not None else []

    def has_journal(self) -> bool:
        return self._exists("any_line")

    def has_snapshot(self) -> bool:
        return self._exists("any_snapshot")

    def _exists(self, query: str) -> bool:
        conn = self._db()
        with translated(self.conninfo, "read the state from"):
            row = conn.execute(self._sql[query], self._params()).fetchone()
        return bool(row and row[0])

    def versions(self) -> list[StateVersion]:
        conn = self._db()
        with translated(self.conninfo, "read the versions of the state from"):
            rows = conn.execute(self._sql["versions"], self._params()).fetchall()
        return [StateVersion(serial, lineage, created, count, checksum, i == len(rows) - 1, version)
                for i, (version, serial, lineage, created, count, checksum) in enumerate(rows)]

    def written_at(self) -> str | None:
        conn = self._db()
        with translated(self.conninfo, "read the state from"):
            row = conn.execute(self._sql["written_at"], self._params()).fetchone()
        return row[0] if row else None

    def history(self) -> PgHistory:
        return PgHistory(self.conninfo, self.schema, self.workspace, self._db, self._where)

    def read_version(self, serial: int) -> State:
        conn = self._db()
        with translated(self.conninfo, f"read serial {serial} of the state from"):
            row = conn.execute(self._sql["at_serial"], self._params(serial=serial), binary=True).fetchone()
        if row is None:
            raise StateError("State.NoSuchVersion", f"{self._where} keeps no version with serial {serial} "
                             "(`ipamctl state history` lists those it keeps)")
        return self._parse(row)

    def fix_lineage(self) -> str:
        """The workspace's lineage, kept from now on (the newest snapshot's, else a row of ``workspaces``)."""
        conn = self._db()
        with translated(self.conninfo, "keep the lineage of the workspace in"), conn.transaction():
            if conn.execute(self._sql["head"], self._params()).fetchone() is None:
                conn.execute(self._sql["keep_lineage"], self._params(lineage=str(uuid.uuid4())))
        return self.read().lineage

    # -- writing -----------------------------------------------------------------------------

    def write(self, state: State, *, keep_intents: list[Intent] | None = None) -> None:
        """Write ``state`` as a new version and clear the journal but for its pending intents
        (``keep_intents``, else those the journal holds), all in one database transaction.
        Unconditional, like the local backend's (hold the lock and read first); it only refuses to
        go past a version of a newer format (``State.UnsupportedVersion``)."""
        data = state.to_json_bytes()
        found = _CHECKSUM.match(data[:200])
        checksum = found.group(1).decode() if found else state.checksum()
        conn = self._db()
        try:
            with conn.transaction():
                self._fence(conn)
                head = conn.execute(self._sql["head"], self._params()).fetchone()
                if head is not None and head[1] > FORMAT_VERSION:
                    raise StateError("State.UnsupportedVersion", f"the state of {self._where} has format_version "
                                     f"{head[1]}, this ipamctl writes {FORMAT_VERSION}; use a newer ipamctl "
                                     "(nothing was written)")
                if keep_intents is None:
                    keep_intents = self._pending_here(conn)
                conn.execute(self._sql["insert"], self._params(
                    version=(head[0] if head else 0) + 1, serial=state.serial, lineage=state.lineage,
                    format=state.format_version, state=data, checksum=checksum, resources=len(state.resources)))
                faults.point("snapshot-replaced")  # a death here must roll back the version with the journal's reset
                self._reset(conn, keep_intents)
        except pg_errors.UniqueViolation:
            raise StateError("State.WriteFailed", f"another run wrote the state of {self._where} at the same "
                             f"time; serial {state.serial} was not written (hold the lock to write)") from None
        except psycopg.Error as exc:
            raise unavailable(self.conninfo, exc, f"write serial {state.serial} of the state to") from None

    def _pending_here(self, conn: psycopg.Connection) -> list[Intent]:
        lines = conn.execute(self._sql["lines"], self._params(), binary=True).fetchall()
        try:
            journal = parse_journal(b"".join(bytes(r[0]) for r in lines), "journal") if lines else None
        except ValueError:
            return []  # damaged: read() refuses to go on before anything is written over it
        return journal.pending if journal is not None else []

    def _reset(self, conn: psycopg.Connection, intents: list[Intent]) -> None:
        conn.execute(self._sql["clear"], self._params())
        if intents:
            conn.execute(self._sql["append"], self._params(lines=[encode_intent(i) for i in intents]))

    def _insert_lines(self, lines: list[bytes], what: str, address: str | None) -> None:
        """Append journal rows and commit them (fenced while the lock is held)."""
        held = self._lock.held
        try:
            conn = self._db()
            cur = conn.execute(self._sql["fenced_append" if held else "append"], self._params(lines=lines))
        except psycopg.Error as exc:
            failed = unavailable(self.conninfo, exc, f"record {what} in")
            raise StateError(failed.code, failed.detail, address=address) from None
        except StateError as exc:
            raise StateError(exc.code, exc.detail, address=address) from None
        if held is not None and cur.rowcount != len(lines):
            lost = self._lost(held)
            raise StateError(lost.code, lost.detail, address=address)

    def transaction(self, base: State) -> StateTransaction:
        """A transaction recording changes on top of ``base``, which must be the state in the database
        (checked as the local backend checks it). When the journal holds changes or resolved intents,
        or there is no snapshot yet, ``base`` is written first so that the journal starts clean."""
        on_disk, journal, has_snapshot = self._read_once()
        if has_snapshot:
            if on_disk.lineage != base.lineage:
                raise StateError("State.LineageMismatch", f"the state of {self._where} has lineage "
                                 f"{on_disk.lineage}, not {base.lineage}: it belongs to another workspace history")
            if on_disk.serial != base.serial or on_disk.resources != base.resources:
                raise StateError("State.Stale", f"the state of {self._where} is at serial {on_disk.serial}, but "
                                 f"this run started from serial {base.serial}; it changed meanwhile, plan again")
        pending = journal.pending if journal is not None else []
        if not has_snapshot or journal is not None and journal.entries:
            self.write(base, keep_intents=pending)
        elif journal is not None and len(journal.intents) > len(pending):
            conn = self._db()
            with translated(self.conninfo, "clear the journal in"), conn.transaction():
                self._fence(conn)
                self._reset(conn, pending)  # nothing to fold: drop the resolved intents
        return StateTransaction(base, PgJournalWriter(self._where, self._insert_lines), self.write, pending,
                             journal.last_intent + 1 if journal is not None else 1)

    # -- locking -----------------------------------------------------------------------------

    @contextmanager
    def lock(self, command: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        self._db()  # the tables exist before the lock's row is written
        info = self._lock.acquire(command, timeout)
        try:
            yield info
        finally:
            self._lock.release()

    def reservations(self) -> PgReservations:
        """The blocks plans reserved, shared by every workspace of this schema."""
        return PgReservations(self.conninfo, self.schema, self.workspace, self._db)

    @property
    def took_over(self) -> LockInfo | None:
        """The holder that died holding the lock this backend took last (its row was replaced), or None."""
        return self._lock.took_over

    def lock_info(self) -> LockInfo | None:
        return self._lock.info()

    def lock_status(self) -> LockStatus | None:
        return self._lock.status()

    def force_unlock(self, lock_id: str) -> None:
        self._lock.force_unlock(lock_id)

