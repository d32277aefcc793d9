"""Sandbox resource discovery (IPAM 2023-02-28): ListIpamResourceCidrs, ListIpamDiscoveredResource,
and the sandbox-only SandboxRunDiscovery (auto-import).

Every IPAM has a default resource discovery (``DefaultResourceDiscoveryId``, made with it) that sees
every VPC and vSwitch CIDR (IPv4 and IPv6 blocks) in the IPAM's operating regions. The sandbox
computes the view on every call; the real cloud refreshes it every 5 minutes.

Where a discovered CIDR sits: a VPC block is **Hosted** (``ManagementStatus`` Managed in the scope
view) when a ``VPC`` allocation of one of the IPAM's pools holds it (allocated from the pool, or
imported into it); it then belongs to that pool's scope. Any other block is **Not hosted**
(Unmanaged) and belongs to the IPAM's default scope of its IP version (private IPv4, public IPv6).
A vSwitch block takes the pool, scope and status of its VPC's block that holds it.

ListIpamResourceCidrs(IpamScopeId | IpamPoolId, ResourceType VPC|VSwitch, ResourceId, VpcId,
MaxResults / NextToken): the rows of a scope (or those hosted in a pool), each with Cidr,
ResourceType, ResourceId, ResourceRegionId, VpcId, SourceCidr (the VPC block holding it), IpamId,
IpamScopeId, IpamPoolId ("" when not hosted), IpUsage (used / total as a decimal string),
IpCountDetail {FreeIpCount, TotalIpCount, UsedIpCount} (a VPC block uses the addresses of its
vSwitches; a vSwitch uses its 4 system-reserved addresses and its ENIs' addresses and prefixes;
IPv6 rows carry no counts and IpUsage ""), OverlapDetail [{OverlapResourceCidr, OverlapResourceId,
OverlapResourceRegion}], OverlapStatus (Overlapping when a VPC block overlaps a VPC block of another
VPC in the scope, or a vSwitch a vSwitch of another VPC), ManagementStatus (Managed / Unmanaged) and
ComplianceStatus (Unmanaged when not managed; a VPC block is Compliant when its mask is within the
pool's allocation masks and it lies inside the pool's provisioned CIDRs, else Noncompliant; a
managed vSwitch is Compliant).

ListIpamDiscoveredResource(IpamResourceDiscoveryId, RegionId (the resources' region;
ResourceRegionId is taken first when given), ResourceType, MaxResults / NextToken): the rows of
one region, with ManagementStatus ``Hosted`` / ``Not hosted`` as the console shows it, IpamPoolId,
IpamScopeId and AliUid (the owner's account: the sandbox has one, ``ACCOUNT_ID``). A region outside the discovery's operating regions has no rows.

SandboxRunDiscovery(IpamId optional: every IPAM): one run of what the cloud does every 5 minutes,
auto-import. Pools that take part: AutoImport on, an effective region (PoolRegionId), in a default
scope. A candidate is a Not-hosted VPC block of the pool's region and IP version that lies inside one
of the pool's provisioned CIDRs. Candidates are taken largest first, then lowest address, then
lowest resource id, and each is imported (a ``VPC`` allocation is recorded in the pool) when it is
still free in the pool: so of overlapping candidates only the largest is imported, and of identical
ones exactly one, the one of the lowest VPC id (the cloud picks at random; the sandbox is
deterministic). Answers Imported [{IpamPoolId, IpamPoolAllocationId, Cidr, ResourceId}] and Skipped
[{IpamPoolId, Cidr, ResourceId, Reason}].

Codes: MissingParameter.IpamScopeId (neither scope nor pool), MissingParameter.IpamResourceDiscoveryId,
MissingParameter.RegionId, ResourceNotFound.IpamScope / .IpamPool / .Ipam, and
ResourceNotFound.IpamResourceDiscovery (inferred).
"""

from __future__ import annotations

import weakref
from bisect import bisect_right
from dataclasses import dataclass
from typing import cast

from reconciler.cloud.allocation_api import KIND as ALLOC
from reconciler.cloud.allocation_api import record
from reconciler.cloud.ipam_api import get_ipam, get_scope, op
from reconciler.cloud.share_api import owner_only
from reconciler.cloud.pool_api import get_pool
from reconciler.cloud.sandbox import Request, fail, page_by_token
from reconciler.cloud.space import containing, is_free
from reconciler.cloud.store import Resource, Store

ACCOUNT_ID = 1000000000000000  # the sandbox's one account (an integer, as the API's AliUid is)
from reconciler.cloud.vswitch_api import available
from reconciler.net.cidr import Cidr


@dataclass(frozen=True)
class Found:
    """One discovered CIDR of one VPC or vSwitch."""

    resource_type: str  # "VPC" | "VSwitch"
    resource_id: str
    vpc_id: str
    region: str
    cidr: Cidr
    source: Cidr  # the VPC block holding it (itself for a VPC row)
    pool_id: str  # "" when not hosted
    scope_id: str
    ipam_id: str
    total: int | None  # None for IPv6
    used: int | None


_VIEWS: "weakref.WeakKeyDictionary[Store, tuple[int, str, list[Found]]]" = weakref.WeakKeyDictionary()


def discovered(store: Store, ipam: dict) -> list[Found]:
    """Every VPC and vSwitch CIDR of the IPAM's operating regions, in region then creation order;
    computed once per state of the store (pages of a list do not recompute it)."""
    cached = _VIEWS.get(store)
    if cached is not None and cached[:2] == (store.generation, ipam["IpamId"]):
        return cached[2]
    rows = _discover(store, ipam)
    _VIEWS[store] = (store.generation, ipam["IpamId"], rows)
    return rows


def _discover(store: Store, ipam: dict) -> list[Found]:
    pools = {p["IpamPoolId"]: p for p in store.find("ipam_pool", "ipam", ipam["IpamId"])}
    hosted = {(a["ResourceId"], a["Cidr"]): pid for pid in pools for a in store.find(ALLOC, "pool", pid)
              if a["ResourceType"] == "VPC"}
    defaults = {s["IpamScopeType"]: s["IpamScopeId"] for s in store.find("ipam_scope", "ipam", ipam["IpamId"])
                if s["IsDefault"]}
    out: list[Found] = []
    for region in sorted(set(ipam["OperatingRegionList"])):
        for vpc in store.find("vpc", "region", region):
            vid = vpc["VpcId"]
            blocks = [Cidr.parse(vpc["CidrBlock"])] + [Cidr.parse(c) for c in vpc["SecondaryCidrBlocks"]]
            blocks += [Cidr.parse(e["Ipv6CidrBlock"]) for e in vpc["Ipv6CidrBlocks"]]
            switches = store.find("vswitch", "vpc", vid)

            def where(block: Cidr) -> tuple[str, str]:
                pid = hosted.get((vid, str(block)), "")
                scope = pools[pid]["IpamScopeId"] if pid else defaults.get("private" if block.version == 4 else "public", "")
                return pid, scope

            for block in blocks:
                pid, scope = where(block)
                used = None
                if block.version == 4:
                    used = sum(Cidr.parse(s["CidrBlock"]).size for s in switches
                               if block.contains(Cidr.parse(s["CidrBlock"])))
                out.append(Found("VPC", vid, vid, region, block, block, pid, scope, ipam["IpamId"],
                                 block.size if block.version == 4 else None, used))
            for vsw in switches:
                for text in (vsw["CidrBlock"], vsw["Ipv6CidrBlock"]):
                    if not text:
                        continue
                    block = Cidr.parse(text)
                    source = containing(blocks, block) or block
                    pid, scope = where(source)
                    v4 = block.version == 4
                    out.append(Found("VSwitch", vsw["VSwitchId"], vid, region, block, source, pid, scope,
                                     ipam["IpamId"], block.size if v4 else None,
                                     block.size - available(store, vsw) if v4 else None))
    return out


def _usage(f: Found) -> tuple[str, dict]:
    if f.total is None:
        return "", {}
    assert f.used is not None  # an IPv4 row has both counts, an IPv6 row neither
    ratio = f.used / f.total if f.total else 0.0
    return f"{ratio:.4f}", {"TotalIpCount": f.total, "UsedIpCount": f.used, "FreeIpCount": f.total - f.used}


def _compliance(store: Store, f: Found) -> str:
    if not f.pool_id:
        return "Unmanaged"
    if f.resource_type != "VPC":
        return "Compliant"
    pool = store.get("ipam_pool", f.pool_id)
    assert pool is not None  # f.pool_id is a pool of this store state (discovered() is per state)
    inside = containing([Cidr.parse(c) for c in pool["Cidrs"]], f.cidr) is not None
    ok = pool["AllocationMinCidrMask"] <= f.cidr.prefix <= pool["AllocationMaxCidrMask"]
    return "Compliant" if inside and ok else "Noncompliant"


def _filters(req: Request, rows: list[Found]) -> list[Found]:
    rtype, rid, vpc = req.text("ResourceType"), req.text("ResourceId"), req.text("VpcId")
    if rtype is not None and rtype not in ("VPC", "VSwitch"):
        raise fail("InvalidParameter.ResourceType", f"ResourceType {rtype!r} is not VPC or VSwitch")
    return [f for f in rows if (rtype is None or f.resource_type == rtype)
            and (rid is None or f.resource_id == rid) and (vpc is None or f.vpc_id == vpc)]


@op("ListIpamResourceCidrs")
def list_resource_cidrs(req: Request) -> dict:
    if req.text("IpamScopeId") is not None:
        scope = get_scope(req)
        # DeleteIpam deletes its scopes and refuses while pools remain: their IPAM exists
        everything = [f for f in discovered(req.store, cast(Resource, req.store.get("ipam", scope["IpamId"])))
                      if f.scope_id == scope["IpamScopeId"]]
        rows = everything
    elif req.text("IpamPoolId") is not None:
        pool = get_pool(req)
        owner_only(req, pool, "querying the resources in the pool")  # the table: "Not supported"
        everything = [f for f in discovered(req.store, cast(Resource, req.store.get("ipam", pool["IpamId"])))
                      if f.scope_id == pool["IpamScopeId"]]
        rows = [f for f in everything if f.pool_id == pool["IpamPoolId"]]
    else:
        raise fail("MissingParameter.IpamScopeId", "give IpamScopeId or IpamPoolId")
    chosen = _filters(req, rows)
    overlapping = _overlaps(everything)

    def row(f: Found) -> dict:
        overlaps = overlapping(f)
        usage, counts = _usage(f)
        return {"IpamId": f.ipam_id, "IpamScopeId": f.scope_id, "IpamPoolId": f.pool_id, "Cidr": str(f.cidr),
                "ResourceType": f.resource_type, "ResourceId": f.resource_id, "ResourceRegionId": f.region,
                "VpcId": f.vpc_id, "SourceCidr": str(f.source), "IpUsage": usage, "IpCountDetail": counts,
                "OverlapDetail": [{"OverlapResourceCidr": str(o.cidr), "OverlapResourceId": o.resource_id,
                                   "OverlapResourceRegion": o.region} for o in overlaps],
                "OverlapStatus": "Overlapping" if overlaps else "Nonoverlapping",
                "ManagementStatus": "Managed" if f.pool_id else "Unmanaged",
                "ComplianceStatus": _compliance(req.store, f)}

    return page_by_token(req, chosen, "IpamResourceCidrs", row)


def _overlaps(rows: list[Found]):
    """``f -> rows of another VPC, of f's type and IP version, overlapping f``, by bisection over the
    rows sorted by start with the running maximum of their ends."""
    groups: dict[tuple, tuple[list[int], list[int], list[Found]]] = {}
    for f in sorted(rows, key=lambda f: (f.cidr.start, f.cidr.end)):
        starts, reach, items = groups.setdefault((f.resource_type, f.cidr.version), ([], [], []))
        starts.append(f.cidr.start)
        reach.append(max(f.cidr.end, reach[-1]) if reach else f.cidr.end)
        items.append(f)

    def find(f: Found) -> list[Found]:
        starts, reach, items = groups.get((f.resource_type, f.cidr.version), ([], [], []))
        out = []
        j = bisect_right(starts, f.cidr.end) - 1
        while j >= 0 and reach[j] >= f.cidr.start:
            if items[j].cidr.end >= f.cidr.start and items[j].vpc_id != f.vpc_id:
                out.append(items[j])
            j -= 1
        return sorted(out, key=lambda o: (o.cidr, o.resource_id))

    return find


def _ipam_of_discovery(req: Request) -> dict:
    rid = req.text("IpamResourceDiscoveryId", required=True)
    for ipam in req.store.all("ipam"):
        if ipam.get("DefaultResourceDiscoveryId") == rid:
            return ipam
    raise fail("ResourceNotFound.IpamResourceDiscovery", f"IpamResourceDiscoveryId {rid!r} does not exist")


@op("ListIpamDiscoveredResource")
def list_discovered_resource(req: Request) -> dict:
    ipam = _ipam_of_discovery(req)
    region = req.text("ResourceRegionId") or req.text("RegionId", required=True)
    rows = [f for f in _filters(req, discovered(req.store, ipam)) if f.region == region]

    def row(f: Found) -> dict:
        usage, _ = _usage(f)
        return {"IpamResourceDiscoveryId": ipam["DefaultResourceDiscoveryId"], "ResourceRegionId": f.region,
                "ResourceType": f.resource_type, "ResourceId": f.resource_id, "VpcId": f.vpc_id,
                "Cidr": str(f.cidr), "SourceCidr": str(f.source), "IpUsage": usage,
                "ManagementStatus": "Hosted" if f.pool_id else "Not hosted", "IpamPoolId": f.pool_id,
                "IpamScopeId": f.scope_id, "AliUid": ACCOUNT_ID}

    return page_by_token(req, rows, "IpamDiscoveredResources", row)


def _eligible(store: Store, ipam: dict) -> list[dict]:
    """Pools taking part in auto-import: AutoImport, an effective region, in a default scope."""
    defaults = {s["IpamScopeId"] for s in store.find("ipam_scope", "ipam", ipam["IpamId"]) if s["IsDefault"]}
    return [p for p in store.find("ipam_pool", "ipam", ipam["IpamId"])
            if p["AutoImport"] and p["PoolRegionId"] and p["IpamScopeId"] in defaults]


def _holder(store: Store, alloc_id: str) -> str:
    alloc = store.get(ALLOC, alloc_id)
    if alloc is None:
        return alloc_id
    return f"{alloc['Cidr']} of {alloc['ResourceId'] or alloc['IpamPoolAllocationId']}"


@op("SandboxRunDiscovery")
def run_discovery(req: Request) -> dict:
    ipams = [get_ipam(req)] if req.text("IpamId") is not None else req.store.all("ipam")
    imported, skipped = [], []
    for ipam in ipams:
        pools = _eligible(req.store, ipam)
        candidates = []
        for f in discovered(req.store, ipam):
            if f.resource_type != "VPC" or f.pool_id:
                continue
            for pool in pools:
                version = 4 if pool["IpVersion"] == "IPv4" else 6
                blocks = [Cidr.parse(c) for c in pool["Cidrs"]]
                if pool["PoolRegionId"] == f.region and f.cidr.version == version and containing(blocks, f.cidr):
                    candidates.append((f.cidr.prefix, f.cidr.start, f.resource_id, pool["_seq"], f, pool))
        for *_, f, pool in sorted(candidates, key=lambda c: c[:4]):
            pool = cast(Resource, req.store.get("ipam_pool", pool["IpamPoolId"]))  # nothing here deletes a pool
            taken = req.store.space("pool", pool["IpamPoolId"])
            if not is_free(f.cidr, taken):
                hit = taken.overlapping(f.cidr.start, f.cidr.end)[0][2]
                skipped.append({"IpamPoolId": pool["IpamPoolId"], "Cidr": str(f.cidr), "ResourceId": f.resource_id,
                                "Reason": f"not free in the pool: overlaps {_holder(req.store, hit)}"})
                continue
            source = containing([Cidr.parse(c) for c in pool["Cidrs"]], f.cidr)
            assert source is not None  # a candidate lies inside one of the pool's CIDRs
            alloc = record(req, pool, f.cidr, source, "VPC", f.resource_id, f.region)
            imported.append({"IpamPoolId": pool["IpamPoolId"], "IpamPoolAllocationId": alloc["IpamPoolAllocationId"],
                             "Cidr": str(f.cidr), "ResourceId": f.resource_id})
    return {"Imported": imported, "Skipped": skipped, "ImportedCount": len(imported)}
