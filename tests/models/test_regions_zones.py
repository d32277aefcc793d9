"""Regions and zones at plan time (issue 17, items 10 and 11): region ids come from the shipped
region table (``InvalidRegionId.NotFound`` otherwise, at the line of the region), and a vSwitch takes
the real zone ids of its VPC's region, international (``ap-southeast-1a``) and Chinese (``cn-hangzhou-h``)."""

from __future__ import annotations

import pytest

from reconciler.errors import ReconcilerError, flatten
from tests.support.specs import codes, errors, plan


def _net(region: str, zone: str) -> str:
    return f"""\
ipam: {{name: corp, region: {region}}}
pools:
  root: {{scope: private, ip_version: IPv4, region: {region}, cidrs: [10.0.0.0/8]}}
vpcs:
  app: {{region: {region}, ipv4: {{pool: root, mask: 16}}}}
vswitches:
  a: {{vpc: app, zone: {zone}, cidr: {{mask: 24}}}}
"""


@pytest.mark.parametrize("region, zone", [
    ("ap-southeast-1", "ap-southeast-1a"), ("eu-central-1", "eu-central-1a"), ("cn-hangzhou", "cn-hangzhou-h"),
    ("me-central-1", "me-central-1b"), ("us-west-1", "us-west-1a"),
])
def test_real_zone_ids_plan(tmp_path, region, zone):
    p = plan(tmp_path, _net(region, zone))
    assert p.desired["vswitch.a"]["attributes"]["zone"] == zone


@pytest.mark.parametrize("region, zone", [
    ("ap-southeast-1", "ap-southeast-1-a"), ("cn-hangzhou", "cn-shanghai-b"), ("ap-southeast-1", "ap-southeast-10a"),
])
def test_zone_ids_of_another_region_are_refused(tmp_path, region, zone):
    assert codes(tmp_path, _net(region, zone)) == ["InvalidZoneId.NotFound"]


@pytest.mark.parametrize("region", ["mars-1", "cn-hangzhou\u200b", "Cn-Hangzhou", "cn-hangzhou "])
def test_an_unknown_region_is_refused_where_it_is_written(tmp_path, region):
    text = f'vpcs:\n  x: {{region: "{region}", ipv4: {{cidr: 10.0.0.0/16}}}}\n'
    found = errors(tmp_path, text)
    assert [(e.code, e.line) for e in found] == [("InvalidRegionId.NotFound", 2)], found
    assert "region table" in found[0].message


def test_every_region_field_is_checked(tmp_path):
    text = """\
ipam: {name: corp, region: mars-1, operating_regions: [cn-hangzhou, moon-2]}
pools:
  root: {scope: private, ip_version: IPv4, region: venus-3, cidrs: [10.0.0.0/8]}
"""
    found = errors(tmp_path, text)
    where = sorted(w for e in found for w in ("ipam.operating_regions.1:", "ipam.region:", "pools.root.region:")
                   if w in e.message)
    assert where == ["ipam.operating_regions.1:", "ipam.region:", "pools.root.region:"]
    assert {e.code for e in found} == {"InvalidRegionId.NotFound"}
