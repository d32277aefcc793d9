"""Regions and zones in the sandbox (issue 17, items 10 and 11): every call naming a region is
checked against the region table (``InvalidRegionId.NotFound``, 404) before its handler runs, and
a vSwitch takes the zone ids of its region in both forms (``cn-hangzhou-h``, ``ap-southeast-1a``)."""

from __future__ import annotations

import pytest

from reconciler.cloud.sandbox import SandboxCloud
from tests.support.sandbox import refused


@pytest.mark.parametrize("action, params", [
    ("CreateVpc", {"RegionId": "mars-1", "CidrBlock": "10.0.0.0/16"}),
    ("CreateVpc", {"RegionId": "cn-hangzhou\u200b", "CidrBlock": "10.0.0.0/16"}),
    ("CreateVpc", {"RegionId": "CN-HANGZHOU", "CidrBlock": "10.0.0.0/16"}),
    ("CreateIpam", {"RegionId": "cn-hangzhou", "OperatingRegionList.1": "cn-hangzhou",
                    "OperatingRegionList.2": "moon-2"}),
    ("DescribeVpcs", {"RegionId": "mars-1"}),
])
def test_an_unknown_region_is_refused_on_every_call(cloud: SandboxCloud, action, params):
    err = refused(cloud, "InvalidRegionId.NotFound", action, params, 404)
    assert "region table" in err.message
    assert cloud.call("DescribeVpcs", {"RegionId": "cn-hangzhou"})["TotalCount"] == 0  # nothing was made


def test_a_pool_region_is_checked_too(cloud: SandboxCloud):
    ipam = cloud.call("CreateIpam", {"RegionId": "cn-hangzhou"})
    refused(cloud, "InvalidRegionId.NotFound", "CreateIpamPool",
            {"IpamScopeId": ipam["PrivateDefaultScopeId"], "PoolRegionId": "cn-hangzhou-1"}, 404)


@pytest.mark.parametrize("region, zone", [
    ("ap-southeast-1", "ap-southeast-1a"), ("eu-central-1", "eu-central-1a"), ("cn-hangzhou", "cn-hangzhou-h"),
    ("us-east-1", "us-east-1b"), ("cn-hongkong", "cn-hongkong-d"), ("me-central-1", "me-central-1a"),
])
def test_real_zone_ids_are_taken(cloud: SandboxCloud, region, zone):
    vpc = cloud.call("CreateVpc", {"RegionId": region, "CidrBlock": "10.0.0.0/16"})["VpcId"]
    vsw = cloud.call("CreateVSwitch", {"VpcId": vpc, "ZoneId": zone, "CidrBlock": "10.0.0.0/24"})["VSwitchId"]
    assert cloud.call("DescribeVSwitches", {"VSwitchId": vsw})["VSwitches"]["VSwitch"][0]["ZoneId"] == zone


@pytest.mark.parametrize("region, zone", [
    ("ap-southeast-1", "ap-southeast-1-a"), ("ap-southeast-1", "ap-southeast-10a"), ("ap-southeast-1", "ap-southeast-1"),
    ("cn-hangzhou", "cn-hangzhouh"), ("cn-hangzhou", "cn-hangzhou-hh"), ("cn-hangzhou", "cn-shanghai-b"),
    ("cn-hangzhou", "cn-hangzhou-H"),
])
def test_zone_ids_of_no_zone_of_the_region_are_refused(cloud: SandboxCloud, region, zone):
    vpc = cloud.call("CreateVpc", {"RegionId": region, "CidrBlock": "10.0.0.0/16"})["VpcId"]
    refused(cloud, "InvalidZoneId.NotFound", "CreateVSwitch", {"VpcId": vpc, "ZoneId": zone, "CidrBlock": "10.0.0.0/24"},
            404)
