"""The blocks a plan takes from pools (what plan --out reserves): new blocks only, each once."""

from __future__ import annotations

from reconciler.plans.reservations import pool_blocks
from tests.support.specs import BASE, converge, plan


def test_a_plan_takes_its_sub_pool_vpc_and_allocation_blocks(tmp_path):
    text = BASE + "allocations:\n  dc: {pool: hz, cidr: 10.16.0.0/16}\n"
    got = pool_blocks(plan(tmp_path, text))
    # hz-prod's /17 from hz, the VPC's /20 from hz-prod, the custom allocation from hz; hz from root;
    # root's own CIDR comes from no pool (a top-level pool is provisioned from its scope)
    assert got == [("hz", "10.0.0.0/17"), ("hz", "10.16.0.0/16"), ("hz-prod", "10.0.0.0/20"),
                   ("root", "10.0.0.0/11")]


def test_blocks_already_held_are_not_taken_again(tmp_path):
    first = plan(tmp_path, BASE)
    more = BASE.replace("  prod: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}",
                        "  prod: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}, "
                        "secondary_cidrs: [{pool: hz-prod, mask: 22}]}")
    again = plan(tmp_path, more, recorded=converge(first), serial=1)
    assert pool_blocks(again) == [("hz-prod", "10.0.16.0/22")]
