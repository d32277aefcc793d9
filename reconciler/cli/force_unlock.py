"""``ipamctl force-unlock LOCK_ID``: remove a stale workspace lock left by a process that is gone."""

from __future__ import annotations

import click

from reconciler.workspace import Workspace


def force_unlock(ws: Workspace, *, lock_id: str) -> int:
    ws.backend().force_unlock(lock_id)
    click.echo(f"Lock {lock_id} removed.")
    return 0
