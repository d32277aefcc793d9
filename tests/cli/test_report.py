"""`ipamctl report` through the real CLI on sandbox situations: the bundled example applied, then
out-of-band VPCs (overlaps), a VPC that breaks a tightened pool rule (noncompliant), history.
Figures are hand-computed; statuses and counts are also checked against the sandbox's own
ListIpamResourceCidrs view of each scope."""

from __future__ import annotations

import json

import pytest

# pool: total, to sub-pools, to resources, custom, free, utilization %, largest free block, source %
EXAMPLE_POOLS = {
    "root": (2**24, 3 * 2**21, 2 * 65536, 2 * 65536, 10_354_688, 38.28125, "10.128.0.0/10", None),
    "hz": (2**21, 2 * 2**17, 0, 0, 1_835_008, 12.5, "10.16.0.0/12", 38.28125),
    "hz-trade": (2**17, 3 * 2**15, 0, 0, 2**15, 75.0, "10.1.128.0/17", 12.5),
    "hz-trade-prod": (2**15, 0, 4096 + 1024, 0, 27_648, 15.625, "10.0.64.0/18", 75.0),
    "hz-trade-test": (2**15, 0, 1024, 0, 31_744, 3.125, "10.0.192.0/18", 75.0),
    "hz-trade-dev": (2**15, 0, 0, 0, 2**15, 0.0, "10.1.0.0/17", 75.0),
    "hz-payments": (2**17, 2**15, 0, 0, 98_304, 25.0, "10.3.0.0/16", 12.5),
    "hz-payments-prod": (2**15, 0, 4096, 0, 28_672, 12.5, "10.2.64.0/18", 25.0),
    "sh": (2**21, 2**17, 0, 0, 1_966_080, 6.25, "10.48.0.0/12", 38.28125),
    "sh-trade": (2**17, 2**15, 0, 0, 98_304, 25.0, "10.33.0.0/16", 6.25),
    "sh-trade-prod": (2**15, 0, 4096, 0, 28_672, 12.5, "10.32.64.0/18", 25.0),
    "bj": (2**21, 0, 0, 0, 2**21, 0.0, "10.64.0.0/11", 38.28125),
    "acquired-root": (65536, 0, 0, 0, 65536, 0.0, "10.0.0.0/16", None),
    "v6": (2**80, 0, 2**72, 0, 255 * 2**72, 0.390625, "2408:4000:0:8000::/49", None),
}
# (name, cidr): total, in vSwitches, ENI addresses, prefix addresses, reserved, used, free
EXAMPLE_USAGE = {
    ("payments-prod", "10.2.0.0/20"): (4096, 256, 0, 0, 4, 4, 4092),
    ("payments-h", "10.2.0.0/24"): (256, None, 0, 0, 4, 4, 252),
    ("sh-trade-prod", "10.32.0.0/20"): (4096, 256, 0, 0, 4, 4, 4092),
    ("sh-trade-b", "10.32.0.0/24"): (256, None, 0, 0, 4, 4, 252),
    # web-1: 2 addresses on its primary ENI, 2 on eth1 and two /28s; node-1: 1 + 1 and four /28s
    ("trade-prod", "10.0.0.0/20"): (4096, 512, 6, 96, 8, 110, 3986),
    ("trade-prod-h", "10.0.0.0/24"): (256, None, 4, 32, 4, 40, 216),
    ("trade-prod-i", "10.0.1.0/24"): (256, None, 2, 64, 4, 70, 186),
    ("trade-prod", "10.0.16.0/22"): (1024, 0, 0, 0, 0, 0, 1024),
    ("trade-prod", "2408:4000::/56"): (2**72, 2**64, 0, 2**48, 4, 2**48 + 4, 2**72 - 2**48 - 4),
    ("trade-prod-h", "2408:4000:0:1::/64"): (2**64, None, 0, 2**48, 4, 2**48 + 4, 2**64 - 2**48 - 4),
    ("trade-test", "10.0.128.0/22"): (1024, 256, 0, 0, 4, 4, 1020),
    ("trade-test-h", "10.0.128.0/24"): (256, None, 0, 0, 4, 4, 252),
}


@pytest.fixture
def applied(example):
    example.run("apply", "--auto-approve", check=0)
    return example


def report(ws) -> dict:
    return ws.json("report")


def ids(ws) -> dict:
    return {address: r["id"] for address, r in ws.json("show")["resources"].items()}


def cloud_view(ws, scope_ids) -> dict:
    """(resource id, cidr) -> the sandbox's ListIpamResourceCidrs row, over the given scopes."""
    rows = {}
    for scope in scope_ids:
        code, body = ws.sandbox("ListIpamResourceCidrs", IpamScopeId=scope, MaxResults=100)
        assert code == 0, body
        rows.update({(r["ResourceId"], r["Cidr"]): r for r in body["IpamResourceCidrs"]})
    return rows


def check_against_cloud(ws, doc):
    """Every VPC and vSwitch row has the cloud's three statuses and overlapping resources; IPv4 vSwitch
    used counts equal the cloud's UsedIpCount, and a VPC block's cloud count is its vSwitch addresses."""
    known = ids(ws)
    cloud = cloud_view(ws, [known[f"ipam_scope.{s}"] for s in ("private", "public", "acquired")])
    mine = {(r["resource_id"], r["cidr"]): r for r in doc["resource_cidrs"] if r["resource_type"] != "CustomAllocation"}
    assert set(mine) == set(cloud)
    for key, row in mine.items():
        c = cloud[key]
        assert (row["management_status"], row["compliance_status"], row["overlap_status"]) == \
            (c["ManagementStatus"], c["ComplianceStatus"], c["OverlapStatus"]), key
        assert {(o["resource_id"], o["cidr"]) for o in row["overlaps_with"] if o["resource_type"] != "CustomAllocation"} \
            == {(o["OverlapResourceId"], o["OverlapResourceCidr"]) for o in c["OverlapDetail"]}, key
    for u in doc["ip_usage"]:
        c = cloud[(u["resource_id"], u["cidr"])]
        if ":" not in u["cidr"] and u["used"] is not None:
            expected = u["used"] if u["resource_type"] == "VSwitch" else u["vswitch_addresses"]
            assert c["IpCountDetail"]["UsedIpCount"] == expected, u
            assert c["IpCountDetail"]["TotalIpCount"] == u["total"]


def test_example(applied):
    doc = report(applied)
    assert doc["format_version"] == "1"
    disc = doc["discovery"]
    assert (disc["status"], disc["cidrs"], disc["refresh_seconds"], disc["recorded_not_discovered"]) == ("ok", 12, 300, 0)
    # the apply wrote the state moments ago: the cloud's 5-minute discovery refresh may not show it yet
    assert disc["state_written_at"] <= disc["read_at"] and disc["may_lag"] is True
    assert disc["warning"].startswith(f"the state was written at {disc['state_written_at']}")
    assert doc["monitoring"] == {"alerts": [], "crossed": False, "thresholds_from": "defaults", "thresholds": {
        "pool_utilization": 80.0, "vpc_utilization": None, "vswitch_utilization": 90.0, "overlaps": 0,
        "noncompliant": 0, "unmanaged": None, "scopes": {}, "pools": {},
        "history": {"max_age_days": 90, "max_samples": 2000}}}
    pools = {p["name"]: p for p in doc["pools"]}
    assert list(pools) == ["root", "hz", "hz-trade", "hz-trade-prod", "hz-trade-test", "hz-trade-dev", "hz-payments",
                           "hz-payments-prod", "sh", "sh-trade", "sh-trade-prod", "bj", "acquired-root", "v6"]
    for name, figures in EXAMPLE_POOLS.items():
        p = pools[name]
        assert (p["total"], p["allocated_to_sub_pools"], p["allocated_to_resources"], p["custom_allocations"],
                p["free"], p["utilization_pct"], p["largest_free_block"], p["source_utilization_pct"]) == figures, name
    usage = {(u["name"], u["cidr"]): u for u in doc["ip_usage"]}
    assert set(usage) == set(EXAMPLE_USAGE)
    for key, figures in EXAMPLE_USAGE.items():
        u = usage[key]
        assert (u["total"], u["vswitch_addresses"], u["eni_addresses"], u["prefix_addresses"], u["system_reserved"],
                u["used"], u["free"]) == figures, key
    assert usage[("trade-prod-h", "10.0.0.0/24")]["usage_pct"] == 15.625
    assert doc["overlaps"] == [] and doc["summary"] == {
        "pools": 14, "resource_cidrs": 14, "managed": 14, "unmanaged": 0, "noncompliant": 0, "overlaps": 0,
        "overlapping_cidrs": 0}
    assert all(r["source"] == "state+discovered" for r in doc["resource_cidrs"] if r["resource_type"] != "CustomAllocation")
    check_against_cloud(applied, doc)
    text = applied.run("report", check=0).stdout
    assert text.startswith("IPAM report at ") and "14 pools, 14 resource CIDRs (14 managed, 0 unmanaged)" in text
    assert "  root                    private   10.0.0.0/8      16,777,216  6,291,456" in text
    assert "38.28%" in text and "255 x 2^72" in text and "Overlaps within each scope: 0" in text


def oob_vpc(ws, cidr: str, vswitch: str | None = None, **params) -> tuple[str, str | None]:
    code, body = ws.sandbox("CreateVpc", RegionId="cn-hangzhou", **({"CidrBlock": cidr} if cidr else {}), **params)
    assert code == 0, body
    vsw = None
    if vswitch:
        code, out = ws.sandbox("CreateVSwitch", RegionId="cn-hangzhou", VpcId=body["VpcId"], ZoneId="cn-hangzhou-h",
                               CidrBlock=vswitch)
        assert code == 0, out
        vsw = out["VSwitchId"]
    return body["VpcId"], vsw


def test_out_of_band_overlaps_and_a_noncompliant_vpc(applied):
    known = ids(applied)
    legacy, legacy_vsw = oob_vpc(applied, "10.0.0.0/16", "10.0.0.0/24")  # no IPAM, over trade-prod and trade-test
    elsewhere, _ = oob_vpc(applied, "192.168.0.0/16")  # no IPAM, overlapping nothing
    dev, _ = oob_vpc(applied, "", Ipv4IpamPoolId=known["ipam_pool.hz-trade-dev"], Ipv4CidrMask="24")
    # tighten hz-trade-dev's rules: the /24 drawn from it out of band no longer complies
    pools = applied.root / "specs" / "10-pools.yaml"
    text = pools.read_text()
    rule = "allocation: {min_mask: 16, default_mask: 22, max_mask: 24}"
    head, _, tail = text.partition("hz-trade-dev:")
    pools.write_text(head + "hz-trade-dev:" + tail.replace(rule, "allocation: {min_mask: 16, default_mask: 22, "
                                                                  "max_mask: 22}", 1))
    applied.run("apply", "--auto-approve", check=0)
    doc = report(applied)
    tp, tt, tph = known["vpc.trade-prod"], known["vpc.trade-test"], known["vswitch.trade-prod-h"]
    pairs = {((o["a"]["resource_id"], o["a"]["cidr"]), (o["b"]["resource_id"], o["b"]["cidr"]), o["scope"])
             for o in doc["overlaps"]}
    assert pairs == {
        ((legacy, "10.0.0.0/16"), (tp, "10.0.0.0/20"), "private"),
        ((legacy, "10.0.0.0/16"), (tp, "10.0.16.0/22"), "private"),
        ((legacy, "10.0.0.0/16"), (tt, "10.0.128.0/22"), "private"),
        ((tph, "10.0.0.0/24"), (legacy_vsw, "10.0.0.0/24"), "private"),
    }
    rows = {(r["resource_id"], r["cidr"]): r for r in doc["resource_cidrs"]}
    assert [rows[(x, c)]["management_status"] for x, c in ((legacy, "10.0.0.0/16"), (elsewhere, "192.168.0.0/16"),
                                                            (dev, "10.1.0.0/24"))] == ["Unmanaged", "Unmanaged", "Managed"]
    assert rows[(elsewhere, "192.168.0.0/16")]["overlap_status"] == "Nonoverlapping"
    (bad,) = [r for r in doc["resource_cidrs"] if r["compliance_status"] == "Noncompliant"]
    assert (bad["resource_id"], bad["cidr"], bad["pool"], bad["noncompliance_reason"]) == \
        (dev, "10.1.0.0/24", "hz-trade-dev", "mask /24 is longer than the pool's max_mask /22")
    pool = next(p for p in doc["pools"] if p["name"] == "hz-trade-dev")
    assert (pool["allocated_to_resources"], pool["free"], pool["utilization_pct"], pool["largest_free_block"]) == \
        (256, 32512, 0.78125, "10.1.64.0/18")
    assert pool["allocations"] == [{"kind": "vpc", "name": dev, "resource_id": dev, "cidr": "10.1.0.0/24"}]
    assert doc["summary"] == {"pools": 14, "resource_cidrs": 18, "managed": 15, "unmanaged": 3, "noncompliant": 1,
                              "overlaps": 4, "overlapping_cidrs": 6}
    check_against_cloud(applied, doc)
    text = applied.run("report", check=0).stdout
    assert f"  private  vpc (discovered) {legacy}  10.0.0.0/16  vpc.trade-prod" in text
    assert (f"Noncompliant: vpc (discovered) {dev} 10.1.0.0/24 in ipam_pool.hz-trade-dev: mask /24 is longer than "
            "the pool's max_mask /22") in text


def test_history_is_appended_per_run(applied):
    path = applied.root / "state" / "report-history.jsonl"
    applied.run("report", check=0)
    assert not path.exists()  # only --history records
    for _ in range(2):
        applied.run("report", "--history", check=0)
    legacy, _ = oob_vpc(applied, "10.0.0.0/16")
    out = applied.run("report", "--history", "--json", check=0)
    assert json.loads(out.stdout)["summary"]["overlaps"] == 3
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(lines) == 3 and all(x["format"] == 2 and x["command"] == "report" for x in lines)
    assert [x["scopes"]["private"]["overlapping"] for x in lines] == [0, 0, 4]  # the legacy VPC and 3 it overlaps
    assert [x["scopes"]["private"]["unmanaged"] for x in lines] == [0, 0, 1]
    assert [x["scopes"]["private"]["overlaps"] for x in lines] == [0, 0, 3]
    assert set(lines[0]["scopes"]) == {"private", "public", "acquired"}
    assert lines[0]["pools"]["root"] == {"scope": "private", "region": None, "utilization_pct": 38.28125}
    assert len(lines[0]["pools"]) == 14
    vsw = {(v["name"], v["cidr"]): v for v in lines[0]["vswitches"]}
    assert vsw[("trade-prod-h", "10.0.0.0/24")]["utilization_pct"] == 15.625
    assert vsw[("trade-prod-h", "10.0.0.0/24")]["scope"] == "private"
    assert vsw[("trade-prod-h", "10.0.0.0/24")]["account"] == "1000000000000000"  # discovery's AliUid
    vpcs = {(v["name"], v["cidr"]): v for v in lines[2]["vpcs"]}
    assert vpcs[("trade-prod", "10.0.0.0/20")]["utilization_pct"] == 2.685546875
    assert vpcs[(legacy, "10.0.0.0/16")]["utilization_pct"] is None  # discovered only: no ENI figures
    assert [a["threshold"] for a in lines[2]["alerts"]] == ["overlaps"]
    assert lines[0]["timestamp"] <= lines[2]["timestamp"] and lines[0]["timestamp"].endswith("Z")
    assert lines[0]["discovery"]["status"] == "ok" and lines[0]["discovery"]["read_at"] == lines[0]["timestamp"]


def test_history_survives_a_torn_line_and_reads_the_old_format(applied):
    path = applied.root / "state" / "report-history.jsonl"
    path.write_text('{"timestamp": "2099-01-01T00:00:00Z", "utilization": {"root": 1.0}, "overlaps": 0}\n{"timest')
    applied.run("report", "--history", check=0)
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and lines[1] == '{"timest' and json.loads(lines[2])["format"] == 2
    html = applied.root / "r.html"
    applied.run("report", "--html", str(html), check=0)
    assert "History (2 recorded runs)" in html.read_text()


def test_options_and_empty_workspace(ws):
    proc = ws.run("report", "--json", "--html", "x.html")
    assert proc.returncode == 1 and "--json and --html are alternatives" in proc.stdout + proc.stderr
    proc = ws.run("report", check=0)
    assert proc.stdout.startswith("IPAM report at ") and "0 pools, 0 resource CIDRs" in proc.stdout
    assert ws.json("report")["pools"] == []


def test_the_monitoring_block_when_the_specs_are_broken(applied):
    applied.write("90-monitoring.yaml", "monitoring:\n  pool_utilization: 120\n")
    proc = applied.run("report", "--detailed-exitcode")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "specs/90-monitoring.yaml:2" in out and "Spec.OutOfRange" in out
    assert "Traceback" not in out
    applied.write("90-monitoring.yaml", "monitoring: {pool_utilization: 50}\n")
    assert applied.run("report", "--detailed-exitcode").returncode == 2  # hz-trade is 75% used
    applied.write("99-broken.yaml", "vpcs: [unclosed\n")  # the specs no longer load at all
    doc = json.loads(applied.run("report", "--json", "--detailed-exitcode", check=0).stdout)
    # judged by the defaults (80), not the block's 50, and the report says so
    assert doc["monitoring"]["thresholds_from"].startswith("defaults: the specs did not load (")
    assert doc["monitoring"]["thresholds"]["pool_utilization"] == 80.0 and doc["monitoring"]["alerts"] == []
