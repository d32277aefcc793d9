"""Reading the cloud back, drift (changed, missing, unmanaged, .driftignore, exit codes), refresh and
plan --refresh: each situation is built in the sandbox with `ipamctl sandbox call` and checked through
the real CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from reconciler.cloud.sandbox import SandboxCloud
from reconciler.observe.drift import drift, parse_ignore
from reconciler.providers import alibaba_read
from reconciler.providers.alibaba_read import Observed, Unmanaged, read_all
from reconciler.states.local import LocalStateBackend
from tests.support.specs import BASE

pytestmark = pytest.mark.both_providers  # embedded, and through `sandbox serve` (tests/support/via.py)

COMPUTE = """\
vpcs:
  app: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}
vswitches:
  app-h: {vpc: app, zone: cn-hangzhou-h, cidr: {mask: 24}, prefix_reservations: [10.0.16.128/26]}
security_groups:
  sg: {vpc: app}
enis:
  pods: {vswitch: app-h, security_group: sg, ipv4_prefixes: {count: 2}}
"""


def _state(ws) -> dict:
    return json.loads((ws.root / "state" / "state.json").read_text())


def _ids(ws) -> dict:
    return {a: r["id"] for a, r in _state(ws)["resources"].items()}


def _cloud_rows(root: Path) -> list[tuple]:
    """What the sandbox database holds (its rows: a served database's file bytes also change when the
    server checkpoints its WAL, which changes nothing)."""
    conn = sqlite3.connect(f"file:{root / 'state' / 'sandbox.db'}?mode=ro", uri=True)
    try:
        return [*conn.execute("SELECT id, kind, data FROM resources ORDER BY id"),
                *conn.execute("SELECT action, token, response FROM tokens ORDER BY action, token")]
    finally:
        conn.close()


def test_every_record_of_the_example_reads_back_equal_with_paging(example, monkeypatch):
    example.run("apply", "--auto-approve", check=0)
    recorded = _state(example)["resources"]
    for name in ("PAGE_TOKEN", "PAGE_VPC", "PAGE_ECS"):  # one row a page: every list is followed page by page
        monkeypatch.setattr(alibaba_read, name, 1)
    cloud = SandboxCloud(example.root / "state" / "sandbox.db")
    try:
        observed = read_all(cloud, recorded)
    finally:
        cloud.close()
    assert observed.resources == recorded  # every type, ENI addresses, prefixes, reservations and their ids
    assert observed.unmanaged == () and observed.unresolved == {}
    assert observed.regions == ("cn-beijing", "cn-hangzhou", "cn-shanghai")
    out = example.run("drift", "--detailed-exitcode", check=0).stdout
    assert out.startswith("No drift. The cloud matches the recorded state")


def test_drift_reports_changed_missing_and_unmanaged_and_changes_nothing(ws):
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    ids = _ids(ws)
    # changed: a secondary block associated out of band
    assert ws.sandbox("AssociateVpcCidrBlock", VpcId=ids["vpc.prod"], SecondaryCidrBlock="172.16.0.0/16")[0] == 0
    # missing: a vSwitch deleted out of band
    assert ws.sandbox("DeleteVSwitch", VSwitchId=ids["vswitch.prod-h"])[0] == 0
    # unmanaged: a VPC, a vSwitch, a security group, an ENI, a custom allocation created out of band
    _, vpc = ws.sandbox("CreateVpc", RegionId="cn-shanghai", CidrBlock="192.168.0.0/16", VpcName="shadow")
    _, vsw = ws.sandbox("CreateVSwitch", VpcId=ids["vpc.prod"], ZoneId="cn-hangzhou-i", CidrBlock="10.0.5.0/24")
    _, sg = ws.sandbox("CreateSecurityGroup", RegionId="cn-hangzhou", VpcId=ids["vpc.prod"])
    _, eni = ws.sandbox("CreateNetworkInterface", RegionId="cn-hangzhou", VSwitchId=vsw["VSwitchId"],
                        SecurityGroupId=sg["SecurityGroupId"], PrimaryIpAddress="10.0.5.9")
    _, alloc = ws.sandbox("CreateIpamPoolAllocation", IpamPoolId=ids["ipam_pool.root"], Cidr="10.200.0.0/16")
    state_before = (ws.root / "state" / "state.json").read_bytes()
    db_before = _cloud_rows(ws.root)

    doc = ws.json("drift", check=0)
    assert doc["drift"] is True and doc["serial"] == _state(ws)["serial"]
    assert doc["changed"] == [{"address": "vpc.prod", "type": "vpc", "id": ids["vpc.prod"], "attributes": [{
        "attribute": "secondary_cidrs", "recorded": [], "observed": [{"pool": None, "cidr": "172.16.0.0/16"}],
        "added": [{"pool": None, "cidr": "172.16.0.0/16"}], "removed": []}]}]
    assert doc["missing"] == [{"address": "vswitch.prod-h", "type": "vswitch", "id": ids["vswitch.prod-h"]}]
    unmanaged = {u["id"]: u for u in doc["unmanaged"]}
    assert set(unmanaged) == {vpc["VpcId"], vsw["VSwitchId"], sg["SecurityGroupId"], eni["NetworkInterfaceId"],
                              alloc["IpamPoolAllocationId"]}
    assert unmanaged[vpc["VpcId"]] | {} == {"type": "vpc", "id": vpc["VpcId"], "region": "cn-shanghai",
                                            "cidrs": ["192.168.0.0/16"], "parent": None, "name": "shadow",
                                            "service_managed": False}
    assert unmanaged[vsw["VSwitchId"]]["parent"] == ids["vpc.prod"] and unmanaged[vsw["VSwitchId"]]["type"] == "vswitch"
    assert unmanaged[eni["NetworkInterfaceId"]]["cidrs"] == ["10.0.5.9"]
    assert unmanaged[alloc["IpamPoolAllocationId"]]["type"] == "ipam_pool_allocation"
    assert unmanaged[alloc["IpamPoolAllocationId"]]["cidrs"] == ["10.200.0.0/16"]
    assert doc["summary"] == {"changed": 1, "missing": 1, "unmanaged": 5, "service_managed": 0, "ignored": 0,
                              "other_workspaces": 0}

    assert ws.run("drift", "--detailed-exitcode").returncode == 2
    human = ws.run("drift", check=0).stdout  # without --detailed-exitcode drift exits 0
    assert f"  ~ vpc.prod ({ids['vpc.prod']}) changed in the cloud" in human
    assert "        secondary_cidrs: + {pool: null, cidr: 172.16.0.0/16}" in human
    assert f"  - vswitch.prod-h ({ids['vswitch.prod-h']}) is gone from the cloud" in human
    assert f"  ? vpc {vpc['VpcId']} (cn-shanghai) \"shadow\" 192.168.0.0/16 is not in the state" in human
    assert "Drift: 1 changed, 1 missing, 5 unmanaged." in human
    # drift changes neither the state nor the cloud
    assert (ws.root / "state" / "state.json").read_bytes() == state_before
    assert _cloud_rows(ws.root) == db_before

    # .driftignore silences chosen items: an address, an id, a glob; comments and blank lines are skipped
    (ws.root / ".driftignore").write_text(
        f"# known differences\nvpc.prod\n\n{vpc['VpcId']}   # the shadow VPC\n{vsw['VSwitchId']}\nsg-*\neni-*\n"
        "ipam-pool-alloc-*\n")
    doc = ws.json("drift", check=0)
    assert doc["changed"] == [] and doc["unmanaged"] == [] and len(doc["ignored"]) == 6
    assert [m["address"] for m in doc["missing"]] == ["vswitch.prod-h"]
    (ws.root / ".driftignore").write_text("vswitch.*\n" + (ws.root / ".driftignore").read_text())
    assert ws.run("drift", "--detailed-exitcode").returncode == 0
    assert "7 difference(s) ignored (.driftignore)." in ws.run("drift", check=0).stdout


def test_drift_of_eni_prefixes_and_service_managed_enis(ws):
    ws.write("main.yaml", BASE)
    ws.write("zz-compute.yaml", COMPUTE)  # declared after BASE
    ws.run("apply", "--auto-approve", check=0)
    ids = _ids(ws)
    pods = _state(ws)["resources"]["eni.pods"]["attributes"]
    assert pods["ipv4_prefixes"] == ["10.0.16.128/28", "10.0.16.144/28"]
    # an ENI a cloud service manages is reported apart and is not drift
    _, nlb = ws.sandbox("CreateNetworkInterface", RegionId="cn-hangzhou", VSwitchId=ids["vswitch.app-h"],
                        SecurityGroupId=ids["security_group.sg"], ServiceManaged="true", ServiceID="nlb")
    assert ws.run("drift", "--detailed-exitcode").returncode == 0
    doc = ws.json("drift", check=0)
    assert doc["drift"] is False and [u["id"] for u in doc["service_managed"]] == [nlb["NetworkInterfaceId"]]
    assert doc["service_managed"][0]["service_managed"] is True
    assert "Service-managed ENIs (read only, never changed; not drift):" in ws.run("drift", check=0).stdout
    # a prefix unassigned out of band
    rc, _ = ws.sandbox("UnassignPrivateIpAddresses", RegionId="cn-hangzhou", NetworkInterfaceId=ids["eni.pods"],
                       **{"Ipv4Prefix.1": "10.0.16.144/28"})
    assert rc == 0
    assert ws.run("drift", "--detailed-exitcode").returncode == 2
    doc = ws.json("drift", check=0)
    (changed,) = doc["changed"]
    assert changed["address"] == "eni.pods" and changed["attributes"][0]["attribute"] == "ipv4_prefixes"
    assert changed["attributes"][0]["removed"] == ["10.0.16.144/28"] and changed["attributes"][0]["added"] == []
    # plan --refresh plans from what was read: the prefix is assigned again; the recorded plan sees no change
    assert "No changes" in ws.run("plan", check=0).stdout
    refreshed = ws.json("plan", "--refresh")
    assert [(a["action"], a["address"], a["cidr"]) for a in refreshed["actions"]] == [
        ("assign", "eni.pods", "10.0.16.144/28")]
    assert nlb["NetworkInterfaceId"] not in json.dumps(refreshed["desired"])  # never proposed for change


def test_refresh_writes_the_cloud_into_the_state_under_the_lock(ws):
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    ids = _ids(ws)
    serial = _state(ws)["serial"]
    assert "nothing written" in ws.run("refresh", check=0).stdout and _state(ws)["serial"] == serial
    ws.sandbox("AssociateVpcCidrBlock", VpcId=ids["vpc.prod"], SecondaryCidrBlock="172.16.0.0/16")
    ws.sandbox("DeleteVSwitch", VSwitchId=ids["vswitch.prod-h"])
    _, shadow = ws.sandbox("CreateVpc", RegionId="cn-hangzhou", CidrBlock="192.168.0.0/16")
    before = (ws.root / "state" / "state.json").read_bytes()

    backend = LocalStateBackend(ws.root / "state")
    with backend.lock("test"):
        held = ws.run("refresh")
    assert held.returncode == 1 and "State.Locked" in held.stderr
    assert (ws.root / "state" / "state.json").read_bytes() == before

    out = ws.run("refresh", check=0).stdout
    assert f"  ~ vpc.prod ({ids['vpc.prod']}): secondary_cidrs" in out
    assert f"  - vswitch.prod-h ({ids['vswitch.prod-h']}): gone from the cloud, removed from the state" in out
    assert f"State serial {serial + 1}" in out and "1 unmanaged resource(s) are not recorded" in out
    after = _state(ws)
    assert after["serial"] == serial + 1 and "vswitch.prod-h" not in after["resources"]
    assert after["resources"]["vpc.prod"]["attributes"]["secondary_cidrs"] == [{"pool": None, "cidr": "172.16.0.0/16"}]
    assert shadow["VpcId"] not in json.dumps(after)  # unmanaged resources are never added
    assert (ws.root / "state" / "state.json.backup").read_bytes() == before  # the backend kept the previous one
    doc = ws.json("drift", check=0)
    assert doc["changed"] == [] and doc["missing"] == [] and [u["id"] for u in doc["unmanaged"]] == [shadow["VpcId"]]
    assert ws.json("refresh") == {"written": False, "serial": serial + 1, "changed": [], "removed": [],
                                  "unmanaged": doc["unmanaged"]}
    # the plan now puts back what the spec says: the vSwitch again, the out-of-band block released
    plan = ws.json("plan")
    assert {(a["action"], a["address"], a["cidr"]) for a in plan["actions"]} == {
        ("release", "vpc.prod", "172.16.0.0/16"), ("create", "vswitch.prod-h", "10.0.0.0/24")}


def test_drift_exits_1_on_error(ws):
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    (ws.root / "state" / "state.json").write_text("{not json")
    proc = ws.run("drift", "--detailed-exitcode")
    assert proc.returncode == 1 and "State.Corrupt" in proc.stderr
    proc = ws.run("drift", "--json")
    assert proc.returncode == 1 and json.loads(proc.stdout)["errors"][0]["code"] == "State.Corrupt"


def test_drift_is_pure_and_ignore_patterns_parse():
    recorded = {
        "vpc.a": {"type": "vpc", "name": "a", "id": "vpc-a", "attributes": {"region": "r", "description": None}},
        "vpc.b": {"type": "vpc", "name": "b", "id": "vpc-b", "attributes": {"region": "r"}},
        "vpc.c": {"type": "vpc", "name": "c", "id": None, "attributes": {}},  # never created: not compared
    }
    observed = Observed({"vpc.a": {**recorded["vpc.a"], "attributes": {"region": "r", "description": "x"}}},
                        (Unmanaged("vpc", "vpc-z", "r", ("10.0.0.0/8",)),
                         Unmanaged("eni", "eni-s", "r", (), "vpc-a", None, True)), ("r",))
    report = drift(recorded, observed)
    assert [c.address for c in report.changed] == ["vpc.a"] and [m.address for m in report.missing] == ["vpc.b"]
    assert report.changed[0].attributes[0].to_dict() == {"attribute": "description", "recorded": None,
                                                         "observed": "x", "added": [], "removed": []}
    assert [u.id for u in report.unmanaged] == ["vpc-z"] and [u.id for u in report.service_managed] == ["eni-s"]
    assert parse_ignore("# c\n vpc.a  # why\n\nvpc-*\n") == ("vpc.a", "vpc-*")
    quiet = drift(recorded, observed, parse_ignore("vpc.a\nvpc-b\nvpc-z\n"))
    assert not quiet.has_drift and quiet.ignored == ("vpc.a", "vpc.b", "vpc-z")


@pytest.mark.parametrize("command", ["drift", "refresh"])
def test_drift_and_refresh_on_a_fresh_workspace_create_nothing(ws, command, provider_via):
    ws.write("main.yaml", BASE)
    ws.run(command, check=0)
    state = ws.root / "state"
    assert not (state / "state.json").exists()
    assert not (state / "state.journal").exists()
    if provider_via == "embedded":  # (served, the server made its database before the command ran)
        assert not (state / "sandbox.db").exists()
        assert command == "refresh" or not state.exists()
