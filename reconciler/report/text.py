"""The monitoring report as text tables (``ipamctl report``) and as the JSON document
(``ipamctl report --json``, described in docs/report.md). Pure: strings and dicts from a Report."""

from __future__ import annotations

from typing import Sequence

from reconciler.report.cidrs import CidrRef, ResourceCidr
from reconciler.report.model import PoolReport, Report, Usage
from reconciler.report.ranges import human_count as n
from reconciler.report.ranges import human_pct as p

FORMAT_VERSION = "1"


# ---- JSON -------------------------------------------------------------------------------------
def to_document(report: Report, discovery: dict | None = None) -> dict:
    """The stable JSON document. Counts are exact integers (IPv6 ones exceed 2**53); percentages
    are floats; statuses use the cloud's names."""
    return {
        "format_version": FORMAT_VERSION,
        "generated_at": report.generated_at,
        "discovery": discovery or {"status": "not-run", "cidrs": 0},
        "summary": summary(report),
        "pools": [_pool_doc(x) for x in report.pools],
        "ip_usage": [_usage_doc(u) for u in report.usage],
        "resource_cidrs": [_cidr_doc(r) for r in report.resources],
        "overlaps": [{"scope": o.scope, "a": _ref(o.a), "b": _ref(o.b)} for o in report.overlaps],
    }


def summary(report: Report) -> dict:
    return {"pools": len(report.pools), "resource_cidrs": len(report.resources),
            "managed": sum(r.management_status == "Managed" for r in report.resources),
            "unmanaged": len(report.unmanaged), "noncompliant": len(report.noncompliant),
            "overlaps": len(report.overlaps), "overlapping_cidrs": len(report.overlapping)}


def _pool_doc(x: PoolReport) -> dict:
    return {"address": f"ipam_pool.{x.name}", "name": x.name, "id": x.id, "scope": x.scope,
            "ip_version": x.ip_version, "region": x.region, "source": x.source, "depth": x.depth,
            "cidrs": list(x.cidrs),
            "allocation_rules": {"min_mask": x.min_mask, "default_mask": x.default_mask, "max_mask": x.max_mask},
            "total": x.total, "allocated_to_resources": x.allocated_to_resources,
            "custom_allocations": x.custom_allocations, "allocated_to_sub_pools": x.allocated_to_sub_pools,
            "free": x.free, "utilization_pct": x.utilization_pct, "largest_free_block": x.largest_free_block,
            "source_utilization_pct": x.source_utilization_pct,
            "allocations": [{"kind": b.kind, "name": b.name, "resource_id": b.resource_id, "cidr": b.cidr}
                            for b in x.blocks]}


def _usage_doc(u: Usage) -> dict:
    return {"resource_type": u.resource_type, "name": u.name, "resource_id": u.resource_id, "vpc": u.vpc,
            "region": u.region, "cidr": u.cidr, "total": u.total, "eni_addresses": u.eni_addresses,
            "prefix_addresses": u.prefix_addresses, "system_reserved": u.system_reserved,
            "vswitch_addresses": u.vswitch_addresses, "used": u.used, "free": u.free, "usage_pct": u.usage_pct}


def _ref(r: CidrRef) -> dict:
    return {"resource_type": r.resource_type, "name": r.name, "resource_id": r.resource_id, "region": r.region,
            "cidr": r.cidr}


def _cidr_doc(r: ResourceCidr) -> dict:
    return {**_ref(r.ref), "vpc": r.vpc, "scope": r.scope, "pool": r.pool, "pool_id": r.pool_id,
            "management_status": r.management_status, "compliance_status": r.compliance_status,
            "overlap_status": r.overlap_status, "noncompliance_reason": r.reason,
            "overlaps_with": [_ref(o) for o in r.overlaps_with], "source": r.source}


# ---- text -------------------------------------------------------------------------------------
def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = (), indent: str = "  ") -> str:
    """Aligned columns; the column indexes in ``right`` are right-aligned (numbers)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells):
        parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return (indent + "  ".join(parts)).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)]) + "\n"


def _name(r: CidrRef) -> str:
    kind = {"VPC": "vpc", "VSwitch": "vswitch", "CustomAllocation": "ipam_pool_allocation"}[r.resource_type]
    return f"{kind}.{r.name}" if r.name != r.resource_id else f"{kind} (discovered) {r.resource_id}"


def _usage_name(u: Usage) -> str:
    kind = "vswitch" if u.resource_type == "VSwitch" else "vpc"
    return f"{kind} (discovered)" if u.name == u.resource_id else f"{kind}.{u.name}"


def render_text(report: Report, discovery: dict | None = None) -> str:
    s = summary(report)
    out = [f"IPAM report{' at ' + report.generated_at if report.generated_at else ''}: {s['pools']} pools, "
           f"{s['resource_cidrs']} resource CIDRs ({s['managed']} managed, {s['unmanaged']} unmanaged), "
           f"{s['overlaps']} overlaps, {s['noncompliant']} noncompliant.\n"]
    if discovery and discovery.get("status") != "ok":
        out.append(f"Discovery: {discovery.get('message', discovery['status'])}; recorded state only.\n")
    out.append("\nPools (utilization = allocated / total; allocated = to resources + to sub-pools)\n")
    out.append(table(
        ["POOL", "SCOPE", "CIDRS", "TOTAL", "SUB-POOLS", "RESOURCES", "CUSTOM", "FREE", "USED", "LARGEST FREE",
         "SOURCE USED"],
        [["  " * (x.depth - 1) + x.name, x.scope, ", ".join(x.cidrs) or "-", n(x.total), n(x.allocated_to_sub_pools),
          n(x.allocated_to_resources), n(x.custom_allocations), n(x.free), p(x.utilization_pct),
          x.largest_free_block or "-", p(x.source_utilization_pct)] for x in report.pools],
        right=(3, 4, 5, 6, 7, 8, 10)) if report.pools else "  (no pools)\n")
    out.append("\nIP usage of VPCs and vSwitches (used = ENI addresses + prefixes + system-reserved; "
               "a VPC block sums its vSwitches)\n")
    out.append(table(
        ["RESOURCE", "ID", "CIDR", "TOTAL", "IN VSWITCHES", "ENI", "PREFIXES", "RESERVED", "FREE", "USED"],
        [[("  " if u.resource_type == "VSwitch" else "") + _usage_name(u), u.resource_id or "-", u.cidr, n(u.total),
          n(u.vswitch_addresses) if u.resource_type == "VPC" else "", n(u.eni_addresses), n(u.prefix_addresses),
          n(u.system_reserved), n(u.free), p(u.usage_pct)]
         for u in report.usage], right=(3, 4, 5, 6, 7, 8, 9)) if report.usage else "  (no VPCs)\n")
    out.append(f"\nOverlaps within each scope: {len(report.overlaps)}\n")
    if report.overlaps:
        out.append(table(["SCOPE", "RESOURCE", "CIDR", "OVERLAPS", "CIDR"],
                         [[o.scope, _name(o.a), o.a.cidr, _name(o.b), o.b.cidr] for o in report.overlaps]))
    out.append(f"\nResource CIDRs: management, compliance and overlap status "
               f"({s['noncompliant']} noncompliant)\n")
    if report.resources:
        out.append(table(
            ["RESOURCE", "CIDR", "SCOPE", "POOL", "MANAGEMENT", "COMPLIANCE", "OVERLAP", "SOURCE"],
            [[_name(r.ref), r.ref.cidr, r.scope, r.pool or r.pool_id or "-", r.management_status,
              r.compliance_status, r.overlap_status, r.source] for r in report.resources]))
    for r in report.noncompliant:
        out.append(f"  Noncompliant: {_name(r.ref)} {r.ref.cidr} in ipam_pool.{r.pool}: {r.reason}\n")
    return "".join(out)
