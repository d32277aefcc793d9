"""Sandbox vSwitch prefix reservations (VPC 2016-04-28): CreateVSwitchCidrReservation,
DeleteVSwitchCidrReservation, ListVSwitchCidrReservations.

CreateVSwitchCidrReservation(VSwitchId, VSwitchCidrReservationCidr | VSwitchCidrReservationMask,
VSwitchCidrReservationType = Prefix, IpVersion = IPv4 | IPv6, VSwitchCidrReservationName,
VSwitchCidrReservationDescription) -> VSwitchCidrReservationId (``vcr-``), VSwitchId, VpcInstanceId.
The block is a standard block of the version, inside the vSwitch's block (IPv4) or its /64 (IPv6),
no longer than a prefix (/28, /80) so that it holds one, overlapping no other reservation, no
system-reserved address and no ENI address (ENI prefixes may lie inside it). With a mask, the lowest
such free block is taken. Once a vSwitch has reservations of a version, its prefixes of that version
lie inside them and automatic addresses stay out of them (:mod:`reconciler.cloud.ecs_address`).

DeleteVSwitchCidrReservation is refused while an ENI prefix lies inside the block. A vSwitch with
reservations cannot be deleted. ListVSwitchCidrReservations (VSwitchId, VSwitchCidrReservationIds.N,
IpVersion, VSwitchCidrReservationType; MaxResults 1-100 / NextToken) answers
``VSwitchCidrReservations`` rows with the block's AssignedCidrCount (prefixes inside),
AvailableCidrCount (free prefix-sized blocks) and MaxCidrCount.

Codes: MissingParameter.VSwitchId / .VSwitchCidrReservationCidr, InvalidVSwitchId.NotFound,
InvalidCidrBlock.Malformed, InvalidCidrBlock.Overlapped, InvalidVSwitchId.Ipv6NotTurnOn (inferred).
Inferred: InvalidParameter.IpVersion, InvalidParameter.VSwitchCidrReservationType,
InvalidCidrBlock.NotInVSwitch, InvalidCidrBlock.InUse, InvalidCidrBlock.Insufficient,
ResourceNotFound.VSwitchCidrReservation (404), DependencyViolation.IpPrefix,
DependencyViolation.VSwitchCidrReservation.

With ``realism.pending_seconds`` (:mod:`reconciler.cloud.realism`): a reservation in a Pending vSwitch
is refused with IncorrectVSwitchStatus; a new reservation lists as Pending for a while, then Assigned.
"""

from __future__ import annotations

from reconciler.cloud.ecs_address import reserved_set, vswitch_block
from reconciler.cloud.ecs_api import RESERVATION, listed
from reconciler.cloud.realism import ready_fields, require_ready, shown_status
from reconciler.cloud.sandbox import Request, fail, guard, page_by_token
from reconciler.cloud.space import first_free
from reconciler.cloud.store import register_kind
from reconciler.cloud.vpc_api import MALFORMED, op
from reconciler.net import eni_limits as L
from reconciler.net.cidr import Cidr

VERSIONS = {"ipv4": 4, "ipv6": 6}
register_kind(RESERVATION, indexes={
    "vswitch": lambda r: r["VSwitchId"],
    "vswitch_version": lambda r: (r["VSwitchId"], VERSIONS[r["IpVersion"].lower()]),
}, spaces=lambda r: [((f"vcr{VERSIONS[r['IpVersion'].lower()]}", r["VSwitchId"]),
                      Cidr.parse(r["VSwitchCidrReservationCidr"]))])


@guard("vswitch")
def _vswitch_without_reservations(req: Request, vsw: dict) -> None:
    if req.store.count(RESERVATION, "vswitch", vsw["VSwitchId"]):
        raise fail("DependencyViolation.VSwitchCidrReservation", f"{vsw['VSwitchId']} still has prefix reservations")


def _version(req: Request) -> int:
    text = req.text("IpVersion") or "IPv4"
    if text.lower() not in VERSIONS:
        raise fail("InvalidParameter.IpVersion", f"IpVersion {text!r} is not IPv4 or IPv6")
    return VERSIONS[text.lower()]


def _check_free(req: Request, vsw: dict, block: Cidr, cidr: Cidr) -> None:
    vid = vsw["VSwitchId"]
    hits = req.store.space(f"vcr{cidr.version}", vid).overlapping(cidr.start, cidr.end)
    if hits:
        raise fail("InvalidCidrBlock.Overlapped", f"{cidr} overlaps reservation {hits[0][2]}")
    if reserved_set(block).last_end_over(cidr.start, cidr.end) is not None:
        raise fail("InvalidCidrBlock.InUse", f"{cidr} covers a system-reserved address of {vid}")
    for start, end, owner in req.store.space(f"eni{cidr.version}", vid).overlapping(cidr.start, cidr.end):
        if start == end:
            raise fail("InvalidCidrBlock.InUse", f"{cidr} covers an address of {owner}")


@op("CreateVSwitchCidrReservation")
def create_reservation(req: Request) -> dict:
    vsw = req.resource("vswitch", "VSwitchId", "InvalidVSwitchId.NotFound")
    require_ready(req.cloud.realism, vsw, "IncorrectVSwitchStatus", vsw["VSwitchId"])
    kind = req.text("VSwitchCidrReservationType") or "Prefix"
    if kind != "Prefix":
        raise fail("InvalidParameter.VSwitchCidrReservationType", f"type {kind!r} is not Prefix")
    version = _version(req)
    block = vswitch_block(vsw, version)
    longest = L.PREFIX_LEN[version]
    cidr = req.cidr("VSwitchCidrReservationCidr", code=MALFORMED)
    mask = req.integer("VSwitchCidrReservationMask", code=MALFORMED)
    if cidr is not None:
        if cidr.version != version or not block.prefix <= cidr.prefix <= longest:
            raise fail(MALFORMED, f"{cidr} is not an IPv{version} block of /{block.prefix} to /{longest}")
        if not block.contains(cidr):
            raise fail("InvalidCidrBlock.NotInVSwitch", f"{cidr} is not in {vsw['VSwitchId']}'s block {block}")
        _check_free(req, vsw, block, cidr)
    elif mask is not None:
        if not block.prefix <= mask <= longest:
            raise fail(MALFORMED, f"a reservation mask is /{block.prefix} to /{longest}, not /{mask}")
        cidr = first_free([block], mask, req.store.space(f"vcr{version}", vsw["VSwitchId"]), reserved_set(block),
                          req.store.space(f"eni{version}", vsw["VSwitchId"]))
        if cidr is None:
            raise fail("InvalidCidrBlock.Insufficient", f"{vsw['VSwitchId']} has no free /{mask} block")
    else:
        raise fail("MissingParameter.VSwitchCidrReservationCidr", "give VSwitchCidrReservationCidr or a mask")
    res = req.create(RESERVATION, "vcr-", "VSwitchCidrReservationId", VSwitchId=vsw["VSwitchId"],
                     VpcId=vsw["VpcId"], RegionId=vsw["RegionId"], VSwitchCidrReservationCidr=str(cidr),
                     VSwitchCidrReservationType=kind, IpVersion=f"IPv{version}", Status="Assigned",
                     VSwitchCidrReservationName=req.text("VSwitchCidrReservationName") or "",
                     VSwitchCidrReservationDescription=req.text("VSwitchCidrReservationDescription") or "",
                     **ready_fields(req.cloud.realism))
    return {"VSwitchCidrReservationId": res["VSwitchCidrReservationId"], "VSwitchId": vsw["VSwitchId"],
            "VpcInstanceId": vsw["VpcId"]}


def _prefixes_inside(req: Request, res: dict) -> tuple[int, set[int]]:
    """(ENI prefixes inside the reservation, indexes of its prefix-sized blocks holding an address)."""
    cidr = Cidr.parse(res["VSwitchCidrReservationCidr"])
    size = 1 << (cidr.bits - L.PREFIX_LEN[cidr.version])
    prefixes, blocked = 0, set()
    for start, end, _ in req.store.space(f"eni{cidr.version}", res["VSwitchId"]).overlapping(cidr.start, cidr.end):
        if start == end:
            blocked.add((start - cidr.start) // size)
        else:
            prefixes += 1
    return prefixes, blocked


@op("DeleteVSwitchCidrReservation")
def delete_reservation(req: Request) -> dict:
    res = req.resource(RESERVATION, "VSwitchCidrReservationId", "ResourceNotFound.VSwitchCidrReservation")
    if _prefixes_inside(req, res)[0]:
        raise fail("DependencyViolation.IpPrefix",
                   f"ENI prefixes still lie in {res['VSwitchCidrReservationCidr']}")
    req.delete(RESERVATION, res)
    return {}


def _row(req: Request, res: dict) -> dict:
    cidr = Cidr.parse(res["VSwitchCidrReservationCidr"])
    total = 1 << (L.PREFIX_LEN[cidr.version] - cidr.prefix)
    assigned, blocked = _prefixes_inside(req, res)
    return {k: v for k, v in res.items() if not k.startswith("_")} | {
        "Status": shown_status(req.cloud.realism, res), "MaxCidrCount": total, "AssignedCidrCount": assigned, "AvailableCidrCount": total - assigned - len(blocked)}


@op("ListVSwitchCidrReservations")
def list_reservations(req: Request) -> dict:
    vsw_id = req.text("VSwitchId", required=True)
    ids = listed(req, "VSwitchCidrReservationIds", 100)
    version = _version(req) if req.text("IpVersion") else None
    kind = req.text("VSwitchCidrReservationType")
    rows = req.store.pick(RESERVATION, ids) if ids else req.store.find(RESERVATION, "vswitch", vsw_id)
    rows = [r for r in rows if r["VSwitchId"] == vsw_id
            and (version is None or r["IpVersion"] == f"IPv{version}")
            and (kind is None or r["VSwitchCidrReservationType"] == kind)]
    return page_by_token(req, rows, "VSwitchCidrReservations", lambda r: _row(req, r))
