"""Crash safety with the PostgreSQL state backend: the real ``ipamctl apply --auto-approve`` process,
its workspace on ``backend: {type: postgres}`` (the connection in ``PG_CONN_STR``) and the embedded
sandbox, killed with SIGKILL at a chosen point of the 302-action plan of test_crash.py.

After each kill: the lock is free WITHOUT force-unlock (the dead process's sessions ended, so the
server freed its advisory lock; the ``locks`` row is left, naming it, not live), the journal rows
hold the intents in flight, and the next apply recovers them (the first one re-issued with its
ClientToken, the later ones dropped -- all re-issued after a reboot) and converges: the state matches
the sandbox, nothing doubled or orphaned, no intent pending, the lock row gone, ``ipamctl plan``
says "No changes", ``state history`` shows the versions written. Modes: ``kill``; ``reboot`` (the
next run sees another boot id); ``double`` (the first recovery is killed too, after its first call).

``snapshot-replaced`` is, for this backend, inside the write's database transaction (the new
version inserted, the journal not yet cleared): the server rolls it back whole.

Default: 23 cases. ``IPAM_LONG_TESTS=1``: every k for after-call, before-call and after-record, and
reboots and doubles every 10th k (704 cases).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from reconciler.planner import make_plan
from reconciler.source.loader import load_specs
from reconciler.states.journal import Intent, parse_journal
from reconciler.states.lock import LockInfo
from reconciler.states.postgres import PostgresStateBackend
from tests.apply.test_crash import CALLS
from tests.support.crashkit import (LONG, cloud_tokens, converged, crash_spec, ipamctl, make_workspace, paused,
                                     popen)
from tests.support.postgres import pg_conninfo, pg_server  # noqa: F401  (fixtures, found here by pytest)

WORKSPACE = "prod"
RECOVERED = re.compile(r"Recovered (\d+) action\(s\); the state records them \(serial (\d+)\)")
DROPPED = re.compile(r"(\d+) action\(s\) of the interrupted apply had not started")
APPLIED = re.compile(r"Apply complete: (\d+) actions?\.")


def pg_spec(workspace: str = WORKSPACE, vpcs: int = 24) -> str:
    return crash_spec(vpcs) + f"backend: {{type: postgres, workspace: {workspace}}}\n"


def _cases() -> list[tuple[str, int, str]]:
    if LONG:
        ks = range(1, CALLS + 1)
        return ([(p, k, "kill") for p in ("after-call", "before-call", "after-record") for k in ks]
                + [("snapshot-replaced", k, "kill") for k in (1, 2)]
                + [(p, k, m) for p in ("after-call", "before-call") for k in range(1, CALLS + 1, 10)
                   for m in ("reboot", "double")])
    spread = [1, 2, 17, 45, 88, 131, 170, CALLS - 1, CALLS]
    return ([("after-call", k, "kill") for k in spread]
            + [("before-call", 1, "kill"), ("before-call", 64, "kill"), ("before-call", CALLS, "kill"),
               ("after-record", 1, "kill"), ("after-record", 100, "kill"), ("after-record", CALLS, "kill"),
               ("snapshot-replaced", 1, "kill"), ("snapshot-replaced", 2, "kill")]
            + [("after-call", 30, "reboot"), ("before-call", 77, "reboot"), ("after-call", 150, "reboot")]
            + [("after-call", 55, "double"), ("after-call", 190, "double"), ("before-call", 120, "double")])


CASES = _cases()


def _actions() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_workspace(Path(tmp) / "ws")
        return len(make_plan(load_specs(root / "specs"), {}, lineage=None, serial=0).actions)


ACTIONS = _actions()


def recorded_actions(conninfo: str) -> int:
    """The actions whose results the journal rows hold, read from the table itself (a killed run
    cancels nothing, so every resolved intent is a result)."""
    with psycopg.connect(conninfo) as db:
        rows = db.execute("SELECT line FROM ipamctl.journal WHERE workspace = %s ORDER BY seq", [WORKSPACE]).fetchall()
    if not rows:
        return 0
    journal = parse_journal(b"".join(bytes(r[0]) for r in rows), "the journal rows")
    return sum(len(i.actions) for i in journal.intents if i.n in journal.resolved)


def killed(root: Path, env: dict) -> int:
    """Run an apply that the fault hook kills; its pid."""
    proc = popen(root, "apply", "--auto-approve", env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, out[-1000:], err[-2000:])
    return proc.pid


def free_without_force(backend: PostgresStateBackend, dead_pid: int) -> LockInfo:
    """The dead holder's row is left (it names the process) but no session holds the lock any more."""
    deadline = time.monotonic() + 10  # the server ends the session when it sees the socket closed
    while (status := backend.lock_status()) is not None and status.live and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status is not None and status.info.pid == dead_pid and status.info.command == "apply", status
    assert status.live is False, f"the killed apply's lock session is still alive: {status}"
    return status.info


def history(root: Path, env: dict) -> list[dict]:
    proc = ipamctl(root, "state", "history", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["versions"]


def clean_run(proc, what: str, dead: LockInfo | None = None) -> str:
    """A run that exited 0 without tripping over a lock; with ``dead``, saying it took that one over."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{what}: {proc.returncode}\n{out[-3000:]}"
    for word in ("Traceback", "LockStale", "State.Locked", "force-unlock"):
        assert word not in out, f"{what} says {word}:\n{out[-3000:]}"
    took = re.findall(r"Took over the lock (\S+) of [^\n]*?\(pid (\d+)@", proc.stderr)
    assert took == ([(dead.id, str(dead.pid))] if dead else []), proc.stderr[-2000:]
    return proc.stdout


def check_left(point: str, k: int, left: list[Intent], root: Path, backend: PostgresStateBackend) -> None:
    """What the killed run left in the database: the intents in flight, and no version but the first."""
    made = cloud_tokens(root)
    serials = [v.serial for v in backend.versions()]
    if point == "snapshot-replaced":  # the write's transaction was rolled back, the version with it
        assert left == [] and serials == ([] if k == 1 else [0])
        assert backend.has_journal() == (k == 2)
        return
    assert serials == [0]  # the base; the apply's own snapshot is written at its end only
    if point in ("after-call", "before-call"):
        assert left, f"a kill {point} leaves the call's intent pending"
    # only after-call's first pending call was carried out; the others never started
    assert [(i.api, i.token) in made for i in left] == [n == 0 and point == "after-call" for n in range(len(left))]


def check_recovered(out: str, left: list[Intent], mode: str, root: Path) -> int | None:
    """The next apply's report of what it recovered; the serial the recovery recorded, if any."""
    if not left:
        assert "Recovering the calls" not in out
        return None
    assert "Recovering the calls an interrupted apply left in flight (same ClientTokens)" in out, out[:2000]
    reissued = left if mode == "reboot" else left[:1]
    found = RECOVERED.search(out)
    assert found and int(found.group(1)) == sum(len(i.actions) for i in reissued), out[:3000]
    dropped = DROPPED.search(out)
    later = sum(len(i.actions) for i in left[len(reissued):])
    assert (int(dropped.group(1)) if dropped else 0) == later, out[:3000]
    made = cloud_tokens(root)
    assert all((i.api, i.token) in made for i in reissued)  # carried out with the recorded tokens
    return int(found.group(2))


@pytest.mark.parametrize("point,k,mode", CASES, ids=[f"{p}-{k}-{m}" for p, k, m in CASES])
def test_killed_apply_on_postgres_converges(tmp_path, pg_conninfo, point, k, mode):  # noqa: F811
    root = make_workspace(tmp_path / "ws", pg_spec())
    env = {"PG_CONN_STR": pg_conninfo}
    pid = killed(root, {**env, "IPAM_FAULT_KILL_AFTER": str(k), "IPAM_FAULT_KILL_POINT": point})
    with PostgresStateBackend(pg_conninfo, WORKSPACE) as backend:
        dead = free_without_force(backend, pid)
        left = backend.pending_intents()
        check_left(point, k, left, root, backend)
        recorded = recorded_actions(pg_conninfo)
        if mode == "reboot":
            env = {**env, "IPAM_FAULT_BOOT_ID": "another-boot"}
        if mode == "double":
            dead = free_without_force(backend, killed(root, {**env, "IPAM_FAULT_KILL_AFTER": "1",
                                                             "IPAM_FAULT_KILL_POINT": "after-call"}))
            still = backend.pending_intents()  # the re-issued call, killed after the cloud did it again
            assert [(i.api, i.token) for i in still] == [(left[0].api, left[0].token)]
            left = still
        final = clean_run(ipamctl(root, "apply", "--auto-approve", env=env), "the next apply", dead)
        recovered_at = check_recovered(final, left, mode, root)
        # every action carried out exactly once: recorded by the killed run, recovered, or applied now
        applied = APPLIED.search(final)
        assert applied or "No changes." in final, final[-1500:]
        total = recorded + sum(len(i.actions) for i in (left if mode == "reboot" else left[:1]))
        assert total + (int(applied.group(1)) if applied else 0) == ACTIONS
        assert converged(root, backend) == []
        assert not backend.has_journal()
        state = backend.read()
    plan = clean_run(ipamctl(root, "plan", "--detailed-exitcode", env=env), "plan")
    assert "No changes." in plan
    versions = history(root, env)
    serials = [v["serial"] for v in versions]
    assert serials[0] == 0 and serials == sorted(serials) and len(serials) <= 4, serials
    assert versions[-1]["current"] and serials[-1] == state.serial and versions[-1]["resources"] == len(state.resources)
    assert {v["lineage"] for v in versions} == {state.lineage}
    if recovered_at is not None:
        assert recovered_at in serials  # recovery wrote its own version before planning
    # the state lives in the database only: no local state file was written on the way
    assert sorted(p.name for p in (root / "state").iterdir() if not p.name.startswith("sandbox.db")) == []


def test_a_killed_apply_s_lock_is_free_and_other_workspaces_never_wait(tmp_path, pg_conninfo):  # noqa: F811
    """A real apply of ``prod`` held mid-way (holding its lock), killed from outside: while it holds
    the lock another apply of ``prod`` is refused naming it, one of ``dev`` on the same database
    runs through; once it is killed, an apply of ``prod`` already waiting for the lock takes it
    without force-unlock, recovers the call it left in flight and converges."""
    env = {"PG_CONN_STR": pg_conninfo}
    prod = make_workspace(tmp_path / "prod", pg_spec("prod"))
    dev = make_workspace(tmp_path / "dev", pg_spec("dev", vpcs=6))
    procs = [paused(prod, tmp_path / "held", 40, env=env)]  # the cloud made call 40; its result is not recorded
    holder = procs[0]
    try:
        with PostgresStateBackend(pg_conninfo, "prod") as backend:
            status = backend.lock_status()
            assert status is not None and status.live and status.info.pid == holder.pid
            refused = ipamctl(prod, "apply", "--auto-approve", env=env)
            assert refused.returncode == 1 and "State.Locked" in refused.stderr, refused.stderr[-2000:]
            assert status.info.id in refused.stderr and f"pid {holder.pid}@" in refused.stderr
            assert "LockStale" not in refused.stderr and "Traceback" not in refused.stderr
            started = time.monotonic()
            other = clean_run(ipamctl(dev, "apply", "--auto-approve", env=env), "the apply of dev")  # no lock wait
            assert "Apply complete:" in other and time.monotonic() - started < 60
            assert backend.lock_status() == status  # prod's holder was not disturbed
            procs.append(waiter := popen(prod, "apply", "--auto-approve", "--lock-timeout", "60", env=env))
            time.sleep(0.5)
            assert waiter.poll() is None  # waiting for the lock, not refused
            pending = backend.pending_intents()
            assert pending and (pending[0].api, pending[0].token) in cloud_tokens(prod)
            holder.kill()  # a real SIGKILL from outside, while it holds the lock
            assert holder.wait(timeout=30) == -signal.SIGKILL
            out, err = waiter.communicate(timeout=90)
            next_run = clean_run(subprocess.CompletedProcess(waiter.args, waiter.returncode, out, err), "the waiter",
                                 status.info)
            found = RECOVERED.search(next_run)
            assert found and int(found.group(1)) == len(pending[0].actions), next_run[:2000]
            assert f"{pending[0].actions[0]['address']}: " in next_run.split("Recovered")[0]
            assert converged(prod, backend) == []
        with PostgresStateBackend(pg_conninfo, "dev") as backend:
            assert converged(dev, backend) == []  # untouched by prod's kill and recovery
            assert [v.serial for v in backend.versions()] == [0, backend.read().serial]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
