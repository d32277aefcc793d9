"""Disk full in the state directory, and the cloud refusing (or losing the answer to) one call halfway.

Disk full is injected at the OS-call edge: ``IPAM_FAULT_DISK_BYTES=N`` makes every write into the
state directory fail with ENOSPC once the process has written N bytes there (the crossing write
writes what fits first, as a full disk does). A full apply of the plan writes about 310 KB (a 258 KB
journal, a 54 KB snapshot), so the budgets below fail it at its first snapshot write, at intents, at
results and at the final snapshot. After each: a clear error (``State.WriteFailed``, ENOSPC, and
whether the call was made), the state files intact, the state equal to the cloud except for at most
the one call whose result could not be written (its intent is on disk), and the next apply --
once there is room -- converges. ``IPAM_LONG_TESTS=1`` tries a budget every 2,500 bytes.

A refused call (``IPAM_FAULT_FAIL_CALL``): the error names it, the state records exactly what was
done (equal to the cloud, no intent left), the next apply finishes the job. A lost answer (the cloud
did it, the client saw a 503 through every retry): the call is reported in doubt, its intent stays
pending, and the next apply recovers it from the ClientToken store -- no double.
"""

from __future__ import annotations

import re

import pytest

from reconciler.states.local import LocalStateBackend
from tests.support.cloudcheck import doubles, problems
from tests.support.crashkit import (
    LONG,
    converged,
    files_intact,
    ipamctl,
    make_workspace,
)

# With a fixed intent window (16) the bytes written, and so where a budget runs out, are the same on every run.
WINDOW = {"IPAM_INTENT_WINDOW": "16"}
FIRST_SNAPSHOT, INTENT, RESULT, LAST_SNAPSHOT, NONE = "first snapshot", "intent", "result", "last snapshot", "none"
EXPECTED = {0: FIRST_SNAPSHOT, 1_000: INTENT, 30_000: RESULT, 90_000: INTENT, 120_000: RESULT, 257_000: RESULT,
            290_000: LAST_SNAPSHOT, 400_000: NONE}
BUDGETS = list(range(0, 320_001, 2_500)) if LONG else list(EXPECTED)


def _where(stderr: str, returncode: int) -> str:
    if returncode == 0:
        return NONE
    if "the call was NOT made" in stderr:
        return INTENT
    if "WAS carried out" in stderr:
        return RESULT
    return FIRST_SNAPSHOT if "0 of 302 actions" in stderr or "actions were carried out" not in stderr else LAST_SNAPSHOT


def _state_and_cloud(root):
    state, pending = LocalStateBackend(root / "state").read_with_intents()
    return state, pending, problems(state.resources, root / "state" / "sandbox.db")


@pytest.mark.parametrize("budget", BUDGETS)
def test_disk_full_then_apply_finishes(tmp_path, budget):
    root = make_workspace(tmp_path / "ws")
    full = ipamctl(root, "apply", "--auto-approve", env={**WINDOW, "IPAM_FAULT_DISK_BYTES": str(budget)})
    assert "Traceback" not in full.stderr
    if budget in EXPECTED and not LONG:
        assert _where(full.stderr, full.returncode) == EXPECTED[budget], full.stderr[-2000:]
    if full.returncode == 0:
        assert budget >= 300_000, "only a budget above what a full apply writes lets it finish"
    else:
        assert full.returncode == 1, full.stderr[-2000:]
        assert "State.WriteFailed" in full.stderr and "No space left on device" in full.stderr, full.stderr[-2000:]
        assert files_intact(root) == [] or not (root / "state" / "state.json").exists() and budget < 200
        if (root / "state" / "state.json").exists():
            state, pending, diff = _state_and_cloud(root)
            assert doubles(root / "state" / "sandbox.db") == []
            if diff:  # exactly the one call whose result could not be written (CreateIpam makes 3); its intent
                assert pending and len(diff) <= 3 and all(d.startswith(("orphan", "differs")) for d in diff), diff
                assert "WAS carried out" in full.stderr and "re-issues it with the same ClientToken" in full.stderr
        assert not (root / "state" / ".lock").exists(), "a failed apply releases its lock"
    again = ipamctl(root, "apply", "--auto-approve")
    assert again.returncode == 0, again.stderr[-3000:]
    assert converged(root) == []


def test_disk_still_full_at_recovery_changes_nothing(tmp_path):
    root = make_workspace(tmp_path / "ws")
    first = ipamctl(root, "apply", "--auto-approve", env={**WINDOW, "IPAM_FAULT_DISK_BYTES": "120000"})
    assert first.returncode == 1 and "WAS carried out" in first.stderr, first.stderr[-2000:]
    before = {p.name: p.read_bytes() for p in (root / "state").iterdir() if p.name.startswith("state.")}
    stuck = ipamctl(root, "apply", "--auto-approve", env={"IPAM_FAULT_DISK_BYTES": "10"})
    assert stuck.returncode == 1 and "No space left on device" in stuck.stderr and "Traceback" not in stuck.stderr
    after = {p.name: p.read_bytes() for p in (root / "state").iterdir() if p.name.startswith("state.")}
    assert after == before
    assert ipamctl(root, "apply", "--auto-approve").returncode == 0
    assert converged(root) == []


@pytest.mark.parametrize("fault", ["CreateVSwitch@7", "AddIpamPoolCidr@3", "AssignPrivateIpAddresses@5",
                                   "CreateNetworkInterface@1"])
def test_refused_call_halfway(tmp_path, fault):
    root = make_workspace(tmp_path / "ws")
    refused = ipamctl(root, "apply", "--auto-approve", env={"IPAM_FAULT_FAIL_CALL": fault})
    assert refused.returncode == 1 and "Fault.Injected" in refused.stderr, refused.stderr[-2000:]
    assert "actions were carried out and are recorded in the state" in refused.stderr
    state, pending, diff = _state_and_cloud(root)
    assert diff == [] and pending == [], (diff, pending)  # exactly what was done, nothing in doubt
    assert ipamctl(root, "apply", "--auto-approve").returncode == 0
    assert converged(root) == []


@pytest.mark.parametrize("fault", ["CreateVpc@3+:lost", "AssignPrivateIpAddresses@2+:lost", "CreateIpamPool@1+:lost"])
def test_lost_answer_is_recovered_not_doubled(tmp_path, fault):
    root = make_workspace(tmp_path / "ws")
    lost = ipamctl(root, "apply", "--auto-approve", env={"IPAM_FAULT_FAIL_CALL": fault})
    assert lost.returncode == 1 and "ServiceUnavailable" in lost.stderr, lost.stderr[-2000:]
    assert "the call may have been carried out" in lost.stderr and re.search(r"\d+ more may have been carried out",
                                                                             lost.stderr)
    state, pending, diff = _state_and_cloud(root)
    assert len(pending) == 1 and pending[0].api == fault.split("@")[0] and diff, (pending, diff)
    note = ipamctl(root, "plan")  # may refuse to plan around the unrecorded resource, but says why first
    assert pending[0].token in note.stderr and "re-issues them" in note.stderr
    again = ipamctl(root, "apply", "--auto-approve")
    assert again.returncode == 0 and "Recovered" in again.stdout, again.stderr[-2000:]
    assert converged(root) == []
