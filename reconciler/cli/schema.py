"""``ipamctl schema``: the JSON Schema of the spec format (for editors)."""

from __future__ import annotations

import click

from reconciler.models.schema import schema_text


def schema() -> int:
    click.echo(schema_text(), nl=False)
    return 0
