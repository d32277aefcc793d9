"""Thresholds, the per-scope series a sample records, and discovery freshness, on the hand-made state of
test_model.py (every expected figure worked out by hand there and here)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from reconciler.errors import ReconcilerError
from reconciler.models.monitoring import MonitoringSpec, monitoring_spec
from reconciler.report.model import build_report
from reconciler.report.monitor import alerts, freshness, normalize, sample, scope_counts
from reconciler.source.loader import load_specs
from tests.report.test_model import WORLD

SCOPES = ["other", "private", "public"]


@pytest.fixture(scope="module")
def world():
    return build_report(WORLD, now=datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc))


def test_scope_counts(world):
    # private: shadow 10.0.0.0/16 (IPAM-less) overlaps web's /20 and /24, bad's /25 and the custom allocation dc;
    # its vSwitch shadow-a overlaps web-a: 7 overlapping CIDRs in 5 pairs; shadow and shadow-a are unmanaged;
    # bad's /25 breaks app's max_mask /24
    assert scope_counts(world, SCOPES) == {
        "other": {"cidrs": 1, "overlapping": 0, "overlaps": 0, "unmanaged": 0, "noncompliant": 0},
        "private": {"cidrs": 9, "overlapping": 7, "overlaps": 5, "unmanaged": 2, "noncompliant": 1},
        "public": {"cidrs": 2, "overlapping": 0, "overlaps": 0, "unmanaged": 0, "noncompliant": 0}}
    assert "scope-never-used" in scope_counts(world, ["scope-never-used"])  # a recorded scope with nothing in it


def test_default_thresholds(world):
    found = alerts(world, MonitoringSpec(), SCOPES)
    assert [(a.threshold, a.scope, a.subject, a.value, a.limit) for a in found] == [
        ("overlaps", "private", "scope private", 7.0, 0.0), ("noncompliant", "private", "scope private", 1.0, 0.0)]
    assert found[0].message == "scope private: 7 overlapping CIDR blocks, above the threshold overlaps: 0"


def test_thresholds_by_level(world):
    # corp is 31.52% used, app 27.34%, iso 6.25%; web-a 15.625%, web-b 7.8125%, shadow-a 3.125%
    spec = MonitoringSpec.model_validate({
        "pool_utilization": 25, "vswitch_utilization": 5, "overlaps": None, "noncompliant": 0, "unmanaged": 1,
        "scopes": {"other": {"pool_utilization": 5}, "private": {"vswitch_utilization": 10}},
        "pools": {"app": {"pool_utilization": None, "vswitch_utilization": 7}}})
    got = [(a.threshold, a.subject, a.limit) for a in alerts(world, spec, SCOPES)]
    assert got == [
        ("pool_utilization", "ipam_pool.corp", 25.0),    # the top level
        ("pool_utilization", "ipam_pool.iso", 5.0),      # scope other's own; app's is off (null)
        ("vswitch_utilization", "vswitch.web-a 10.0.0.0/24", 7.0),  # pool app's: 15.625 > 7
        ("vswitch_utilization", "vswitch.web-b 10.0.1.0/26", 7.0),  # 7.8125 > 7
        # shadow-a (3.125%, no pool) stays under private's 10; web-a's IPv6 /64 under app's 7
        ("noncompliant", "scope private", 0.0), ("unmanaged", "scope private", 1.0)]
    web_a = next(a for a in alerts(world, spec, SCOPES) if a.subject.startswith("vswitch.web-a"))
    assert dict(web_a.labels) == {"pool": "app", "vpc": "web", "vswitch": "web-a", "cidr": "10.0.0.0/24",
                                  "region": "cn-hangzhou", "account": ""}
    # a figure equal to its threshold has not crossed it
    assert not alerts(world, MonitoringSpec.model_validate({"vswitch_utilization": 15.625, "pool_utilization": None,
                                                            "overlaps": 7, "noncompliant": 1}), SCOPES)


def test_the_block_is_read_on_its_own_with_lines(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "m.yaml").write_text("monitoring:\n  pool_utilization: 80\n  scopes:\n"
                                               "    private: {overlaps: -1}\n  colour: blue\n")
    with pytest.raises(ReconcilerError) as exc:
        monitoring_spec(load_specs(tmp_path / "specs"))
    text = str(exc.value)
    assert "m.yaml:4" in text and "Spec.OutOfRange" in text and "m.yaml:5" in text and "'colour'" in text
    assert monitoring_spec(None) == MonitoringSpec()


def test_a_sample_holds_every_series(world):
    found = alerts(world, MonitoringSpec(), SCOPES)
    s = sample(world, found, command="report", discovery={"status": "ok", "read_at": "t", "cidrs": 3}, known_scopes=SCOPES)
    assert s["format"] == 2 and s["command"] == "report" and s["scopes"] == scope_counts(world, SCOPES)
    assert s["pools"]["app"] == {"scope": "private", "region": "cn-hangzhou", "utilization_pct": 27.34375}
    vsw = {(v["name"], v["cidr"]): v for v in s["vswitches"]}
    assert vsw[("web-a", "10.0.0.0/24")]["utilization_pct"] == 15.625 and vsw[("web-a", "10.0.0.0/24")]["pool"] == "app"
    assert vsw[("web-a", "2408:4000:0:1::/64")]["scope"] == "public"
    assert {(v["name"], v["cidr"]) for v in s["vpcs"]} == {
        ("bad", "10.0.32.0/25"), ("edge", "10.2.0.0/24"), ("iso-vpc", "10.0.0.0/20"), ("shadow", "10.0.0.0/16"),
        ("web", "10.0.0.0/20"), ("web", "10.0.16.0/24"), ("web", "2408:4000::/56")}
    assert [a["threshold"] for a in s["alerts"]] == ["overlaps", "noncompliant"]
    assert s["timestamp"] == "2026-12-01T10:00:00Z" and normalize(s) is s


def test_old_history_lines_are_read_as_samples():
    old = {"timestamp": "2026-01-01T00:00:00Z", "utilization": {"root": 38.28125}, "overlaps": 2, "noncompliant": 1,
           "overlapping_cidrs": 3}
    s = normalize(old)
    assert s["pools"] == {"root": {"scope": None, "region": None, "utilization_pct": 38.28125}}
    assert s["totals"] == {"overlaps": 2, "overlapping_cidrs": 3, "noncompliant": 1} and s["legacy"]
    assert normalize({"timestamp": "yesterday", "utilization": {}}) is None
    assert normalize({"timestamp": "2026-01-01T00:00:00Z"}) is None
    assert normalize("not a sample") is None


def test_freshness(world):
    ok = {"status": "ok", "cidrs": 12}
    fresh = freshness(ok, "2026-12-01T10:04:00Z", "2026-12-01T10:00:00Z", world)
    assert fresh["may_lag"] and fresh["refresh_seconds"] == 300 and fresh["read_at"] == "2026-12-01T10:04:00Z"
    assert fresh["warning"].startswith("the state was written at 2026-12-01T10:00:00Z, 240s before discovery was read")
    assert "until about 2026-12-01T10:05:00Z" in fresh["warning"]
    # every CIDR of the hand-made state is recorded, none discovered: all nine VPC and vSwitch ones may be lagging
    assert fresh["recorded_not_discovered"] == 11 and "11 recorded CIDR(s) are not in discovery yet" in fresh["warning"]
    settled = freshness(ok, "2026-12-01T10:05:00Z", "2026-12-01T10:00:00Z")
    assert settled["may_lag"] is False and "warning" not in settled
    assert freshness(ok, "2026-12-01T10:05:00Z", None)["may_lag"] is False  # no state written yet
    assert freshness({"status": "not-run", "cidrs": 0}, "2026-12-01T10:01:00Z", "2026-12-01T10:00:00Z")["may_lag"] is False
