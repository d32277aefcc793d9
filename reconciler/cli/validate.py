"""``ipamctl validate``: parse, validate and graph the specs, and check every rule they alone decide
(as a plan on an empty workspace would; no state or cloud read)."""

from __future__ import annotations

import click

from reconciler.cli import render
from reconciler.planner import validate as validate_specs
from reconciler.workspace import Workspace


def validate(ws: Workspace, *, as_json: bool) -> int:
    v = validate_specs(ws.load_specs(), rules=True)  # every rule the specs alone decide, no state read
    if as_json:
        click.echo(render.json_text({"valid": True, "resources": len(v.graph)}))
    else:
        click.echo(f"The specs are valid: {len(v.graph)} resources.")
    return 0
