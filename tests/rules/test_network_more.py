"""The rest of the rules, each with a test that fails without it (found by disabling each check in
turn and seeing which tests still passed)."""

from __future__ import annotations

import pytest

from reconciler.errors import ReconcilerError, flatten
from reconciler.planner import make_plan
from tests.support.specs import BASE, codes, errors, load

V6 = (BASE.replace("pools:\n", "pools:\n  v6: {scope: public, region: cn-hangzhou, cidrs: [{mask: 48}]}\n")
      .replace("ipv4: {pool: hz-prod, mask: 20}}", "ipv4: {pool: hz-prod, mask: 20}, ipv6: {pool: v6, mask: 56}}"))
SG = "security_groups:\n  sg: {vpc: prod}\n"

CASES = {
    # (auto_import in a custom scope is accepted, as the cloud does, and imports nothing there:
    # tests/rules/test_network_defects.py)
    "isp on an IPv4 pool": (BASE, "pools:\n  x: {source: root, isp: BGP, cidrs: [{mask: 16}]}\n", "InvalidParameter.Ipv6Isp"),
    "ipv6 block without a pool": (BASE, "vpcs:\n  x: {region: cn-hangzhou, ipv4: {cidr: 192.168.0.0/16}, "
                                        "ipv6: {cidr: '2408:4000::/56'}}\n", "MissingParameter.Ipv6IpamPoolId"),
    "mask out of range for the version": (BASE, "vpcs:\n  x: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 40}}\n",
                                          "InvalidParameter.CidrMask"),
    "pools without an ipam": ("# none\n", "pools:\n  x: {scope: private, cidrs: [10.0.0.0/8]}\n", "Spec.MissingIpam"),
    "vswitch ipv6 in a VPC without IPv6": (BASE, "vswitches:\n  x: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 26}, "
                                                 "ipv6_cidr: {index: 0}}\n", "OperationDenied.VpcIpv6NotEnabled"),
    "vswitch ipv6 index past the last /64": (V6, "vswitches:\n  x: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 26}, "
                                                 "ipv6_cidr: {index: 256}}\n", "Spec.OutOfRange"),
    "vswitch ipv6 /64 outside the VPC": (V6, "vswitches:\n  x: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 26}, "
                                             "ipv6_cidr: '2408:5000::/64'}\n", "InvalidParameter.Ipv6CidrBlock"),
    "vswitch ipv6 /64 used twice": (V6, "vswitches:\n  x: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 26}, "
                                        "ipv6_cidr: {index: 3}}\n  y: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 26}, "
                                        "ipv6_cidr: {index: 3}}\n", "InvalidCidrBlock.Overlapped"),
    "reservation outside the vswitch": (BASE, "vswitches:\n  x: {vpc: prod, zone: cn-hangzhou-h, cidr: 10.0.9.0/24, "
                                              "prefix_reservations: [10.0.8.0/26]}\n",
                                        "InvalidParameter.VSwitchCidrReservationCidr"),
    "reservation smaller than a prefix": (BASE, "vswitches:\n  x: {vpc: prod, zone: cn-hangzhou-h, cidr: 10.0.9.0/24, "
                                                "prefix_reservations: [10.0.9.16/29]}\n",
                                          "InvalidParameter.VSwitchCidrReservationCidr"),
    "reservation over a system address": (BASE, "vswitches:\n  x: {vpc: prod, zone: cn-hangzhou-h, cidr: 10.0.9.0/24, "
                                                "prefix_reservations: [10.0.9.192/26]}\n", "InvalidCidrBlock.InUse"),
    "overlapping reservations": (BASE, "vswitches:\n  x: {vpc: prod, zone: cn-hangzhou-h, cidr: 10.0.9.0/24, "
                                       "prefix_reservations: [10.0.9.64/26, 10.0.9.64/27]}\n", "InvalidCidrBlock.Overlapped"),
    "ipv6 on a vswitch without IPv6": (BASE, SG + "enis:\n  e: {vswitch: prod-h, security_group: sg, "
                                             "ipv6_addresses: {count: 1}}\n", "InvalidVSwitchId.Ipv6NotTurnOn"),
    "explicit ipv6 on a vswitch without IPv6": (BASE, SG + "enis:\n  e: {vswitch: prod-h, security_group: sg, "
                                                      "ipv6_addresses: ['2408:4000::5']}\n", "InvalidVSwitchId.Ipv6NotTurnOn"),
    "an ENI named like an instance's primary": (
        BASE, SG + "instances:\n  w: {instance_type: ecs.g7.large, vswitch: prod-h, security_group: sg}\n"
                   "enis:\n  w-primary: {vswitch: prod-h, security_group: sg}\n", "Spec.DuplicateName"),
    "available ENI over 10 IPv6": (
        V6.replace("cidr: {mask: 24}}", "cidr: {mask: 24}, ipv6_cidr: {index: 0}}", 1),
        SG + "enis:\n  e: {vswitch: prod-h, security_group: sg, ipv6_addresses: {count: 6}, ipv6_prefixes: {count: 5}}\n",
        "InvalidOperation.Ipv6CountExceeded"),
    "attach across VPCs": (
        BASE.replace("vpcs:\n", "vpcs:\n  other: {region: cn-hangzhou, ipv4: {cidr: 192.168.0.0/16}}\n")
        + "  o-h: {vpc: other, zone: cn-hangzhou-h, cidr: 192.168.0.0/24}\n",
        "security_groups:\n  sg: {vpc: prod}\n  so: {vpc: other}\n"
        "instances:\n  w: {instance_type: ecs.g7.large, vswitch: o-h, security_group: so}\n"
        "enis:\n  e: {vswitch: prod-h, security_group: sg, instance: w}\n", "InvalidOperation.VpcMismatch"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule(tmp_path, name):
    base, extra, code = CASES[name]
    found = codes(tmp_path, base, extra)
    assert code in found, f"{name}: expected {code}, got {found}"


def test_sub_pool_ip_version_is_its_sources(tmp_path):
    errs = errors(tmp_path, BASE, "pools:\n  x: {source: root, ip_version: IPv6, region: cn-hangzhou, cidrs: [{mask: 16}]}\n")
    assert any(e.code == "InvalidParameter.IpVersion" and "source's IP version" in e.detail for e in errs)


def test_vpc_block_from_a_pool_of_the_other_version(tmp_path):
    errs = errors(tmp_path, V6, "vpcs:\n  x: {region: cn-hangzhou, ipv4: {pool: v6, mask: 20}}\n")
    assert any(e.code == "InvalidParameter.IpVersion" and "needs an IPv4 pool" in e.detail for e in errs)


MANAGED = {"type": "eni", "name": "lb", "id": "eni-lb", "attributes": {
    "vswitch": "prod-h", "security_group": None, "instance": None, "primary": False, "managed": True,
    "primary_ip": "10.0.0.1", "secondary_private_ips": [], "ipv4_prefixes": [], "ipv6_addresses": [], "ipv6_prefixes": [],
    "description": "nlb"}}


def _managed_codes(tmp_path, body: str, external: dict) -> list[str]:
    doc = load(tmp_path, BASE, SG + "enis:\n  lb: " + body + "\n")
    try:
        make_plan(doc, {}, lineage=None, serial=0, external=external)
    except ReconcilerError as exc:
        return [e.code for e in flatten(exc)]
    return []


def test_managed_eni_rules(tmp_path):
    assert _managed_codes(tmp_path, "{id: eni-lb, managed: true}", {"eni.lb": MANAGED}) == []
    assert "Spec.Invalid" in _managed_codes(tmp_path, "{id: eni-lb}", {"eni.lb": MANAGED})
    assert "Spec.MissingKey" in _managed_codes(tmp_path, "{managed: true}", {})
    assert "InvalidOperation.EniServiceManaged" in _managed_codes(
        tmp_path, "{id: eni-lb, managed: true, vswitch: prod-h}", {"eni.lb": MANAGED})
    assert "InvalidEniId.NotFound" in _managed_codes(tmp_path, "{id: eni-lb, managed: true}", {})
    plain = {"eni.lb": {**MANAGED, "attributes": {**MANAGED["attributes"], "managed": False}}}
    assert "Spec.Invalid" in _managed_codes(tmp_path, "{id: eni-lb, managed: true}", plain)


def test_a_managed_enis_addresses_are_taken(tmp_path):
    doc = load(tmp_path, BASE, SG + "enis:\n  lb: {id: eni-lb, managed: true}\n  mine: {vswitch: prod-h, security_group: sg}\n")
    plan = make_plan(doc, {}, lineage=None, serial=0, external={"eni.lb": MANAGED})
    assert plan.desired["eni.mine"]["attributes"]["primary_ip"] == "10.0.0.2"
    assert not [a for a in plan.actions if a.address == "eni.lb"]
