"""ENIs applied into the real sandbox: the cloud ends up with exactly the planned addresses, calls are
batched by ten, managed ENIs are read but never touched, and deletion runs unassign, detach, delete."""

from __future__ import annotations

import pytest

from reconciler.apply.execute import apply_plan
from reconciler.cloud.sandbox import SandboxCloud
from reconciler.planner import make_plan
from reconciler.providers.alibaba import ApiProvider
from reconciler.source.loader import load_specs
from reconciler.states.local import LocalStateBackend
from tests.support.specs import BASE

pytestmark = pytest.mark.both_providers  # embedded, and through `sandbox serve` (tests/support/via.py)

COMPUTE = """\
security_groups:
  sg: {vpc: prod, type: basic}
instances:
  web: {instance_type: ecs.g7.xlarge, vswitch: prod-h, security_group: sg, secondary_private_ips: {count: 2}}
enis:
  eth1: {vswitch: prod-h, security_group: sg, instance: web, ipv4_prefixes: {count: 12}, secondary_private_ips: [10.0.0.200]}
"""


class CountingClient:
    """The real sandbox, with a log of the calls made (to count batched calls)."""

    def __init__(self, cloud):
        self.cloud, self.calls = cloud, []

    def call(self, action, params):
        self.calls.append((action, dict(params)))
        return self.cloud.call(action, params)

    def close(self):
        self.cloud.close()


def _ws(tmp_path, *texts):
    (tmp_path / "specs").mkdir(exist_ok=True)
    for old in (tmp_path / "specs").glob("*.yaml"):
        old.unlink()
    for i, t in enumerate(texts):
        (tmp_path / "specs" / f"{i}.yaml").write_text(t)
    return load_specs(tmp_path / "specs")


def _apply(tmp_path, client, *texts):
    backend = LocalStateBackend(tmp_path / "state")
    state = backend.read()
    plan = make_plan(_ws(tmp_path, *texts), state.resources, lineage=state.lineage if state.serial else None,
                     serial=state.serial)
    with backend.transaction(state) as txn:
        result = apply_plan(plan, ApiProvider(client), txn, state)
        txn.commit()
    assert result.ok, result.error
    return plan, backend.read()


def _eni_row(cloud, eni_id):
    rows = cloud.call("DescribeNetworkInterfaces", {"RegionId": "cn-hangzhou", "NetworkInterfaceId.1": eni_id})
    return rows["NetworkInterfaceSets"]["NetworkInterfaceSet"][0]


def test_cloud_holds_exactly_the_planned_addresses_and_calls_are_batched(tmp_path):
    cloud = SandboxCloud(tmp_path / "sandbox.db")
    client = CountingClient(cloud)
    plan, state = _apply(tmp_path, client, BASE, COMPUTE)
    # one assign action per address or prefix in the plan ...
    prefixes = [a for a in plan.actions if a.address == "eni.eth1" and a.action.value == "assign" and "/28" in a.cidr]
    assert len(prefixes) == 12
    # ... carried by calls of at most ten
    calls = [p for action, p in client.calls if action == "AssignPrivateIpAddresses" and p["NetworkInterfaceId"] ==
             state.resources["eni.eth1"]["id"] and any(k.startswith("Ipv4Prefix.") for k in p)]
    assert [sum(k.startswith("Ipv4Prefix.") for k in p) for p in calls] == [10, 2]
    row = _eni_row(cloud, state.resources["eni.eth1"]["id"])
    planned = plan.desired["eni.eth1"]["attributes"]
    assert sorted(p["Ipv4Prefix"] for p in row["Ipv4PrefixSets"]["Ipv4PrefixSet"]) == sorted(planned["ipv4_prefixes"])
    assert row["PrivateIpAddress"] == planned["primary_ip"]
    assert row["Status"] == "InUse" and row["InstanceId"] == state.resources["instance.web"]["id"]
    primary = _eni_row(cloud, state.resources["eni.web-primary"]["id"])
    secondary = sorted(p["PrivateIpAddress"] for p in primary["PrivateIpSets"]["PrivateIpSet"] if not p["Primary"])
    assert secondary == plan.desired["eni.web-primary"]["attributes"]["secondary_private_ips"]
    again = make_plan(_ws(tmp_path, BASE, COMPUTE), state.resources, lineage=state.lineage, serial=state.serial)
    assert not again.has_changes
    cloud.close()


def test_removing_an_eni_unassigns_detaches_then_deletes(tmp_path):
    cloud = SandboxCloud(tmp_path / "sandbox.db")
    client = CountingClient(cloud)
    _, state = _apply(tmp_path, client, BASE, COMPUTE)
    eni_id = state.resources["eni.eth1"]["id"]
    client.calls.clear()
    without = COMPUTE.split("enis:")[0]
    plan, state = _apply(tmp_path, client, BASE, without)
    apis = [a for a, p in client.calls if p.get("NetworkInterfaceId") == eni_id]
    assert apis == ["UnassignPrivateIpAddresses", "UnassignPrivateIpAddresses", "UnassignPrivateIpAddresses",
                    "DetachNetworkInterface", "DeleteNetworkInterface"]
    assert "eni.eth1" not in state.resources
    cloud.close()


def test_managed_enis_are_read_never_changed(ws):
    ws.write("main.yaml", BASE)
    ws.write("compute.yaml", "security_groups:\n  sg: {vpc: prod}\n")
    ws.run("apply", "--auto-approve", check=0)
    res = ws.json("show")["resources"]
    vsw, sg = res["vswitch.prod-h"]["id"], res["security_group.sg"]["id"]
    rc, made = ws.sandbox("CreateNetworkInterface", RegionId="cn-hangzhou", VSwitchId=vsw, SecurityGroupId=sg,
                          SecondaryPrivateIpAddressCount="2", ServiceManaged="true", ServiceID="nlb")
    assert rc == 0
    eni_id = made["NetworkInterfaceId"]
    # the service's ENI took 10.0.0.1-3: a new ENI gets the next free addresses
    ws.write("compute.yaml", "security_groups:\n  sg: {vpc: prod}\n"
             f"enis:\n  lb: {{id: {eni_id}, managed: true}}\n  mine: {{vswitch: prod-h, security_group: sg}}\n")
    doc = ws.json("plan")
    assert [(a["action"], a["address"]) for a in doc["actions"]] == [("create", "eni.mine")]
    assert doc["actions"][0]["cidr"] == "10.0.0.4/32"
    # any change to the managed ENI is refused at plan time ...
    ws.write("compute.yaml", "security_groups:\n  sg: {vpc: prod}\n"
             f"enis:\n  lb: {{id: {eni_id}, managed: true, secondary_private_ips: {{count: 3}}}}\n")
    proc = ws.run("plan")
    assert proc.returncode == 1 and "InvalidOperation.EniServiceManaged" in proc.stderr
    # ... and by the sandbox on every write API
    rc, err = ws.sandbox("AssignPrivateIpAddresses", NetworkInterfaceId=eni_id, SecondaryPrivateIpAddressCount="1",
                         RegionId="cn-hangzhou")
    assert rc == 1 and err["Code"] == "InvalidOperation.EniServiceManaged" and err["HttpStatus"] == 403
    # an unknown id is reported as the cloud reports it
    ws.write("compute.yaml", "security_groups:\n  sg: {vpc: prod}\nenis:\n  lb: {id: eni-nope, managed: true}\n")
    proc = ws.run("plan")
    assert proc.returncode == 1 and "InvalidEniId.NotFound" in proc.stderr


def test_render_os_config_follows_the_guide(ws):
    ws.write("main.yaml", BASE)
    ws.write("compute.yaml", COMPUTE)
    ws.run("apply", "--auto-approve", check=0)
    rhel = ws.run("render-os-config", "eni.web-primary", "--os", "rhel", check=0).stdout
    assert "DEVICE=eth0:0\nTYPE=Ethernet\nBOOTPROTO=static\nONBOOT=yes\nIPADDR=10.0.0.2\nNETMASK=255.255.255.0\n" \
           "GATEWAY=10.0.0.253\n" in rhel and "ifcfg-eth0:1" in rhel
    debian = ws.run("render-os-config", "eni.eth1", "--os", "debian", check=0).stdout
    assert "auto eth1:0\niface eth1:0 inet static\naddress 10.0.0.200\nnetmask 255.255.255.0\ngateway 10.0.0.253\n" in debian
    sles = ws.run("render-os-config", "eni.web-primary", "--os", "sles", check=0).stdout
    assert "IPADDR_0=10.0.0.2\nNETMASK_0=24\nLABEL_0='0'\n" in sles and "IPADDR_1=10.0.0.3" in sles
    win = ws.run("render-os-config", "eni.eth1", "--os", "windows", check=0).stdout
    assert 'netsh interface ipv4 add address name="Ethernet" address=10.0.0.200 mask=255.255.255.0' in win
