"""Crash safety: ``ipamctl apply`` killed with SIGKILL at a chosen point of a 302-action plan, then
converged by the next apply -- with the state matching the sandbox exactly, nothing made twice,
nothing orphaned, no state file damaged or missing.

The kill is real: the fault hook (``IPAM_FAULT_KILL_AFTER=k``, ``IPAM_FAULT_KILL_POINT``, read in
:mod:`reconciler.faults`) makes the process send itself SIGKILL the k-th time it passes the point:
no exception, no ``finally``, no atexit. k counts cloud calls (206 for this plan: a call carries up
to ten assigns of one ENI). Points: ``after-call`` (the cloud did it, the result is not journaled:
the gap this protects), ``before-call`` (the intent is durable, the call not made), ``after-record``
(the result is written, not yet fsynced), ``snapshot-replaced`` (mid snapshot write: new state.json,
old journal). Modes:

* ``kill``: the next apply finds the lock stale (reported with holder, time and command), the test
  runs ``ipamctl force-unlock ID``, and ``ipamctl apply --auto-approve`` converges;
* ``power``: as ``kill``, but first the journal is cut back to what was fsynced (the size the hook
  logged, ``IPAM_FAULT_SYNC_LOG``) and the next run sees another boot id: a power cut at that point.
  Recovery must then re-issue every pending intent, most of them answered from the ClientToken store;
* ``double``: the first recovery is killed too (after its first call), then another apply converges.

Default: a sample of 21 cases (14 distinct k, every point, every mode). ``IPAM_LONG_TESTS=1``:
every k for after-call, before-call and after-record, every k for power cuts after a call, and every
snapshot write (about 830 cases, ~25 minutes on 2 cores).
"""

from __future__ import annotations

import re
import signal
import tempfile
from contextlib import ExitStack
from pathlib import Path

import pytest

from reconciler.apply.execute import batches_of
from reconciler.planner import make_plan
from reconciler.source.loader import load_specs
from reconciler.states.local import LocalStateBackend
from tests.support.crashkit import (
    LONG,
    converged,
    crash_spec,
    files_intact,
    ipamctl,
    lock_id,
    make_workspace,
)
from tests.support.via import VIAS, serving


def _calls() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_workspace(Path(tmp) / "ws")
        return len(batches_of(make_plan(load_specs(root / "specs"), {}, lineage=None, serial=0).actions))


CALLS = _calls()


def _cases() -> list[tuple[str, int, str]]:
    if LONG:
        ks = range(1, CALLS + 1)
        return ([("after-call", k, "kill") for k in ks] + [("before-call", k, "kill") for k in ks]
                + [("after-record", k, "kill") for k in ks] + [("after-call", k, "power") for k in ks]
                + [("snapshot-replaced", k, "kill") for k in (1, 2)] + [("snapshot-replaced", 2, "power")]
                + [("after-call", k, "double") for k in range(1, CALLS + 1, 10)])
    spread = [1, 2, 17, 45, 88, 131, 170, CALLS - 1, CALLS]
    return ([("after-call", k, "kill") for k in spread]
            + [("before-call", 1, "kill"), ("before-call", 64, "kill"), ("after-record", 100, "kill"),
               ("after-record", CALLS, "kill"), ("snapshot-replaced", 1, "kill"), ("snapshot-replaced", 2, "kill")]
            + [("after-call", 30, "power"), ("after-call", 150, "power"), ("before-call", 77, "power")]
            + [("after-call", 55, "double"), ("after-call", 190, "double")])


CASES = _cases()
# Through `sandbox serve` and the alibaba provider (the SDK path): a sample of every point and mode.
SERVED = [("after-call", k, "kill") for k in (1, 17, 45, 88, 131, 170, CALLS)] + [
    ("before-call", 64, "kill"), ("after-record", 100, "kill"), ("snapshot-replaced", 2, "kill"),
    ("after-call", 30, "power"), ("after-call", 150, "power"), ("after-call", 55, "double")]
if LONG:
    SERVED = CASES
BOTH = [(*c, "embedded") for c in CASES] + [(*c, "served") for c in SERVED]


def _cut_to_durable(root: Path, log: Path) -> None:
    """What a power cut leaves: the journal as far as it was fsynced (the last size logged)."""
    journal = root / "state" / "state.journal"
    sizes = log.read_text().split() if log.exists() else []
    if journal.exists():
        durable = int(sizes[-1]) if sizes else 0
        with open(journal, "r+b") as f:
            f.truncate(min(durable, journal.stat().st_size))


def _unlock(root: Path, env: dict, in_flight: bool = False) -> None:
    """The next apply reports the stale lock (holder, time, command, calls in flight); force-unlock clears it."""
    stale = lock_id(root)
    assert stale, "a killed apply leaves its lock"
    refused = ipamctl(root, "apply", "--auto-approve", env=env)
    assert refused.returncode == 1 and "State.LockStale" in refused.stderr, refused.stderr
    if in_flight:
        assert re.search(r"It left \d+ cloud call\(s\) in flight", refused.stderr), refused.stderr
    assert stale in refused.stderr and "running 'apply'" in refused.stderr
    assert re.search(r"pid \d+@", refused.stderr) and re.search(r"at \d{4}-\d\d-\d\dT", refused.stderr)
    assert f"ipamctl force-unlock {stale}" in refused.stderr
    assert ipamctl(root, "force-unlock", stale).returncode == 0
    assert lock_id(root) is None


@pytest.mark.parametrize("point,k,mode,via", BOTH, ids=[f"{p}-{k}-{m}-{v}" for p, k, m, v in BOTH])
def test_killed_apply_converges(tmp_path, point, k, mode, via):
    root = make_workspace(tmp_path / "ws")
    with ExitStack() as stack:
        creds = stack.enter_context(serving(root))[1] if via == "served" else {}
        _killed_apply_converges(tmp_path, root, point, k, mode, creds)


def _killed_apply_converges(tmp_path: Path, root: Path, point: str, k: int, mode: str, creds: dict) -> None:
    log = tmp_path / "synced.log"
    kill = {"IPAM_FAULT_KILL_AFTER": str(k), "IPAM_FAULT_KILL_POINT": point, "IPAM_FAULT_SYNC_LOG": str(log)}
    first = ipamctl(root, "apply", "--auto-approve", env={**creds, **kill})
    assert first.returncode == -signal.SIGKILL, (first.returncode, first.stderr[-2000:])
    assert files_intact(root) == []
    env = dict(creds)
    if mode == "power":
        _cut_to_durable(root, log)
        env = {**creds, "IPAM_FAULT_BOOT_ID": "after-a-power-cut"}
        assert files_intact(root) == []
    _unlock(root, env, in_flight=point == "after-call")
    if mode == "double":
        again = ipamctl(root, "apply", "--auto-approve",
                        env={**env, "IPAM_FAULT_KILL_AFTER": "1", "IPAM_FAULT_KILL_POINT": "after-call"})
        assert again.returncode == -signal.SIGKILL, again.stderr[-2000:]
        assert files_intact(root) == []
        assert ipamctl(root, "force-unlock", lock_id(root)).returncode == 0
    final = ipamctl(root, "apply", "--auto-approve", env=env)
    assert final.returncode == 0, final.stderr[-3000:]
    assert converged(root) == []
    if (root / "state" / "state.journal").exists():
        pytest.fail("a converged apply leaves no journal")
    drift = ipamctl(root, "drift", "--detailed-exitcode", env=creds)
    assert drift.returncode == 0, drift.stdout[-2000:] + drift.stderr[-2000:]


def _destroy_calls() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_workspace(Path(tmp) / "ws")
        first = ipamctl(root, "apply", "--auto-approve")
        assert first.returncode == 0, first.stderr
        (root / "specs" / "main.yaml").write_text(crash_spec(12))
        state = LocalStateBackend(root / "state").read()
        plan = make_plan(load_specs(root / "specs"), state.resources, lineage=state.lineage, serial=state.serial)
        return len(batches_of(plan.actions))


DESTROY_KS = list(range(1, 85)) if LONG else [1, 40, 84]


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("k", DESTROY_KS)
def test_killed_destroy_converges(tmp_path, k, via):
    """Half the workspace removed from the specs: a delete killed after the cloud did it must not be
    tried again against something gone (nor leave its record behind)."""
    root = make_workspace(tmp_path / "ws")
    with ExitStack() as stack:
        creds = stack.enter_context(serving(root))[1] if via == "served" else {}
        assert ipamctl(root, "apply", "--auto-approve", env=creds).returncode == 0
        (root / "specs" / "main.yaml").write_text(crash_spec(12))
        first = ipamctl(root, "apply", "--auto-approve", env={**creds, "IPAM_FAULT_KILL_AFTER": str(k)})
        assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
        assert files_intact(root) == []
        assert ipamctl(root, "force-unlock", lock_id(root)).returncode == 0
        final = ipamctl(root, "apply", "--auto-approve", env=creds)
        assert final.returncode == 0, final.stderr[-3000:]
        assert converged(root) == []


def test_the_plan_is_big_enough():
    assert CALLS >= 200 and crash_spec().count("\n") > 100
    if LONG:
        assert _destroy_calls() == max(DESTROY_KS)
