"""Sandbox IPAM pools (API version 2023-02-28): CreateIpamPool, UpdateIpamPool, DeleteIpamPool,
ListIpamPools.

Rules: IPv4 pools only in private scopes, IPv6 pools only in the public scope; a sub-pool's source
is in the same scope, hence of the same IP version (a scope holds one version). Effective region
(PoolRegionId): required for IPv6 top-level pools; a sub-pool inherits its source's region (a
different one given is refused); when the source has none (or for a top-level pool), a region given
must be an operating region of the IPAM. AutoImport needs an effective region, and is accepted in any
scope: resource discovery imports only into pools of a default scope (discovery_api), so on a pool of
a custom scope it is kept and imports nothing. Allocation masks: each within ``limits.MASK_RANGE`` of
the version and min <= default <= max (defaults: min and max of the range, no default mask).
Quotas: depth (top-level = 1) at most ``limits.POOL_MAX_DEPTH``, ``limits.SUB_POOLS_PER_POOL``
sub-pools per pool, ``limits.POOLS_PER_PRIVATE_SCOPE`` pools per private scope,
``limits.PUBLIC_IPV6_TOP_POOLS_PER_REGION_ISP`` public IPv6 top-level pool per region and ISP.
IpVersion defaults to the source's, else the scope's. Ipv6Isp defaults to BGP (IPv6 pools only; sub-pools inherit it). A pool is not deleted while it has
sub-pools, custom allocations or provisioned CIDRs (checked in that order).

Codes: ResourceNotFound.IpamScope / .IpamPool, MissingParameter.IpamScopeId / .IpamPoolId /
.PoolRegionId, InvalidParameter.PoolRegionId, DependencyViolation.CustomPoolAllocation.
Inferred: InvalidParameter.IpVersion, InvalidParameter.SourceIpamPoolId, InvalidParameter.Ipv6Isp,
InvalidParameter.AllocationCidrMask, OperationDenied.AutoImportWithoutRegion,
QuotaExceeded.PoolDepth, QuotaExceeded.SubPool, QuotaExceeded.IpamPool,
QuotaExceeded.PublicIpv6TopPool, DependencyViolation.SubCidr and DependencyViolation.PoolCidr
(mappings).
"""

from __future__ import annotations

from typing import Literal, overload

from reconciler.cloud.ipam_api import get_scope, op
from reconciler.cloud.sandbox import Request, fail, owner_of, page_by_token
from reconciler.cloud.share_api import owner_only, pools_shared_with, shares_of_pool
from reconciler.cloud.store import Resource, changed, public, register_kind
from reconciler.net import limits
from reconciler.net.cidr import Cidr

ISPS = ("BGP", "ChinaMobile", "ChinaUnicom", "ChinaTelecom")
MASK_CODE = "InvalidParameter.AllocationCidrMask"


def is_public_top(pool: dict) -> bool:
    return pool["IpamScopeType"] == "public" and not pool["SourceIpamPoolId"]


def _spaces(pool: dict):
    if pool["SourceIpamPoolId"]:
        return []
    key = ("pub6",) if pool["IpamScopeType"] == "public" else ("scope", pool["IpamScopeId"])
    return [(key, Cidr.parse(c)) for c in pool["Cidrs"]]


register_kind(
    "ipam_pool",
    indexes={
        "scope": lambda p: p["IpamScopeId"],
        "ipam": lambda p: p["IpamId"],
        "source": lambda p: p["SourceIpamPoolId"] or None,
        "ipam_region": lambda p: (p["IpamId"], p["PoolRegionId"]) if p["PoolRegionId"] else None,
        "pub6top": lambda p: (p["PoolRegionId"], p["Ipv6Isp"]) if is_public_top(p) else None,
    },
    spaces=_spaces,
)


@overload
def get_pool(req: Request, name: str = "IpamPoolId", required: Literal[True] = True) -> Resource: ...
@overload
def get_pool(req: Request, name: str, required: bool) -> Resource | None: ...


def get_pool(req: Request, name: str = "IpamPoolId", required: bool = True) -> Resource | None:
    return req.resource("ipam_pool", name, "ResourceNotFound.IpamPool", required=required)


@overload
def ip_version(req: Request, name: str = "IpVersion", default: str = "IPv4") -> str: ...
@overload
def ip_version(req: Request, name: str = "IpVersion", *, default: None) -> str | None: ...


def ip_version(req: Request, name: str = "IpVersion", default: str | None = "IPv4") -> str | None:
    value = req.text(name) or default
    if value is None:
        return None
    for version in limits.IP_VERSION:
        if value.lower() == version.lower():
            return version
    raise fail("InvalidParameter.IpVersion", f"{name} {value!r} is not IPv4 or IPv6")


def check_masks(version: str, lo: int, hi: int, default: int | None) -> None:
    low, high = limits.MASK_RANGE[version]
    for name, value in (("min", lo), ("max", hi), ("default", default)):
        if value is not None and not low <= value <= high:
            raise fail(MASK_CODE, f"the {name} mask /{value} is outside {low}-{high} for {version}")
    if lo > hi:
        raise fail(MASK_CODE, f"the min mask /{lo} is longer than the max mask /{hi}")
    if default is not None and not lo <= default <= hi:
        raise fail(MASK_CODE, f"the default mask /{default} is not within /{lo}-/{hi}")


def _mask(req: Request, name: str) -> int | None:
    return req.integer(name, code=MASK_CODE)


@op("CreateIpamPool")
def create_pool(req: Request) -> dict:
    scope = get_scope(req)
    source = get_pool(req, "SourceIpamPoolId", required=False)
    # Without IpVersion: the source's version, else the scope's (private IPv4, public IPv6).
    implied = source["IpVersion"] if source else ("IPv4" if scope["IpamScopeType"] == "private" else "IPv6")
    version = ip_version(req, default=implied)
    wanted = "private" if version == "IPv4" else "public"
    if scope["IpamScopeType"] != wanted:
        raise fail("InvalidParameter.IpVersion",
                   f"{version} pools belong in a {wanted} scope; {scope['IpamScopeId']} is "
                   f"{scope['IpamScopeType']}")
    ipam = req.store.get("ipam", scope["IpamId"])
    assert ipam is not None  # DeleteIpam deletes its scopes, so a scope's IPAM exists
    given = req.text("PoolRegionId")
    isp = req.text("Ipv6Isp")
    if source is not None:
        if source["IpamScopeId"] != scope["IpamScopeId"]:
            raise fail("InvalidParameter.SourceIpamPoolId",
                       f"source pool {source['IpamPoolId']} is in another scope")
        # Same scope means same IP version: a scope holds IPv4 (private) or IPv6 (public) only.
        if source["PoolRegionId"] and given and given != source["PoolRegionId"]:
            raise fail("InvalidParameter.PoolRegionId",
                       f"a sub-pool inherits region {source['PoolRegionId']} from its source")
        region = source["PoolRegionId"] or given or ""
        if isp and version == "IPv6" and isp != source["Ipv6Isp"]:
            raise fail("InvalidParameter.Ipv6Isp", f"a sub-pool inherits ISP {source['Ipv6Isp']}")
        isp = source["Ipv6Isp"]
        depth = source["PoolDepth"] + 1
    else:
        if version == "IPv6" and not given:
            raise fail("MissingParameter.PoolRegionId", "an IPv6 top-level pool needs PoolRegionId")
        region = given or ""
        depth = 1
    if given and not (source is not None and source["PoolRegionId"]):
        if given not in ipam["OperatingRegionList"]:
            raise fail("InvalidParameter.PoolRegionId",
                       f"{given} is not an operating region of {ipam['IpamId']}")
    if version == "IPv6":
        isp = isp or limits.DEFAULT_IPV6_ISP
        if isp not in ISPS:
            raise fail("InvalidParameter.Ipv6Isp", f"Ipv6Isp {isp!r} is not one of {', '.join(ISPS)}")
    else:
        isp = ""
    auto_import = req.flag("AutoImport")
    if auto_import and not region:
        raise fail("OperationDenied.AutoImportWithoutRegion",
                   "AutoImport needs an effective region (PoolRegionId)")
    low, high = limits.MASK_RANGE[version]
    lo, hi = _mask(req, "AllocationMinCidrMask"), _mask(req, "AllocationMaxCidrMask")
    default = _mask(req, "AllocationDefaultCidrMask")
    lo, hi = low if lo is None else lo, high if hi is None else hi
    check_masks(version, lo, hi, default)
    if depth > limits.POOL_MAX_DEPTH:
        raise fail("QuotaExceeded.PoolDepth", f"pools nest at most {limits.POOL_MAX_DEPTH} deep")
    if source is not None and req.store.count("ipam_pool", "source", source["IpamPoolId"]) >= \
            limits.SUB_POOLS_PER_POOL:
        raise fail("QuotaExceeded.SubPool",
                   f"{source['IpamPoolId']} already has {limits.SUB_POOLS_PER_POOL} sub-pools")
    if scope["IpamScopeType"] == "private" and req.store.count(
            "ipam_pool", "scope", scope["IpamScopeId"]) >= limits.POOLS_PER_PRIVATE_SCOPE:
        raise fail("QuotaExceeded.IpamPool",
                   f"{scope['IpamScopeId']} already has {limits.POOLS_PER_PRIVATE_SCOPE} pools")
    if version == "IPv6" and source is None and req.store.count(
            "ipam_pool", "pub6top", (region, isp)) >= limits.PUBLIC_IPV6_TOP_POOLS_PER_REGION_ISP:
        raise fail("QuotaExceeded.PublicIpv6TopPool",
                   f"region {region} already has a public IPv6 top-level pool for ISP {isp}")
    pool = req.create(
        "ipam_pool", "ipam-pool-", "IpamPoolId", IpamId=ipam["IpamId"],
        IpamScopeId=scope["IpamScopeId"], IpamScopeType=scope["IpamScopeType"],
        IpamRegionId=ipam["RegionId"], RegionId=ipam["RegionId"], IpVersion=version,
        PoolRegionId=region, SourceIpamPoolId=source["IpamPoolId"] if source else "",
        PoolDepth=depth, AllocationMinCidrMask=lo, AllocationMaxCidrMask=hi,
        AllocationDefaultCidrMask=default, AutoImport=auto_import, Ipv6Isp=isp,
        IpamPoolName=req.text("IpamPoolName") or "",
        IpamPoolDescription=req.text("IpamPoolDescription") or "",
        Status="Created", IsShared=False, Cidrs=[])
    return {"IpamPoolId": pool["IpamPoolId"]}


@op("UpdateIpamPool")
def update_pool(req: Request) -> dict:
    pool = get_pool(req)
    if owner_of(pool) != req.account:  # a principal: "only name and description can be modified"
        rules = [k for k in ("AllocationMinCidrMask", "AllocationMaxCidrMask", "AllocationDefaultCidrMask",
                             "ClearAllocationDefaultCidrMask") if req.raw(k) is not None]
        if rules:
            owner_only(req, pool, f"modifying allocation rules ({', '.join(rules)})")
        if req.raw("AutoImport") is not None:
            owner_only(req, pool, "enabling or disabling auto import (AutoImport)")
    lo, hi = _mask(req, "AllocationMinCidrMask"), _mask(req, "AllocationMaxCidrMask")
    default = _mask(req, "AllocationDefaultCidrMask")
    clear = req.flag("ClearAllocationDefaultCidrMask")
    if clear and default is not None:
        raise fail(MASK_CODE, "AllocationDefaultCidrMask and ClearAllocationDefaultCidrMask conflict")
    lo = pool["AllocationMinCidrMask"] if lo is None else lo
    hi = pool["AllocationMaxCidrMask"] if hi is None else hi
    default = None if clear else (pool["AllocationDefaultCidrMask"] if default is None else default)
    check_masks(pool["IpVersion"], lo, hi, default)
    fields = dict(AllocationMinCidrMask=lo, AllocationMaxCidrMask=hi, AllocationDefaultCidrMask=default)
    if req.raw("AutoImport") is not None:
        fields["AutoImport"] = req.flag("AutoImport")
        if fields["AutoImport"] and not pool["PoolRegionId"]:
            raise fail("OperationDenied.AutoImportWithoutRegion",
                       "AutoImport needs an effective region (PoolRegionId)")
    for key in ("IpamPoolName", "IpamPoolDescription"):
        if req.text(key) is not None:
            fields[key] = req.text(key)
    req.store.put(changed(pool, **fields))
    return {}


@op("DeleteIpamPool")
def delete_pool(req: Request) -> dict:
    pool = get_pool(req)
    pid = pool["IpamPoolId"]
    owner_only(req, pool, "deleting the pool")
    if shares_of_pool(req.store, pid):
        raise fail("DependencyViolation.ShareResource", "The specified resource of IPAM pool depends on resource "
                   f"sharing, so the operation cannot be completed: {pid} is in a resource share")
    if req.store.count("ipam_pool", "source", pid):
        raise fail("DependencyViolation.SubCidr", f"{pid} still has sub-pools")
    if req.store.count("ipam_pool_allocation", "pool_type", (pid, "Custom")):
        raise fail("DependencyViolation.CustomPoolAllocation", f"{pid} still has custom allocations")
    if pool["Cidrs"]:
        raise fail("DependencyViolation.PoolCidr", f"{pid} still has provisioned CIDRs")
    req.delete("ipam_pool", pool)
    return {}


def pool_row(req: Request, pool: dict) -> dict:
    row = public(pool)
    if row["AllocationDefaultCidrMask"] is None:
        del row["AllocationDefaultCidrMask"]
    row["HasSubPool"] = req.store.count("ipam_pool", "source", pool["IpamPoolId"]) > 0
    # IsShared: shared *with* the caller by another account ("Pools Shared with Me")
    row["IsShared"] = pool["IpamPoolId"] in pools_shared_with(req)
    row["OwnerId"] = int(owner_of(pool))
    return row


@op("ListIpamPools")
def list_pools(req: Request) -> dict:
    scope_id, ids = req.text("IpamScopeId"), req.items("IpamPoolIds")
    source, region = req.text("SourceIpamPoolId"), req.text("PoolRegionId")
    version, name = ip_version(req, default=None), req.text("IpamPoolName")
    shared = None if req.raw("IsShared") is None else req.flag("IsShared")
    if ids:
        rows = req.store.pick("ipam_pool", ids)
    elif source is not None:
        rows = req.store.find("ipam_pool", "source", source)
    elif scope_id is not None:
        rows = req.store.find("ipam_pool", "scope", scope_id)
    else:
        rows = req.store.all("ipam_pool")
    rows = [p for p in rows
            if (scope_id is None or p["IpamScopeId"] == scope_id)
            and (source is None or p["SourceIpamPoolId"] == source)
            and (region is None or p["PoolRegionId"] == region)
            and (version is None or p["IpVersion"] == version)
            and (name is None or p["IpamPoolName"] == name)
            and (shared is None or (p["IpamPoolId"] in pools_shared_with(req)) == shared)]
    return page_by_token(req, rows, "IpamPools", lambda p: pool_row(req, p))
