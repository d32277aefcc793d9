"""Issue 17 items 3, 8 and 23 (parts), judged at plan time from values: one IPAM per region against
the IPAMs the cloud lists, auto-import in a custom scope (accepted; it imports nothing), a VPC block
overlapping another block of the same VPC, and the allocation-rule mask judged before free space."""

from __future__ import annotations

import pytest

from reconciler.errors import ReconcilerError, flatten
from reconciler.planner import make_plan
from reconciler.rules.network import KnownIpam
from tests.support.specs import BASE, codes, converge, errors, load, plan

OTHER = KnownIpam("cn-hangzhou", "ipam-outofband")


def _plan_errors(doc, recorded=None, discovered=()) -> list[ReconcilerError]:
    try:
        make_plan(doc, recorded or {}, lineage=None, serial=0, discovered=discovered)
    except ReconcilerError as exc:
        return flatten(exc)
    return []


# ---- item 3: one IPAM per region ------------------------------------------------------------
def test_an_ipam_in_a_region_that_already_has_one_is_refused_at_plan_time(tmp_path):
    found = _plan_errors(load(tmp_path, BASE), discovered=[OTHER])
    assert [e.code for e in found] == ["QuotaExceeded.Ipam"]
    e = found[0]
    assert e.address == "ipam.corp"
    assert "ipam-outofband" in str(e) and "cn-hangzhou" in str(e)
    assert e.file is not None and e.line is not None  # points at the spec's ipam block


def test_the_recorded_ipam_and_other_regions_do_not_count(tmp_path):
    first = plan(tmp_path, BASE)
    recorded = converge(first)
    recorded["ipam.corp"]["id"] = "ipam-mine"
    # the state's own IPAM is listed by the cloud: no refusal
    assert _plan_errors(load(tmp_path, BASE), recorded, [KnownIpam("cn-hangzhou", "ipam-mine")]) == []
    # an IPAM managed in another region (even an operating region of the spec's) takes no quota here
    assert _plan_errors(load(tmp_path, BASE), discovered=[KnownIpam("cn-shanghai", "ipam-sh")]) == []
    # no IPAM in the spec: nothing to create
    assert _plan_errors(load(tmp_path, "# nothing\n"), discovered=[OTHER]) == []


def test_an_ipam_moving_to_a_region_that_has_one_is_refused(tmp_path):
    recorded = converge(plan(tmp_path, BASE))
    recorded["ipam.corp"]["id"] = "ipam-mine"
    moved = BASE.replace("region: cn-hangzhou, operating", "region: cn-shanghai, operating", 1)
    found = _plan_errors(load(tmp_path, moved), recorded,
                         [KnownIpam("cn-hangzhou", "ipam-mine"), KnownIpam("cn-shanghai", "ipam-sh")])
    assert "QuotaExceeded.Ipam" in [e.code for e in found]
    assert any("ipam-sh" in str(e) and "cn-shanghai" in str(e) for e in found)


# ---- item 8: auto-import in a custom scope ---------------------------------------------------
def test_auto_import_in_a_custom_scope_is_accepted(tmp_path):
    custom = ("scopes:\n  acq: {type: private}\npools:\n  a: {scope: acq, cidrs: [10.0.0.0/16]}\n"
              "  a1: {source: a, region: cn-hangzhou, auto_import: true, cidrs: [{mask: 17}]}\n")
    p = plan(tmp_path, BASE, custom)
    assert p.desired["ipam_pool.a1"]["attributes"]["auto_import"] is True
    # the effective-region rule still holds, in any scope
    no_region = custom.replace("a1: {source: a, region: cn-hangzhou,", "a1: {source: a,")
    assert codes(tmp_path, BASE, no_region) == ["OperationDenied.AutoImportWithoutRegion"]


# ---- item 23: a VPC block overlapping its own VPC; the mask rule before free space ------------
@pytest.mark.parametrize("vpc", [
    "{region: cn-hangzhou, ipv4: {cidr: 192.168.0.0/16}, secondary_cidrs: [{cidr: 192.168.0.0/16}]}",
    ("{region: cn-hangzhou, ipv4: {pool: hz-prod, cidr: 10.0.0.0/20}, "
     "secondary_cidrs: [{pool: hz-prod, cidr: 10.0.0.0/20}]}"),
    ("{region: cn-hangzhou, ipv4: {pool: hz-prod, cidr: 10.0.0.0/20}, "
     "secondary_cidrs: [{pool: hz-prod, cidr: 10.0.8.0/21}]}"),
])
def test_a_secondary_cidr_overlapping_the_primary_is_overlapped(tmp_path, vpc):
    spec = BASE.replace("{region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}", vpc)
    found = errors(tmp_path, spec)
    assert [(e.code, e.address) for e in found] == [("InvalidCidrBlock.Overlapped", "vpc.prod")], found
    assert "of the same VPC" in found[0].detail


def test_another_vpcs_block_in_the_pool_is_still_unavailable(tmp_path):
    spec = BASE.replace("vpcs:\n", "vpcs:\n  other: {region: cn-hangzhou, ipv4: {pool: hz-prod, cidr: 10.0.0.0/20}}\n"
                        ).replace("ipv4: {pool: hz-prod, mask: 20}}", "ipv4: {pool: hz-prod, cidr: 10.0.0.0/20}}")
    prod = [e.code for e in errors(tmp_path, spec) if e.address == "vpc.prod"]
    assert prod == ["OperationDenied.CidrUnavailableInPool"]


FULL = BASE.replace("vpcs:\n", "vpcs:\n  big: {region: cn-hangzhou, ipv4: {pool: hz-prod, cidr: 10.0.0.0/17}}\n")


def test_a_mask_below_min_mask_in_a_full_pool_is_not_allowed(tmp_path):
    # hz-prod is a /17 that vpc.big fills; /15 breaks the pool's rule (/16 to /24) before any space is sought
    spec = FULL.replace("prod: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}",
                        "prod: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 15}}")
    found = errors(tmp_path, spec)
    assert "OperationDenied.MaskOfCidrIsNotAllowed" in [e.code for e in found]
    prod = [e for e in found if e.address == "vpc.prod"]
    assert [e.code for e in prod] == ["OperationDenied.MaskOfCidrIsNotAllowed"], found
    assert "/15" in prod[0].detail and "/16 to /24" in prod[0].detail


def test_an_explicit_block_breaking_the_mask_rule_is_not_allowed_even_when_taken(tmp_path):
    spec = FULL.replace("prod: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}",
                        "prod: {region: cn-hangzhou, ipv4: {pool: hz-prod, cidr: 10.0.0.0/25}}")
    prod = [e for e in errors(tmp_path, spec) if e.address == "vpc.prod"]
    assert [e.code for e in prod] == ["OperationDenied.MaskOfCidrIsNotAllowed"], prod


def test_a_mask_breaking_the_rule_with_space_left_is_reported_once(tmp_path):
    spec = BASE.replace("ipv4: {pool: hz-prod, mask: 20}}", "ipv4: {pool: hz-prod, mask: 25}}") \
        .replace("cidr: {mask: 24}}", "cidr: {mask: 26}}")
    found = errors(tmp_path, spec)
    # one error for the VPC; its vSwitch still finds room in the block (no cascade of errors)
    assert [(e.code, e.address) for e in found] == [("OperationDenied.MaskOfCidrIsNotAllowed", "vpc.prod")], found


def test_a_custom_allocation_below_min_mask_in_a_full_pool(tmp_path):
    spec = FULL.replace("prod: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}\n", "") \
        .replace("vswitches:\n  prod-h: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 24}}\n", "")
    found = errors(tmp_path, spec, "allocations:\n  dc: {pool: hz-prod, mask: 14}\n")
    assert [(e.code, e.address) for e in found] == [
        ("OperationDenied.MaskOfCidrIsNotAllowed", "ipam_pool_allocation.dc")]
