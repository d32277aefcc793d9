"""Sandbox ECS (API version 2014-05-26): the resource kinds and rules shared by the ECS modules.

The operations live in ``ecs_sg_api`` (security groups), ``ecs_instance_api`` (instances,
DescribeInstanceTypes), ``ecs_eni_api`` (ENIs), ``ecs_ip_api`` (Assign/Unassign private IPs, IPv4
prefixes, IPv6 addresses and prefixes), ``ecs_reservation_api`` (vSwitch prefix reservations, a VPC
API) and ``ecs_eip_api`` (the EIP / IPv6-bandwidth writes of the managed-ENI table); addresses and
prefixes are chosen and checked by :mod:`reconciler.cloud.ecs_address`. Every limit comes from
:mod:`reconciler.net.eni_limits`, which the planner shares.

Kinds: ``security_group`` (``sg-``), ``instance`` (``i-``), ``eni`` (``eni-``), ``vsw_reservation``
(``vcr-``), ``ipv6_bandwidth`` (``ipv6bw-``). An ENI keeps its addresses as text: ``PrivateIpAddress``
(the primary), ``SecondaryIps``, ``Ipv4Prefixes``, ``Ipv6Addresses``, ``Ipv6Prefixes``; its address
spaces are indexed per vSwitch (``eni4``/``eni6``, addresses and prefixes together) so every
overlap check and "lowest free" search is a bisection, never an enumeration (an IPv6 /64 is fine).

Rules kept here, for every write that changes an ENI (:func:`save_eni`, :func:`check_capacity`):

- Capacity. An InUse ENI holds at most the instance type's EniPrivateIpAddressQuantity IPv4 entries
  (the primary, each secondary address and each IPv4 prefix count one) and EniIpv6AddressQuantity
  IPv6 entries (addresses and prefixes) -> ``InvalidOperation.Ipv4CountExceeded`` /
  ``InvalidOperation.Ipv6CountExceeded``. An Available ENI holds at most 10 private IPv4 addresses
  (primary included), 50 IPv4 entries (the primary, secondary addresses and IPv4 prefixes: at most
  49 prefixes, fewer beside secondary addresses) and 10 IPv6 entries (same codes). Only a growing count is
  checked: an ENI detached while holding more than an Available ENI may keep its addresses.
- Security groups. Every address and prefix of every ENI in a group counts one against the group's
  quota (normal 6,000, enterprise 65,536; ``SECURITY_GROUP_QUOTA`` on a SandboxCloud subclass
  overrides it) -> ``QuotaExceeded.SecurityGroupPrivateIp`` (inferred). Groups keep running totals.
- Managed ENIs. The writes of ``eni_limits.MANAGED_ENI_GUARDED_ACTIONS`` on an ENI created with
  ServiceManaged=true are refused with ``InvalidOperation.EniServiceManaged`` (403) unless the
  sandbox-only parameter ``CallerService`` names the ENI's ServiceID.
- Deletion order. A vSwitch with ENIs cannot be deleted (``DependencyViolation.NetworkInterface``,
  inferred), nor a VPC with security groups (``DependencyViolation.SecurityGroup``, inferred).
  DescribeVSwitches' AvailableIpAddressCount drops by every ENI IPv4 address and by 16 per /28.

Instance types come from ``eni_limits.load_instance_types``, with the overrides of a SandboxCloud
subclass's ``INSTANCE_TYPE_OVERRIDES``. ECS lists page with PageNumber (from 1) and PageSize (1-100,
default 10), answering TotalCount, PageNumber, PageSize.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, cast

from reconciler.cloud import vswitch_api
from reconciler.cloud.realism import page_size
from reconciler.cloud.sandbox import Request, fail, guard, operation
from reconciler.cloud.store import Resource, Store, changed, public, register_kind
from reconciler.net import eni_limits as L
from reconciler.net.cidr import Cidr, CidrSyntaxError, format_address, parse_address

ECS_VERSION = "2014-05-26"
SG, INSTANCE, ENI = "security_group", "instance", "eni"
RESERVATION, BANDWIDTH = "vsw_reservation", "ipv6_bandwidth"
RUNNING_OR_STOPPED = ("Running", "Stopped")


def op(action: str):
    return operation(action, version=ECS_VERSION)


@lru_cache(maxsize=65536)
def host(text: str) -> Cidr:
    """One address as a /32 or /128 block."""
    version, value = parse_address(text)
    return Cidr(version, value, 32 if version == 4 else 128)


def _eni_spaces(e: dict):
    vsw = e["VSwitchId"]
    for ip in (e["PrivateIpAddress"], *e["SecondaryIps"]):
        yield ("eni4", vsw), host(ip)
    for p in e["Ipv4Prefixes"]:
        yield ("eni4", vsw), Cidr.parse(p)
    for ip in e["Ipv6Addresses"]:
        yield ("eni6", vsw), host(ip)
        yield ("ip6",), host(ip)  # IPv6 addresses are unique across VPCs: find an address's ENI
    for p in e["Ipv6Prefixes"]:
        yield ("eni6", vsw), Cidr.parse(p)


register_kind(SG, indexes={"vpc": lambda g: g["VpcId"], "region": lambda g: g["RegionId"]})
register_kind(INSTANCE, indexes={"region": lambda i: i["RegionId"], "vswitch": lambda i: i["VSwitchId"]})
register_kind(ENI, indexes={"region": lambda e: e["RegionId"], "vswitch": lambda e: e["VSwitchId"],
                            "vpc": lambda e: e["VpcId"], "instance": lambda e: e["InstanceId"] or None},
              spaces=lambda e: list(_eni_spaces(e)))
register_kind(BANDWIDTH, indexes={"eni": lambda b: b["_eni"], "address": lambda b: b["Ipv6AddressId"]})


# ---- parameters -----------------------------------------------------------------------------
def listed(req: Request, name: str, limit: int = L.MAX_ITEMS_PER_CALL) -> list[str]:
    """``Name.N`` values, at most ``limit`` of them (``InvalidParameter.<Name>``, inferred)."""
    values = req.items(name)
    if len(values) > limit:
        raise fail(f"InvalidParameter.{name}", f"at most {limit} {name}.N values a call, not {len(values)}")
    return values


def count(req: Request, name: str) -> int | None:
    lo, hi = L.COUNT_RANGE
    return req.integer(name, lo=lo, hi=hi)


def one_of(req: Request, items: str, number: str) -> tuple[list[str], int]:
    """Explicit ``items.N`` or automatic ``number``, never both (``InvalidParameter.Conflict``)."""
    values, n = listed(req, items), count(req, number)
    if values and n is not None:
        raise fail("InvalidParameter.Conflict", f"{items}.N and {number} cannot be given together")
    return values, n or 0


def address_text(version: int, text: str) -> str:
    """A normalized address, or the version's Malformed code."""
    code = "InvalidPrivateIpAddress.Malformed" if version == 4 else "InvalidIpv6Address.Malformed"
    try:
        got, value = parse_address(text)
    except CidrSyntaxError:
        raise fail(code, f"{text!r} is not an IPv{version} address")
    if got != version:
        raise fail(code, f"{text!r} is not an IPv{version} address")
    return format_address(version, value)


def prefix_text(version: int, text: str, name: str) -> Cidr:
    """An IPv4 /28 or IPv6 /80 standard block, or ``InvalidParameter.<name>`` (inferred)."""
    try:
        block = Cidr.parse(text)
    except CidrSyntaxError as exc:
        raise fail(f"InvalidParameter.{name}", f"{name} {text!r}: {exc.rule}")
    want = L.PREFIX_LEN[version]
    if block.version != version or block.prefix != want:
        raise fail(f"InvalidParameter.{name}", f"{name} {text!r} is not an IPv{version} /{want} block")
    return block


def check_prefix_region(req: Request, region: str) -> None:
    if not L.prefix_regions_supported(region):
        raise fail("OperationDenied.IpPrefixNotSupportedInRegion", f"IP prefixes are not available in {region}")


def tags(req: Request) -> list[dict]:
    """``Tag.N.Key`` / ``Tag.N.Value`` as DescribeNetworkInterfaces' ``{TagKey, TagValue}``."""
    found: dict[int, dict] = {}
    for key, value in req.params.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "Tag" and parts[1].isdigit() and parts[2] in ("Key", "Value"):
            found.setdefault(int(parts[1]), {})[parts[2]] = "" if value is None else str(value)
    return [{"TagKey": t["Key"], "TagValue": t.get("Value", "")} for _, t in sorted(found.items()) if t.get("Key")]


def page(req: Request, rows: list, outer: str, inner: str, row: Callable[[dict], dict] = public) -> dict:
    number = req.integer("PageNumber", lo=1) or 1
    size = page_size(req.cloud.realism, req.integer("PageSize", lo=1, hi=100) or 10)
    chunk = [row(r) for r in rows[(number - 1) * size:number * size]]
    return {outer: {inner: chunk}, "TotalCount": len(rows), "PageNumber": number, "PageSize": size}


# ---- lookups --------------------------------------------------------------------------------
def _in_region(req: Request, res: dict, code: str, label: str) -> dict:
    region = req.text("RegionId")
    if region is not None and region != res["RegionId"]:
        raise fail(code, f"{label} is not in region {region}")
    return res


def get_eni(req: Request, name: str = "NetworkInterfaceId") -> dict:
    eni = req.resource(ENI, name, "InvalidEniId.NotFound")
    return _in_region(req, eni, "InvalidEniId.NotFound", eni["NetworkInterfaceId"])


def get_instance(req: Request) -> dict:
    inst = req.resource(INSTANCE, "InstanceId", "InvalidInstanceId.NotFound")
    return _in_region(req, inst, "InvalidInstanceId.NotFound", inst["InstanceId"])


def get_vswitch(req: Request, region: str | None) -> dict:
    vsw = req.resource("vswitch", "VSwitchId", "InvalidVSwitchId.NotFound")
    if region is not None and vsw["RegionId"] != region:
        raise fail("InvalidVSwitchId.NotFound", f"{vsw['VSwitchId']} is not in region {region}")
    return vsw


def security_groups(req: Request, vpc_id: str, single: str, many: str, *, required: bool) -> list[str]:
    """The security groups named by ``single`` and ``many.N`` (1 to 5), all in ``vpc_id``."""
    ids = listed(req, many, 5)
    first = req.text(single) if single else None
    ids = list(dict.fromkeys(([first] if first else []) + ids))
    if not ids and required:
        raise fail(f"MissingParameter.{single or many}", "a security group is required")
    if len(ids) > 5:
        raise fail(f"InvalidParameter.{many}", "an ENI belongs to at most 5 security groups")
    for gid in ids:
        sg = req.store.get(SG, gid)
        if sg is None:
            raise fail("InvalidSecurityGroupId.NotFound", f"security group {gid!r} does not exist")
        if sg["VpcId"] != vpc_id:
            raise fail("InvalidSecurityGroupId.VpcMismatch", f"{gid} is not in {vpc_id}")
    return ids


_TYPES: dict[type, dict[str, L.InstanceType]] = {}


def instance_types(req: Request) -> dict[str, L.InstanceType]:
    cls = type(req.cloud)
    if cls not in _TYPES:
        _TYPES[cls] = L.load_instance_types(getattr(cls, "INSTANCE_TYPE_OVERRIDES", None))
    return _TYPES[cls]


def instance_type_of(req: Request, eni: dict) -> L.InstanceType | None:
    """The type whose limits govern ``eni``: its instance's when InUse, None when Available."""
    if eni["Status"] != "InUse":
        return None
    # DeleteInstance frees or deletes its ENIs first, so an InUse ENI's instance exists
    return instance_types(req)[cast(Resource, req.store.get(INSTANCE, eni["InstanceId"]))["InstanceType"]]


# ---- rules ----------------------------------------------------------------------------------
def check_managed(req: Request, eni: dict) -> None:
    if eni["ServiceManaged"] and req.text("CallerService") != eni["ServiceID"]:
        raise fail("InvalidOperation.EniServiceManaged",
                   f"{eni['NetworkInterfaceId']} is managed by {eni['ServiceID']}; "
                   f"{req.action} is refused", 403)


def counts(eni: dict) -> tuple[int, int, int, int]:
    """(IPv4 addresses with the primary, IPv4 prefixes, IPv6 addresses, IPv6 prefixes)."""
    return (1 + len(eni["SecondaryIps"]), len(eni["Ipv4Prefixes"]), len(eni["Ipv6Addresses"]),
            len(eni["Ipv6Prefixes"]))


def check_capacity(req: Request, eni: dict, new: tuple, old: tuple | None = None) -> None:
    """Refuse growing ``eni`` (whose Status/InstanceId say which limits apply) from ``old`` counts
    to ``new`` ones past its limits; ``old`` None checks everything (attaching)."""
    itype = instance_type_of(req, eni)
    a4, p4, a6, p6 = new
    o4, op4, o6, op6 = old or (-1, -1, -1, -1)
    what = f"{itype.name}'s" if itype else "an Available ENI's"
    if itype is None:  # 10 addresses, and 50 entries counting each prefix as one IP: each when it grows
        over4 = ((a4 > L.AVAILABLE_ENI_MAX_PRIVATE_IPV4 and a4 > o4)
                 or (a4 + p4 > L.AVAILABLE_ENI_MAX_IPV4_ENTRIES and a4 + p4 > o4 + op4))
    else:
        over4 = L.ipv4_exceeded(itype, a4, p4) and (a4 > o4 or p4 > op4)
    if over4:
        raise fail("InvalidOperation.Ipv4CountExceeded",
                   f"{a4} IPv4 addresses and {p4} IPv4 prefixes exceed {what} limit")
    if L.ipv6_exceeded(itype, a6, p6) and (a6 > o6 or p6 > op6):
        raise fail("InvalidOperation.Ipv6CountExceeded",
                   f"{a6} IPv6 addresses and {p6} IPv6 prefixes exceed {what} limit")


def _quota(req: Request, sg: dict) -> int:
    table = getattr(type(req.cloud), "SECURITY_GROUP_QUOTA", L.SECURITY_GROUP_PRIVATE_IP_QUOTA)
    return table[sg["SecurityGroupType"]]


def save_eni(req: Request, new: dict | None, old: dict | None = None) -> None:
    """Put ``new`` in place of ``old`` (either may be None), moving the security groups' totals
    and refusing a group over its private-IP quota."""
    before = {g: L.security_group_usage(*counts(old)) for g in old["SecurityGroupIds"]} if old else {}
    after = {g: L.security_group_usage(*counts(new)) for g in new["SecurityGroupIds"]} if new else {}
    for gid in dict.fromkeys([*before, *after]):
        grow, joined = after.get(gid, 0) - before.get(gid, 0), (gid in after) - (gid in before)
        if not grow and not joined:
            continue
        sg = req.store.get(SG, gid)
        assert sg is not None  # checked by security_groups(); a group an ENI uses is not deleted
        total = sg["_ips"] + grow
        if grow > 0 and total > _quota(req, sg):
            raise fail("QuotaExceeded.SecurityGroupPrivateIp",
                       f"{gid} ({sg['SecurityGroupType']}) would hold {total} private IPs and prefixes, "
                       f"over its quota of {_quota(req, sg)}")
        req.store.put(changed(sg, _ips=total, _enis=sg["_enis"] + joined))
    if new is None:
        req.store.delete(cast(Resource, old))  # callers give at least one of the two
    else:
        req.store.put(new)


def drop_bandwidth(req: Request, eni: dict, addresses: list[str] | None = None) -> None:
    """Release the IPv6 Internet bandwidth of ``eni``'s addresses (all, or ``addresses``)."""
    for bw in req.store.find(BANDWIDTH, "eni", eni["NetworkInterfaceId"]):
        if addresses is None or bw["Ipv6AddressId"] in addresses:
            req.store.delete(bw)


def eni_row(e: dict) -> dict:
    """A DescribeNetworkInterfaces row (CreateNetworkInterface answers the same)."""
    return {
        "NetworkInterfaceId": e["NetworkInterfaceId"], "NetworkInterfaceName": e["NetworkInterfaceName"],
        "Description": e["Description"], "Status": e["Status"], "Type": e["Type"],
        "ServiceManaged": e["ServiceManaged"], "ServiceID": e["ServiceID"], "InstanceId": e["InstanceId"],
        "RegionId": e["RegionId"], "ZoneId": e["ZoneId"], "VpcId": e["VpcId"], "VSwitchId": e["VSwitchId"],
        "SecurityGroupIds": {"SecurityGroupId": list(e["SecurityGroupIds"])},
        "PrivateIpAddress": e["PrivateIpAddress"],
        "PrivateIpSets": {"PrivateIpSet": [{"PrivateIpAddress": e["PrivateIpAddress"], "Primary": True}]
                          + [{"PrivateIpAddress": ip, "Primary": False} for ip in e["SecondaryIps"]]},
        "Ipv4PrefixSets": {"Ipv4PrefixSet": [{"Ipv4Prefix": p} for p in e["Ipv4Prefixes"]]},
        "Ipv6Sets": {"Ipv6Set": [{"Ipv6Address": a} for a in e["Ipv6Addresses"]]},
        "Ipv6PrefixSets": {"Ipv6PrefixSet": [{"Ipv6Prefix": p} for p in e["Ipv6Prefixes"]]},
        "Tags": {"Tag": [dict(t) for t in e["Tags"]]},
    }


# ---- hooks into the VPC modules ---------------------------------------------------------------
@guard("vswitch")
def _vswitch_without_enis(req: Request, vsw: dict) -> None:
    if req.store.count(ENI, "vswitch", vsw["VSwitchId"]):
        raise fail("DependencyViolation.NetworkInterface", f"ENIs still live in {vsw['VSwitchId']}")


@guard("vpc")
def _vpc_without_security_groups(req: Request, vpc: dict) -> None:
    if req.store.count(SG, "vpc", vpc["VpcId"]):
        raise fail("DependencyViolation.SecurityGroup", f"{vpc['VpcId']} still has security groups")


def _eni_ipv4_in_use(store: Store, vsw: dict) -> int:
    return sum(end - start + 1 for start, end, _ in store.space("eni4", vsw["VSwitchId"]))


if _eni_ipv4_in_use not in vswitch_api.IP_USAGE:
    vswitch_api.IP_USAGE.append(_eni_ipv4_in_use)
