"""The least-privilege RAM policy for a plan: every API call that planning and applying it makes.

The calls come from the plan's actions (each names its API) and from what the alibaba provider does
around them, listed here beside the code that makes them:

* follow-ups of a step (:class:`reconciler.providers.alibaba.ApiProvider`): a create the cloud
  finishes asynchronously is read back until Available; the first CreateIpam opens the service;
  releasing a VPC's pool allocation looks the allocation up; a new instance's primary ENI is read;
* plan-time reads (:mod:`reconciler.workspace`): discovery (ListIpams, then the IPAM's discovered
  resources and, per scope, which pool hosts each, or the VPCs and vSwitches while no IPAM exists),
  managed ENIs, and imports;
* with ``drift``: what drift, refresh, import and report read (:func:`reconciler.providers.alibaba_read.read_all`).

A RAM action is ``<code>:<Operation>`` with the products' RAM codes: ``vpc`` for IPAM and VPC (the
RAM code of VpcIpam is vpc: ``vpc:CreateIpam``), ``ecs`` for ECS and ``resourcesharing`` for
ResourceSharing (``resourcesharing:CreateResourceShare``). tests/providers/test_policy.py holds this table to the calls a served sandbox saw.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from reconciler.plans.order import Plan

FOLLOW_UPS: Mapping[str, tuple[str, ...]] = {
    "CreateIpam": ("OpenVpcIpamService",),
    "CreateVpc": ("DescribeVpcs",),
    "CreateVSwitch": ("DescribeVSwitches",),
    "CreateVSwitchCidrReservation": ("ListVSwitchCidrReservations",),
    "CreateInstance": ("DescribeNetworkInterfaces",),
}
# Releasing a VPC's pool allocation (api DeleteIpamPoolAllocation on a vpc) first finds the allocation.
VPC_LEAVE_POOL = ("ListIpamPoolAllocations",)
DISCOVERY_READS = ("ListIpams", "ListIpamDiscoveredResource", "ListIpamScopes", "ListIpamResourceCidrs",
                   "DescribeVpcs", "DescribeVSwitches")
MANAGED_ENI_READS = ("DescribeNetworkInterfaces",)
IMPORT_READS = ("ListIpams", "ListIpamScopes", "ListIpamPools", "ListIpamPoolCidrs", "ListIpamPoolAllocations",
                "DescribeVpcs", "DescribeVSwitches", "ListVSwitchCidrReservations", "DescribeSecurityGroups",
                "DescribeInstances", "DescribeNetworkInterfaces")
DRIFT_READS = IMPORT_READS + ("ListIpamDiscoveredResource", "ListIpamResourceCidrs")
# what drift and refresh read besides where the spec shares pools (resource_shares:)
SHARE_READS = ("ListResourceShares", "ListResourceShareAssociations")


def plan_calls(plan: Plan) -> set[str]:
    """The API operations applying ``plan`` calls."""
    calls: set[str] = set()
    for action in plan.actions:
        if action.action.value == "import":
            continue  # adopted from the plan-time read, no call
        calls.add(action.api)
        calls.update(FOLLOW_UPS.get(action.api, ()))
        if action.type == "vpc" and action.api == "DeleteIpamPoolAllocation":
            calls.update(VPC_LEAVE_POOL)
        if action.api == "CreateInstance" and (action.after or {}).get("status") == "Stopped":
            calls.add("StopInstance")
    return calls


def spec_reads(data: Mapping, *, drift: bool = False) -> set[str]:
    """The operations planning the spec ``data`` reads (and, with ``drift``, what drift and refresh read)."""
    calls: set[str] = set()
    if isinstance(data.get("ipam"), Mapping):
        calls.update(DISCOVERY_READS)
    enis = data.get("enis")
    if isinstance(enis, Mapping) and any(isinstance(b, Mapping) and b.get("managed") is True for b in enis.values()):
        calls.update(MANAGED_ENI_READS)
    if data.get("import"):
        calls.update(IMPORT_READS)
    if drift:
        calls.update(DRIFT_READS)
        if data.get("resource_shares"):
            calls.update(SHARE_READS)
    return calls


def ram_policy(calls: Iterable[str], ram_action) -> dict:
    """A RAM policy document allowing exactly ``calls`` (``ram_action(op) -> "ns:Op"``), sorted."""
    actions = sorted({ram_action(c) for c in calls})
    return {"Version": "1", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
