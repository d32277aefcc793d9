"""Sandbox vSwitches (API version 2016-04-28): CreateVSwitch, DeleteVSwitch,
ModifyVSwitchAttribute (VSwitchName, Description), DescribeVSwitches.

Rules: the zone belongs to the VPC's region (``net.regions.zone_in_region``: ``cn-hangzhou-h``,
``ap-southeast-1a``); the IPv4
block (CidrBlock, or the lowest free block of CidrMask) has a mask within
``limits.VSWITCH_IPV4_MASK``, lies inside one of the VPC's IPv4 blocks and overlaps no other vSwitch
of the VPC; Ipv6CidrBlock is the index (0-255 for a /56) of a /64 inside the VPC's IPv6 block (the
first one, or VpcIpv6CidrBlock), needs an IPv6 VPC and must not be in use by another vSwitch.
AvailableIpAddressCount is the block size less the 4 system-reserved addresses (the first and the
last three) less what :data:`IP_USAGE` hooks report (ENIs, registered by other modules). A VPC with
vSwitches cannot be deleted (a guard on kind ``vpc``).

Chosen codes: a mask out of range is ``InvalidCidrBlock.Malformed``; a block outside the VPC's
blocks is ``InvalidCidrBlock.NotInVpc``; an overlap (IPv4, or an IPv6 /64 in use) is
``InvalidCidrBlock.Overlapped``.

Codes: MissingParameter.VpcId / .ZoneId / .CidrBlock / .VSwitchId, InvalidVpcId.NotFound,
InvalidVSwitchId.NotFound, InvalidZoneId.NotFound, InvalidCidrBlock.Malformed,
InvalidCidrBlock.Overlapped. Inferred: InvalidCidrBlock.NotInVpc, InvalidCidrBlock.Insufficient (no
free block of CidrMask), OperationDenied.VpcIpv6NotEnabled, InvalidParameter.Ipv6CidrBlock (index
out of range), InvalidParameter.VpcIpv6CidrBlock, DependencyViolation.VSwitch.

With ``realism.pending_seconds`` (:mod:`reconciler.cloud.realism`): CreateVSwitch in a Pending VPC is
IncorrectVpcStatus (documented for CreateVSwitch); a new vSwitch is Pending for a while, and
DeleteVSwitch of a Pending one is IncorrectVSwitchStatus (documented: "the vSwitch is in the Pending
state and cannot be deleted").
"""

from __future__ import annotations

from typing import Callable

from reconciler.cloud.realism import ready_fields, require_ready, shown_status
from reconciler.cloud.sandbox import Request, fail, guard, page_by_number
from reconciler.cloud.space import containing, first_free
from reconciler.cloud.store import Store, changed, public, register_kind
from reconciler.cloud.vpc_api import MALFORMED, get_vpc, op, v4_blocks
from reconciler.net import limits
from reconciler.net.cidr import Cidr
from reconciler.net.regions import UNKNOWN_ZONE, zone_problem

SYSTEM_RESERVED = 4  # the first address and the last three of every vSwitch
IP_USAGE: list[Callable[[Store, dict], int]] = []  # hooks: addresses of a vSwitch in use


def _spaces(vsw: dict):
    out = [(("vsw", vsw["VpcId"]), Cidr.parse(vsw["CidrBlock"]))]
    if vsw["Ipv6CidrBlock"]:
        out.append((("vsw6", vsw["VpcId"]), Cidr.parse(vsw["Ipv6CidrBlock"])))
    return out


register_kind("vswitch", indexes={"vpc": lambda s: s["VpcId"]}, spaces=_spaces)


@guard("vpc")
def _vpc_without_vswitches(req: Request, vpc: dict) -> None:
    if req.store.count("vswitch", "vpc", vpc["VpcId"]):
        raise fail("DependencyViolation.VSwitch", f"{vpc['VpcId']} still has vSwitches")


def _ipv6_block(req: Request, vpc: dict) -> Cidr | None:
    index = req.raw("Ipv6CidrBlock")
    if index is None:
        return None
    blocks = [Cidr.parse(e["Ipv6CidrBlock"]) for e in vpc["Ipv6CidrBlocks"]]
    if not blocks:
        raise fail("OperationDenied.VpcIpv6NotEnabled", f"{vpc['VpcId']} has no IPv6 block")
    base = blocks[0]
    chosen = req.cidr("VpcIpv6CidrBlock", code="InvalidParameter.VpcIpv6CidrBlock")
    if chosen is not None:
        if chosen not in blocks:
            raise fail("InvalidParameter.VpcIpv6CidrBlock", f"{chosen} is not a block of {vpc['VpcId']}")
        base = chosen
    count = 1 << (limits.VSWITCH_IPV6_MASK - base.prefix)
    index = req.integer("Ipv6CidrBlock", lo=0, hi=count - 1, code="InvalidParameter.Ipv6CidrBlock")
    assert index is not None  # its raw value was not None above
    block = base.subnet(limits.VSWITCH_IPV6_MASK, index)
    if req.store.space("vsw6", vpc["VpcId"]).overlapping(block.start, block.end):
        raise fail("InvalidCidrBlock.Overlapped", f"IPv6 block {block} is used by another vSwitch")
    return block


@op("CreateVSwitch")
def create_vswitch(req: Request) -> dict:
    vpc = get_vpc(req)
    require_ready(req.cloud.realism, vpc, "IncorrectVpcStatus", vpc["VpcId"])
    zone = req.text("ZoneId", required=True)
    problem = zone_problem(zone, vpc["RegionId"])
    if problem is not None:
        raise fail(UNKNOWN_ZONE, problem)
    cidr = req.cidr("CidrBlock", code=MALFORMED)
    lo, hi = limits.VSWITCH_IPV4_MASK
    mask = req.integer("CidrMask", lo=lo, hi=hi, code=MALFORMED)
    taken = req.store.space("vsw", vpc["VpcId"])
    if cidr is not None:
        if cidr.version != 4 or not lo <= cidr.prefix <= hi:
            raise fail(MALFORMED, f"a vSwitch IPv4 block is /{lo} to /{hi}, not {cidr}")
        if containing(v4_blocks(vpc), cidr) is None:
            raise fail("InvalidCidrBlock.NotInVpc", f"{cidr} is not inside a block of {vpc['VpcId']}")
        hits = taken.overlapping(cidr.start, cidr.end)
        if hits:
            raise fail("InvalidCidrBlock.Overlapped", f"{cidr} overlaps vSwitch {hits[0][2]}")
    elif mask is not None:
        cidr = first_free(v4_blocks(vpc), mask, taken)
        if cidr is None:
            raise fail("InvalidCidrBlock.Insufficient", f"{vpc['VpcId']} has no free /{mask} block")
    else:
        raise fail("MissingParameter.CidrBlock", "CidrBlock is required")
    six = _ipv6_block(req, vpc)
    vsw = req.create("vswitch", "vsw-", "VSwitchId", VpcId=vpc["VpcId"], ZoneId=zone,
                     RegionId=vpc["RegionId"], VSwitchName=req.text("VSwitchName") or "",
                     Description=req.text("Description") or "", CidrBlock=str(cidr),
                     Ipv6CidrBlock=str(six) if six else "", Status="Available", IsDefault=False,
                     **ready_fields(req.cloud.realism))
    return {"VSwitchId": vsw["VSwitchId"]}


@op("DeleteVSwitch")
def delete_vswitch(req: Request) -> dict:
    vsw = req.resource("vswitch", "VSwitchId", "InvalidVSwitchId.NotFound")
    require_ready(req.cloud.realism, vsw, "IncorrectVSwitchStatus", vsw["VSwitchId"])
    req.delete("vswitch", vsw)
    return {}


@op("ModifyVSwitchAttribute")
def modify_vswitch(req: Request) -> dict:
    vsw = req.resource("vswitch", "VSwitchId", "InvalidVSwitchId.NotFound")
    region = req.text("RegionId")
    if region is not None and region != vsw["RegionId"]:
        raise fail("InvalidVSwitchId.NotFound", f"{vsw['VSwitchId']} is not in region {region}")
    fields = {k: req.text(k) for k in ("VSwitchName", "Description") if req.text(k) is not None}
    req.store.put(changed(vsw, **fields))
    return {}


def available(store: Store, vsw: dict) -> int:
    size = Cidr.parse(vsw["CidrBlock"]).size
    return max(0, size - SYSTEM_RESERVED - sum(hook(store, vsw) for hook in IP_USAGE))


@op("DescribeVSwitches")
def describe_vswitches(req: Request) -> dict:
    vpc_id, region, zone = req.text("VpcId"), req.text("RegionId"), req.text("ZoneId")
    name = req.text("VSwitchName")
    ids = [i.strip() for i in (req.text("VSwitchId") or "").split(",") if i.strip()]
    if ids:
        rows = req.store.pick("vswitch", ids)
    elif vpc_id is not None:
        rows = req.store.find("vswitch", "vpc", vpc_id)
    else:
        rows = req.store.all("vswitch")
    rows = [s for s in rows if (vpc_id is None or s["VpcId"] == vpc_id)
            and (region is None or s["RegionId"] == region)
            and (zone is None or s["ZoneId"] == zone) and (name is None or s["VSwitchName"] == name)]
    return page_by_number(req, rows, "VSwitches", "VSwitch",
                          lambda s: dict(public(s), Status=shown_status(req.cloud.realism, s),
                                         AvailableIpAddressCount=available(req.store, s)))
