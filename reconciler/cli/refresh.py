"""``ipamctl refresh [--json] [--lock-timeout S]``: record the cloud as it is now.

Under the workspace lock: each recorded resource is replaced by what the cloud holds for it and the
ones the cloud no longer has are dropped (unmanaged resources are never added: that is ``ipamctl
import``). When anything differs, the state is written once with its serial bumped (the backend
keeps the previous snapshot as ``state.json.backup``); otherwise nothing is written. ``.driftignore``
does not apply: refresh records what is.
"""

from __future__ import annotations

import click

from reconciler.cli import render
from reconciler.errors import StateError
from reconciler.states.backend import StateBackend
from reconciler.workspace import Workspace


def no_recovery_pending(backend: StateBackend) -> None:
    """Refuse to write a snapshot while an interrupted apply has calls in flight (apply recovers them)."""
    pending = getattr(backend, "pending_intents", None)
    if pending is not None and pending():
        raise StateError("State.RecoveryPending", "an interrupted apply left calls in flight; run `ipamctl apply` "
                         "first, which finishes and records them")


def refresh(ws: Workspace, *, as_json: bool, lock_timeout: float) -> int:
    from reconciler.cli.drift import load_specs_or_none
    from reconciler.observe.drift import drift
    from reconciler.observe.refresh import observe, refreshed, spec_regions
    from reconciler.states.state import State

    backend = ws.backend()
    doc = load_specs_or_none(ws)
    settings = ws.provider_settings(doc)
    with backend.lock("refresh", timeout=lock_timeout):
        no_recovery_pending(backend)
        state = backend.read()
        observed = observe(ws, state.resources, settings, spec_regions(doc))
        report = drift(state.resources, observed)
        resources = refreshed(state.resources, observed)
        written = resources != state.resources_dict()
        final = state
        if written:
            final = State(state.lineage, state.serial + 1, resources)
            backend.write(final)
    if as_json:
        body = {"written": written, "serial": final.serial, "changed": [c.address for c in report.changed],
                "removed": [m.address for m in report.missing],
                "unmanaged": [u.to_dict() for u in report.unmanaged]}
        click.echo(render.json_text(body))
        return 0
    if not written:
        click.echo(f"The state already matches the cloud (serial {state.serial}); nothing written.")
    else:
        lines = [f"  ~ {c.address} ({c.id}): {', '.join(a.attribute for a in c.attributes)}" for c in report.changed]
        lines += [f"  - {m.address} ({m.id}): gone from the cloud, removed from the state" for m in report.missing]
        click.echo("Refreshed the state from the cloud:\n" + "\n".join(lines))
        click.echo(f"State serial {final.serial} (the previous one is kept as state.json.backup).")
    if report.unmanaged:
        click.echo(f"{len(report.unmanaged)} unmanaged resource(s) are not recorded; see `ipamctl drift`, "
                   "adopt them with `ipamctl import ADDRESS ID`.")
    return 0
