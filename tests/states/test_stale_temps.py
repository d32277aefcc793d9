"""A killed snapshot write leaves a temp file; the next run that holds the lock removes it (issue 17,
item 21), and a broken lock file is reported as unreadable, with how to remove it (item 23)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

from reconciler.errors import StateError
from reconciler.states.local import LocalStateBackend
from reconciler.states.state import State
from tests.conftest import REPO


def test_a_killed_snapshot_write_leaves_a_temp_file_the_next_locked_run_removes(tmp_path):
    state_dir = tmp_path / "state"
    LocalStateBackend(state_dir).write(State.empty())
    code = ("import os, signal, sys; sys.path.insert(0, sys.argv[1]);"
            "from pathlib import Path; from reconciler.states import local;"
            "from reconciler.states.local import LocalStateBackend; from reconciler.states.state import State;"
            "real = local._write_new\n"
            "def killed(path, data):\n"
            "    real(path, data); os.kill(os.getpid(), signal.SIGKILL)\n"
            "local._write_new = killed\n"
            "LocalStateBackend(Path(sys.argv[2])).write(State.empty())")
    proc = subprocess.run([sys.executable, "-c", code, str(REPO), str(state_dir)], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    leaked = [n for n in os.listdir(state_dir) if n.startswith(".state.json.") and n.endswith(".tmp")]
    assert len(leaked) == 1
    other = state_dir / "notes.tmp"  # not one of the backend's: kept
    other.write_text("mine")
    journal_tmp = state_dir / f".state.journal.{uuid.uuid4().hex}.tmp"
    journal_tmp.write_text("")
    backend = LocalStateBackend(state_dir)
    backend.read()  # reading does not remove anything (no lock held)
    assert (state_dir / leaked[0]).exists()
    with backend.lock("apply"):
        pass
    assert not (state_dir / leaked[0]).exists() and not journal_tmp.exists() and other.exists()


def test_a_broken_lock_file_is_reported_as_unreadable(tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    lock = state_dir / ".lock"
    lock.write_bytes(b"")
    backend = LocalStateBackend(state_dir)
    try:
        with backend.lock("apply"):
            raise AssertionError("taken")
    except StateError as exc:
        assert exc.code == "State.LockStale"
        assert f"the lock file {lock.absolute()} is unreadable" in exc.detail
        assert f"rm {lock.absolute()}" in exc.detail and "force-unlock unknown" in exc.detail
        assert "taken by unknown" not in exc.detail and "pid 0@unknown" not in exc.detail
    try:
        backend.force_unlock("1234")
    except StateError as exc:
        assert exc.code == "State.LockIdMismatch" and "unreadable" in exc.detail
    backend.force_unlock("unknown")
    assert not lock.exists()
