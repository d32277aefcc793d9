"""Concurrent runs on one workspace, with real processes: two applies at once (one runs, the other
fails on the lock or waits for it), and two pipelines that each saved a plan against the same state
(the slower one's plan is refused as ``StalePlan``, so no block is handed out twice).

Tries: ``TRIES`` of each (default 5 applies-at-once, 3 waiting pairs, 6 pipeline pairs;
``IPAM_LONG_TESTS=1``: 50, 20 and 100).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from reconciler.states.local import LocalStateBackend
from tests.support.cloudcheck import cloud_resources
from tests.support.crashkit import (
    LONG,
    converged,
    crash_spec,
    ipamctl,
    make_workspace,
    popen,
)

AT_ONCE, WAITING, PIPELINES = (50, 20, 100) if LONG else (5, 3, 6)


def _both(root, *args_a, args_b=None):
    a = popen(root, *args_a)
    b = popen(root, *(args_b or args_a))
    out = []
    for proc in (a, b):
        stdout, stderr = proc.communicate(timeout=180)
        out.append((proc.returncode, stdout, stderr))
    return out


@pytest.mark.parametrize("attempt", range(AT_ONCE))
def test_two_applies_at_once_never_both_run(tmp_path, attempt):
    root = make_workspace(tmp_path / "ws", crash_spec(8))
    results = _both(root, "apply", "--auto-approve", "--json")
    applied = []
    for code, stdout, stderr in results:
        if code == 0:
            applied.append(len(json.loads(stdout)["applied"]))
        else:  # the loser is told who holds the lock
            assert code == 1 and "State.Locked" in stdout + stderr and "running 'apply'" in stdout + stderr, stderr
    assert applied and sum(1 for n in applied if n) == 1, applied  # exactly one made changes
    assert converged(root) == []


@pytest.mark.parametrize("attempt", range(WAITING))
def test_second_apply_waits_for_the_lock_then_finds_nothing_to_do(tmp_path, attempt):
    root = make_workspace(tmp_path / "ws", crash_spec(8))
    results = _both(root, "apply", "--auto-approve", "--json", "--lock-timeout", "120")
    assert [code for code, _, _ in results] == [0, 0], [r[2][-1000:] for r in results]
    applied = sorted(len(json.loads(stdout)["applied"]) for _, stdout, _ in results)
    assert applied[0] == 0 and applied[1] > 100  # the second planned under the lock, after the first
    assert converged(root) == []


def test_pipelines_planning_against_the_same_state_never_hand_out_a_block_twice(tmp_path):
    """Each try: pipeline A plans VPC a-i, pipeline B plans VPC b-i, both from the same pool, both
    against the same state -- so both plans choose the same lowest free /24. Both apply at once."""
    root = make_workspace(tmp_path / "ws", crash_spec(2))
    assert ipamctl(root, "apply", "--auto-approve").returncode == 0
    spec = root / "specs" / "main.yaml"
    kept: list[str] = []
    stale = contested = 0
    for i in range(PIPELINES):
        plans = {}
        for side in "ab":
            spec.write_text(_with_vpcs(crash_spec(2), [*kept, _vpc(f"{side}-{i}")]))
            out = root / f"{side}.plan"
            proc = ipamctl(root, "plan", "--out", str(out), "--json")
            assert proc.returncode == 0, proc.stderr[-2000:]
            plans[side] = [a["cidr"] for a in json.loads(proc.stdout)["actions"]
                           if a["action"] == "create" and a["address"].startswith("vpc.")]
        contested += plans["a"] == plans["b"]
        results = _both(root, "apply", str(root / "a.plan"), "--lock-timeout", "120",
                        args_b=("apply", str(root / "b.plan"), "--lock-timeout", "120"))
        codes = [code for code, _, _ in results]
        assert sorted(codes) == [0, 1], [r[2][-1000:] for r in results]
        loser = results[codes.index(1)][2]
        assert "StalePlan" in loser, loser
        stale += 1
        winner = "ab"[codes.index(0)]
        kept.append(_vpc(f"{winner}-{i}"))
        spec.write_text(_with_vpcs(crash_spec(2), kept))
    assert stale == contested == PIPELINES
    assert _double_allocations(root) == 0
    assert converged(root) == []


def _vpc(name: str) -> str:
    return f"  {name}: {{region: cn-hangzhou, ipv4: {{pool: team-0, mask: 24}}}}\n"


def _with_vpcs(base: str, lines: list[str]) -> str:
    head, _, tail = base.partition("vpcs:\n")
    return head + "vpcs:\n" + "".join(lines) + tail


def _double_allocations(root) -> int:
    """Blocks allocated more than once: in the cloud (allocations of one pool), or in the state."""
    cloud = cloud_resources(root / "state" / "sandbox.db")
    per_pool = Counter((a["IpamPoolId"], a["Cidr"]) for a in cloud["ipam_pool_allocation"])
    state = LocalStateBackend(root / "state").read()
    blocks = Counter(rec["attributes"]["ipv4"]["cidr"] for rec in state.resources.values() if rec["type"] == "vpc")
    return sum(n - 1 for n in per_pool.values() if n > 1) + sum(n - 1 for n in blocks.values() if n > 1)
