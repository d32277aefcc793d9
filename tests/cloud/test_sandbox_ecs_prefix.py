"""The sandbox's IP prefixes and IPv6 addresses: /28 and /80 standard blocks inside the ENI's
vSwitch, overlapping nothing, lowest free aligned blocks, the regions where prefixes exist, and
vSwitch prefix reservations. Each rule has a test that fails without it."""

from __future__ import annotations

import time

import pytest

from tests.support import sandbox
from tests.support.sandbox import HZ, Net, eni_row, new_eni, refused

V6 = "2408:8000::/64"  # the vSwitch's /64: index 0 of the VPC's first automatic /56


def make_net(cloud, region=HZ, block="10.0.0.0/24", ipv6=0) -> Net:
    """The shared network, in zone a of ``region`` (``cn-hangzhou-a``, ``ap-southeast-1a``: issue 17 item 10;
    ``ap-southeast-1-a``, no zone id of the cloud, was taken before)."""
    zone = f"{region}a" if region[-1].isdigit() else f"{region}-a"
    return sandbox.make_net(cloud, block, ipv6, region=region, zone=zone)


@pytest.fixture
def net(cloud):
    return make_net(cloud)


def v4_prefixes(cloud, eni_id):
    return [p["Ipv4Prefix"] for p in eni_row(cloud, eni_id)["Ipv4PrefixSets"]["Ipv4PrefixSet"]]


def v6_prefixes(cloud, eni_id):
    return [p["Ipv6Prefix"] for p in eni_row(cloud, eni_id)["Ipv6PrefixSets"]["Ipv6PrefixSet"]]


def assign4(cloud, eni, **params):
    return cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": eni, **params})


def assign6(cloud, eni, **params):
    return cloud.call("AssignIpv6Addresses", {"NetworkInterfaceId": eni, **params})


def reserve(cloud, net, **params) -> str:
    return cloud.call("CreateVSwitchCidrReservation", {"VSwitchId": net.vsw, **params})["VSwitchCidrReservationId"]


# ---- IPv4 prefixes -----------------------------------------------------------------------------
def test_automatic_ipv4_prefixes_are_the_lowest_free_aligned_blocks(cloud, net):
    eni = new_eni(cloud, net, SecondaryPrivateIpAddressCount=2)  # .1 .2 .3 take the first /28 with .0
    got = assign4(cloud, eni, Ipv4PrefixCount=2)
    assert got["AssignedPrivateIpAddressesSet"] == {"NetworkInterfaceId": eni, "PrivateIpSet": {"PrivateIpAddress": []},
                                                    "Ipv4PrefixSet": {"Ipv4Prefixes": ["10.0.0.16/28", "10.0.0.32/28"]}}
    assign4(cloud, eni, **{"Ipv4Prefix.1": "10.0.0.64/28"})
    assert assign4(cloud, eni, Ipv4PrefixCount=2)["AssignedPrivateIpAddressesSet"]["Ipv4PrefixSet"][
        "Ipv4Prefixes"] == ["10.0.0.48/28", "10.0.0.80/28"]
    # the last /28 holds the three reserved tail addresses: never automatic, never explicit
    refused(cloud, "InvalidIp.SystemReserved", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "Ipv4Prefix.1": "10.0.0.240/28"})


@pytest.mark.parametrize("prefix,code", [
    ("10.0.0.32/27", "InvalidParameter.Ipv4Prefix"),
    ("10.0.0.32/29", "InvalidParameter.Ipv4Prefix"),
    ("10.0.0.33/28", "InvalidParameter.Ipv4Prefix"),  # not a standard block
    ("2408:8000::/80", "InvalidParameter.Ipv4Prefix"),
    ("10.0.1.0/28", "InvalidIpPrefix.NotInVSwitch"),
    ("10.0.0.0/28", "InvalidIp.SystemReserved"),  # the first address
    ("10.0.0.16/28", "InvalidIp.IpAssigned"),  # another ENI's prefix
    ("10.0.0.32/28", "InvalidIp.IpAssigned"),  # holds another ENI's address
])
def test_explicit_ipv4_prefix_rules(cloud, net, prefix, code):
    new_eni(cloud, net, PrimaryIpAddress="10.0.0.40", **{"Ipv4Prefix.1": "10.0.0.16/28"})
    eni = new_eni(cloud, net)
    refused(cloud, code, "AssignPrivateIpAddresses", {"NetworkInterfaceId": eni, "Ipv4Prefix.1": prefix})
    refused(cloud, code, "CreateNetworkInterface", {"RegionId": HZ, "VSwitchId": net.vsw, "SecurityGroupId": net.sg,
                                                    "Ipv4Prefix.1": prefix})
    assign4(cloud, eni, **{"Ipv4Prefix.1": "10.0.0.48/28"})


def test_prefixes_and_addresses_of_one_call_do_not_overlap(cloud, net):
    eni = new_eni(cloud, net)
    refused(cloud, "InvalidPrivateIpAddress.Duplicated", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "Ipv4Prefix.1": "10.0.0.32/28", "Ipv4Prefix.2": "10.0.0.32/28"})
    refused(cloud, "InvalidPrivateIpAddress.Duplicated", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "PrivateIpAddress.1": "10.0.0.33", "Ipv4Prefix.1": "10.0.0.32/28"})
    got = assign4(cloud, eni, **{"Ipv4Prefix.1": "10.0.0.16/28", "SecondaryPrivateIpAddressCount": 1})
    assert got["AssignedPrivateIpAddressesSet"]["PrivateIpSet"]["PrivateIpAddress"] == ["10.0.0.2"]
    # explicit items are placed before automatic ones: the automatic primary skips the named .3
    eni2 = new_eni(cloud, net, **{"PrivateIpAddress.1": "10.0.0.3"}, SecondaryPrivateIpAddressCount=None)
    assert [s["PrivateIpAddress"] for s in eni_row(cloud, eni2)["PrivateIpSets"]["PrivateIpSet"]] == [
        "10.0.0.4", "10.0.0.3"]


# ---- IPv6 addresses and prefixes -------------------------------------------------------------------
def test_ipv6_addresses_and_prefixes(cloud, net):
    eni = new_eni(cloud, net, Ipv6AddressCount=2)
    assert [s["Ipv6Address"] for s in eni_row(cloud, eni)["Ipv6Sets"]["Ipv6Set"]] == ["2408:8000::1", "2408:8000::2"]
    got = assign6(cloud, eni, Ipv6PrefixCount=2)
    assert got["Ipv6PrefixSets"] == {"Ipv6Prefix": ["2408:8000:0:0:1::/80", "2408:8000:0:0:2::/80"]}
    assert got["Ipv6Sets"] == {"Ipv6Address": []} and got["NetworkInterfaceId"] == eni
    got = assign6(cloud, eni, **{"Ipv6Address.1": "2408:8000::abcd", "Ipv6Prefix.1": "2408:8000:0:0:fffe::/80"})
    assert got["Ipv6Sets"] == {"Ipv6Address": ["2408:8000::abcd"]}
    cloud.call("UnassignIpv6Addresses", {"NetworkInterfaceId": eni, "Ipv6Address.1": "2408:8000::1",
                                         "Ipv6Prefix.1": "2408:8000:0:0:1::/80"})
    assert v6_prefixes(cloud, eni) == ["2408:8000:0:0:2::/80", "2408:8000:0:0:fffe::/80"]
    refused(cloud, "InvalidIpv6Address.NotFound", "UnassignIpv6Addresses",
            {"NetworkInterfaceId": eni, "Ipv6Address.1": "2408:8000::1"}, 404)


@pytest.mark.parametrize("params,code", [
    ({"Ipv6Prefix.1": "2408:8000:0:0:3::/96"}, "InvalidParameter.Ipv6Prefix"),
    ({"Ipv6Prefix.1": "2408:8000:0:0:3::/64"}, "InvalidParameter.Ipv6Prefix"),
    ({"Ipv6Prefix.1": "2408:8000:0:0:3::1/80"}, "InvalidParameter.Ipv6Prefix"),
    ({"Ipv6Prefix.1": "2408:8000:0:1::/80"}, "InvalidIpPrefix.NotInVSwitch"),  # the next /64
    ({"Ipv6Prefix.1": "2408:8000::/80"}, "InvalidIp.SystemReserved"),
    ({"Ipv6Prefix.1": "2408:8000:0:0:ffff::/80"}, "InvalidIp.SystemReserved"),  # holds the last three
    ({"Ipv6Prefix.1": "2408:8000:0:0:1::/80"}, "InvalidIp.IpAssigned"),  # holds another ENI's address
    ({"Ipv6Address.1": "2408:8000:0:1::5"}, "InvalidIpv6Address.Mismatch"),
    ({"Ipv6Address.1": "2408:8000::"}, "InvalidIp.SystemReserved"),
    ({"Ipv6Address.1": "2408:8000::ffff:ffff:ffff:fffd"}, "InvalidIp.SystemReserved"),
    ({"Ipv6Address.1": "2408:8000:0:0:1::7"}, "InvalidIp.IpAssigned"),
    ({"Ipv6Address.1": "10.0.0.9"}, "InvalidIpv6Address.Malformed"),
])
def test_explicit_ipv6_rules(cloud, net, params, code):
    new_eni(cloud, net, **{"Ipv6Address.1": "2408:8000:0:0:1::7"})
    eni = new_eni(cloud, net)
    refused(cloud, code, "AssignIpv6Addresses", {"NetworkInterfaceId": eni, **params})
    assign6(cloud, eni, **{"Ipv6Prefix.1": "2408:8000:0:0:fffe::/80"})
    assert v6_prefixes(cloud, eni) == ["2408:8000:0:0:fffe::/80"]


def test_no_ipv6_on_a_vswitch_without_a_64(cloud):
    net = make_net(cloud, ipv6=None)
    eni = new_eni(cloud, net)
    for params in ({"Ipv6AddressCount": 1}, {"Ipv6PrefixCount": 1}, {"Ipv6Address.1": "2408:8000::5"}):
        refused(cloud, "InvalidVSwitchId.Ipv6NotTurnOn", "AssignIpv6Addresses", {"NetworkInterfaceId": eni, **params})
        refused(cloud, "InvalidVSwitchId.Ipv6NotTurnOn", "CreateNetworkInterface",
                {"RegionId": HZ, "VSwitchId": net.vsw, "SecurityGroupId": net.sg, **params})


def test_a_64_is_never_enumerated(cloud, net):
    """The /80 search jumps over taken runs: filling the low half's prefixes stays fast."""
    res = reserve(cloud, net, IpVersion="IPv6", VSwitchCidrReservationCidr="2408:8000:0:0:4000::/66")
    start = time.perf_counter()
    enis = [new_eni(cloud, net, Ipv6PrefixCount=10) for _ in range(5)]
    assert time.perf_counter() - start < 5
    assert v6_prefixes(cloud, enis[0])[0] == "2408:8000:0:0:4000::/80"
    rows = cloud.call("ListVSwitchCidrReservations", {"VSwitchId": net.vsw})["VSwitchCidrReservations"]
    assert [(r["VSwitchCidrReservationId"], r["MaxCidrCount"], r["AssignedCidrCount"]) for r in rows] == [
        (res, 2 ** 14, 50)]
    assert rows[0]["AvailableCidrCount"] == 2 ** 14 - 50
    refused(cloud, "InvalidCidrBlock.InUse", "CreateVSwitchCidrReservation",  # holds the reserved tail
            {"VSwitchId": net.vsw, "IpVersion": "IPv6", "VSwitchCidrReservationCidr": "2408:8000:0:0:8000::/65"})


# ---- regions -----------------------------------------------------------------------------------
def test_prefixes_only_in_the_listed_regions(cloud):
    net = make_net(cloud, region="cn-zhangjiakou")
    eni = new_eni(cloud, net, SecondaryPrivateIpAddressCount=1, Ipv6AddressCount=1)  # addresses are fine
    for action, params in (("AssignPrivateIpAddresses", {"Ipv4PrefixCount": 1}),
                           ("AssignPrivateIpAddresses", {"Ipv4Prefix.1": "10.0.0.16/28"}),
                           ("AssignIpv6Addresses", {"Ipv6PrefixCount": 1}),
                           ("AssignIpv6Addresses", {"Ipv6Prefix.1": "2408:8000:0:0:1::/80"})):
        refused(cloud, "OperationDenied.IpPrefixNotSupportedInRegion", action, {"NetworkInterfaceId": eni, **params})
        refused(cloud, "OperationDenied.IpPrefixNotSupportedInRegion", "CreateNetworkInterface",
                {"RegionId": "cn-zhangjiakou", "VSwitchId": net.vsw, "SecurityGroupId": net.sg, **params})
    singapore = make_net(cloud, region="ap-southeast-1")
    new_eni(cloud, singapore, Ipv4PrefixCount=1, Ipv6PrefixCount=1)


# ---- vSwitch prefix reservations ---------------------------------------------------------------
def test_reservations_confine_prefixes_and_repel_automatic_addresses(cloud, net):
    res = reserve(cloud, net, VSwitchCidrReservationCidr="10.0.0.64/26", VSwitchCidrReservationName="pods")
    assert res.startswith("vcr-")
    eni = new_eni(cloud, net, Ipv4PrefixCount=2)
    assert v4_prefixes(cloud, eni) == ["10.0.0.64/28", "10.0.0.80/28"]
    refused(cloud, "InvalidIpPrefix.NotInCidrReservation", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "Ipv4Prefix.1": "10.0.0.16/28"})
    assign4(cloud, eni, **{"Ipv4Prefix.1": "10.0.0.112/28"})
    assign4(cloud, eni, Ipv4PrefixCount=1)  # 10.0.0.96/28: the reservation is full
    refused(cloud, "InvalidVSwitchId.IpNotEnough", "AssignPrivateIpAddresses", {"NetworkInterfaceId": eni, "Ipv4PrefixCount": 1})
    # IPv6 prefixes are free of IPv4 reservations
    assert assign6(cloud, eni, Ipv6PrefixCount=1)["Ipv6PrefixSets"]["Ipv6Prefix"] == ["2408:8000:0:0:1::/80"]


def test_automatic_addresses_never_land_in_a_reservation(cloud, net):
    reserve(cloud, net, VSwitchCidrReservationCidr="10.0.0.16/28")
    first = new_eni(cloud, net, SecondaryPrivateIpAddressCount=9)
    second = new_eni(cloud, net, SecondaryPrivateIpAddressCount=9)
    addrs = lambda e: [s["PrivateIpAddress"] for s in eni_row(cloud, e)["PrivateIpSets"]["PrivateIpSet"]]
    assert addrs(first) == [f"10.0.0.{i}" for i in range(1, 11)]
    assert addrs(second) == [f"10.0.0.{i}" for i in (11, 12, 13, 14, 15, 32, 33, 34, 35, 36)]
    assign4(cloud, second, Ipv4PrefixCount=1)
    assert v4_prefixes(cloud, second) == ["10.0.0.16/28"]


def test_ipv6_reservations(cloud, net):
    reserve(cloud, net, IpVersion="IPv6", VSwitchCidrReservationCidr="2408:8000:0:0:10::/76")
    eni = new_eni(cloud, net, Ipv6PrefixCount=1, Ipv6AddressCount=1)
    assert v6_prefixes(cloud, eni) == ["2408:8000:0:0:10::/80"]
    refused(cloud, "InvalidIpPrefix.NotInCidrReservation", "AssignIpv6Addresses",
            {"NetworkInterfaceId": eni, "Ipv6Prefix.1": "2408:8000:0:0:1::/80"})
    got = reserve(cloud, net, IpVersion="ipv6", VSwitchCidrReservationMask=80)
    rows = cloud.call("ListVSwitchCidrReservations", {"VSwitchId": net.vsw, "IpVersion": "IPv6"})
    cidrs = {r["VSwitchCidrReservationId"]: r["VSwitchCidrReservationCidr"] for r in rows["VSwitchCidrReservations"]}
    assert cidrs[got] == "2408:8000:0:0:1::/80"  # the lowest free /80 (the first holds ::0 and ::1)


@pytest.mark.parametrize("params,code", [
    ({"VSwitchCidrReservationCidr": "10.0.1.0/26"}, "InvalidCidrBlock.NotInVSwitch"),
    ({"VSwitchCidrReservationCidr": "10.0.0.64/29"}, "InvalidCidrBlock.Malformed"),  # cannot hold a /28
    ({"VSwitchCidrReservationCidr": "10.0.0.0/23"}, "InvalidCidrBlock.Malformed"),  # wider than the vSwitch
    ({"VSwitchCidrReservationCidr": "10.0.0.65/26"}, "InvalidCidrBlock.Malformed"),  # host bits
    ({"VSwitchCidrReservationCidr": "10.0.0.96/27"}, "InvalidCidrBlock.Overlapped"),
    ({"VSwitchCidrReservationCidr": "10.0.0.0/27"}, "InvalidCidrBlock.InUse"),  # system-reserved .0
    ({"VSwitchCidrReservationCidr": "10.0.0.128/26"}, "InvalidCidrBlock.InUse"),  # an ENI's address
    ({"VSwitchCidrReservationCidr": "10.0.0.192/28", "VSwitchCidrReservationType": "Explicit"},
     "InvalidParameter.VSwitchCidrReservationType"),
    ({"VSwitchCidrReservationCidr": "10.0.0.192/28", "IpVersion": "IPv5"}, "InvalidParameter.IpVersion"),
    ({}, "MissingParameter.VSwitchCidrReservationCidr"),
    ({"VSwitchCidrReservationMask": 29}, "InvalidCidrBlock.Malformed"),
])
def test_reservation_rules(cloud, net, params, code):
    reserve(cloud, net, VSwitchCidrReservationCidr="10.0.0.64/26")
    new_eni(cloud, net, PrimaryIpAddress="10.0.0.130", **{"Ipv4Prefix.1": "10.0.0.64/28"})
    refused(cloud, code, "CreateVSwitchCidrReservation", {"VSwitchId": net.vsw, **params})


def test_a_reservation_may_cover_prefixes_and_is_chosen_by_mask(cloud, net):
    eni = new_eni(cloud, net, **{"Ipv4Prefix.1": "10.0.0.32/28"})
    reserve(cloud, net, VSwitchCidrReservationCidr="10.0.0.32/27")
    got = reserve(cloud, net, VSwitchCidrReservationMask=27)
    rows = cloud.call("ListVSwitchCidrReservations", {"VSwitchId": net.vsw})["VSwitchCidrReservations"]
    assert [(r["VSwitchCidrReservationCidr"], r["AssignedCidrCount"], r["AvailableCidrCount"]) for r in rows] == [
        ("10.0.0.32/27", 1, 1), ("10.0.0.64/27", 0, 2)]
    assert rows[1]["VSwitchCidrReservationId"] == got and rows[0]["VpcId"] == net.vpc
    assert rows[0]["VSwitchCidrReservationType"] == "Prefix" and rows[0]["IpVersion"] == "IPv4"
    assert v4_prefixes(cloud, eni) == ["10.0.0.32/28"]
    assert cloud.call("ListVSwitchCidrReservations", {"VSwitchId": net.vsw, "MaxResults": 1})["NextToken"] == "1"


def test_reservation_deletion_order(cloud, net):
    res = reserve(cloud, net, VSwitchCidrReservationCidr="10.0.0.64/26")
    eni = new_eni(cloud, net, Ipv4PrefixCount=1)
    refused(cloud, "DependencyViolation.IpPrefix", "DeleteVSwitchCidrReservation", {"VSwitchCidrReservationId": res})
    cloud.call("DeleteNetworkInterface", {"NetworkInterfaceId": eni})
    refused(cloud, "DependencyViolation.VSwitchCidrReservation", "DeleteVSwitch", {"VSwitchId": net.vsw})
    cloud.call("DeleteVSwitchCidrReservation", {"VSwitchCidrReservationId": res})
    refused(cloud, "ResourceNotFound.VSwitchCidrReservation", "DeleteVSwitchCidrReservation",
            {"VSwitchCidrReservationId": res}, 404)
    # without reservations, prefixes go anywhere in the vSwitch again
    assert v4_prefixes(cloud, new_eni(cloud, net, Ipv4PrefixCount=1)) == ["10.0.0.16/28"]
    cloud.call("DeleteNetworkInterface", {"NetworkInterfaceId": cloud.call("DescribeNetworkInterfaces", {})[
        "NetworkInterfaceSets"]["NetworkInterfaceSet"][0]["NetworkInterfaceId"]})
    cloud.call("DeleteVSwitch", {"VSwitchId": net.vsw})
