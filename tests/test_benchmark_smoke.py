"""The benchmark suite's smoke mode (issue 5) as part of the test suite, so CI runs it: N=1,000, in
YAML and JSON; results checked, times not (``python -m benchmarks.run --smoke`` is the same run).

It plans the generated workspaces in real ``ipamctl`` processes (cold, no-change, 1 % churn), runs
every pipeline stage, applies the cold plan into the sandbox and plans again, and checks the
baselines against the project: the allocators against the naive lowest-address-first reference,
the diff against one whole-document DeepDiff, the spec loader against PyYAML.
"""

from benchmarks import run


def test_benchmark_smoke(tmp_path, monkeypatch):
    monkeypatch.chdir(run.REPO)
    checks = run.smoke(tmp_path / "smoke")
    for fmt in ("yaml", "json"):
        assert checks[f"{fmt}-nochange"].startswith("No changes"), checks
        for scen in ("cold", "churn"):
            assert checks[f"{fmt}-{scen}"].startswith("Plan:"), checks
    assert checks["apply"]["actions"] > 1000
    assert checks["apply"]["converged"] and checks["apply"]["state_equals_constructed"]
    for v in (4, 6):  # project, NetBox's IPSet method and plain ipaddress agree with the reference
        assert checks[f"alloc_v{v}"] and all(checks[f"alloc_v{v}"].values()), checks[f"alloc_v{v}"]
    assert checks["diff"]["changes"] > 0 and checks["diff"]["same_addresses"]
    assert all(checks["parse_yaml"].values()) and all(checks["parse_json"].values())
