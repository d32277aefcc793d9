"""Issue 17: limits of Available ENIs that count addresses and prefixes together, and the managed ENIs
that keep their vSwitch and security group from being deleted, refused at plan time."""

from __future__ import annotations

import pytest

from reconciler.net import eni_limits as L
from tests.support.specs import BASE, converge, errors, plan

# a /21 vSwitch: room for 49 /28 prefixes beside ten addresses
BIG = BASE.replace("cidr: {mask: 24}}", "cidr: 10.0.0.0/21}")
SG = "security_groups:\n  sg: {vpc: prod, type: basic}\n"


def available(secondaries: int, prefixes: int) -> str:
    return ("enis:\n  e: {vswitch: prod-h, security_group: sg, "
            f"secondary_private_ips: {{count: {secondaries}}}, ipv4_prefixes: {{count: {prefixes}}}}}\n")


# ---- item 6: an Available ENI holds 10 addresses and 50 IPv4 entries (49 prefixes = 50 minus the primary) ----
@pytest.mark.parametrize("secondaries, prefixes, ok", [
    (0, 49, True), (0, 50, False),   # the API's 49 prefixes, with the primary: 50 entries
    (9, 0, True), (10, 0, False),    # ten addresses, the primary included
    (9, 40, True), (9, 41, False),   # both: each prefix counts as one IP
    (9, 49, False), (1, 48, True), (1, 49, False),
])
def test_available_eni_counts_addresses_and_prefixes_together(tmp_path, secondaries, prefixes, ok):
    found = errors(tmp_path, BIG, SG, available(secondaries, prefixes))
    over = [e for e in found if e.code == "InvalidOperation.Ipv4CountExceeded"]
    assert (not over) is ok, [str(e) for e in found]
    if not ok:
        assert over[0].address == "eni.e"
    assert not [e for e in found if e.code != "InvalidOperation.Ipv4CountExceeded"], [str(e) for e in found]


def test_ten_addresses_and_49_prefixes_are_refused_naming_the_counts(tmp_path):
    found = [e for e in errors(tmp_path, BIG, SG, available(9, 49)) if e.code == "InvalidOperation.Ipv4CountExceeded"]
    assert len(found) == 1
    text = str(found[0])
    assert "50" in text and "59" in text and "9 secondary" in text and "49 prefixes" in text


def test_the_shared_rule_counts_entries():
    assert L.AVAILABLE_ENI_MAX_IPV4_ENTRIES == 50
    assert not L.ipv4_exceeded(None, 10, 40) and L.ipv4_exceeded(None, 10, 41) and L.ipv4_exceeded(None, 10, 49)
    assert not L.ipv4_exceeded(None, 1, 49) and L.ipv4_exceeded(None, 1, 50) and L.ipv4_exceeded(None, 11, 0)


# ---- item 2: a managed ENI keeps its vSwitch and security group ---------------------------------------------
def _managed(recorded, vswitch="prod-h", group="sg"):
    return {"eni.lb": {"type": "eni", "name": "lb", "id": "eni-lb1", "attributes": {
        "vswitch": vswitch, "security_group": group, "instance": None, "primary": False, "managed": True,
        "primary_ip": "10.0.0.5", "secondary_private_ips": [], "ipv4_prefixes": [], "ipv6_addresses": [],
        "ipv6_prefixes": [], "description": "nlb"}}}


def _plan_errors(tmp_path, *texts, recorded, external):
    from reconciler.errors import ReconcilerError, flatten
    from reconciler.planner import make_plan
    from tests.support.specs import load
    try:
        make_plan(load(tmp_path, *texts), recorded, lineage=None, serial=1, external=external)
    except ReconcilerError as exc:
        return flatten(exc)
    return []


MANAGED = "enis:\n  lb: {id: eni-lb1, managed: true}\n"


def test_removing_the_vswitch_of_a_managed_eni_is_refused_naming_it(tmp_path):
    recorded = converge(plan(tmp_path, BASE, SG))
    ext = _managed(recorded)
    assert _plan_errors(tmp_path, BASE, SG, MANAGED, recorded=recorded, external=ext) == []  # kept: fine
    no_vswitch = BASE.split("vswitches:")[0]
    found = [e for e in _plan_errors(tmp_path, no_vswitch, SG, MANAGED, recorded=recorded, external=ext)
             if e.code == "DependencyViolation.NetworkInterface"]
    assert len(found) == 1 and found[0].address == "vswitch.prod-h"
    text = str(found[0])
    assert "eni.lb" in text and "eni-lb1" in text and "nlb" in text and "removed from the spec" in text


def test_replacing_the_vswitch_of_a_managed_eni_is_refused(tmp_path):
    recorded = converge(plan(tmp_path, BASE, SG))
    moved = BASE.replace("zone: cn-hangzhou-h", "zone: cn-hangzhou-i")
    found = [e for e in _plan_errors(tmp_path, moved, SG, MANAGED, recorded=recorded, external=_managed(recorded))
             if e.code == "DependencyViolation.NetworkInterface"]
    assert len(found) == 1 and found[0].address == "vswitch.prod-h" and "replaced" in str(found[0])


def test_removing_the_security_group_of_a_managed_eni_is_refused(tmp_path):
    recorded = converge(plan(tmp_path, BASE, SG))
    other = "security_groups:\n  other: {vpc: prod, type: basic}\n"
    found = [e for e in _plan_errors(tmp_path, BASE, other, MANAGED, recorded=recorded, external=_managed(recorded))
             if e.code == "DependencyViolation.NetworkInterface"]
    assert len(found) == 1 and found[0].address == "security_group.sg" and "eni-lb1" in str(found[0])
