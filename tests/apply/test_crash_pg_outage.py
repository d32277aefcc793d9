"""The database server stopped in the middle of a real ``ipamctl apply`` process, then started again.

The apply is held at an exact point by the pause hook (``IPAM_FAULT_PAUSE_AFTER=k``, see
reconciler/faults.py) while a server of this test's own is stopped (``immediate``: as a crash;
``fast``: as an administrator's shutdown), then let go. It must stop with exit code 1 and errors
that each fit on one line, say ``State.BackendUnavailable`` and name the backend -- no traceback, no
password -- and say whether the call in question was carried out. While the server is down every
command says the same in one line. Once it is back, the next apply takes the lock without
force-unlock (the restart ended the dead sessions), re-issues the call in flight with its ClientToken
(the sandbox answers from its token store: no double), and converges; every action is carried out
exactly once.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from reconciler.states.postgres import PostgresStateBackend
from tests.apply.test_crash_pg import ACTIONS, APPLIED, RECOVERED, clean_run, pg_spec, recorded_actions
from tests.support.crashkit import cloud_tokens, converged, ipamctl, make_workspace, paused
from tests.support.postgres import own_server  # noqa: F401  (the fixture, found here by pytest)

SECRET = "hunter2-never-shown"  # trust auth ignores it; no output may show it
RECORDED = re.compile(r"(\d+) of (\d+) actions were carried out and are recorded in the state journal")

# (point, k, how the server stops, IPAM_INTENT_WINDOW): with the call carried out and its result
# unrecordable (after-call, before-call), and -- one intent per call -- with the next intent unrecordable
CASES = [("after-call", 40, "immediate", None), ("before-call", 150, "fast", None), ("after-record", 90, "fast", "1")]


def unavailable(proc, what: str) -> list[str]:
    """Exit code 1, every error one ``State.BackendUnavailable`` line naming the backend; the error lines."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, f"{what}: {proc.returncode}\n{out[-3000:]}"
    assert "Traceback" not in out and SECRET not in out, out[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert errors, proc.stderr[-2000:]
    for line in errors:
        assert "State.BackendUnavailable" in line and "the PostgreSQL state backend (127.0.0.1:" in line, line
    return errors


@pytest.mark.parametrize("point,k,stop,window", CASES, ids=[f"{p}-{k}-{s}" for p, k, s, _ in CASES])
def test_the_server_stopped_mid_apply_then_the_next_apply_recovers(tmp_path, own_server, point, k, stop, window):
    root = make_workspace(tmp_path / "ws", pg_spec())
    conninfo = own_server.new_database()
    env = {"PG_CONN_STR": f"{conninfo} password={SECRET}"}
    first_env = {**env, **({"IPAM_INTENT_WINDOW": window} if window else {})}
    marker = tmp_path / "paused"
    proc = paused(root, marker, k, point, env=first_env)
    try:
        own_server.stop(stop)
        marker.unlink()  # go on: the next write to the database finds it gone
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    errors = unavailable(subprocess.CompletedProcess(proc.args, proc.returncode, out, err), "the apply")
    in_flight = point != "after-record"
    if in_flight:  # the result of the call made could not be recorded: it is in doubt, and said so
        assert "The call WAS carried out" in errors[0] and "same ClientToken" in errors[0], errors[0]
        assert "more may have been carried out" in err
    else:  # the next call's intent could not be recorded, so that call was never made
        assert "the call was NOT made" in errors[0] and "may have been carried out" not in err, errors[0]
    told = RECORDED.search(err)
    assert told and int(told.group(2)) == ACTIONS, err[-2000:]

    for command in (("apply", "--auto-approve"), ("plan",), ("state", "history")):  # while it is down
        down = ipamctl(root, *command, env=env)
        assert unavailable(down, " ".join(command)) == down.stderr.splitlines(), down.stderr
        assert "cannot connect to the PostgreSQL state backend" in down.stderr

    own_server.start()
    with PostgresStateBackend(conninfo, "prod") as backend:
        assert int(told.group(1)) == recorded_actions(conninfo)  # what it said it recorded is in the rows
        pending = backend.pending_intents()
        made = cloud_tokens(root)
        if in_flight:
            assert pending and (pending[0].api, pending[0].token) in made
        else:
            assert pending == []
        status = backend.lock_status()  # the row is left; the restart ended its session
        assert status is not None and status.info.pid == proc.pid and status.live is False
        started_at = time.monotonic()
        final = clean_run(ipamctl(root, "apply", "--auto-approve", env=env), "the apply after the restart",
                          status.info)
        assert time.monotonic() - started_at < 60
        assert SECRET not in final
        recovered = RECOVERED.search(final)
        if in_flight:  # re-issued with its token: answered from the sandbox's store, not made again
            assert recovered and int(recovered.group(1)) == len(pending[0].actions), final[:2000]
            assert f"{pending[0].actions[0]['address']}: " in final.split("Recovered")[0]
            assert cloud_tokens(root) >= made
        else:
            assert recovered is None and "Recovering the calls" not in final
        applied = APPLIED.search(final)
        assert applied, final[-2000:]
        again = int(recovered.group(1)) if recovered else 0
        assert int(told.group(1)) + again + int(applied.group(1)) == ACTIONS  # each action exactly once
        assert converged(root, backend) == []
        assert not backend.has_journal() and backend.lock_status() is None
    assert "No changes." in clean_run(ipamctl(root, "plan", env=env), "plan")
