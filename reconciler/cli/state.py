"""``ipamctl state list`` and ``ipamctl state show ADDRESS``: the recorded state, address by address."""

from __future__ import annotations

import click

from reconciler.cli import render
from reconciler.errors import StateError
from reconciler.workspace import Workspace


def state_list(ws: Workspace) -> int:
    state = ws.read_state()
    for address in sorted(state.resources, key=render.state_key):
        click.echo(address)
    return 0


def state_show(ws: Workspace, *, address: str) -> int:
    state = ws.read_state()
    if address not in state.resources:
        raise StateError("State.NoSuchResource", f"{address} is not in the state (see `ipamctl state list`)",
                         address=address)
    click.echo(render.render_record(address, state.resources[address]), nl=False)
    return 0
