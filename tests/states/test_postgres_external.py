"""external_pools: a workspace drawing from a pool another workspace manages, on one PostgreSQL schema
and one cloud (a served sandbox, through the official SDKs). Real ``ipamctl`` processes throughout."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

from tests.support.specs import BASE
from tests.support.via import PROVIDER_FILE, serving

POOLS = BASE.split("vpcs:")[0]
BACKEND = 'backend:\n  type: postgres\n  workspace: {name}\n  conn_str: "{conn}"\n'
VPC = "  {name}: {{region: cn-hangzhou, ipv4: {{pool: hz-prod, mask: {mask}}}}}\n"
EXTERNAL = "external_pools:\n  hz-prod: {workspace: network, pool: hz-prod}\n"


@contextmanager
def two_workspaces(tmp_path: Path, conn: str):
    """``network`` (the IPAM, its pools and VPC prod, applied) and ``payments`` (no IPAM; hz-prod as an
    external pool of network's), one served cloud."""
    from tests.conftest import Workspace

    network = Workspace(tmp_path / "network")
    with serving(network.root) as (server, creds):
        network.env = creds
        network.write("main.yaml", BASE + BACKEND.format(name="network", conn=conn))
        network.run("apply", "--auto-approve", check=0)
        payments = Workspace(tmp_path / "payments", creds)
        payments.write(PROVIDER_FILE, (network.root / "specs" / PROVIDER_FILE).read_text())
        payments.write("main.yaml", EXTERNAL + BACKEND.format(name="payments", conn=conn))
        yield server, network, payments


def pool_id(ws) -> str:
    return json.loads(ws.run("state", "pull", check=0).stdout)["resources"]["ipam_pool.hz-prod"]["id"]


def vpc_blocks(server, pid: str) -> list[tuple[str, str]]:
    rows = server.call("ListIpamPoolAllocations", "2023-02-28", IpamPoolId=pid, MaxResults=100)["IpamPoolAllocations"]
    return sorted((r["Cidr"], r["ResourceId"]) for r in rows if r["ResourceType"] == "VPC")


def test_a_vpc_from_another_workspace_s_pool(tmp_path, pg_conninfo):
    with two_workspaces(tmp_path, pg_conninfo) as (server, network, payments):
        pid = pool_id(network)
        payments.write("vpc.yaml", "vpcs:\n" + VPC.format(name="pay", mask=20))
        plan = payments.json("plan")
        (create,) = plan["actions"]
        assert create["address"] == "vpc.pay" and plan["records"][create["after"]]["ipv4"] == {
            "pool": "hz-prod", "cidr": "10.0.16.0/20", "pool_id": pid}  # around network's vpc.prod (10.0.0.0/20)
        text = payments.run("plan", check=0).stdout
        assert f"external pool hz-prod ({pid}, managed by workspace network)" in text
        payments.run("apply", "--auto-approve", check=0)
        assert [c for c, _ in vpc_blocks(server, pid)] == ["10.0.0.0/20", "10.0.16.0/20"]
        # nothing left to do on either side, and no drift: the VPC reads back with its pool's id
        for ws in (network, payments):
            assert "No changes." in ws.run("plan", check=0).stdout
        drift = payments.run("drift", "--detailed-exitcode")
        assert drift.returncode == 0, drift.stdout + drift.stderr
        assert "Recorded by other workspaces of the shared backend (not drift):" in drift.stdout
        assert '"prod" 10.0.0.0/20: workspace network' in drift.stdout and pid not in drift.stdout
        # every other command reads the external block too (no traceback, nothing to change)
        for args in (("report",), ("report", "--html", "r.html"), ("policy",), ("graph",), ("state", "list"),
                     ("validate",), ("refresh",)):
            got = payments.run(*args)
            assert got.returncode == 0 and "Traceback" not in got.stderr, (args, got.stdout, got.stderr)
        assert "No changes." in payments.run("plan", "--refresh", check=0).stdout
        assert "vpc.pay" in payments.run("report", check=0).stdout
        # the pool is network's: payments never plans on it, and removing the VPC releases only its block
        payments.remove("vpc.yaml")
        gone = payments.json("plan")["actions"]
        assert [(a["address"], a["action"]) for a in gone] == [("vpc.pay", "delete")]
        payments.run("apply", "--auto-approve", check=0)
        assert [c for c, _ in vpc_blocks(server, pid)] == ["10.0.0.0/20"]


def test_by_cloud_id_from_a_local_workspace(tmp_path, pg_conninfo):
    """A workspace on the local backend names the pool by its cloud id and plans around every allocation
    the cloud lists in it; the pool's allocation rules (from the cloud) apply."""
    from tests.conftest import Workspace

    with two_workspaces(tmp_path, pg_conninfo) as (server, network, payments):
        pid = pool_id(network)
        payments.write("vpc.yaml", "vpcs:\n" + VPC.format(name="pay", mask=20))
        payments.run("apply", "--auto-approve", check=0)
        legacy = Workspace(tmp_path / "legacy", payments.env)
        legacy.write(PROVIDER_FILE, (network.root / "specs" / PROVIDER_FILE).read_text())
        legacy.write("main.yaml", f"external_pools:\n  shared: {{id: {pid}}}\nvpcs:\n"
                     "  old: {region: cn-hangzhou, ipv4: {pool: shared}}\n"  # the pool's default mask, /20
                     "  tiny: {region: cn-hangzhou, ipv4: {pool: shared, mask: 25}}\n")
        refused = legacy.run("plan")
        assert refused.returncode == 1 and "OperationDenied.MaskOfCidrIsNotAllowed" in refused.stderr
        assert "specs/main.yaml:5" in refused.stderr and "Traceback" not in refused.stderr
        legacy.write("main.yaml", f"external_pools:\n  shared: {{id: {pid}}}\nvpcs:\n"
                     "  old: {region: cn-hangzhou, ipv4: {pool: shared}}\n")
        legacy.run("apply", "--auto-approve", check=0)
        assert [c for c, _ in vpc_blocks(server, pid)] == ["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"]
        assert "No changes." in legacy.run("plan", check=0).stdout


def test_four_applies_in_two_workspaces_interleaved_never_collide(tmp_path, pg_conninfo):
    """Plans and applies of two workspaces drawing from one pool, interleaved: each saves a plan before
    the other applies, applies land in the other order; 0 double allocations, every plan afterwards empty."""
    with two_workspaces(tmp_path, pg_conninfo) as (server, network, payments):
        pid = pool_id(network)
        for round_ in range(2):
            network.write(f"r{round_}.yaml", "vpcs:\n" + VPC.format(name=f"core-{round_}", mask=20))
            payments.write(f"r{round_}.yaml", "vpcs:\n" + VPC.format(name=f"pay-{round_}", mask=19))
            first, second = (network, payments) if round_ == 0 else (payments, network)
            assert "Reserved 1 block(s)" in first.run("plan", "--out", "p.json", check=0).stdout
            assert "Reserved 1 block(s)" in second.run("plan", "--out", "p.json", check=0).stdout
            second.run("apply", "p.json", check=0)
            first.run("apply", "p.json", check=0)
        blocks = vpc_blocks(server, pid)
        assert len(blocks) == 5  # prod and the four new VPCs
        cidrs = [c for c, _ in blocks]
        from reconciler.net.cidr import Cidr

        parsed = [Cidr.parse(c) for c in cidrs]
        assert not [(a, b) for i, a in enumerate(parsed) for b in parsed[i + 1:] if a.overlaps(b)]
        for ws in (network, payments):
            assert "No changes." in ws.run("plan", check=0).stdout
            assert ws.json("reservations", "list")["reservations"] == []


def test_refusals_name_file_line_and_rule(tmp_path, pg_conninfo):
    with two_workspaces(tmp_path, pg_conninfo) as (server, network, payments):
        payments.write("main.yaml", "external_pools:\n  hz-prod: {workspace: network, pool: hz-dev}\n"
                       + BACKEND.format(name="payments", conn=pg_conninfo) + "vpcs:\n" + VPC.format(name="p", mask=20))
        got = payments.run("plan")
        assert got.returncode == 1 and "ExternalPool.NotFound" in got.stderr and "specs/main.yaml:2" in got.stderr
        assert "workspace network records no ipam_pool.hz-dev" in got.stderr and "Traceback" not in got.stderr
        payments.write("main.yaml", "external_pools:\n  hz-prod: {workspace: payments, pool: hz-prod}\n"
                       + BACKEND.format(name="payments", conn=pg_conninfo))
        got = payments.run("plan")
        assert got.returncode == 1 and "ExternalPool.SameWorkspace" in got.stderr
        payments.write("main.yaml", "external_pools:\n  x: {workspace: network, pool: hz-prod, id: ipam-pool-abc}\n"
                       + BACKEND.format(name="payments", conn=pg_conninfo))
        got = payments.run("plan")
        assert got.returncode == 1 and "Spec.ExternalPool" in got.stderr and "specs/main.yaml:2" in got.stderr
        network.write("ext.yaml", "external_pools:\n  hz-prod: {id: ipam-pool-abc}\n")
        got = network.run("plan")
        assert got.returncode == 1 and "Spec.ExternalPoolName" in got.stderr and "ext.yaml:2" in got.stderr
        network.remove("ext.yaml")
        (payments.root / "specs" / "main.yaml").write_text(EXTERNAL)  # the local backend
        got = payments.run("plan")
        assert got.returncode == 1 and "State.NoSharedBackend" in got.stderr and "Traceback" not in got.stderr
