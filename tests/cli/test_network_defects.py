"""Issue 17 items 3, 8 and 23 (parts) through the real ``ipamctl`` and its sandbox: the plan refuses
what apply would be refused for, with the same code the sandbox answers for the same request."""

from __future__ import annotations

import json

from tests.support.specs import BASE


def _ids(ws) -> dict:
    return {a: r["id"] for a, r in json.loads((ws.root / "state" / "state.json").read_text())["resources"].items()}


# ---- item 3: one IPAM per region ------------------------------------------------------------
def test_plan_refuses_an_ipam_where_one_was_created_out_of_band(ws):
    ws.write("main.yaml", BASE)
    rc, made = ws.sandbox("CreateIpam", RegionId="cn-hangzhou", IpamName="elsewhere")
    assert rc == 0
    other = made["IpamId"]
    plan = ws.run("plan")
    assert plan.returncode == 1, plan.stdout + plan.stderr
    assert "QuotaExceeded.Ipam" in plan.stderr and other in plan.stderr and "cn-hangzhou" in plan.stderr
    assert "main.yaml:1" in plan.stderr and "Traceback" not in plan.stderr
    # apply is refused the same way, before any cloud call
    assert ws.run("apply", "--auto-approve").returncode == 1
    # what the cloud answers for the same request
    rc, err = ws.sandbox("CreateIpam", RegionId="cn-hangzhou")
    assert rc == 1 and err["Code"] == "QuotaExceeded.Ipam"
    # adopted, it is the state's own IPAM: the plan goes on
    ws.run("import", "ipam.corp", other, check=0)
    ws.run("plan", check=0)


def test_the_state_s_own_ipam_and_other_regions_do_not_count(ws):
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    assert ws.sandbox("CreateIpam", RegionId="cn-shanghai")[0] == 0  # an operating region, managed elsewhere
    ws.run("plan", "--detailed-exitcode", check=0)


# ---- item 8: auto_import in a custom scope ----------------------------------------------------
CUSTOM = """\
scopes:
  acq: {type: private}
pools:
  a: {scope: acq, cidrs: [172.16.0.0/12]}
  a1: {source: a, region: cn-hangzhou, auto_import: true, cidrs: [172.16.0.0/16]}
"""


def test_auto_import_in_a_custom_scope_is_accepted_and_imports_nothing(ws):
    ws.write("main.yaml", BASE)
    ws.write("custom.yaml", CUSTOM)
    ws.run("plan", check=0)
    ws.run("apply", "--auto-approve", check=0)
    pool = _ids(ws)["ipam_pool.a1"]
    rc, rows = ws.sandbox("ListIpamPools", **{"IpamPoolIds.1": pool})
    assert rc == 0 and rows["IpamPools"][0]["AutoImport"] is True
    assert ws.sandbox("CreateVpc", RegionId="cn-hangzhou", CidrBlock="172.16.0.0/20")[0] == 0  # inside a1
    rc, run = ws.sandbox("SandboxRunDiscovery")
    assert rc == 0 and run["Imported"] == []
    rc, allocs = ws.sandbox("ListIpamPoolAllocations", IpamPoolId=pool)
    assert rc == 0 and allocs["IpamPoolAllocations"] == []
    ws.run("plan", "--detailed-exitcode", check=0)


# ---- item 23: plan and sandbox answer the same codes ------------------------------------------
def _plan_code(ws, spec: str) -> str:
    ws.write("main.yaml", spec)
    proc = ws.run("plan")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return proc.stderr


def test_secondary_equal_to_primary_is_overlapped_in_plan_and_sandbox(ws):
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    ids = _ids(ws)
    vpc, pool = ids["vpc.prod"], ids["ipam_pool.hz-prod"]
    _, rows = ws.sandbox("DescribeVpcs", RegionId="cn-hangzhou", VpcId=vpc)
    primary = rows["Vpcs"]["Vpc"][0]["CidrBlock"]
    for params in ({"SecondaryCidrBlock": primary}, {"SecondaryCidrBlock": primary, "IpamPoolId": pool}):
        rc, err = ws.sandbox("AssociateVpcCidrBlock", VpcId=vpc, **params)
        assert rc == 1 and err["Code"] == "InvalidCidrBlock.Overlapped", err
    spec = BASE.replace("ipv4: {pool: hz-prod, mask: 20}}",
                        f"ipv4: {{pool: hz-prod, mask: 20}}, secondary_cidrs: [{{pool: hz-prod, cidr: {primary}}}]}}")
    out = _plan_code(ws, spec)
    assert "InvalidCidrBlock.Overlapped" in out and "CidrUnavailableInPool" not in out, out
    plain = "vpcs:\n  flat: {region: cn-hangzhou, ipv4: {cidr: 192.168.0.0/16}, secondary_cidrs: [{cidr: 192.168.0.0/16}]}\n"
    out = _plan_code(ws, BASE.replace("vpcs:\n", plain))
    assert "vpc.flat: InvalidCidrBlock.Overlapped" in out and "CidrUnavailableInPool" not in out, out
    rc, flat = ws.sandbox("CreateVpc", RegionId="cn-hangzhou", CidrBlock="192.168.0.0/16")
    rc, err = ws.sandbox("AssociateVpcCidrBlock", VpcId=flat["VpcId"], SecondaryCidrBlock="192.168.0.0/16")
    assert rc == 1 and err["Code"] == "InvalidCidrBlock.Overlapped", err


def test_mask_below_min_mask_in_a_full_pool_is_not_allowed_in_plan_and_sandbox(ws):
    full = BASE.replace("vpcs:\n", "vpcs:\n  big: {region: cn-hangzhou, ipv4: {pool: hz-prod, cidr: 10.0.0.0/17}}\n") \
        .replace("  prod: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}\n", "") \
        .replace("vswitches:\n  prod-h: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 24}}\n", "")
    ws.write("main.yaml", full)
    ws.run("apply", "--auto-approve", check=0)
    pool = _ids(ws)["ipam_pool.hz-prod"]
    rc, err = ws.sandbox("CreateVpc", RegionId="cn-hangzhou", Ipv4IpamPoolId=pool, Ipv4CidrMask="15")
    assert rc == 1 and err["Code"] == "OperationDenied.MaskOfCidrIsNotAllowed", err
    rc, err = ws.sandbox("CreateVpc", RegionId="cn-hangzhou", Ipv4IpamPoolId=pool, Ipv4CidrMask="20")
    assert rc == 1 and err["Code"] == "OperationDenied.AvailableCidrInsufficient", err  # a mask it allows: no room
    out = _plan_code(ws, full + "  small: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 15}}\n")
    assert "vpc.small: OperationDenied.MaskOfCidrIsNotAllowed" in out and "AvailableCidrInsufficient" not in out, out
    out = _plan_code(ws, full + "  small: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}\n")
    assert "vpc.small: OperationDenied.AvailableCidrInsufficient" in out, out
