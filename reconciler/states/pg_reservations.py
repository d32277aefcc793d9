"""Blocks reserved at plan time, shared by every workspace of a PostgreSQL schema.

``plan --out`` (and ``plan --reserve``) records each block its plan takes from an existing pool, keyed
by the pool's cloud id, with the workspace, the plan's checksum (sha256 of the saved plan's bytes)
and an expiry. Every other workspace's plan skips live reservations; the apply of the saved plan
checks that its reservations are still there before any call, and releases them when it is done.

Reserving is atomic across runners: one transaction under an advisory lock of the schema's
reservations looks for a live reservation of another workspace overlapping any block (PostgreSQL's
``cidr`` type and its ``&&`` operator) and inserts the rows only when there is none; two plans racing
for one block cannot both hold it (the later is refused, ``Plan.ReservationConflict``, and planning
again skips the winner's block). Times are the database server's (one clock for every runner).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import psycopg
from psycopg import sql

from reconciler.errors import StateError
from reconciler.states.pg_conn import translated
from reconciler.states.pg_schema import advisory_key

_ISO = """to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


@dataclass(frozen=True, order=True)
class Reservation:
    pool_id: str
    cidr: str
    workspace: str
    plan: str  # the checksum of the plan that reserved it
    expires: str  # ISO 8601, UTC
    created: str

    def to_dict(self) -> dict[str, str]:
        return {"pool_id": self.pool_id, "cidr": self.cidr, "workspace": self.workspace, "plan": self.plan,
                "expires": self.expires, "created": self.created}


class PgReservations:
    """The ``reservations`` table of ``schema`` (migration 2 of :mod:`reconciler.states.pg_schema`)."""

    def __init__(self, conninfo: str, schema: str, workspace: str, db: Callable[[], psycopg.Connection]):
        self.conninfo, self.schema, self.workspace, self._db = conninfo, schema, workspace, db
        self._t = sql.Identifier(schema, "reservations")
        cols = sql.SQL("pool_id, host(cidr) || '/' || masklen(cidr), workspace, plan, {}, {}").format(
            sql.SQL(_ISO.format(col="expires_at")), sql.SQL(_ISO.format(col="created_at")))
        self._select = sql.SQL("SELECT {} FROM {} ").format(cols, self._t)

    def live(self, *, others_only: bool = False) -> list[Reservation]:
        """Every reservation not yet expired (``others_only``: of the other workspaces), sorted."""
        where = sql.SQL("WHERE expires_at > now()") + (sql.SQL(" AND workspace <> %(w)s") if others_only else sql.SQL(""))
        with translated(self.conninfo, "read the reservations of"):
            rows = self._db().execute(self._select + where + sql.SQL(" ORDER BY 1, 2"), {"w": self.workspace}).fetchall()
        return sorted(Reservation(*r) for r in rows)

    def of_plan(self, plan: str) -> list[Reservation]:
        """The live reservations of one plan."""
        return [r for r in self.live() if r.plan == plan]

    def reserve(self, plan: str, blocks: Iterable[tuple[str, str]], ttl: int) -> list[Reservation]:
        """Reserve ``blocks`` ((pool id, CIDR)) for ``plan`` of this workspace for ``ttl`` seconds; replaces
        what this plan reserved before. ``Plan.ReservationConflict`` when another workspace holds an
        overlapping block (nothing is then reserved)."""
        wanted = sorted(set(blocks))
        conn = self._db()
        with translated(self.conninfo, "reserve blocks in"), conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_key("reservations", self.schema)])
            conn.execute(sql.SQL("DELETE FROM {} WHERE expires_at <= now() OR plan = %s").format(self._t), [plan])
            for pool_id, cidr in wanted:
                clash = conn.execute(
                    self._select + sql.SQL("WHERE pool_id = %(p)s AND cidr && %(c)s::cidr AND workspace <> %(w)s "
                                           "AND expires_at > now() LIMIT 1"),
                    {"p": pool_id, "c": cidr, "w": self.workspace}).fetchone()
                if clash is not None:
                    other = Reservation(*clash)
                    raise StateError("Plan.ReservationConflict", f"{cidr} in pool {pool_id} overlaps {other.cidr}, "
                                     f"which workspace {other.workspace} reserved (until {other.expires}) while this "
                                     "plan was made; nothing was reserved. Plan again: the new plan skips it")
                conn.execute(sql.SQL("INSERT INTO {} (pool_id, cidr, workspace, plan, expires_at) VALUES "
                                     "(%s, %s::cidr, %s, %s, now() + %s * interval '1 second')").format(self._t),
                             [pool_id, cidr, self.workspace, plan, ttl])
        return self.of_plan(plan)

    def release(self, *, plan: str | None = None, workspace: str | None = None, expired: bool = False) -> int:
        """Delete the reservations of ``plan``, of ``workspace``, or (``expired``) those past their time."""
        if plan is None and workspace is None and not expired:
            raise StateError("Reservations.NothingChosen", "say which reservations: a plan, a workspace or --expired")
        clauses, args = [], []
        if plan is not None:
            clauses.append("plan = %s")
            args.append(plan)
        if workspace is not None:
            clauses.append("workspace = %s")
            args.append(workspace)
        if expired:
            clauses.append("expires_at <= now()")
        query = sql.SQL("DELETE FROM {} WHERE ").format(self._t) + sql.SQL(" AND ".join(clauses))
        with translated(self.conninfo, "release reservations in"):
            return self._db().execute(query, args).rowcount

