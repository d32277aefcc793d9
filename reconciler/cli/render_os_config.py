"""``ipamctl render-os-config ADDRESS --os FAMILY``: the guest configuration of an ENI's secondary
private IPs, from the recorded state."""

from __future__ import annotations

import click

from reconciler.workspace import Workspace


def render_os_config(ws: Workspace, *, address: str, family: str, device: str | None, adapter: str) -> int:
    from reconciler.report.guest_config import guest_network
    from reconciler.report.guest_config import render as render_guest

    state = ws.read_state()
    click.echo(render_guest(guest_network(state.resources, address, device), family, adapter), nl=False)
    return 0
