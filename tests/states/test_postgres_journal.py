"""The intent journal kept as rows, and recovery through it: what tests/states/test_journal_crash.py
shows for the local files, on a real PostgreSQL server -- an intent committed before its call,
done and cancel rows, pending intents carried over snapshot writes, and recovery after a simulated
crash re-issuing the calls with the very ClientTokens of the intents."""

from __future__ import annotations

import psycopg
import pytest

from reconciler.apply.execute import apply_plan, batches_of, client_token
from reconciler.apply.recovery import recover
from reconciler.cloud.sandbox import SandboxCloud
from reconciler.errors import CloudError, StateError
from reconciler.providers.alibaba import ApiProvider
from reconciler.states import journal as journal_mod
from reconciler.states.journal import encode_intent
from reconciler.states.pg_journal import PgJournalWriter
from reconciler.states.postgres import PostgresStateBackend
from tests.states.test_journal_crash import Client, _interrupted, _plan
from tests.support.cloudcheck import doubles, problems
from tests.support.specs import BASE


@pytest.fixture(autouse=True)
def this_boot(monkeypatch):
    monkeypatch.setattr(journal_mod.faults, "BOOT_ID", "this-boot")


@pytest.fixture
def ws(tmp_path, pg_backend):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "main.yaml").write_text(BASE)
    cloud = SandboxCloud(tmp_path / "sandbox.db")
    yield tmp_path, pg_backend, cloud
    cloud.close()


def rows(conninfo: str) -> list[bytes]:
    with psycopg.connect(conninfo) as conn:
        return [bytes(r[0]) for r in conn.execute("SELECT line FROM ipamctl.journal ORDER BY seq")]


def test_every_call_finds_its_intent_committed(ws, pg_backends):
    root, backend, cloud = ws
    plan, state = _plan(root, backend)
    seen = []

    def check(action, params):
        if action.startswith(("Describe", "List", "Get")):
            return
        pending = pg_backends().pending_intents()  # another connection: only committed rows are seen
        assert params["ClientToken"] in {i.token for i in pending}
        seen.append(action)

    with backend.transaction(state) as txn:
        assert isinstance(txn._journal, PgJournalWriter)  # rows, not a file
        result = apply_plan(plan, ApiProvider(Client(cloud, check)), txn, state, window=4)
    assert result.ok and len(seen) == len(batches_of(plan.actions))
    assert backend.pending_intents() == [] and not backend.has_journal()
    assert problems(backend.read().resources, root / "sandbox.db") == []
    assert [v.serial for v in backend.versions()] == [0, backend.read().serial]


def test_done_and_cancel_lines_are_rows_in_the_journal_encoding(ws, pg_conninfo):
    root, backend, cloud = ws
    plan, state = _plan(root, backend)
    txn = backend.transaction(state)
    calls = [("tok-1", "CreateVpc", [plan.actions[0].to_dict()], {"type": "sandbox"}),
             ("tok-2", "CreateVpc", [plan.actions[1].to_dict()], {"type": "sandbox"})]
    first, second = txn.intend(calls)
    assert [r.count(b"\n") for r in rows(pg_conninfo)] == [1, 1]  # one line a row
    assert rows(pg_conninfo) == [encode_intent(first), encode_intent(second)]
    address = plan.actions[0].address
    txn.done(first, {address: {"type": address.split(".")[0], "name": address.split(".")[1], "id": "x-1",
                               "attributes": {}}})
    txn.cancel([second], "refused")
    txn.close()
    kinds = [r.split(b'"kind":"')[1].split(b'"')[0] for r in rows(pg_conninfo)]
    assert kinds == [b"intent", b"intent", b"done", b"cancel"]
    fresh, pending = PostgresStateBackend(pg_conninfo, "prod").read_with_intents()
    assert pending == [] and fresh.resources[address]["id"] == "x-1" and fresh.serial == state.serial + 1


def test_tokens_are_reused_verbatim_by_recovery_after_a_crash(ws):
    root, backend, cloud = ws
    plan = _interrupted(root, backend, cloud, call=4)
    pending = backend.pending_intents()
    assert pending[0].token == client_token(backend.read().lineage, plan.serial, plan.actions[3])
    client = Client(cloud)
    report = recover(backend, lambda settings: ApiProvider(client))
    assert client.calls == [(pending[0].api, pending[0].token)]
    assert len(report.recovered) == 1 and len(report.dropped) == len(pending[1:]) > 0
    assert backend.pending_intents() == []
    assert problems(backend.read().resources, root / "sandbox.db") == [] and doubles(root / "sandbox.db") == []


def test_after_a_reboot_every_pending_intent_is_reissued_in_order(ws, monkeypatch):
    root, backend, cloud = ws
    _interrupted(root, backend, cloud, call=3, window=6)
    pending = backend.pending_intents()
    assert len(pending) == 4
    monkeypatch.setattr(journal_mod.faults, "BOOT_ID", "another-boot")
    client = Client(cloud)
    report = recover(backend, lambda settings: ApiProvider(client))
    assert [t for _, t in client.calls if t] == [i.token for i in pending] and not report.dropped
    assert problems(backend.read().resources, root / "sandbox.db") == []
    plan, _ = _plan(root, backend)
    assert len(batches_of(plan.actions)) == 9 - 6


def test_refused_on_reissue_cancels_the_rest(ws, monkeypatch):
    root, backend, cloud = ws
    _interrupted(root, backend, cloud, call=1, made=False, window=5)
    before = backend.read()
    monkeypatch.setattr(journal_mod.faults, "BOOT_ID", "another-boot")

    def refuse(action, params):
        raise CloudError("OperationDenied.Something", "no")

    report = recover(backend, lambda settings: ApiProvider(Client(cloud, refuse)))
    assert report.error is None and len(report.cancelled) == 5
    assert backend.pending_intents() == [] and backend.read() == before


def test_snapshot_writes_carry_pending_intents_over(ws, pg_conninfo):
    root, backend, cloud = ws
    _interrupted(root, backend, cloud, call=5)
    state, pending = backend.read_with_intents()
    assert pending and state.serial > 0
    backend.write(state)  # another command writing the state
    assert backend.read_with_intents() == (state, pending)
    assert rows(pg_conninfo) == [encode_intent(i) for i in pending]
    txn = backend.transaction(state)
    assert txn.pending_intents == pending
    txn.close()


def test_a_transaction_refuses_a_stale_base_and_another_lineage(pg_backend):
    from reconciler.states.state import State

    pg_backend.write(State("lin-s", 2, {}))
    with pytest.raises(StateError) as stale:
        pg_backend.transaction(State("lin-s", 1, {}))
    with pytest.raises(StateError) as other:
        pg_backend.transaction(State("lin-x", 2, {}))
    assert (stale.value.code, other.value.code) == ("State.Stale", "State.LineageMismatch")


def test_commit_twice_keeps_recording_into_the_rows(pg_backend):
    from reconciler.states.state import State

    base = State("lin-t", 1, {})
    pg_backend.write(base)
    txn = pg_backend.transaction(base)
    txn.record("vpc.a", {"type": "vpc", "name": "a", "id": "v-a", "attributes": {}})
    assert txn.commit().serial == 2 and not pg_backend.has_journal()
    txn.record("vpc.b", {"type": "vpc", "name": "b", "id": "v-b", "attributes": {}})
    assert pg_backend.has_journal() and pg_backend.read().serial == 3  # recorded after the first commit
    txn.__exit__(None, None, None)
    assert [v.serial for v in pg_backend.versions()] == [1, 2, 3] and not pg_backend.has_journal()
