"""``ipamctl sandbox call ACTION Key=Value ...``: call the embedded sandbox cloud with Alibaba API
names and parameters; the response (or the cloud's error) as JSON."""

from __future__ import annotations

import click

from reconciler.cli import render
from reconciler.errors import CloudError, ReconcilerError, StateError
from reconciler.workspace import Workspace


def sandbox_call(ws: Workspace, *, action: str, params: tuple[str, ...]) -> int:
    args = {}
    for p in params:
        key, eq, value = p.partition("=")
        if not eq or not key:
            raise StateError("Sandbox.BadParameter", f"{p!r} is not Key=Value")
        args[key] = value
    try:
        settings = ws.provider_settings(ws.load_specs())
    except ReconcilerError:
        settings = ws.provider_settings(None)
    cloud = ws.sandbox(settings)
    try:
        response = cloud.call(action, args)
    except CloudError as exc:
        click.echo(render.json_text({"Code": exc.code, "Message": exc.detail,
                                     "HttpStatus": getattr(exc, "http_status", 400)}))
        return 1
    finally:
        cloud.close()
    click.echo(render.json_text(response))
    return 0
