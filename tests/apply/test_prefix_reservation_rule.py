"""Where a prefix may lie (issue 17, item 9), held the same in plan and sandbox.

The seed says both "The IP prefix must fall within the CIDR block of the vSwitch where the ENI
resides. See Reserved CIDR block." (its Scope) and "The IP prefix must be in the reserved CIDR block
of a vSwitch" (its IP addresses). The rule kept (README, "Rules for ENIs"): a prefix lies in its
vSwitch, and inside the vSwitch's prefix reservations whenever the vSwitch has any. Each case here is
planned, applied into the sandbox by the same code path apply takes, and then asked of the sandbox
directly, so plan and sandbox cannot drift apart.
"""

from __future__ import annotations

import pytest

from reconciler.apply.execute import apply_plan
from reconciler.cloud.sandbox import SandboxCloud
from reconciler.errors import CloudError, ReconcilerError
from reconciler.planner import make_plan
from reconciler.providers.alibaba import ApiProvider
from reconciler.source.loader import load_specs
from reconciler.states.local import LocalStateBackend
from tests.support.specs import BASE

SG = "security_groups:\n  sg: {vpc: prod, type: basic}\n"


def _plan(tmp_path, *texts):
    (tmp_path / "specs").mkdir(exist_ok=True)
    for i, t in enumerate(texts):
        (tmp_path / "specs" / f"{i}.yaml").write_text(t)
    return make_plan(load_specs(tmp_path / "specs"), {}, lineage=None, serial=0)


def _codes(exc: ReconcilerError) -> set[str]:
    return {e.code for e in getattr(exc, "errors", [exc])}


def _apply(tmp_path, plan):
    backend = LocalStateBackend(tmp_path / "state")
    state = backend.read()
    cloud = SandboxCloud(str(tmp_path / "sandbox.db"))
    with backend.transaction(state) as txn:
        result = apply_plan(plan, ApiProvider(cloud), txn, state)
        txn.commit()
    assert result.ok, result.error
    return cloud, backend.read()


def _with_reservation(spec: str) -> str:
    out = spec.replace("cidr: {mask: 24}}", "cidr: {mask: 24}, prefix_reservations: [10.0.0.64/26]}", 1)
    assert out != spec
    return out


def test_without_reservations_a_prefix_anywhere_in_the_vswitch_plans_and_applies(tmp_path):
    spec = SG + "enis:\n  e: {vswitch: prod-h, security_group: sg, ipv4_prefixes: [10.0.0.16/28]}\n"
    plan = _plan(tmp_path, BASE, spec)
    cloud, state = _apply(tmp_path, plan)
    rec = state.resources["eni.e"]
    assert rec["attributes"]["ipv4_prefixes"] == ["10.0.0.16/28"]
    # and the sandbox takes another one outside any reservation on the same ENI
    got = cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": rec["id"], "Ipv4Prefix.1": "10.0.0.32/28"})
    assert got["AssignedPrivateIpAddressesSet"]["Ipv4PrefixSet"]["Ipv4Prefixes"] == ["10.0.0.32/28"]
    cloud.close()


def test_with_reservations_a_prefix_outside_them_is_refused_by_plan_and_sandbox_alike(tmp_path):
    base = _with_reservation(BASE)
    with pytest.raises(ReconcilerError) as refused:
        _plan(tmp_path, base, SG + "enis:\n  e: {vswitch: prod-h, security_group: sg, ipv4_prefixes: [10.0.0.16/28]}\n")
    assert "InvalidIpPrefix.NotInCidrReservation" in _codes(refused.value)
    # the same vSwitch and an ENI inside the reservation, applied; then the sandbox asked for the outside block
    plan = _plan(tmp_path, base, SG + "enis:\n  e: {vswitch: prod-h, security_group: sg, ipv4_prefixes: [10.0.0.64/28]}\n")
    cloud, state = _apply(tmp_path, plan)
    with pytest.raises(CloudError) as sandbox:
        cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": state.resources["eni.e"]["id"],
                                                "Ipv4Prefix.1": "10.0.0.16/28"})
    assert sandbox.value.code == "InvalidIpPrefix.NotInCidrReservation"
    cloud.close()
