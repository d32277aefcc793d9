"""The PostgreSQL backend benchmark (issue 19, ``python -m benchmarks.pg_backend``) at N=1,000 on the
suite's own server: results checked, times not.

The pg plans must print exactly what the local ones print, both applies must converge to the same
attributes, and the history workspace must keep 100 versions and still plan "No changes".
"""

from benchmarks import pg_backend, run
from tests.support.postgres import pg_server  # noqa: F401  (the fixture: skipped outside CI without binaries)


def test_pg_backend_benchmark_smoke(pg_server, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.chdir(run.REPO)
    monkeypatch.setenv("PG_CONN_STR", "")  # measure() points it at its database; restored afterwards
    r = pg_backend.measure(size=1000, rounds=1, apply_size=1000, apply_rounds=1, history=100,
                           work=tmp_path / "work", server=pg_server)
    plans = r["plans"]
    assert plans["nochange"]["same_output"] and plans["churn"]["same_output"], plans
    assert plans["nochange"]["summary"].startswith("No changes"), plans["nochange"]["summary"]
    assert plans["churn"]["summary"].startswith("Plan:"), plans["churn"]["summary"]
    a = r["apply"]
    assert a["actions"] > 1000 and a["local"]["converged"] and a["pg"]["converged"], a
    assert a["same_state"] and a["local"]["actions"] == a["pg"]["actions"], a
    assert r["versions"] == {"bench": 1, "bench-history": 100}, r["versions"]
    assert r["history_build"]["pushes"] == 99
    h = r["history_plans"]["nochange"]
    assert h["same_output"] and h["summary"].startswith("No changes"), h
    table = pg_backend.markdown(r)
    assert "| no-change |" in table and "| 1 % churn |" in table and "100 versions" in table
