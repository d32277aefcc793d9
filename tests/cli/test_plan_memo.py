"""The whole-plan memo (reconciler/cli/memo.py): a no-change ``plan`` answered from ``state/plan.memo``,
byte for byte what the full plan prints, and never when any part of its key differs.

Whether a run was answered from the memo is read from the process itself (``-X importtime``: a run
answered from the memo never imports the planner), not from its timing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from reconciler.cli import memo
from tests.conftest import REPO
from tests.support.specs import BASE

PLANNER = "reconciler.planner"


def _plan(ws, *args: str) -> tuple[subprocess.CompletedProcess, bool]:
    """``ipamctl plan`` as a process: its result, and whether it planned (imported the planner)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", **ws.env}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "reconciler", "-C", str(ws.root), *args],
                          capture_output=True, text=True, env=env, timeout=120)
    planned = any(line.split("|")[-1].strip() == PLANNER for line in proc.stderr.splitlines())
    return proc, planned


def _converged(ws):
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    first, planned = _plan(ws, "plan")
    assert planned and first.returncode == 0 and "No changes" in first.stdout, first.stderr
    assert memo.path(ws.root).is_file()
    return first


def test_a_no_change_plan_is_answered_from_the_memo_byte_for_byte(ws):
    first = _converged(ws)
    again, planned = _plan(ws, "plan")
    assert not planned  # answered from the memo
    assert (again.stdout, again.returncode) == (first.stdout, first.returncode)
    full, planned = _plan(ws, "plan", "--full")  # --full plans again, whatever the memo holds
    assert planned and (full.stdout, full.returncode) == (first.stdout, first.returncode)
    exit_code, planned = _plan(ws, "plan", "--detailed-exitcode")  # another option: its own key
    assert planned and exit_code.returncode == 0 and exit_code.stdout == first.stdout
    exit_code, planned = _plan(ws, "plan", "--detailed-exitcode")
    assert not planned and exit_code.stdout == first.stdout
    for other in (("plan", "--json"), ("plan", "--markdown"), ("plan", "--refresh")):
        assert _plan(ws, *other)[1], other  # never for another output, nor a refresh


def test_any_change_to_the_specs_or_the_state_plans_in_full(ws):
    first = _converged(ws)
    # a spec's bytes (a comment: the plan is the same, the key is not)
    ws.write("main.yaml", BASE + "# a comment\n")
    again, planned = _plan(ws, "plan")
    assert planned and again.stdout == first.stdout
    assert not _plan(ws, "plan")[1]  # the new key is kept
    # the provider settings (they are in the specs)
    ws.write("provider.yaml", "provider: {type: sandbox, path: state/sandbox.db}\n")
    again, planned = _plan(ws, "plan")
    assert planned and again.stdout == first.stdout
    # a change of the specs that changes the plan: planned, never answered with the old output
    ws.write("more.yaml", "vswitches:\n  prod-i: {vpc: prod, zone: cn-hangzhou-i, cidr: {mask: 24}}\n")
    changed, planned = _plan(ws, "plan")
    assert planned and "vswitch.prod-i" in changed.stdout and changed.stdout != first.stdout
    assert _plan(ws, "plan")[1]  # a plan with changes is not kept
    ws.remove("more.yaml")
    assert _plan(ws, "plan")[1] is False  # back to the kept key
    # the state: its bytes (any file of state/ but the memo and the lock)
    state = ws.root / "state" / "state.json"
    kept = state.read_bytes()
    ws.write("more.yaml", "vswitches:\n  prod-i: {vpc: prod, zone: cn-hangzhou-i, cidr: {mask: 24}}\n")
    ws.run("apply", "--auto-approve", check=0)
    assert state.read_bytes() != kept
    moved, planned = _plan(ws, "plan")  # no changes again, against another state: planned, then kept
    assert planned and "No changes" in moved.stdout
    assert not _plan(ws, "plan")[1]
    (ws.root / "state" / "notes.txt").write_text("any file of the state folder\n")
    assert _plan(ws, "plan")[1]


def test_the_key_covers_the_source_of_ipamctl_and_the_options(ws, tmp_path):
    _converged(ws)
    package = tmp_path / "package"
    shutil.copytree(REPO / "reconciler", package, ignore=shutil.ignore_patterns("__pycache__"))
    base = memo.key(ws.root, colour=False, detailed=False, package=package)
    assert base == memo.key(ws.root, colour=False, detailed=False, package=package)  # deterministic
    (package / "plans" / "planfile.py").write_text((package / "plans" / "planfile.py").read_text() + "\n")
    assert memo.key(ws.root, colour=False, detailed=False, package=package) != base  # another ipamctl
    keys = {memo.key(ws.root, colour=c, detailed=d) for c in (False, True) for d in (False, True)}
    assert len(keys) == 4
    # the installed package is the one keyed by default
    assert memo.key(ws.root, colour=False, detailed=False) == memo.key(
        ws.root, colour=False, detailed=False, package=REPO / "reconciler")


def test_a_memo_cut_short_or_of_another_key_is_not_used(ws):
    first = _converged(ws)
    path = memo.path(ws.root)
    data = path.read_bytes()
    path.write_bytes(data[:-3])
    again, planned = _plan(ws, "plan")
    assert planned and again.stdout == first.stdout
    path.write_bytes(b"memo 0123 0 3\n\nabc")  # one of another key
    again, planned = _plan(ws, "plan")
    assert planned and again.stdout == first.stdout


def test_no_memo_when_the_plan_reads_outside_the_workspace_files(ws):
    """A sandbox database outside state/ (discovery reads it at plan time, and its bytes are no part of
    the key): the plan is never kept."""
    ws.write("main.yaml", BASE)
    ws.write("provider.yaml", "provider: {type: sandbox, path: cloud/sandbox.db}\n")
    ws.run("apply", "--auto-approve", check=0)
    assert (ws.root / "cloud" / "sandbox.db").is_file()
    first, planned = _plan(ws, "plan")
    assert planned and "No changes" in first.stdout
    assert not memo.path(ws.root).exists()
    assert _plan(ws, "plan")[1]
