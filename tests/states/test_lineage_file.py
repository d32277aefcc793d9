"""The workspace's lineage before its first snapshot: ``state/lineage``, fixed by the first
``plan --out`` (atomically, never over another), read as the lineage of the empty state."""

from __future__ import annotations

import errno
import threading

import pytest

from reconciler import workspace
from reconciler.errors import StateError
from reconciler.states import local
from reconciler.states.local import LINEAGE, LocalStateBackend
from reconciler.states.state import State
from reconciler.workspace import plan_lineage


def test_an_unwritten_workspace_has_no_lineage_until_one_is_fixed(tmp_path):
    backend = LocalStateBackend(tmp_path / "state")
    assert plan_lineage(backend.read()) is None
    assert not (tmp_path / "state").exists()  # reading writes nothing
    fixed = backend.fix_lineage()
    assert (tmp_path / "state" / LINEAGE).read_text() == fixed + "\n"
    assert plan_lineage(backend.read()) == fixed == backend.read().lineage
    assert backend.fix_lineage() == fixed  # fixed once
    assert [p.name for p in (tmp_path / "state").iterdir()] == [LINEAGE]  # no temp file left
    # the first snapshot keeps it, and from then on the snapshot's lineage is the workspace's
    with backend.transaction(backend.read()) as txn:
        txn.record("vpc.a", {"type": "vpc", "name": "a", "id": "vpc-1", "attributes": {}})
        txn.commit()
    assert backend.read().lineage == fixed and backend.fix_lineage() == fixed


def test_runs_fixing_the_lineage_at_once_agree(tmp_path):
    backends = [LocalStateBackend(tmp_path / "state") for _ in range(8)]
    found: list[str] = []
    threads = [threading.Thread(target=lambda b=b: found.append(b.fix_lineage())) for b in backends]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(found)) == 1 and backends[0].read().lineage == found[0]


def test_a_written_state_is_not_given_a_lineage_file(tmp_path):
    backend = LocalStateBackend(tmp_path / "state")
    backend.write(State.empty().with_change("vpc.a", {"type": "vpc", "name": "a", "id": None, "attributes": {}}))
    assert backend.fix_lineage() == backend.read().lineage
    assert not (tmp_path / "state" / LINEAGE).exists()


@pytest.mark.parametrize("content", [b"", b"\n", b"two words\n", b"\xff\xfe\n", b"x" * 500])
def test_a_damaged_lineage_file_is_reported(tmp_path, content):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / LINEAGE).write_bytes(content)
    with pytest.raises(StateError) as err:
        LocalStateBackend(tmp_path / "state").read()
    assert err.value.code == "State.Corrupt" and LINEAGE in str(err.value)


def test_a_lineage_that_cannot_be_written_is_a_clear_error(tmp_path, monkeypatch):
    def refuse(path, data):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(local, "_write_new", refuse)
    with pytest.raises(StateError) as err:
        LocalStateBackend(tmp_path / "state").fix_lineage()
    assert err.value.code == "State.WriteFailed" and "Read-only" in str(err.value)
    assert not (tmp_path / "state" / LINEAGE).exists()


def test_state_empty_is_still_unbound():
    assert plan_lineage(State.empty()) is None
    assert workspace.plan_lineage(State("l", 0, {})) == "l"
