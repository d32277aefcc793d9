"""The monitoring history on PostgreSQL: the ``history`` table (migration 3 of :mod:`reconciler.states.pg_schema`).

One row per sample (``taken_at`` the sample's timestamp, ``command``, ``sample`` as jsonb), keyed by
workspace and an identity ``seq``. Rows are inserted, never updated. Appending applies the retention
in the same transaction: the workspace's rows taken before ``now - max_age_days`` and those beyond
the newest ``max_samples`` are deleted. Reading applies it too (a smaller retention in the specs is in
force at once). Teams can chart the table directly (``sample->'scopes'->'private'->>'overlapping'``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Callable

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from reconciler.states.history import Retention
from reconciler.states.pg_conn import translated


class PgHistory:
    def __init__(self, conninfo: str, schema: str, workspace: str, db: Callable[[], psycopg.Connection], where: str):
        self.conninfo, self.workspace, self._db, self._where = conninfo, workspace, db, where
        self._t = sql.Identifier(schema, "history")

    @property
    def description(self) -> str:
        return f"the history table of {self._where}"

    def append(self, sample: dict, retention: Retention, now: datetime) -> None:
        taken = datetime.fromisoformat(str(sample["timestamp"]).replace("Z", "+00:00"))
        cutoff = now - timedelta(days=retention.max_age_days)
        conn = self._db()
        with translated(self.conninfo, "record the monitoring history in"), conn.transaction():
            conn.execute(sql.SQL("INSERT INTO {} (workspace, taken_at, command, sample) VALUES (%s, %s, %s, %s)")
                         .format(self._t), [self.workspace, taken, str(sample.get("command", "")), Jsonb(sample)])
            conn.execute(sql.SQL(
                "DELETE FROM {t} WHERE workspace = %(w)s AND (taken_at < %(cutoff)s OR seq NOT IN ("
                "SELECT seq FROM {t} WHERE workspace = %(w)s ORDER BY taken_at DESC, seq DESC LIMIT %(n)s))"
            ).format(t=self._t), {"w": self.workspace, "cutoff": cutoff, "n": retention.max_samples})

    def read(self, retention: Retention, now: datetime) -> list[dict]:
        return self._newest(retention, now, retention.max_samples)

    def newest(self, retention: Retention, now: datetime) -> dict | None:
        found = self._newest(retention, now, 1)
        return found[-1] if found else None

    def _newest(self, retention: Retention, now: datetime, n: int) -> list[dict]:
        """The newest ``n`` kept samples, oldest first."""
        cutoff = now - timedelta(days=retention.max_age_days)
        with translated(self.conninfo, "read the monitoring history from"):
            rows = self._db().execute(sql.SQL(
                "SELECT sample::text FROM (SELECT sample, taken_at, seq FROM {} WHERE workspace = %s AND taken_at >= %s "
                "ORDER BY taken_at DESC, seq DESC LIMIT %s) newest ORDER BY taken_at, seq").format(self._t),
                [self.workspace, cutoff, min(n, retention.max_samples)]).fetchall()
        return [json.loads(r[0]) for r in rows]
