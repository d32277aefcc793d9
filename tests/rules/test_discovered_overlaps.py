"""Item 7 of issue 17: a new pool block overlapping a Not hosted discovered CIDR is a plan warning by
default (the cloud allocates over it), refused when the spec says ``ipam: {discovered_overlaps: refuse}``;
a Hosted overlap is refused always, with the cloud's own code. Warnings travel with the plan: its JSON,
its text, the saved plan file read back by apply."""

from __future__ import annotations

import orjson
import pytest

from reconciler.errors import ReconcilerError, flatten
from reconciler.net.discovered import DiscoveredCidr
from reconciler.planner import make_plan
from reconciler.plans import planfile
from reconciler.cli.render import render_plan
from tests.support.specs import BASE, converge, load, plan

NOT_HOSTED = DiscoveredCidr("cn-hangzhou", "VPC", "vpc-shadow", "10.0.0.0/20", "vpc-shadow")
HOSTED = DiscoveredCidr("cn-hangzhou", "VPC", "vpc-hosted", "10.0.0.0/20", "vpc-hosted", pool_id="ipam-pool-x")
REFUSE = BASE.replace("cn-shanghai]}", "cn-shanghai], discovered_overlaps: refuse}")


def _plan(tmp_path, text, discovered):
    return make_plan(load(tmp_path, text), {}, lineage=None, serial=0, discovered=discovered)


def _codes(tmp_path, text, discovered):
    try:
        _plan(tmp_path, text, discovered)
    except ReconcilerError as exc:
        return [(e.code, e.address, e.file, e.line) for e in flatten(exc)]
    return []


def test_not_hosted_overlap_is_a_warning_by_default(tmp_path):
    plan = _plan(tmp_path, BASE, [NOT_HOSTED])
    assert plan.has_changes
    [w] = plan.warnings
    assert (w.code, w.address, w.line) == ("Warning.CidrOverlapWithDiscovered", "vpc.prod", 10)
    assert w.file.endswith("00.yaml")
    assert "10.0.0.0/20 overlaps 10.0.0.0/20 of VPC vpc-shadow (Not hosted, cn-hangzhou)" in w.message
    doc = planfile.load_document(planfile.to_json(plan))
    assert doc["warnings"] == [w.to_dict()] and set(doc["warnings"][0]) == {"code", "address", "file", "line", "message"}
    assert planfile.to_document(plan)["warnings"] == doc["warnings"]
    assert f"\nWarning: {w.message}\n" in render_plan(plan)


def test_warnings_survive_the_saved_plan(tmp_path):
    plan = _plan(tmp_path, BASE, [NOT_HOSTED])
    back, _ = planfile.from_json(planfile.to_json(plan), path="p.tfplan", lineage=None, serial=0)
    assert back.warnings == plan.warnings
    # a plan saved before warnings existed (no key) still reads; an edited warning fails the checksum
    body = planfile.load_document(planfile.to_json(plan))
    del body["warnings"]
    body["checksum"] = planfile._checksum(body)
    assert planfile.from_json(orjson.dumps(body), path="p", lineage=None, serial=0)[0].warnings == ()
    edited = orjson.dumps(planfile.load_document(planfile.to_json(plan))).replace(b"Not hosted", b"Hosted")
    with pytest.raises(ReconcilerError, match="Plan.Tampered"):
        planfile.from_json(edited, path="p", lineage=None, serial=0)
    body = planfile.load_document(planfile.to_json(plan))
    body["warnings"] = [1]
    body["checksum"] = planfile._checksum(body)
    with pytest.raises(ReconcilerError, match="Plan.Unreadable"):
        planfile.from_json(orjson.dumps(body), path="p", lineage=None, serial=0)


def test_refuse_setting_refuses_not_hosted(tmp_path):
    [(code, address, file, line)] = _codes(tmp_path, REFUSE, [NOT_HOSTED])
    assert (code, address, line) == ("OperationDenied.CidrOverlapWithDiscovered", "vpc.prod", 10)


@pytest.mark.parametrize("text", [BASE, REFUSE])
def test_hosted_overlap_is_planned_around_or_refused_with_the_clouds_code(tmp_path, text):
    recorded = converge(plan(tmp_path, text))
    hosted = DiscoveredCidr("cn-hangzhou", "VPC", "vpc-hosted", "10.0.16.0/20", "vpc-hosted",
                            pool_id="id-ipam_pool.hz-prod")
    shadow = DiscoveredCidr("cn-hangzhou", "VPC", "vpc-shadow", "10.0.16.0/20", "vpc-shadow")
    # a block the plan chooses: the allocator goes around the pool's Hosted allocation (and so around
    # the Not hosted one on the same block): no error, no warning
    doc = load(tmp_path, text, "vpcs:\n  extra: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}\n")
    chosen = make_plan(doc, recorded, lineage=None, serial=1, discovered=[shadow, hosted])
    extra = chosen.desired[next(a for a in chosen.desired if str(a) == "vpc.extra")]
    assert extra["attributes"]["ipv4"]["cidr"] == "10.0.32.0/20"
    assert chosen.warnings == ()
    # a block the spec names: refused with the cloud's own code, naming the holder
    doc = load(tmp_path, text, "allocations:\n  reserve: {pool: hz-prod, cidr: 10.0.16.0/22}\n")
    with pytest.raises(ReconcilerError) as caught:
        make_plan(doc, recorded, lineage=None, serial=1, discovered=[shadow, hosted])
    [e] = flatten(caught.value)
    assert (e.code, e.address, e.line) == ("OperationDenied.CidrUnavailableInPool", "ipam_pool_allocation.reserve", 2)
    assert "of VPC vpc-hosted (Hosted, cn-hangzhou)" in e.detail


def test_no_overlap_no_warning(tmp_path):
    far = DiscoveredCidr("cn-hangzhou", "VPC", "vpc-far", "192.168.0.0/16", "vpc-far")
    assert _plan(tmp_path, BASE, [far]).warnings == ()


def test_setting_is_validated(tmp_path):
    bad = BASE.replace("cn-shanghai]}", "cn-shanghai], discovered_overlaps: maybe}")
    codes = [c for c, *_ in _codes(tmp_path, bad, [])]
    assert codes and all(c.startswith("Spec.") for c in codes)
