"""The SQL of the PostgreSQL state backend, by name, composed once for a schema (identifiers quoted).

``fence`` is the check that the lock is still the holder's: its ``locks`` row, and the advisory
lock held by the session that row names (see :mod:`reconciler.states.pg_lock`); ``fenced_append``
appends journal rows only when it holds, in the same statement (its row lock waits for a new
locker's takeover to commit, or makes that takeover wait for the append).
"""

from __future__ import annotations

from psycopg import sql

_ISO = """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
# the lock is still this holder's: its row, and the advisory lock held by the session the row names
_FENCE = """SELECT 1 FROM {locks} l WHERE l.workspace = %(w)s AND l.id = %(id)s AND EXISTS (
              SELECT 1 FROM pg_locks k WHERE k.pid = l.backend_pid AND k.locktype = 'advisory' AND k.granted
                AND k.objsubid = 1 AND k.classid = %(hi)s::bigint::oid AND k.objid = %(lo)s::bigint::oid
                AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
            FOR SHARE OF l"""
_APPEND = """INSERT INTO {journal} (workspace, seq, line)
             SELECT %(w)s, coalesce((SELECT max(seq) FROM {journal} WHERE workspace = %(w)s), 0) + u.o, u.line
             FROM unnest(%(lines)s::bytea[]) WITH ORDINALITY AS u(line, o)"""


def queries(schema: str) -> dict[str, sql.Composed]:
    tables = {t: sql.Identifier(schema, t) for t in ("snapshots", "journal", "locks", "workspaces")}
    return {name: sql.SQL(text).format(**tables) for name, text in (
        ("fence", _FENCE), ("append", _APPEND), ("fenced_append", _APPEND + " WHERE EXISTS (" + _FENCE + ")"),
        ("newest", "SELECT version, serial, lineage, state FROM {snapshots} WHERE workspace = %(w)s "
                   "ORDER BY version DESC LIMIT 1"),
        ("at_serial", "SELECT version, serial, lineage, state FROM {snapshots} WHERE workspace = %(w)s "
                      "AND serial = %(serial)s ORDER BY version DESC LIMIT 1"),
        ("head", "SELECT version, format_version, lineage FROM {snapshots} WHERE workspace = %(w)s "
                 "ORDER BY version DESC LIMIT 1"),
        ("versions", f"SELECT version, serial, lineage, {_ISO}, resources, checksum FROM {{snapshots}} "
                     "WHERE workspace = %(w)s ORDER BY version"),
        ("written_at", "SELECT " + _ISO.replace("created_at", "max(created_at)") + " FROM ("
                       "SELECT created_at FROM {snapshots} WHERE workspace = %(w)s UNION ALL "
                       "SELECT created_at FROM {journal} WHERE workspace = %(w)s) t HAVING count(*) > 0"),
        ("lines", "SELECT line FROM {journal} WHERE workspace = %(w)s ORDER BY seq"),
        ("any_line", "SELECT EXISTS (SELECT 1 FROM {journal} WHERE workspace = %(w)s)"),
        ("any_snapshot", "SELECT EXISTS (SELECT 1 FROM {snapshots} WHERE workspace = %(w)s)"),
        ("kept_lineage", "SELECT lineage FROM {workspaces} WHERE workspace = %(w)s"),
        ("keep_lineage", "INSERT INTO {workspaces} (workspace, lineage) VALUES (%(w)s, %(lineage)s) "
                         "ON CONFLICT (workspace) DO NOTHING"),
        ("insert", "INSERT INTO {snapshots} (workspace, version, serial, lineage, format_version, state, "
                   "checksum, resources) VALUES (%(w)s, %(version)s, %(serial)s, %(lineage)s, %(format)s, "
                   "%(state)s, %(checksum)s, %(resources)s)"),
        ("clear", "DELETE FROM {journal} WHERE workspace = %(w)s"),
        ("workspaces", "SELECT DISTINCT workspace FROM {snapshots} ORDER BY 1"),
    )}
