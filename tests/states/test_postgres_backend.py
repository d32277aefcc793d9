"""The StateBackend contract on a real PostgreSQL server: reading nothing, writing, reading back, every
version kept, lineage and fix_lineage, damage reported (never read as empty), and the schema created
and migrated by the backend -- also by concurrent first runs, and by a role with only the grants
docs/backends.md lists."""

from __future__ import annotations

import threading

import psycopg
import pytest

from reconciler.errors import StateError
from reconciler.states import pg_schema
from reconciler.states.backend import StateBackend
from reconciler.states.local import LocalStateBackend
from reconciler.states.postgres import PostgresStateBackend
from reconciler.states.state import State


def rec(name: str, cidr: str = "10.0.0.0/16") -> dict:
    return {"type": "vpc", "name": name, "id": f"vpc-{name}", "attributes": {"cidr": cidr}}


def expect(code: str, fn, *args, **kwargs) -> StateError:
    with pytest.raises(StateError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value.message
    return info.value


def test_both_backends_are_state_backends(pg_backend, tmp_path):
    assert isinstance(pg_backend, StateBackend) and isinstance(LocalStateBackend(tmp_path), StateBackend)


def test_an_empty_workspace_reads_as_a_new_state(pg_backend):
    state, pending = pg_backend.read_with_intents()
    assert (state.serial, len(state.resources), state.lineage_kept, pending) == (0, 0, False, [])
    assert pg_backend.read().lineage != state.lineage  # kept nowhere: new on every read, as with local files
    assert not pg_backend.has_snapshot() and not pg_backend.has_journal() and pg_backend.versions() == []


def test_write_read_back_and_every_version_is_kept(pg_backend, pg_backends):
    first = State("lin-a", 1, {"vpc.a": rec("a")})
    second = first.with_change("vpc.b", rec("b", "10.1.0.0/16"))
    third = second.with_change("vpc.a", None)
    for state in (first, second, third):
        pg_backend.write(state)
    again = pg_backends()  # another connection sees the same
    assert again.read() == third and again.read().to_json_bytes() == third.to_json_bytes()
    versions = again.versions()
    assert [(v.version, v.serial, v.resources, v.current) for v in versions] == [
        (1, 1, 1, False), (2, 2, 2, False), (3, 3, 1, True)]
    assert {v.lineage for v in versions} == {"lin-a"} and versions[-1].checksum == third.checksum()
    assert all(v.created and v.created.endswith("Z") for v in versions)
    assert again.read_version(2) == second and again.read_version(1).resources == first.resources
    expect("State.NoSuchVersion", again.read_version, 7)
    raw = pg_backend._db().execute("SELECT state FROM ipamctl.snapshots WHERE version = 3").fetchone()[0]
    assert bytes(raw) == third.to_json_bytes()  # the bytes State.to_json_bytes makes, as the local file holds


def test_workspaces_share_a_schema_without_seeing_each_other(pg_backends):
    prod, dev = pg_backends("prod"), pg_backends("dev")
    prod.write(State("lin-p", 4, {"vpc.p": rec("p")}))
    assert dev.read().serial == 0 and dev.versions() == []
    dev.write(State("lin-d", 1, {}))
    assert prod.read().lineage == "lin-p" and [v.serial for v in prod.versions()] == [4]


def test_fix_lineage_binds_an_empty_workspace_and_the_first_snapshot_keeps_it(pg_backends):
    backend = pg_backends()
    lineage = backend.fix_lineage()
    assert pg_backends().fix_lineage() == lineage  # fixed once: every later run agrees
    state = backend.read()
    assert (state.lineage, state.serial, state.lineage_kept) == (lineage, 0, True)
    with backend.transaction(state) as txn:
        txn.record("vpc.a", rec("a"))
    assert backend.read().lineage == lineage and backend.read().serial == 1
    assert pg_backends("other").fix_lineage() != lineage


def test_fix_lineage_of_a_written_workspace_is_its_snapshot_s(pg_backend):
    pg_backend.write(State("lin-w", 3, {}))
    assert pg_backend.fix_lineage() == "lin-w"


def test_a_damaged_snapshot_is_corrupt_never_empty(pg_backend):
    pg_backend.write(State("lin-c", 1, {"vpc.a": rec("a")}))
    pg_backend.write(State("lin-c", 2, {"vpc.a": rec("a", "10.9.0.0/16")}))
    pg_backend._db().execute("UPDATE ipamctl.snapshots SET state = overlay(state placing 'X' from 40) "
                             "WHERE version = 2")
    error = expect("State.Corrupt", pg_backend.read)
    assert "NOT read as an empty state" in error.detail and "state history" in error.detail
    assert pg_backend.read_version(1).serial == 1  # the earlier version is still there to restore


def test_a_journal_row_that_does_not_verify_is_corrupt(pg_backend):
    base = State("lin-j", 1, {})
    pg_backend.write(base)
    txn = pg_backend.transaction(base)
    txn.record("vpc.a", rec("a"))
    txn.record("vpc.b", rec("b"))
    txn.close()
    assert pg_backend.read().serial == 3  # the journal replayed over the snapshot
    pg_backend._db().execute("UPDATE ipamctl.journal SET line = "
                             "convert_to(replace(convert_from(line, 'UTF8'), 'vpc-a', 'vpc-z'), 'UTF8') "
                             "WHERE seq = 1")
    assert expect("State.Corrupt", pg_backend.read).code == "State.Corrupt"


def test_a_newer_state_format_is_never_written_over(pg_backend):
    pg_backend.write(State("lin-f", 1, {}))
    pg_backend._db().execute("UPDATE ipamctl.snapshots SET format_version = 99")
    expect("State.UnsupportedVersion", pg_backend.write, State("lin-f", 2, {}))
    assert [v.serial for v in pg_backend.versions()] == [1]


def test_the_schema_is_created_once_and_recorded(pg_backend, pg_conninfo):
    pg_backend.read()
    with psycopg.connect(pg_conninfo) as conn:
        rows = conn.execute("SELECT version, name FROM ipamctl.schema_migrations").fetchall()
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'ipamctl'")}
    assert [r[0] for r in sorted(rows)] == [m[0] for m in pg_schema.MIGRATIONS]
    assert tables == {"schema_migrations", "workspaces", "snapshots", "journal", "locks", "reservations", "history"}


def test_concurrent_first_runs_migrate_once(pg_conninfo):
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def first_run() -> None:
        try:
            with psycopg.connect(pg_conninfo, autocommit=True) as conn:
                start.wait()
                pg_schema.ensure_schema(conn, "shared")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(pg_conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM shared.schema_migrations").fetchone()[0] == len(pg_schema.MIGRATIONS)


def test_a_schema_migrated_by_a_newer_ipamctl_is_refused(pg_backend, pg_backends):
    pg_backend.read()
    pg_backend._db().execute("INSERT INTO ipamctl.schema_migrations (version, name) VALUES (999, 'future')")
    error = expect("State.UnsupportedVersion", pg_backends().read)
    assert "999" in error.detail


def test_the_roles_and_grants_docs_backends_md_gives_work(pg_server, pg_conninfo):
    """An owner role makes the schema on its first run; the runners' role has USAGE and, through the
    default privileges, SELECT/INSERT/UPDATE/DELETE -- and no CREATE anywhere."""
    dbname = pg_conninfo.split("dbname=")[1].split()[0]
    setup = ("CREATE ROLE ipamctl_owner LOGIN", "CREATE ROLE ipamctl_runner LOGIN",
             f"REVOKE CREATE, TEMPORARY ON DATABASE {dbname} FROM PUBLIC",
             "CREATE SCHEMA team AUTHORIZATION ipamctl_owner", "GRANT USAGE ON SCHEMA team TO ipamctl_runner",
             "ALTER DEFAULT PRIVILEGES FOR ROLE ipamctl_owner IN SCHEMA team "
             "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ipamctl_runner")
    try:
        for statement in setup:
            pg_server.sql(statement, dbname)
        with PostgresStateBackend(pg_conninfo.replace("user=postgres", "user=ipamctl_owner"), "prod", "team") as owner:
            assert owner.versions() == []  # the first run creates the tables
        as_runner = pg_conninfo.replace("user=postgres", "user=ipamctl_runner")
        with PostgresStateBackend(as_runner, "prod", "team") as runner:
            with runner.lock("apply"):
                state = runner.read()
                with runner.transaction(state) as txn:
                    txn.record("vpc.a", rec("a"))
            assert runner.read().serial == 1 and len(runner.versions()) == 2
        with PostgresStateBackend(as_runner, "prod", "other_schema") as cannot:  # it may not create a schema
            error = expect("State.BackendPermission", cannot.read)
            assert "grants" in error.detail and "docs/backends.md" in error.detail
    finally:
        for statement in ("DROP SCHEMA IF EXISTS team CASCADE", "DROP OWNED BY ipamctl_owner, ipamctl_runner"):
            pg_server.sql(statement, dbname)
        pg_server.sql("DROP ROLE IF EXISTS ipamctl_owner")
        pg_server.sql("DROP ROLE IF EXISTS ipamctl_runner")
