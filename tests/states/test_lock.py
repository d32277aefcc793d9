"""The workspace lock, with real holder processes (no mocks)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest

from reconciler.errors import StateError
from reconciler.states.local import LocalStateBackend
from reconciler.states.lock import UNKNOWN_LOCK_ID, LockInfo

REPO = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from reconciler.states.local import LocalStateBackend
    backend = LocalStateBackend(Path(sys.argv[1]))
    with backend.lock(sys.argv[2]) as info:
        print(info.id, flush=True)
        time.sleep(float(sys.argv[3]))
    print("released", flush=True)
    """
)


@pytest.fixture
def backend(tmp_path: Path) -> LocalStateBackend:
    return LocalStateBackend(tmp_path / "state")


@pytest.fixture
def holders():
    """Start lock-holding processes; each returns (process, lock id). All are reaped at the end."""
    started: list[subprocess.Popen] = []

    def start(backend: LocalStateBackend, seconds: float, command: str = "apply -auto-approve"):
        env = dict(os.environ, PYTHONPATH=str(REPO))
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(backend.state_dir), command, str(seconds)],
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


def take(backend: LocalStateBackend, timeout: float = 0.0) -> LockInfo:
    with backend.lock("plan", timeout=timeout) as info:
        return info


def test_lock_file_holds_the_lock_info_while_held(backend):
    assert backend.lock_info() is None
    with backend.lock("apply") as info:
        lock_file = backend.state_dir / ".lock"
        on_disk = orjson.loads(lock_file.read_bytes())
        assert on_disk == {"id": info.id, "pid": os.getpid(), "host": socket.gethostname(), "user": info.user,
                           "command": "apply", "created": info.created, "path": str(lock_file.absolute())}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info.created)
        assert backend.lock_info() == info
        assert sorted(os.listdir(backend.state_dir)) == [".lock"]  # no temp file left behind
        expect("State.Locked", take, LocalStateBackend(backend.state_dir))  # another instance, same process
    assert backend.lock_info() is None and not lock_file.exists()
    assert take(backend).command == "plan"  # free again


def test_lock_is_released_when_the_block_raises(backend):
    with pytest.raises(RuntimeError):
        with backend.lock("apply"):
            raise RuntimeError
    assert backend.lock_info() is None


def test_second_process_is_refused_naming_the_holder(backend, holders):
    proc, lock_id = holders(backend, 30)
    error = expect("State.Locked", take, backend)
    for part in (lock_id, f"pid {proc.pid}@{socket.gethostname()}", "'apply -auto-approve'",
                 f"ipamctl force-unlock {lock_id}", backend.lock_info().created, backend.lock_info().user):
        assert part in error.detail
    assert backend.lock_info().pid == proc.pid
    error = expect("State.LockHeld", backend.force_unlock, lock_id)
    assert str(proc.pid) in error.detail and backend.lock_info().id == lock_id


def test_waiting_for_a_lock_that_is_released_in_time(backend, holders):
    proc, lock_id = holders(backend, 0.6)
    start = time.monotonic()
    info = take(backend, timeout=30)
    assert info.id != lock_id and time.monotonic() - start < 20
    assert proc.wait(timeout=10) == 0 and proc.stdout.readline().strip() == "released"


def test_waiting_gives_up_after_the_timeout(backend, holders):
    _, lock_id = holders(backend, 30)
    start = time.monotonic()
    error = expect("State.Locked", take, backend, timeout=0.5)
    assert 0.5 <= time.monotonic() - start < 10 and "waited" in error.detail and lock_id in error.detail


def test_killed_holder_leaves_a_stale_lock_that_force_unlock_clears(backend, holders):
    proc, lock_id = holders(backend, 60, command="apply")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    error = expect("State.LockStale", take, backend, timeout=5)
    assert f"`ipamctl force-unlock {lock_id}`" in error.detail
    for part in (f"pid {proc.pid}@", "'apply'", backend.lock_info().created):
        assert part in error.detail
    expect("State.LockStale", take, backend)  # never taken silently
    error = expect("State.LockIdMismatch", backend.force_unlock, "0000-wrong")
    assert backend.lock_info().id == lock_id
    backend.force_unlock(lock_id)
    assert backend.lock_info() is None
    expect("State.NotLocked", backend.force_unlock, lock_id)
    assert take(backend).id != lock_id


def test_holder_dying_while_we_wait_is_reported_as_stale(backend, holders):
    proc, lock_id = holders(backend, 60)
    killer = subprocess.Popen([sys.executable, "-c", f"import os,time; time.sleep(0.5); os.kill({proc.pid}, 9)"])
    try:
        error = expect("State.LockStale", take, backend, timeout=30)
    finally:
        killer.wait()
    assert lock_id in error.detail


def test_garbage_lock_file_is_a_stale_lock_with_unknown_holder(backend):
    backend.state_dir.mkdir()
    (backend.state_dir / ".lock").write_bytes(b"\x00\x01 not json")
    error = expect("State.LockStale", take, backend)
    assert f"`ipamctl force-unlock {UNKNOWN_LOCK_ID}`" in error.detail and "unknown" in error.detail
    info = backend.lock_info()
    assert (info.id, info.pid, info.host) == (UNKNOWN_LOCK_ID, 0, "unknown")
    expect("State.LockIdMismatch", backend.force_unlock, "some-id")
    backend.force_unlock(UNKNOWN_LOCK_ID)
    assert take(backend).id != UNKNOWN_LOCK_ID


def test_force_unlock_without_a_lock(backend):
    error = expect("State.NotLocked", backend.force_unlock, "anything")
    assert ".lock" in error.detail
