"""`ipamctl policy`: the printed RAM policy is exactly what applying and re-planning the example
calls, it is enough (a served sandbox that enforces it lets the whole flow through), and every
action in it is needed (without any one of them the flow fails clearly, naming that action)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from reconciler.providers.policy import ram_policy
from reconciler.providers.sdk import ram_action
from tests.support.crashkit import ipamctl
from tests.support.via import serving

REPO = Path(__file__).resolve().parents[2]


def _example(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(REPO / "specs", root / "specs")
    return root


def _flow(root: Path, policy: dict, log: Path) -> tuple[list, set[str]]:
    """apply then plan against a sandbox that enforces ``policy``: (the two processes, the RAM actions called)."""
    with serving(root, policy=policy, log=log) as (s, env):
        runs = [ipamctl(root, "apply", "--auto-approve", env=env)]
        if runs[0].returncode == 0:
            runs.append(ipamctl(root, "plan", "--detailed-exitcode", env=env))
        return runs, {c["auth_action"] for c in s.calls()}


def test_the_policy_is_exactly_enough(tmp_path):
    root = _example(tmp_path, "printed")
    with serving(root) as (_s, env):
        printed = ipamctl(root, "policy", env=env)
    assert printed.returncode == 0, printed.stderr
    policy = json.loads(printed.stdout)
    assert policy["Version"] == "1" and len(policy["Statement"]) == 1
    actions = policy["Statement"][0]["Action"]
    assert actions == sorted(actions) and all(a.split(":")[0] in ("vpc", "ecs") for a in actions)
    assert "vpc:CreateIpam" in actions and "ecs:CreateNetworkInterface" in actions

    runs, called = _flow(_example(tmp_path, "enough"), policy, tmp_path / "enough.log")
    assert [r.returncode for r in runs] == [0, 0], runs[-1].stderr[-2000:]
    assert called == set(actions)  # nothing called that the policy leaves out, nothing in it unused

    for dropped in actions:
        less = {**policy, "Statement": [{**policy["Statement"][0], "Action": [a for a in actions if a != dropped]}]}
        runs, _ = _flow(_example(tmp_path, dropped.replace(":", "-")), less, tmp_path / f"{dropped}.log")
        failed = runs[-1]
        assert failed.returncode == 1, f"{dropped} was not needed"
        assert "Forbidden.RAM" in failed.stderr and dropped in failed.stderr, failed.stderr[-1500:]
        assert "Traceback" not in failed.stderr


def test_a_saved_plan_s_policy_is_its_calls(tmp_path):
    root = _example(tmp_path, "saved")
    with serving(root) as (_s, env):
        assert ipamctl(root, "plan", "--out", "p.json", env=env).returncode == 0
        printed = json.loads(ipamctl(root, "policy", "--plan", "p.json", env=env).stdout)
        with_drift = json.loads(ipamctl(root, "policy", "--plan", "p.json", "--drift", env=env).stdout)
    actions = set(printed["Statement"][0]["Action"])
    assert "vpc:ListIpams" not in actions  # applying a saved plan reads nothing at plan time
    assert {"vpc:CreateVpc", "vpc:DescribeVpcs", "vpc:OpenVpcIpamService"} <= actions
    assert set(with_drift["Statement"][0]["Action"]) - actions >= {"vpc:ListIpamPools", "ecs:DescribeInstances"}


def test_ram_policy_is_sorted_and_deduplicated():
    doc = ram_policy(["DescribeVpcs", "CreateVpc", "DescribeVpcs", "CreateIpam"], ram_action)
    assert doc["Statement"][0]["Action"] == ["vpc:CreateIpam", "vpc:CreateVpc", "vpc:DescribeVpcs"]
