"""The sandbox's ENIs and their private addresses: creation, the Available and InUse limits, at
most 10 items a call, explicit versus automatic addresses, unassigning, listing, the vSwitch's free
count, DryRun, ClientToken and persistence. Each rule has a test that fails without it."""

from __future__ import annotations

import pytest

from reconciler.cloud.sandbox import SandboxCloud
from tests.support.sandbox import HZ, ZONE, create_eni, eni_row, make_net, new_eni, new_instance, refused


def ipv4(r) -> list[str]:
    return [s["PrivateIpAddress"] for s in r["PrivateIpSets"]["PrivateIpSet"]]


def prefixes(r) -> list[str]:
    return [s["Ipv4Prefix"] for s in r["Ipv4PrefixSets"]["Ipv4PrefixSet"]]


def available(cloud, vsw) -> int:
    return cloud.call("DescribeVSwitches", {"VSwitchId": vsw})["VSwitches"]["VSwitch"][0]["AvailableIpAddressCount"]


# ---- creation ----------------------------------------------------------------------------------
def test_create_answers_the_row_and_describe_agrees(cloud, net):
    got = create_eni(cloud, net, NetworkInterfaceName="a", Description="d", PrimaryIpAddress="10.0.0.9",
                     **{"PrivateIpAddress.1": "10.0.0.10", "Tag.1.Key": "env", "Tag.1.Value": "dev"})
    eni = got["NetworkInterfaceId"]
    listed = eni_row(cloud, eni)
    got.pop("RequestId")
    assert got == listed
    assert (listed["Status"], listed["Type"], listed["ServiceManaged"], listed["InstanceId"]) == ("Available", "Secondary", False, "")
    assert (listed["VSwitchId"], listed["VpcId"], listed["ZoneId"]) == (net.vsw, net.vpc, ZONE)
    assert listed["PrivateIpAddress"] == "10.0.0.9"
    assert listed["PrivateIpSets"]["PrivateIpSet"] == [{"PrivateIpAddress": "10.0.0.9", "Primary": True},
                                                       {"PrivateIpAddress": "10.0.0.10", "Primary": False}]
    assert listed["SecurityGroupIds"] == {"SecurityGroupId": [net.sg]}
    assert listed["Tags"] == {"Tag": [{"TagKey": "env", "TagValue": "dev"}]}
    for key in ("Ipv4PrefixSets", "Ipv6Sets", "Ipv6PrefixSets"):
        assert key in listed
    refused(cloud, "MissingParameter.SecurityGroupId", "CreateNetworkInterface", {"RegionId": HZ, "VSwitchId": net.vsw})
    refused(cloud, "MissingParameter.RegionId", "CreateNetworkInterface", {"VSwitchId": net.vsw, "SecurityGroupId": net.sg})
    refused(cloud, "InvalidVSwitchId.NotFound", "CreateNetworkInterface",
            {"RegionId": "cn-shanghai", "VSwitchId": net.vsw, "SecurityGroupId": net.sg}, 404)


def test_describe_filters_and_pages(cloud, net):
    iid, primary = new_instance(cloud, net)
    enis = [new_eni(cloud, net) for _ in range(4)]
    cloud.call("AttachNetworkInterface", {"NetworkInterfaceId": enis[0], "InstanceId": iid})
    ids = lambda body: [r["NetworkInterfaceId"] for r in body["NetworkInterfaceSets"]["NetworkInterfaceSet"]]
    assert ids(cloud.call("DescribeNetworkInterfaces", {"InstanceId": iid})) == [primary, enis[0]]
    assert ids(cloud.call("DescribeNetworkInterfaces", {"VSwitchId": net.vsw, "Type": "Secondary",
                                                        "Status": "Available"})) == enis[1:]
    page = cloud.call("DescribeNetworkInterfaces", {"VpcId": net.vpc, "PageSize": 2, "PageNumber": 3})
    assert page["TotalCount"] == 5 and ids(page) == [enis[3]] and page["PageSize"] == 2
    both = cloud.call("DescribeNetworkInterfaces", {"NetworkInterfaceId.1": enis[2], "NetworkInterfaceId.2": enis[1]})
    assert ids(both) == [enis[1], enis[2]]
    assert cloud.call("DescribeNetworkInterfaces", {"RegionId": "cn-shanghai"})["TotalCount"] == 0
    refused(cloud, "InvalidParameter.PageSize", "DescribeNetworkInterfaces", {"PageSize": 101})


def test_modify_eni_attributes(cloud, net):
    eni = new_eni(cloud, net)
    cloud.call("ModifyNetworkInterfaceAttribute", {"NetworkInterfaceId": eni, "NetworkInterfaceName": "n",
                                                   "Description": "x"})
    r = eni_row(cloud, eni)
    assert (r["NetworkInterfaceName"], r["Description"]) == ("n", "x")
    refused(cloud, "InvalidEniId.NotFound", "ModifyNetworkInterfaceAttribute", {"NetworkInterfaceId": "eni-x"}, 404)


# ---- limits of an Available ENI ----------------------------------------------------------------
def test_available_eni_takes_ten_ipv4_addresses(cloud, net):
    refused(cloud, "InvalidOperation.Ipv4CountExceeded", "CreateNetworkInterface",
            {"RegionId": HZ, "VSwitchId": net.vsw, "SecurityGroupId": net.sg, "SecondaryPrivateIpAddressCount": 10})
    eni = new_eni(cloud, net, SecondaryPrivateIpAddressCount=9)
    assert len(ipv4(eni_row(cloud, eni))) == 10
    refused(cloud, "InvalidOperation.Ipv4CountExceeded", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "SecondaryPrivateIpAddressCount": 1})
    other = new_eni(cloud, net, SecondaryPrivateIpAddressCount=5)
    refused(cloud, "InvalidOperation.Ipv4CountExceeded", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": other, **{f"PrivateIpAddress.{i}": f"10.0.0.{200 + i}" for i in range(1, 6)}})
    cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": other, "SecondaryPrivateIpAddressCount": 4})


def test_available_eni_takes_49_ipv4_prefixes(cloud):
    net = make_net(cloud, "10.0.0.0/20")
    eni = new_eni(cloud, net, Ipv4PrefixCount=9)
    for _ in range(4):
        cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": eni, "Ipv4PrefixCount": 10})
    assert len(prefixes(eni_row(cloud, eni))) == 49
    refused(cloud, "InvalidOperation.Ipv4CountExceeded", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "Ipv4PrefixCount": 1})
    # 1 + 49 = 50 entries: no room for a secondary address beside them (each prefix counts as one IP)
    refused(cloud, "InvalidOperation.Ipv4CountExceeded", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "SecondaryPrivateIpAddressCount": 1})


def test_available_eni_takes_ten_ipv6_entries(cloud, net):
    eni = new_eni(cloud, net, Ipv6AddressCount=6, Ipv6PrefixCount=4)
    refused(cloud, "InvalidOperation.Ipv6CountExceeded", "AssignIpv6Addresses", {"NetworkInterfaceId": eni, "Ipv6AddressCount": 1})
    refused(cloud, "InvalidOperation.Ipv6CountExceeded", "AssignIpv6Addresses", {"NetworkInterfaceId": eni, "Ipv6PrefixCount": 1})
    refused(cloud, "InvalidOperation.Ipv6CountExceeded", "CreateNetworkInterface",
            {"RegionId": HZ, "VSwitchId": net.vsw, "SecurityGroupId": net.sg, "Ipv6AddressCount": 10, "Ipv6PrefixCount": 1})


# ---- limits of an InUse ENI: the instance type's, prefixes counting one each ----------------------
def test_g7_large_ipv4_prefix_arithmetic(cloud, net):
    iid, primary = new_instance(cloud, net)  # ecs.g7.large: 6 IPv4 per ENI, the primary included
    cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": primary, "Ipv4PrefixCount": 5})
    refused(cloud, "InvalidOperation.Ipv4CountExceeded", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": primary, "Ipv4PrefixCount": 1})
    refused(cloud, "InvalidOperation.Ipv4CountExceeded", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": primary, "SecondaryPrivateIpAddressCount": 1})
    eni = new_eni(cloud, net, SecondaryPrivateIpAddressCount=1)
    cloud.call("AttachNetworkInterface", {"NetworkInterfaceId": eni, "InstanceId": iid})
    refused(cloud, "InvalidOperation.Ipv4CountExceeded", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "Ipv4PrefixCount": 5})
    cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": eni, "Ipv4PrefixCount": 4})  # one secondary: 4
    assert len(prefixes(eni_row(cloud, eni))) == 4
    two = new_eni(cloud, net, SecondaryPrivateIpAddressCount=2, Ipv4PrefixCount=3)
    cloud.call("AttachNetworkInterface", {"NetworkInterfaceId": two, "InstanceId": iid})  # 1 + 2 + 3 = 6
    refused(cloud, "InvalidOperation.Ipv4CountExceeded", "AssignPrivateIpAddresses", {"NetworkInterfaceId": two,
                                                                                     "Ipv4PrefixCount": 1})


def test_g7_large_ipv6_prefix_arithmetic(cloud, net):
    iid, primary = new_instance(cloud, net)  # 6 IPv6 per ENI
    cloud.call("AssignIpv6Addresses", {"NetworkInterfaceId": primary, "Ipv6PrefixCount": 6})
    refused(cloud, "InvalidOperation.Ipv6CountExceeded", "AssignIpv6Addresses", {"NetworkInterfaceId": primary,
                                                                                "Ipv6AddressCount": 1})
    eni = new_eni(cloud, net, Ipv6AddressCount=1)
    cloud.call("AttachNetworkInterface", {"NetworkInterfaceId": eni, "InstanceId": iid})
    refused(cloud, "InvalidOperation.Ipv6CountExceeded", "AssignIpv6Addresses", {"NetworkInterfaceId": eni,
                                                                                "Ipv6PrefixCount": 6})
    cloud.call("AssignIpv6Addresses", {"NetworkInterfaceId": eni, "Ipv6PrefixCount": 5})


def test_primary_eni_changes_only_while_running_or_stopped(cloud, net):
    iid, primary = new_instance(cloud, net, InstanceStatus="Pending")
    for action, params in (("AssignPrivateIpAddresses", {"SecondaryPrivateIpAddressCount": 1}),
                           ("AssignIpv6Addresses", {"Ipv6AddressCount": 1}),
                           ("UnassignPrivateIpAddresses", {"PrivateIpAddress.1": "10.0.0.9"})):
        refused(cloud, "IncorrectInstanceStatus", action, {"NetworkInterfaceId": primary, **params})
    secondary = new_eni(cloud, net)  # a secondary ENI does not care
    cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": secondary, "SecondaryPrivateIpAddressCount": 1})
    cloud.call("StartInstance", {"InstanceId": iid})
    cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": primary, "SecondaryPrivateIpAddressCount": 1})
    cloud.call("StopInstance", {"InstanceId": iid})
    cloud.call("AssignIpv6Addresses", {"NetworkInterfaceId": primary, "Ipv6AddressCount": 1})


# ---- one call ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["PrivateIpAddress", "Ipv4Prefix", "Ipv6Address", "Ipv6Prefix"])
def test_at_most_ten_items_a_call(cloud, net, name):
    eni = new_eni(cloud, net)
    action = "AssignPrivateIpAddresses" if name in ("PrivateIpAddress", "Ipv4Prefix") else "AssignIpv6Addresses"
    params = {f"{name}.{i}": "x" for i in range(1, 12)}
    refused(cloud, f"InvalidParameter.{name}", action, {"NetworkInterfaceId": eni, **params})
    refused(cloud, f"InvalidParameter.{name}", "CreateNetworkInterface",
            {"RegionId": HZ, "VSwitchId": net.vsw, "SecurityGroupId": net.sg, **params})


@pytest.mark.parametrize("name", ["SecondaryPrivateIpAddressCount", "Ipv4PrefixCount", "Ipv6AddressCount",
                                  "Ipv6PrefixCount"])
@pytest.mark.parametrize("value", [0, 11, "-1", "two"])
def test_counts_are_one_to_ten(cloud, net, name, value):
    eni = new_eni(cloud, net)
    action = "AssignIpv6Addresses" if "Ipv6" in name else "AssignPrivateIpAddresses"
    refused(cloud, f"InvalidParameter.{name}", action, {"NetworkInterfaceId": eni, name: value})


@pytest.mark.parametrize("items,number,sample", [
    ("PrivateIpAddress", "SecondaryPrivateIpAddressCount", "10.0.0.50"),
    ("Ipv4Prefix", "Ipv4PrefixCount", "10.0.0.64/28"),
    ("Ipv6Address", "Ipv6AddressCount", "2408:8000::50"),
    ("Ipv6Prefix", "Ipv6PrefixCount", "2408:8000:0:0:5::/80"),
])
def test_explicit_and_count_are_exclusive(cloud, net, items, number, sample):
    eni = new_eni(cloud, net)
    action = "AssignIpv6Addresses" if "Ipv6" in items else "AssignPrivateIpAddresses"
    params = {f"{items}.1": sample, number: 1}
    refused(cloud, "InvalidParameter.Conflict", action, {"NetworkInterfaceId": eni, **params})
    refused(cloud, "InvalidParameter.Conflict", "CreateNetworkInterface",
            {"RegionId": HZ, "VSwitchId": net.vsw, "SecurityGroupId": net.sg, **params})
    cloud.call(action, {"NetworkInterfaceId": eni, f"{items}.1": sample})


def test_an_assign_needs_something_to_assign(cloud, net):
    eni = new_eni(cloud, net)
    refused(cloud, "MissingParameter.PrivateIpAddress", "AssignPrivateIpAddresses", {"NetworkInterfaceId": eni})
    refused(cloud, "MissingParameter.Ipv6Address", "AssignIpv6Addresses", {"NetworkInterfaceId": eni})
    refused(cloud, "MissingParameter.PrivateIpAddress", "UnassignPrivateIpAddresses", {"NetworkInterfaceId": eni})
    refused(cloud, "MissingParameter.Ipv6Address", "UnassignIpv6Addresses", {"NetworkInterfaceId": eni})


# ---- addresses ----------------------------------------------------------------------------------
def test_automatic_addresses_are_the_lowest_free_never_the_reserved_ones(cloud):
    net = make_net(cloud, "10.0.0.0/29")  # .0 and .5-.7 are the system's: .1-.4 are free
    assert available(cloud, net.vsw) == 4
    eni = new_eni(cloud, net, SecondaryPrivateIpAddressCount=2)
    assert ipv4(eni_row(cloud, eni)) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    cloud.call("UnassignPrivateIpAddresses", {"NetworkInterfaceId": eni, "PrivateIpAddress.1": "10.0.0.2"})
    assert cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": eni, "SecondaryPrivateIpAddressCount": 2})[
        "AssignedPrivateIpAddressesSet"]["PrivateIpSet"]["PrivateIpAddress"] == ["10.0.0.2", "10.0.0.4"]
    assert available(cloud, net.vsw) == 0
    refused(cloud, "InvalidVSwitchId.IpNotEnough", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "SecondaryPrivateIpAddressCount": 1})
    refused(cloud, "InvalidVSwitchId.IpNotEnough", "CreateNetworkInterface",
            {"RegionId": HZ, "VSwitchId": net.vsw, "SecurityGroupId": net.sg})


def test_automatic_addresses_skip_prefixes(cloud, net):
    first = new_eni(cloud, net, PrimaryIpAddress="10.0.0.1", **{"Ipv4Prefix.1": "10.0.0.16/28"})
    cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": first, "SecondaryPrivateIpAddressCount": 9})
    assert ipv4(eni_row(cloud, first)) == [f"10.0.0.{i}" for i in range(1, 11)]
    second = new_eni(cloud, net, SecondaryPrivateIpAddressCount=8)
    assert ipv4(eni_row(cloud, second)) == [f"10.0.0.{i}" for i in (11, 12, 13, 14, 15, 32, 33, 34, 35)]


@pytest.mark.parametrize("address,code,status", [
    ("10.0.1.5", "InvalidPrivateIpAddress.Mismatch", 400),
    ("10.0.0.0", "InvalidIp.SystemReserved", 400),
    ("10.0.0.253", "InvalidIp.SystemReserved", 400),
    ("10.0.0.255", "InvalidIp.SystemReserved", 400),
    ("10.0.0.20", "InvalidIp.IpAssigned", 400),  # inside a prefix
    ("10.0.0.7", "InvalidIp.IpAssigned", 400),  # another ENI's
    ("10.0.0.300", "InvalidPrivateIpAddress.Malformed", 400),
    ("2408:8000::5", "InvalidPrivateIpAddress.Malformed", 400),
])
def test_explicit_address_rules(cloud, net, address, code, status):
    new_eni(cloud, net, PrimaryIpAddress="10.0.0.7", **{"Ipv4Prefix.1": "10.0.0.16/28"})
    eni = new_eni(cloud, net)
    refused(cloud, code, "AssignPrivateIpAddresses", {"NetworkInterfaceId": eni, "PrivateIpAddress.1": address}, status)
    refused(cloud, code, "CreateNetworkInterface",
            {"RegionId": HZ, "VSwitchId": net.vsw, "SecurityGroupId": net.sg, "PrimaryIpAddress": address}, status)
    cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": eni, "PrivateIpAddress.1": "10.0.0.252"})


def test_an_address_given_twice_in_one_call(cloud, net):
    eni = new_eni(cloud, net)
    refused(cloud, "InvalidPrivateIpAddress.Duplicated", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "PrivateIpAddress.1": "10.0.0.40", "PrivateIpAddress.2": "10.0.0.40"})
    refused(cloud, "InvalidPrivateIpAddress.Duplicated", "CreateNetworkInterface",
            {"RegionId": HZ, "VSwitchId": net.vsw, "SecurityGroupId": net.sg, "PrimaryIpAddress": "10.0.0.40",
             "PrivateIpAddress.1": "10.0.0.40"})
    assert len(ipv4(eni_row(cloud, eni))) == 1  # nothing of the failed call stayed


def test_unassign(cloud, net):
    eni = new_eni(cloud, net, SecondaryPrivateIpAddressCount=2, Ipv4PrefixCount=1)
    r = eni_row(cloud, eni)
    primary, a, b = ipv4(r)
    refused(cloud, "OperationDenied.PrimaryIpAddress", "UnassignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "PrivateIpAddress.1": primary})
    refused(cloud, "InvalidPrivateIpAddress.NotFound", "UnassignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "PrivateIpAddress.1": "10.0.0.99"}, 404)
    refused(cloud, "InvalidIpPrefix.NotFound", "UnassignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "Ipv4Prefix.1": "10.0.0.128/28"}, 404)
    refused(cloud, "InvalidParameter.Ipv4Prefix", "UnassignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "Ipv4Prefix.1": "10.0.0.128/27"})
    cloud.call("UnassignPrivateIpAddresses", {"NetworkInterfaceId": eni, "PrivateIpAddress.1": a,
                                              "Ipv4Prefix.1": prefixes(r)[0]})
    r2 = eni_row(cloud, eni)
    assert ipv4(r2) == [primary, b] and prefixes(r2) == []
    other = new_eni(cloud, net, **{"PrivateIpAddress.1": a, "Ipv4Prefix.1": prefixes(r)[0]})  # free again
    assert a in ipv4(eni_row(cloud, other))


# ---- the vSwitch's free count --------------------------------------------------------------------
def test_available_ip_count_drops_by_addresses_and_16_per_prefix(cloud, net):
    assert available(cloud, net.vsw) == 252
    eni = new_eni(cloud, net, SecondaryPrivateIpAddressCount=2, Ipv4PrefixCount=2, Ipv6AddressCount=3)
    assert available(cloud, net.vsw) == 252 - 3 - 32
    new_instance(cloud, net)
    assert available(cloud, net.vsw) == 252 - 4 - 32
    cloud.call("DeleteNetworkInterface", {"NetworkInterfaceId": eni})
    assert available(cloud, net.vsw) == 251


# ---- call semantics ------------------------------------------------------------------------------
def test_dry_run_and_client_token(cloud, net):
    base = {"RegionId": HZ, "VSwitchId": net.vsw, "SecurityGroupId": net.sg, "Ipv4PrefixCount": 1}
    refused(cloud, "DryRunOperation", "CreateNetworkInterface", {**base, "DryRun": True})
    assert cloud.call("DescribeNetworkInterfaces", {})["TotalCount"] == 0
    first = cloud.call("CreateNetworkInterface", {**base, "ClientToken": "t-1"})
    again = cloud.call("CreateNetworkInterface", {**base, "ClientToken": "t-1"})
    assert again["NetworkInterfaceId"] == first["NetworkInterfaceId"]
    assert cloud.call("DescribeNetworkInterfaces", {})["TotalCount"] == 1
    eni = first["NetworkInterfaceId"]
    refused(cloud, "DryRunOperation", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "Ipv4PrefixCount": 1, "DryRun": "true"})
    assert len(prefixes(eni_row(cloud, eni))) == 1


def test_a_failed_call_changes_nothing(cloud):
    net = make_net(cloud, "10.0.0.0/28")  # 12 usable addresses, no free /28
    eni = new_eni(cloud, net, SecondaryPrivateIpAddressCount=8)
    refused(cloud, "InvalidVSwitchId.IpNotEnough", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "PrivateIpAddress.1": "10.0.0.12", "Ipv4PrefixCount": 1})
    assert len(ipv4(eni_row(cloud, eni))) == 9 and available(cloud, net.vsw) == 3
    cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": eni, "PrivateIpAddress.1": "10.0.0.12"})


def test_reopen_keeps_enis_and_their_address_space(tmp_path):
    path = tmp_path / "c.db"
    with SandboxCloud(path) as cloud:
        net = make_net(cloud)
        iid, primary = new_instance(cloud, net)
        eni = new_eni(cloud, net, SecondaryPrivateIpAddressCount=2, Ipv4PrefixCount=1, Ipv6PrefixCount=1)
        before = eni_row(cloud, eni)
    with SandboxCloud(path) as cloud:
        assert eni_row(cloud, eni) == before
        nxt = new_eni(cloud, net)
        assert eni_row(cloud, nxt)["PrivateIpAddress"] == "10.0.0.5"
        refused(cloud, "DependencyViolation.NetworkInterface", "DeleteSecurityGroup", {"SecurityGroupId": net.sg})
        refused(cloud, "InvalidIp.IpAssigned", "AssignPrivateIpAddresses",
                {"NetworkInterfaceId": nxt, "Ipv4Prefix.1": before["Ipv4PrefixSets"]["Ipv4PrefixSet"][0]["Ipv4Prefix"]})


def _structures(store) -> tuple:
    """The store's in-memory indexes and address ranges, order-free."""
    index = {k: {key: sorted(bucket) for key, bucket in v.items()} for k, v in store._index.items()}
    spaces = {k: sorted(v) for k, v in store._spaces.items() if len(v)}
    runs = {k: (list(v._run_starts), list(v._run_ends)) for k, v in store._spaces.items() if len(v)}
    return index, spaces, runs


def test_changed_resources_keep_indexes_and_ranges_as_a_reload_builds_them(tmp_path):
    """A put of a changed resource updates only what differs (Store._relink); the result must equal
    what loading the database builds from scratch."""
    path = tmp_path / "relink.db"
    with SandboxCloud(path) as cloud:
        net = make_net(cloud, ipv6=0)
        enis = [new_eni(cloud, net, SecondaryPrivateIpAddressCount=2) for _ in range(3)]
        iid, _ = new_instance(cloud, net)
        cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": enis[0], "SecondaryPrivateIpAddressCount": 3})
        cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": enis[1], "Ipv4PrefixCount": 1})
        gone = ipv4(eni_row(cloud, enis[0]))[1:3]
        cloud.call("UnassignPrivateIpAddresses", {"NetworkInterfaceId": enis[0],
                                                  **{f"PrivateIpAddress.{i}": ip for i, ip in enumerate(gone, 1)}})
        cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": enis[2], "PrivateIpAddress.1": gone[0]})
        cloud.call("AssignIpv6Addresses", {"NetworkInterfaceId": enis[2], "Ipv6AddressCount": 2})
        cloud.call("AttachNetworkInterface", {"NetworkInterfaceId": enis[1], "InstanceId": iid})
        cloud.call("ModifyNetworkInterfaceAttribute", {"NetworkInterfaceId": enis[2], "NetworkInterfaceName": "n"})
        live = _structures(cloud.store)
        assert any(len(bucket) > 1 for v in live[0].values() for bucket in v.values())
        assert sum(len(v) for v in live[1].values()) > 10
    with SandboxCloud(path) as cloud:
        assert _structures(cloud.store) == live
