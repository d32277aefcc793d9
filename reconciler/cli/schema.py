"""``ipamctl schema``: the JSON Schema of the spec format (for editors)."""

from __future__ import annotations

import json

import click

from reconciler.models.network import Spec


def schema() -> int:
    click.echo(json.dumps(Spec.model_json_schema(), indent=2, sort_keys=True))
    return 0
