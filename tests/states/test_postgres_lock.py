"""The PostgreSQL workspace lock with real holder processes: workspaces never block each other, the same
workspace refuses a second locker naming the holder, a killed holder's lock is free again WITHOUT
force-unlock, and force-unlock ends a hung holder's session so that it can write nothing more."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from reconciler.errors import StateError
from reconciler.states.state import State

REPO = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent(
    """
    import sys, time
    from reconciler.states.postgres import PostgresStateBackend
    backend = PostgresStateBackend(sys.argv[1], sys.argv[2])
    with backend.lock(sys.argv[3]) as info:
        print(info.id, flush=True)
        time.sleep(float(sys.argv[4]))
    print("released", flush=True)
    """
)


@pytest.fixture
def holders(pg_conninfo):
    """Start lock-holding processes: ``start(workspace, seconds, command)`` -> (process, lock id)."""
    started: list[subprocess.Popen] = []

    def start(workspace: str = "prod", seconds: float = 60, command: str = "apply -auto-approve"):
        env = dict(os.environ, PYTHONPATH=str(REPO))
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, pg_conninfo, workspace, command, str(seconds)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        started.append(proc)
        lock_id = proc.stdout.readline().strip()
        assert lock_id, proc.stderr.read()
        return proc, lock_id

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def expect(code: str, fn, *args, **kwargs) -> StateError:
    with pytest.raises(StateError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value.message
    return info.value


def take(backend, timeout: float = 0.0):
    with backend.lock("plan", timeout=timeout) as info:
        return info


def test_two_workspaces_lock_at_the_same_time(pg_backends, holders):
    proc, lock_id = holders("prod")
    dev = pg_backends("dev")
    start = time.monotonic()
    with dev.lock("apply") as info:  # not blocked by prod's holder
        assert info.id != lock_id and dev.lock_info() == info
        assert pg_backends("prod").lock_info().id == lock_id
    assert time.monotonic() - start < 5
    assert pg_backends("prod").lock_status().live is True  # prod is still held


def test_a_second_locker_is_refused_naming_the_holder(pg_backends, holders):
    proc, lock_id = holders("prod", command="apply -auto-approve")
    backend = pg_backends()
    error = expect("State.Locked", take, backend)
    for part in (lock_id, f"pid {proc.pid}@{socket.gethostname()}", "'apply -auto-approve'",
                 f"ipamctl force-unlock {lock_id}", backend.lock_info().created, backend.lock_info().user):
        assert part in error.detail
    status = backend.lock_status()
    assert status.live is True and status.info.pid == proc.pid and status.info.command == "apply -auto-approve"


def test_the_same_process_cannot_take_it_twice(pg_backends):
    first, second = pg_backends(), pg_backends()
    with first.lock("apply"):
        expect("State.Locked", take, second)  # another session of the same process
        expect("State.Locked", take, first)
    assert take(second).command == "plan"


def test_waiting_for_a_lock_released_in_time(pg_backends, holders):
    proc, lock_id = holders("prod", seconds=0.8)
    start = time.monotonic()
    info = take(pg_backends(), timeout=30)
    assert info.id != lock_id and time.monotonic() - start < 20
    assert proc.wait(timeout=10) == 0 and proc.stdout.readline().strip() == "released"


def test_waiting_gives_up_after_the_timeout(pg_backends, holders):
    _, lock_id = holders("prod")
    start = time.monotonic()
    error = expect("State.Locked", take, pg_backends(), timeout=0.6)
    assert 0.6 <= time.monotonic() - start < 10 and "waited" in error.detail and lock_id in error.detail


def test_a_killed_holder_frees_the_lock_without_force_unlock(pg_backends, holders):
    proc, lock_id = holders("prod", command="apply")
    backend = pg_backends()
    assert backend.lock_status().live is True
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # the server ends the dead client's session (at once: its socket closed) and frees the advisory lock
    info = take(backend, timeout=10)
    assert info.id != lock_id
    assert backend.took_over is not None and backend.took_over.id == lock_id and backend.took_over.pid == proc.pid
    assert backend.lock_info() is None  # released again, and the dead holder's row is gone with it


def test_a_dead_holder_s_row_reads_as_not_live(pg_backends, holders):
    proc, lock_id = holders("prod")
    proc.kill()
    proc.wait()
    backend = pg_backends()
    deadline = time.monotonic() + 10
    while (status := backend.lock_status()).live and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status.info.id == lock_id and status.live is False


def test_force_unlock_ends_a_hung_holder(pg_backends, holders):
    proc, lock_id = holders("prod")
    backend = pg_backends()
    expect("State.LockIdMismatch", backend.force_unlock, "0000-wrong")
    assert backend.lock_status().live is True
    backend.force_unlock(lock_id)
    assert backend.lock_info() is None
    assert take(backend).id != lock_id
    expect("State.NotLocked", backend.force_unlock, lock_id)


def test_a_holder_whose_lock_was_forced_can_write_nothing_more(pg_backends):
    holder, admin = pg_backends(), pg_backends()
    base = State("lin-f", 1, {})
    holder.write(base)
    with holder.lock("apply") as info:
        txn = holder.transaction(base)
        txn.record("vpc.a", {"type": "vpc", "name": "a", "id": "v-a", "attributes": {}})
        admin.force_unlock(info.id)
        error = expect("State.LockLost", txn.record, "vpc.b", {"type": "vpc", "name": "b", "id": "v-b",
                                                                 "attributes": {}})
        assert error.address == "vpc.b" and "force-unlock" in error.detail
        expect("State.LockLost", holder.write, base)
        with admin.lock("apply"):  # the lock is free for others at once
            pass
        txn.close()
    state = admin.read()
    assert set(state.resources) == {"vpc.a"} and state.serial == 2  # what was recorded before stays


def test_force_unlock_without_a_lock(pg_backend):
    error = expect("State.NotLocked", pg_backend.force_unlock, "anything")
    assert "workspace prod" in error.detail
