"""The database goes away in the middle of an apply (a server of this test's own, stopped and started
again): the next write fails with a clear StateError that shows no password, the intents committed
before stay, and the next apply -- the server back -- recovers them with their ClientTokens like the
local backend does. Also: a server that is not there at all is ``State.BackendUnavailable``."""

from __future__ import annotations


import pytest

from reconciler.apply.execute import apply_plan
from reconciler.apply.recovery import recover
from reconciler.cloud.sandbox import SandboxCloud
from reconciler.errors import StateError
from reconciler.providers.alibaba import ApiProvider
from reconciler.states import journal as journal_mod
from reconciler.states.postgres import PostgresStateBackend
from tests.states.test_journal_crash import Client, _plan
from tests.support.cloudcheck import doubles, problems
from tests.support.postgres import free_port, own_server  # noqa: F401  (the fixture, found here by pytest)
from tests.support.specs import BASE

SECRET = "hunter2-never-shown"  # trust auth ignores it; no message may show it


@pytest.fixture(autouse=True)
def this_boot(monkeypatch):
    monkeypatch.setattr(journal_mod.faults, "BOOT_ID", "this-boot")


@pytest.fixture
def ws(tmp_path, own_server):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "main.yaml").write_text(BASE)
    cloud = SandboxCloud(tmp_path / "sandbox.db")
    conninfo = own_server.new_database() + f" password={SECRET}"
    yield tmp_path, conninfo, cloud
    cloud.close()


def _apply_until_the_server_stops(root, backend, cloud, server, stop_at: int):
    """Apply with one intent per call; just before call ``stop_at`` is made the server is stopped."""
    plan, state = _plan(root, backend)
    count = 0

    def stop(action, params):
        nonlocal count
        if action.startswith(("Describe", "List", "Get")):
            return
        count += 1
        if count == stop_at:
            server.stop("fast")

    txn = backend.transaction(state)
    result = apply_plan(plan, ApiProvider(Client(cloud, stop)), txn, state, window=1)
    with pytest.raises(StateError) as commit:
        txn.commit()
    txn.close()
    return result, commit.value


def _clear(error: StateError) -> None:
    assert error.code == "State.BackendUnavailable", error.message
    assert SECRET not in error.message and "Traceback" not in error.message
    assert "PostgreSQL state backend" in error.detail and "127.0.0.1" in error.detail


def test_the_server_stopped_mid_apply_then_recovery_finishes_it(ws, own_server):
    root, conninfo, cloud = ws
    backend = PostgresStateBackend(conninfo, "prod")
    result, commit = _apply_until_the_server_stops(root, backend, cloud, own_server, stop_at=3)
    _clear(result.error)  # the result of call 3 (carried out) could not be recorded
    assert "WAS carried out" in result.error.detail and len(result.done) == 2
    _clear(commit)
    _clear(pytest.raises(StateError, backend.read).value)  # every use says the same while it is down
    backend.close()

    own_server.start()
    again = PostgresStateBackend(conninfo, "prod")
    pending = again.pending_intents()
    assert len(pending) == 1  # the intent of call 3 was committed before the call, and stays
    client = Client(cloud)
    with again.lock("apply"):
        report = recover(again, lambda settings: ApiProvider(client))
        assert report.error is None and len(report.recovered) == 1
        assert client.calls == [(pending[0].api, pending[0].token)]  # the same ClientToken: no double
        plan, state = _plan(root, again)
        with again.transaction(state) as txn:
            assert apply_plan(plan, ApiProvider(Client(cloud)), txn, state).ok
    final = again.read()
    assert problems(final.resources, root / "sandbox.db") == [] and doubles(root / "sandbox.db") == []
    assert not _plan(root, again)[0].has_changes and again.pending_intents() == []
    again.close()


def test_a_holder_whose_server_restarted_has_lost_its_lock(ws, own_server):
    root, conninfo, cloud = ws
    holder = PostgresStateBackend(conninfo, "prod")
    plan, state = _plan(root, holder)
    with holder.lock("apply") as info:
        txn = holder.transaction(state)
        own_server.stop("fast")
        own_server.start()
        # the data connection reconnects, but the lock's session is gone: the fence refuses the write
        with pytest.raises(StateError) as lost:
            txn.record("vpc.x", {"type": "vpc", "name": "x", "id": "v-x", "attributes": {}})
        assert lost.value.code in ("State.LockLost", "State.BackendUnavailable"), lost.value.message
        if lost.value.code == "State.BackendUnavailable":  # the first use found the old connection dead
            with pytest.raises(StateError) as lost:
                txn.record("vpc.x", {"type": "vpc", "name": "x", "id": "v-x", "attributes": {}})
        assert lost.value.code == "State.LockLost" and info.id in lost.value.detail
        txn.close()
        other = PostgresStateBackend(conninfo, "prod")
        with other.lock("apply"):  # free for the next run, without force-unlock
            assert other.took_over is not None and other.took_over.id == info.id
        other.close()
    assert "vpc.x" not in PostgresStateBackend(conninfo, "prod").read().resources
    holder.close()


def test_no_server_at_all_is_backend_unavailable(tmp_path):
    backend = PostgresStateBackend(f"host=127.0.0.1 port={free_port()} user=u dbname=d password={SECRET} "
                                   "connect_timeout=3", "prod")
    for use in (backend.read, backend.pending_intents, backend.versions, lambda: backend.lock("apply").__enter__()):
        with pytest.raises(StateError) as failed:
            use()
        assert failed.value.code == "State.BackendUnavailable" and SECRET not in failed.value.message
        assert "u" in failed.value.detail and "/d" in failed.value.detail


def test_a_malformed_connection_string_is_a_config_error_without_the_password(tmp_path):
    backend = PostgresStateBackend(f"host=127.0.0.1 password={SECRET} oops", "prod")
    with pytest.raises(StateError) as failed:
        backend.read()
    assert failed.value.code == "State.BackendConfig" and SECRET not in failed.value.message
