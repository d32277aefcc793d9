"""The real ``ipamctl`` process with ``backend: {type: postgres}``: applying the bundled example and
planning "No changes", ``state history``, ``state migrate`` local -> postgres -> local (byte-identical)
and its refusals, ``state pull`` / ``state push`` and theirs, the connection from PG_CONN_STR or
libpq's variables, and failures that are clear errors without a traceback or a password."""

from __future__ import annotations

import json
import shutil

import psycopg
import pytest

from reconciler.states.postgres import PostgresStateBackend
from reconciler.states.state import State, parse_state
from tests.conftest import EXAMPLE, Workspace
from tests.support.postgres import free_port

SECRET = "hunter2-never-shown"


def backend_block(conninfo: str | None, workspace: str = "example") -> str:
    conn = f'  conn_str: "{conninfo}"\n' if conninfo is not None else ""
    return f"backend:\n  type: postgres\n  workspace: {workspace}\n{conn}"


@pytest.fixture
def example(tmp_path) -> Workspace:
    root = tmp_path / "example"
    shutil.copytree(EXAMPLE, root / "specs")
    return Workspace(root)


def on_pg(ws: Workspace, conninfo: str | None, workspace: str = "example") -> Workspace:
    ws.write("zz-backend.yaml", backend_block(conninfo, workspace))
    return ws


def failed(proc, code: str) -> str:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and code in out, out
    assert "Traceback" not in out and SECRET not in out
    return out


def test_apply_the_example_on_postgres_then_no_changes(example, pg_conninfo):
    ws = on_pg(example, pg_conninfo)
    applied = ws.json("apply", "--auto-approve")
    assert len(applied["applied"]) > 30 and applied["failed"] is None
    assert ws.run("plan", check=0).stdout.strip().endswith("No changes. The recorded state matches the specs.")
    assert sorted(p.name for p in (ws.root / "state").iterdir()) == ["sandbox.db"]  # no local state files
    with PostgresStateBackend(pg_conninfo, "example") as backend:
        state = backend.read()
        assert state.serial == applied["serial"] and not backend.has_journal()
    listed = ws.run("state", "list", check=0).stdout.split()
    assert listed and sorted(listed) == sorted(state.resources)
    history = ws.json("state", "history")["versions"]
    assert [v["serial"] for v in history] == [0, state.serial] and history[-1]["current"]
    assert history[-1]["resources"] == len(state.resources)
    text = ws.run("state", "history", check=0).stdout
    assert f"serial {state.serial:>5}" in text and "(current)" in text and state.lineage in text
    vpc = ws.run("state", "show", "vpc.trade-prod", check=0).stdout
    assert vpc.startswith("# vpc.trade-prod") and state.resources["vpc.trade-prod"]["id"] in vpc
    failed(ws.run("state", "show", "vpc.trade-prod", "--serial", "0"), "State.NoSuchResource")
    failed(ws.run("state", "show", "vpc.trade-prod", "--serial", "999"), "State.NoSuchVersion")


def test_the_connection_from_pg_conn_str_and_from_libpq_variables(example, pg_conninfo, pg_server):
    ws = on_pg(example, None)
    ws.env = {"PG_CONN_STR": pg_conninfo}
    ws.run("apply", "--auto-approve", check=0)
    dbname = pg_conninfo.split("dbname=")[1].split()[0]
    ws.env = {"PGHOST": str(pg_server.socket_dir), "PGPORT": str(pg_server.port), "PGUSER": "postgres",
              "PGDATABASE": dbname}
    assert "No changes" in ws.run("plan", check=0).stdout  # the same database, over the unix socket this time
    assert len(ws.json("state", "history")["versions"]) == 2


def test_migrate_local_to_postgres_and_back_is_byte_identical(example, pg_conninfo):
    ws = example
    ws.run("apply", "--auto-approve", check=0)
    state_dir = ws.root / "state"
    snapshot, backup = (state_dir / "state.json").read_bytes(), (state_dir / "state.json.backup").read_bytes()
    on_pg(ws, pg_conninfo)
    moved = ws.run("state", "migrate", "--to", "configured", check=0).stdout
    assert "1 earlier version(s)" in moved and "left as it was" in moved
    with PostgresStateBackend(pg_conninfo, "example") as backend:
        assert backend.read().to_json_bytes() == snapshot
        assert [v.serial for v in backend.versions()] == [parse_state(backup).serial, parse_state(snapshot).serial]
    assert "nothing to do" in ws.run("state", "migrate", "--to", "configured", check=0).stdout
    assert "No changes" in ws.run("plan", check=0).stdout  # planned from the database now
    for name in ("state.json", "state.json.backup"):
        (state_dir / name).unlink()
    back = ws.run("state", "migrate", "--to", "local", check=0).stdout
    assert "backend:` block still names the postgres backend" in back
    assert (state_dir / "state.json").read_bytes() == snapshot
    assert (state_dir / "state.json.backup").read_bytes() == backup


def test_migrate_refuses_another_lineage_and_a_target_that_moved_on(example, pg_conninfo):
    ws = example
    ws.run("apply", "--auto-approve", check=0)
    local = parse_state((ws.root / "state" / "state.json").read_bytes())
    with PostgresStateBackend(pg_conninfo, "example") as backend:
        backend.write(State("another-lineage", 3, {}))
    on_pg(ws, pg_conninfo)
    out = failed(ws.run("state", "migrate", "--to", "configured"), "State.LineageMismatch")
    assert "another-lineage" in out and local.lineage in out
    with PostgresStateBackend(pg_conninfo, "example") as backend:
        assert [v.lineage for v in backend.versions()] == ["another-lineage"]  # nothing was copied
        backend.write(State(local.lineage, local.serial + 5, {}))
    failed(ws.run("state", "migrate", "--to", "configured"), "State.SerialConflict")  # it would go back
    assert (ws.root / "state" / "state.json").read_bytes() == local.to_json_bytes()
    ws.run("state", "migrate", "--to", "local", check=0)  # the other way it goes forward: copied
    assert parse_state((ws.root / "state" / "state.json").read_bytes()).serial == local.serial + 5
    assert "nothing to do" in ws.run("state", "migrate", "--to", "configured", check=0).stdout


def test_pull_and_push_with_their_refusals(example, pg_conninfo, tmp_path):
    ws = on_pg(example, pg_conninfo)
    ws.run("apply", "--auto-approve", check=0)
    pulled = ws.run("state", "pull", check=0).stdout.encode()
    current = parse_state(pulled)
    with PostgresStateBackend(pg_conninfo, "example") as backend:
        assert pulled == backend.read().to_json_bytes()
    assert parse_state(ws.run("state", "pull", "--serial", "0", check=0).stdout.encode()).serial == 0

    def push(state: State | bytes, *flags: str):
        path = tmp_path / "push.json"
        path.write_bytes(state if isinstance(state, bytes) else state.to_json_bytes())
        return ws.run("state", "push", str(path), *flags)

    assert "nothing written" in push(current).stdout
    older = State(current.lineage, current.serial - 1, {})
    failed(push(older), "State.SerialLower")
    failed(push(State(current.lineage, current.serial, {})), "State.SerialConflict")
    failed(push(State("other-lineage", current.serial + 1, {})), "State.LineageMismatch")
    failed(push(b'{"not": "a state"}'), "State.InvalidFile")
    assert parse_state(ws.run("state", "pull", check=0).stdout.encode()) == current  # none of them wrote
    newer = current.with_change("vpc.trade-prod", None)
    assert f"Pushed serial {newer.serial}" in push(newer).stdout
    assert "Pushed serial" in push(older, "--force").stdout
    assert parse_state(ws.run("state", "pull", check=0).stdout.encode()) == older
    assert [v["serial"] for v in ws.json("state", "history")["versions"]][-3:] == [current.serial, newer.serial,
                                                                                  older.serial]
    with PostgresStateBackend(pg_conninfo, "example") as holder, holder.lock("apply"):
        failed(push(current, "--force"), "State.Locked")  # push writes under the lock


def test_a_password_in_the_spec_is_refused_without_showing_it(example, pg_conninfo):
    ws = on_pg(example, pg_conninfo + f" password={SECRET}")
    for command in (("plan",), ("validate",), ("state", "list"), ("apply", "--auto-approve")):
        out = failed(ws.run(*command), "Spec.BackendSecret")
        assert "specs/zz-backend.yaml:" in out and "PGPASSWORD" in out, out
    ws.write("zz-backend.yaml", backend_block(f"postgresql://postgres:{SECRET}@127.0.0.1/db"))
    assert "user:password@" in failed(ws.run("plan"), "Spec.BackendSecret")
    with psycopg.connect(pg_conninfo) as conn:  # nothing was created: the spec was refused first
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'ipamctl'").fetchone()[0] == 0


def test_an_unreachable_server_is_a_clear_error(example):
    ws = on_pg(example, f"host=127.0.0.1 port={free_port()} user=postgres dbname=x connect_timeout=3")
    ws.env = {"PGPASSWORD": SECRET}
    for command in (("plan",), ("apply", "--auto-approve"), ("state", "history"), ("force-unlock", "x")):
        out = failed(ws.run(*command), "State.BackendUnavailable")
        assert "127.0.0.1" in out


def test_a_spec_that_does_not_load_falls_back_to_the_local_state(example, pg_conninfo):
    ws = on_pg(example, pg_conninfo)
    ws.write("broken.yaml", "pools: [unclosed\n")
    out = failed(ws.run("force-unlock", "some-id"), "State.NotLocked")
    assert str(ws.root / "state" / ".lock") in out  # the local lock: force-unlock works on a broken spec
    failed(ws.run("plan"), "Spec.")
    failed(ws.run("state", "migrate", "--to", "configured"), "Spec.")  # migrate needs the configured backend
    assert json.loads(ws.run("show", "--json", check=0).stdout)["resources"] == {}


def test_the_monitoring_history_lives_in_the_database(example, pg_conninfo):
    ws = on_pg(example, pg_conninfo)
    ws.run("apply", "--auto-approve", check=0)
    out = ws.run("report", "--history", check=0).stdout
    assert "Recorded this run's figures in the history table of postgres workspace example" in out
    ws.run("drift", "--history", check=0)
    ws.write("zz-monitoring.yaml", "monitoring:\n  history: {max_samples: 2}\n  pool_utilization: 50\n")
    assert ws.run("report", "--history", "--detailed-exitcode").returncode == 2  # hz-trade is 75% used
    assert not (ws.root / "state" / "report-history.jsonl").exists()
    with psycopg.connect(pg_conninfo) as conn:
        rows = conn.execute("SELECT command, sample->'scopes'->'private'->>'cidrs', jsonb_array_length(sample->'alerts') "
                            "FROM ipamctl.history WHERE workspace = 'example' ORDER BY seq").fetchall()
    assert rows == [("drift", "12", 0), ("report", "12", 1)]  # the newest two: the first was dropped
    page = ws.root / "r.html"
    ws.run("report", "--html", str(page), check=0)
    assert "History (2 recorded runs)" in page.read_text()
