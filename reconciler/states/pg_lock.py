"""The PostgreSQL backend's workspace lock: a session advisory lock that says whether the holder is
alive, and a ``locks`` row that says who it is.

* The lock is ``pg_try_advisory_lock(key)``, ``key`` derived from (schema, workspace): one per
  workspace, so workspaces never block each other (unlike a single lock for the whole database).
  It is held on a connection of its own, open for exactly as long as the lock is held.
* The row (workspace, id, pid, host, user, command, created, backend_pid) is written once the
  advisory lock is taken, and deleted at release. It names the holder in ``State.Locked``, and it
  is the *fence* of every write made under the lock (:mod:`reconciler.states.postgres`): a write
  goes through only while the row still carries this holder's id AND the advisory lock is still
  held by the session the row names.
* The holder dies (killed, its machine gone): the server ends its session (at once for a killed
  process, after TCP keepalive for a vanished machine) and so frees the advisory lock. The next
  locker takes the lock WITHOUT force-unlock, replaces the row and tells who had it
  (:attr:`PgLock.took_over`); the next apply recovers what the dead one left in flight.
* ``force_unlock(id)``, for a holder that hangs: the holder's lock session is ended with
  ``pg_terminate_backend`` (which needs the same role, or pg_signal_backend), then the row is
  deleted. The hung holder can write nothing more: its fence fails (``State.LockLost``).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from typing import Callable

import psycopg
from psycopg import sql

from reconciler.errors import StateError
from reconciler.states.lock import UNKNOWN_LOCK_ID, LockInfo, LockStatus, login_user, now_text
from reconciler.states.pg_conn import connect, translated

_POLL = 0.2
_TERMINATE_WAIT = 10.0  # seconds to wait for a terminated holder's session to end
# the sessions holding a bigint advisory lock: its high and low 32 bits are classid and objid
HOLDERS = """SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND classid = %(hi)s::bigint::oid AND objid = %(lo)s::bigint::oid"""
# session settings of the lock connection: the server notices a vanished client within about a
# minute, and no idle timeout ends the session (and so the lock) while an apply runs
_SESSION = ("SET tcp_keepalives_idle = 30", "SET tcp_keepalives_interval = 10", "SET tcp_keepalives_count = 3",
            "SET idle_session_timeout = 0", "SET idle_in_transaction_session_timeout = 0")


def key_parts(key: int) -> dict[str, int]:
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF}


class PgLock:
    """The lock of one workspace. One instance holds at most one lock at a time."""

    def __init__(self, conninfo: str, schema: str, workspace: str, key: int, where: str,
                 db: Callable[[], psycopg.Connection]):
        """``db``: the backend's own connection, for looking at the lock (only holding it takes one more)."""
        self.conninfo, self.schema, self.workspace, self.key, self.where = conninfo, schema, workspace, key, where
        self._db = db
        self._conn: psycopg.Connection | None = None
        self._info: LockInfo | None = None
        self.took_over: LockInfo | None = None  # the dead holder whose row the last acquire replaced

    @property
    def held(self) -> LockInfo | None:
        return self._info

    def _table(self) -> sql.Composed:
        return sql.SQL("{}.locks").format(sql.Identifier(self.schema))

    def acquire(self, command: str, timeout: float = 0.0) -> LockInfo:
        if self._info is not None:
            raise StateError("State.Locked", f"this process already holds the lock of {self.where} "
                             f"(lock ID {self._info.id})")
        start = time.monotonic()
        conn = connect(self.conninfo, "lock")
        try:
            with translated(self.conninfo, "take the lock of workspace " + self.workspace + " in"):
                for statement in _SESSION:
                    try:
                        conn.execute(statement)
                    except psycopg.errors.UndefinedObject:  # idle_session_timeout: PostgreSQL 14 and later
                        pass
                while True:
                    row = conn.execute("SELECT pg_try_advisory_lock(%s)", [self.key]).fetchone()
                    if row and row[0]:
                        info = self._claim(conn, command)
                        self._conn, self._info = conn, info
                        return info
                    status = self._status(conn)
                    if status is None or status.live is False:
                        continue  # released between our try and our look: try again
                    waited = time.monotonic() - start
                    if waited >= timeout:
                        raise self._locked(status.info, round(waited, 1) if timeout else 0)
                    time.sleep(min(_POLL, timeout - waited))
        except BaseException:
            conn.close()
            raise

    def _claim(self, conn: psycopg.Connection, command: str) -> LockInfo:
        """Write our row over whatever row is left (its holder is gone: we hold the advisory lock)."""
        info = LockInfo(str(uuid.uuid4()), os.getpid(), socket.gethostname(), login_user(), command, now_text(), self.where)
        with conn.transaction():
            left = conn.execute(sql.SQL('SELECT id, pid, host, "user", command, created FROM {} WHERE workspace = %s '
                                        "FOR UPDATE").format(self._table()), [self.workspace]).fetchone()
            conn.execute(sql.SQL('INSERT INTO {} (workspace, id, pid, host, "user", command, created, backend_pid) '
                                 "VALUES (%s, %s, %s, %s, %s, %s, %s, pg_backend_pid()) ON CONFLICT (workspace) DO "
                                 'UPDATE SET id = excluded.id, pid = excluded.pid, host = excluded.host, '
                                 '"user" = excluded."user", command = excluded.command, created = excluded.created, '
                                 "backend_pid = excluded.backend_pid, acquired_at = now()").format(self._table()),
                         [self.workspace, info.id, info.pid, info.host, info.user, info.command, info.created])
        self.took_over = self._row_info(left) if left else None
        return info

    def release(self) -> None:
        """Delete our row and end the lock session. A server that is gone has ended it already (the
        row left behind is replaced by the next locker), so failures here are not reported."""
        conn, info, self._conn, self._info = self._conn, self._info, None, None
        if conn is None or info is None:
            return
        try:
            conn.execute(sql.SQL("DELETE FROM {} WHERE workspace = %s AND id = %s").format(self._table()),
                         [self.workspace, info.id])
            conn.execute("SELECT pg_advisory_unlock(%s)", [self.key])
        except psycopg.Error:
            pass
        finally:
            conn.close()

    def status(self) -> LockStatus | None:
        """Who holds the lock and whether their session is alive; None when nobody does."""
        conn = self._db()
        with translated(self.conninfo, "read the lock of workspace " + self.workspace + " in"):
            return self._status(conn)

    def _status(self, conn: psycopg.Connection) -> LockStatus | None:
        with conn.transaction():
            row = conn.execute(sql.SQL('SELECT id, pid, host, "user", command, created FROM {} WHERE workspace = %s')
                               .format(self._table()), [self.workspace]).fetchone()
            live = bool(conn.execute(HOLDERS, key_parts(self.key)).fetchall())
        if row is None:
            return LockStatus(self._unknown(), True) if live else None
        return LockStatus(self._row_info(row), live)

    def _row_info(self, row: tuple) -> LockInfo:
        lock_id, pid, host, user, command, created = row
        return LockInfo(lock_id, pid, host, user, command, created, self.where)

    def _unknown(self) -> LockInfo:
        """A session holds the advisory lock and has not written its row yet (it is about to)."""
        return LockInfo(UNKNOWN_LOCK_ID, 0, "unknown", "unknown", "unknown", "unknown", self.where)

    def info(self) -> LockInfo | None:
        status = self.status()
        return status.info if status else None

    def force_unlock(self, lock_id: str) -> None:
        """End the session of the holder with ``lock_id`` (when it is still connected) and delete its row."""
        conn = self._db()
        with translated(self.conninfo, "force-unlock workspace " + self.workspace + " in"):
            self._force(conn, lock_id)

    def _force(self, conn: psycopg.Connection, lock_id: str) -> None:
        status = self._status(conn)
        if status is None:
            raise StateError("State.NotLocked", f"the state of {self.where} is not locked")
        info = status.info
        if info.id != lock_id:
            raise StateError("State.LockIdMismatch", f"the lock's ID is {info.id}, not {lock_id}; nothing was "
                             f"removed (taken by {info.holder} running {info.command!r} at {info.created})")
        deadline = time.monotonic() + _TERMINATE_WAIT
        while pids := [r[0] for r in conn.execute(HOLDERS, key_parts(self.key)).fetchall()]:
            for pid in pids:
                try:
                    conn.execute("SELECT pg_terminate_backend(%s)", [pid])
                except psycopg.errors.InsufficientPrivilege:
                    raise StateError("State.LockHeld", f"lock {info.id} is held by a live session (server pid "
                                     f"{pid}) of {info.holder} running {info.command!r}, and this role may not end "
                                     "it: stop that process, or have a role with pg_signal_backend run "
                                     f"`SELECT pg_terminate_backend({pid})`") from None
            if time.monotonic() > deadline:
                raise StateError("State.LockHeld", f"lock {info.id}: the holder's session (server pid "
                                 f"{', '.join(map(str, pids))}) did not end within {_TERMINATE_WAIT:g}s of being "
                                 "terminated; nothing was removed")
            time.sleep(0.05)
        conn.execute(sql.SQL("DELETE FROM {} WHERE workspace = %s AND id = %s").format(self._table()),
                     [self.workspace, lock_id])

    def _locked(self, holder: LockInfo, waited: float) -> StateError:
        wait = f" (waited {waited:g}s)" if waited else ""
        if holder.id == UNKNOWN_LOCK_ID:
            return StateError("State.Locked", f"the state of {self.where} is locked{wait} by a session that is "
                              "taking it right now; try again (or pass a lock timeout)")
        return StateError(
            "State.Locked",
            f"the state of {self.where} is locked{wait}: lock ID {holder.id}, held by {holder.holder} running "
            f"{holder.command!r} since {holder.created}. Wait for it to finish (or pass a lock timeout). A holder "
            "that dies frees the lock by itself; one that hangs is stopped with "
            f"`ipamctl force-unlock {holder.id}`, which ends its database session.")
