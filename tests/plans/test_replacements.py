"""Item 1 of issue 17: only what the cloud cannot change in place forces a replacement, and the plan
says which attribute does. A VPC block that keeps its CIDR and leaves its pool is released in place
(DeleteIpamPoolAllocation: "Releasing a VPC allocation only dissociates the VPC from the IPAM pool.
This action does not delete the VPC itself."); a changed CIDR is still a replacement."""

from __future__ import annotations

import json

from reconciler.cli.render import render_plan
from reconciler.plans import planfile
from reconciler.plans.diff import FORCES_NEW, ChangeKind, replace_paths
from tests.support.specs import converge, plan

SPEC = """\
ipam: {name: corp, region: cn-hangzhou, operating_regions: [cn-hangzhou]}
pools:
  root: {scope: private, ip_version: IPv4, cidrs: [10.0.0.0/8]}
  hz: {source: root, region: cn-hangzhou, cidrs: [10.0.0.0/11], allocation: {min_mask: 16, max_mask: 24}}
vpcs:
  app: {region: cn-hangzhou, ipv4: {pool: hz, mask: 20}, secondary_cidrs: [{pool: hz, mask: 20}]}
vswitches:
  app-h: {vpc: app, zone: cn-hangzhou-h, cidr: {mask: 24}}
"""
PRIMARY_OUT = SPEC.replace("ipv4: {pool: hz, mask: 20}", "ipv4: {cidr: 10.0.0.0/20}")
BOTH_OUT = PRIMARY_OUT.replace("secondary_cidrs: [{pool: hz, mask: 20}]", "secondary_cidrs: [{cidr: 10.0.16.0/20}]")
MOVED = SPEC.replace("ipv4: {pool: hz, mask: 20}", "ipv4: {cidr: 10.0.32.0/20}")


def _replan(tmp_path, text):
    first = plan(tmp_path, SPEC)
    return plan(tmp_path, text, recorded=converge(first), serial=1)


def test_leaving_the_pool_is_an_in_place_release(tmp_path):
    p = _replan(tmp_path, PRIMARY_OUT)
    assert [(c.address, c.kind, c.replace_reasons) for c in p.changes] == [("vpc.app", ChangeKind.UPDATE, ())]
    assert [(a.action.value, a.address, a.cidr, a.api) for a in p.actions] == [
        ("release", "vpc.app", "10.0.0.0/20", "DeleteIpamPoolAllocation")]
    assert p.actions[0].before == {"pool": "hz", "cidr": "10.0.0.0/20"}
    [rc] = planfile.resource_changes(p)
    assert rc["change"]["actions"] == ["update"] and rc["action_reason"] is None
    assert rc["change"]["replace_paths"] == []


def test_a_secondary_block_leaving_its_pool_is_released_too(tmp_path):
    p = _replan(tmp_path, BOTH_OUT)
    assert [(a.action.value, a.cidr, a.api) for a in p.actions] == [
        ("release", "10.0.0.0/20", "DeleteIpamPoolAllocation"), ("release", "10.0.16.0/20", "DeleteIpamPoolAllocation")]
    assert [c.kind for c in p.changes] == [ChangeKind.UPDATE]


def test_a_changed_cidr_is_a_replacement_that_says_why(tmp_path):
    p = _replan(tmp_path, MOVED)
    kinds = {c.address: (c.kind, c.replace_reasons) for c in p.changes}
    assert kinds["vpc.app"] == (ChangeKind.REPLACE, ("ipv4.cidr changes",))
    assert kinds["vswitch.app-h"][0] is ChangeKind.REPLACE
    rc = {r["address"]: r for r in planfile.resource_changes(p)}
    assert rc["vpc.app"]["action_reason"] == "replace_because_cannot_update"
    assert rc["vpc.app"]["change"]["replace_paths"] == [["ipv4", "cidr"]]
    assert rc["vpc.app"]["change"]["actions"] == ["delete", "create"]
    text = render_plan(p)
    assert "-/+ vpc.app must be replaced (ipv4.cidr changes)\n        # forces replacement: ipv4.cidr\n" in text
    assert ("DeleteVpc", "10.0.0.0/20") in [(a.api, a.cidr) for a in p.actions]


def test_forces_new_paths():
    vpc = {"region": "r", "ipv4": {"pool": "hz", "cidr": "10.0.0.0/20"}}
    out = {"region": "r", "ipv4": {"pool": None, "cidr": "10.0.0.0/20"}}
    assert replace_paths("vpc", vpc, out, ("ipv4",)) == ()  # leaving the pool: in place
    assert replace_paths("vpc", out, vpc, ("ipv4",)) == ("ipv4.pool",)  # no API puts a VPC into a pool
    other = {"region": "r", "ipv4": {"pool": "sh", "cidr": "10.0.0.0/20"}}
    assert replace_paths("vpc", vpc, other, ("ipv4",)) == ("ipv4.pool",)
    assert replace_paths("vpc", vpc, {**vpc, "description": "x"}, ("description",)) == ()
    assert "ipv4" not in FORCES_NEW["vpc"]


def test_release_applies_in_place_and_the_vpc_is_not_hosted(ws):
    ws.write("main.yaml", SPEC)
    ws.run("apply", "--auto-approve", check=0)
    before = json.loads((ws.root / "state" / "state.json").read_text())["resources"]
    ws.write("main.yaml", PRIMARY_OUT)
    doc = ws.json("plan")
    assert [(a["action"], a["api"]) for a in doc["actions"]] == [("release", "DeleteIpamPoolAllocation")]
    ws.run("apply", "--auto-approve", check=0)
    after = json.loads((ws.root / "state" / "state.json").read_text())["resources"]
    assert after["vpc.app"]["id"] == before["vpc.app"]["id"]
    assert after["vswitch.app-h"]["id"] == before["vswitch.app-h"]["id"]
    assert after["vpc.app"]["attributes"]["ipv4"] == {"pool": None, "cidr": "10.0.0.0/20"}
    assert "No changes" in ws.run("plan", check=0).stdout
    _, vpcs = ws.sandbox("DescribeVpcs", RegionId="cn-hangzhou")
    assert [v["VpcId"] for v in vpcs["Vpcs"]["Vpc"]] == [before["vpc.app"]["id"]]
    _, allocs = ws.sandbox("ListIpamPoolAllocations", MaxResults=100)
    vpc_allocs = [(a["ResourceId"], a["Cidr"]) for a in allocs["IpamPoolAllocations"] if a["ResourceType"] == "VPC"]
    assert vpc_allocs == [(before["vpc.app"]["id"], "10.0.16.0/20")]  # the secondary is still in the pool
    _, ipams = ws.sandbox("ListIpams")
    _, found = ws.sandbox("ListIpamDiscoveredResource", MaxResults=100, RegionId="cn-hangzhou",
                          IpamResourceDiscoveryId=ipams["Ipams"][0]["DefaultResourceDiscoveryId"])
    status = {r["Cidr"]: r["ManagementStatus"] for r in found["IpamDiscoveredResources"] if r["ResourceType"] == "VPC"}
    assert status == {"10.0.0.0/20": "Not hosted", "10.0.16.0/20": "Hosted"}
    # and a real replacement still works: a new CIDR for the block that left the pool
    ws.write("main.yaml", PRIMARY_OUT.replace("10.0.0.0/20", "10.0.32.0/20"))
    text = ws.run("plan", check=0).stdout
    assert "# forces replacement: ipv4.cidr" in text
    ws.run("apply", "--auto-approve", check=0)
    again = json.loads((ws.root / "state" / "state.json").read_text())["resources"]
    assert again["vpc.app"]["id"] != before["vpc.app"]["id"]
    assert "No changes" in ws.run("plan", check=0).stdout
