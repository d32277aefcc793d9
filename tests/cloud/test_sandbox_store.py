"""The sandbox's persistence and call semantics: SQLite reopen, one transaction per write, rollback
of failed calls, ClientToken replay, DryRun, and the interval search behind free-space lookups."""

from __future__ import annotations

import sqlite3
import time

import pytest

from reconciler.cloud.sandbox import SandboxCloud
from reconciler.cloud.space import IntervalSet, first_free, is_free
from reconciler.errors import CloudError
from reconciler.net.cidr import Cidr
from tests.support.sandbox import refused

HZ = "cn-hangzhou"


def build(cloud):
    """IPAM, a 10.0.0.0/8 pool in Hangzhou, a sub-pool, an allocation, a VPC and a vSwitch."""
    ipam = cloud.call("CreateIpam", {"RegionId": HZ})
    scope = ipam["PrivateDefaultScopeId"]
    top = cloud.call("CreateIpamPool", {"IpamScopeId": scope, "PoolRegionId": HZ})["IpamPoolId"]
    cloud.call("AddIpamPoolCidr", {"IpamPoolId": top, "Cidr": "10.0.0.0/8"})
    sub = cloud.call("CreateIpamPool", {"IpamScopeId": scope, "SourceIpamPoolId": top})["IpamPoolId"]
    cloud.call("AddIpamPoolCidr", {"IpamPoolId": sub, "NetmaskLength": 16})
    cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": top, "CidrMask": 16})
    vpc = cloud.call("CreateVpc", {"RegionId": HZ, "Ipv4IpamPoolId": sub, "Ipv4CidrMask": 20})["VpcId"]
    cloud.call("CreateVSwitch", {"VpcId": vpc, "ZoneId": "cn-hangzhou-h", "CidrBlock": "10.0.0.0/24"})
    return {"ipam": ipam["IpamId"], "scope": scope, "top": top, "sub": sub, "vpc": vpc}


def snapshot(cloud):
    reads = [("ListIpams", {}), ("ListIpamScopes", {}), ("ListIpamPools", {}),
             ("ListIpamPoolAllocations", {}), ("DescribeVpcs", {}), ("DescribeVSwitches", {})]
    out = []
    for action, params in reads:
        body = cloud.call(action, {**params, "MaxResults": 100, "PageSize": 50})
        body.pop("RequestId")
        out.append(body)
    return out


# ---- persistence ----------------------------------------------------------------------------
def test_reopen_sees_everything(tmp_path):
    path = tmp_path / "cloud.db"
    with SandboxCloud(path) as cloud:
        ids = build(cloud)
        before = snapshot(cloud)
    with SandboxCloud(path) as cloud:
        assert snapshot(cloud) == before
        # the free-space indexes were rebuilt too
        assert cloud.call("GetIpamPoolNextAvailableCidr", {"IpamPoolId": ids["top"], "CidrMask": 16})["CidrBlock"] == "10.2.0.0/16"
        refused(cloud, "InvalidCidrBlock.Overlapped", "CreateVSwitch",
                {"VpcId": ids["vpc"], "ZoneId": "cn-hangzhou-h", "CidrBlock": "10.0.0.0/25"})
        refused(cloud, "QuotaExceeded.Ipam", "CreateIpam", {"RegionId": HZ})


def test_id_sequence_survives_reopen(tmp_path):
    with SandboxCloud(tmp_path / "a.db") as cloud:
        build(cloud)
    with SandboxCloud(tmp_path / "a.db") as cloud:
        after_reopen = cloud.call("CreateVpc", {"RegionId": HZ, "CidrBlock": "10.0.0.0/16"})["VpcId"]
    with SandboxCloud(tmp_path / "b.db") as cloud:
        build(cloud)
        straight = cloud.call("CreateVpc", {"RegionId": HZ, "CidrBlock": "10.0.0.0/16"})["VpcId"]
    assert after_reopen == straight


def test_in_memory_sandbox_and_wal_file(tmp_path):
    with SandboxCloud() as cloud:
        build(cloud)
        assert cloud.call("ListIpamPools")["TotalCount"] == 2
    path = tmp_path / "cloud.db"
    with SandboxCloud(path) as cloud:
        build(cloud)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"resources", "tokens", "meta"} <= tables
    kinds = dict(conn.execute("SELECT kind, COUNT(*) FROM resources GROUP BY kind"))
    assert kinds == {"ipam": 1, "ipam_scope": 2, "ipam_pool": 2, "ipam_pool_allocation": 3, "vpc": 1, "vswitch": 1}
    conn.close()


def test_a_write_touches_only_its_own_rows(tmp_path):
    with SandboxCloud(tmp_path / "cloud.db") as cloud:
        ids = build(cloud)
        conn = cloud.store.conn
        before = conn.total_changes
        cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": ids["top"], "CidrMask": 24})
        assert conn.total_changes - before == 2  # the allocation row and the sequence number
        before = conn.total_changes
        cloud.call("ListIpamPools")
        assert conn.total_changes == before


def test_closed_sandbox_refuses_calls(tmp_path):
    cloud = SandboxCloud(tmp_path / "cloud.db")
    cloud.close()
    with pytest.raises(RuntimeError):
        cloud.call("ListIpams")


# ---- atomicity ------------------------------------------------------------------------------
def test_a_failed_call_leaves_nothing_half_done(tmp_path):
    path = tmp_path / "cloud.db"
    with SandboxCloud(path) as cloud:
        ids = build(cloud)
        cloud.call("AssociateVpcCidrBlock", {"VpcId": ids["vpc"], "IpamPoolId": ids["top"], "SecondaryCidrMask": 16})
        before = snapshot(cloud)
        # The IPv4 half is valid and is applied first; the IPv6 half fails: nothing may stay.
        refused(cloud, "InvalidCidrBlock.NotFound", "UnassociateVpcCidrBlock",
                {"VpcId": ids["vpc"], "SecondaryCidrBlock": "10.2.0.0/16", "IPv6CidrBlock": "2408:8000::/56"}, 404)
        assert snapshot(cloud) == before
        assert cloud.call("GetIpamPoolNextAvailableCidr", {"IpamPoolId": ids["top"], "CidrMask": 16})["CidrBlock"] == "10.3.0.0/16"
    with SandboxCloud(path) as cloud:
        assert snapshot(cloud) == before


# ---- ClientToken ------------------------------------------------------------------------------
def test_client_token_replays_the_first_response(tmp_path):
    path = tmp_path / "cloud.db"
    with SandboxCloud(path) as cloud:
        ids = build(cloud)
        ask = {"IpamPoolId": ids["top"], "CidrMask": 24, "ClientToken": "tok-1"}
        first = cloud.call("CreateIpamPoolAllocation", ask)
        assert cloud.call("CreateIpamPoolAllocation", ask) == first  # RequestId included
        count = cloud.call("ListIpamPoolAllocations", {"IpamPoolId": ids["top"]})["TotalCount"]
        assert count == 3
    with SandboxCloud(path) as cloud:
        assert cloud.call("CreateIpamPoolAllocation", ask) == first
        assert cloud.call("ListIpamPoolAllocations", {"IpamPoolId": ids["top"]})["TotalCount"] == 3
        # the same token on another action is another request
        got = cloud.call("CreateVpc", {"RegionId": HZ, "CidrBlock": "10.0.0.0/16", "ClientToken": "tok-1"})
        assert got["VpcId"].startswith("vpc-")


def test_a_failed_call_stores_no_token(tmp_path):
    with SandboxCloud(tmp_path / "cloud.db") as cloud:
        ids = build(cloud)
        ask = {"IpamPoolId": ids["top"], "Cidr": "10.200.0.0/16", "ClientToken": "tok-2"}
        cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": ids["top"], "Cidr": "10.200.0.0/16"})
        refused(cloud, "OperationDenied.CidrUnavailableInPool", "CreateIpamPoolAllocation", ask)
        alloc = cloud.call("ListIpamPoolAllocations", {"IpamPoolId": ids["top"], "Cidr": "10.200.0.0/16"})
        cloud.call("DeleteIpamPoolAllocation",
                   {"IpamPoolAllocationId": alloc["IpamPoolAllocations"][0]["IpamPoolAllocationId"]})
        assert cloud.call("CreateIpamPoolAllocation", ask)["Cidr"] == "10.200.0.0/16"


def test_deletes_replay_too(tmp_path):
    with SandboxCloud(tmp_path / "cloud.db") as cloud:
        vpc = cloud.call("CreateVpc", {"RegionId": HZ, "CidrBlock": "10.0.0.0/16"})["VpcId"]
        first = cloud.call("DeleteVpc", {"VpcId": vpc, "ClientToken": "del"})
        assert cloud.call("DeleteVpc", {"VpcId": vpc, "ClientToken": "del"}) == first
        refused(cloud, "InvalidVpcId.NotFound", "DeleteVpc", {"VpcId": vpc}, 404)


# ---- DryRun -----------------------------------------------------------------------------------
def test_dry_run_checks_everything_and_changes_nothing(tmp_path):
    with SandboxCloud(tmp_path / "a.db") as cloud, SandboxCloud(tmp_path / "b.db") as twin:
        ids = build(cloud)
        build(twin)
        before = snapshot(cloud)
        refused(cloud, "DryRunOperation", "CreateVpc",
                {"RegionId": HZ, "Ipv4IpamPoolId": ids["sub"], "Ipv4CidrMask": 20, "DryRun": "true"})
        refused(cloud, "OperationDenied.IpamPoolAllocationExist", "DeleteIpamPoolCidr",
                {"IpamPoolId": ids["sub"], "Cidr": "10.0.0.0/16", "DryRun": True})
        refused(cloud, "DryRunOperation", "CreateIpamScope", {"IpamId": ids["ipam"], "DryRun": "True",
                                                              "ClientToken": "dry"})
        assert snapshot(cloud) == before
        # no id was used up, and the token was not stored
        made = cloud.call("CreateIpamScope", {"IpamId": ids["ipam"], "ClientToken": "dry"})
        assert made["IpamScopeId"] == twin.call("CreateIpamScope", {"IpamId": ids["ipam"]})["IpamScopeId"]
        refused(cloud, "DryRunOperation", "DeleteIpamScope", {"IpamScopeId": made["IpamScopeId"], "DryRun": "true"})
        cloud.call("DeleteIpamScope", {"IpamScopeId": made["IpamScopeId"], "DryRun": "false"})


def test_reads_ignore_dry_run_and_tokens(tmp_path):
    with SandboxCloud(tmp_path / "cloud.db") as cloud:
        build(cloud)
        assert cloud.call("ListIpams", {"DryRun": "true", "ClientToken": "x"})["TotalCount"] == 1


def test_parameter_helpers():
    from reconciler.cloud.sandbox import Request
    from reconciler.cloud.store import Store

    store = Store()
    req = Request(None, store, "X", {"N": " 7 ", "B": "TRUE", "L.2": "b", "L.1": "a", "E": ""})
    assert req.integer("N", lo=0, hi=9) == 7 and req.flag("B") is True and req.items("L") == ["a", "b"]
    assert req.text("E") is None and req.integer("Absent") is None and req.flag("Absent", True) is True
    with pytest.raises(CloudError) as info:
        req.integer("Absent", required=True)
    assert info.value.code == "MissingParameter.Absent"
    with pytest.raises(CloudError) as info:
        req.integer("N", lo=8)
    assert info.value.code == "InvalidParameter.N"
    store.close()


# ---- free-space search ------------------------------------------------------------------------
def test_interval_set_overlap_queries():
    taken = IntervalSet()
    for start, end, owner in ((10, 19, "a"), (30, 39, "b"), (50, 99, "c")):
        taken.add(start, end, owner)
    assert [h[2] for h in taken.overlapping(15, 55)] == ["c", "b", "a"]
    assert taken.overlapping(20, 29) == [] and taken.last_end_over(0, 10) == 19
    with pytest.raises(AssertionError):
        taken.add(35, 40, "d")
    taken.remove(30, "b")
    assert taken.overlapping(20, 49) == []


def test_first_free_is_aligned_and_lowest():
    block = Cidr.parse("10.0.0.0/16")
    taken = IntervalSet()
    taken.add(Cidr.parse("10.0.0.0/24").start, Cidr.parse("10.0.0.0/24").end, "x")
    taken.add(Cidr.parse("10.0.3.0/24").start, Cidr.parse("10.0.3.0/24").end, "y")
    assert str(first_free([block], 24, taken)) == "10.0.1.0/24"
    assert str(first_free([block], 23, taken)) == "10.0.4.0/23"
    assert str(first_free([block], 22, taken)) == "10.0.4.0/22"
    assert first_free([block], 15, taken) is None
    assert is_free(Cidr.parse("10.0.2.0/24"), taken) and not is_free(Cidr.parse("10.0.2.0/23"), taken)


def test_ipv6_search_never_enumerates():
    supply = Cidr.parse("2408:4000::/32")
    taken = IntervalSet()
    # every other /56 of the first 20,000 is taken; the /32 holds 2**24 of them
    for i in range(0, 40_000, 2):
        block = supply.subnet(56, i)
        taken.add(block.start, block.end, f"a{i}")
    started = time.perf_counter()
    assert first_free([supply], 56, taken) == supply.subnet(56, 1)
    assert first_free([supply], 55, taken) == supply.subnet(55, 20_000)
    assert first_free([supply], 64, taken) == supply.subnet(64, 256)
    assert first_free([Cidr.parse("::/0")], 128, IntervalSet()) == Cidr.parse("::/128")
    assert time.perf_counter() - started < 1.0


def test_many_allocations_stay_fast():
    with SandboxCloud() as cloud:
        ids = build(cloud)
        started = time.perf_counter()
        for _ in range(3000):
            cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": ids["top"], "CidrMask": 28})
        assert time.perf_counter() - started < 30
        last = cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": ids["top"], "CidrMask": 28})
        assert last["Cidr"] == "10.2.187.128/28"


def test_runs_coalesce_and_split():
    taken = IntervalSet()
    for start in (0, 10, 20, 30):
        taken.add(start, start + 9, f"r{start}")
    assert taken.last_end_over(0, 0) == 39  # one run
    assert first_free([Cidr.of(4, 0, 24)], 30, taken) == Cidr.of(4, 40, 30)
    taken.remove(10, "r10")
    assert taken.last_end_over(10, 19) is None and taken.last_end_over(0, 5) == 9
    assert taken.last_end_over(25, 25) == 39
    assert first_free([Cidr.of(4, 0, 24)], 30, taken) == Cidr.of(4, 12, 30)
    taken.add(10, 19, "again")
    assert taken.last_end_over(0, 0) == 39
    taken.remove(0, "r0")
    taken.remove(30, "r30")
    assert taken.last_end_over(0, 9) is None and taken.last_end_over(30, 40) is None
    assert taken.last_end_over(15, 15) == 29
