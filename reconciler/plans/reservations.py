"""The blocks a plan takes from IPAM pools: what ``plan --out`` / ``plan --reserve`` reserves.

Only blocks the plan newly takes from a pool count (a VPC's blocks, a VPC's secondary blocks, custom
allocations, a sub-pool's CIDRs drawn from its source pool); blocks a resource already holds are not
taken again. Each is named by the spec name of its pool; the edge maps names to the pools' cloud ids
(the key other workspaces see).
"""

from __future__ import annotations

from reconciler.net.address import ResourceAddress
from reconciler.plans.order import Plan


def pool_blocks(plan: Plan) -> list[tuple[str, str]]:
    """(pool name, CIDR) of every block ``plan`` takes from a pool, sorted, once each."""
    out: set[tuple[str, str]] = set()
    for a in plan.actions:
        after = a.after or {}
        if a.type == "vpc" and a.action.value == "create":
            for slot in ("ipv4", "ipv6"):
                block = after.get(slot) or {}
                if block.get("pool") and block.get("cidr"):
                    out.add((block["pool"], block["cidr"]))
        elif a.type == "vpc" and a.action.value == "allocate" and after.get("pool") and a.cidr:
            out.add((after["pool"], a.cidr))
        elif a.type == "ipam_pool_allocation" and a.action.value == "allocate" and after.get("pool") and a.cidr:
            out.add((after["pool"], a.cidr))
        elif a.type == "ipam_pool" and a.action.value == "provision" and a.cidr:
            source = _source(plan, a.address)
            if source:
                out.add((source, a.cidr))
    return sorted(out)


def _source(plan: Plan, address: ResourceAddress) -> str | None:
    """The source pool of a pool, as the plan's desired records name it."""
    record = plan.desired.get(address) or {}
    source = (record.get("attributes") or {}).get("source")
    return str(source) if source else None
