"""The resource CIDRs of the monitoring report: every VPC block, vSwitch block and custom
allocation, from the recorded state and from discovery, with its scope, its pool, and the three
statuses the cloud's ListIpamResourceCidrs gives it (ManagementStatus, ComplianceStatus,
OverlapStatus), plus the overlapping pairs within each scope.

Where a CIDR sits:

- A VPC block allocated from a pool (``pool`` in the state, ``IpamPoolId`` in discovery) is in the
  pool's scope and is *Managed*; any other VPC block is *Unmanaged* and sits in the default scope of
  its IP version (``private`` for IPv4, ``public`` for IPv6), where discovery puts it.
- A vSwitch block takes the scope, pool and management status of its VPC's block that holds it.
- A discovered block from a pool the state does not know is Managed, in the scope discovery names
  (``scope_id``) when the state knows that scope, else in the default scope of its version.
- A custom allocation is in its pool's scope and is always Managed.

Compliance (Managed CIDRs only; Unmanaged ones have ComplianceStatus ``Unmanaged``): a VPC block
or custom allocation complies when its mask is within the pool's ``min_mask``..``max_mask`` and it
lies inside the pool's provisioned CIDRs; a pool not in the recorded state has no known rules and
every block complies. vSwitch blocks are Compliant when Managed (the rules do not apply to them).

Overlaps: within one scope and IP version, VPC blocks against VPC blocks of other VPCs and vSwitches
against vSwitches of other VPCs, as the cloud's OverlapStatus has it; custom allocations are
compared with VPC blocks too (a VPC over a block reserved for a data centre is a conflict the cloud's
view does not show), so such a VPC block is Overlapping here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

from reconciler.net.cidr import Cidr, parse_ints
from reconciler.net.discovered import DiscoveredCidr
from reconciler.report.ranges import overlapping_pairs

DEFAULT_SCOPE = {4: "private", 6: "public"}


@dataclass(frozen=True)
class CidrRef:
    resource_type: str  # "VPC" | "VSwitch" | "CustomAllocation"
    name: str  # the name in the state; a discovered-only resource's id
    resource_id: str | None
    region: str | None
    cidr: str


@dataclass(frozen=True)
class Overlap:
    scope: str
    a: CidrRef
    b: CidrRef


@dataclass(frozen=True)
class ResourceCidr:
    ref: CidrRef
    vpc: str | None  # the VPC's name (its id when discovered only); None for a custom allocation
    scope: str
    pool: str | None  # the pool's name when the state has it
    pool_id: str | None
    management_status: str  # Managed | Unmanaged
    compliance_status: str  # Compliant | Noncompliant | Unmanaged
    overlap_status: str  # Nonoverlapping | Overlapping
    reason: str | None  # why Noncompliant
    overlaps_with: tuple[CidrRef, ...]
    source: str  # "state" | "discovered" | "state+discovered"


class _Inventory:
    """Collects the CIDRs; the same (resource, CIDR) from state and discovery is one entry."""

    def __init__(self, pools: Mapping[str, dict], scopes: Mapping[str, dict]):
        self.pools = pools
        self.scope_by_id = {rec["id"]: name for name, rec in scopes.items() if rec.get("id")}
        self.pool_by_id = {p["id"]: n for n, p in pools.items() if p.get("id")}
        self.rows: list[ResourceCidr] = []
        self.owners: list[str] = []
        self.index: dict[tuple[str, str], int] = {}
        self.vpc_blocks: dict[str, list[tuple[Cidr, str, str | None, str | None]]] = {}  # vpc id -> blocks

    def add(self, ref: CidrRef, vpc, owner: str, scope: str, pool, pool_id, source: str) -> None:
        key = (ref.resource_id or f"{ref.resource_type}:{ref.name}", ref.cidr)
        managed = pool is not None or pool_id is not None
        row = ResourceCidr(ref, vpc, scope, pool, pool_id, "Managed" if managed else "Unmanaged",
                           "Compliant" if managed else "Unmanaged", "Nonoverlapping", None, (), source)
        if key not in self.index:
            self.index[key] = len(self.rows)
            self.rows.append(row)
            self.owners.append(owner)
            return
        i = self.index[key]
        old = self.rows[i]
        sources = old.source if old.source == source else "state+discovered"
        if managed and old.management_status == "Unmanaged":  # imported into a pool since it was recorded
            old = replace(row, ref=old.ref, vpc=old.vpc)
        self.rows[i] = replace(old, source=sources)

    def pool_scope(self, pool: str | None, pool_id: str | None, version: int) -> tuple[str, str | None, str | None]:
        """(scope, pool name, pool id) of a block allocated from a pool, or of an IPAM-less block."""
        if pool is None and pool_id is not None:
            pool = self.pool_by_id.get(pool_id)
        if pool in self.pools:
            return self.pools[pool]["attributes"]["scope"], pool, self.pools[pool].get("id")  # type: ignore[index]
        return DEFAULT_SCOPE[version], None, pool_id

    def vpc_block(self, vpc_key: str, cidr: str, pool, pool_id, scope_id=None) -> tuple[str, str | None, str | None]:
        c = Cidr.parse(cidr)
        scope, pool, pool_id = self.pool_scope(pool, pool_id, c.version)
        if pool is None and scope_id in self.scope_by_id:  # discovery names the scope
            scope = self.scope_by_id[scope_id]
        blocks = [b for b in self.vpc_blocks.get(vpc_key, []) if b[0] != c or (b[2] or b[3])]
        if all(b[0] != c for b in blocks):
            blocks.append((c, scope, pool, pool_id))
        self.vpc_blocks[vpc_key] = blocks
        return scope, pool, pool_id

    def holder(self, vpc_key: str, cidr: str) -> tuple[str, str | None, str | None]:
        c = Cidr.parse(cidr)
        for block, scope, pool, pool_id in self.vpc_blocks.get(vpc_key, ()):
            if block.contains(c):
                return scope, pool, pool_id
        return DEFAULT_SCOPE[c.version], None, None


def resource_cidrs(by_type: Mapping[str, Mapping[str, dict]], discovered: Iterable[DiscoveredCidr]
                   ) -> tuple[tuple[ResourceCidr, ...], tuple[Overlap, ...]]:
    """Every resource CIDR with its statuses, and the overlaps within each scope."""
    pools, vpcs = by_type.get("ipam_pool", {}), by_type.get("vpc", {})
    inv = _Inventory(pools, by_type.get("ipam_scope", {}))
    found = sorted(set(discovered))
    vpc_key = {name: rec.get("id") or f"vpc:{name}" for name, rec in vpcs.items()}
    vpc_name = {key: name for name, key in vpc_key.items()}
    for name, rec in sorted(vpcs.items()):
        a = rec["attributes"]
        for b in [a.get("ipv4"), *a.get("secondary_cidrs", []), a.get("ipv6")]:
            if b and b.get("cidr"):
                scope, pool, pool_id = inv.vpc_block(vpc_key[name], b["cidr"], b.get("pool"), None)
                inv.add(CidrRef("VPC", name, rec.get("id"), a.get("region"), b["cidr"]), name, vpc_key[name],
                        scope, pool, pool_id, "state")
    for d in (d for d in found if d.resource_type == "VPC"):
        scope, pool, pool_id = inv.vpc_block(d.vpc_id, d.cidr, None, d.pool_id, getattr(d, "scope_id", None))
        name = vpc_name.get(d.vpc_id, d.vpc_id)
        inv.add(CidrRef("VPC", name, d.resource_id, d.region, d.cidr), name, d.vpc_id, scope, pool, pool_id,
                "discovered")
    for name, rec in sorted(by_type.get("vswitch", {}).items()):
        a = rec["attributes"]
        region = vpcs.get(a["vpc"], {}).get("attributes", {}).get("region")
        key = vpc_key.get(a["vpc"], f"vpc:{a['vpc']}")
        for cidr in (a.get("cidr"), a.get("ipv6_cidr")):
            if cidr:
                inv.add(CidrRef("VSwitch", name, rec.get("id"), region, cidr), a["vpc"], key, *inv.holder(key, cidr),
                        "state")
    for d in (d for d in found if d.resource_type == "VSwitch"):
        name = next((r.ref.name for r in inv.rows if r.ref.resource_id == d.resource_id), d.resource_id)
        inv.add(CidrRef("VSwitch", name, d.resource_id, d.region, d.cidr), vpc_name.get(d.vpc_id, d.vpc_id),
                d.vpc_id, *inv.holder(d.vpc_id, d.cidr), "discovered")
    for name, rec in sorted(by_type.get("ipam_pool_allocation", {}).items()):
        a = rec["attributes"]
        if a.get("cidr"):
            scope, pool, pool_id = inv.pool_scope(a["pool"], None, Cidr.parse(a["cidr"]).version)
            inv.add(CidrRef("CustomAllocation", name, rec.get("id"), effective_region(pools, a["pool"]), a["cidr"]),
                    None, f"ipam_pool_allocation.{name}", scope, pool, pool_id, "state")
    rows = [_compliance(r, pools) for r in inv.rows]
    return _overlaps(rows, inv.owners)


def effective_region(pools: Mapping[str, dict], name: str | None) -> str | None:
    seen = set()
    while name in pools and name not in seen:
        seen.add(name)
        a = pools[name]["attributes"]  # type: ignore[index]  # a name: it is in pools
        if a.get("region"):
            return a["region"]
        name = a.get("source")
    return None


def _compliance(row: ResourceCidr, pools: Mapping[str, dict]) -> ResourceCidr:
    if row.management_status != "Managed" or row.ref.resource_type == "VSwitch" or row.pool not in pools:
        return row
    reason = rule_breach(Cidr.parse(row.ref.cidr), pools[row.pool]["attributes"])  # type: ignore[index]
    return replace(row, compliance_status="Noncompliant", reason=reason) if reason else row


def rule_breach(c: Cidr, pool: Mapping) -> str | None:
    """Why a block breaks its pool's allocation rules, or None."""
    rules = pool.get("allocation") or {}
    lo, hi = rules.get("min_mask"), rules.get("max_mask")
    if lo is not None and c.prefix < lo:
        return f"mask /{c.prefix} is shorter than the pool's min_mask /{lo}"
    if hi is not None and c.prefix > hi:
        return f"mask /{c.prefix} is longer than the pool's max_mask /{hi}"
    if not any(Cidr.parse(p).contains(c) for p in pool.get("cidrs", [])):
        return "outside the pool's provisioned CIDRs"
    return None


def _overlaps(rows: list[ResourceCidr], owners: Sequence[str]) -> tuple[tuple[ResourceCidr, ...], tuple[Overlap, ...]]:
    groups: dict[tuple, list[tuple[int, int, int]]] = {}
    for i, r in enumerate(rows):
        version, start, prefix = parse_ints(r.ref.cidr)
        kind = "vswitch" if r.ref.resource_type == "VSwitch" else "block"
        end = start + (1 << ((32 if version == 4 else 128) - prefix)) - 1
        groups.setdefault((r.scope, version, kind), []).append((start, end, i))
    found: list[Overlap] = []
    partners: dict[int, list[CidrRef]] = {}
    for (scope, _, _), ranges in sorted(groups.items()):
        for i, j in overlapping_pairs(ranges):
            if owners[i] == owners[j]:
                continue
            found.append(Overlap(scope, rows[i].ref, rows[j].ref))
            partners.setdefault(i, []).append(rows[j].ref)
            partners.setdefault(j, []).append(rows[i].ref)
    out = tuple(replace(r, overlap_status="Overlapping", overlaps_with=tuple(partners[i])) if i in partners else r
                for i, r in enumerate(rows))
    return out, tuple(found)
