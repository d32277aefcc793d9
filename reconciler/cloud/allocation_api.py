"""Sandbox pool CIDRs and allocations (API version 2023-02-28): AddIpamPoolCidr,
DeleteIpamPoolCidr, ListIpamPoolCidrs, CreateIpamPoolAllocation, UpdateIpamPoolAllocation (name,
description), DeleteIpamPoolAllocation, ListIpamPoolAllocations, GetIpamPoolAllocation (one allocation, the fields
of its ListIpamPoolAllocations row), GetIpamPoolNextAvailableCidr; and :func:`place` / :func:`record`, which
the VPC operations use to take their blocks from a pool.

Everything allocated from a pool (a sub-pool's provisioned CIDR: type ``IpamPool``; a custom
allocation: ``Custom``; a VPC block: ``VPC``) is an ``ipam_pool_allocation`` resource whose range
is indexed under the pool, so freedom checks and "lowest free block" are bisections.

Provisioning: a CIDR must be a standard block of the pool's IP version. IPv4 top-level pools take
explicit CIDRs only, overlapping no other top-level CIDR of the scope (nor their own); public IPv6
top-level pools take a NetmaskLength only, at most ``limits.CIDRS_PER_PUBLIC_IPV6_TOP_POOL`` CIDR,
the lowest free block of that mask in ``SandboxCloud.IPV6_SUPPLY`` not used by any other public
IPv6 top-level pool; sub-pools take an explicit CIDR free inside the source's provisioned CIDRs or
the lowest free block of a NetmaskLength, recorded as an ``IpamPool`` allocation in the source; at
most ``limits.CIDRS_PER_POOL`` CIDRs per pool. A CIDR is not deprovisioned while any allocation lies
inside it. Allocations from a pool: the mask within [AllocationMinCidrMask, AllocationMaxCidrMask];
an explicit CIDR inside a provisioned CIDR and free, else the lowest free block; with neither a CIDR
nor a mask, the pool's default mask. ``IpamPool`` allocations cannot be released directly.

Codes: MissingParam.CidrOrCidrMask, InvalidParameter.CidrNotStandard (host bits),
InvalidParameter.Cidr (syntax; for an explicit CIDR on a public IPv6 top-level pool; wrong IP
version), InvalidParameter.NetmaskLength, InvalidParameter.CidrMask, QuotaExceeded.IpamPoolCidr,
OperationDenied.CidrUnavailableInPool, OperationDenied.AvailableCidrInsufficient,
OperationDenied.MaskOfCidrIsNotAllowed, OperationDenied.IpamPoolAllocationExist,
ResourceNotFound.IpamPoolCidr, ResourceNotFound.IpamPoolAllocation, ResourceNotFound.IpamPool.
Inferred: OperationDenied.CidrOverlapInScope, OperationDenied.AllocationTypeNotSupported,
QuotaExceeded.IpamPoolCidr, InvalidParameter.Cidr for a wrong version or an explicit public IPv6
top-level CIDR, InvalidParameter.NetmaskLength / .CidrMask (a mask where none is allowed, or out of
range, or not the CIDR's own length).
"""

from __future__ import annotations

from typing import cast

from reconciler.cloud.ipam_api import op
from reconciler.cloud.pool_api import get_pool, is_public_top
from reconciler.cloud.sandbox import Request, fail, owner_of, page_by_token
from reconciler.cloud.share_api import DENIED, owner_only
from reconciler.cloud.space import IntervalSet, containing, first_free, is_free
from reconciler.cloud.store import changed, public, register_kind
from reconciler.net import limits
from reconciler.net.cidr import BITS, Cidr

KIND = "ipam_pool_allocation"
register_kind(
    KIND,
    indexes={
        "pool": lambda a: a["IpamPoolId"],
        "pool_type": lambda a: (a["IpamPoolId"], a["ResourceType"]),
        "resource": lambda a: a["ResourceId"] or None,
    },
    spaces=lambda a: [(("pool", a["IpamPoolId"]), Cidr.parse(a["Cidr"]))],
)


# ---- helpers shared with the VPC operations -----------------------------------------------
def blocks(pool: dict) -> list[Cidr]:
    return [Cidr.parse(c) for c in pool["Cidrs"]]


def bits(pool: dict) -> int:
    return BITS[limits.IP_VERSION[pool["IpVersion"]]]


def check_version(pool: dict, cidr: Cidr, code: str = "InvalidParameter.Cidr") -> None:
    if cidr.version != limits.IP_VERSION[pool["IpVersion"]]:
        raise fail(code, f"{cidr} is not an {pool['IpVersion']} block like {pool['IpamPoolId']}")


def check_rules(pool: dict, mask: int) -> None:
    lo, hi = pool["AllocationMinCidrMask"], pool["AllocationMaxCidrMask"]
    if not lo <= mask <= hi:
        raise fail("OperationDenied.MaskOfCidrIsNotAllowed",
                   f"/{mask} is outside the allocation rules /{lo}-/{hi} of {pool['IpamPoolId']}")


def default_mask(pool: dict) -> int:
    if pool["AllocationDefaultCidrMask"] is None:
        raise fail("MissingParam.CidrOrCidrMask",
                   f"give a CIDR or a mask: {pool['IpamPoolId']} has no default mask")
    return pool["AllocationDefaultCidrMask"]


def place(req: Request, pool: dict, cidr: Cidr | None, mask: int | None,
          *also_taken: IntervalSet) -> tuple[Cidr, Cidr]:
    """``cidr`` checked free in ``pool``, or the lowest free /mask: (block, provisioned CIDR)."""
    own = blocks(pool)
    taken = (req.store.space("pool", pool["IpamPoolId"]),) + also_taken
    if cidr is not None:
        source = containing(own, cidr)
        if source is None or not is_free(cidr, *taken):
            raise fail("OperationDenied.CidrUnavailableInPool",
                       f"{cidr} is not free in the provisioned CIDRs of {pool['IpamPoolId']}")
        return cidr, source
    assert mask is not None  # every caller gives a mask when it gives no CIDR
    found = first_free(own, mask, *taken)
    if found is None:
        raise fail("OperationDenied.AvailableCidrInsufficient",
                   f"{pool['IpamPoolId']} has no free /{mask} block")
    return found, cast(Cidr, containing(own, found))  # first_free found it inside one of own


def record(req: Request, pool: dict, cidr: Cidr, source: Cidr, rtype: str, resource_id: str,
           resource_region: str, name: str = "", description: str = "") -> dict:
    return req.create(KIND, "ipam-pool-alloc-", "IpamPoolAllocationId",
                      IpamPoolId=pool["IpamPoolId"], Cidr=str(cidr), SourceCidr=str(source),
                      ResourceType=rtype, ResourceId=resource_id, ResourceRegionId=resource_region,
                      RegionId=pool["IpamRegionId"], IpamPoolAllocationName=name,
                      IpamPoolAllocationDescription=description, Status="Created")


def _sorted_cidrs(cidrs) -> list[str]:
    return [str(c) for c in sorted(Cidr.parse(c) if isinstance(c, str) else c for c in cidrs)]


# ---- pool CIDRs ---------------------------------------------------------------------------
@op("AddIpamPoolCidr")
def add_pool_cidr(req: Request) -> dict:
    pool = get_pool(req)
    owner_only(req, pool, "provisioning a CIDR block")
    cidr = req.cidr("Cidr")
    mask = req.integer("NetmaskLength", lo=0, hi=bits(pool), code="InvalidParameter.NetmaskLength")
    if cidr is None and mask is None:
        raise fail("MissingParam.CidrOrCidrMask", "give Cidr or NetmaskLength")
    if cidr is not None:
        check_version(pool, cidr)
        if mask is not None and mask != cidr.prefix:
            raise fail("InvalidParameter.NetmaskLength", f"NetmaskLength /{mask} is not {cidr}'s")
    public_top = is_public_top(pool)
    quota = limits.CIDRS_PER_PUBLIC_IPV6_TOP_POOL if public_top else limits.CIDRS_PER_POOL
    if len(pool["Cidrs"]) >= quota:
        raise fail("QuotaExceeded.IpamPoolCidr", f"{pool['IpamPoolId']} already has {quota} CIDR(s)")
    if public_top:
        if cidr is not None:
            raise fail("InvalidParameter.Cidr",
                       "a public IPv6 top-level pool is provisioned by NetmaskLength only")
        assert mask is not None  # no CIDR here, and giving neither was refused above
        cidr = first_free([req.cloud.IPV6_SUPPLY], mask, req.store.space("pub6"))
        if cidr is None:
            raise fail("OperationDenied.AvailableCidrInsufficient", f"no free IPv6 /{mask} block")
    elif not pool["SourceIpamPoolId"]:
        if cidr is None:
            raise fail("InvalidParameter.NetmaskLength",
                       "an IPv4 top-level pool is provisioned with explicit CIDRs only")
        hits = req.store.space("scope", pool["IpamScopeId"]).overlapping(cidr.start, cidr.end)
        if hits:
            raise fail("OperationDenied.CidrOverlapInScope",
                       f"{cidr} overlaps a top-level CIDR of {hits[0][2]} in {pool['IpamScopeId']}")
    else:
        source = req.store.get("ipam_pool", pool["SourceIpamPoolId"])
        assert source is not None  # a pool with sub-pools is not deleted
        cidr, within = place(req, source, cidr, mask)
        record(req, source, cidr, within, "IpamPool", pool["IpamPoolId"], pool["PoolRegionId"])
    req.store.put(changed(pool, Cidrs=_sorted_cidrs(pool["Cidrs"] + [str(cidr)])))
    return {"Cidr": str(cidr)}


@op("DeleteIpamPoolCidr")
def delete_pool_cidr(req: Request) -> dict:
    pool = get_pool(req)
    owner_only(req, pool, "deprovisioning a CIDR block")
    cidr = req.cidr("Cidr", required=True)
    if str(cidr) not in pool["Cidrs"]:
        raise fail("ResourceNotFound.IpamPoolCidr", f"{cidr} is not provisioned in {pool['IpamPoolId']}")
    if req.store.space("pool", pool["IpamPoolId"]).overlapping(cidr.start, cidr.end):
        raise fail("OperationDenied.IpamPoolAllocationExist",
                   f"{cidr} of {pool['IpamPoolId']} still has allocations")
    if pool["SourceIpamPoolId"]:
        for alloc in req.store.find(KIND, "resource", pool["IpamPoolId"]):
            if alloc["IpamPoolId"] == pool["SourceIpamPoolId"] and alloc["Cidr"] == str(cidr):
                req.delete(KIND, alloc)
    req.store.put(changed(pool, Cidrs=[c for c in pool["Cidrs"] if c != str(cidr)]))
    return {}


@op("ListIpamPoolCidrs")
def list_pool_cidrs(req: Request) -> dict:
    pool = get_pool(req)
    only = req.cidr("Cidr")
    rows = [{"Cidr": c, "IpamPoolId": pool["IpamPoolId"], "Status": "Created"}
            for c in pool["Cidrs"] if only is None or c == str(only)]
    return page_by_token(req, rows, "IpamPoolCidrs")


# ---- allocations --------------------------------------------------------------------------
def _cidr_or_mask(req: Request, pool: dict, cidr_name: str) -> tuple[Cidr | None, int]:
    cidr = req.cidr(cidr_name)
    mask = req.integer("CidrMask", lo=0, hi=bits(pool), code="InvalidParameter.CidrMask")
    if cidr is not None:
        check_version(pool, cidr)
        if mask is not None and mask != cidr.prefix:
            raise fail("InvalidParameter.CidrMask", f"CidrMask /{mask} is not {cidr}'s")
        mask = cidr.prefix
    elif mask is None:
        mask = default_mask(pool)
    check_rules(pool, mask)
    return cidr, mask


@op("CreateIpamPoolAllocation")
def create_allocation(req: Request) -> dict:
    pool = get_pool(req)
    cidr, mask = _cidr_or_mask(req, pool, "Cidr")
    cidr, source = place(req, pool, cidr, mask)
    alloc = record(req, pool, cidr, source, "Custom", "", pool["PoolRegionId"],
                   req.text("IpamPoolAllocationName") or "",
                   req.text("IpamPoolAllocationDescription") or "")
    return {"IpamPoolAllocationId": alloc["IpamPoolAllocationId"], "Cidr": str(cidr),
            "SourceCidr": str(source)}


@op("DeleteIpamPoolAllocation")
def delete_allocation(req: Request) -> dict:
    alloc = req.resource(KIND, "IpamPoolAllocationId", "ResourceNotFound.IpamPoolAllocation")
    if alloc["ResourceType"] not in ("Custom", "VPC"):
        raise fail("OperationDenied.AllocationTypeNotSupported",
                   f"{alloc['ResourceType']} allocations are released by deprovisioning the CIDR")
    _own_or_owner(req, alloc, "releasing")
    req.delete(KIND, alloc)  # a VPC keeps its block: it is only dissociated from the pool
    return {}


def _own_or_owner(req: Request, alloc: dict, doing: str) -> None:
    """The pool's owner may release any allocation in it ("including ... custom allocations created
    by the pool principal"); a principal only the custom allocations it created."""
    pool = req.store.get("ipam_pool", alloc["IpamPoolId"])
    if pool is None or owner_of(pool) == req.account:
        return
    if alloc["ResourceType"] != "Custom" or owner_of(alloc) != req.account:
        raise fail(DENIED, f"{doing} {alloc['IpamPoolAllocationId']} in {pool['IpamPoolId']}, shared with this "
                   f"account: a principal may release only the custom allocations it created", 403)


def allocation_row(alloc: dict) -> dict:
    return {**public(alloc), "ResourceOwnerId": int(owner_of(alloc))}


@op("UpdateIpamPoolAllocation")
def update_allocation(req: Request) -> dict:
    alloc = req.resource(KIND, "IpamPoolAllocationId", "ResourceNotFound.IpamPoolAllocation")
    _own_or_owner(req, alloc, "changing")
    fields = {k: req.text(k) for k in ("IpamPoolAllocationName", "IpamPoolAllocationDescription")
              if req.text(k) is not None}
    req.store.put(changed(alloc, **fields))
    return {}


@op("ListIpamPoolAllocations")
def list_allocations(req: Request) -> dict:
    pool_id, ids = req.text("IpamPoolId"), req.items("IpamPoolAllocationIds")
    cidr, name = req.cidr("Cidr"), req.text("IpamPoolAllocationName")
    if ids:
        rows = req.store.pick(KIND, ids)
    elif pool_id is not None:
        rows = req.store.find(KIND, "pool", pool_id)
    else:
        rows = req.store.all(KIND)
    rows = [a for a in rows if (pool_id is None or a["IpamPoolId"] == pool_id)
            and (cidr is None or a["Cidr"] == str(cidr))
            and (name is None or a["IpamPoolAllocationName"] == name)]
    return page_by_token(req, rows, "IpamPoolAllocations", allocation_row)


@op("GetIpamPoolAllocation")
def get_allocation(req: Request) -> dict:
    return allocation_row(req.resource(KIND, "IpamPoolAllocationId", "ResourceNotFound.IpamPoolAllocation"))


@op("GetIpamPoolNextAvailableCidr")
def next_available(req: Request) -> dict:
    pool = get_pool(req)
    cidr, mask = _cidr_or_mask(req, pool, "CidrBlock")
    cidr, _ = place(req, pool, cidr, mask)
    return {"CidrBlock": str(cidr)}
