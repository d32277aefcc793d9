"""``ipamctl show``: the recorded state, every resource with its id and CIDRs."""

from __future__ import annotations

import click

from reconciler.cli import render
from reconciler.workspace import Workspace


def show(ws: Workspace, *, as_json: bool) -> int:
    state = ws.read_state()
    if as_json:
        click.echo(render.json_text({"lineage": state.lineage if state.serial else None, "serial": state.serial,
                                     "resources": state.resources_dict()}))
    else:
        click.echo(render.render_state(state.resources, state.lineage, state.serial), nl=False)
    return 0
