"""Monitoring report (the IPAM guide's "Resource monitoring"): pool utilization, VPC and vSwitch IP
usage, overlaps within each scope, and the management and compliance status of every resource CIDR.

Pure: :func:`build_report` maps the recorded resources and the discovered CIDRs (and a clock
reading, for the timestamp) to a frozen :class:`Report`; the CLI edge reads them. Arithmetic is on
integer ranges (:mod:`reconciler.report.ranges`); nothing enumerates addresses. Resource CIDRs,
their statuses and the overlaps come from :mod:`reconciler.report.cidrs`.

Pool figures: ``total`` is the size of the pool's provisioned CIDRs; ``allocated_to_resources``
the VPC blocks (recorded, or discovered with the pool's id) and custom allocations drawn from it,
``custom_allocations`` the latter alone; ``allocated_to_sub_pools`` its sub-pools' CIDRs; ``free``
the provisioned addresses outside all of those; ``utilization_pct`` = (total - free) / total.

IP usage of a vSwitch block: its ENIs' addresses (primary and secondary, as recorded), its ENIs'
prefixes (16 addresses per IPv4 /28, 2**48 per IPv6 /80), and its system-reserved addresses (the
first one and the last three); ``used`` is their sum, ``free`` the rest of the block. A VPC block
sums the vSwitch blocks inside it. Resources known only from discovery show only what discovery
knows (no ENI figures).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Iterable, Mapping

from reconciler.net.cidr import Cidr
from reconciler.net.discovered import DiscoveredCidr
from reconciler.net.eni_limits import reserved_ranges
from reconciler.net.records import eni_blocks
from reconciler.report.cidrs import (
    CidrRef,
    Overlap,
    ResourceCidr,
    effective_region,
    resource_cidrs,
)
from reconciler.report.ranges import largest_block, merge, pct, size, subtract

__all__ = ["Report", "PoolReport", "PoolBlock", "Usage", "CidrRef", "Overlap", "ResourceCidr", "build_report"]


@dataclass(frozen=True)
class PoolBlock:
    kind: str  # "sub_pool" | "vpc" | "custom"
    name: str  # the sub-pool's, VPC's or allocation's name; a discovered-only VPC's id
    resource_id: str | None
    cidr: str


@dataclass(frozen=True)
class PoolReport:
    name: str
    id: str | None
    scope: str
    ip_version: str
    region: str | None  # effective region
    source: str | None
    depth: int  # 1 for a top-level pool
    cidrs: tuple[str, ...]
    min_mask: int | None
    default_mask: int | None
    max_mask: int | None
    total: int
    allocated_to_resources: int
    custom_allocations: int
    allocated_to_sub_pools: int
    free: int
    utilization_pct: float
    largest_free_block: str | None
    source_utilization_pct: float | None  # a sub-pool's source pool's utilization
    blocks: tuple[PoolBlock, ...]  # everything allocated from the pool, in address order


@dataclass(frozen=True)
class Usage:
    resource_type: str  # "VPC" | "VSwitch"
    name: str
    resource_id: str | None
    vpc: str | None
    region: str | None
    cidr: str
    total: int
    eni_addresses: int | None  # None: not known (discovered only)
    prefix_addresses: int | None
    system_reserved: int
    vswitch_addresses: int | None  # VPC rows: the addresses of its vSwitch blocks inside this block
    used: int | None
    free: int | None
    usage_pct: float | None


@dataclass(frozen=True)
class Report:
    generated_at: str | None
    pools: tuple[PoolReport, ...]
    usage: tuple[Usage, ...]
    resources: tuple[ResourceCidr, ...]
    overlaps: tuple[Overlap, ...]
    accounts: Mapping[str, str] = field(default_factory=dict)  # resource id -> owner account, as discovery says

    @property
    def noncompliant(self) -> tuple[ResourceCidr, ...]:
        return tuple(r for r in self.resources if r.compliance_status == "Noncompliant")

    @property
    def overlapping(self) -> tuple[ResourceCidr, ...]:
        return tuple(r for r in self.resources if r.overlap_status == "Overlapping")

    @property
    def unmanaged(self) -> tuple[ResourceCidr, ...]:
        return tuple(r for r in self.resources if r.management_status == "Unmanaged")

    def headline(self) -> dict:
        """The figures ``report --history`` records for one run."""
        return {"timestamp": self.generated_at, "utilization": {p.name: p.utilization_pct for p in self.pools},
                "overlaps": len(self.overlaps), "overlapping_cidrs": len(self.overlapping),
                "noncompliant": len(self.noncompliant)}


def build_report(resources: Mapping[str, dict], discovered: Iterable[DiscoveredCidr] = (),
                 now: datetime | None = None) -> Report:
    """The report of the recorded ``resources`` (address -> record) and the ``discovered`` CIDRs."""
    by_type: dict[str, dict[str, dict]] = {}
    for rec in resources.values():
        by_type.setdefault(rec["type"], {})[rec["name"]] = rec
    found = tuple(discovered)
    rows, overlaps = resource_cidrs(by_type, found)
    return Report(generated_at=_timestamp(now), pools=_pools(by_type.get("ipam_pool", {}), rows),
                  usage=_usage(by_type.get("eni", {}), rows), resources=rows, overlaps=overlaps,
                  accounts={d.resource_id: d.account for d in found if d.account})


def _timestamp(now: datetime | None) -> str | None:
    if now is None:
        return None
    return now.isoformat(timespec="seconds").replace("+00:00", "Z")


# ---- pools ------------------------------------------------------------------------------------
def _pools(pools: Mapping[str, dict], rows: tuple[ResourceCidr, ...]) -> tuple[PoolReport, ...]:
    blocks: dict[str, list[PoolBlock]] = {name: [] for name in pools}
    for name, rec in pools.items():
        source = rec["attributes"].get("source")
        if source in blocks:
            blocks[source] += [PoolBlock("sub_pool", name, rec.get("id"), c) for c in rec["attributes"]["cidrs"]]
    for r in rows:
        if r.pool in blocks and r.ref.resource_type != "VSwitch":
            kind = "custom" if r.ref.resource_type == "CustomAllocation" else "vpc"
            blocks[r.pool].append(PoolBlock(kind, r.ref.name, r.ref.resource_id, r.ref.cidr))
    figures = {name: _pool(name, rec, pools, blocks[name]) for name, rec in pools.items()}
    out = []
    for name in _tree_order(pools):
        p = figures[name]
        source = figures.get(p.source) if p.source else None
        out.append(replace(p, source_utilization_pct=source.utilization_pct if source else None))
    return tuple(out)


def _pool(name: str, rec: dict, pools: Mapping[str, dict], blocks: list[PoolBlock]) -> PoolReport:
    a = rec["attributes"]
    version = 6 if a["ip_version"] == "IPv6" else 4
    cidrs = [Cidr.parse(c) for c in a.get("cidrs", [])]
    held = [Cidr.parse(b.cidr) for b in blocks]
    provisioned = merge((c.start, c.end) for c in cidrs)
    free = subtract(provisioned, ((c.start, c.end) for c in held))
    total, free_count = size(provisioned), size(free)

    def held_by(*kinds):
        return sum(c.size for b, c in zip(blocks, held) if b.kind in kinds)

    depth, cursor, seen = 1, a.get("source"), {name}
    while cursor in pools and cursor not in seen:
        seen.add(cursor)
        depth, cursor = depth + 1, pools[cursor]["attributes"].get("source")
    rules = a.get("allocation") or {}
    order = sorted(range(len(blocks)), key=lambda i: held[i])
    return PoolReport(
        name=name, id=rec.get("id"), scope=a["scope"], ip_version=a["ip_version"],
        region=effective_region(pools, name), source=a.get("source"), depth=depth, cidrs=tuple(a.get("cidrs", [])),
        min_mask=rules.get("min_mask"), default_mask=rules.get("default_mask"), max_mask=rules.get("max_mask"),
        total=total, allocated_to_resources=held_by("vpc", "custom"), custom_allocations=held_by("custom"),
        allocated_to_sub_pools=held_by("sub_pool"), free=free_count, utilization_pct=pct(total - free_count, total),
        largest_free_block=largest_block(free, version), source_utilization_pct=None,
        blocks=tuple(blocks[i] for i in order))


def _tree_order(pools: Mapping[str, dict]) -> list[str]:
    """Pools depth first: top-level pools by scope (private first), version and lowest CIDR."""
    children: dict[str | None, list[str]] = {}
    for name, rec in pools.items():
        source = rec["attributes"].get("source")
        children.setdefault(source if source in pools and source != name else None, []).append(name)

    def key(name):
        a = pools[name]["attributes"]
        low = min((Cidr.parse(c) for c in a.get("cidrs", [])), default=Cidr(4, 0, 0))
        return (a["scope"] != "private", a["scope"], low, name)

    out, seen, stack = [], set(), sorted(children.get(None, []), key=key, reverse=True)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            out.append(name)
            stack.extend(sorted(children.get(name, []), key=key, reverse=True))
    return out + sorted(set(pools) - seen)  # a cycle in a hand-made state: still listed


# ---- IP usage ---------------------------------------------------------------------------------
def _usage(enis: Mapping[str, dict], rows: tuple[ResourceCidr, ...]) -> tuple[Usage, ...]:
    taken: dict[str, tuple[set, set]] = {}  # vSwitch name -> (addresses, prefixes) of its ENIs
    for rec in enis.values():
        a = rec["attributes"]
        if a.get("vswitch"):
            addresses, prefixes = taken.setdefault(a["vswitch"], (set(), set()))
            for field, cidr in eni_blocks(a):
                (prefixes if field.endswith("prefixes") else addresses).add(Cidr.parse(cidr))
    switches: dict[str | None, list[Usage]] = {}
    for r in rows:
        if r.ref.resource_type == "VSwitch":
            switches.setdefault(r.vpc, []).append(_switch_usage(r, taken))
    out: list[Usage] = []
    shown: set[int] = set()  # ids of the vSwitch usages listed under their VPC
    for r in rows:
        if r.ref.resource_type != "VPC":
            continue
        c = Cidr.parse(r.ref.cidr)
        inside = sorted((s for s in switches.get(r.vpc, ()) if c.contains(Cidr.parse(s.cidr))),
                        key=lambda s: Cidr.parse(s.cidr))
        known = r.source != "discovered" and all(s.used is not None for s in inside)

        def total(field):
            return sum(getattr(s, field) or 0 for s in inside) if known else None

        used = total("used")
        out.append(Usage("VPC", r.ref.name, r.ref.resource_id, r.vpc, r.ref.region, r.ref.cidr, c.size,
                         total("eni_addresses"), total("prefix_addresses"), sum(s.system_reserved for s in inside),
                         sum(Cidr.parse(s.cidr).size for s in inside), used,
                         None if used is None else c.size - used, None if used is None else pct(used, c.size)))
        out.extend(inside)
        shown.update(id(s) for s in inside)
    return tuple(out + [s for group in switches.values() for s in group if id(s) not in shown])


def _switch_usage(r: ResourceCidr, taken: Mapping[str, tuple[set, set]]) -> Usage:
    c = Cidr.parse(r.ref.cidr)
    reserved = sum(hi - lo + 1 for lo, hi in reserved_ranges(c.version, c.start, c.prefix))
    if r.source == "discovered":
        return Usage("VSwitch", r.ref.name, r.ref.resource_id, r.vpc, r.ref.region, r.ref.cidr, c.size, None, None,
                     reserved, None, None, None, None)
    addresses, prefixes = taken.get(r.ref.name, ((), ()))
    n_addresses = sum(1 for x in addresses if c.contains(x))
    n_prefixes = sum(x.size for x in prefixes if c.contains(x))
    used = n_addresses + n_prefixes + reserved
    return Usage("VSwitch", r.ref.name, r.ref.resource_id, r.vpc, r.ref.region, r.ref.cidr, c.size, n_addresses,
                 n_prefixes, reserved, None, used, c.size - used, pct(used, c.size))
