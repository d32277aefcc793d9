"""The sandbox's VPC and vSwitch operations, alone and with IPAM pools, through SandboxCloud.call
with wire-form parameters on a real SQLite file. Each rule has a test that fails without it."""

from __future__ import annotations

import re

import pytest

from reconciler.cloud.sandbox import SandboxCloud
from reconciler.net.cidr import Cidr
from tests.support.sandbox import refused

HZ, SH = "cn-hangzhou", "cn-shanghai"


@pytest.fixture
def pools(cloud):
    """An IPAM in Hangzhou (operating in Shanghai too): an IPv4 pool 10.0.0.0/8 in Hangzhou
    (allocations /8-/24), a region-less IPv4 pool 172.16.0.0/12, and a public IPv6 pool of a /40
    in Hangzhou."""
    ipam = cloud.call("CreateIpam", {"RegionId": HZ, "OperatingRegionList.1": SH})
    private, public = ipam["PrivateDefaultScopeId"], ipam["PublicDefaultScopeId"]
    v4 = cloud.call("CreateIpamPool", {"IpamScopeId": private, "IpVersion": "IPv4", "PoolRegionId": HZ,
                                       "AllocationMinCidrMask": 8, "AllocationMaxCidrMask": 24})["IpamPoolId"]
    cloud.call("AddIpamPoolCidr", {"IpamPoolId": v4, "Cidr": "10.0.0.0/8"})
    loose = cloud.call("CreateIpamPool", {"IpamScopeId": private})["IpamPoolId"]
    cloud.call("AddIpamPoolCidr", {"IpamPoolId": loose, "Cidr": "172.16.0.0/12"})
    v6 = cloud.call("CreateIpamPool", {"IpamScopeId": public, "IpVersion": "IPv6",
                                       "PoolRegionId": HZ})["IpamPoolId"]
    cloud.call("AddIpamPoolCidr", {"IpamPoolId": v6, "NetmaskLength": 40})
    return {"v4": v4, "loose": loose, "v6": v6, "private": private, "public": public}


def vpc(cloud, vpc_id):
    return cloud.call("DescribeVpcs", {"RegionId": HZ, "VpcId": vpc_id})["Vpcs"]["Vpc"][0]


def allocs(cloud, pool):
    rows = cloud.call("ListIpamPoolAllocations", {"IpamPoolId": pool, "MaxResults": 100})
    return [(a["Cidr"], a["ResourceType"], a["ResourceId"]) for a in rows["IpamPoolAllocations"]]


def new_vpc(cloud, **params):
    return cloud.call("CreateVpc", {"RegionId": HZ, **params})["VpcId"]


# ---- VPCs without IPAM ----------------------------------------------------------------------
def test_create_and_describe_a_plain_vpc(cloud):
    vpc_id = new_vpc(cloud, CidrBlock="192.168.0.0/16", VpcName="plain", Description="d")
    assert re.fullmatch(r"vpc-[0-9a-z]{17}", vpc_id)
    row = vpc(cloud, vpc_id)
    assert row["CidrBlock"] == "192.168.0.0/16" and row["RegionId"] == HZ and row["VpcName"] == "plain"
    assert row["SecondaryCidrBlocks"] == {"SecondaryCidrBlock": []}
    assert row["Ipv6CidrBlocks"] == {"Ipv6CidrBlock": []} and row["VSwitchIds"] == {"VSwitchId": []}
    assert not any("Pool" in key for key in row)  # like the real API, no pool id
    assert cloud.call("DescribeVpcs", {"RegionId": SH})["TotalCount"] == 0


def test_modify_vpc_and_vswitch_names(cloud):
    vpc_id = new_vpc(cloud, CidrBlock="10.0.0.0/16", VpcName="old")
    cloud.call("ModifyVpcAttribute", {"VpcId": vpc_id, "RegionId": HZ, "VpcName": "new", "Description": "x"})
    assert (vpc(cloud, vpc_id)["VpcName"], vpc(cloud, vpc_id)["Description"]) == ("new", "x")
    refused(cloud, "InvalidVpcId.NotFound", "ModifyVpcAttribute", {"VpcId": vpc_id, "RegionId": SH, "VpcName": "n"}, 404)
    vsw = cloud.call("CreateVSwitch", {"VpcId": vpc_id, "ZoneId": "cn-hangzhou-h", "CidrBlock": "10.0.0.0/24"})["VSwitchId"]
    cloud.call("ModifyVSwitchAttribute", {"VSwitchId": vsw, "VSwitchName": "web", "Description": "y"})
    row = cloud.call("DescribeVSwitches", {"VSwitchId": vsw})["VSwitches"]["VSwitch"][0]
    assert (row["VSwitchName"], row["Description"]) == ("web", "y")
    refused(cloud, "InvalidVSwitchId.NotFound", "ModifyVSwitchAttribute", {"VSwitchId": vsw, "RegionId": SH}, 404)
    refused(cloud, "InvalidVSwitchId.NotFound", "ModifyVSwitchAttribute", {"VSwitchId": "vsw-x"}, 404)


def test_vpc_needs_a_block_without_a_pool(cloud):
    refused(cloud, "MissingParameter.CidrBlock", "CreateVpc", {"RegionId": HZ})
    refused(cloud, "MissingParameter.RegionId", "CreateVpc", {"CidrBlock": "10.0.0.0/16"})


@pytest.mark.parametrize("block", ["10.0.0.0/7", "10.0.0.0/29", "10.0.0/16", "fd00::/56", "fd00::/16"])
def test_vpc_ipv4_mask_range(cloud, block):
    refused(cloud, "InvalidCidrBlock.Malformed", "CreateVpc", {"RegionId": HZ, "CidrBlock": block})


def test_vpcs_may_overlap_without_ipam(cloud):
    new_vpc(cloud, CidrBlock="10.0.0.0/8")
    new_vpc(cloud, CidrBlock="10.0.0.0/28")


def test_describe_vpcs_pages(cloud):
    ids = [new_vpc(cloud, CidrBlock="10.0.0.0/16") for _ in range(12)]
    page = cloud.call("DescribeVpcs", {"RegionId": HZ, "PageSize": 5, "PageNumber": "3"})
    assert page["TotalCount"] == 12 and [v["VpcId"] for v in page["Vpcs"]["Vpc"]] == ids[10:]
    both = cloud.call("DescribeVpcs", {"VpcId": f"{ids[3]},{ids[1]}"})["Vpcs"]["Vpc"]
    assert [v["VpcId"] for v in both] == [ids[1], ids[3]]
    refused(cloud, "InvalidParameter.PageSize", "DescribeVpcs", {"PageSize": 51})


# ---- VPCs from IPAM pools ---------------------------------------------------------------------
def test_vpc_from_a_pool_records_a_vpc_allocation(pools, cloud):
    vpc_id = new_vpc(cloud, Ipv4IpamPoolId=pools["v4"], Ipv4CidrMask="16")
    assert vpc(cloud, vpc_id)["CidrBlock"] == "10.0.0.0/16"
    assert allocs(cloud, pools["v4"]) == [("10.0.0.0/16", "VPC", vpc_id)]
    row = cloud.call("ListIpamPoolAllocations", {"IpamPoolId": pools["v4"]})["IpamPoolAllocations"][0]
    assert (row["SourceCidr"], row["ResourceRegionId"]) == ("10.0.0.0/8", HZ)
    assert vpc(cloud, new_vpc(cloud, Ipv4IpamPoolId=pools["v4"], Ipv4CidrMask=16))["CidrBlock"] == "10.1.0.0/16"


def test_vpc_pool_must_serve_the_vpcs_region(pools, cloud):
    refused(cloud, "OperationDenied.IpamPoolNotInRegion", "CreateVpc",
            {"RegionId": SH, "Ipv4IpamPoolId": pools["v4"], "Ipv4CidrMask": 16})
    refused(cloud, "OperationDenied.IpamPoolNotInRegion", "CreateVpc",
            {"RegionId": HZ, "Ipv4IpamPoolId": pools["loose"], "Ipv4CidrMask": 16})
    refused(cloud, "ResourceNotFound.IpamPool", "CreateVpc",
            {"RegionId": HZ, "Ipv4IpamPoolId": "ipam-pool-gone", "Ipv4CidrMask": 16}, 404)
    refused(cloud, "InvalidParameter.IpVersion", "CreateVpc",
            {"RegionId": HZ, "Ipv4IpamPoolId": pools["v6"], "Ipv4CidrMask": 16})


def test_vpc_mask_from_mask_block_or_pool_default(pools, cloud):
    refused(cloud, "MissingParam.CidrOrCidrMask", "CreateVpc", {"RegionId": HZ, "Ipv4IpamPoolId": pools["v4"]})
    cloud.call("UpdateIpamPool", {"IpamPoolId": pools["v4"], "AllocationDefaultCidrMask": 20})
    assert vpc(cloud, new_vpc(cloud, Ipv4IpamPoolId=pools["v4"]))["CidrBlock"] == "10.0.0.0/20"
    explicit = new_vpc(cloud, Ipv4IpamPoolId=pools["v4"], CidrBlock="10.9.0.0/16")
    assert vpc(cloud, explicit)["CidrBlock"] == "10.9.0.0/16"
    refused(cloud, "InvalidParameter.Ipv4CidrMask", "CreateVpc",
            {"RegionId": HZ, "Ipv4IpamPoolId": pools["v4"], "CidrBlock": "10.8.0.0/16", "Ipv4CidrMask": 17})


def test_vpc_mask_within_the_pools_rules_and_vpc_range(pools, cloud):
    refused(cloud, "OperationDenied.MaskOfCidrIsNotAllowed", "CreateVpc",
            {"RegionId": HZ, "Ipv4IpamPoolId": pools["v4"], "Ipv4CidrMask": 25})
    refused(cloud, "OperationDenied.MaskOfCidrIsNotAllowed", "CreateVpc",
            {"RegionId": HZ, "Ipv4IpamPoolId": pools["v4"], "CidrBlock": "10.0.0.0/26"})
    cloud.call("UpdateIpamPool", {"IpamPoolId": pools["v4"], "AllocationMaxCidrMask": 32})
    refused(cloud, "InvalidCidrBlock.Malformed", "CreateVpc",
            {"RegionId": HZ, "Ipv4IpamPoolId": pools["v4"], "Ipv4CidrMask": 29})


def test_vpc_block_must_be_free_in_the_pool(pools, cloud):
    new_vpc(cloud, Ipv4IpamPoolId=pools["v4"], CidrBlock="10.0.0.0/16")
    cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": pools["v4"], "Cidr": "10.1.0.0/16"})
    for block in ("10.0.0.0/16", "10.1.0.0/20", "11.0.0.0/16"):
        refused(cloud, "OperationDenied.CidrUnavailableInPool", "CreateVpc",
                {"RegionId": HZ, "Ipv4IpamPoolId": pools["v4"], "CidrBlock": block})
    assert vpc(cloud, new_vpc(cloud, Ipv4IpamPoolId=pools["v4"], Ipv4CidrMask=16))["CidrBlock"] == "10.2.0.0/16"
    new_vpc(cloud, Ipv4IpamPoolId=pools["v4"], Ipv4CidrMask=9)
    refused(cloud, "OperationDenied.AvailableCidrInsufficient", "CreateVpc",
            {"RegionId": HZ, "Ipv4IpamPoolId": pools["v4"], "Ipv4CidrMask": 9})


def test_ipv6_vpc_from_a_pool(pools, cloud):
    vpc_id = new_vpc(cloud, CidrBlock="192.168.0.0/16", EnableIpv6="true", Ipv6IpamPoolId=pools["v6"],
                     Ipv6CidrMask=56)
    row = vpc(cloud, vpc_id)
    assert row["Ipv6CidrBlocks"] == {"Ipv6CidrBlock": [{"Ipv6CidrBlock": "2408:4000::/56", "Ipv6Isp": "BGP"}]}
    assert row["Ipv6CidrBlock"] == "2408:4000::/56" and row["EnabledIpv6"] is True
    assert allocs(cloud, pools["v6"]) == [("2408:4000::/56", "VPC", vpc_id)]
    second = new_vpc(cloud, CidrBlock="192.168.0.0/16", Ipv6IpamPoolId=pools["v6"], Ipv6CidrBlock="2408:4000:0:500::/56")
    assert vpc(cloud, second)["Ipv6CidrBlock"] == "2408:4000:0:500::/56"
    refused(cloud, "OperationDenied.CidrUnavailableInPool", "CreateVpc",
            {"RegionId": HZ, "CidrBlock": "192.168.0.0/16", "Ipv6IpamPoolId": pools["v6"],
             "Ipv6CidrBlock": "2408:4000::/56"})


def test_ipv6_vpc_pool_rules(pools, cloud):
    base = {"RegionId": HZ, "CidrBlock": "192.168.0.0/16", "Ipv6IpamPoolId": pools["v6"]}
    refused(cloud, "InvalidParameter.Ipv6CidrMask", "CreateVpc", {**base, "Ipv6CidrMask": 48})
    refused(cloud, "InvalidParameter.Ipv6CidrMask", "CreateVpc", {**base, "Ipv6CidrBlock": "2408:4000::/48"})
    refused(cloud, "OperationDenied.IpamPoolNotInRegion", "CreateVpc", {**base, "RegionId": SH})
    refused(cloud, "InvalidParameter.IpVersion", "CreateVpc", {**base, "Ipv6IpamPoolId": pools["v4"]})
    cloud.call("UpdateIpamPool", {"IpamPoolId": pools["v6"], "AllocationMaxCidrMask": 48})
    refused(cloud, "OperationDenied.MaskOfCidrIsNotAllowed", "CreateVpc", base)


def test_ipv6_vpc_without_a_pool(cloud):
    a = new_vpc(cloud, CidrBlock="10.0.0.0/16", EnableIpv6=True)
    b = new_vpc(cloud, CidrBlock="10.0.0.0/16", EnableIpv6="True")
    assert vpc(cloud, a)["Ipv6CidrBlock"] == "2408:8000::/56"
    assert vpc(cloud, b)["Ipv6CidrBlock"] == "2408:8000:0:100::/56"
    refused(cloud, "InvalidParameter.Ipv6CidrBlock", "CreateVpc",
            {"RegionId": HZ, "CidrBlock": "10.0.0.0/16", "EnableIpv6": True, "Ipv6CidrBlock": "2408:9000::/56"})
    cloud.call("DeleteVpc", {"VpcId": a})
    assert vpc(cloud, new_vpc(cloud, CidrBlock="10.0.0.0/16", EnableIpv6=True))["Ipv6CidrBlock"] == "2408:8000::/56"


class TinySupply(SandboxCloud):
    VPC_IPV6_SUPPLY = Cidr.parse("2408:8000::/55")  # room for two VPC /56 blocks
    IPV6_SUPPLY = Cidr.parse("2408:4000::/47")


def test_ipv6_supplies_run_out(tmp_path):
    with TinySupply(tmp_path / "tiny.db") as cloud:
        for _ in range(2):
            new_vpc(cloud, CidrBlock="10.0.0.0/16", EnableIpv6=True)
        refused(cloud, "OperationDenied.AvailableCidrInsufficient", "CreateVpc",
                {"RegionId": HZ, "CidrBlock": "10.0.0.0/16", "EnableIpv6": True})
        scope = cloud.call("CreateIpam", {"RegionId": HZ})["PublicDefaultScopeId"]
        pool = cloud.call("CreateIpamPool", {"IpamScopeId": scope, "PoolRegionId": HZ})["IpamPoolId"]
        refused(cloud, "OperationDenied.AvailableCidrInsufficient", "AddIpamPoolCidr",
                {"IpamPoolId": pool, "NetmaskLength": 46})
        assert cloud.call("AddIpamPoolCidr", {"IpamPoolId": pool, "NetmaskLength": 47})["Cidr"] == "2408:4000::/47"


def test_delete_vpc_releases_every_allocation(pools, cloud):
    vpc_id = new_vpc(cloud, Ipv4IpamPoolId=pools["v4"], Ipv4CidrMask=16, Ipv6IpamPoolId=pools["v6"])
    cloud.call("AssociateVpcCidrBlock", {"VpcId": vpc_id, "IpamPoolId": pools["v4"], "SecondaryCidrMask": 16})
    assert len(allocs(cloud, pools["v4"])) == 2 and len(allocs(cloud, pools["v6"])) == 1
    cloud.call("DeleteVpc", {"VpcId": vpc_id, "RegionId": HZ})
    assert allocs(cloud, pools["v4"]) == [] and allocs(cloud, pools["v6"]) == []
    refused(cloud, "InvalidVpcId.NotFound", "DeleteVpc", {"VpcId": vpc_id}, 404)
    assert vpc(cloud, new_vpc(cloud, Ipv4IpamPoolId=pools["v4"], Ipv4CidrMask=16))["CidrBlock"] == "10.0.0.0/16"


def test_delete_vpc_refused_while_it_has_vswitches(cloud):
    vpc_id = new_vpc(cloud, CidrBlock="10.0.0.0/16")
    vsw = cloud.call("CreateVSwitch", {"VpcId": vpc_id, "ZoneId": "cn-hangzhou-h", "CidrBlock": "10.0.0.0/24"})
    refused(cloud, "DependencyViolation.VSwitch", "DeleteVpc", {"VpcId": vpc_id})
    cloud.call("DeleteVSwitch", {"VSwitchId": vsw["VSwitchId"]})
    cloud.call("DeleteVpc", {"VpcId": vpc_id})


def test_releasing_a_vpc_allocation_only_dissociates_it(pools, cloud):
    vpc_id = new_vpc(cloud, Ipv4IpamPoolId=pools["v4"], Ipv4CidrMask=16)
    alloc = cloud.call("ListIpamPoolAllocations", {"IpamPoolId": pools["v4"]})["IpamPoolAllocations"][0]
    cloud.call("DeleteIpamPoolAllocation", {"IpamPoolAllocationId": alloc["IpamPoolAllocationId"]})
    assert vpc(cloud, vpc_id)["CidrBlock"] == "10.0.0.0/16"
    assert allocs(cloud, pools["v4"]) == []
    cloud.call("DeleteVpc", {"VpcId": vpc_id})


def test_region_mismatch_hides_the_vpc(cloud):
    vpc_id = new_vpc(cloud, CidrBlock="10.0.0.0/16")
    refused(cloud, "InvalidVpcId.NotFound", "DeleteVpc", {"VpcId": vpc_id, "RegionId": SH}, 404)


# ---- secondary blocks -----------------------------------------------------------------------
def test_secondary_block_without_a_pool(cloud):
    vpc_id = new_vpc(cloud, CidrBlock="10.0.0.0/16")
    got = cloud.call("AssociateVpcCidrBlock", {"VpcId": vpc_id, "RegionId": HZ, "SecondaryCidrBlock": "10.1.0.0/16"})
    assert (got["CidrBlock"], got["IpVersion"]) == ("10.1.0.0/16", "IPV4")
    assert vpc(cloud, vpc_id)["SecondaryCidrBlocks"] == {"SecondaryCidrBlock": ["10.1.0.0/16"]}
    for block in ("10.0.128.0/17", "10.1.0.0/24", "10.0.0.0/8"):
        refused(cloud, "InvalidCidrBlock.Overlapped", "AssociateVpcCidrBlock", {"VpcId": vpc_id, "SecondaryCidrBlock": block})
    refused(cloud, "InvalidCidrBlock.Malformed", "AssociateVpcCidrBlock", {"VpcId": vpc_id, "SecondaryCidrBlock": "11.0.0.0/29"})
    refused(cloud, "MissingParameter.SecondaryCidrBlock", "AssociateVpcCidrBlock", {"VpcId": vpc_id, "SecondaryCidrMask": 16})


def test_secondary_block_from_a_pool_avoids_the_vpcs_blocks(pools, cloud):
    vpc_id = new_vpc(cloud, CidrBlock="10.0.0.0/16")  # inside the pool's range but not from it
    got = cloud.call("AssociateVpcCidrBlock", {"VpcId": vpc_id, "IpamPoolId": pools["v4"], "SecondaryCidrMask": 16})
    assert got["CidrBlock"] == "10.1.0.0/16"
    assert allocs(cloud, pools["v4"]) == [("10.1.0.0/16", "VPC", vpc_id)]
    explicit = cloud.call("AssociateVpcCidrBlock", {"VpcId": vpc_id, "IpamPoolId": pools["v4"],
                                                    "SecondaryCidrBlock": "10.7.0.0/16", "IpVersion": "ipv4"})
    assert explicit["CidrBlock"] == "10.7.0.0/16"
    refused(cloud, "InvalidCidrBlock.Overlapped", "AssociateVpcCidrBlock",
            {"VpcId": vpc_id, "IpamPoolId": pools["v4"], "SecondaryCidrBlock": "10.0.0.0/16"})
    refused(cloud, "OperationDenied.CidrUnavailableInPool", "AssociateVpcCidrBlock",
            {"VpcId": new_vpc(cloud, CidrBlock="192.168.0.0/16"), "IpamPoolId": pools["v4"],
             "SecondaryCidrBlock": "10.1.0.0/16"})


def test_secondary_block_pool_checks(pools, cloud):
    vpc_id = new_vpc(cloud, CidrBlock="192.168.0.0/16")
    refused(cloud, "OperationDenied.IpamPoolNotInRegion", "AssociateVpcCidrBlock",
            {"VpcId": vpc_id, "IpamPoolId": pools["loose"], "SecondaryCidrMask": 16})
    refused(cloud, "OperationDenied.MaskOfCidrIsNotAllowed", "AssociateVpcCidrBlock",
            {"VpcId": vpc_id, "IpamPoolId": pools["v4"], "SecondaryCidrMask": 26})
    refused(cloud, "MissingParam.CidrOrCidrMask", "AssociateVpcCidrBlock", {"VpcId": vpc_id, "IpamPoolId": pools["v4"]})
    refused(cloud, "InvalidParameter.IpVersion", "AssociateVpcCidrBlock",
            {"VpcId": vpc_id, "SecondaryCidrBlock": "10.0.0.0/16", "IpVersion": "IPV5"})


def test_ipv6_block_association(pools, cloud):
    vpc_id = new_vpc(cloud, CidrBlock="192.168.0.0/16")
    got = cloud.call("AssociateVpcCidrBlock", {"VpcId": vpc_id, "IpamPoolId": pools["v6"], "IpVersion": "ipv6",
                                               "Ipv6CidrMask": 56})
    assert (got["CidrBlock"], got["IpVersion"]) == ("2408:4000::/56", "IPV6")
    assert allocs(cloud, pools["v6"]) == [("2408:4000::/56", "VPC", vpc_id)]
    auto = cloud.call("AssociateVpcCidrBlock", {"VpcId": vpc_id, "IpVersion": "IPV6"})
    assert auto["CidrBlock"] == "2408:8000::/56"
    blocks = [e["Ipv6CidrBlock"] for e in vpc(cloud, vpc_id)["Ipv6CidrBlocks"]["Ipv6CidrBlock"]]
    assert blocks == ["2408:4000::/56", "2408:8000::/56"]
    refused(cloud, "InvalidParameter.IpVersion", "AssociateVpcCidrBlock",
            {"VpcId": vpc_id, "IpamPoolId": pools["v4"], "IpVersion": "IPV6"})


def test_unassociate_rules(pools, cloud):
    vpc_id = new_vpc(cloud, CidrBlock="192.168.0.0/16", Ipv6IpamPoolId=pools["v6"])
    cloud.call("AssociateVpcCidrBlock", {"VpcId": vpc_id, "IpamPoolId": pools["v4"], "SecondaryCidrMask": 16})
    refused(cloud, "OperationDenied.PrimaryCidrBlock", "UnassociateVpcCidrBlock",
            {"VpcId": vpc_id, "SecondaryCidrBlock": "192.168.0.0/16"})
    refused(cloud, "InvalidCidrBlock.NotFound", "UnassociateVpcCidrBlock",
            {"VpcId": vpc_id, "SecondaryCidrBlock": "10.9.0.0/16"}, 404)
    refused(cloud, "MissingParameter.SecondaryCidrBlock", "UnassociateVpcCidrBlock", {"VpcId": vpc_id})
    vsw = cloud.call("CreateVSwitch", {"VpcId": vpc_id, "ZoneId": "cn-hangzhou-i", "CidrBlock": "10.0.3.0/24",
                                       "Ipv6CidrBlock": 1})["VSwitchId"]
    refused(cloud, "DependencyViolation.VSwitch", "UnassociateVpcCidrBlock",
            {"VpcId": vpc_id, "SecondaryCidrBlock": "10.0.0.0/16"})
    refused(cloud, "DependencyViolation.VSwitch", "UnassociateVpcCidrBlock",
            {"VpcId": vpc_id, "IPv6CidrBlock": "2408:4000::/56"})
    cloud.call("DeleteVSwitch", {"VSwitchId": vsw})
    cloud.call("UnassociateVpcCidrBlock", {"VpcId": vpc_id, "RegionId": HZ, "SecondaryCidrBlock": "10.0.0.0/16"})
    cloud.call("UnassociateVpcCidrBlock", {"VpcId": vpc_id, "IPv6CidrBlock": "2408:4000::/56"})
    row = vpc(cloud, vpc_id)
    assert row["SecondaryCidrBlocks"]["SecondaryCidrBlock"] == [] and row["Ipv6CidrBlocks"]["Ipv6CidrBlock"] == []
    assert allocs(cloud, pools["v4"]) == [] and allocs(cloud, pools["v6"]) == []


# ---- vSwitches ------------------------------------------------------------------------------
@pytest.fixture
def net(cloud):
    vpc_id = new_vpc(cloud, CidrBlock="10.0.0.0/16", EnableIpv6=True)
    cloud.call("AssociateVpcCidrBlock", {"VpcId": vpc_id, "SecondaryCidrBlock": "172.16.0.0/16"})
    return vpc_id


def vswitch(cloud, vpc_id, **params):
    return cloud.call("CreateVSwitch", {"VpcId": vpc_id, "ZoneId": "cn-hangzhou-h", **params})["VSwitchId"]


def test_create_and_describe_vswitches(net, cloud):
    a = vswitch(cloud, net, CidrBlock="10.0.0.0/24", Ipv6CidrBlock="0", VSwitchName="a")
    b = vswitch(cloud, net, CidrBlock="172.16.0.0/29", Ipv6CidrBlock=255)
    assert re.fullmatch(r"vsw-[0-9a-z]{17}", a)
    rows = cloud.call("DescribeVSwitches", {"VpcId": net})["VSwitches"]["VSwitch"]
    got = {r["VSwitchId"]: (r["CidrBlock"], r["Ipv6CidrBlock"], r["AvailableIpAddressCount"], r["ZoneId"], r["VpcId"])
           for r in rows}
    assert got == {a: ("10.0.0.0/24", "2408:8000::/64", 252, "cn-hangzhou-h", net),
                   b: ("172.16.0.0/29", "2408:8000:0:ff::/64", 4, "cn-hangzhou-h", net)}
    assert vpc(cloud, net)["VSwitchIds"] == {"VSwitchId": [a, b]}
    assert cloud.call("DescribeVSwitches", {"VSwitchId": b})["TotalCount"] == 1
    assert cloud.call("DescribeVSwitches", {"RegionId": SH})["TotalCount"] == 0


def test_vswitch_zone_must_be_in_the_vpcs_region(net, cloud):
    refused(cloud, "InvalidZoneId.NotFound", "CreateVSwitch",
            {"VpcId": net, "ZoneId": "cn-shanghai-b", "CidrBlock": "10.0.0.0/24"}, 404)
    refused(cloud, "InvalidVpcId.NotFound", "CreateVSwitch",
            {"VpcId": "vpc-nope", "ZoneId": "cn-hangzhou-h", "CidrBlock": "10.0.0.0/24"}, 404)


@pytest.mark.parametrize("block", ["10.0.0.0/30", "10.0.0.0/15", "10.0.0.1/24"])
def test_vswitch_mask_range(net, cloud, block):
    refused(cloud, "InvalidCidrBlock.Malformed", "CreateVSwitch", {"VpcId": net, "ZoneId": "cn-hangzhou-h", "CidrBlock": block})


def test_vswitch_inside_the_vpc_and_not_overlapping(net, cloud):
    refused(cloud, "InvalidCidrBlock.NotInVpc", "CreateVSwitch",
            {"VpcId": net, "ZoneId": "cn-hangzhou-h", "CidrBlock": "192.168.0.0/24"})
    vswitch(cloud, net, CidrBlock="10.0.0.0/24")
    refused(cloud, "InvalidCidrBlock.Overlapped", "CreateVSwitch",
            {"VpcId": net, "ZoneId": "cn-hangzhou-h", "CidrBlock": "10.0.0.128/25"})
    assert cloud.call("DescribeVSwitches", {"VpcId": net})["TotalCount"] == 1
    other = new_vpc(cloud, CidrBlock="10.0.0.0/16")
    vswitch(cloud, other, CidrBlock="10.0.0.0/24")  # another VPC's vSwitches do not matter


def test_vswitch_by_mask_takes_the_lowest_free_block(net, cloud):
    vswitch(cloud, net, CidrBlock="10.0.0.0/24")
    got = vswitch(cloud, net, CidrMask=24)
    assert cloud.call("DescribeVSwitches", {"VSwitchId": got})["VSwitches"]["VSwitch"][0]["CidrBlock"] == "10.0.1.0/24"
    refused(cloud, "MissingParameter.CidrBlock", "CreateVSwitch", {"VpcId": net, "ZoneId": "cn-hangzhou-h"})
    small = new_vpc(cloud, CidrBlock="10.0.0.0/28")
    assert {vswitch(cloud, small, CidrMask=29) for _ in range(2)}
    refused(cloud, "InvalidCidrBlock.Insufficient", "CreateVSwitch", {"VpcId": small, "ZoneId": "cn-hangzhou-h", "CidrMask": 29})


def test_vswitch_ipv6_index_rules(net, cloud):
    vswitch(cloud, net, CidrBlock="10.0.0.0/24", Ipv6CidrBlock=7)
    refused(cloud, "InvalidCidrBlock.Overlapped", "CreateVSwitch",
            {"VpcId": net, "ZoneId": "cn-hangzhou-h", "CidrBlock": "10.0.1.0/24", "Ipv6CidrBlock": "7"})
    refused(cloud, "InvalidParameter.Ipv6CidrBlock", "CreateVSwitch",
            {"VpcId": net, "ZoneId": "cn-hangzhou-h", "CidrBlock": "10.0.1.0/24", "Ipv6CidrBlock": 256})
    cloud.call("AssociateVpcCidrBlock", {"VpcId": net, "IpVersion": "IPv6"})  # a second IPv6 block
    second = vswitch(cloud, net, CidrBlock="10.0.2.0/24", Ipv6CidrBlock=7, VpcIpv6CidrBlock="2408:8000:0:100::/56")
    row = cloud.call("DescribeVSwitches", {"VSwitchId": second})["VSwitches"]["VSwitch"][0]
    assert row["Ipv6CidrBlock"] == "2408:8000:0:107::/64"
    refused(cloud, "InvalidParameter.VpcIpv6CidrBlock", "CreateVSwitch",
            {"VpcId": net, "ZoneId": "cn-hangzhou-h", "CidrBlock": "10.0.3.0/24", "Ipv6CidrBlock": 1,
             "VpcIpv6CidrBlock": "2408:8000:0:200::/56"})
    plain = new_vpc(cloud, CidrBlock="10.0.0.0/16")
    refused(cloud, "OperationDenied.VpcIpv6NotEnabled", "CreateVSwitch",
            {"VpcId": plain, "ZoneId": "cn-hangzhou-h", "CidrBlock": "10.0.1.0/24", "Ipv6CidrBlock": 1})


def test_delete_vswitch(net, cloud):
    vsw = vswitch(cloud, net, CidrBlock="10.0.0.0/24")
    cloud.call("DeleteVSwitch", {"VSwitchId": vsw})
    refused(cloud, "InvalidVSwitchId.NotFound", "DeleteVSwitch", {"VSwitchId": vsw}, 404)
    vswitch(cloud, net, CidrBlock="10.0.0.0/24")  # the block is free again
