"""Sandbox VPCs (API version 2016-04-28): CreateVpc, DeleteVpc, AssociateVpcCidrBlock,
UnassociateVpcCidrBlock, ModifyVpcAttribute (VpcName, Description), DescribeVpcs.

IPv4 blocks: a VPC block's mask is within ``limits.VPC_IPV4_MASK``. From an IPAM pool
(Ipv4IpamPoolId / IpamPoolId): the pool is IPv4 and its effective region is the VPC's region; the
mask is Ipv4CidrMask / SecondaryCidrMask, else the given block's length, else the pool's default;
it is within the pool's allocation rules; a given block must be free in the pool, else the lowest
free block of the mask is taken (for a secondary block, one overlapping none of the VPC's blocks);
a ``VPC`` allocation is recorded in the pool. Without a pool the block itself is required. A
secondary block overlaps none of the VPC's other blocks.

IPv6 blocks are /56 (``limits.VPC_IPV6_MASK``): from an IPv6 pool (Ipv6IpamPoolId / IpamPoolId,
same checks, Ipv6CidrMask or the /56 of Ipv6CidrBlock / IPv6CidrBlock) recorded as a ``VPC``
allocation; or, with EnableIpv6 and no pool, the lowest /56 in ``SandboxCloud.VPC_IPV6_SUPPLY`` not
used by another VPC (an explicit IPv6 block needs a pool here).

DeleteVpc releases every pool allocation of the VPC; vSwitches block it (a guard registered in
:mod:`reconciler.cloud.vswitch_api`). UnassociateVpcCidrBlock never removes the primary block, is
refused while a vSwitch lies inside the block, and releases the block's pool allocation. DescribeVpcs
returns no pool id, like the real API. A RegionId that differs from the VPC's gives
InvalidVpcId.NotFound.

Codes: MissingParameter.RegionId / .VpcId / .CidrBlock / .SecondaryCidrBlock,
MissingParam.CidrOrCidrMask, InvalidVpcId.NotFound, InvalidCidrBlock.Malformed,
InvalidCidrBlock.Overlapped, OperationDenied.IpamPoolNotInRegion,
OperationDenied.MaskOfCidrIsNotAllowed, OperationDenied.CidrUnavailableInPool,
OperationDenied.AvailableCidrInsufficient, ResourceNotFound.IpamPool, DependencyViolation.VSwitch.
Inferred: DependencyViolation.VSwitch, InvalidParameter.IpVersion (pool of the other version, bad
IpVersion), InvalidParameter.Ipv4CidrMask (mask differs from CidrBlock's),
InvalidParameter.Ipv6CidrMask (an IPv6 block that is not /56), InvalidParameter.Ipv6CidrBlock (an
explicit IPv6 block without a pool), OperationDenied.PrimaryCidrBlock, InvalidCidrBlock.NotFound.

With ``realism.pending_seconds`` (:mod:`reconciler.cloud.realism`) a new VPC is Pending for a while:
DeleteVpc is then refused with IncorrectVpcStatus (DeleteVpc's documented code for "Current VPC
status does not support this operation"), Associate/UnassociateVpcCidrBlock with IncorrectStatus.Vpc
(AssociateVpcCidrBlock's documented status code).
"""

from __future__ import annotations

from reconciler.cloud.allocation_api import KIND as ALLOC
from reconciler.cloud.allocation_api import check_rules, default_mask, place, record
from reconciler.cloud.pool_api import get_pool
from reconciler.cloud.realism import ready_fields, require_ready, shown_status
from reconciler.cloud.sandbox import (
    VPC_VERSION,
    Request,
    fail,
    operation,
    page_by_number,
)
from reconciler.cloud.space import IntervalSet, first_free
from reconciler.cloud.store import changed, register_kind
from reconciler.net import limits
from reconciler.net.cidr import Cidr

MALFORMED = "InvalidCidrBlock.Malformed"

register_kind(
    "vpc",
    indexes={"region": lambda v: v["RegionId"]},
    spaces=lambda v: [(("vpc6",), Cidr.parse(c)) for c in v["_auto6"]],
)


def op(action: str):
    return operation(action, version=VPC_VERSION)


def get_vpc(req: Request) -> dict:
    vpc = req.resource("vpc", "VpcId", "InvalidVpcId.NotFound")
    region = req.text("RegionId")
    if region is not None and region != vpc["RegionId"]:
        raise fail("InvalidVpcId.NotFound", f"{vpc['VpcId']} is not in region {region}")
    return vpc


def v4_blocks(vpc: dict) -> list[Cidr]:
    return [Cidr.parse(vpc["CidrBlock"])] + [Cidr.parse(c) for c in vpc["SecondaryCidrBlocks"]]


def check_v4(cidr: Cidr | None, mask: int | None) -> None:
    if cidr is not None and cidr.version != 4:
        raise fail(MALFORMED, f"{cidr} is not an IPv4 block")
    lo, hi = limits.VPC_IPV4_MASK
    if mask is not None and not lo <= mask <= hi:
        raise fail(MALFORMED, f"a VPC IPv4 block is /{lo} to /{hi}, not /{mask}")


def pool_in_region(req: Request, name: str, region: str, version: str) -> dict:
    pool = get_pool(req, name)
    if pool["IpVersion"] != version:
        raise fail("InvalidParameter.IpVersion", f"{pool['IpamPoolId']} is an {pool['IpVersion']} pool")
    if pool["PoolRegionId"] != region:
        raise fail("OperationDenied.IpamPoolNotInRegion",
                   f"{pool['IpamPoolId']} serves region {pool['PoolRegionId'] or '(none)'}, not {region}")
    return pool


def v4_from(req: Request, pool: dict | None, cidr: Cidr | None, mask: int | None,
            mask_name: str, cidr_name: str, vpc_blocks: list[Cidr]):
    """The IPv4 block to add (and its pool and provisioned CIDR when from a pool)."""
    if cidr is not None and mask is not None and mask != cidr.prefix:
        raise fail(f"InvalidParameter.{mask_name}", f"{mask_name} /{mask} is not {cidr}'s length")
    if pool is None:
        if cidr is None:
            raise fail(f"MissingParameter.{cidr_name}", f"{cidr_name} is required without a pool")
        check_v4(cidr, cidr.prefix)
        return cidr, None
    mask = cidr.prefix if cidr is not None else mask if mask is not None else default_mask(pool)
    check_v4(cidr, mask)
    check_rules(pool, mask)
    avoid = IntervalSet()
    for block in vpc_blocks:
        avoid.add(block.start, block.end, "vpc")
    return place(req, pool, cidr, mask, avoid)


def v6_from(req: Request, pool: dict | None, cidr: Cidr | None, mask: int | None):
    """The IPv6 /56 to add: from ``pool``, or the lowest free one of the VPC IPv6 supply."""
    if cidr is not None and (cidr.version != 6 or cidr.prefix != limits.VPC_IPV6_MASK):
        raise fail("InvalidParameter.Ipv6CidrMask", f"a VPC IPv6 block is a /{limits.VPC_IPV6_MASK}")
    if mask is not None and mask != limits.VPC_IPV6_MASK:
        raise fail("InvalidParameter.Ipv6CidrMask", f"a VPC IPv6 block is a /{limits.VPC_IPV6_MASK}")
    if pool is None:
        if cidr is not None:
            raise fail("InvalidParameter.Ipv6CidrBlock", "an explicit IPv6 block needs an IPv6 IPAM pool")
        found = first_free([req.cloud.VPC_IPV6_SUPPLY], limits.VPC_IPV6_MASK, req.store.space("vpc6"))
        if found is None:
            raise fail("OperationDenied.AvailableCidrInsufficient", "no free IPv6 /56 for the VPC")
        return found, None
    check_rules(pool, limits.VPC_IPV6_MASK)
    return place(req, pool, cidr, limits.VPC_IPV6_MASK)


def v6_entry(block: Cidr, pool: dict | None) -> dict:
    return {"Ipv6CidrBlock": str(block), "Ipv6Isp": pool["Ipv6Isp"] if pool else limits.DEFAULT_IPV6_ISP}


@op("CreateVpc")
def create_vpc(req: Request) -> dict:
    region = req.text("RegionId", required=True)
    pool4 = req.text("Ipv4IpamPoolId") and pool_in_region(req, "Ipv4IpamPoolId", region, "IPv4")
    cidr = req.cidr("CidrBlock", code=MALFORMED)
    mask = req.integer("Ipv4CidrMask", lo=0, hi=32, code=MALFORMED)
    block, source = v4_from(req, pool4 or None, cidr, mask, "Ipv4CidrMask", "CidrBlock", [])
    pool6 = req.text("Ipv6IpamPoolId") and pool_in_region(req, "Ipv6IpamPoolId", region, "IPv6")
    cidr6 = req.cidr("Ipv6CidrBlock", code="InvalidParameter.Ipv6CidrBlock")
    mask6 = req.integer("Ipv6CidrMask", lo=0, hi=128, code="InvalidParameter.Ipv6CidrMask")
    six = None
    if pool6 or req.flag("EnableIpv6") or cidr6 is not None:
        six = v6_from(req, pool6 or None, cidr6, mask6)
    vpc = req.create(
        "vpc", "vpc-", "VpcId", RegionId=region, VpcName=req.text("VpcName") or "",
        Description=req.text("Description") or "", Status="Available", CidrBlock=str(block),
        SecondaryCidrBlocks=[], Ipv6CidrBlocks=[v6_entry(six[0], pool6 or None)] if six else [],
        IsDefault=False, _auto6=[str(six[0])] if six and not pool6 else [], **ready_fields(req.cloud.realism))
    if pool4:
        record(req, pool4, block, source, "VPC", vpc["VpcId"], region)
    if six and pool6:
        record(req, pool6, six[0], six[1], "VPC", vpc["VpcId"], region)
    return {"VpcId": vpc["VpcId"]}


def release(req: Request, vpc: dict, block: str | None = None) -> None:
    """Release the VPC's pool allocations (of ``block`` only, when given)."""
    for alloc in req.store.find(ALLOC, "resource", vpc["VpcId"]):
        if alloc["ResourceType"] == "VPC" and (block is None or alloc["Cidr"] == block):
            req.delete(ALLOC, alloc)


@op("DeleteVpc")
def delete_vpc(req: Request) -> dict:
    vpc = get_vpc(req)
    require_ready(req.cloud.realism, vpc, "IncorrectVpcStatus", vpc["VpcId"])
    req.delete("vpc", vpc)
    release(req, vpc)
    return {}


def _ip_version(req: Request) -> str:
    value = req.text("IpVersion")
    if value is None:
        v6_only = (req.raw("IPv6CidrBlock") or req.raw("Ipv6CidrMask")) and not (
            req.raw("SecondaryCidrBlock") or req.raw("SecondaryCidrMask"))
        return "IPV6" if v6_only else "IPV4"
    if value.upper() not in ("IPV4", "IPV6"):
        raise fail("InvalidParameter.IpVersion", f"IpVersion {value!r} is not IPV4 or IPV6")
    return value.upper()


@op("AssociateVpcCidrBlock")
def associate_cidr(req: Request) -> dict:
    vpc = get_vpc(req)
    require_ready(req.cloud.realism, vpc, "IncorrectStatus.Vpc", vpc["VpcId"])
    version = _ip_version(req)
    has_pool = req.text("IpamPoolId") is not None
    if version == "IPV4":
        pool = has_pool and pool_in_region(req, "IpamPoolId", vpc["RegionId"], "IPv4") or None
        cidr = req.cidr("SecondaryCidrBlock", code=MALFORMED)
        mask = req.integer("SecondaryCidrMask", lo=0, hi=32, code=MALFORMED)
        blocks = v4_blocks(vpc)
        if cidr is not None:
            check_v4(cidr, cidr.prefix)
            hit = next((b for b in blocks if b.overlaps(cidr)), None)
            if hit is not None:
                raise fail("InvalidCidrBlock.Overlapped", f"{cidr} overlaps {hit} of {vpc['VpcId']}")
        block, source = v4_from(req, pool, cidr, mask, "SecondaryCidrMask", "SecondaryCidrBlock", blocks)
        req.store.put(changed(vpc, SecondaryCidrBlocks=vpc["SecondaryCidrBlocks"] + [str(block)]))
    else:
        pool = has_pool and pool_in_region(req, "IpamPoolId", vpc["RegionId"], "IPv6") or None
        cidr = req.cidr("IPv6CidrBlock", code="InvalidParameter.Ipv6CidrBlock")
        mask = req.integer("Ipv6CidrMask", lo=0, hi=128, code="InvalidParameter.Ipv6CidrMask")
        block, source = v6_from(req, pool, cidr, mask)
        auto = vpc["_auto6"] + ([] if pool else [str(block)])
        req.store.put(changed(vpc, Ipv6CidrBlocks=vpc["Ipv6CidrBlocks"] + [v6_entry(block, pool)],
                              _auto6=auto))
    if pool is not None:
        record(req, pool, block, source, "VPC", vpc["VpcId"], vpc["RegionId"])
    return {"CidrBlock": str(block), "IpVersion": version}


@op("UnassociateVpcCidrBlock")
def unassociate_cidr(req: Request) -> dict:
    vpc = get_vpc(req)
    require_ready(req.cloud.realism, vpc, "IncorrectStatus.Vpc", vpc["VpcId"])
    v4 = req.cidr("SecondaryCidrBlock", code=MALFORMED)
    v6 = req.cidr("IPv6CidrBlock", code="InvalidParameter.Ipv6CidrBlock")
    if v4 is None and v6 is None:
        raise fail("MissingParameter.SecondaryCidrBlock", "give SecondaryCidrBlock or IPv6CidrBlock")
    for block, space in ((v4, "vsw"), (v6, "vsw6")):
        if block is None:
            continue
        text = str(block)
        if space == "vsw" and text == vpc["CidrBlock"]:
            raise fail("OperationDenied.PrimaryCidrBlock", f"{text} is the primary block of {vpc['VpcId']}")
        present = (text in vpc["SecondaryCidrBlocks"] if space == "vsw"
                   else any(e["Ipv6CidrBlock"] == text for e in vpc["Ipv6CidrBlocks"]))
        if not present:
            raise fail("InvalidCidrBlock.NotFound", f"{text} is not a block of {vpc['VpcId']}")
        if req.store.space(space, vpc["VpcId"]).overlapping(block.start, block.end):
            raise fail("DependencyViolation.VSwitch", f"a vSwitch of {vpc['VpcId']} lies in {text}")
        release(req, vpc, text)
        vpc = changed(vpc, SecondaryCidrBlocks=[c for c in vpc["SecondaryCidrBlocks"] if c != text],
                      Ipv6CidrBlocks=[e for e in vpc["Ipv6CidrBlocks"] if e["Ipv6CidrBlock"] != text],
                      _auto6=[c for c in vpc["_auto6"] if c != text])
        req.store.put(vpc)
    return {}


@op("ModifyVpcAttribute")
def modify_vpc(req: Request) -> dict:
    vpc = get_vpc(req)
    fields = {k: req.text(k) for k in ("VpcName", "Description") if req.text(k) is not None}
    req.store.put(changed(vpc, **fields))
    return {}


def vpc_row(req: Request, vpc: dict) -> dict:
    six = vpc["Ipv6CidrBlocks"]
    return {
        "VpcId": vpc["VpcId"], "RegionId": vpc["RegionId"], "VpcName": vpc["VpcName"],
        "Description": vpc["Description"], "Status": shown_status(req.cloud.realism, vpc),
        "IsDefault": vpc["IsDefault"],
        "CidrBlock": vpc["CidrBlock"],
        "SecondaryCidrBlocks": {"SecondaryCidrBlock": list(vpc["SecondaryCidrBlocks"])},
        "EnabledIpv6": bool(six), "Ipv6CidrBlock": six[0]["Ipv6CidrBlock"] if six else "",
        "Ipv6CidrBlocks": {"Ipv6CidrBlock": [dict(e) for e in six]},
        "VSwitchIds": {"VSwitchId": [s["VSwitchId"] for s in req.store.find("vswitch", "vpc", vpc["VpcId"])]},
    }


@op("DescribeVpcs")
def describe_vpcs(req: Request) -> dict:
    region, name = req.text("RegionId"), req.text("VpcName")
    ids = [i.strip() for i in (req.text("VpcId") or "").split(",") if i.strip()]
    if ids:
        rows = req.store.pick("vpc", ids)
    elif region is not None:
        rows = req.store.find("vpc", "region", region)
    else:
        rows = req.store.all("vpc")
    rows = [v for v in rows if (region is None or v["RegionId"] == region)
            and (name is None or v["VpcName"] == name)]
    return page_by_number(req, rows, "Vpcs", "Vpc", lambda v: vpc_row(req, v))
