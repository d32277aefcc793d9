"""Reservations on the PostgreSQL backend: shared by the workspaces of a schema, skipped by the other
workspaces' plans, atomic against a race, bound to one saved plan, expiring."""

from __future__ import annotations

import json
import time

import pytest

from reconciler.apply.reservations import check_held, reserve, reserved_blocks, store_of
from reconciler.errors import StateError
from reconciler.planner import make_plan
from tests.support.specs import BASE, converge, load

POOL_ID = "ipam-pool-shared0000000001"


def _recorded(tmp_path):
    """A state holding BASE's pools, hz-prod with the cloud id both workspaces know it by."""
    recorded = converge(make_plan(load(tmp_path, BASE.split("vpcs:")[0]), {}, lineage=None, serial=0))
    recorded["ipam_pool.hz-prod"]["id"] = POOL_ID
    return recorded


def test_reservations_are_shared_and_a_race_has_one_winner(pg_backends):
    a, b = store_of(pg_backends("team-a")), store_of(pg_backends("team-b"))
    assert a is not None and b is not None
    got = a.reserve("plan-a", [(POOL_ID, "10.0.0.0/20")], 3600)
    assert [(r.pool_id, r.cidr, r.workspace) for r in got] == [(POOL_ID, "10.0.0.0/20", "team-a")]
    assert [r.cidr for r in b.live(others_only=True)] == ["10.0.0.0/20"]
    assert a.live(others_only=True) == []
    with pytest.raises(StateError) as info:
        b.reserve("plan-b", [(POOL_ID, "10.0.8.0/22"), (POOL_ID, "10.0.64.0/20")], 3600)  # overlaps a's /20
    assert info.value.code == "Plan.ReservationConflict" and "team-a" in info.value.detail
    assert b.of_plan("plan-b") == []  # nothing of the refused plan was reserved
    assert b.reserve("plan-b", [(POOL_ID, "10.0.16.0/20")], 3600)[0].cidr == "10.0.16.0/20"
    assert a.release(plan="plan-a") == 1 and [r.workspace for r in b.live()] == ["team-b"]


def test_a_reservation_expires(pg_backends):
    a, b = store_of(pg_backends("team-a")), store_of(pg_backends("team-b"))
    a.reserve("plan-a", [(POOL_ID, "10.0.0.0/20")], 1)
    time.sleep(1.5)
    assert b.live() == []
    assert b.reserve("plan-b", [(POOL_ID, "10.0.0.0/20")], 60)  # the block is free again


def test_another_workspace_plans_around_it_and_a_lost_reservation_stops_the_apply(pg_backends, tmp_path):
    a, b = store_of(pg_backends("team-a")), store_of(pg_backends("team-b"))
    recorded = _recorded(tmp_path)
    doc = load(tmp_path, BASE)
    plan_a = make_plan(doc, recorded, lineage=None, serial=1)
    reserve(a, plan_a, recorded, "checksum-a", 3600)
    check_held(a, plan_a, recorded, "checksum-a")  # held: nothing raised
    seen = reserved_blocks(b, recorded)
    assert [(r.pool, str(r.cidr), r.workspace) for r in seen] == [("hz-prod", "10.0.0.0/20", "team-a")]
    plan_b = make_plan(load(tmp_path, BASE), recorded, lineage=None, serial=1, reserved=seen)
    vpc_b = next(x for x in plan_b.actions if x.address == "vpc.prod")
    assert vpc_b.cidr == "10.0.16.0/20" and "reserved by workspace team-a" in vpc_b.note
    a.release(plan="checksum-a")
    with pytest.raises(StateError) as info:
        check_held(a, plan_a, recorded, "checksum-a")
    assert info.value.code == "Plan.ReservationLost" and "10.0.0.0/20" in info.value.detail


def test_the_local_backend_has_no_reservations(tmp_path):
    from reconciler.states.local import LocalStateBackend

    assert store_of(LocalStateBackend(tmp_path / "state")) is None


def test_plan_out_reserves_apply_releases_and_a_lost_reservation_refuses(ws, pg_conninfo):
    """The real CLI: a saved plan's new VPC block in an existing pool is reserved; `reservations list`
    shows it; apply allocates it and releases the reservation; a plan whose reservation was released
    is refused before any call."""
    ws.write("main.yaml", BASE + f'backend:\n  type: postgres\n  workspace: team-a\n  conn_str: "{pg_conninfo}"\n')
    ws.run("apply", "--auto-approve", check=0)
    ws.write("more.yaml", "vpcs:\n  extra: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}\n")
    saved = ws.run("plan", "--out", "p.json", check=0).stdout
    assert "Reserved 1 block(s) for this plan" in saved
    listed = ws.json("reservations", "list")["reservations"]
    assert [(r["cidr"], r["workspace"]) for r in listed] == [("10.0.16.0/20", "team-a")]
    ws.run("reservations", "release", "--plan", listed[0]["plan"][:12], check=0)
    refused = ws.run("apply", "p.json")
    assert refused.returncode == 1 and "Plan.ReservationLost" in refused.stderr and "Traceback" not in refused.stderr
    ws.run("plan", "--out", "p2.json", check=0)
    ws.run("apply", "p2.json", check=0)
    assert ws.json("reservations", "list")["reservations"] == []
    assert "No changes." in ws.run("plan", check=0).stdout


def test_reservations_need_a_shared_backend(ws):
    ws.write("main.yaml", BASE)
    for args in (("plan", "--reserve"), ("reservations", "list")):
        proc = ws.run(*args)
        assert proc.returncode == 1 and "State.NoSharedBackend" in proc.stderr and "Traceback" not in proc.stderr


def test_two_workspaces_plan_from_one_pool_and_apply_in_either_order(tmp_path, pg_conninfo):
    """The issue's "done when": two workspaces on one PostgreSQL schema and one cloud (a served sandbox,
    through the SDKs), both drawing from one pool. Each saves a plan for a new VPC before either
    applies; the second plan skips the block the first reserved; applied in the reverse order, both
    succeed and the cloud holds two VPC blocks that do not overlap."""
    from tests.conftest import Workspace
    from tests.support.via import PROVIDER_FILE, serving

    pools = BASE.split("vpcs:")[0]
    network = Workspace(tmp_path / "network")
    with serving(network.root) as (server, creds):
        network.env = creds
        provider = (network.root / "specs" / PROVIDER_FILE).read_text()
        backend = f'backend:\n  type: postgres\n  workspace: {{name}}\n  conn_str: "{pg_conninfo}"\n'
        network.write("main.yaml", pools + backend.format(name="network"))
        network.run("apply", "--auto-approve", check=0)
        ids = {a: r["id"] for a, r in json.loads(network.run("state", "pull", check=0).stdout)["resources"].items()}

        payments = Workspace(tmp_path / "payments", creds)
        adopt = "".join(f"  {a}: {ids[a]}\n" for a in ("ipam.corp", "ipam_pool.root", "ipam_pool.hz", "ipam_pool.hz-prod"))
        payments.write("main.yaml", pools + backend.format(name="payments") + "import:\n" + adopt)
        payments.write(PROVIDER_FILE, provider)
        payments.run("apply", "--auto-approve", check=0)  # adopts the shared IPAM and pools

        vpc = "vpcs:\n  {name}: {{region: cn-hangzhou, ipv4: {{pool: hz-prod, mask: 20}}}}\n"
        network.write("vpc.yaml", vpc.format(name="core"))
        payments.write("vpc.yaml", vpc.format(name="pay"))
        first = network.run("plan", "--out", "p.json", check=0).stdout
        second = payments.run("plan", "--out", "p.json", check=0).stdout
        assert "Reserved 1 block(s)" in first and "Reserved 1 block(s)" in second
        assert "skipped 10.0.0.0/20 reserved by workspace network" in second
        payments.run("apply", "p.json", check=0)
        network.run("apply", "p.json", check=0)
        for ws in (network, payments):
            assert "No changes." in ws.run("plan", check=0).stdout
        got = server.call("ListIpamPoolAllocations", "2023-02-28", IpamPoolId=ids["ipam_pool.hz-prod"],
                          MaxResults=100)["IpamPoolAllocations"]
        blocks = sorted(a["Cidr"] for a in got if a["ResourceType"] == "VPC")
        assert blocks == ["10.0.0.0/20", "10.0.16.0/20"]
        assert network.json("reservations", "list")["reservations"] == []
