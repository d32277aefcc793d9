"""The sandbox's ECS control plane: the shared limits and instance-type table, security groups,
instances, attaching ENIs, deletion order and the managed-ENI rule, through SandboxCloud.call with
wire-form parameters on a real SQLite file. Each rule has a test that fails without it."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from reconciler.cloud.sandbox import SandboxCloud
from reconciler.net import eni_limits as L
from tests.support.sandbox import HZ, ZONE, Net, eni_row, new_eni, new_instance, refused

FAMILIES = ("g7", "c7", "r7", "g8i", "c8i", "r8i", "g6", "c6")
SIZES = ("large", "xlarge", "2xlarge", "3xlarge", "4xlarge", "6xlarge", "8xlarge")


def instance_row(cloud, iid) -> dict:
    return cloud.call("DescribeInstances", {"InstanceIds": json.dumps([iid])})["Instances"]["Instance"][0]


# ---- the shared limits and the instance-type table ------------------------------------------
def test_fixed_limits():
    assert (L.IPV4_PREFIX_LEN, L.IPV6_PREFIX_LEN) == (28, 80)
    assert (L.AVAILABLE_ENI_MAX_PRIVATE_IPV4, L.AVAILABLE_ENI_MAX_IPV4_PREFIXES, L.AVAILABLE_ENI_MAX_IPV6) == (10, 49, 10)
    assert L.MAX_ITEMS_PER_CALL == 10 and L.COUNT_RANGE == (1, 10)
    assert L.SECURITY_GROUP_PRIVATE_IP_QUOTA == {"normal": 6000, "enterprise": 65536}
    assert L.reserved_ranges(4, 0x0A000000, 24) == [(0x0A000000, 0x0A000000), (0x0A0000FD, 0x0A0000FF)]
    assert len(L.IP_PREFIX_REGIONS) == 24
    assert {"ap-southeast-1", "us-west-1", "me-central-1", "cn-wulanchabu", "cn-huhehaote"} <= L.IP_PREFIX_REGIONS
    assert "cn-zhangjiakou" not in L.IP_PREFIX_REGIONS
    assert "ModifyIpv6InternetBandwidth" not in L.MANAGED_ENI_GUARDED_ACTIONS
    assert len(L.MANAGED_ENI_GUARDED_ACTIONS) == 13


def test_instance_type_table_covers_the_families_and_names_its_source():
    doc = json.loads(L.DATA_FILE.read_text())
    assert "Instance" in doc["source"] and re.search(r"\d{4}-\d{2}-\d{2}", doc["source"])
    table = L.load_instance_types()
    for family in FAMILIES:
        for size in SIZES:
            t = table[f"ecs.{family}.{size}"]
            assert t.eni_quantity >= 2 and t.ipv4_per_eni >= 6 and t.ipv6_per_eni >= 1
            assert doc["instance_types"][t.name]["notes"]
    g7 = table["ecs.g7.large"]
    assert (g7.eni_quantity, g7.ipv4_per_eni, g7.ipv6_per_eni, g7.family) == (3, 6, 6, "ecs.g7")


def test_g7_large_prefix_arithmetic():
    g7 = L.load_instance_types()["ecs.g7.large"]
    assert [g7.max_ipv4_prefixes(s) for s in range(7)] == [5, 4, 3, 2, 1, 0, 0]
    assert [g7.max_ipv6_prefixes(a) for a in (0, 1, 6)] == [6, 5, 0]
    assert not L.ipv4_exceeded(g7, 1, 5) and L.ipv4_exceeded(g7, 1, 6) and L.ipv4_exceeded(g7, 2, 5)
    assert not L.ipv4_exceeded(None, 10, 40) and L.ipv4_exceeded(None, 11, 0) and L.ipv4_exceeded(None, 1, 50)
    assert L.ipv4_exceeded(None, 10, 49) and L.ipv4_exceeded(None, 10, 41)  # 50 entries, each prefix one IP
    assert not L.ipv6_exceeded(None, 5, 5) and L.ipv6_exceeded(None, 5, 6) and L.ipv6_exceeded(g7, 1, 6)


def test_instance_type_overrides():
    table = L.load_instance_types({"ecs.g7.large": {"EniQuantity": 2},
                                   "ecs.tiny.large": {"EniQuantity": 1, "EniPrivateIpAddressQuantity": 2,
                                                      "EniIpv6AddressQuantity": 1},
                                   "ecs.c6.large": None,
                                   "ecs.x.large": L.InstanceType("ignored", 4, 4, 4)})
    assert (table["ecs.g7.large"].eni_quantity, table["ecs.g7.large"].ipv4_per_eni) == (2, 6)
    assert table["ecs.tiny.large"].ipv4_per_eni == 2 and "ecs.c6.large" not in table
    assert table["ecs.x.large"].name == "ecs.x.large"
    with pytest.raises(ValueError):
        L.load_instance_types({"ecs.new.large": {"EniQuantity": 2}})
    with pytest.raises(ValueError):
        L.load_instance_types({"ecs.g7.large": {"EniQuantity": 0}})


def test_describe_instance_types(cloud):
    rows = cloud.call("DescribeInstanceTypes", {"InstanceTypes.1": "ecs.g7.large", "InstanceTypes.2": "ecs.nope"})
    assert rows["InstanceTypes"]["InstanceType"] == [
        {"InstanceTypeId": "ecs.g7.large", "InstanceTypeFamily": "ecs.g7", "EniQuantity": 3,
         "EniPrivateIpAddressQuantity": 6, "EniIpv6AddressQuantity": 6}]
    family = cloud.call("DescribeInstanceTypes", {"InstanceTypeFamily": "ecs.c7"})["InstanceTypes"]["InstanceType"]
    assert {r["InstanceTypeId"] for r in family} >= {f"ecs.c7.{s}" for s in SIZES}
    refused(cloud, "InvalidParameter.InstanceTypes", "DescribeInstanceTypes",
            {f"InstanceTypes.{i}": "ecs.g7.large" for i in range(1, 12)})


class TwoEniG7(SandboxCloud):
    INSTANCE_TYPE_OVERRIDES = {"ecs.g7.large": {"EniQuantity": 2}}


def test_sandbox_instance_type_overrides(tmp_path):
    with TwoEniG7(tmp_path / "c.db") as cloud:
        row = cloud.call("DescribeInstanceTypes", {"InstanceTypes.1": "ecs.g7.large"})["InstanceTypes"]["InstanceType"][0]
        assert row["EniQuantity"] == 2


# ---- security groups --------------------------------------------------------------------------
def test_security_groups(cloud, net):
    assert re.fullmatch(r"sg-[0-9a-z]{17}", net.sg)
    adv = cloud.call("CreateSecurityGroup", {"RegionId": HZ, "VpcId": net.vpc, "SecurityGroupType": "enterprise",
                                             "SecurityGroupName": "adv", "Description": "d"})["SecurityGroupId"]
    rows = cloud.call("DescribeSecurityGroups", {"RegionId": HZ, "VpcId": net.vpc})["SecurityGroups"]["SecurityGroup"]
    assert [(r["SecurityGroupId"], r["SecurityGroupType"]) for r in rows] == [(net.sg, "normal"), (adv, "enterprise")]
    assert cloud.call("DescribeSecurityGroups", {"SecurityGroupType": "enterprise"})["TotalCount"] == 1
    refused(cloud, "InvalidParameter.SecurityGroupType", "CreateSecurityGroup",
            {"RegionId": HZ, "VpcId": net.vpc, "SecurityGroupType": "premium"})
    refused(cloud, "InvalidVpcId.NotFound", "CreateSecurityGroup", {"RegionId": "cn-shanghai", "VpcId": net.vpc}, 404)
    refused(cloud, "MissingParameter.RegionId", "CreateSecurityGroup", {"VpcId": net.vpc})
    cloud.call("DeleteSecurityGroup", {"RegionId": HZ, "SecurityGroupId": adv})
    refused(cloud, "InvalidSecurityGroupId.NotFound", "DeleteSecurityGroup", {"SecurityGroupId": adv}, 404)


def test_security_group_in_use_cannot_be_deleted(cloud, net):
    eni = new_eni(cloud, net)
    refused(cloud, "DependencyViolation.NetworkInterface", "DeleteSecurityGroup", {"SecurityGroupId": net.sg})
    cloud.call("DeleteNetworkInterface", {"NetworkInterfaceId": eni})
    iid, _ = new_instance(cloud, net)
    refused(cloud, "DependencyViolation.NetworkInterface", "DeleteSecurityGroup", {"SecurityGroupId": net.sg})
    cloud.call("DeleteInstance", {"InstanceId": iid, "Force": True})
    cloud.call("DeleteSecurityGroup", {"SecurityGroupId": net.sg})


def test_security_group_must_be_in_the_vswitchs_vpc(cloud, net):
    other = cloud.call("CreateVpc", {"RegionId": HZ, "CidrBlock": "10.0.0.0/16"})["VpcId"]
    foreign = cloud.call("CreateSecurityGroup", {"RegionId": HZ, "VpcId": other})["SecurityGroupId"]
    refused(cloud, "InvalidSecurityGroupId.VpcMismatch", "CreateNetworkInterface",
            {"RegionId": HZ, "VSwitchId": net.vsw, "SecurityGroupId": foreign})
    refused(cloud, "InvalidSecurityGroupId.VpcMismatch", "CreateInstance",
            {"RegionId": HZ, "InstanceType": "ecs.g7.large", "VSwitchId": net.vsw, "SecurityGroupId": foreign})
    refused(cloud, "InvalidSecurityGroupId.NotFound", "CreateNetworkInterface",
            {"RegionId": HZ, "VSwitchId": net.vsw, "SecurityGroupId": "sg-nope"}, 404)


def test_vpc_with_security_groups_cannot_be_deleted(cloud, net):
    cloud.call("DeleteVSwitch", {"VSwitchId": net.vsw})
    refused(cloud, "DependencyViolation.SecurityGroup", "DeleteVpc", {"VpcId": net.vpc})
    cloud.call("DeleteSecurityGroup", {"SecurityGroupId": net.sg})
    cloud.call("DeleteVpc", {"VpcId": net.vpc})


def test_basic_security_group_holds_6000_private_ips(tmp_path):
    """Real numbers: 600 ENIs of 10 addresses fill a basic group; an advanced one goes on."""
    with SandboxCloud() as cloud:
        vpc = cloud.call("CreateVpc", {"RegionId": HZ, "CidrBlock": "10.0.0.0/16"})["VpcId"]
        vsw = cloud.call("CreateVSwitch", {"VpcId": vpc, "ZoneId": ZONE, "CidrBlock": "10.0.0.0/18"})["VSwitchId"]
        basic = cloud.call("CreateSecurityGroup", {"RegionId": HZ, "VpcId": vpc})["SecurityGroupId"]
        adv = cloud.call("CreateSecurityGroup", {"RegionId": HZ, "VpcId": vpc,
                                                 "SecurityGroupType": "enterprise"})["SecurityGroupId"]
        for group in (basic, adv):
            for _ in range(600):
                cloud.call("CreateNetworkInterface", {"RegionId": HZ, "VSwitchId": vsw, "SecurityGroupId": group,
                                                      "SecondaryPrivateIpAddressCount": 9})
        refused(cloud, "QuotaExceeded.SecurityGroupPrivateIp", "CreateNetworkInterface",
                {"RegionId": HZ, "VSwitchId": vsw, "SecurityGroupId": basic})
        cloud.call("CreateNetworkInterface", {"RegionId": HZ, "VSwitchId": vsw, "SecurityGroupId": adv})


class TinyQuota(SandboxCloud):
    SECURITY_GROUP_QUOTA = {"normal": 8, "enterprise": 12}


def test_every_address_and_prefix_counts_against_the_group(tmp_path):
    with TinyQuota(tmp_path / "q.db") as cloud:
        vpc = cloud.call("CreateVpc", {"RegionId": HZ, "CidrBlock": "10.0.0.0/16", "EnableIpv6": True})["VpcId"]
        vsw = cloud.call("CreateVSwitch", {"VpcId": vpc, "ZoneId": ZONE, "CidrBlock": "10.0.0.0/24",
                                           "Ipv6CidrBlock": 1})["VSwitchId"]
        sg = cloud.call("CreateSecurityGroup", {"RegionId": HZ, "VpcId": vpc})["SecurityGroupId"]
        big = cloud.call("CreateSecurityGroup", {"RegionId": HZ, "VpcId": vpc,
                                                 "SecurityGroupType": "enterprise"})["SecurityGroupId"]
        base = {"RegionId": HZ, "VSwitchId": vsw, "SecurityGroupId": sg}
        # 1 primary + 1 secondary + 2 IPv4 prefixes + 1 IPv6 address + 1 IPv6 prefix = 6
        eni = cloud.call("CreateNetworkInterface", {**base, "SecondaryPrivateIpAddressCount": 1, "Ipv4PrefixCount": 2,
                                                    "Ipv6AddressCount": 1, "Ipv6PrefixCount": 1})["NetworkInterfaceId"]
        refused(cloud, "QuotaExceeded.SecurityGroupPrivateIp", "AssignPrivateIpAddresses",
                {"NetworkInterfaceId": eni, "Ipv4PrefixCount": 3})
        refused(cloud, "QuotaExceeded.SecurityGroupPrivateIp", "AssignIpv6Addresses",
                {"NetworkInterfaceId": eni, "Ipv6PrefixCount": 3})
        cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": eni, "Ipv4PrefixCount": 2})  # 8: full
        refused(cloud, "QuotaExceeded.SecurityGroupPrivateIp", "CreateNetworkInterface", base)
        refused(cloud, "QuotaExceeded.SecurityGroupPrivateIp", "CreateInstance",
                {**base, "InstanceType": "ecs.g7.large"})
        # joining a second group charges it too; leaving the first frees room there
        cloud.call("ModifyNetworkInterfaceAttribute", {"NetworkInterfaceId": eni, "SecurityGroupId.1": big})
        cloud.call("CreateNetworkInterface", base)
        refused(cloud, "QuotaExceeded.SecurityGroupPrivateIp", "ModifyNetworkInterfaceAttribute",
                {"NetworkInterfaceId": eni, "SecurityGroupId.1": big, "SecurityGroupId.2": sg})
        cloud.call("UnassignPrivateIpAddresses", {"NetworkInterfaceId": eni, "Ipv4Prefix.1": "10.0.0.16/28"})
        cloud.call("ModifyNetworkInterfaceAttribute", {"NetworkInterfaceId": eni, "SecurityGroupId.1": big,
                                                       "SecurityGroupId.2": sg})
        assert eni_row(cloud, eni)["SecurityGroupIds"]["SecurityGroupId"] == [big, sg]


# ---- instances --------------------------------------------------------------------------------
def test_create_instance_makes_its_primary_eni(cloud, net):
    iid, primary = new_instance(cloud, net, InstanceName="web")
    assert re.fullmatch(r"i-[0-9a-z]{17}", iid) and re.fullmatch(r"eni-[0-9a-z]{17}", primary)
    row = eni_row(cloud, primary)
    assert (row["Type"], row["Status"], row["InstanceId"], row["PrivateIpAddress"]) == ("Primary", "InUse", iid, "10.0.0.1")
    inst = instance_row(cloud, iid)
    assert (inst["Status"], inst["InstanceType"], inst["VSwitchId"], inst["InstanceName"]) == (
        "Running", "ecs.g7.large", net.vsw, "web")
    assert inst["VpcAttributes"]["PrivateIpAddress"]["IpAddress"] == ["10.0.0.1"]
    assert [e["NetworkInterfaceId"] for e in inst["NetworkInterfaces"]["NetworkInterface"]] == [primary]
    second, _ = new_instance(cloud, net, PrivateIpAddress="10.0.0.77", InstanceStatus="Stopped")
    assert instance_row(cloud, second)["VpcAttributes"]["PrivateIpAddress"]["IpAddress"] == ["10.0.0.77"]
    assert instance_row(cloud, second)["Status"] == "Stopped"
    refused(cloud, "InvalidIp.IpAssigned", "CreateInstance", {"RegionId": HZ, "InstanceType": "ecs.g7.large",
            "VSwitchId": net.vsw, "SecurityGroupId": net.sg, "PrivateIpAddress": "10.0.0.77"})
    refused(cloud, "InvalidInstanceType.NotFound", "CreateInstance",
            {"RegionId": HZ, "InstanceType": "ecs.g99.large", "VSwitchId": net.vsw, "SecurityGroupId": net.sg}, 404)
    refused(cloud, "InvalidParameter.InstanceStatus", "CreateInstance", {"RegionId": HZ, "InstanceType": "ecs.g7.large",
            "VSwitchId": net.vsw, "SecurityGroupId": net.sg, "InstanceStatus": "Starting"})
    refused(cloud, "InvalidVSwitchId.NotFound", "CreateInstance",
            {"RegionId": "cn-shanghai", "InstanceType": "ecs.g7.large", "VSwitchId": net.vsw, "SecurityGroupId": net.sg}, 404)


def test_modify_instance_and_security_group(cloud, net):
    iid, _ = new_instance(cloud, net, InstanceName="a", Description="first")
    assert instance_row(cloud, iid)["Description"] == "first"
    cloud.call("ModifyInstanceAttribute", {"InstanceId": iid, "InstanceName": "b", "Description": "second"})
    assert (instance_row(cloud, iid)["InstanceName"], instance_row(cloud, iid)["Description"]) == ("b", "second")
    cloud.call("ModifySecurityGroupAttribute", {"RegionId": HZ, "SecurityGroupId": net.sg, "SecurityGroupName": "web",
                                                "Description": "d"})
    sg = cloud.call("DescribeSecurityGroups", {"SecurityGroupId": net.sg})["SecurityGroups"]["SecurityGroup"][0]
    assert (sg["SecurityGroupName"], sg["Description"]) == ("web", "d")
    refused(cloud, "InvalidInstanceId.NotFound", "ModifyInstanceAttribute", {"InstanceId": "i-x"}, 404)
    refused(cloud, "InvalidSecurityGroupId.NotFound", "ModifySecurityGroupAttribute",
            {"SecurityGroupId": net.sg, "RegionId": "cn-shanghai"}, 404)


def test_instance_status_transitions(cloud, net):
    iid, _ = new_instance(cloud, net, InstanceStatus="Pending")
    refused(cloud, "IncorrectInstanceStatus", "StopInstance", {"InstanceId": iid})
    cloud.call("StartInstance", {"InstanceId": iid})
    refused(cloud, "IncorrectInstanceStatus", "StartInstance", {"InstanceId": iid})
    refused(cloud, "IncorrectInstanceStatus", "DeleteInstance", {"InstanceId": iid})
    cloud.call("StopInstance", {"InstanceId": iid})
    assert instance_row(cloud, iid)["Status"] == "Stopped"
    cloud.call("DeleteInstance", {"InstanceId": iid})
    refused(cloud, "InvalidInstanceId.NotFound", "StartInstance", {"InstanceId": iid}, 404)


def test_delete_instance_deletes_the_primary_and_detaches_the_rest(cloud, net):
    iid, primary = new_instance(cloud, net)
    eni = new_eni(cloud, net)
    cloud.call("AttachNetworkInterface", {"NetworkInterfaceId": eni, "InstanceId": iid})
    cloud.call("DeleteInstance", {"InstanceId": iid, "Force": "true"})
    refused(cloud, "InvalidEniId.NotFound", "DeleteNetworkInterface", {"NetworkInterfaceId": primary}, 404)
    row = eni_row(cloud, eni)
    assert (row["Status"], row["InstanceId"]) == ("Available", "")
    assert new_instance(cloud, net)[1] and eni_row(cloud, eni)["PrivateIpAddress"] == "10.0.0.2"
    assert cloud.call("DescribeInstances", {"VSwitchId": net.vsw})["Instances"]["Instance"][0][
        "VpcAttributes"]["PrivateIpAddress"]["IpAddress"] == ["10.0.0.1"]  # the freed primary address


# ---- attaching ----------------------------------------------------------------------------------
def test_eni_quantity_counts_the_primary(cloud, net):
    iid, _ = new_instance(cloud, net)  # ecs.g7.large: 3 ENIs
    enis = [new_eni(cloud, net) for _ in range(3)]
    for eni in enis[:2]:
        cloud.call("AttachNetworkInterface", {"NetworkInterfaceId": eni, "InstanceId": iid})
    refused(cloud, "EniPerInstanceLimitExceeded", "AttachNetworkInterface", {"NetworkInterfaceId": enis[2], "InstanceId": iid})
    assert len(instance_row(cloud, iid)["NetworkInterfaces"]["NetworkInterface"]) == 3
    cloud.call("DetachNetworkInterface", {"NetworkInterfaceId": enis[0], "InstanceId": iid})
    cloud.call("AttachNetworkInterface", {"NetworkInterfaceId": enis[2], "InstanceId": iid})


def test_sandbox_eni_quantity_override(tmp_path):
    with TwoEniG7(tmp_path / "c.db") as cloud:
        vpc = cloud.call("CreateVpc", {"RegionId": HZ, "CidrBlock": "10.0.0.0/16"})["VpcId"]
        vsw = cloud.call("CreateVSwitch", {"VpcId": vpc, "ZoneId": ZONE, "CidrBlock": "10.0.0.0/24"})["VSwitchId"]
        n = Net(vpc, vsw, cloud.call("CreateSecurityGroup", {"RegionId": HZ, "VpcId": vpc})["SecurityGroupId"])
        iid, _ = new_instance(cloud, n)
        cloud.call("AttachNetworkInterface", {"NetworkInterfaceId": new_eni(cloud, n), "InstanceId": iid})
        refused(cloud, "EniPerInstanceLimitExceeded", "AttachNetworkInterface",
                {"NetworkInterfaceId": new_eni(cloud, n), "InstanceId": iid})


def test_attach_rules(cloud, net):
    iid, primary = new_instance(cloud, net)
    pending, _ = new_instance(cloud, net, InstanceStatus="Pending")
    eni = new_eni(cloud, net)
    refused(cloud, "IncorrectInstanceStatus", "AttachNetworkInterface", {"NetworkInterfaceId": eni, "InstanceId": pending})
    refused(cloud, "InvalidOperation.InvalidEniState", "AttachNetworkInterface", {"NetworkInterfaceId": primary, "InstanceId": iid})
    other_zone = cloud.call("CreateVSwitch", {"VpcId": net.vpc, "ZoneId": "cn-hangzhou-i", "CidrBlock": "10.0.1.0/24"})["VSwitchId"]
    far = cloud.call("CreateNetworkInterface", {"RegionId": HZ, "VSwitchId": other_zone, "SecurityGroupId": net.sg})
    refused(cloud, "InvalidOperation.ZoneMismatch", "AttachNetworkInterface",
            {"NetworkInterfaceId": far["NetworkInterfaceId"], "InstanceId": iid})
    vpc2 = cloud.call("CreateVpc", {"RegionId": HZ, "CidrBlock": "10.0.0.0/16"})["VpcId"]
    vsw2 = cloud.call("CreateVSwitch", {"VpcId": vpc2, "ZoneId": ZONE, "CidrBlock": "10.0.0.0/24"})["VSwitchId"]
    sg2 = cloud.call("CreateSecurityGroup", {"RegionId": HZ, "VpcId": vpc2})["SecurityGroupId"]
    alien = new_eni(cloud, Net(vpc2, vsw2, sg2))
    refused(cloud, "InvalidOperation.VpcMismatch", "AttachNetworkInterface", {"NetworkInterfaceId": alien, "InstanceId": iid})
    cloud.call("StopInstance", {"InstanceId": iid})
    cloud.call("AttachNetworkInterface", {"NetworkInterfaceId": eni, "InstanceId": iid})  # Stopped is fine
    row = eni_row(cloud, eni)
    assert (row["Status"], row["InstanceId"], row["Type"]) == ("InUse", iid, "Secondary")
    refused(cloud, "InvalidOperation.InvalidEniState", "AttachNetworkInterface", {"NetworkInterfaceId": eni, "InstanceId": iid})
    refused(cloud, "InvalidInstanceId.NotFound", "AttachNetworkInterface", {"NetworkInterfaceId": far["NetworkInterfaceId"],
                                                                          "InstanceId": "i-nope"}, 404)


def test_detach_rules(cloud, net):
    iid, primary = new_instance(cloud, net)
    other, _ = new_instance(cloud, net)
    eni = new_eni(cloud, net)
    refused(cloud, "InvalidOperation.DetachPrimaryEniNotAllowed", "DetachNetworkInterface",
            {"NetworkInterfaceId": primary, "InstanceId": iid})
    refused(cloud, "InvalidOperation.InvalidEniState", "DetachNetworkInterface", {"NetworkInterfaceId": eni, "InstanceId": iid})
    cloud.call("AttachNetworkInterface", {"NetworkInterfaceId": eni, "InstanceId": iid})
    refused(cloud, "InvalidOperation.InvalidEniState", "DetachNetworkInterface", {"NetworkInterfaceId": eni, "InstanceId": other})
    cloud.call("DetachNetworkInterface", {"NetworkInterfaceId": eni, "InstanceId": iid})
    assert eni_row(cloud, eni)["Status"] == "Available"


def test_attaching_an_eni_over_the_types_limits_is_refused(cloud, net):
    iid, _ = new_instance(cloud, net)  # ecs.g7.large: 6 IPv4, 6 IPv6 per ENI
    big4 = new_eni(cloud, net, SecondaryPrivateIpAddressCount=5)  # 6 IPv4: fits
    cloud.call("AttachNetworkInterface", {"NetworkInterfaceId": big4, "InstanceId": iid})
    cloud.call("DetachNetworkInterface", {"NetworkInterfaceId": big4, "InstanceId": iid})
    cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": big4, "Ipv4PrefixCount": 1})  # 7
    refused(cloud, "InvalidOperation.Ipv4CountExceeded", "AttachNetworkInterface", {"NetworkInterfaceId": big4, "InstanceId": iid})
    big6 = new_eni(cloud, net, Ipv6AddressCount=4, Ipv6PrefixCount=3)  # 7 IPv6
    refused(cloud, "InvalidOperation.Ipv6CountExceeded", "AttachNetworkInterface", {"NetworkInterfaceId": big6, "InstanceId": iid})
    roomy, _ = new_instance(cloud, net, "ecs.c7.xlarge")  # 15 and 15
    cloud.call("AttachNetworkInterface", {"NetworkInterfaceId": big4, "InstanceId": roomy})
    cloud.call("AttachNetworkInterface", {"NetworkInterfaceId": big6, "InstanceId": roomy})
    assert eni_row(cloud, big6)["Status"] == "InUse"


def test_a_detached_eni_keeps_what_it_holds_but_cannot_grow(cloud, net):
    roomy, _ = new_instance(cloud, net, "ecs.c7.xlarge")
    eni = new_eni(cloud, net, SecondaryPrivateIpAddressCount=9)
    cloud.call("AttachNetworkInterface", {"NetworkInterfaceId": eni, "InstanceId": roomy})
    cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": eni, "SecondaryPrivateIpAddressCount": 2})  # 12
    cloud.call("DetachNetworkInterface", {"NetworkInterfaceId": eni, "InstanceId": roomy})
    assert len(eni_row(cloud, eni)["PrivateIpSets"]["PrivateIpSet"]) == 12
    refused(cloud, "InvalidOperation.Ipv4CountExceeded", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "SecondaryPrivateIpAddressCount": 1})
    cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": eni, "Ipv4PrefixCount": 1})  # prefixes count apart


# ---- deletion order ---------------------------------------------------------------------------
def test_delete_eni_only_when_available(cloud, net):
    iid, primary = new_instance(cloud, net)
    eni = new_eni(cloud, net)
    cloud.call("AttachNetworkInterface", {"NetworkInterfaceId": eni, "InstanceId": iid})
    refused(cloud, "InvalidOperation.InvalidEniState", "DeleteNetworkInterface", {"NetworkInterfaceId": eni})
    refused(cloud, "InvalidOperation.InvalidEniState", "DeleteNetworkInterface", {"NetworkInterfaceId": primary})
    cloud.call("DetachNetworkInterface", {"NetworkInterfaceId": eni, "InstanceId": iid})
    cloud.call("DeleteNetworkInterface", {"NetworkInterfaceId": eni, "RegionId": HZ})
    refused(cloud, "InvalidEniId.NotFound", "DeleteNetworkInterface", {"NetworkInterfaceId": eni}, 404)


def test_vswitch_with_enis_cannot_be_deleted(cloud, net):
    eni = new_eni(cloud, net)
    refused(cloud, "DependencyViolation.NetworkInterface", "DeleteVSwitch", {"VSwitchId": net.vsw})
    cloud.call("DeleteNetworkInterface", {"NetworkInterfaceId": eni})
    iid, _ = new_instance(cloud, net)
    refused(cloud, "DependencyViolation.NetworkInterface", "DeleteVSwitch", {"VSwitchId": net.vsw})
    cloud.call("DeleteInstance", {"InstanceId": iid, "Force": True})
    cloud.call("DeleteVSwitch", {"VSwitchId": net.vsw})


# ---- managed ENIs ---------------------------------------------------------------------------------
@pytest.fixture
def managed(cloud, net):
    iid, _ = new_instance(cloud, net)
    eni = cloud.call("CreateNetworkInterface", {"RegionId": HZ, "VSwitchId": net.vsw, "SecurityGroupId": net.sg,
                                                "ServiceManaged": True, "ServiceID": "ack", "Description": "pod net",
                                                "Ipv6AddressCount": 2, "SecondaryPrivateIpAddressCount": 1})
    addrs = [s["Ipv6Address"] for s in eni["Ipv6Sets"]["Ipv6Set"]]
    return SimpleNamespace(eni=eni["NetworkInterfaceId"], iid=iid, v6=addrs,
                           secondary=eni["PrivateIpSets"]["PrivateIpSet"][1]["PrivateIpAddress"])


def test_managed_eni_is_marked(cloud, managed):
    row = eni_row(cloud, managed.eni)
    assert row["ServiceManaged"] is True and "ack" in row["Description"] and "pod net" in row["Description"]
    assert cloud.call("DescribeNetworkInterfaces", {"ServiceManaged": "true"})["TotalCount"] == 1
    assert cloud.call("DescribeNetworkInterfaces", {"ServiceManaged": "false"})["TotalCount"] == 1  # the primary


def test_managed_eni_needs_its_service(cloud, net):
    refused(cloud, "MissingParameter.ServiceID", "CreateNetworkInterface",
            {"RegionId": HZ, "VSwitchId": net.vsw, "SecurityGroupId": net.sg, "ServiceManaged": True})


def _guarded_calls(m):
    e = m.eni
    return [
        ("ModifyNetworkInterfaceAttribute", {"NetworkInterfaceId": e, "Description": "mine now (ack)"}),
        ("AssignPrivateIpAddresses", {"NetworkInterfaceId": e, "SecondaryPrivateIpAddressCount": 1}),
        ("UnassignPrivateIpAddresses", {"NetworkInterfaceId": e, "PrivateIpAddress.1": m.secondary}),
        ("AssignIpv6Addresses", {"NetworkInterfaceId": e, "Ipv6AddressCount": 1}),
        ("AllocateIpv6InternetBandwidth", {"Ipv6AddressId": m.v6[0], "Ipv6GatewayId": "ipv6gw-x", "Bandwidth": 5}),
        ("AssociateEipAddress", {"AllocationId": "eip-1", "InstanceId": e, "InstanceType": "NetworkInterface"}),
        ("UnassociateEipAddress", {"AllocationId": "eip-1", "InstanceId": e, "InstanceType": "NetworkInterface"}),
        ("AssociateEipAddressBatch", {"BindedInstanceId": e, "BindedInstanceType": "NetworkInterface",
                                      "InstanceIds.1": "eip-1"}),
        ("AttachNetworkInterface", {"NetworkInterfaceId": e, "InstanceId": m.iid}),
        ("DetachNetworkInterface", {"NetworkInterfaceId": e, "InstanceId": m.iid}),
        ("UnassignIpv6Addresses", {"NetworkInterfaceId": e, "Ipv6Address.1": m.v6[1]}),
        ("DeleteIpv6InternetBandwidth", {"Ipv6AddressId": m.v6[0]}),
        ("DeleteNetworkInterface", {"NetworkInterfaceId": e}),
    ]


def test_managed_eni_refuses_the_account_and_obeys_its_service(cloud, managed):
    calls = _guarded_calls(managed)
    assert {a for a, _ in calls} == L.MANAGED_ENI_GUARDED_ACTIONS
    for action, params in calls:
        refused(cloud, "InvalidOperation.EniServiceManaged", action, params, 403)
        refused(cloud, "InvalidOperation.EniServiceManaged", action, {**params, "CallerService": "other"}, 403)
        cloud.call(action, {**params, "CallerService": "ack"})
        if action == "AllocateIpv6InternetBandwidth":  # open to the account: ModifyIpv6InternetBandwidth
            cloud.call("ModifyIpv6InternetBandwidth", {"Ipv6AddressId": managed.v6[0], "Bandwidth": 10})
    assert cloud.call("DescribeNetworkInterfaces", {"NetworkInterfaceId.1": managed.eni})["TotalCount"] == 0


def test_eip_calls_on_plain_targets(cloud, net):
    iid, _ = new_instance(cloud, net)
    eni = new_eni(cloud, net, Ipv6AddressCount=1)
    address = eni_row(cloud, eni)["Ipv6Sets"]["Ipv6Set"][0]["Ipv6Address"]
    cloud.call("AssociateEipAddress", {"AllocationId": "eip-1", "InstanceId": iid})
    cloud.call("AssociateEipAddress", {"AllocationId": "eip-2", "InstanceId": eni, "InstanceType": "NetworkInterface"})
    refused(cloud, "InvalidInstanceId.NotFound", "AssociateEipAddress", {"AllocationId": "eip-1", "InstanceId": "i-x"}, 404)
    refused(cloud, "InvalidEniId.NotFound", "AssociateEipAddress", {"AllocationId": "eip-1", "InstanceId": "eni-x"}, 404)
    bw = cloud.call("AllocateIpv6InternetBandwidth", {"Ipv6AddressId": address, "Bandwidth": 5})
    assert bw["Ipv6AddressId"] == address and bw["Ipv6InternetBandwidthId"].startswith("ipv6bw-")
    refused(cloud, "OperationDenied.Ipv6InternetBandwidthExists", "AllocateIpv6InternetBandwidth", {"Ipv6AddressId": address})
    refused(cloud, "InvalidIpv6AddressId.NotFound", "AllocateIpv6InternetBandwidth", {"Ipv6AddressId": "2408::9"}, 404)
    cloud.call("UnassignIpv6Addresses", {"NetworkInterfaceId": eni, "Ipv6Address.1": address})  # releases it
    refused(cloud, "InvalidIpv6InternetBandwidthId.NotFound", "ModifyIpv6InternetBandwidth",
            {"Ipv6InternetBandwidthId": bw["Ipv6InternetBandwidthId"], "Bandwidth": 3}, 404)
