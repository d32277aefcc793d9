"""Import: `ipamctl import ADDRESS ID` and `import:` blocks adopt resources built out of band with
`ipamctl sandbox call` (VPC, vSwitch, ENI, custom allocation, pool, scope, security group, IPAM) without
recreating or renumbering them; plan afterwards shows no change when the spec matches."""

from __future__ import annotations

import pytest

import json

from tests.support.specs import BASE

pytestmark = pytest.mark.both_providers  # embedded, and through `sandbox serve` (tests/support/via.py)

LEGACY = """\
vpcs:
  legacy: {region: cn-hangzhou, ipv4: {cidr: 192.168.0.0/16}}
vswitches:
  legacy-h: {vpc: legacy, zone: cn-hangzhou-h, cidr: {mask: 24}}
"""


def _state(ws) -> dict:
    return json.loads((ws.root / "state" / "state.json").read_text())


def _ids(ws) -> dict:
    return {a: r["id"] for a, r in _state(ws)["resources"].items()}


def _call(ws, action: str, **params) -> dict:
    rc, resp = ws.sandbox(action, **params)
    assert rc == 0, resp
    return resp


def _legacy(ws) -> tuple[str, str]:
    """A VPC and a vSwitch made without ipamctl (the vSwitch on the second /24, not the lowest free one)."""
    vpc = _call(ws, "CreateVpc", RegionId="cn-hangzhou", CidrBlock="192.168.0.0/16")["VpcId"]
    vsw = _call(ws, "CreateVSwitch", VpcId=vpc, ZoneId="cn-hangzhou-h", CidrBlock="192.168.1.0/24")["VSwitchId"]
    return vpc, vsw


def _fails(ws, *args) -> str:
    proc = ws.run(*args)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return proc.stderr


def test_import_command_adopts_vpc_and_vswitch_without_renumbering(ws):
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    vpc, vsw = _legacy(ws)
    ws.write("legacy.yaml", LEGACY)
    serial = _state(ws)["serial"]
    # what a resource refers to must be in the state first
    assert f"Import.UnknownReference: {vsw} refers to {vpc}" in _fails(ws, "import", "vswitch.legacy-h", vsw)
    assert _state(ws)["serial"] == serial
    out = ws.run("import", "vpc.legacy", vpc, check=0).stdout
    assert f"Imported vpc.legacy ({vpc})." in out and f"State serial {serial + 1}." in out
    doc = ws.json("import", "vswitch.legacy-h", vsw)
    assert doc["serial"] == serial + 2
    assert doc["imported"]["vswitch.legacy-h"]["attributes"] == {
        "vpc": "legacy", "zone": "cn-hangzhou-h", "cidr": "192.168.1.0/24", "ipv6_cidr": None,
        "prefix_reservations": [], "description": None}
    # {mask: 24} keeps the imported 192.168.1.0/24: no replacement, nothing to do
    assert "No changes" in ws.run("plan", check=0).stdout
    assert "already in the state" in ws.run("import", "vpc.legacy", vpc, check=0).stdout
    assert _state(ws)["serial"] == serial + 2
    # refusals, none of which touches the state
    ids = _ids(ws)
    ws.write("spare.yaml", "vpcs:\n  spare: {region: cn-hangzhou, ipv4: {cidr: 172.16.0.0/16}}\n")
    assert "Import.AddressTaken: the state already holds vpc.legacy" in _fails(ws, "import", "vpc.legacy", "vpc-other")
    assert f"Import.AlreadyManaged: {ids['vpc.prod']} is already in the state as vpc.prod" in _fails(
        ws, "import", "vpc.spare", ids["vpc.prod"])
    assert "Import.NotInSpec: vpc.nope is not declared in the specs" in _fails(ws, "import", "vpc.nope", "vpc-x")
    assert "Import.NotFound: vpc-doesnotexist was not found in the cloud" in _fails(
        ws, "import", "vpc.spare", "vpc-doesnotexist")
    other = _call(ws, "CreateVSwitch", VpcId=vpc, ZoneId="cn-hangzhou-i", CidrBlock="192.168.2.0/24")["VSwitchId"]
    assert f"Import.TypeMismatch: {other} is a vswitch, not a vpc" in _fails(ws, "import", "vpc.spare", other)
    assert "Import.NotImportable: instance resources cannot be imported" in _fails(ws, "import", "instance.web", "i-1")
    assert "Import.NotImportable: ipam_scope.private is a default scope" in _fails(
        ws, "import", "ipam_scope.private", "ipam-scope-1")
    assert "Import.InvalidAddress" in _fails(ws, "import", "legacy", vpc)
    assert _state(ws)["serial"] == serial + 2


def test_import_pool_scope_allocation_security_group_and_eni(ws):
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    ids = _ids(ws)
    scope = _call(ws, "CreateIpamScope", IpamId=ids["ipam.corp"], IpamScopeName="acq")["IpamScopeId"]
    pool = _call(ws, "CreateIpamPool", IpamScopeId=scope, IpVersion="IPv4", IpamPoolName="acq-root")["IpamPoolId"]
    _call(ws, "AddIpamPoolCidr", IpamPoolId=pool, Cidr="172.16.0.0/12")
    alloc = _call(ws, "CreateIpamPoolAllocation", IpamPoolId=pool, Cidr="172.16.0.0/16",
                  IpamPoolAllocationName="dc")["IpamPoolAllocationId"]
    sg = _call(ws, "CreateSecurityGroup", RegionId="cn-hangzhou", VpcId=ids["vpc.prod"])["SecurityGroupId"]
    eni = _call(ws, "CreateNetworkInterface", RegionId="cn-hangzhou", VSwitchId=ids["vswitch.prod-h"],
                SecurityGroupId=sg, PrimaryIpAddress="10.0.0.100", **{"PrivateIpAddress.1": "10.0.0.101"})
    nlb = _call(ws, "CreateNetworkInterface", RegionId="cn-hangzhou", VSwitchId=ids["vswitch.prod-h"],
                SecurityGroupId=sg, ServiceManaged="true", ServiceID="nlb")
    ws.write("adopted.yaml", """\
scopes:
  acq: {}
pools:
  acq-root: {scope: acq, cidrs: [172.16.0.0/12]}
allocations:
  acq-dc: {pool: acq-root, cidr: 172.16.0.0/16}
security_groups:
  legacy-sg: {vpc: prod}
enis:
  legacy-eni: {vswitch: prod-h, security_group: legacy-sg, primary_ip: 10.0.0.100, secondary_private_ips: [10.0.0.101]}
  nlb: {vswitch: prod-h, security_group: legacy-sg}
""")
    assert f"Import.UnknownReference: {pool} refers to {scope}" in _fails(ws, "import", "ipam_pool.acq-root", pool)
    for address, rid in (("ipam_scope.acq", scope), ("ipam_pool.acq-root", pool), ("ipam_pool_allocation.acq-dc", alloc),
                         ("security_group.legacy-sg", sg), ("eni.legacy-eni", eni["NetworkInterfaceId"])):
        ws.run("import", address, rid, check=0)
    recorded = _state(ws)["resources"]
    assert recorded["ipam_pool.acq-root"]["attributes"]["cidrs"] == ["172.16.0.0/12"]
    assert recorded["eni.legacy-eni"]["attributes"]["secondary_private_ips"] == ["10.0.0.101"]
    assert "Import.NotImportable" not in (err := _fails(ws, "import", "eni.nlb", nlb["NetworkInterfaceId"]))
    assert "InvalidOperation.EniServiceManaged" in err
    ws.write("adopted.yaml", (ws.root / "specs" / "adopted.yaml").read_text().replace(
        "  nlb: {vswitch: prod-h, security_group: legacy-sg}\n", ""))
    assert "No changes" in ws.run("plan", check=0).stdout


def test_import_block_is_planned_and_applied(ws):
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    vpc, vsw = _legacy(ws)
    ws.write("legacy.yaml", LEGACY + "  legacy-i: {vpc: legacy, zone: cn-hangzhou-i, cidr: {mask: 24}}\n"
             f"import:\n  vpc.legacy: {vpc}\n  vswitch.legacy-h: {vsw}\n")
    out = ws.run("plan", check=0).stdout
    assert f"  <=  vpc.legacy will be imported ({vpc})" in out
    assert f"  <=  vswitch.legacy-h will be imported ({vsw})" in out
    lines = [line.split() for line in out.splitlines() if line.strip()[:2] in ("1 ", "2 ", "3 ")]
    assert lines[0][:4] == ["1", "<=", "import", "vpc.legacy"] and lines[1][:4] == ["2", "<=", "import", "vswitch.legacy-h"]
    # the imported vSwitch keeps 192.168.1.0/24, so the new one gets the lowest free /24 beside it
    assert "+ create      vswitch.legacy-i  192.168.0.0/24" in out
    assert "Plan: 2 to import, 1 to add, 0 to change, 0 to replace, 0 to destroy." in out
    doc = ws.json("plan")
    first = doc["actions"][0]
    assert (first["action"], first["address"], first["api"], first["after"]["id"]) == ("import", "vpc.legacy",
                                                                                      "no API call", vpc)
    assert doc["summary"]["import"] == 2
    saved = ws.root / "p.tfplan"
    ws.run("plan", "--out", str(saved), check=0)
    applied = ws.run("apply", str(saved), check=0).stdout
    assert "vpc.legacy: import (no API call) done" in applied
    recorded = _state(ws)["resources"]
    assert recorded["vpc.legacy"]["id"] == vpc and recorded["vswitch.legacy-h"]["id"] == vsw
    assert recorded["vswitch.legacy-i"]["attributes"]["cidr"] == "192.168.0.0/24"
    assert "No changes" in ws.run("plan", check=0).stdout  # the import entries are done: nothing more
    # an entry for an address the specs do not declare is refused where it is written
    ws.write("legacy.yaml", LEGACY + f"import:\n  vpc.legacy: {vpc}\n  vpc.ghost: {vpc}\n")
    err = json.loads(ws.run("plan", "--json").stdout)["errors"]
    assert [(e["code"], e["address"], e["file"], e["line"]) for e in err] == [
        ("Import.AlreadyManaged", "vpc.ghost", "specs/legacy.yaml", 7)]


def test_import_block_adopts_an_ipam_with_its_default_scopes(ws):
    ipam = _call(ws, "CreateIpam", RegionId="cn-hangzhou", **{"OperatingRegionList.1": "cn-shanghai"})
    ws.write("main.yaml", BASE + f"import:\n  ipam.corp: {ipam['IpamId']}\n")
    plan = ws.json("plan")
    imports = [(a["address"], a["after"]["id"]) for a in plan["actions"] if a["action"] == "import"]
    assert imports == [("ipam.corp", ipam["IpamId"]), ("ipam_scope.private", ipam["PrivateDefaultScopeId"]),
                       ("ipam_scope.public", ipam["PublicDefaultScopeId"])]
    assert not any(a["address"] == "ipam.corp" and a["action"] == "create" for a in plan["actions"])
    ws.run("apply", "--auto-approve", check=0)
    recorded = _state(ws)["resources"]
    assert recorded["ipam.corp"]["id"] == ipam["IpamId"]
    assert recorded["ipam_pool.root"]["id"].startswith("ipam-pool-")
    _, ipams = ws.sandbox("ListIpams")
    assert ipams["TotalCount"] == 1
    assert "No changes" in ws.run("plan", check=0).stdout
    # a spec that does not match what was imported is shown as a change of it, never a silent re-creation
    ws.write("x.yaml", "vpcs:\n  imp: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}\n")
    vpc = _call(ws, "CreateVpc", RegionId="cn-hangzhou", CidrBlock="172.31.0.0/16")["VpcId"]
    ws.run("import", "vpc.imp", vpc, check=0)
    out = ws.run("plan", check=0).stdout
    # (the attributes that force it: no API moves a primary block, nor puts an existing VPC into a pool)
    assert "-/+ vpc.imp must be replaced (ipv4.cidr changes; ipv4.pool changes)" in out
