"""A desired state that would break a deletion precondition is refused with the cloud's code."""

import pytest

from tests.support.specs import BASE, codes, converge, plan

SECONDARY = BASE.replace("ipv4: {pool: hz-prod, mask: 20}}", "ipv4: {pool: hz-prod, mask: 20}, "
                         "secondary_cidrs: [{pool: hz-prod, cidr: 10.0.64.0/22}]}").replace(
    "cidr: {mask: 24}}", "cidr: {mask: 24}}\n  in-secondary: {vpc: prod, zone: cn-hangzhou-h, cidr: 10.0.64.0/24}")

CASES = {
    "deprovision a CIDR that still holds a VPC": (
        BASE, BASE.replace("hz-prod:\n    source: hz\n    cidrs: [{mask: 17}]",
                           "hz-prod:\n    source: hz\n    cidrs: [10.1.0.0/17]"),
        "OperationDenied.IpamPoolAllocationExist"),
    "delete a pool that still has sub-pools": (
        BASE.replace("pools:\n", "pools:\n  mid: {source: root, cidrs: [10.64.0.0/12]}\n  sub: {source: mid, cidrs: [{mask: 16}]}\n"),
        BASE.replace("pools:\n", "pools:\n  sub: {source: mid, cidrs: [{mask: 16}]}\n"),
        "DependencyViolation.SubCidr"),
    "delete a scope that still has pools": (
        BASE.replace("pools:\n", "scopes:\n  acq: {type: private}\npools:\n  a: {scope: acq, cidrs: [10.0.0.0/16]}\n"),
        BASE.replace("pools:\n", "pools:\n  a: {scope: acq, cidrs: [10.0.0.0/16]}\n"),
        "DependencyViolation.IpamPool"),
    "delete a pool that still has custom allocations": (
        BASE.replace("pools:\n", "pools:\n  dc: {source: root, cidrs: [10.64.0.0/12]}\n")
        + "allocations:\n  idc: {pool: dc, cidr: 10.64.0.0/16}\n",
        BASE + "allocations:\n  idc: {pool: dc, cidr: 10.64.0.0/16}\n",
        "DependencyViolation.CustomPoolAllocation"),
    "delete a VPC that still has vSwitches": (
        BASE, BASE.replace("vpcs:\n  prod: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}\n", ""),
        "DependencyViolation.VSwitch"),
    "release a secondary CIDR that holds a vSwitch": (
        SECONDARY, SECONDARY.replace(", secondary_cidrs: [{pool: hz-prod, cidr: 10.0.64.0/22}]", ""),
        "DependencyViolation.VSwitch"),
    "delete the IPAM while pools remain": (
        BASE, BASE.replace("ipam: {name: corp, region: cn-hangzhou, operating_regions: [cn-hangzhou, cn-shanghai]}\n", ""),
        "DependencyViolation.IpamPool"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_refused_with_the_clouds_code(tmp_path, name):
    before, after, code = CASES[name]
    recorded = converge(plan(tmp_path, before))
    assert code in codes(tmp_path, after, recorded=recorded)
    # and without a recorded state the same spec is not a precondition problem
    assert code not in codes(tmp_path, after)


def test_blocks_keep_their_cidr_when_a_lower_block_frees_up(tmp_path):
    two = BASE + "  first: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 24}}\n"
    recorded = converge(plan(tmp_path, two))
    assert recorded["vswitch.prod-h"]["attributes"]["cidr"] == "10.0.0.0/24"
    assert recorded["vswitch.first"]["attributes"]["cidr"] == "10.0.1.0/24"
    without = two.replace("  prod-h: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 24}}\n", "")
    p = plan(tmp_path, without, recorded=recorded, serial=5)
    assert [(a.action.value, a.address) for a in p.actions] == [("delete", "vswitch.prod-h")]


def test_space_freed_by_a_plan_is_not_handed_out_in_the_same_plan(tmp_path):
    recorded = converge(plan(tmp_path, BASE))
    swapped = BASE.replace("  prod-h: {vpc: prod", "  other: {vpc: prod")
    p = plan(tmp_path, swapped, recorded=recorded, serial=5)
    created = [a for a in p.actions if a.action.value == "create"]
    assert created[0].address == "vswitch.other" and created[0].cidr == "10.0.1.0/24"


def test_mask_requests_are_served_in_declaration_order_across_files(tmp_path):
    a = "vswitches:\n  zz-first: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 26}}\n"
    b = "vpcs:\n  later: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}\n"
    p = plan(tmp_path, BASE, a, b)
    cidr = {addr: r["attributes"].get("cidr") for addr, r in p.desired.items()}
    assert cidr["vswitch.prod-h"] == "10.0.0.0/24"  # declared first (file 00)
    assert cidr["vswitch.zz-first"] == "10.0.1.0/26"  # declared next (file 01), whatever its name
    assert p.desired["vpc.later"]["attributes"]["ipv4"]["cidr"] == "10.0.16.0/20"


def test_vpc_without_mask_uses_the_pools_default(tmp_path):
    p = plan(tmp_path, BASE.replace("ipv4: {pool: hz-prod, mask: 20}", "ipv4: {pool: hz-prod}"))
    assert p.desired["vpc.prod"]["attributes"]["ipv4"]["cidr"] == "10.0.0.0/20"
