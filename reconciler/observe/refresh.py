"""Refresh: the recorded state as the cloud has it now.

:func:`refreshed` (pure) replaces each recorded record by what was read for its address and drops
the ones the cloud no longer has; records never created (no id) stay. Unmanaged cloud objects are
never added: adopting one is ``ipamctl import``. :func:`refreshed_resources` is the edge that
``ipamctl plan --refresh`` and ``ipamctl refresh`` use.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from reconciler.providers.alibaba_read import Observed, read_all
from reconciler.source.loader import SpecDocument
from reconciler.states.state import State


def spec_regions(doc: SpecDocument | None) -> set[str]:
    """Regions the specs name (the IPAM's managed and operating regions, each VPC's region), read
    from the raw document so that specs that do not validate still give what they can."""
    data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
    out: set[str | None] = set()  # filtered to names below
    ipam = data.get("ipam")
    if isinstance(ipam, dict):
        out.add(ipam.get("region"))
        regions = ipam.get("operating_regions")
        out.update(regions if isinstance(regions, list) else ())
    vpcs = data.get("vpcs")
    for body in (vpcs.values() if isinstance(vpcs, dict) else ()):
        if isinstance(body, dict):
            out.add(body.get("region"))
    return {r for r in out if isinstance(r, str) and r and len(r) < 64}


def observe(ws, resources: Mapping[str, dict], settings: Mapping, regions: Iterable[str] = ()) -> Observed:
    """Read the cloud behind ``settings`` for the state ``resources`` (edge)."""
    client = ws.cloud_reader(settings)
    try:
        return read_all(client, resources, regions)
    finally:
        client.close()


def refreshed(recorded: Mapping[str, dict], observed: Observed) -> dict[str, dict]:
    """``recorded`` with every record replaced by what was read, and the missing ones dropped."""
    out = {}
    for address, rec in recorded.items():
        if not rec.get("id"):
            out[address] = rec
        elif address in observed.resources:
            out[address] = observed.resources[address]
    return out


def refreshed_resources(ws, state: State, settings: Mapping) -> dict[str, dict]:
    """The state's resources as the cloud has them now (``ipamctl plan --refresh``)."""
    return refreshed(state.resources, observe(ws, state.resources, settings))
