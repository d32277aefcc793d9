"""`ipamctl report --format openmetrics` read back with the Prometheus client's own parsers (its strict
OpenMetrics parser, and its Prometheus text-format one, as node_exporter's textfile collector and a
Pushgateway read text): every family a gauge with HELP, the labels, and the values equal to the JSON
report's; --detailed-exitcode and the thresholds crossed; --out writes the file atomically."""

from __future__ import annotations

import json

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

from reconciler.report.model import build_report
from reconciler.report.monitor import Alert
from reconciler.report.openmetrics import render_openmetrics
from tests.cli.test_report import oob_vpc

FAMILIES = {"ipam_pool_utilization_ratio", "ipam_pool_addresses", "ipam_vpc_cidr_utilization_ratio",
            "ipam_vpc_cidr_addresses", "ipam_vswitch_cidr_utilization_ratio", "ipam_vswitch_cidr_addresses",
            "ipam_scope_cidrs", "ipam_scope_overlapping_cidrs", "ipam_scope_overlaps", "ipam_scope_unmanaged_cidrs",
            "ipam_scope_noncompliant_cidrs", "ipam_threshold_crossed", "ipam_thresholds_crossed",
            "ipam_discovery_cidrs", "ipam_discovery_read_timestamp_seconds", "ipam_state_written_timestamp_seconds",
            "ipam_discovery_may_lag", "ipam_report_generated_timestamp_seconds"}
USAGE_LABELS = {"scope", "pool", "vpc", "vswitch", "cidr", "region", "account"}


def families(text: str) -> dict:
    parsed = {f.name: f for f in parse_openmetrics(text)}
    again = {f.name: f for f in parse_prometheus(text)}  # the text format 0.0.4 reads the same samples
    assert set(again) == set(parsed)
    for name, fam in parsed.items():
        assert sorted((s.name, tuple(sorted(s.labels.items())), s.value) for s in again[name].samples) == \
            sorted((s.name, tuple(sorted(s.labels.items())), s.value) for s in fam.samples), name
    return parsed


def samples(fam) -> dict:
    return {tuple(sorted(s.labels.items())): s.value for s in fam.samples}


@pytest.fixture
def applied(example):
    example.run("apply", "--auto-approve", check=0)
    return example


@pytest.mark.both_providers  # served: the account comes over the wire, through the official SDK's AliUid
def test_the_exposition_parses_and_matches_the_json_report(applied):
    oob_vpc(applied, "10.0.0.0/16", "10.0.0.0/24")  # an IPAM-less VPC over trade-prod: overlaps and unmanaged
    doc = applied.json("report")
    proc = applied.run("report", "--format", "openmetrics", check=0)
    assert proc.stdout.endswith("\n# EOF\n")
    fams = families(proc.stdout)
    assert set(fams) == FAMILIES
    for fam in fams.values():
        assert fam.type == "gauge" and fam.documentation, fam.name
    pools = samples(fams["ipam_pool_utilization_ratio"])
    assert len(pools) == 14
    for p in doc["pools"]:
        key = tuple(sorted({"scope": p["scope"], "pool": p["name"], "pool_id": p["id"], "region": p["region"] or "",
                            "ip_version": p["ip_version"]}.items()))
        assert pools[key] == pytest.approx(p["utilization_pct"] / 100)
    sizes = samples(fams["ipam_pool_addresses"])
    v6 = next(p for p in doc["pools"] if p["name"] == "v6")
    v6_labels = {"scope": "public", "pool": "v6", "pool_id": v6["id"], "region": "cn-hangzhou", "ip_version": "IPv6"}
    assert sizes[tuple(sorted({**v6_labels, "kind": "free"}.items()))] == float(255 * 2**72)
    vsw = {dict(k)["vswitch"] + " " + dict(k)["cidr"]: (dict(k), v)
           for k, v in samples(fams["ipam_vswitch_cidr_utilization_ratio"]).items()}
    labels, value = vsw["trade-prod-h 10.0.0.0/24"]
    assert set(labels) == USAGE_LABELS and value == 0.15625
    assert labels == {"scope": "private", "pool": "hz-trade-prod", "vpc": "trade-prod", "vswitch": "trade-prod-h",
                      "cidr": "10.0.0.0/24", "region": "cn-hangzhou", "account": "1000000000000000"}
    known = {u["name"] + " " + u["cidr"] for u in doc["ip_usage"] if u["resource_type"] == "VSwitch" and u["usage_pct"] is not None}
    assert set(vsw) == known  # the discovered-only vSwitch has no usage figure, so no sample
    vpcs = {dict(k)["vpc"] + " " + dict(k)["cidr"]: v for k, v in samples(fams["ipam_vpc_cidr_utilization_ratio"]).items()}
    assert vpcs["trade-prod 10.0.0.0/20"] == pytest.approx(110 / 4096)
    by_scope = {name: {dict(k)["scope"]: v for k, v in samples(fams[name]).items()}
                for name in ("ipam_scope_overlapping_cidrs", "ipam_scope_overlaps", "ipam_scope_unmanaged_cidrs",
                             "ipam_scope_noncompliant_cidrs", "ipam_scope_cidrs")}
    assert by_scope["ipam_scope_overlapping_cidrs"] == {"private": 6.0, "public": 0.0, "acquired": 0.0}
    assert by_scope["ipam_scope_overlaps"]["private"] == len(doc["overlaps"]) == 4
    assert by_scope["ipam_scope_unmanaged_cidrs"]["private"] == doc["summary"]["unmanaged"] == 2
    assert sum(by_scope["ipam_scope_cidrs"].values()) == doc["summary"]["resource_cidrs"]
    crossed = samples(fams["ipam_threshold_crossed"])
    assert list(crossed) == [(("scope", "private"), ("subject", "scope private"), ("threshold", "overlaps"))]
    assert samples(fams["ipam_thresholds_crossed"]) == {(): 1.0}
    assert samples(fams["ipam_discovery_cidrs"]) == {(): float(doc["discovery"]["cidrs"])}
    assert samples(fams["ipam_discovery_may_lag"]) == {(): 1.0}  # applied moments ago


def test_label_values_are_escaped():
    from tests.report.test_model import WORLD

    report = build_report(WORLD)
    found = [Alert("overlaps", 'we"ird\\scope\nname', "scope x", 3.0, 0.0)]
    fams = families(render_openmetrics(report, found, {"cidrs": 0}))
    (labels,) = samples(fams["ipam_threshold_crossed"])
    assert dict(labels)["scope"] == 'we"ird\\scope\nname'


def test_detailed_exitcode_out_file_and_json_say_the_same(applied):
    applied.write("90-monitoring.yaml", "monitoring:\n  pool_utilization: 70\n  pools: {hz-trade: {pool_utilization: 74}}\n")
    proc = applied.run("report", "--detailed-exitcode")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Thresholds crossed: 1 (specs)\n  ! ipam_pool.hz-trade: 75.00% used, above the threshold pool_utilization: 74%" \
        in proc.stdout
    doc = json.loads(applied.run("report", "--json", "--detailed-exitcode", check=2).stdout)
    assert doc["monitoring"]["crossed"] is True and doc["monitoring"]["thresholds_from"] == "specs"
    assert [(a["threshold"], a["subject"], a["value"], a["limit"]) for a in doc["monitoring"]["alerts"]] == [
        ("pool_utilization", "ipam_pool.hz-trade", 75.0, 74.0)]
    assert doc["monitoring"]["thresholds"]["pools"] == {"hz-trade": {"pool_utilization": 74.0}}
    out = applied.run("report", "--format", "openmetrics", "--out", "metrics/ipam.prom", "--detailed-exitcode")
    assert out.returncode == 1  # the folder does not exist: an error, not a half-written file
    (applied.root / "metrics").mkdir()
    out = applied.run("report", "--format", "openmetrics", "--out", "metrics/ipam.prom", "--detailed-exitcode", check=2)
    assert out.stdout == "Wrote the report (openmetrics) to metrics/ipam.prom.\n"
    fams = families((applied.root / "metrics" / "ipam.prom").read_text())
    assert list(samples(fams["ipam_threshold_crossed"])) == [
        (("scope", "private"), ("subject", "ipam_pool.hz-trade"), ("threshold", "pool_utilization"))]
    assert applied.run("report", "--format", "openmetrics", "--json").returncode == 2  # a usage error
    applied.write("90-monitoring.yaml", "monitoring:\n  pool_utilization: 75\n")
    assert applied.run("report", "--detailed-exitcode").returncode == 0  # 75% is not above 75
    assert "Thresholds: none crossed (specs)." in applied.run("report", check=0).stdout


def test_drift_records_history_and_says_when_discovery_was_read(applied):
    proc = applied.run("drift", check=0)
    assert "Resource discovery was last read" not in proc.stdout  # nothing recorded yet
    proc = applied.run("drift", "--history", check=0)
    assert "Resource discovery read at " in proc.stdout and "recorded this run's figures in " in proc.stdout
    assert "may not show that change until about" in proc.stdout  # applied moments ago
    lines = [json.loads(x) for x in (applied.root / "state" / "report-history.jsonl").read_text().splitlines()]
    assert [x["command"] for x in lines] == ["drift"]
    assert {k: v["cidrs"] for k, v in lines[0]["scopes"].items()} == {"private": 12, "public": 2, "acquired": 0}
    doc = applied.json("drift")
    assert doc["discovery"] == {"status": "not-read", "last_read_at": lines[0]["discovery"]["read_at"],
                                "last_read_by": "drift"}
    assert f"Resource discovery was last read at {lines[0]['discovery']['read_at']}" in applied.run("drift", check=0).stdout


def test_the_scheduled_pipeline_example(applied, tmp_path):
    """docs/examples/monitoring/scheduled.sh as a scheduler runs it: exit 0, then 2 once a threshold is
    crossed, a sample recorded per run, the metrics file parsed, the alerts listed."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "docs" / "examples" / "monitoring" / "scheduled.sh"
    out, textfile = tmp_path / "out", tmp_path / "textfile"
    out.mkdir()
    textfile.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1",
           "IPAM_WORKSPACE": str(applied.root), "OUT": str(out), "TEXTFILE_DIR": str(textfile)}
    env.pop("PUSHGATEWAY", None)

    def run() -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=300)

    first = run()
    assert first.returncode == 0, first.stdout + first.stderr
    assert (out / "alerts.txt").read_text() == "" and (out / "report.html").exists()
    applied.write("90-monitoring.yaml", "monitoring:\n  vswitch_utilization: 20\n")  # trade-prod-i is 27.34% used
    second = run()
    assert second.returncode == 2, second.stdout + second.stderr
    assert (out / "alerts.txt").read_text() == (
        "vswitch.trade-prod-i 10.0.1.0/24: 27.34% used, above the threshold vswitch_utilization: 20%\n")
    assert "vswitch.trade-prod-i 10.0.1.0/24" in second.stderr
    fams = families((textfile / "ipam.prom").read_text())
    assert list(samples(fams["ipam_threshold_crossed"])) == [
        (("scope", "private"), ("subject", "vswitch.trade-prod-i 10.0.1.0/24"), ("threshold", "vswitch_utilization"))]
    assert not [p.name for p in textfile.iterdir() if p.name != "ipam.prom"]  # no temp file left beside it
    history = [json.loads(x) for x in (applied.root / "state" / "report-history.jsonl").read_text().splitlines()]
    assert [h["command"] for h in history] == ["drift", "drift"]  # one sample per run
    assert [len(h["alerts"]) for h in history] == [0, 1]
    assert "History (2 recorded runs)" in (out / "report.html").read_text()
