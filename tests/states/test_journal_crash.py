"""The intent journal and recovery, in-process: intents durable before calls, torn and damaged
journals with intents, pending intents carried over snapshot writes, ClientTokens re-used verbatim,
which pending intents recovery re-issues (same boot: the first; after a reboot: all), and what it
does when a re-issued call is refused or fails ambiguously."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.apply.execute import apply_plan, batches_of, client_token
from reconciler.apply.recovery import recover
from reconciler.cloud.sandbox import SandboxCloud
from reconciler.errors import CloudError, StateError
from reconciler.planner import make_plan
from reconciler.providers.alibaba import ApiProvider
from reconciler.source.loader import load_specs
from reconciler.states import journal as journal_mod
from reconciler.states.journal import encode_done
from reconciler.states.local import LocalStateBackend
from tests.support.cloudcheck import doubles, problems
from tests.support.specs import BASE


class Client:
    """The sandbox, recording (api, ClientToken) of every call; ``on_call`` runs before each."""

    def __init__(self, cloud, on_call=None):
        self.cloud, self.on_call, self.calls = cloud, on_call, []

    def call(self, action, params):
        if self.on_call:
            self.on_call(action, params)
        self.calls.append((action, params.get("ClientToken")))
        return self.cloud.call(action, params)

    def close(self):
        pass


@pytest.fixture(autouse=True)
def this_boot(monkeypatch):
    """A boot id of our own (the same on every platform); a test that reboots sets another."""
    monkeypatch.setattr(journal_mod.faults, "BOOT_ID", "this-boot")


@pytest.fixture
def ws(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "main.yaml").write_text(BASE)
    cloud = SandboxCloud(tmp_path / "sandbox.db")
    yield tmp_path, LocalStateBackend(tmp_path / "state"), cloud
    cloud.close()


def _plan(root: Path, backend):
    state = backend.read()
    return make_plan(load_specs(root / "specs"), state.resources, lineage=state.lineage if state.serial else None,
                     serial=state.serial), state


def _interrupted(root, backend, cloud, call: int, made: bool = True, window: int = 8):
    """Apply, and 'die' as SIGKILL would (nothing more written) at call number ``call``: after the
    cloud carried it out and before its result is written (``made``), or before it is made."""
    plan, state = _plan(root, backend)

    class Died(BaseException):
        pass

    count = 0

    class Dying(Client):
        def call(self, action, params):
            nonlocal count
            count += 1
            if count == call and not made:
                raise Died()
            answer = super().call(action, params)
            if count == call:
                raise Died()
            return answer

    txn = backend.transaction(state)
    txn.cancel = lambda *args, **kw: None  # a killed process writes nothing more
    with pytest.raises(Died):
        apply_plan(plan, ApiProvider(Dying(cloud)), txn, state, window=window)
    txn.close()
    return plan


def test_every_call_finds_its_intent_durable_on_disk(ws):
    root, backend, cloud = ws
    plan, state = _plan(root, backend)
    seen = []

    def check(action, params):
        if action.startswith(("Describe", "List", "Get")):
            return  # the provider's read-backs (a create waited for until it is ready) carry no intent
        pending = LocalStateBackend(backend.state_dir).pending_intents()  # a second reader, from disk
        assert params["ClientToken"] in {i.token for i in pending}
        seen.append(action)

    with backend.transaction(state) as txn:
        result = apply_plan(plan, ApiProvider(Client(cloud, check)), txn, state, window=4)
    assert result.ok and len(seen) == len(batches_of(plan.actions))
    assert backend.pending_intents() == [] and not backend.journal_path.exists()


def test_a_call_without_a_durable_intent_is_never_made(ws, monkeypatch):
    root, backend, cloud = ws
    plan, state = _plan(root, backend)
    client = Client(cloud)
    txn = backend.transaction(state)
    monkeypatch.setattr(journal_mod.faults, "DISK_BYTES", 0)  # the disk is full from here on
    result = apply_plan(plan, ApiProvider(client), txn, state)
    monkeypatch.undo()
    assert client.calls == [] and result.error.code == "State.WriteFailed" and "NOT made" in result.error.detail


def test_tokens_are_derived_from_the_plan_and_reused_verbatim_by_recovery(ws):
    root, backend, cloud = ws
    plan = _interrupted(root, backend, cloud, call=4)
    pending = backend.pending_intents()
    assert pending[0].token == client_token(backend.read().lineage, plan.serial, plan.actions[3])
    client = Client(cloud)
    report = recover(backend, lambda settings: ApiProvider(client))
    assert client.calls == [(pending[0].api, pending[0].token)]  # the stored first response answers it
    assert len(report.recovered) == 1 and len(report.dropped) == len(pending[1:]) > 0
    assert backend.pending_intents() == []
    state = backend.read()
    assert problems(state.resources, root / "sandbox.db") == [] and doubles(root / "sandbox.db") == []


def test_after_a_reboot_every_pending_intent_is_reissued_in_order(ws, monkeypatch):
    root, backend, cloud = ws
    _interrupted(root, backend, cloud, call=3, window=6)
    pending = backend.pending_intents()
    assert len(pending) == 4  # intents 3..6 of the window: 3 was carried out, 4..6 not started
    monkeypatch.setattr(journal_mod.faults, "BOOT_ID", "another-boot")
    client = Client(cloud)
    report = recover(backend, lambda settings: ApiProvider(client))
    assert [t for _, t in client.calls if t] == [i.token for i in pending] and not report.dropped
    assert problems(backend.read().resources, root / "sandbox.db") == []
    plan, _ = _plan(root, backend)
    assert len(batches_of(plan.actions)) == 9 - 6  # the rest of the plan


def test_refused_on_reissue_means_never_made_and_the_rest_is_cancelled(ws, monkeypatch):
    root, backend, cloud = ws
    _interrupted(root, backend, cloud, call=1, made=False, window=5)  # died before the first call
    before = backend.read()
    monkeypatch.setattr(journal_mod.faults, "BOOT_ID", "another-boot")

    def refuse(action, params):
        raise CloudError("OperationDenied.Something", "no")

    report = recover(backend, lambda settings: ApiProvider(Client(cloud, refuse)))
    assert report.error is None and report.refusal.code == "OperationDenied.Something"
    assert len(report.cancelled) == 5 and backend.pending_intents() == [] and backend.read() == before


def test_ambiguous_failure_on_reissue_keeps_every_intent_pending(ws, monkeypatch):
    root, backend, cloud = ws
    _interrupted(root, backend, cloud, call=3, window=5)
    pending = backend.pending_intents()
    monkeypatch.setattr(journal_mod.faults, "BOOT_ID", "another-boot")

    def unavailable(action, params):
        raise CloudError("InternalError", "try later", http_status=500)

    before = backend.read()
    report = recover(backend, lambda settings: ApiProvider(Client(cloud, unavailable), sleep=lambda s: None))
    assert report.error.code == "Apply.RecoveryIncomplete" and "re-issues the same calls" in report.error.detail
    assert backend.pending_intents() == pending and backend.read() == before


def test_snapshot_writes_carry_pending_intents_over(ws):
    root, backend, cloud = ws
    _interrupted(root, backend, cloud, call=5)
    state, pending = backend.read_with_intents()
    assert pending and state.serial > 0
    backend.write(state)  # e.g. another command writing the state
    assert backend.read_with_intents() == (state, pending)
    assert backend.journal_path.read_bytes() == b"".join(journal_mod.encode_intent(i) for i in pending)
    txn = backend.transaction(state)  # a transaction starts from them too
    assert txn.pending_intents == pending
    txn.close()


def test_torn_result_line_leaves_its_intent_pending(ws):
    root, backend, cloud = ws
    _interrupted(root, backend, cloud, call=4)
    state, pending = backend.read_with_intents()
    line = encode_done(state.lineage, pending[0].n, state.serial + 1,
                       [("vpc.prod", {"type": "vpc", "name": "prod", "id": "vpc-x", "attributes": {}})])
    with open(backend.journal_path, "ab") as f:
        f.write(line[: len(line) // 2])  # killed in the middle of writing the result
    assert LocalStateBackend(backend.state_dir).read_with_intents() == (state, pending)


@pytest.mark.parametrize("damage", ["middle", "unknown-intent"])
def test_damaged_journal_with_intents_is_corrupt_never_empty(ws, damage):
    root, backend, cloud = ws
    _interrupted(root, backend, cloud, call=4)
    lines = backend.journal_path.read_bytes().splitlines(keepends=True)
    if damage == "middle":
        lines[1] = lines[1].replace(b'"api"', b'"apj"')
    else:
        lines.append(encode_done(backend.read().lineage, 999, backend.read().serial + 1, []))
        lines.append(lines[0])
    backend.journal_path.write_bytes(b"".join(lines))
    with pytest.raises(StateError) as info:
        backend.read()
    assert info.value.code == "State.Corrupt" and "NOT read as an empty state" in info.value.detail
    assert "intents" in info.value.detail


def test_torn_snapshot_with_pending_intents_names_the_backup(ws):
    root, backend, cloud = ws
    _interrupted(root, backend, cloud, call=6)
    state, pending = backend.read_with_intents()
    assert pending
    backend.write(state, keep_intents=pending)  # a second snapshot, so there is a backup
    data = backend.snapshot_path.read_bytes()
    backend.snapshot_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StateError) as info:
        backend.read()
    assert info.value.code == "State.Corrupt" and str(backend.backup_path) in info.value.detail
    # the intents are the journal's alone: still told (plan's note) while the snapshot is damaged
    assert backend.pending_intents() == pending


def test_interrupt_cancels_the_calls_not_started(ws):
    root, backend, cloud = ws
    plan, state = _plan(root, backend)
    calls = 0

    def interrupt(action, params):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        with backend.transaction(state) as txn:
            apply_plan(plan, ApiProvider(Client(cloud, interrupt)), txn, state, window=6)
    pending = backend.pending_intents()
    assert [i.n for i in pending] == [3]  # the call in flight; 4..6 were cancelled
    assert len(backend.read().resources) > 0


def test_window_one_is_one_fsync_per_call(ws, monkeypatch):
    root, backend, cloud = ws
    plan, state = _plan(root, backend)
    windows = []
    with backend.transaction(state) as txn:
        real = txn.intend
        monkeypatch.setattr(txn, "intend", lambda calls: windows.append(len(calls)) or real(calls))
        assert apply_plan(plan, ApiProvider(Client(cloud)), txn, state, window=1).ok
    assert windows == [1] * len(batches_of(plan.actions))
