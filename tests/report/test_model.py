"""The monitoring report's pure computations on hand-made states: every figure hand-computed."""

from __future__ import annotations

import pytest

from reconciler.net.discovered import DiscoveredCidr
from reconciler.report.model import build_report
from reconciler.report.text import render_text, to_document


def rec(type_, name, id_, **attributes) -> tuple[str, dict]:
    return f"{type_}.{name}", {"type": type_, "name": name, "id": id_, "attributes": attributes}


def pool(name, cidrs, scope="private", source=None, version="IPv4", region=None, rules=(None, None, None)):
    lo, default, hi = rules
    return rec("ipam_pool", name, f"ipam-pool-{name}", scope=scope, source=source, ip_version=version, region=region,
               cidrs=cidrs, allocation={"min_mask": lo, "default_mask": default, "max_mask": hi})


def vpc(name, ipv4, secondary=(), ipv6=None, region="cn-hangzhou"):
    def block(b):
        return None if b is None else {"cidr": b[0], "pool": b[1]}
    return rec("vpc", name, f"vpc-{name}", region=region, ipv4=block(ipv4),
               secondary_cidrs=[block(b) for b in secondary], ipv6=block(ipv6))


def vswitch(name, vpc_name, cidr, ipv6_cidr=None):
    return rec("vswitch", name, f"vsw-{name}", vpc=vpc_name, cidr=cidr, ipv6_cidr=ipv6_cidr, zone="cn-hangzhou-h")


def eni(name, vsw, primary, secondary=(), v4prefixes=(), v6=(), v6prefixes=()):
    return rec("eni", name, f"eni-{name}", vswitch=vsw, primary_ip=primary, secondary_private_ips=list(secondary),
               ipv4_prefixes=list(v4prefixes), ipv6_addresses=list(v6), ipv6_prefixes=list(v6prefixes))


def state(*records) -> dict:
    return dict(records)


# One private scope with a two-CIDR top-level pool, a sub-pool with allocation rules, a custom
# allocation, VPCs (one breaking the max mask), vSwitches with ENIs, an IPAM-less VPC overlapping
# them, a second scope holding the same space, and an IPv6 pool.
WORLD = state(
    rec("ipam_scope", "private", "ipam-scope-private", ipam="corp", type="private", default=True),
    rec("ipam_scope", "other", "ipam-scope-other", ipam="corp", type="private", default=False),
    rec("ipam_scope", "public", "ipam-scope-public", ipam="corp", type="public", default=True),
    pool("corp", ["10.0.0.0/16", "10.2.0.0/24"]),
    pool("app", ["10.0.0.0/18"], source="corp", region="cn-hangzhou", rules=(20, 22, 24)),
    pool("iso", ["10.0.0.0/16"], scope="other"),
    pool("v6", ["2408:4000::/48"], scope="public", version="IPv6", region="cn-hangzhou"),
    rec("ipam_pool_allocation", "dc", "ipam-pool-alloc-dc", pool="corp", cidr="10.0.64.0/20"),
    vpc("web", ("10.0.0.0/20", "app"), secondary=[("10.0.16.0/24", "app")], ipv6=("2408:4000::/56", "v6")),
    vpc("bad", ("10.0.32.0/25", "app")),
    vpc("edge", ("10.2.0.0/24", "corp")),
    vpc("shadow", ("10.0.0.0/16", None)),
    vpc("iso-vpc", ("10.0.0.0/20", "iso")),
    vswitch("web-a", "web", "10.0.0.0/24", ipv6_cidr="2408:4000:0:1::/64"),
    vswitch("web-b", "web", "10.0.1.0/26"),
    vswitch("shadow-a", "shadow", "10.0.0.0/25"),
    eni("e1", "web-a", "10.0.0.5", ["10.0.0.6", "10.0.0.7"], ["10.0.0.16/28", "10.0.0.32/28"],
        v6=["2408:4000:0:1::10"], v6prefixes=["2408:4000:0:1:1::/80"]),
    eni("e2", "web-a", "10.0.0.8"),
    eni("e3", "web-b", "10.0.1.4"),
)


@pytest.fixture(scope="module")
def world():
    return build_report(WORLD)


def test_pool_figures(world):
    pools = {p.name: p for p in world.pools}
    assert [p.name for p in world.pools] == ["corp", "app", "iso", "v6"]  # tree order: private scope first
    corp = pools["corp"]
    assert (corp.total, corp.allocated_to_sub_pools, corp.allocated_to_resources, corp.custom_allocations) == \
        (65536 + 256, 16384, 4096 + 256, 4096)
    assert corp.free == 65792 - 16384 - 4352 == 45056
    assert corp.utilization_pct == pytest.approx(20736 * 100 / 65792)
    assert corp.largest_free_block == "10.0.128.0/17"  # 10.0.80.0 - 10.0.255.255 is free; 10.2.0.0/24 is full
    assert corp.source_utilization_pct is None and corp.depth == 1
    app = pools["app"]
    assert (app.total, app.allocated_to_resources, app.allocated_to_sub_pools, app.free) == (16384, 4480, 0, 11904)
    assert app.utilization_pct == 27.34375
    assert app.largest_free_block == "10.0.48.0/20"
    assert app.source_utilization_pct == corp.utilization_pct and app.depth == 2
    assert (app.min_mask, app.default_mask, app.max_mask, app.region) == (20, 22, 24, "cn-hangzhou")
    assert [(b.kind, b.name, b.cidr) for b in app.blocks] == [
        ("vpc", "web", "10.0.0.0/20"), ("vpc", "web", "10.0.16.0/24"), ("vpc", "bad", "10.0.32.0/25")]
    assert [(b.kind, b.name) for b in corp.blocks] == [("sub_pool", "app"), ("custom", "dc"), ("vpc", "edge")]
    iso = pools["iso"]
    assert (iso.allocated_to_resources, iso.free, iso.utilization_pct) == (4096, 61440, 6.25)


def test_ipv6_pool_figures_are_exact_integers(world):
    v6 = next(p for p in world.pools if p.name == "v6")
    assert (v6.total, v6.allocated_to_resources, v6.free) == (2**80, 2**72, 255 * 2**72)
    assert v6.utilization_pct == 0.390625
    assert v6.largest_free_block == "2408:4000:0:8000::/49"


def test_vswitch_and_vpc_usage(world):
    rows = {(u.name, u.cidr): u for u in world.usage}
    a = rows[("web-a", "10.0.0.0/24")]
    # ENI addresses 10.0.0.5-.8 (4), two /28 prefixes (32), reserved .0 and .253-.255 (4)
    assert (a.total, a.eni_addresses, a.prefix_addresses, a.system_reserved, a.used, a.free) == (256, 4, 32, 4, 40, 216)
    assert a.usage_pct == 15.625
    b = rows[("web-b", "10.0.1.0/26")]
    assert (b.total, b.eni_addresses, b.prefix_addresses, b.system_reserved, b.used, b.free) == (64, 1, 0, 4, 5, 59)
    assert b.usage_pct == 7.8125
    w = rows[("web", "10.0.0.0/20")]
    assert (w.total, w.vswitch_addresses, w.eni_addresses, w.prefix_addresses, w.system_reserved, w.used, w.free) == \
        (4096, 320, 5, 32, 8, 45, 4051)
    assert w.usage_pct == 45 * 100 / 4096
    assert (rows[("web", "10.0.16.0/24")].used, rows[("web", "10.0.16.0/24")].free) == (0, 256)
    a6 = rows[("web-a", "2408:4000:0:1::/64")]  # one address, one /80 prefix (2**48), 4 reserved
    assert (a6.total, a6.eni_addresses, a6.prefix_addresses, a6.system_reserved) == (2**64, 1, 2**48, 4)
    assert a6.free == 2**64 - 2**48 - 5
    w6 = rows[("web", "2408:4000::/56")]
    assert (w6.total, w6.vswitch_addresses, w6.used) == (2**72, 2**64, 2**48 + 5)
    order = [(u.resource_type, u.name) for u in world.usage[:5]]
    assert order == [("VPC", "bad"), ("VPC", "edge"), ("VPC", "iso-vpc"), ("VPC", "shadow"), ("VSwitch", "shadow-a")]


def test_overlaps_within_each_scope(world):
    pairs = {tuple(sorted([f"{o.a.name} {o.a.cidr}", f"{o.b.name} {o.b.cidr}"])) + (o.scope,) for o in world.overlaps}
    assert pairs == {
        ("shadow 10.0.0.0/16", "web 10.0.0.0/20", "private"),
        ("shadow 10.0.0.0/16", "web 10.0.16.0/24", "private"),
        ("bad 10.0.32.0/25", "shadow 10.0.0.0/16", "private"),
        ("dc 10.0.64.0/20", "shadow 10.0.0.0/16", "private"),
        ("shadow-a 10.0.0.0/25", "web-a 10.0.0.0/24", "private"),
    }  # iso-vpc sits in scope `other`: it overlaps nothing there; a VPC never overlaps itself
    assert len(world.overlaps) == 5


def test_statuses(world):
    status = {(r.ref.name, r.ref.cidr): (r.scope, r.pool, r.management_status, r.compliance_status, r.overlap_status)
              for r in world.resources}
    assert status[("shadow", "10.0.0.0/16")] == ("private", None, "Unmanaged", "Unmanaged", "Overlapping")
    assert status[("shadow-a", "10.0.0.0/25")] == ("private", None, "Unmanaged", "Unmanaged", "Overlapping")
    assert status[("web", "10.0.0.0/20")] == ("private", "app", "Managed", "Compliant", "Overlapping")
    assert status[("web-b", "10.0.1.0/26")] == ("private", "app", "Managed", "Compliant", "Nonoverlapping")
    assert status[("web", "2408:4000::/56")] == ("public", "v6", "Managed", "Compliant", "Nonoverlapping")
    assert status[("web-a", "2408:4000:0:1::/64")] == ("public", "v6", "Managed", "Compliant", "Nonoverlapping")
    assert status[("bad", "10.0.32.0/25")] == ("private", "app", "Managed", "Noncompliant", "Overlapping")
    assert status[("edge", "10.2.0.0/24")] == ("private", "corp", "Managed", "Compliant", "Nonoverlapping")
    assert status[("iso-vpc", "10.0.0.0/20")] == ("other", "iso", "Managed", "Compliant", "Nonoverlapping")
    assert status[("dc", "10.0.64.0/20")] == ("private", "corp", "Managed", "Compliant", "Overlapping")
    assert [(r.ref.name, r.reason) for r in world.noncompliant] == [
        ("bad", "mask /25 is longer than the pool's max_mask /24")]
    shadow = next(r for r in world.resources if r.ref.name == "shadow")
    assert sorted((o.name, o.cidr) for o in shadow.overlaps_with) == [
        ("bad", "10.0.32.0/25"), ("dc", "10.0.64.0/20"), ("web", "10.0.0.0/20"), ("web", "10.0.16.0/24")]
    assert world.headline()["overlaps"] == 5 and world.headline()["noncompliant"] == 1
    assert world.headline()["overlapping_cidrs"] == 7  # shadow, shadow-a, web x2, bad, dc, web-a


@pytest.mark.parametrize("cidr, reason", [
    ("10.0.0.0/19", "mask /19 is shorter than the pool's min_mask /20"),
    ("10.0.64.0/22", "outside the pool's provisioned CIDRs"),
    ("10.0.0.0/24", None),
])
def test_allocation_rules(cidr, reason):
    report = build_report(state(pool("app", ["10.0.0.0/18"], rules=(20, 22, 24)), vpc("v", (cidr, "app"))))
    (row,) = report.resources
    assert row.reason == reason
    assert row.compliance_status == ("Noncompliant" if reason else "Compliant")


def test_discovery_merges_with_state():
    ids = {"app": "ipam-pool-app", "other": "ipam-scope-other"}
    found = [
        DiscoveredCidr("cn-hangzhou", "VPC", "vpc-web", "10.0.0.0/20", "vpc-web", ids["app"]),  # recorded too
        DiscoveredCidr("cn-hangzhou", "VPC", "vpc-oob", "10.0.40.0/24", "vpc-oob", ids["app"]),  # from the pool, out of band
        DiscoveredCidr("cn-hangzhou", "VSwitch", "vsw-oob", "10.0.40.0/26", "vpc-oob", ids["app"]),
        DiscoveredCidr("cn-hangzhou", "VPC", "vpc-alien", "10.0.0.0/20", "vpc-alien", "ipam-pool-unknown"),
        DiscoveredCidr("cn-hangzhou", "VPC", "vpc-plain", "10.0.0.0/16", "vpc-plain"),
        DiscoveredCidr("cn-hangzhou", "VPC", "vpc-free", "10.0.48.0/24", "vpc-free", None, ids["other"]),
    ]
    world = dict(WORLD)
    world.update(dict([vpc("imported", ("10.0.44.0/24", None))]))
    found.append(DiscoveredCidr("cn-hangzhou", "VPC", "vpc-imported", "10.0.44.0/24", "vpc-imported", ids["app"]))
    report = build_report(world, found)
    rows = {(r.ref.resource_id, r.ref.cidr): r for r in report.resources}
    assert rows[("vpc-web", "10.0.0.0/20")].source == "state+discovered"
    assert sum(r.ref.resource_id == "vpc-web" and r.ref.cidr == "10.0.0.0/20" for r in report.resources) == 1
    oob = rows[("vpc-oob", "10.0.40.0/24")]
    assert (oob.ref.name, oob.pool, oob.management_status, oob.compliance_status, oob.source) == \
        ("vpc-oob", "app", "Managed", "Compliant", "discovered")
    assert rows[("vsw-oob", "10.0.40.0/26")].pool == "app"
    alien = rows[("vpc-alien", "10.0.0.0/20")]
    assert (alien.pool, alien.pool_id, alien.management_status, alien.compliance_status, alien.scope) == \
        (None, "ipam-pool-unknown", "Managed", "Compliant", "private")
    assert rows[("vpc-plain", "10.0.0.0/16")].management_status == "Unmanaged"
    assert rows[("vpc-free", "10.0.48.0/24")].scope == "other"  # the scope discovery names
    imported = rows[("vpc-imported", "10.0.44.0/24")]
    assert (imported.pool, imported.management_status, imported.source) == ("app", "Managed", "state+discovered")
    app = next(p for p in report.pools if p.name == "app")
    assert app.allocated_to_resources == 4480 + 256 + 256 and app.free == 11904 - 512
    usage = {(u.resource_id, u.cidr): u for u in report.usage}
    assert usage[("vsw-oob", "10.0.40.0/26")].eni_addresses is None  # discovered only: no ENI figures
    assert usage[("vsw-oob", "10.0.40.0/26")].system_reserved == 4
    assert usage[("vpc-oob", "10.0.40.0/24")].used is None


def test_empty_state():
    report = build_report({})
    assert report.pools == report.usage == report.resources == report.overlaps == ()
    assert "0 pools" in render_text(report)
    assert to_document(report)["summary"]["pools"] == 0


def test_text_tables(world):
    text = render_text(world)
    assert text.splitlines()[0] == ("IPAM report: 4 pools, 12 resource CIDRs (10 managed, 2 unmanaged), 5 overlaps, "
                                    "1 noncompliant.")
    lines = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith("  ") and line.split()}
    assert lines["corp"][:9] == ["corp", "private", "10.0.0.0/16,", "10.2.0.0/24", "65,792", "16,384", "4,352",
                                 "4,096", "45,056"]
    assert lines["v6"][3:8] == ["2^80", "0", "2^72", "0", "255"]
    assert "Noncompliant: vpc.bad 10.0.32.0/25 in ipam_pool.app: mask /25 is longer than the pool's max_mask /24" in text


def test_json_document_shape(world):
    doc = to_document(world, {"status": "ok", "cidrs": 3})
    assert set(doc) == {"format_version", "generated_at", "discovery", "summary", "pools", "ip_usage",
                        "resource_cidrs", "overlaps"}
    assert doc["summary"] == {"pools": 4, "resource_cidrs": 12, "managed": 10, "unmanaged": 2, "noncompliant": 1,
                              "overlaps": 5, "overlapping_cidrs": 7}
    assert set(doc["pools"][0]) == {
        "address", "name", "id", "scope", "ip_version", "region", "source", "depth", "cidrs", "allocation_rules",
        "total", "allocated_to_resources", "custom_allocations", "allocated_to_sub_pools", "free", "utilization_pct",
        "largest_free_block", "source_utilization_pct", "allocations"}
    assert set(doc["ip_usage"][0]) == {
        "resource_type", "name", "resource_id", "vpc", "region", "cidr", "total", "eni_addresses", "prefix_addresses",
        "system_reserved", "vswitch_addresses", "used", "free", "usage_pct"}
    assert set(doc["resource_cidrs"][0]) == {
        "resource_type", "name", "resource_id", "region", "cidr", "vpc", "scope", "pool", "pool_id",
        "management_status", "compliance_status", "overlap_status", "noncompliance_reason", "overlaps_with", "source"}
    assert set(doc["overlaps"][0]) == {"scope", "a", "b"}
    v6 = next(p for p in doc["pools"] if p["name"] == "v6")
    assert v6["total"] == 2**80 and isinstance(v6["total"], int)
