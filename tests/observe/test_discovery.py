"""Resource discovery in the sandbox (Hosted / Not hosted, operating regions, the scope view's statuses),
auto-import (inside provisioned CIDRs only, not yet allocated only, default scope only, region required,
largest of overlapping, exactly one of identical) and the plan-time refusal of blocks that overlap
discovered CIDRs. Situations are built with `ipamctl sandbox call`; results are read the same way and
through `ipamctl plan`."""

from __future__ import annotations

import pytest

import json

from reconciler.cloud.sandbox import SandboxCloud
from reconciler.observe.discovery import discover
from tests.support.specs import BASE

pytestmark = pytest.mark.both_providers  # embedded, and through `sandbox serve` (tests/support/via.py)

AUTO = """\
ipam: {name: corp, region: cn-hangzhou, operating_regions: [cn-hangzhou, cn-shanghai]}
pools:
  root: {scope: private, ip_version: IPv4, cidrs: [10.0.0.0/8]}
  hz: {source: root, region: cn-hangzhou, cidrs: [10.0.0.0/11]}
  auto: {source: hz, cidrs: [10.1.0.0/16], auto_import: true, allocation: {min_mask: 16, max_mask: 24}}
  hz-prod:
    source: hz
    cidrs: [{mask: 17}]
    allocation: {min_mask: 16, default_mask: 20, max_mask: 24}
allocations:
  held: {pool: auto, cidr: 10.1.64.0/24}
vpcs:
  prod: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}
vswitches:
  prod-h: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 24}}
"""


def _ids(ws) -> dict:
    return {a: r["id"] for a, r in json.loads((ws.root / "state" / "state.json").read_text())["resources"].items()}


def _vpc(ws, cidr: str, region: str = "cn-hangzhou", **extra) -> str:
    rc, resp = ws.sandbox("CreateVpc", RegionId=region, CidrBlock=cidr, **extra)
    assert rc == 0, resp
    return resp["VpcId"]


def _list(ws, action: str, key: str, **params) -> list[dict]:
    rc, resp = ws.sandbox(action, MaxResults=100, **params)
    assert rc == 0, resp
    return resp[key]


def test_discovery_hosted_not_hosted_operating_regions_and_statuses(ws):
    ws.write("main.yaml", BASE)  # operating regions cn-hangzhou, cn-shanghai
    ws.run("apply", "--auto-approve", check=0)
    ids = _ids(ws)
    plain = _vpc(ws, "192.168.0.0/16")
    _, vsw = ws.sandbox("CreateVSwitch", VpcId=plain, ZoneId="cn-hangzhou-h", CidrBlock="192.168.1.0/24")
    overlapping = _vpc(ws, "10.0.0.0/20")  # the same block as vpc.prod, created without IPAM
    shanghai = _vpc(ws, "172.20.0.0/16", "cn-shanghai")
    beijing = _vpc(ws, "172.30.0.0/16", "cn-beijing")  # not an operating region: never discovered
    _, ipams = ws.sandbox("ListIpams")
    discovery = ipams["Ipams"][0]["DefaultResourceDiscoveryId"]

    rows = _list(ws, "ListIpamDiscoveredResource", "IpamDiscoveredResources", IpamResourceDiscoveryId=discovery,
                 RegionId="cn-hangzhou")
    status = {(r["ResourceId"], r["Cidr"]): (r["ManagementStatus"], r["IpamPoolId"]) for r in rows}
    assert status == {
        (ids["vpc.prod"], "10.0.0.0/20"): ("Hosted", ids["ipam_pool.hz-prod"]),
        (ids["vswitch.prod-h"], "10.0.0.0/24"): ("Hosted", ids["ipam_pool.hz-prod"]),
        (plain, "192.168.0.0/16"): ("Not hosted", ""),
        (vsw["VSwitchId"], "192.168.1.0/24"): ("Not hosted", ""),
        (overlapping, "10.0.0.0/20"): ("Not hosted", ""),
    }
    only_vpcs = _list(ws, "ListIpamDiscoveredResource", "IpamDiscoveredResources", IpamResourceDiscoveryId=discovery,
                      RegionId="cn-hangzhou", ResourceType="VPC")
    assert {r["ResourceType"] for r in only_vpcs} == {"VPC"} and len(only_vpcs) == 3
    sh = _list(ws, "ListIpamDiscoveredResource", "IpamDiscoveredResources", IpamResourceDiscoveryId=discovery,
               RegionId="cn-shanghai")
    assert [(r["ResourceId"], r["ManagementStatus"]) for r in sh] == [(shanghai, "Not hosted")]
    assert _list(ws, "ListIpamDiscoveredResource", "IpamDiscoveredResources", IpamResourceDiscoveryId=discovery,
                 RegionId="cn-beijing") == []
    rc, err = ws.sandbox("ListIpamDiscoveredResource", IpamResourceDiscoveryId="ipam-res-disco-nope",
                        RegionId="cn-hangzhou")
    assert rc == 1 and err["Code"] == "ResourceNotFound.IpamResourceDiscovery"

    # the scope view: management, overlap and compliance statuses, address counts, paging
    scope = ids["ipam_scope.private"]
    cidrs = {(r["ResourceId"], r["Cidr"]): r for r in _list(ws, "ListIpamResourceCidrs", "IpamResourceCidrs",
                                                            IpamScopeId=scope)}
    assert len(cidrs) == 6 and beijing not in {k[0] for k in cidrs}
    prod = cidrs[(ids["vpc.prod"], "10.0.0.0/20")]
    assert (prod["ManagementStatus"], prod["ComplianceStatus"], prod["OverlapStatus"]) == (
        "Managed", "Compliant", "Overlapping")
    assert prod["OverlapDetail"] == [{"OverlapResourceCidr": "10.0.0.0/20", "OverlapResourceId": overlapping,
                                      "OverlapResourceRegion": "cn-hangzhou"}]
    assert prod["IpCountDetail"] == {"TotalIpCount": 4096, "UsedIpCount": 256, "FreeIpCount": 3840}
    assert prod["IpUsage"] == "0.0625" and prod["IpamPoolId"] == ids["ipam_pool.hz-prod"]
    switch = cidrs[(ids["vswitch.prod-h"], "10.0.0.0/24")]
    assert switch["IpCountDetail"] == {"TotalIpCount": 256, "UsedIpCount": 4, "FreeIpCount": 252}  # system-reserved
    assert (switch["ManagementStatus"], switch["ComplianceStatus"], switch["OverlapStatus"]) == (
        "Managed", "Compliant", "Nonoverlapping")
    other = cidrs[(plain, "192.168.0.0/16")]
    assert (other["ManagementStatus"], other["ComplianceStatus"], other["IpamPoolId"]) == ("Unmanaged", "Unmanaged", "")
    rc, page = ws.sandbox("ListIpamResourceCidrs", IpamScopeId=scope, MaxResults=4)
    assert len(page["IpamResourceCidrs"]) == 4 and page["NextToken"] == "4" and page["TotalCount"] == 6
    in_pool = _list(ws, "ListIpamResourceCidrs", "IpamResourceCidrs", IpamPoolId=ids["ipam_pool.hz-prod"])
    assert {r["ResourceId"] for r in in_pool} == {ids["vpc.prod"], ids["vswitch.prod-h"]}
    assert _list(ws, "ListIpamResourceCidrs", "IpamResourceCidrs", IpamScopeId=ids["ipam_scope.public"]) == []

    # discover() reads the same through the client, for the report and the planner
    cloud = SandboxCloud(ws.root / "state" / "sandbox.db")
    try:
        found = discover(cloud, ["cn-hangzhou", "cn-shanghai", "cn-beijing"])
    finally:
        cloud.close()
    assert {(d.resource_id, d.cidr, d.management, d.scope_id) for d in found} == {
        (k[0], k[1], "Hosted" if r["IpamPoolId"] else "Not hosted", scope) for k, r in cidrs.items()} | {
        (shanghai, "172.20.0.0/16", "Not hosted", scope)}


def test_auto_import_rules(ws):
    ws.write("main.yaml", AUTO)
    ws.run("apply", "--auto-approve", check=0)
    ids = _ids(ws)
    auto, held = ids["ipam_pool.auto"], ids["ipam_pool_allocation.held"]
    largest = _vpc(ws, "10.1.0.0/18")
    smaller = _vpc(ws, "10.1.0.0/24")  # overlaps the largest: not imported
    twins = sorted([_vpc(ws, "10.1.128.0/24"), _vpc(ws, "10.1.128.0/24")])  # identical: exactly one, the lowest id
    narrow = _vpc(ws, "10.1.200.0/26")  # outside the pool's masks: imported, Noncompliant
    taken = _vpc(ws, "10.1.64.0/22")  # overlaps the custom allocation: not yet allocated only
    outside = _vpc(ws, "172.16.0.0/16")  # not inside the pool's provisioned CIDRs
    shanghai = _vpc(ws, "10.1.192.0/24", "cn-shanghai")  # discovered, but not the pool's region
    hosted = _vpc(ws, "10.1.96.0/24", Ipv4IpamPoolId=auto)  # already allocated from the pool
    # a pool with auto-import in a custom scope takes no part
    _, scope = ws.sandbox("CreateIpamScope", IpamId=ids["ipam.corp"])
    _, custom = ws.sandbox("CreateIpamPool", IpamScopeId=scope["IpamScopeId"], PoolRegionId="cn-hangzhou",
                           AutoImport="true")
    assert ws.sandbox("AddIpamPoolCidr", IpamPoolId=custom["IpamPoolId"], Cidr="172.16.0.0/12")[0] == 0
    # auto-import needs an effective region
    rc, err = ws.sandbox("CreateIpamPool", IpamScopeId=ids["ipam_scope.private"], AutoImport="true")
    assert rc == 1 and err["Code"] == "OperationDenied.AutoImportWithoutRegion"
    rc, err = ws.sandbox("UpdateIpamPool", IpamPoolId=custom["IpamPoolId"], AutoImport="true")  # has a region
    assert rc == 0

    rc, run = ws.sandbox("SandboxRunDiscovery")
    assert rc == 0
    assert [(r["ResourceId"], r["Cidr"], r["IpamPoolId"]) for r in run["Imported"]] == [
        (largest, "10.1.0.0/18", auto), (twins[0], "10.1.128.0/24", auto), (narrow, "10.1.200.0/26", auto)]
    skipped = {r["ResourceId"]: r["Reason"] for r in run["Skipped"]}
    assert skipped == {
        smaller: f"not free in the pool: overlaps 10.1.0.0/18 of {largest}",
        twins[1]: f"not free in the pool: overlaps 10.1.128.0/24 of {twins[0]}",
        taken: f"not free in the pool: overlaps 10.1.64.0/24 of {held}",
    }
    allocations = _list(ws, "ListIpamPoolAllocations", "IpamPoolAllocations", IpamPoolId=auto)
    assert {(a["ResourceType"], a["ResourceId"], a["Cidr"]) for a in allocations} == {
        ("Custom", "", "10.1.64.0/24"), ("VPC", hosted, "10.1.96.0/24"), ("VPC", largest, "10.1.0.0/18"),
        ("VPC", twins[0], "10.1.128.0/24"), ("VPC", narrow, "10.1.200.0/26")}
    assert _list(ws, "ListIpamPoolAllocations", "IpamPoolAllocations", IpamPoolId=custom["IpamPoolId"]) == []

    cidrs = {r["ResourceId"]: r for r in _list(ws, "ListIpamResourceCidrs", "IpamResourceCidrs",
                                               IpamScopeId=ids["ipam_scope.private"], ResourceType="VPC")}
    for vpc in (largest, twins[0], narrow, hosted):
        assert cidrs[vpc]["ManagementStatus"] == "Managed" and cidrs[vpc]["IpamPoolId"] == auto
    for vpc in (smaller, twins[1], taken, outside, shanghai):
        assert cidrs[vpc]["ManagementStatus"] == "Unmanaged" and cidrs[vpc]["ComplianceStatus"] == "Unmanaged"
    assert cidrs[largest]["ComplianceStatus"] == "Compliant" and cidrs[narrow]["ComplianceStatus"] == "Noncompliant"
    _, ipams = ws.sandbox("ListIpams")
    rows = _list(ws, "ListIpamDiscoveredResource", "IpamDiscoveredResources", RegionId="cn-hangzhou",
                 IpamResourceDiscoveryId=ipams["Ipams"][0]["DefaultResourceDiscoveryId"])
    assert {r["ResourceId"]: r["ManagementStatus"] for r in rows}[largest] == "Hosted"

    # a second run imports nothing more
    rc, again = ws.sandbox("SandboxRunDiscovery", IpamId=ids["ipam.corp"])
    assert rc == 0 and again["Imported"] == [] and {r["ResourceId"] for r in again["Skipped"]} == set(skipped)


def test_plan_refuses_blocks_overlapping_discovered_cidrs(ws):
    # (the refusal of a Not hosted overlap is the spec's choice: ipam.discovered_overlaps: refuse; the
    # default, a warning, is tests/rules/test_discovered_overlaps.py)
    ws.write("main.yaml", BASE.replace("operating_regions: [cn-hangzhou, cn-shanghai]}",
                                       "operating_regions: [cn-hangzhou, cn-shanghai], discovered_overlaps: refuse}"))
    ws.run("apply", "--auto-approve", check=0)
    ids = _ids(ws)
    # Not hosted: a VPC made without IPAM on the block the next plan would choose
    shadow = _vpc(ws, "10.0.16.0/20")
    ws.write("more.yaml", "vpcs:\n  extra: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}\n")
    proc = ws.run("plan")
    assert proc.returncode == 1
    assert (f"Error: specs/more.yaml:2: vpc.extra: OperationDenied.CidrOverlapWithDiscovered: 10.0.16.0/20 overlaps "
            f"10.0.16.0/20 of VPC {shadow} (Not hosted, cn-hangzhou), which resource discovery finds in "
            "ipam_scope.private") in proc.stderr
    err = json.loads(ws.run("plan", "--json").stdout)["errors"][0]
    assert (err["code"], err["address"], err["file"], err["line"]) == (
        "OperationDenied.CidrOverlapWithDiscovered", "vpc.extra", "specs/more.yaml", 2)
    # Hosted: a VPC allocated from the pool out of band; a custom allocation of the spec overlaps it. The
    # cloud itself refuses this (the pool has the block allocated): its own code, whatever the setting
    hosted = _vpc(ws, "10.0.32.0/20", Ipv4IpamPoolId=ids["ipam_pool.hz-prod"])
    ws.write("more.yaml", "allocations:\n  reserve: {pool: hz-prod, cidr: 10.0.32.0/22}\n")
    proc = ws.run("plan")
    assert proc.returncode == 1 and "ipam_pool_allocation.reserve: OperationDenied.CidrUnavailableInPool" \
        in proc.stderr and f"of VPC {hosted} (Hosted, cn-hangzhou)" in proc.stderr
    # another scope may overlap; a VPC given without a pool allocates nothing
    ws.write("more.yaml", "scopes:\n  other: {}\npools:\n  other-root: {scope: other, cidrs: [10.0.0.0/16]}\n"
             "allocations:\n  mirror: {pool: other-root, cidr: 10.0.16.0/20}\n"
             "vpcs:\n  own: {region: cn-hangzhou, ipv4: {cidr: 10.0.16.0/20}}\n")
    assert ws.run("plan", "--detailed-exitcode").returncode == 2
    # a block the state already holds is not new: nothing is refused for it
    ws.remove("more.yaml")
    assert ws.run("plan", "--detailed-exitcode").returncode == 0
    # once the out-of-band VPCs are gone, the block can be planned
    for vpc in (shadow, hosted):
        assert ws.sandbox("DeleteVpc", VpcId=vpc)[0] == 0
    ws.write("more.yaml", "vpcs:\n  extra: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}\n")
    assert "10.0.16.0/20" in ws.run("plan", check=0).stdout


def test_plan_refusal_before_the_ipam_exists(ws):
    # no IPAM yet, so no resource discovery: the regions are read directly, every CIDR Not hosted
    shadow = _vpc(ws, "10.0.0.0/16")
    ws.write("main.yaml", BASE.replace("cn-shanghai]}", "cn-shanghai], discovered_overlaps: refuse}"))
    proc = ws.run("plan")
    assert proc.returncode == 1 and f"10.0.0.0/20 overlaps 10.0.0.0/16 of VPC {shadow} (Not hosted" in proc.stderr
    ws.write("main.yaml", BASE)  # the default: a warning, and the plan stands
    proc = ws.run("plan", check=0)
    assert f"Warning: specs/main.yaml:10: vpc.prod: Warning.CidrOverlapWithDiscovered: 10.0.0.0/20 overlaps " \
        f"10.0.0.0/16 of VPC {shadow} (Not hosted" in proc.stdout
