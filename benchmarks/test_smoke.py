"""The benchmark suite's smoke mode as a test: N=1,000, results checked, times not.

    python -m pytest -q benchmarks/test_smoke.py      (about a minute; needs the `bench` extra: netaddr)
"""

import pytest

pytest.importorskip("netaddr")


def test_benchmark_smoke(tmp_path, monkeypatch):
    from benchmarks import run

    monkeypatch.chdir(run.REPO)
    checks = run.smoke(tmp_path / "smoke")
    assert checks["yaml-nochange"].startswith("No changes")
    assert checks["yaml-cold"].startswith("Plan:") and checks["yaml-churn"].startswith("Plan:")
    assert checks["apply"]["converged"] and checks["apply"]["state_equals_constructed"]
