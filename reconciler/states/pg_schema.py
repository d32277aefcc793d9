"""The PostgreSQL backend's tables, created and migrated by the backend itself.

Versions are rows of ``schema_migrations``. A run that finds the newest version there does nothing
more (one query, so a role with only USAGE and SELECT/INSERT/UPDATE/DELETE works on a schema made
for it). Otherwise every missing migration is applied in ONE transaction under a transaction-level
advisory lock keyed on the schema: concurrent first runs queue on it, and the later ones find the
work done. A database migrated by a newer ipamctl (a version this one does not know) is refused.

Tables (version 1), every one keyed by the workspace name, so that many workspaces share a schema:

* ``workspaces``: the lineage a workspace is bound to before its first snapshot (``fix_lineage``).
* ``snapshots``: every version of the state ever written: ``version`` (1, 2, ... per workspace),
  ``serial``, ``lineage``, ``format_version``, ``state`` (the bytes ``State.to_json_bytes`` makes),
  ``checksum`` (of the resources, as in those bytes), ``resources`` (count), ``created_at``.
* ``journal``: the apply journal, one row per line of :mod:`reconciler.states.journal`'s encoding,
  ``seq`` ordering them within a workspace.
* ``locks``: who holds a workspace's lock (see :mod:`reconciler.states.pg_lock`).

Version 2: ``reservations``, the blocks plans reserved (see :mod:`reconciler.states.pg_reservations`).

Version 3: ``history``, the monitoring history, one row per sample (see :mod:`reconciler.states.pg_history`).
"""

from __future__ import annotations

import hashlib

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from reconciler.errors import StateError

MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "snapshots, journal, locks", (
        """CREATE TABLE {s}.workspaces (
             workspace text PRIMARY KEY,
             lineage text NOT NULL,
             created_at timestamptz NOT NULL DEFAULT now())""",
        """CREATE TABLE {s}.snapshots (
             workspace text NOT NULL,
             version bigint NOT NULL CHECK (version >= 1),
             serial bigint NOT NULL CHECK (serial >= 0),
             lineage text NOT NULL,
             format_version integer NOT NULL,
             state bytea NOT NULL,
             checksum text NOT NULL,
             resources integer NOT NULL,
             created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
             PRIMARY KEY (workspace, version))""",
        "CREATE INDEX snapshots_serial ON {s}.snapshots (workspace, serial)",
        """CREATE TABLE {s}.journal (
             workspace text NOT NULL,
             seq bigint NOT NULL CHECK (seq >= 1),
             line bytea NOT NULL,
             created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
             PRIMARY KEY (workspace, seq))""",
        """CREATE TABLE {s}.locks (
             workspace text PRIMARY KEY,
             id text NOT NULL,
             pid integer NOT NULL,
             host text NOT NULL,
             "user" text NOT NULL,
             command text NOT NULL,
             created text NOT NULL,
             backend_pid integer NOT NULL,
             acquired_at timestamptz NOT NULL DEFAULT now())""",
    )),
    # blocks reserved at plan time (reconciler/states/pg_reservations.py)
    (2, "reservations", (
        """CREATE TABLE {s}.reservations (
             pool_id text NOT NULL,
             cidr cidr NOT NULL,
             workspace text NOT NULL,
             plan text NOT NULL,
             expires_at timestamptz NOT NULL,
             created_at timestamptz NOT NULL DEFAULT now(),
             PRIMARY KEY (pool_id, cidr, plan))""",
        "CREATE INDEX reservations_pool ON {s}.reservations USING gist (cidr inet_ops)",
        "CREATE INDEX reservations_plan ON {s}.reservations (plan)",
    )),
    # the monitoring history (reconciler/states/pg_history.py)
    (3, "history", (
        """CREATE TABLE {s}.history (
             workspace text NOT NULL,
             seq bigint GENERATED ALWAYS AS IDENTITY,
             taken_at timestamptz NOT NULL,
             command text NOT NULL,
             sample jsonb NOT NULL,
             recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
             PRIMARY KEY (workspace, seq))""",
        "CREATE INDEX history_taken ON {s}.history (workspace, taken_at)",
    )),
)
LATEST = MIGRATIONS[-1][0]


def advisory_key(*parts: str) -> int:
    """A signed 64-bit advisory lock key for ``parts`` (sha256: keys of different parts never meet in practice)."""
    digest = hashlib.sha256("\0".join(("ipamctl", *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def current_version(conn: psycopg.Connection, schema: str) -> int | None:
    """The newest migration applied, or None when the schema or its table is not there (yet)."""
    try:
        row = conn.execute(sql.SQL("SELECT max(version) FROM {}.schema_migrations").format(sql.Identifier(schema))
                           ).fetchone()
    except (pg_errors.UndefinedTable, pg_errors.InvalidSchemaName):
        return None
    return row[0] if row else None


def ensure_schema(conn: psycopg.Connection, schema: str) -> None:
    """Create or migrate ``schema`` to :data:`LATEST` (``conn`` in autocommit mode)."""
    if _checked(current_version(conn, schema), schema):
        return
    ident = sql.Identifier(schema)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_key("migrate", schema)])
        exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone()
        if not exists:  # CREATE SCHEMA IF NOT EXISTS would still ask for CREATE on the database
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(ident))
        conn.execute(sql.SQL("""CREATE TABLE IF NOT EXISTS {}.schema_migrations (
                                  version integer PRIMARY KEY,
                                  name text NOT NULL,
                                  applied_at timestamptz NOT NULL DEFAULT now())""").format(ident))
        rows = conn.execute(sql.SQL("SELECT version FROM {}.schema_migrations").format(ident)).fetchall()
        applied = {r[0] for r in rows}
        if _checked(max(applied, default=0) or None, schema):
            return  # another run migrated it while we waited for the lock
        for version, name, statements in MIGRATIONS:
            if version in applied:
                continue
            for statement in statements:
                conn.execute(sql.SQL(statement).format(s=ident))  # type: ignore[arg-type]  # our own text
            conn.execute(sql.SQL("INSERT INTO {}.schema_migrations (version, name) VALUES (%s, %s)").format(ident),
                         [version, name])


def _checked(version: int | None, schema: str) -> bool:
    """Whether ``version`` is the newest; StateError when it is newer than this ipamctl knows."""
    if version is not None and version > LATEST:
        raise StateError("State.UnsupportedVersion", f"the PostgreSQL schema {schema} is at version {version}, "
                         f"migrated by a newer ipamctl; this one knows up to version {LATEST}. Use a newer "
                         "ipamctl (nothing was changed)")
    return version == LATEST
