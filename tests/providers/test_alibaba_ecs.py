"""The ECS half of the provider (``reconciler/providers/alibaba_ecs.py``) through the real CLI and sandbox."""

from __future__ import annotations

import json

from reconciler.states.local import LocalStateBackend
from tests.support.cloudcheck import problems
from tests.support.crashkit import converged, ipamctl, make_workspace

STOPPED = """\
ipam: {name: corp, region: cn-hangzhou}
pools:
  root: {scope: private, ip_version: IPv4, region: cn-hangzhou, cidrs: [10.0.0.0/8]}
vpcs:
  app: {region: cn-hangzhou, ipv4: {pool: root, mask: 16}}
vswitches:
  app-h: {vpc: app, zone: cn-hangzhou-h, cidr: {mask: 24}}
security_groups:
  sg: {vpc: app, type: basic}
instances:
  batch-1: {instance_type: ecs.g7.large, vswitch: app-h, security_group: sg, status: Stopped}
"""


def _sandbox_instance(root, name: str) -> dict:
    out = ipamctl(root, "sandbox", "call", "DescribeInstances", "RegionId=cn-hangzhou")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["Instances"]["Instance"]
    return next(r for r in rows if r["InstanceName"] == name)


def test_refused_stop_after_create_records_the_running_instance(tmp_path):
    """CreateInstance succeeded, StopInstance was refused: the instance and its primary ENI are in the
    state (as Running, as the cloud has them), nothing is orphaned, and the next apply stops it."""
    root = make_workspace(tmp_path / "ws", STOPPED)
    refused = ipamctl(root, "apply", "--auto-approve", env={"IPAM_FAULT_FAIL_CALL": "StopInstance"})
    assert refused.returncode == 1, refused.stderr[-2000:]
    assert "Fault.Injected" in refused.stderr and "instance.batch-1 was created" in refused.stderr, refused.stderr
    state, pending = LocalStateBackend(root / "state").read_with_intents()
    assert pending == []
    record = state.resources["instance.batch-1"]
    assert record["attributes"]["status"] == "Running"
    assert state.resources["eni.batch-1-primary"]["id"] == _sandbox_instance(root, "batch-1")["NetworkInterfaces"][
        "NetworkInterface"][0]["NetworkInterfaceId"]
    assert problems(state.resources, root / "state" / "sandbox.db") == []
    plan = ipamctl(root, "plan")
    assert "batch-1" in plan.stdout and "Stopped" in plan.stdout, plan.stdout
    again = ipamctl(root, "apply", "--auto-approve")
    assert again.returncode == 0, again.stderr[-2000:]
    assert _sandbox_instance(root, "batch-1")["Status"] == "Stopped"
    assert converged(root) == []
