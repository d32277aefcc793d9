"""The served sandbox driven by the unmodified official SDK clients over real HTTP: both signature
schemes for the three products, the sandbox's own refusals, the new operations, concurrency, and
writes by another process."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_vpc20160428 import models as vpc_models
from alibabacloud_vpcipam20230228 import models as ipam_models
from Tea.exceptions import TeaException

from reconciler.cloud.sandbox import OPERATIONS, Operation, SandboxCloud
from tests.support.served import HZ, IPAM, VPC, Served, served

REPO = Path(__file__).resolve().parents[2]


def refused(code: str, status: int, fn, *args) -> TeaException:
    with pytest.raises(TeaException) as info:
        fn(*args)
    assert info.value.code == code, info.value
    assert info.value.data["statusCode"] == status
    return info.value


def pool_with_cidr(s: Served, cidr: str = "10.0.0.0/16") -> str:
    ipam = s.ipam()
    made = ipam.create_ipam(ipam_models.CreateIpamRequest(region_id=HZ, operating_region_list=[HZ])).body
    pool = ipam.create_ipam_pool(ipam_models.CreateIpamPoolRequest(
        region_id=HZ, ipam_scope_id=made.private_default_scope_id, pool_region_id=HZ, ip_version="IPv4",
        allocation_min_cidr_mask=16, allocation_max_cidr_mask=28, allocation_default_cidr_mask=24)).body.ipam_pool_id
    ipam.add_ipam_pool_cidr(ipam_models.AddIpamPoolCidrRequest(region_id=HZ, ipam_pool_id=pool, cidr=cidr))
    return pool


@pytest.mark.parametrize("v2", [False, True], ids=["ACS3-HMAC-SHA256", "HMAC-SHA1"])
def test_both_signatures_drive_ipam_vpc_and_ecs(srv: Served, v2: bool):
    ipam, vpc, ecs = srv.ipam(v2=v2), srv.vpc(v2=v2), srv.ecs(v2=v2)
    ipam_id = ipam.create_ipam(ipam_models.CreateIpamRequest(region_id=HZ, ipam_name="i1",
                                                             operating_region_list=[HZ])).body.ipam_id
    listed = ipam.list_ipams(ipam_models.ListIpamsRequest(region_id=HZ, ipam_ids=[ipam_id])).body
    assert ipam_id.startswith("ipam-") and [i.ipam_name for i in listed.ipams] == ["i1"]
    vpc_id = vpc.create_vpc(vpc_models.CreateVpcRequest(region_id=HZ, cidr_block="10.0.0.0/16",
                                                        vpc_name="v1")).body.vpc_id
    found = vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=HZ, vpc_id=vpc_id)).body.vpcs.vpc
    assert [(v.vpc_id, v.cidr_block, v.status) for v in found] == [(vpc_id, "10.0.0.0/16", "Available")]
    sg = ecs.create_security_group(ecs_models.CreateSecurityGroupRequest(
        region_id=HZ, vpc_id=vpc_id, security_group_name="web")).body.security_group_id
    groups = ecs.describe_security_groups(ecs_models.DescribeSecurityGroupsRequest(region_id=HZ, vpc_id=vpc_id))
    assert sg.startswith("sg-") and sg in [g.security_group_id for g in groups.body.security_groups.security_group]
    assert [(c["action"], c["code"], c["auth_action"]) for c in srv.calls()] == [
        ("CreateIpam", "OK", "vpc:CreateIpam"), ("ListIpams", "OK", "vpc:ListIpams"),
        ("CreateVpc", "OK", "vpc:CreateVpc"), ("DescribeVpcs", "OK", "vpc:DescribeVpcs"),
        ("CreateSecurityGroup", "OK", "ecs:CreateSecurityGroup"),
        ("DescribeSecurityGroups", "OK", "ecs:DescribeSecurityGroups")]
    assert all(c["access_key_id"] == srv.key.id for c in srv.calls())


def test_a_sandbox_rule_arrives_as_the_sdk_exception_code_and_status(srv: Served):
    pool = pool_with_cidr(srv)
    ipam = srv.ipam()
    missing = refused("ResourceNotFound.IpamPool", 404, ipam.create_ipam_pool_allocation,
                      ipam_models.CreateIpamPoolAllocationRequest(region_id=HZ, ipam_pool_id="ipam-pool-nope",
                                                                  cidr="10.0.0.0/24"))
    assert missing.data["RequestId"] and missing.data["Code"] == "ResourceNotFound.IpamPool"
    assert set(missing.data) >= {"RequestId", "HostId", "Code", "Message", "Recommend"}
    refused("OperationDenied.CidrUnavailableInPool", 400, ipam.create_ipam_pool_allocation,
            ipam_models.CreateIpamPoolAllocationRequest(region_id=HZ, ipam_pool_id=pool, cidr="10.9.0.0/24",
                                                        ipam_pool_allocation_name=""))
    # DryRun answers the cloud's DryRunOperation and changes nothing
    refused("DryRunOperation", 400, srv.vpc().create_vpc,
            vpc_models.CreateVpcRequest(region_id=HZ, cidr_block="10.0.0.0/16", dry_run=True))
    assert srv.vpc().describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=HZ)).body.total_count == 0


def test_get_ipam_pool_allocation_answers_the_list_row(srv: Served):
    pool = pool_with_cidr(srv)
    ipam = srv.ipam()
    made = ipam.create_ipam_pool_allocation(ipam_models.CreateIpamPoolAllocationRequest(
        region_id=HZ, ipam_pool_id=pool, cidr_mask=24, ipam_pool_allocation_name="a1")).body
    got = ipam.get_ipam_pool_allocation(ipam_models.GetIpamPoolAllocationRequest(
        region_id=HZ, ipam_pool_allocation_id=made.ipam_pool_allocation_id)).body.to_map()
    row = ipam.list_ipam_pool_allocations(ipam_models.ListIpamPoolAllocationsRequest(
        region_id=HZ, ipam_pool_id=pool)).body.ipam_pool_allocations[0].to_map()
    assert got.pop("RequestId") and got == row
    assert (got["Cidr"], got["IpamPoolAllocationName"], got["ResourceType"]) == (made.cidr, "a1", "Custom")
    refused("ResourceNotFound.IpamPoolAllocation", 404, ipam.get_ipam_pool_allocation,
            ipam_models.GetIpamPoolAllocationRequest(region_id=HZ, ipam_pool_allocation_id="ipam-pool-alloc-x"))
    # the SDK sends GetIpamPoolAllocation as GET
    assert [(c["method"], c["code"]) for c in srv.calls() if c["action"] == "GetIpamPoolAllocation"] == [
        ("GET", "OK"), ("GET", "ResourceNotFound.IpamPoolAllocation")]


@pytest.mark.parametrize("v2", [False, True], ids=["ACS3-HMAC-SHA256", "HMAC-SHA1"])
def test_next_available_cidr_works_over_get_and_reserves_nothing(srv: Served, v2: bool):
    pool = pool_with_cidr(srv)
    ipam = srv.ipam(v2=v2)
    srv.ipam().create_ipam_pool_allocation(ipam_models.CreateIpamPoolAllocationRequest(
        region_id=HZ, ipam_pool_id=pool, cidr="10.0.0.0/24"))
    ask = ipam_models.GetIpamPoolNextAvailableCidrRequest(region_id=HZ, ipam_pool_id=pool, cidr_mask=24)
    first = ipam.get_ipam_pool_next_available_cidr(ask).body.cidr_block
    second = ipam.get_ipam_pool_next_available_cidr(ask).body.cidr_block
    assert first == second == "10.0.1.0/24"
    assert [c["method"] for c in srv.calls() if c["action"] == "GetIpamPoolNextAvailableCidr"] == ["GET", "GET"]


def test_open_vpc_ipam_service_is_idempotent(srv: Served):
    ipam = srv.ipam()
    assert ipam.get_vpc_ipam_service_status(ipam_models.GetVpcIpamServiceStatusRequest(region_id=HZ)).body.enabled \
        is False
    for _ in range(2):
        body = ipam.open_vpc_ipam_service(ipam_models.OpenVpcIpamServiceRequest(region_id=HZ)).body
        assert (body.code, body.message) == ("200", "successful") and body.request_id
    assert ipam.get_vpc_ipam_service_status(ipam_models.GetVpcIpamServiceStatusRequest(region_id=HZ)).body.enabled


@pytest.mark.parametrize("v2", [False, True], ids=["ACS3-HMAC-SHA256", "HMAC-SHA1"])
def test_unknown_action_and_wrong_version(srv: Served, v2: bool):
    with pytest.raises(TeaException) as info:
        srv.call("CreateVpcs", VPC, v2=v2, RegionId=HZ)
    assert (info.value.code, info.value.data["statusCode"]) == ("InvalidAction.NotFound", 404)
    with pytest.raises(TeaException) as info:
        srv.call("CreateVpc", IPAM, v2=v2, RegionId=HZ, CidrBlock="10.0.0.0/16")
    assert (info.value.code, info.value.data["statusCode"]) == ("InvalidVersion", 400)
    assert "2016-04-28" in info.value.data["Message"]
    # neither reached the sandbox
    assert srv.call("DescribeVpcs", VPC, v2=v2, RegionId=HZ)["TotalCount"] == 0


def test_an_unexpected_failure_is_a_500_and_the_server_goes_on(srv: Served):
    def boom(req):
        raise RuntimeError("secret detail that must not leak")

    OPERATIONS["SandboxBoom"] = Operation("SandboxBoom", boom, False, VPC)
    try:
        with pytest.raises(TeaException) as info:
            srv.call("SandboxBoom", VPC)
    finally:
        del OPERATIONS["SandboxBoom"]
    assert (info.value.code, info.value.data["statusCode"]) == ("InternalError", 500)
    assert "secret detail" not in str(info.value.data)
    assert srv.call("DescribeVpcs", VPC, RegionId=HZ)["TotalCount"] == 0


def test_eight_clients_at_once(srv: Served):
    ids: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def make(i: int) -> None:
        client = srv.vpc(v2=bool(i % 2))
        start.wait()
        try:
            made = client.create_vpc(vpc_models.CreateVpcRequest(region_id=HZ, cidr_block=f"10.{i}.0.0/16"))
            ids.append(made.body.vpc_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=make, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(set(ids)) == 8
    body = srv.vpc().describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=HZ, page_size=50)).body
    assert sorted(v.vpc_id for v in body.vpcs.vpc) == sorted(ids)
    with SandboxCloud(srv.db) as other:  # what is on disk, read by a connection of its own
        assert sorted(v["VpcId"] for v in other.store.all("vpc")) == sorted(ids)
        assert {v["CidrBlock"] for v in other.store.all("vpc")} == {f"10.{i}.0.0/16" for i in range(8)}


def test_a_write_by_another_process_is_seen_at_once(tmp_path: Path):
    ws = tmp_path / "ws"
    db = ws / "state" / "sandbox.db"
    with served(db) as s:
        vpc = s.vpc()
        first = vpc.create_vpc(vpc_models.CreateVpcRequest(region_id=HZ, cidr_block="10.0.0.0/16")).body.vpc_id
        proc = subprocess.run([sys.executable, "-m", "reconciler", "-C", str(ws), "sandbox", "call", "CreateVpc",
                               f"RegionId={HZ}", "CidrBlock=10.1.0.0/16"],
                              capture_output=True, text=True, timeout=120, cwd=REPO)
        assert proc.returncode == 0, proc.stderr
        outside = __import__("json").loads(proc.stdout)["VpcId"]
        seen = vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=HZ)).body.vpcs.vpc
        assert [v.vpc_id for v in seen] == [first, outside]
        # the server's next id comes after the other process's: no id is handed out twice
        third = vpc.create_vpc(vpc_models.CreateVpcRequest(region_id=HZ, cidr_block="10.2.0.0/16")).body.vpc_id
        assert len({first, outside, third}) == 3
    with SandboxCloud(db) as after:
        assert [v["CidrBlock"] for v in after.store.all("vpc")] == ["10.0.0.0/16", "10.1.0.0/16", "10.2.0.0/16"]


def test_a_commit_racing_another_process_is_run_again_on_a_fresh_copy(tmp_path: Path):
    db = tmp_path / "sandbox.db"
    with served(db) as s:
        cloud = s.server.service._current()
        expected = cloud.store.expect_version
        with SandboxCloud(db) as other:  # commits after the server's check, before its commit
            original = cloud.call

            def racing(action, params=None, **caller):
                if action == "CreateVpc" and not racing.done:
                    racing.done = True
                    other.call("CreateVpc", {"RegionId": HZ, "CidrBlock": "10.7.0.0/16"})
                return original(action, params, **caller)

            racing.done = False
            cloud.call = racing
            made = s.vpc().create_vpc(vpc_models.CreateVpcRequest(region_id=HZ, cidr_block="10.0.0.0/16")).body
        assert s.server.service._current() is not cloud and expected is not None
        vpcs = s.vpc().describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=HZ)).body.vpcs.vpc
        assert sorted(v.cidr_block for v in vpcs) == ["10.0.0.0/16", "10.7.0.0/16"]
        assert made.vpc_id in [v.vpc_id for v in vpcs]


@pytest.mark.parametrize("v2", [False, True], ids=["ACS3-HMAC-SHA256", "HMAC-SHA1"])
def test_values_that_need_encoding_are_signed_and_kept(srv: Served, v2: bool):
    text = "测试 a+b/c~*&=%20 ok"
    vpc = srv.vpc(v2=v2)
    vpc_id = vpc.create_vpc(vpc_models.CreateVpcRequest(region_id=HZ, cidr_block="10.0.0.0/16", vpc_name="n 1",
                                                        description=text)).body.vpc_id
    found = vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=HZ, vpc_name="n 1")).body.vpcs.vpc
    assert [(v.vpc_id, v.description) for v in found] == [(vpc_id, text)]
