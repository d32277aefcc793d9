"""The State value, the local file backend and its journal: real files, real processes."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import StateError
from reconciler.states.backend import StateBackend, Transaction
from reconciler.states.journal import JournalEntry, encode_entry
from reconciler.states.local import LocalStateBackend
from reconciler.states.state import ResourceMap, State, StateBuilder

REPO = Path(__file__).resolve().parents[2]


def rec(address: str, **attributes) -> dict:
    rtype, _, name = address.partition(".")
    return {"type": rtype, "name": name, "id": f"id-{name}", "attributes": attributes}


def run_python(code: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=env, capture_output=True,
                          text=True, timeout=120, check=check)


@pytest.fixture
def backend(tmp_path: Path) -> LocalStateBackend:
    return LocalStateBackend(tmp_path / "state")


def committed(backend: LocalStateBackend, *addresses: str) -> State:
    with backend.transaction(backend.read()) as tx:
        for address in addresses:
            tx.record(address, rec(address, v=address))
    return backend.read()


def expect(code: str, fn, *args) -> StateError:
    with pytest.raises(StateError) as info:
        fn(*args)
    assert info.value.code == code, info.value.message
    return info.value


# -- the State value -------------------------------------------------------------------------


def test_empty_state_and_protocols(backend):
    state = backend.read()
    assert state.serial == 0 and len(state.resources) == 0 and state.format_version == 1
    assert uuid.UUID(state.lineage).version == 4
    assert not backend.state_dir.exists()  # reading creates nothing
    assert isinstance(backend, StateBackend)
    assert isinstance(backend.transaction(state), Transaction)


def test_with_change_returns_new_states_and_owns_records():
    s0 = State.empty()
    record = rec("ipam_pool.hz", cidrs=["10.0.0.0/8"])
    s1 = s0.with_change("ipam_pool.hz", record)
    record["attributes"]["cidrs"].append("mutated")  # the caller's dict is not the state's
    assert s1.resources["ipam_pool.hz"]["attributes"]["cidrs"] == ["10.0.0.0/8"]
    assert (s0.serial, len(s0.resources), s1.serial) == (0, 0, 1)
    s2 = s1.with_change("ipam_pool.hz", None)
    assert "ipam_pool.hz" not in s2.resources and s2.serial == 2 and "ipam_pool.hz" in s1.resources
    assert s2.lineage == s0.lineage
    with pytest.raises(TypeError):
        s1.resources["x.y"] = {}  # type: ignore[index]
    with pytest.raises(AttributeError):
        s1.serial = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    "address, record",
    [
        ("ipam_pool.hz", {"type": "ipam_pool", "name": "hz"}),
        ("ipam_pool.hz", rec("ipam_pool.other")),
        ("ipam_pool.hz", {"type": "ipam_pool", "name": "hz", "id": 5, "attributes": {}}),
        ("ipam_pool.hz", {"type": "ipam_pool", "name": "hz", "id": None, "attributes": {"x": object()}}),
        ("nodot", {"type": "nodot", "name": "", "id": None, "attributes": {}}),
        ("vpc.a", {"type": "vpc", "name": "a", "id": None, "attributes": {"x": [1.0, float("nan")]}}),
        ("vpc.a", {"type": "vpc", "name": "a", "id": None, "attributes": {"x": 2**70}}),
        ("vpc.a", ["not", "a", "record"]),
    ],
)
def test_invalid_records_are_refused(address, record):
    error = expect("State.InvalidRecord", State.empty().with_change, address, record)
    assert "record" in error.detail or "address" in error.detail


def test_serialisation_is_deterministic_and_checksummed():
    a = State.empty()
    b = State(a.lineage, 0, {})
    for address in ("vpc.b", "ipam_pool.a", "vswitch.c"):
        a = a.with_change(address, rec(address, z=1, a=[1, 2]))
    for address in ("vswitch.c", "vpc.b", "ipam_pool.a"):
        b = b.with_change(address, rec(address, a=[1, 2], z=1))
    assert a == b and a.to_json_bytes() == b.to_json_bytes() == a.to_json_bytes()
    doc = orjson.loads(a.to_json_bytes())
    canonical = orjson.dumps(doc["resources"], option=orjson.OPT_SORT_KEYS)
    assert doc["checksum"] == hashlib.sha256(canonical).hexdigest() == a.checksum()
    assert list(doc) == sorted(doc) and a.to_json_bytes().startswith(b'{\n  "checksum"')


def test_builder_matches_with_change():
    base = State.empty().with_change("vpc.keep", rec("vpc.keep"))
    builder, chained = StateBuilder(base), base
    for i in range(200):
        address = f"vswitch.s{i % 50}"
        record = None if i % 7 == 0 else rec(address, i=i)
        builder.set(address, record)
        chained = chained.with_change(address, record)
    assert builder.build() == chained and chained.serial == 201
    assert base.serial == 1 and len(base.resources) == 1


ops = st.lists(st.tuples(st.integers(0, 60), st.booleans()), max_size=400)


@settings(max_examples=60, deadline=None)
@given(ops)
def test_resource_map_behaves_like_a_dict(changes):
    model: dict = {}
    rmap = ResourceMap()
    versions = []
    for key, present in changes:
        address = f"vpc.v{key}"
        value = rec(address, k=key) if present else None
        rmap = rmap.set(address, value)
        if value is None:
            model.pop(address, None)
        else:
            model[address] = value
        versions.append((rmap, dict(model)))
        assert len(rmap) == len(model) and (address in rmap) == present
    for old, snapshot in versions:  # older versions are untouched by later changes
        assert old.to_dict() == snapshot and set(old) == set(snapshot)
        assert all(old[k] == v for k, v in snapshot.items())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.text("abc.-_", min_size=1, max_size=6), st.dictionaries(st.text(max_size=5), json_values,
                                                                                    max_size=4), max_size=6))
def test_any_json_attributes_round_trip(tmp_path_factory, resources):
    state = State.empty()
    for name, attributes in resources.items():
        state = state.with_change(f"vpc.{name}", {"type": "vpc", "name": name, "id": None, "attributes": attributes})
    backend = LocalStateBackend(tmp_path_factory.mktemp("rt") / "state")
    backend.write(state)
    again = backend.read()
    assert again == state and again.to_json_bytes() == state.to_json_bytes()


# -- snapshot files --------------------------------------------------------------------------


def test_round_trip_and_backup(backend):
    s1 = State.empty().with_change("vpc.a", rec("vpc.a", n=1.5, tags={"x": "ü"}))
    backend.write(s1)
    assert LocalStateBackend(backend.state_dir).read() == s1
    assert not backend.backup_path.exists()
    s2 = s1.with_change("vpc.b", rec("vpc.b"))
    backend.write(s2)
    assert backend.backup_path.read_bytes() == s1.to_json_bytes()
    backend.write(s3 := s2.with_change("vpc.a", None))
    assert backend.backup_path.read_bytes() == s2.to_json_bytes()
    assert backend.snapshot_path.read_bytes() == s3.to_json_bytes()
    assert LocalStateBackend(backend.state_dir).read() == s3
    assert sorted(os.listdir(backend.state_dir)) == ["state.json", "state.json.backup"]  # no temp files


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b.replace(b'"n": 1', b'"n": 2'),  # tampered value
        lambda b: b[: len(b) // 2],  # truncated
        lambda b: b"",  # empty file
        lambda b: b.replace(b'"serial"', b'"sorial"'),  # missing field
        lambda b: orjson.dumps({**orjson.loads(b), "resources": {"vpc.a": {"type": "vpc"}}}),
        lambda b: b"[1, 2]",
    ],
)
def test_damaged_snapshot_is_corrupt_never_empty(backend, damage):
    backend.write(s1 := State.empty().with_change("vpc.a", rec("vpc.a", n=1)))
    backend.write(s1.with_change("vpc.b", rec("vpc.b", n=1)))
    backend.snapshot_path.write_bytes(damage(backend.snapshot_path.read_bytes()))
    error = expect("State.Corrupt", backend.read)
    assert str(backend.snapshot_path) in error.detail and str(backend.backup_path) in error.detail
    assert "is readable: serial 1" in error.detail and "NOT read as an empty state" in error.detail
    assert f"cp {backend.backup_path} {backend.snapshot_path}" in error.detail
    expect("State.Corrupt", backend.transaction, s1)  # nor can an apply start from it


def test_corrupt_report_says_when_the_backup_is_bad_too(backend):
    backend.write(s1 := State.empty())
    backend.write(s1.with_change("vpc.a", rec("vpc.a")))
    backend.snapshot_path.write_bytes(b"{")
    backend.backup_path.write_bytes(b"garbage")
    assert "is not readable either" in expect("State.Corrupt", backend.read).detail
    backend.backup_path.unlink()
    assert "There is no backup" in expect("State.Corrupt", backend.read).detail


def test_missing_snapshot_with_backup_left_is_corrupt(backend):
    backend.write(s1 := State.empty())
    backend.write(s1.with_change("vpc.a", rec("vpc.a")))
    backend.snapshot_path.unlink()
    assert "is missing" in expect("State.Corrupt", backend.read).detail


def test_writing_over_a_damaged_snapshot_keeps_the_good_backup(backend):
    backend.write(s1 := State.empty().with_change("vpc.a", rec("vpc.a")))
    backend.write(s2 := s1.with_change("vpc.b", rec("vpc.b")))
    backend.snapshot_path.write_bytes(b'{"torn')
    backend.write(restored := s2.with_change("vpc.c", rec("vpc.c")))  # e.g. a restore from elsewhere
    assert backend.read() == restored
    assert backend.backup_path.read_bytes() == s1.to_json_bytes()
    assert (backend.state_dir / "state.json.damaged").read_bytes() == b'{"torn'


def test_newer_format_version_is_refused(backend):
    backend.write(State.empty())
    doc = orjson.loads(backend.snapshot_path.read_bytes())
    backend.snapshot_path.write_bytes(orjson.dumps({**doc, "format_version": 2, "new_field": 1}))
    assert "format_version 2" in expect("State.UnsupportedVersion", backend.read).detail
    newer = backend.snapshot_path.read_bytes()
    expect("State.UnsupportedVersion", backend.write, State.empty())  # never downgraded
    assert backend.snapshot_path.read_bytes() == newer and sorted(os.listdir(backend.state_dir)) == ["state.json"]


# -- journal ---------------------------------------------------------------------------------


def test_recorded_changes_survive_a_killed_process(backend):
    committed(backend, "vpc.before")
    run_python(
        """
        import os, signal, sys
        from pathlib import Path
        from reconciler.states.local import LocalStateBackend
        b = LocalStateBackend(Path(sys.argv[1]))
        tx = b.transaction(b.read())
        tx.record("vpc.a", {"type": "vpc", "name": "a", "id": "vpc-1", "attributes": {}})
        tx.record("vpc.b", {"type": "vpc", "name": "b", "id": "vpc-2", "attributes": {}})
        tx.record("vpc.before", None)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        str(backend.state_dir),
        check=False,
    )
    state = LocalStateBackend(backend.state_dir).read()
    assert state.serial == 4 and sorted(state.resources) == ["vpc.a", "vpc.b"]
    assert state.resources["vpc.b"]["id"] == "vpc-2"
    with backend.transaction(state) as tx:  # the next apply folds the journal into the snapshot
        assert not backend.journal_path.exists()
        tx.record("vpc.c", rec("vpc.c"))
    assert backend.read().serial == 5 and not backend.journal_path.exists()


def uncommitted(backend: LocalStateBackend, *addresses: str) -> State:
    """Record changes and 'die' without committing (the transaction is simply abandoned)."""
    tx = backend.transaction(backend.read())
    for address in addresses:
        state = tx.record(address, rec(address))
    tx._journal.close()
    return state


def test_torn_last_line_is_ignored_and_then_dropped(backend):
    expected = uncommitted(backend, "vpc.a", "vpc.b")
    line = encode_entry(JournalEntry(expected.lineage, 3, "vpc.c", rec("vpc.c")))
    with open(backend.journal_path, "ab") as f:
        f.write(line[:-20])  # a crash in the middle of an append
    assert LocalStateBackend(backend.state_dir).read() == expected
    with backend.transaction(expected) as tx:
        tx.record("vpc.d", rec("vpc.d"))
        assert b"vpc.c" not in backend.journal_path.read_bytes()
    assert sorted(backend.read().resources) == ["vpc.a", "vpc.b", "vpc.d"]


def test_complete_last_line_with_bad_checksum_is_torn(backend):
    expected = uncommitted(backend, "vpc.a", "vpc.b", "vpc.c")
    data = backend.journal_path.read_bytes().split(b"\n")
    data[2] = data[2].replace(b'"id":"id-c"', b'"id":"id-X"')
    backend.journal_path.write_bytes(b"\n".join(data))
    assert expected.serial == 3
    assert backend.read() == State(expected.lineage, 2, {a: rec(a) for a in ("vpc.a", "vpc.b")})


@pytest.mark.parametrize("where", [0, 1])
def test_damaged_line_before_good_lines_is_corrupt(backend, where):
    uncommitted(backend, "vpc.a", "vpc.b", "vpc.c")
    lines = backend.journal_path.read_bytes().split(b"\n")
    lines[where] = lines[where][:30]
    backend.journal_path.write_bytes(b"\n".join(lines))
    error = expect("State.Corrupt", backend.read)
    assert f"{backend.journal_path} line {where + 1} is damaged" in error.detail
    assert "mv " in error.detail


def test_journal_that_does_not_continue_the_snapshot_is_corrupt(backend):
    state = committed(backend, "vpc.a")
    other = encode_entry(JournalEntry(str(uuid.uuid4()), state.serial + 1, "vpc.b", rec("vpc.b")))
    backend.journal_path.write_bytes(other)
    assert "lineage" in expect("State.Corrupt", backend.read).detail
    gap = encode_entry(JournalEntry(state.lineage, state.serial + 2, "vpc.b", rec("vpc.b")))
    backend.journal_path.write_bytes(gap)
    assert "starts at serial 3" in expect("State.Corrupt", backend.read).detail
    first = encode_entry(JournalEntry(state.lineage, state.serial + 1, "vpc.b", rec("vpc.b")))
    skip = encode_entry(JournalEntry(state.lineage, state.serial + 3, "vpc.c", rec("vpc.c")))
    backend.journal_path.write_bytes(first + skip)
    assert "line 2 has serial 4, expected 3" in expect("State.Corrupt", backend.read).detail
    backend.journal_path.write_bytes(first)
    assert backend.read().serial == state.serial + 1


def test_crash_between_snapshot_write_and_journal_truncation(backend):
    tx = backend.transaction(backend.read())
    for address in ("vpc.a", "vpc.b", "vpc.c", "vpc.d", "vpc.e"):
        tx.record(address, rec(address))
    journal = backend.journal_path.read_bytes()
    final = tx.commit()
    backend.journal_path.write_bytes(journal)  # as if the crash came before the journal was removed
    assert LocalStateBackend(backend.state_dir).read() == final
    # a snapshot part-way through the journal: entries up to it are skipped, the rest replayed
    lines = journal.splitlines(keepends=True)
    part = State(final.lineage, 3, {a: rec(a) for a in ("vpc.a", "vpc.b", "vpc.c")})
    backend.write(part)
    backend.journal_path.write_bytes(journal)
    assert backend.read() == final
    backend.journal_path.write_bytes(b"".join(lines[:2]))  # all entries already in the snapshot
    assert backend.read() == part


def test_exception_in_apply_still_commits_what_was_recorded(backend):
    with pytest.raises(RuntimeError):
        with backend.transaction(backend.read()) as tx:
            tx.record("vpc.a", rec("vpc.a"))
            raise RuntimeError("cloud call failed")
    assert not backend.journal_path.exists()
    assert sorted(LocalStateBackend(backend.state_dir).read().resources) == ["vpc.a"]


def test_recording_after_the_transaction_ended_is_refused(backend):
    with backend.transaction(backend.read()) as tx:
        tx.record("vpc.a", rec("vpc.a"))
    expect("State.TransactionClosed", tx.record, "vpc.b", rec("vpc.b"))
    assert not backend.journal_path.exists() and backend.read().serial == 1


def test_several_commits_in_one_transaction(backend):
    with backend.transaction(backend.read()) as tx:
        tx.record("vpc.a", rec("vpc.a"))
        assert tx.commit().serial == 1 and not backend.journal_path.exists()
        tx.record("vpc.b", rec("vpc.b"))
        assert backend.journal_path.exists()
        assert LocalStateBackend(backend.state_dir).read().serial == 2
    assert backend.read() == tx.state and tx.state.serial == 2
    assert orjson.loads(backend.backup_path.read_bytes())["serial"] == 1


def test_transaction_refuses_a_base_that_is_not_on_disk(backend):
    state = committed(backend, "vpc.a")
    expect("State.Stale", backend.transaction, state.with_change("vpc.b", rec("vpc.b")))
    expect("State.Stale", backend.transaction, State(state.lineage, state.serial, {}))
    expect("State.LineageMismatch", backend.transaction, State.empty())
    expect("State.InvalidRecord", backend.transaction(state).record, "vpc.x", {"type": "vpc"})
    assert backend.read() == state


# -- write failures --------------------------------------------------------------------------


def test_state_dir_that_is_a_file_fails_cleanly(tmp_path):
    (tmp_path / "state").write_text("not a directory")
    backend = LocalStateBackend(tmp_path / "state")
    error = expect("State.WriteFailed", backend.write, State.empty())
    assert "Errno" in error.detail
    expect("State.ReadFailed", backend.read)
    assert (tmp_path / "state").read_text() == "not a directory"


def snapshot_files(backend: LocalStateBackend) -> dict[str, bytes]:
    return {name: (backend.state_dir / name).read_bytes() for name in sorted(os.listdir(backend.state_dir))}


def test_enospc_on_snapshot_write_leaves_everything_intact(backend, monkeypatch):
    committed(backend, "vpc.a")
    before = uncommitted(backend, "vpc.b")
    files = snapshot_files(backend)
    assert sorted(files) == ["state.journal", "state.json", "state.json.backup"]

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)  # the only injected fault in this suite
    error = expect("State.WriteFailed", backend.write, before.with_change("vpc.c", rec("vpc.c")))
    assert "No space left on device" in error.detail and "unchanged" in error.detail
    tx = LocalStateBackend(backend.state_dir)
    monkeypatch.undo()
    assert snapshot_files(backend) == files  # no temp file left, nothing replaced
    assert tx.read() == before


def test_enospc_on_journal_append_keeps_earlier_records(backend, monkeypatch):
    tx = backend.transaction(backend.read())
    tx.record("vpc.a", rec("vpc.a"))
    journal = backend.journal_path.read_bytes()
    real_fsync = os.fsync
    calls = []

    def no_space(fd):
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", no_space)
    error = expect("State.WriteFailed", tx.record, "vpc.b", rec("vpc.b"))
    assert error.address == "vpc.b" and "NOT recorded" in error.detail
    monkeypatch.undo()
    assert backend.journal_path.read_bytes() == journal  # the failed line was cut back off
    assert tx.state.serial == 1 and backend.read() == tx.state
    tx.record("vpc.c", rec("vpc.c"))
    assert sorted(tx.commit().resources) == ["vpc.a", "vpc.c"]


def test_real_file_size_limit_failure_leaves_previous_state(backend):
    before = committed(backend, "vpc.a")
    files = snapshot_files(backend)
    result = run_python(
        """
        import resource, signal, sys
        from pathlib import Path
        from reconciler.errors import StateError
        from reconciler.states.local import LocalStateBackend
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        b = LocalStateBackend(Path(sys.argv[1]))
        state = b.read().with_change("vpc.big", {"type": "vpc", "name": "big", "id": None,
                                                  "attributes": {"blob": "x" * 200_000}})
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))
        try:
            b.write(state)
        except StateError as e:
            print(e.code, e.detail)
        """,
        str(backend.state_dir),
    )
    assert result.stdout.startswith("State.WriteFailed") and "File too large" in result.stdout, result
    assert snapshot_files(backend) == files
    assert backend.read() == before


# -- performance sanity ----------------------------------------------------------------------


def test_ten_thousand_records_write_the_snapshot_only_at_commit(backend):
    committed(backend, "vpc.first")
    tx = backend.transaction(backend.read())
    snap = os.stat(backend.snapshot_path)
    for i in range(10_000):
        address = f"vswitch.s{i}"
        state = tx.record(address, rec(address, cidr=f"10.{i // 256}.{i % 256}.0/24"))
    after = os.stat(backend.snapshot_path)
    assert (after.st_ino, after.st_mtime_ns) == (snap.st_ino, snap.st_mtime_ns)
    assert backend.journal_path.read_bytes().count(b"\n") == 10_000
    assert LocalStateBackend(backend.state_dir).read() == state  # a crash now would lose nothing
    final = tx.commit()
    assert os.stat(backend.snapshot_path).st_ino != snap.st_ino and not backend.journal_path.exists()
    assert final.serial == state.serial == 10_001 and len(final.resources) == 10_001
    assert LocalStateBackend(backend.state_dir).read() == final



def test_the_quick_record_check_agrees_with_record_problem():
    import itertools

    from reconciler.states.state import _all_records_valid, record_problem

    records = [None, [], "a.b", {}, {"type": "a", "name": "b"}]
    records += [{"type": t, "name": n, "id": i, "attributes": a, **extra} for t, n, i, a, extra in itertools.product(
        ["a", "a.b", 1, None], ["b", "", None], [None, "i-1", 3, True], [{}, [], None], [{}, {"extra": 1}])]
    agreed = 0
    for address, record in itertools.product(["a.b", "ab", "a.b.c", "a.", ".b"], records):
        valid = record_problem(address, record) is None
        assert _all_records_valid({address: record}) == valid, (address, record)
        agreed += valid
    assert agreed == 8  # a.b (a, b) and a. (a, ""): each with either id and with or without another key
