"""Sandbox ENI addresses (ECS 2014-05-26): AssignPrivateIpAddresses, UnassignPrivateIpAddresses,
AssignIpv6Addresses, UnassignIpv6Addresses.

Assign: explicit items (``PrivateIpAddress.N`` / ``Ipv4Prefix.N`` / ``Ipv6Address.N`` /
``Ipv6Prefix.N``, at most 10 each) or counts (``SecondaryPrivateIpAddressCount`` /
``Ipv4PrefixCount`` / ``Ipv6AddressCount`` / ``Ipv6PrefixCount``, 1 to 10), never both of a pair; the
address rules of :mod:`reconciler.cloud.ecs_address`; the ENI's limits (Available, or its instance
type's when InUse) and its security groups' quotas; prefixes only in the prefix regions. On a
primary ENI, only while its instance is Running or Stopped (``IncorrectInstanceStatus``). Managed ENIs
refuse all four unless the creating service calls (``CallerService``).

Responses as the real API: AssignPrivateIpAddresses -> ``NetworkInterfaceId``,
``AssignedPrivateIpAddressesSet {NetworkInterfaceId, PrivateIpSet {PrivateIpAddress []},
Ipv4PrefixSet {Ipv4Prefixes []}}``; AssignIpv6Addresses -> ``NetworkInterfaceId``,
``Ipv6Sets {Ipv6Address []}``, ``Ipv6PrefixSets {Ipv6Prefix []}``; the Unassign calls -> nothing but
RequestId. Unassigning IPv6 addresses releases their IPv6 Internet bandwidth.

Codes (beyond the ENI and address ones): MissingParameter.PrivateIpAddress / .Ipv6Address (nothing to
do, inferred), OperationDenied.PrimaryIpAddress (unassigning the primary address, inferred),
InvalidPrivateIpAddress.NotFound / InvalidIpv6Address.NotFound / InvalidIpPrefix.NotFound (an item the
ENI does not hold, 404, inferred).
"""

from __future__ import annotations

from typing import cast

from reconciler.cloud.ecs_address import Allocator
from reconciler.cloud.ecs_api import (
    INSTANCE,
    RUNNING_OR_STOPPED,
    address_text,
    check_capacity,
    check_managed,
    check_prefix_region,
    counts,
    drop_bandwidth,
    get_eni,
    listed,
    one_of,
    op,
    prefix_text,
    save_eni,
)
from reconciler.cloud.sandbox import Request, fail
from reconciler.cloud.store import Resource


def _target(req: Request) -> tuple[dict, dict]:
    eni = get_eni(req)
    check_managed(req, eni)
    if eni["Type"] == "Primary":
        inst = req.store.get(INSTANCE, eni["InstanceId"])
        assert inst is not None  # a primary ENI goes with its instance
        if inst["Status"] not in RUNNING_OR_STOPPED:
            raise fail("IncorrectInstanceStatus", f"{inst['InstanceId']} is {inst['Status']}: the addresses of "
                       "its primary ENI change only while it is Running or Stopped")
    return eni, cast(Resource, req.store.get("vswitch", eni["VSwitchId"]))  # a vSwitch with ENIs is not deleted


def _grow(req: Request, eni: dict, add: tuple[int, int, int, int]) -> None:
    old = counts(eni)
    check_capacity(req, eni, tuple(o + a for o, a in zip(old, add)), old)


@op("AssignPrivateIpAddresses")
def assign_private(req: Request) -> dict:
    eni, vsw = _target(req)
    addrs, n = one_of(req, "PrivateIpAddress", "SecondaryPrivateIpAddressCount")
    pfx, np = one_of(req, "Ipv4Prefix", "Ipv4PrefixCount")
    if not (addrs or n or pfx or np):
        raise fail("MissingParameter.PrivateIpAddress", "give PrivateIpAddress.N, SecondaryPrivateIpAddressCount, "
                   "Ipv4Prefix.N or Ipv4PrefixCount")
    if pfx or np:
        check_prefix_region(req, eni["RegionId"])
    _grow(req, eni, (len(addrs) + n, len(pfx) + np, 0, 0))
    got_a, got_p = Allocator(req, vsw).take(4, addrs, n, pfx, np)
    save_eni(req, {**eni, "SecondaryIps": eni["SecondaryIps"] + got_a,
                   "Ipv4Prefixes": eni["Ipv4Prefixes"] + got_p}, eni)
    eid = eni["NetworkInterfaceId"]
    return {"NetworkInterfaceId": eid, "AssignedPrivateIpAddressesSet": {
        "NetworkInterfaceId": eid, "PrivateIpSet": {"PrivateIpAddress": got_a},
        "Ipv4PrefixSet": {"Ipv4Prefixes": got_p}}}


@op("AssignIpv6Addresses")
def assign_ipv6(req: Request) -> dict:
    eni, vsw = _target(req)
    addrs, n = one_of(req, "Ipv6Address", "Ipv6AddressCount")
    pfx, np = one_of(req, "Ipv6Prefix", "Ipv6PrefixCount")
    if not (addrs or n or pfx or np):
        raise fail("MissingParameter.Ipv6Address", "give Ipv6Address.N, Ipv6AddressCount, Ipv6Prefix.N or Ipv6PrefixCount")
    if pfx or np:
        check_prefix_region(req, eni["RegionId"])
    _grow(req, eni, (0, 0, len(addrs) + n, len(pfx) + np))
    got_a, got_p = Allocator(req, vsw).take(6, addrs, n, pfx, np)
    save_eni(req, {**eni, "Ipv6Addresses": eni["Ipv6Addresses"] + got_a,
                   "Ipv6Prefixes": eni["Ipv6Prefixes"] + got_p}, eni)
    return {"NetworkInterfaceId": eni["NetworkInterfaceId"], "Ipv6Sets": {"Ipv6Address": got_a},
            "Ipv6PrefixSets": {"Ipv6Prefix": got_p}}


def _remove(held: list[str], gone: list[str], code: str, eid: str) -> list[str]:
    for item in gone:
        if item not in held:
            raise fail(code, f"{item} is not assigned to {eid}")
    drop = set(gone)
    return [h for h in held if h not in drop]


@op("UnassignPrivateIpAddresses")
def unassign_private(req: Request) -> dict:
    eni, _ = _target(req)
    eid = eni["NetworkInterfaceId"]
    addrs = [address_text(4, a) for a in listed(req, "PrivateIpAddress")]
    pfx = [str(prefix_text(4, p, "Ipv4Prefix")) for p in listed(req, "Ipv4Prefix")]
    if not addrs and not pfx:
        raise fail("MissingParameter.PrivateIpAddress", "give PrivateIpAddress.N or Ipv4Prefix.N")
    if eni["PrivateIpAddress"] in addrs:
        raise fail("OperationDenied.PrimaryIpAddress", f"{eni['PrivateIpAddress']} is the primary address of {eid}")
    save_eni(req, {**eni, "SecondaryIps": _remove(eni["SecondaryIps"], addrs, "InvalidPrivateIpAddress.NotFound", eid),
                   "Ipv4Prefixes": _remove(eni["Ipv4Prefixes"], pfx, "InvalidIpPrefix.NotFound", eid)}, eni)
    return {}


@op("UnassignIpv6Addresses")
def unassign_ipv6(req: Request) -> dict:
    eni, _ = _target(req)
    eid = eni["NetworkInterfaceId"]
    addrs = [address_text(6, a) for a in listed(req, "Ipv6Address")]
    pfx = [str(prefix_text(6, p, "Ipv6Prefix")) for p in listed(req, "Ipv6Prefix")]
    if not addrs and not pfx:
        raise fail("MissingParameter.Ipv6Address", "give Ipv6Address.N or Ipv6Prefix.N")
    new = {**eni, "Ipv6Addresses": _remove(eni["Ipv6Addresses"], addrs, "InvalidIpv6Address.NotFound", eid),
           "Ipv6Prefixes": _remove(eni["Ipv6Prefixes"], pfx, "InvalidIpPrefix.NotFound", eid)}
    if addrs:
        drop_bandwidth(req, eni, addrs)
    save_eni(req, new, eni)
    return {}
