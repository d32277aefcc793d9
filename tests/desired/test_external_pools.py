"""The core's side of ``external_pools:``: blocks chosen inside a pool another workspace manages, around
what is allocated there, under its allocation rules; the pool itself is never planned on."""

from __future__ import annotations

from reconciler.errors import ReconcilerError
from reconciler.net.cidr import Cidr
from reconciler.net.discovered import DiscoveredCidr
from reconciler.net.external import ExternalPool, TakenBlock
from reconciler.planner import make_plan, validate
from tests.support.specs import BASE, converge, load
from tests.support.specs import plan as plan_of

SPEC = ("external_pools:\n  shared: {workspace: network, pool: hz-prod}\n"
        "vpcs:\n  pay: {region: cn-hangzhou, ipv4: {pool: shared, mask: 20}}\n")
PID = "ipam-pool-shared01"


def pool(*taken: str, **rules) -> ExternalPool:
    return ExternalPool("shared", PID, "workspace network", "cn-hangzhou", "IPv4", (Cidr.parse("10.0.0.0/17"),),
                        tuple(TakenBlock(Cidr.parse(c), f"vpc.x{i} of workspace network") for i, c in enumerate(taken)),
                        **rules)


def plan(tmp_path, text=SPEC, recorded=None, **pools):
    return make_plan(load(tmp_path, text), recorded or {}, lineage=None, serial=0, external_pools=pools)


def flat_codes(exc: ReconcilerError) -> list[str]:
    from reconciler.errors import flatten

    return [e.code for e in flatten(exc)]


def test_the_lowest_free_block_around_what_is_taken_and_only_the_vpc_is_planned(tmp_path):
    got = plan(tmp_path, shared=pool("10.0.0.0/20", "10.0.32.0/19"))
    (create,) = got.actions
    assert (create.address, create.action.value) == ("vpc.pay", "create")
    assert create.after["ipv4"] == {"pool": "shared", "cidr": "10.0.16.0/20", "pool_id": PID}
    assert "external pool shared (ipam-pool-shared01, managed by workspace network)" in create.note


def test_this_workspace_s_own_block_listed_by_the_cloud_is_kept_not_avoided(tmp_path):
    first = plan(tmp_path, shared=pool())
    state = converge(first)  # 10.0.0.0/20, which the cloud then lists as allocated in the pool
    again = plan(tmp_path, recorded=state, shared=pool("10.0.0.0/20"))
    assert again.actions == ()


def test_the_pool_s_rules_and_default_mask(tmp_path):
    text = SPEC.replace("mask: 20", "mask: 26")
    try:
        plan(tmp_path, text, shared=pool(min_mask=16, max_mask=24))
        raise AssertionError("a /26 is outside the pool's rules")
    except ReconcilerError as exc:
        assert flat_codes(exc) == ["OperationDenied.MaskOfCidrIsNotAllowed"]
    default = plan(tmp_path, SPEC.replace(", mask: 20", ""), shared=pool("10.0.0.0/24", default_mask=22))
    assert default.actions[0].after["ipv4"]["cidr"] == "10.0.4.0/22"


def test_region_and_space(tmp_path):
    try:
        plan(tmp_path, SPEC.replace("pay: {region: cn-hangzhou", "pay: {region: cn-shanghai"), shared=pool())
        raise AssertionError("the pool is in cn-hangzhou")
    except ReconcilerError as exc:
        assert flat_codes(exc) == ["OperationDenied.IpamPoolNotInRegion"]
        assert "external pool shared's effective region is cn-hangzhou" in str(exc)
    try:
        plan(tmp_path, shared=pool("10.0.0.0/17"))
        raise AssertionError("the pool is full")
    except ReconcilerError as exc:
        assert flat_codes(exc) == ["OperationDenied.AvailableCidrInsufficient"]
        assert "external pool shared" in str(exc)


def test_without_the_pool_s_facts_the_spec_alone_validates(tmp_path):
    """`ipamctl validate --rules` reads no backend: blocks of an external pool are left to plan."""
    v = validate(load(tmp_path, SPEC), rules=True)
    assert list(v.spec.external_pools) == ["shared"] and "vpc.pay" in v.graph.declarations()


def test_a_name_of_both_kinds_and_a_half_named_pool_are_refused(tmp_path):
    from tests.support.specs import codes

    assert codes(tmp_path, BASE, "external_pools:\n  hz-prod: {id: ipam-pool-abc}\n") == ["Spec.ExternalPoolName"]
    assert codes(tmp_path, "external_pools:\n  x: {workspace: network}\n") == ["Spec.ExternalPool"]
    assert codes(tmp_path, "external_pools:\n  x: {id: vpc-123}\n") == ["Spec.ExternalPool"]


def test_the_owner_plans_around_blocks_other_workspaces_hold_in_its_pools(tmp_path):
    """Discovery finds a VPC another workspace made in the owner's pool (Hosted): the owner's next VPC
    goes around it instead of being refused for overlapping it."""
    first = plan_of(tmp_path, BASE)
    state = converge(first)
    pid = state["ipam_pool.hz-prod"]["id"]
    prod = state["vpc.prod"]["attributes"]["ipv4"]["cidr"]
    assert prod == "10.0.0.0/20"
    other = DiscoveredCidr("cn-hangzhou", "VPC", "vpc-payments", "10.0.16.0/20", "vpc-payments", pid)
    doc = load(tmp_path, BASE, "vpcs:\n  core: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}\n")
    got = make_plan(doc, state, lineage=None, serial=1, discovered=[other])
    (create,) = [a for a in got.actions if a.address == "vpc.core"]
    assert create.after["ipv4"]["cidr"] == "10.0.32.0/20"
