"""ENI addresses made concrete: what a recorded ENI keeps, and how its fields are written.

An ENI that asks for exactly what it holds takes a short path (its recorded fields are copied, the
explicit and count passes skip it). These tests hold that path to what the long way gives: the
copy is taken only from fields written as the long way writes them, and never for a block that
no longer fits where it lies.
"""

from __future__ import annotations

from tests.support.specs import BASE, converge, plan

SG = "security_groups:\n  sg: {vpc: prod, type: basic}\n"
V6 = BASE.replace("ipv4: {pool: hz-prod, mask: 20}}", "ipv4: {pool: hz-prod, mask: 20}, ipv6: {pool: v6, mask: 56}}") \
    .replace("pools:\n", "pools:\n  v6: {scope: public, region: cn-hangzhou, cidrs: [{mask: 48}]}\n") \
    .replace("cidr: {mask: 24}}", "cidr: {mask: 24}, ipv6_cidr: {index: 0}}", 1)


def enis(*lines: str) -> str:
    return "enis:\n" + "".join(f"  {line}\n" for line in lines)


def _attrs(p, address):
    return p.desired[address]["attributes"]


def _replan(tmp_path, before: str, after: str, base: str = BASE):
    """The state a plan of ``before`` records, and the plan of ``after`` against it."""
    recorded = converge(plan(tmp_path, base, SG, before))
    return recorded, plan(tmp_path, base, SG, after, recorded=recorded, serial=1)


def test_converged_enis_plan_no_change_and_keep_their_addresses(tmp_path):
    spec = enis("a: {vswitch: prod-h, security_group: sg, secondary_private_ips: {count: 3}, ipv4_prefixes: {count: 1}}",
                "b: {vswitch: prod-h, security_group: sg, secondary_private_ips: [10.0.0.200, 10.0.0.100]}")
    first = plan(tmp_path, BASE, SG, spec)
    again = plan(tmp_path, BASE, SG, spec, recorded=converge(first), serial=1)
    assert again.actions == ()
    assert _attrs(again, "eni.b")["secondary_private_ips"] == ["10.0.0.100", "10.0.0.200"]
    assert list(_attrs(again, "eni.a").items()) == list(_attrs(first, "eni.a").items())  # the same fields, in order
    assert list(_attrs(again, "eni.b").items()) == list(_attrs(first, "eni.b").items())


def test_a_recorded_list_out_of_order_is_written_sorted(tmp_path):
    spec = enis("a: {vswitch: prod-h, security_group: sg, secondary_private_ips: {count: 3}}")
    recorded = converge(plan(tmp_path, BASE, SG, spec))
    held = recorded["eni.a"]["attributes"]["secondary_private_ips"]
    recorded["eni.a"]["attributes"]["secondary_private_ips"] = list(reversed(held))
    again = plan(tmp_path, BASE, SG, spec, recorded=recorded, serial=1)
    assert _attrs(again, "eni.a")["secondary_private_ips"] == held  # sorted, as the long way writes it


def test_recorded_ipv6_text_is_written_in_canonical_form(tmp_path):
    spec = enis("a: {vswitch: prod-h, security_group: sg, ipv6_addresses: {count: 2}}")
    recorded = converge(plan(tmp_path, V6, SG, spec))
    canonical = recorded["eni.a"]["attributes"]["ipv6_addresses"]
    assert all("::" in a for a in canonical)
    long_form = [":".join(f"{int(g or '0', 16):x}" for g in _expand(a)) for a in canonical]
    assert long_form != canonical
    recorded["eni.a"]["attributes"]["ipv6_addresses"] = long_form
    again = plan(tmp_path, V6, SG, spec, recorded=recorded, serial=1)
    assert _attrs(again, "eni.a")["ipv6_addresses"] == canonical


def _expand(address: str) -> list[str]:
    head, _, tail = address.partition("::")
    left, right = head.split(":") if head else [], tail.split(":") if tail else []
    return left + ["0"] * (8 - len(left) - len(right)) + right


def test_a_block_held_twice_is_kept_once_and_the_other_eni_gets_a_free_one(tmp_path):
    spec = enis("a: {vswitch: prod-h, security_group: sg, secondary_private_ips: {count: 1}}",
                "b: {vswitch: prod-h, security_group: sg, secondary_private_ips: {count: 1}}")
    recorded = converge(plan(tmp_path, BASE, SG, spec))
    a_ip = recorded["eni.a"]["attributes"]["secondary_private_ips"]
    recorded["eni.b"]["attributes"]["secondary_private_ips"] = list(a_ip)  # b asks for what it holds ...
    again = plan(tmp_path, BASE, SG, spec, recorded=recorded, serial=1)
    b_ip = _attrs(again, "eni.b")["secondary_private_ips"]
    assert _attrs(again, "eni.a")["secondary_private_ips"] == a_ip
    assert len(b_ip) == 1 and b_ip != a_ip  # ... but a holds it first: b is given another
    assert [(x.action.value, x.address, x.cidr) for x in again.actions] == [
        ("unassign", "eni.b", f"{a_ip[0]}/32"), ("assign", "eni.b", f"{b_ip[0]}/32")]


def test_holding_more_than_asked_releases_the_highest(tmp_path):
    recorded, again = _replan(tmp_path, enis("a: {vswitch: prod-h, security_group: sg, secondary_private_ips: {count: 3}}"),
                              enis("a: {vswitch: prod-h, security_group: sg, secondary_private_ips: {count: 1}}"))
    held = recorded["eni.a"]["attributes"]["secondary_private_ips"]
    assert _attrs(again, "eni.a")["secondary_private_ips"] == held[:1]
    assert sorted(x.cidr for x in again.actions if x.action.value == "unassign") == sorted(f"{h}/32" for h in held[1:])


def test_a_field_no_longer_asked_for_is_released(tmp_path):
    recorded, again = _replan(
        tmp_path, enis("a: {vswitch: prod-h, security_group: sg, secondary_private_ips: {count: 1}, ipv4_prefixes: {count: 1}}"),
        enis("a: {vswitch: prod-h, security_group: sg, secondary_private_ips: {count: 1}}"))
    prefix = recorded["eni.a"]["attributes"]["ipv4_prefixes"]
    assert _attrs(again, "eni.a")["ipv4_prefixes"] == []
    assert [(x.action.value, x.cidr) for x in again.actions] == [("unassign", prefix[0])]


def test_a_lowered_count_keeps_the_lowest_even_from_a_list_out_of_order(tmp_path):
    recorded, _ = _replan(tmp_path, enis("a: {vswitch: prod-h, security_group: sg, secondary_private_ips: {count: 3}}"),
                          enis("a: {vswitch: prod-h, security_group: sg, secondary_private_ips: {count: 3}}"))
    held = recorded["eni.a"]["attributes"]["secondary_private_ips"]
    recorded["eni.a"]["attributes"]["secondary_private_ips"] = list(reversed(held))
    again = plan(tmp_path, BASE, SG, enis("a: {vswitch: prod-h, security_group: sg, secondary_private_ips: {count: 1}}"),
                 recorded=recorded, serial=1)
    assert _attrs(again, "eni.a")["secondary_private_ips"] == held[:1]
