"""``ipamctl sandbox call ACTION Key=Value ...``: call the embedded sandbox cloud with Alibaba API
names and parameters; the response (or the cloud's error) as JSON. ``ipamctl sandbox serve``: the
sandbox over HTTP for the official SDK clients (:mod:`reconciler.serve`)."""

from __future__ import annotations

import gc
import ipaddress
import signal
import threading
from pathlib import Path

import click

from reconciler.cli import render
from reconciler.cli.files import resolve, write_output
from reconciler.cloud.realism import Realism
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


def sandbox_serve(ws: Workspace, *, host: str, port: int, port_file: str | None, db: str | None,
                  pending: float, throttle: float | None, page_size: int | None, policy: str | None,
                  log: str | None, require_open_service: bool = False) -> int:
    """``ipamctl sandbox serve``: the workspace's sandbox over HTTP until SIGINT or SIGTERM (exit 0).

    The key is ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET when both are set, else a fresh random pair,
    printed once here on stderr (the only place a secret is ever shown). Paths are relative to
    the ``-C`` folder; the database is by default the sandbox's (``state/sandbox.db``, or the
    sandbox provider's ``path``), whatever the specs' provider type."""
    if pending < 0 or (throttle is not None and throttle <= 0) or (page_size is not None and page_size < 1):
        raise ReconcilerError("Serve.BadOption", "--pending is >= 0 seconds, --throttle > 0 calls a second, "
                         "--page-size >= 1")
    # here, not at the top: every other command starts without the HTTP server's imports
    from reconciler.serve.app import Options
    from reconciler.serve.ram import load_policy
    from reconciler.serve.server import SandboxServer, serve
    from reconciler.serve.signature import generate_key, key_from_env

    gc.enable()  # main() turns the collector off for a command; a server runs for hours
    path = resolve(ws.root, db) if db else _default_db(ws)
    options = Options(realism=Realism(pending_seconds=pending, max_page=page_size,
                                      require_open_service=require_open_service),
                      throttle=throttle, policy=load_policy(resolve(ws.root, policy)) if policy else None,
                      log=resolve(ws.root, log) if log else None)
    key = key_from_env()
    generated = key is None
    key = key or generate_key()
    server = SandboxServer(path, key, host=host, port=port, options=options)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if generated:
            click.echo(f"access key id: {key.id}\naccess key secret: {key.secret}", err=True)
        if port_file:
            write_output(resolve(ws.root, port_file), f"{server.port}\n".encode())
        click.echo(f"serving on {server.url}", err=True)
        if not _loopback(server.host):
            click.echo(f"warning: {server.host} is not a loopback address: whoever reaches it and holds the key "
                       "can change this sandbox", err=True)
        serve(server, stop)
    finally:
        server.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("stopped", err=True)
    return 0


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _default_db(ws: Workspace) -> Path:
    try:
        settings = ws.provider_settings(ws.load_specs())
    except ReconcilerError:
        settings = ws.provider_settings(None)
    return ws.sandbox_path(settings if settings.get("type") == "sandbox" else {})
