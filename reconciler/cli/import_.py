"""``ipamctl import ADDRESS ID [--json] [--lock-timeout S]``: adopt an existing cloud resource into the
state under a spec address, without recreating or renumbering it (see :mod:`reconciler.observe.imports`).

The address must be declared in the specs. Under the workspace lock the resource is read from the
cloud (with its references named as the state names them) and written into the state once, serial
bumped; an IPAM brings its two default scopes. ``ipamctl plan`` then compares it with the spec:
no replacement when the spec matches the resource.
"""

from __future__ import annotations

import click

from reconciler.cli import render
from reconciler.errors import StateError, raise_all
from reconciler.workspace import Workspace


def import_(ws: Workspace, *, address: str, resource_id: str, as_json: bool, lock_timeout: float) -> int:
    from reconciler.cli.refresh import no_recovery_pending
    from reconciler.observe.imports import adopt
    from reconciler.observe.refresh import spec_regions
    from reconciler.providers.alibaba_read import state_regions
    from reconciler.rules.imports import declared, problem
    from reconciler.states.state import State

    doc = ws.load_specs()
    settings = ws.provider_settings(doc)
    backend = ws.backend()
    with backend.lock("import", timeout=lock_timeout):
        no_recovery_pending(backend)
        state = backend.read()
        rec = state.resources.get(address)
        records: dict[str, dict]
        if rec is not None and rec.get("id") == resource_id:
            records, final = {}, state
        else:
            found = problem(address, resource_id, state.resources)  # type: ignore[arg-type]  # keys are addresses
            if found is None and not declared(doc, address):
                found = ("Import.NotInSpec", f"{address} is not declared in the specs; declare it first "
                         "(matching the resource, so that plan shows no change)")
            if found:
                raise StateError(found[0], found[1], address=address)
            client = ws.cloud_reader(settings)
            try:
                records, failures = adopt(client, state.resources, {address: resource_id},
                                          spec_regions(doc) | state_regions(state.resources))
            finally:
                client.close()
            raise_all([StateError(code, detail, address=a) for a, code, detail in failures])
            final = State(state.lineage, state.serial + 1, {**state.resources_dict(), **records})
            backend.write(final)
    if as_json:
        body = {"imported": {a: records[a] for a in sorted(records)}, "serial": final.serial}
        click.echo(render.json_text(body))
        return 0
    if not records:
        click.echo(f"{address} is already in the state as {resource_id} (serial {state.serial}); nothing to do.")
        return 0
    for a in sorted(records, key=render.state_key):
        click.echo(f"Imported {a} ({records[a]['id']}).")
    click.echo(render.render_record(address, records[address]), nl=False)
    click.echo(f"State serial {final.serial}. Run `ipamctl plan` to compare it with the spec.")
    return 0
