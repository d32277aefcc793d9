"""The planner's order honours every precondition of the cloud at every step.

Each scenario plans from one state to another and walks the plan through an independent model of
the cloud's preconditions (``tests/support/preconditions.py``); the end of the walk must equal the
desired state.
"""

from pathlib import Path

import pytest

from reconciler.plans.order import Action
from tests.support.preconditions import walk
from tests.support.specs import BASE, converge, plan

EXAMPLE = "".join(p.read_text() for p in sorted((Path(__file__).resolve().parents[2] / "specs").glob("*.yaml")))
EMPTY = "# nothing\n"

SCENARIOS = {
    "example from empty": (EMPTY, EXAMPLE),
    "destroy the example": (EXAMPLE, EMPTY),
    "base from empty": (EMPTY, BASE),
    "destroy base": (BASE, EMPTY),
    "replace a pool's source (cascades to VPC and vSwitch)": (
        BASE, BASE.replace("hz-prod:\n    source: hz", "hz-prod:\n    source: root\n    region: cn-hangzhou")),
    "move a VPC to an explicit block": (BASE, BASE.replace("ipv4: {pool: hz-prod, mask: 20}", "ipv4: {pool: hz-prod, cidr: 10.0.16.0/20}")),
    "reuse a freed block explicitly": (
        BASE, BASE.replace("vpcs:\n  prod: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}",
                           "vpcs:\n  prod2: {region: cn-hangzhou, ipv4: {pool: hz-prod, cidr: 10.0.0.0/20}}")
        .replace("vpc: prod,", "vpc: prod2,")),
    "grow and shrink pool CIDRs": (
        BASE, BASE.replace("hz: {source: root, region: cn-hangzhou, cidrs: [10.0.0.0/11]}",
                           "hz: {source: root, region: cn-hangzhou, cidrs: [10.0.0.0/11, 10.32.0.0/11]}")),
    "drop the IPAM's second region and add a third": (
        BASE, BASE.replace("operating_regions: [cn-hangzhou, cn-shanghai]", "operating_regions: [cn-hangzhou, cn-beijing]")),
    "secondary CIDRs come and go": (
        BASE.replace("ipv4: {pool: hz-prod, mask: 20}}", "ipv4: {pool: hz-prod, mask: 20}, secondary_cidrs: [{pool: hz-prod, mask: 22}]}"),
        BASE.replace("ipv4: {pool: hz-prod, mask: 20}}", "ipv4: {pool: hz-prod, mask: 20}, secondary_cidrs: [{pool: hz-prod, mask: 21}]}")),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_step_keeps_the_preconditions(tmp_path, name):
    before_text, after_text = SCENARIOS[name]
    recorded = converge(plan(tmp_path, before_text))
    p = plan(tmp_path, after_text, recorded=recorded, serial=7)
    assert p.has_changes
    final = walk(p, recorded)
    expected = {a: dict(r["attributes"]) for a, r in converge(p).items()}
    assert _norm(final) == _norm(expected)


def _norm(res):
    out = {}
    for a, attrs in res.items():
        attrs = dict(attrs)
        for k in ("cidrs",):
            if k in attrs:
                attrs[k] = sorted(attrs[k])
        if "secondary_cidrs" in attrs:
            attrs["secondary_cidrs"] = sorted(attrs["secondary_cidrs"], key=lambda b: b["cidr"])
        for k in ("secondary_private_ips", "ipv4_prefixes", "ipv6_addresses", "ipv6_prefixes", "prefix_reservations"):
            if k in attrs:
                attrs[k] = sorted(attrs[k])
        out[a] = attrs
    return out


def test_destroy_order_is_children_first(tmp_path):
    recorded = converge(plan(tmp_path, BASE))
    p = plan(tmp_path, EMPTY, recorded=recorded, serial=3)
    seq = [(a.action, a.address) for a in p.actions]
    assert seq.index((Action.DELETE, "vswitch.prod-h")) < seq.index((Action.DELETE, "vpc.prod"))
    assert seq.index((Action.DELETE, "vpc.prod")) < seq.index((Action.DEPROVISION, "ipam_pool.hz-prod"))
    assert seq.index((Action.DELETE, "ipam_pool.hz-prod")) < seq.index((Action.DEPROVISION, "ipam_pool.hz"))
    assert seq[-1] == (Action.DELETE, "ipam.corp")


def test_replacement_destroys_before_it_creates(tmp_path):
    recorded = converge(plan(tmp_path, BASE))
    p = plan(tmp_path, BASE.replace("zone: cn-hangzhou-h", "zone: cn-hangzhou-i"), recorded=recorded, serial=3)
    assert [(a.action, a.address, a.replace) for a in p.actions] == [
        (Action.DELETE, "vswitch.prod-h", True), (Action.CREATE, "vswitch.prod-h", True)]
    assert p.summary()["replace"] == 1
