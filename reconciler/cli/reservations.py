"""``ipamctl reservations list|release``: the blocks plans have reserved on the shared backend."""

from __future__ import annotations

import click

from reconciler.apply.reservations import store_of
from reconciler.cli import render
from reconciler.errors import StateError
from reconciler.workspace import Workspace


def _store(ws: Workspace):
    store = store_of(ws.backend())
    if store is None:
        raise StateError("State.NoSharedBackend", "reservations live on a shared state backend (`backend: {type: "
                         "postgres, ...}`); the local backend has none: its state is one workspace's alone")
    return store


def reservations_list(ws: Workspace, *, as_json: bool) -> int:
    rows = _store(ws).live()
    if as_json:
        click.echo(render.json_text({"reservations": [r.to_dict() for r in rows]}))
    elif not rows:
        click.echo("No reservations.")
    else:
        for r in rows:
            click.echo(f"{r.cidr}  pool {r.pool_id}  workspace {r.workspace}  until {r.expires}  plan {r.plan[:12]}")
    return 0


def reservations_release(ws: Workspace, *, plan: str | None, workspace: str | None, expired: bool) -> int:
    store = _store(ws)
    if plan is not None and len(plan) < 64:  # a prefix, as `list` shows it
        matches = sorted({r.plan for r in store.live() if r.plan.startswith(plan)})
        if len(matches) != 1:
            raise StateError("Reservations.UnknownPlan", f"{len(matches)} live plan(s) start with {plan!r}; give more "
                             "of the checksum")
        plan = matches[0]
    gone = store.release(plan=plan, workspace=workspace, expired=expired)
    click.echo(f"Released {gone} reservation(s).")
    return 0
