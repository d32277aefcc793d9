"""``ipamctl validate`` reports every rule the specs alone decide (issue 17, item 13): before, it only
parsed and graphed, so ``mask: 33`` on IPv4 or ``min_mask > max_mask`` passed validate and failed plan."""

from __future__ import annotations

import json

import pytest

from tests.support.specs import BASE

CASES = {
    "mask 33 on IPv4": ("pools:\n  x: {source: root, cidrs: [{mask: 33}]}\n", "InvalidParameter.CidrMask", 2),
    "min_mask above max_mask": (
        "pools:\n  x:\n    source: root\n    cidrs: [{mask: 16}]\n    allocation: {min_mask: 24, max_mask: 20}\n",
        "InvalidParameter.AllocationCidrMask", 5),
    "a vSwitch /30": ("vswitches:\n  x: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 30}}\n",
                      "InvalidCidrBlock.Malformed", 2),
    "a zone of another region": ("vswitches:\n  x: {vpc: prod, zone: cn-shanghai-b, cidr: {mask: 24}}\n",
                                 "InvalidZoneId.NotFound", 2),
    "a VPC mask over the pool's max": ("vpcs:\n  y: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 26}}\n",
                                       "OperationDenied.MaskOfCidrIsNotAllowed", 2),
}


@pytest.mark.parametrize("name", list(CASES))
def test_validate_reports_rules_that_need_no_state(ws, name):
    text, code, line = CASES[name]
    ws.write("main.yaml", BASE)
    ws.write("more.yaml", text)
    proc = ws.run("validate", "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errors = json.loads(proc.stdout)["errors"]
    assert [(e["code"], e["file"], e["line"]) for e in errors] == [(code, "specs/more.yaml", line)], errors
    human = ws.run("validate")
    assert human.returncode == 1 and f"specs/more.yaml:{line}:" in human.stderr and "Traceback" not in human.stderr
    # what validate says, plan says too
    assert code in ws.run("plan").stderr


def test_a_valid_spec_is_still_valid_and_nothing_is_written(ws):
    ws.write("main.yaml", BASE)
    before = sorted(p.relative_to(ws.root) for p in ws.root.rglob("*"))
    assert json.loads(ws.run("validate", "--json", check=0).stdout)["valid"] is True
    assert sorted(p.relative_to(ws.root) for p in ws.root.rglob("*")) == before
