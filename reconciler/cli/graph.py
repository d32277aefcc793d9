"""``ipamctl graph``: the dependency graph of the specs, in DOT."""

from __future__ import annotations

import click

from reconciler.planner import validate
from reconciler.workspace import Workspace


def graph(ws: Workspace) -> int:
    click.echo(validate(ws.load_specs()).graph.to_dot(), nl=False)
    return 0
