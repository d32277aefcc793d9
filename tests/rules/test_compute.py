"""ENIs, secondary private IPs and IP prefixes: every limit of the seeds, checked at plan time."""

from __future__ import annotations

import pytest

from tests.support.specs import BASE, codes, converge, errors, plan

NET = BASE.replace("  prod-h: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 24}}\n",
                   "  prod-h: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 24}}\n"
                   "  tiny: {vpc: prod, zone: cn-hangzhou-h, cidr: 10.0.15.248/29}\n")
SG = "security_groups:\n  sg: {vpc: prod, type: basic}\n"


def eni(name="e", **fields) -> str:
    body = ", ".join(f"{k}: {v}" for k, v in {"vswitch": "prod-h", "security_group": "sg", **fields}.items())
    return f"  {name}: {{{body}}}\n"


def web(**fields) -> str:
    body = ", ".join(f"{k}: {v}" for k, v in {"instance_type": "ecs.g7.large", "vswitch": "prod-h",
                                              "security_group": "sg", **fields}.items())
    return f"instances:\n  web: {{{body}}}\n"


def run(tmp_path, *extra):
    return codes(tmp_path, NET, SG, *extra)


# ---- ecs.g7.large: 6 private IPv4 per ENI counting the primary, each secondary and each prefix ----
@pytest.mark.parametrize("secondaries, prefixes, ok", [(0, 5, True), (0, 6, False), (1, 4, True), (1, 5, False),
                                                       (5, 0, True), (6, 0, False), (2, 3, True)])
def test_g7_large_ipv4_arithmetic(tmp_path, secondaries, prefixes, ok):
    spec = web() + "enis:\n" + eni(instance="web", secondary_private_ips=f"{{count: {secondaries}}}",
                                   ipv4_prefixes=f"{{count: {prefixes}}}")
    found = run(tmp_path, spec)
    assert ("InvalidOperation.Ipv4CountExceeded" in found) is not ok, found


def test_g7_large_ipv6_counts_addresses_and_prefixes(tmp_path):
    NET6 = NET.replace("ipv4: {pool: hz-prod, mask: 20}}", "ipv4: {pool: hz-prod, mask: 20}, ipv6: {pool: v6, mask: 56}}") \
        .replace("pools:\n", "pools:\n  v6: {scope: public, region: cn-hangzhou, cidrs: [{mask: 48}]}\n") \
        .replace("cidr: {mask: 24}}", "cidr: {mask: 24}, ipv6_cidr: {index: 0}}", 1)
    six = web() + "enis:\n" + eni(instance="web", ipv6_prefixes="{count: 6}")
    assert codes(tmp_path, NET6, SG, six) == []
    seven = web() + "enis:\n" + eni(instance="web", ipv6_addresses="{count: 1}", ipv6_prefixes="{count: 6}")
    assert "InvalidOperation.Ipv6CountExceeded" in codes(tmp_path, NET6, SG, seven)


@pytest.mark.parametrize("field, count, ok", [
    ("ipv4_prefixes", 49, True), ("ipv4_prefixes", 50, False),
    ("secondary_private_ips", 9, True), ("secondary_private_ips", 10, False),
])
def test_available_eni_limits(tmp_path, field, count, ok):
    found = run(tmp_path, "enis:\n" + eni(**{field: f"{{count: {count}}}"}))
    assert ("InvalidOperation.Ipv4CountExceeded" in found) is not ok, found


def test_instance_eni_quota_counts_the_primary(tmp_path):
    two = web() + "enis:\n" + eni("a", instance="web") + eni("b", instance="web")
    assert run(tmp_path, two) == []
    three = two + eni("c", instance="web")
    assert "EniPerInstanceLimitExceeded" in run(tmp_path, three)


def test_instance_types_can_be_added_in_the_spec(tmp_path):
    spec = web(instance_type="ecs.custom.big") + "enis:\n" + eni(instance="web", ipv4_prefixes="{count: 8}")
    assert "InvalidInstanceType.NotFound" in run(tmp_path, spec)
    custom = "instance_types:\n  ecs.custom.big: {eni_quantity: 4, ipv4_per_eni: 10, ipv6_per_eni: 10}\n"
    assert run(tmp_path, spec, custom) == []


def test_prefixes_are_28s_and_only_where_they_exist(tmp_path):
    assert "InvalidParameter.Ipv4Prefix" in run(tmp_path, "enis:\n" + eni(ipv4_prefixes="[10.0.0.32/27]"))
    elsewhere = (NET.replace("cn-hangzhou", "cn-zhangjiakou").replace("cn-zhangjiakou, cn-shanghai", "cn-zhangjiakou"))
    found = codes(tmp_path, elsewhere, SG, "enis:\n" + eni(ipv4_prefixes="{count: 1}"))
    assert "OperationDenied.IpPrefixNotSupportedInRegion" in found


def test_automatic_addresses_skip_the_system_reserved_ones(tmp_path):
    # a /29 has 8 addresses: the first and the last three belong to the system, four are left
    four = "enis:\n" + eni(vswitch="tiny", secondary_private_ips="{count: 3}")
    p = plan(tmp_path, NET, SG, four)
    a = p.desired["eni.e"]["attributes"]
    assert a["primary_ip"] == "10.0.15.249" and a["secondary_private_ips"] == ["10.0.15.250", "10.0.15.251", "10.0.15.252"]
    five = "enis:\n" + eni(vswitch="tiny", secondary_private_ips="{count: 4}")
    assert "InvalidVSwitchId.IpNotEnough" in run(tmp_path, five)


def test_explicit_reserved_address_is_refused(tmp_path):
    found = run(tmp_path, "enis:\n" + eni(vswitch="tiny", primary_ip="10.0.15.255"))
    assert "InvalidIp.SystemReserved" in found
    assert "InvalidPrivateIpAddress.Mismatch" in run(tmp_path, "enis:\n" + eni(vswitch="tiny", primary_ip="10.0.14.9"))


def test_addresses_never_land_in_a_prefix_and_prefixes_never_overlap(tmp_path):
    spec = "enis:\n" + eni("a", ipv4_prefixes="[10.0.0.0/28]") + eni("b", secondary_private_ips="{count: 2}")
    # 10.0.0.0/28 holds the system's first address: refused
    assert "InvalidIp.SystemReserved" in run(tmp_path, spec)
    spec = ("enis:\n" + eni("a", ipv4_prefixes="[10.0.0.16/28]") + eni("b", secondary_private_ips="{count: 9}")
            + eni("c", secondary_private_ips="{count: 9}"))
    p = plan(tmp_path, NET, SG, spec)
    c = p.desired["eni.c"]["attributes"]
    last = [int(ip.split(".")[-1]) for ip in [c["primary_ip"], *c["secondary_private_ips"]]]
    assert last == [12, 13, 14, 15, 32, 33, 34, 35, 36, 37]  # 16 to 31 are the prefix of eni.a
    clash = "enis:\n" + eni("a", ipv4_prefixes="[10.0.0.16/28]") + eni("b", ipv4_prefixes="[10.0.0.16/28]")
    assert "InvalidIp.IpAssigned" in run(tmp_path, clash)


def test_prefix_reservations(tmp_path):
    reserved = NET.replace("cidr: {mask: 24}}", "cidr: {mask: 24}, prefix_reservations: [10.0.0.64/26]}", 1)
    p = plan(tmp_path, reserved, SG, "enis:\n" + eni(ipv4_prefixes="{count: 2}", secondary_private_ips="{count: 1}"))
    a = p.desired["eni.e"]["attributes"]
    assert a["ipv4_prefixes"] == ["10.0.0.64/28", "10.0.0.80/28"]
    assert a["primary_ip"] == "10.0.0.1" and a["secondary_private_ips"] == ["10.0.0.2"]
    outside = codes(tmp_path, reserved, SG, "enis:\n" + eni(ipv4_prefixes="[10.0.0.16/28]"))
    assert "InvalidIpPrefix.NotInCidrReservation" in outside
    elsewhere = codes(tmp_path, reserved, SG, "enis:\n" + eni(ipv4_prefixes="[10.0.9.16/28]"))
    assert "InvalidIpPrefix.NotInVSwitch" in elsewhere


def test_security_group_quota_counts_every_ip_and_prefix(tmp_path):
    big = BASE.replace("cidr: {mask: 24}}", "cidr: 10.0.0.0/21}").replace("mask: 20}}", "mask: 17}}") \
        .replace("hz-prod:\n    source: hz\n    cidrs: [{mask: 17}]", "hz-prod:\n    source: hz\n    cidrs: [{mask: 16}]") \
        .replace("min_mask: 16", "min_mask: 8")
    big += "  b: {vpc: prod, zone: cn-hangzhou-h, cidr: 10.0.64.0/18}\n"
    def enis(n):
        return "enis:\n" + "".join(eni(f"e{i}", vswitch="b", secondary_private_ips="{count: 9}",
                                       ipv4_prefixes="{count: 49}") for i in range(n))
    assert "QuotaExceeded.SecurityGroupPrivateIp" not in codes(tmp_path, big, SG, enis(100))  # 5,900
    assert "QuotaExceeded.SecurityGroupPrivateIp" in codes(tmp_path, big, SG, enis(102))      # 6,018
    advanced = SG.replace("basic", "advanced")
    assert "QuotaExceeded.SecurityGroupPrivateIp" not in codes(tmp_path, big, advanced, enis(102))


def test_huge_counts_are_refused_without_allocating(tmp_path):
    found = run(tmp_path, "enis:\n" + eni(ipv4_prefixes="{count: 65536}"))
    assert "InvalidParameter.CountTooLarge" in found and "InvalidOperation.Ipv4CountExceeded" in found


def test_secondary_ips_on_a_primary_eni_need_running_or_stopped(tmp_path):
    spec = web(secondary_private_ips="{count: 1}")
    recorded = converge(plan(tmp_path, NET, SG, web()))
    recorded["instance.web"]["attributes"]["status"] = "Starting"
    assert "IncorrectInstanceStatus" in codes(tmp_path, NET + SG + spec, recorded=recorded)
    recorded["instance.web"]["attributes"]["status"] = "Stopped"
    assert "IncorrectInstanceStatus" not in codes(tmp_path, NET + SG + spec, recorded=recorded)


def test_lists_and_counts_are_exclusive_per_field(tmp_path):
    found = run(tmp_path, "enis:\n  e:\n    vswitch: prod-h\n    ipv4_prefixes: {count: 1}\n    ipv4_prefixes: [10.0.0.16/28]\n")
    assert found == ["Spec.DuplicateKey"]
    found = run(tmp_path, "enis:\n" + eni(ipv4_prefixes="{count: 1, list: [10.0.0.16/28]}"))
    assert "Spec.UnknownKey" in found


def test_counts_are_chosen_at_plan_time_and_kept(tmp_path):
    first = plan(tmp_path, NET, SG, "enis:\n" + eni(ipv4_prefixes="{count: 2}"))
    assert first.desired["eni.e"]["attributes"]["ipv4_prefixes"] == ["10.0.0.16/28", "10.0.0.32/28"]
    recorded = converge(first)
    grown = plan(tmp_path, NET, SG, "enis:\n" + eni("z", ipv4_prefixes="[10.0.0.48/28]") + eni(ipv4_prefixes="{count: 3}"),
                 recorded=recorded, serial=4)
    assert grown.desired["eni.e"]["attributes"]["ipv4_prefixes"] == ["10.0.0.16/28", "10.0.0.32/28", "10.0.0.64/28"]
    assigns = [(a.address, a.cidr) for a in grown.actions if a.action.value == "assign"]
    assert ("eni.e", "10.0.0.64/28") in assigns and ("eni.z", "10.0.0.48/28") in assigns


def test_errors_point_at_the_eni(tmp_path):
    (err,) = [e for e in errors(tmp_path, NET, SG, "enis:\n" + eni(ipv4_prefixes="{count: 50}"))]
    assert err.address == "eni.e" and err.file.endswith("02.yaml") and err.line == 2


def test_placement_rules(tmp_path):
    assert "MissingParameter.SecurityGroupId" in run(tmp_path, "enis:\n  e: {vswitch: prod-h}\n")
    both = NET.replace("vpcs:\n", "vpcs:\n  other: {region: cn-hangzhou, ipv4: {cidr: 192.168.0.0/16}}\n")
    found = codes(tmp_path, both, SG.replace("sg: {vpc: prod, type: basic}", "sg: {vpc: prod, type: basic}\n  sg2: {vpc: other}"),
                  "enis:\n" + eni(security_group="sg2") + eni("f", security_group="sg2") + eni("g"))
    assert found.count("InvalidSecurityGroupId.VpcMismatch") == 2  # each ENI placed so says so (g is placed right)
    zoned = NET.replace("  tiny: {vpc: prod, zone: cn-hangzhou-h,", "  tiny: {vpc: prod, zone: cn-hangzhou-i,")
    found = codes(tmp_path, zoned, SG, web() + "enis:\n" + eni(vswitch="tiny", instance="web"))
    assert "InvalidOperation.ZoneMismatch" in found


def test_an_explicit_address_may_sit_in_a_reservation(tmp_path):
    reserved = NET.replace("cidr: {mask: 24}}", "cidr: {mask: 24}, prefix_reservations: [10.0.0.64/26]}", 1)
    p = plan(tmp_path, reserved, SG, "enis:\n" + eni(primary_ip="10.0.0.70", ipv4_prefixes="{count: 1}"))
    a = p.desired["eni.e"]["attributes"]
    assert a["primary_ip"] == "10.0.0.70" and a["ipv4_prefixes"] == ["10.0.0.80/28"]
