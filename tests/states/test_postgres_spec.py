"""The ``backend:`` block and how a workspace picks its backend (no server needed): validation, a
password refused without being shown, the specs parsed once per command (``plan`` on the local
backend as fast as before), the local backend when the specs do not load; and the test server's
own rule -- no PostgreSQL binaries: skipped outside CI, failed in CI."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from reconciler import workspace as workspace_mod
from reconciler.cli.main import main
from reconciler.errors import ReconcilerError, SpecError, flatten
from reconciler.models.backend import BackendSpec, conn_str_secret
from reconciler.states.local import LocalStateBackend
from reconciler.states.postgres import PostgresStateBackend
from reconciler.workspace import Workspace
from tests.conftest import EXAMPLE
from tests.support.postgres import find_bindir, require_bindir

SECRET = "s3cr3t-value"


def ws_with(tmp_path, backend: str | None) -> Workspace:
    (tmp_path / "specs").mkdir(parents=True, exist_ok=True)
    (tmp_path / "specs" / "main.yaml").write_text("pools: {}\n")
    if backend is not None:
        (tmp_path / "specs" / "backend.yaml").write_text(backend)
    return Workspace(tmp_path)


def codes(fn) -> list[str]:
    try:
        fn()
    except ReconcilerError as exc:
        return [e.code for e in flatten(exc)]
    return []


@pytest.mark.parametrize("conn_str, kind", [
    (f"host=db password={SECRET}", "password= setting"),
    (f"host=db  PASSWORD = '{SECRET}'", "password= setting"),
    (f"host=db sslpassword={SECRET}", "password= setting"),
    (f"postgresql://app:{SECRET}@db:5432/state", "user:password@ part"),
    (f"postgres://app@db/state?sslmode=require&password={SECRET}", "password= parameter"),
])
def test_a_password_in_conn_str_is_refused_naming_file_and_line_never_the_value(tmp_path, conn_str, kind):
    ws = ws_with(tmp_path, f"# the team's state\nbackend:\n  type: postgres\n  workspace: prod\n"
                           f"  conn_str: \"{conn_str}\"\n")
    assert conn_str_secret(conn_str) and kind in conn_str_secret(conn_str)
    with pytest.raises(SpecError) as info:
        ws.backend()
    error = info.value
    assert (error.code, error.file, error.line) == ("Spec.BackendSecret", "specs/backend.yaml", 5)
    assert SECRET not in error.message and kind in error.message
    from reconciler.models.network import parse_spec

    with pytest.raises(ReconcilerError) as full:  # the whole spec's validation says the same
        parse_spec(ws.load_specs())
    assert [e.code for e in flatten(full.value)] == ["Spec.BackendSecret"] and SECRET not in str(full.value)


@pytest.mark.parametrize("conn_str", ["host=db user=app dbname=state passfile=/run/secrets/pgpass",
                                      "postgresql://app@db/state", "", "service=ipamctl"])
def test_a_conn_str_without_a_password_is_accepted(conn_str):
    assert conn_str_secret(conn_str) is None
    assert BackendSpec.model_validate({"type": "postgres", "workspace": "w", "conn_str": conn_str}).conn_str == conn_str


@pytest.mark.parametrize("body, code", [
    ({"type": "postgres"}, "Spec.BackendWorkspace"),
    ({"type": "postgres", "workspace": "bad name"}, "Spec.BackendWorkspace"),
    ({"type": "postgres", "workspace": "w", "schema": "Bad-Schema"}, "Spec.BackendSchema"),
    ({"type": "local", "workspace": "w"}, "Spec.BackendField"),
    ({"type": "postgres", "workspace": "w", "password": SECRET}, "Spec.BackendSecret"),
    ({"type": "s3"}, "literal_error"),
    ({"type": "postgres", "workspace": "w", "host": "db"}, "extra_forbidden"),
])
def test_backend_block_validation(body, code):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        BackendSpec.model_validate(body)
    assert [e["type"] for e in info.value.errors()] == [code]
    assert SECRET not in str(info.value.errors(include_input=False))


def test_the_workspace_picks_the_configured_backend_once(tmp_path):
    assert isinstance(ws_with(tmp_path / "a", None).backend(), LocalStateBackend)
    assert isinstance(ws_with(tmp_path / "b", "backend: {type: local}\n").backend(), LocalStateBackend)
    ws = ws_with(tmp_path / "c", "backend: {type: postgres, workspace: prod, schema: team, "
                                 "conn_str: 'host=127.0.0.1 port=1'}\n")
    backend = ws.backend()  # made without connecting: nothing is listening on port 1
    assert isinstance(backend, PostgresStateBackend) and (backend.workspace, backend.schema) == ("prod", "team")
    assert ws.backend() is backend


def test_pg_conn_str_is_the_connection_when_the_spec_gives_none(tmp_path, monkeypatch):
    monkeypatch.setenv("PG_CONN_STR", "host=db.internal dbname=state")
    backend = ws_with(tmp_path, "backend: {type: postgres, workspace: prod}\n").backend()
    assert isinstance(backend, PostgresStateBackend) and backend.conninfo == "host=db.internal dbname=state"
    monkeypatch.delenv("PG_CONN_STR")
    backend = ws_with(tmp_path / "x", "backend: {type: postgres, workspace: prod}\n").backend()
    assert backend.conninfo == ""  # libpq then reads PGHOST, PGUSER, PGPASSWORD, ... itself


def test_specs_that_do_not_load_give_the_local_backend(tmp_path):
    ws = ws_with(tmp_path, "backend: {type: postgres, workspace: prod}\n")
    (tmp_path / "specs" / "broken.yaml").write_text("pools: [unclosed\n")
    assert isinstance(ws.backend(), LocalStateBackend)
    assert codes(ws.load_specs) and codes(ws.load_specs) == codes(ws.load_specs)  # the failure is kept, not re-read


def test_plan_parses_the_specs_once(tmp_path, monkeypatch):
    root = tmp_path / "example"
    shutil.copytree(EXAMPLE, root / "specs")
    calls = []
    real = workspace_mod.load_specs
    monkeypatch.setattr(workspace_mod, "load_specs", lambda *a, **kw: calls.append(a) or real(*a, **kw))
    result = CliRunner().invoke(main, ["-C", str(root), "--no-color", "plan", "--out", str(tmp_path / "p.plan")])
    assert result.exit_code == 0, result.output
    assert "Plan:" in result.output and len(calls) == 1


def test_the_schema_of_the_spec_format_has_the_backend_block():
    from reconciler.models.network import Spec

    props = Spec.model_json_schema()["$defs"]["BackendSpec"]["properties"]
    assert set(props) == {"type", "workspace", "schema", "conn_str"}


def test_missing_postgres_fails_in_ci_and_is_skipped_elsewhere():
    nothing = dict(which=lambda name: None, versions=lambda: [], wheel=lambda: None)
    with pytest.raises(pytest.fail.Exception, match="CI must run these tests"):
        require_bindir({"CI": "true"}, **nothing)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y postgresql"):
        require_bindir({}, **nothing)


def test_the_server_binaries_are_looked_for_in_order(tmp_path):
    def folder(name: str) -> str:
        path = tmp_path / name
        path.mkdir()
        for tool in ("initdb", "pg_ctl", "postgres"):
            (path / tool).write_text("#!/bin/sh\n")
            (path / tool).chmod(0o755)
        return str(path)

    first, second, incomplete = folder("first"), folder("second"), tmp_path / "incomplete"
    incomplete.mkdir()
    assert find_bindir({"PG_BINDIR": first}, which=lambda n: None, versions=lambda: [second]) == first
    assert find_bindir({"PG_BINDIR": str(incomplete)}, which=lambda n: None, versions=lambda: [second]) == second
    assert find_bindir({}, which=lambda n: None, versions=lambda: [], wheel=lambda: first) == first
