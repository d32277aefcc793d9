"""Issue 17: a managed ENI in the real sandbox keeps its vSwitch: removing the vSwitch from the spec is
refused at plan time with the cloud's code, naming the ENI and its service, before apply can fail."""

from __future__ import annotations

import pytest

from tests.support.specs import BASE

pytestmark = pytest.mark.both_providers  # embedded, and through `sandbox serve` (tests/support/via.py)


def _managed_eni(ws, groups: str) -> str:
    """Apply BASE with ``groups``, then make an NLB-managed ENI in vswitch.prod-h and security_group.sg."""
    ws.write("main.yaml", BASE)
    ws.write("compute.yaml", groups)
    ws.run("apply", "--auto-approve", check=0)
    res = ws.json("show")["resources"]
    rc, made = ws.sandbox("CreateNetworkInterface", RegionId="cn-hangzhou", VSwitchId=res["vswitch.prod-h"]["id"],
                          SecurityGroupId=res["security_group.sg"]["id"], ServiceManaged="true", ServiceID="nlb")
    assert rc == 0
    return made["NetworkInterfaceId"]


def test_removing_a_vswitch_holding_a_managed_eni_is_refused_at_plan_time(ws):
    eni_id = _managed_eni(ws, "security_groups:\n  sg: {vpc: prod}\n")
    ws.write("main.yaml", BASE.split("vswitches:")[0])
    ws.write("compute.yaml", f"security_groups:\n  sg: {{vpc: prod}}\nenis:\n  lb: {{id: {eni_id}, managed: true}}\n")
    proc = ws.run("plan")
    assert proc.returncode == 1, proc.stdout
    assert "DependencyViolation.NetworkInterface" in proc.stderr and "Traceback" not in proc.stderr
    assert "vswitch.prod-h" in proc.stderr and "eni.lb" in proc.stderr and eni_id in proc.stderr and "nlb" in proc.stderr


def test_removing_a_security_group_holding_a_managed_eni_is_refused_at_plan_time(ws):
    eni_id = _managed_eni(ws, "security_groups:\n  sg: {vpc: prod}\n  other: {vpc: prod}\n")
    # the managed ENI is read with its security group's spec name (the provider maps the group's id)
    ws.write("compute.yaml", f"security_groups:\n  sg: {{vpc: prod}}\n  other: {{vpc: prod}}\n"
                             f"enis:\n  lb: {{id: {eni_id}, managed: true}}\n")
    ws.run("plan", check=0)
    ws.write("compute.yaml", f"security_groups:\n  other: {{vpc: prod}}\nenis:\n  lb: {{id: {eni_id}, managed: true}}\n")
    proc = ws.run("plan")
    assert proc.returncode == 1, proc.stdout
    assert "DependencyViolation.NetworkInterface" in proc.stderr and "Traceback" not in proc.stderr
    assert "security_group.sg" in proc.stderr and "eni.lb" in proc.stderr and eni_id in proc.stderr
