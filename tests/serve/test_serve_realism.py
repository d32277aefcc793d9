"""The served sandbox's realism options, through the SDK: asynchronous creation (Pending), the page
cap, the throttle and the IPAM service that must be opened first."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_vpc20160428 import models as vpc_models
from alibabacloud_vpcipam20230228 import models as ipam_models
from Tea.exceptions import TeaException

from reconciler.cloud.realism import Realism
from reconciler.cloud.sandbox import SandboxCloud
from reconciler.serve.app import TokenBucket
from tests.support.served import HZ, Served, served

ZONE = "cn-hangzhou-h"


def code_of(fn, *args) -> tuple[str, int]:
    with pytest.raises(TeaException) as info:
        fn(*args)
    return info.value.code, info.value.data["statusCode"]


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_vpcs_vswitches_and_reservations_are_pending_for_a_while(tmp_path: Path):
    clock = Clock()
    with served(tmp_path / "sandbox.db", realism=Realism(pending_seconds=30, clock=clock)) as s:
        vpc, ecs = s.vpc(), s.ecs()
        vpc_id = vpc.create_vpc(vpc_models.CreateVpcRequest(region_id=HZ, cidr_block="10.0.0.0/16")).body.vpc_id

        def vpc_status() -> str:
            body = vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=HZ, vpc_id=vpc_id)).body
            return body.vpcs.vpc[0].status

        new_vsw = vpc_models.CreateVSwitchRequest(region_id=HZ, vpc_id=vpc_id, zone_id=ZONE, cidr_block="10.0.0.0/24")
        assert vpc_status() == "Pending"
        assert code_of(vpc.create_vswitch, new_vsw) == ("IncorrectVpcStatus", 400)
        assert code_of(vpc.delete_vpc, vpc_models.DeleteVpcRequest(region_id=HZ, vpc_id=vpc_id)) == \
            ("IncorrectVpcStatus", 400)
        assert code_of(vpc.associate_vpc_cidr_block, vpc_models.AssociateVpcCidrBlockRequest(
            region_id=HZ, vpc_id=vpc_id, secondary_cidr_block="172.16.0.0/16")) == ("IncorrectStatus.Vpc", 400)
        clock.now += 31
        assert vpc_status() == "Available"
        vsw_id = vpc.create_vswitch(new_vsw).body.v_switch_id
        sg = ecs.create_security_group(ecs_models.CreateSecurityGroupRequest(region_id=HZ, vpc_id=vpc_id)).body
        shown = vpc.describe_vswitches(vpc_models.DescribeVSwitchesRequest(region_id=HZ, vpc_id=vpc_id)).body
        assert [v.status for v in shown.v_switches.v_switch] == ["Pending"]
        new_eni = ecs_models.CreateNetworkInterfaceRequest(region_id=HZ, v_switch_id=vsw_id,
                                                           security_group_id=sg.security_group_id)
        assert code_of(ecs.create_network_interface, new_eni) == ("IncorrectVSwitchStatus", 400)
        reserve = vpc_models.CreateVSwitchCidrReservationRequest(region_id=HZ, v_switch_id=vsw_id,
                                                                 v_switch_cidr_reservation_mask=28)
        assert code_of(vpc.create_vswitch_cidr_reservation, reserve) == ("IncorrectVSwitchStatus", 400)
        assert code_of(vpc.delete_vswitch, vpc_models.DeleteVSwitchRequest(region_id=HZ, v_switch_id=vsw_id)) == \
            ("IncorrectVSwitchStatus", 400)
        clock.now += 31
        made = vpc.create_vswitch_cidr_reservation(reserve).body
        listing = vpc_models.ListVSwitchCidrReservationsRequest(region_id=HZ, v_switch_id=vsw_id)
        rows = vpc.list_vswitch_cidr_reservations(listing).body.v_switch_cidr_reservations
        assert [(r.v_switch_cidr_reservation_id, r.status) for r in rows] == [(made.v_switch_cidr_reservation_id,
                                                                               "Pending")]
        eni = ecs.create_network_interface(new_eni).body
        assert eni.network_interface_id.startswith("eni-")
        clock.now += 31
        rows = vpc.list_vswitch_cidr_reservations(listing).body.v_switch_cidr_reservations
        assert [r.status for r in rows] == ["Assigned"]
    # the ready-at time is the resource's: any sandbox reading it shows the status of its own clock
    with SandboxCloud(tmp_path / "sandbox.db") as embedded:  # the real clock: 30 s have not passed
        assert embedded.call("DescribeVpcs", {"RegionId": HZ})["Vpcs"]["Vpc"][0]["Status"] == "Pending"
    with SandboxCloud(tmp_path / "sandbox.db", realism=Realism(clock=clock)) as later:
        assert later.call("DescribeVpcs", {"RegionId": HZ})["Vpcs"]["Vpc"][0]["Status"] == "Available"


def test_without_pending_everything_is_available_at_once(srv: Served):
    vpc = srv.vpc()
    vpc_id = vpc.create_vpc(vpc_models.CreateVpcRequest(region_id=HZ, cidr_block="10.0.0.0/16")).body.vpc_id
    vpc.create_vswitch(vpc_models.CreateVSwitchRequest(region_id=HZ, vpc_id=vpc_id, zone_id=ZONE,
                                                       cidr_block="10.0.0.0/24"))
    with SandboxCloud(srv.db) as other:
        assert all("_ready_at" not in r for kind in ("vpc", "vswitch") for r in other.store.all(kind))


def test_a_page_cap_makes_clients_follow_the_pages(tmp_path: Path):
    with served(tmp_path / "sandbox.db", realism=Realism(max_page=2)) as s:
        vpc, ipam, ecs = s.vpc(), s.ipam(), s.ecs()
        made = [vpc.create_vpc(vpc_models.CreateVpcRequest(region_id=HZ, cidr_block=f"10.{i}.0.0/16")).body.vpc_id
                for i in range(5)]
        seen, number = [], 1
        while True:
            body = vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=HZ, page_size=50,
                                                                    page_number=number)).body
            assert body.page_size == 2 and body.total_count == 5 and len(body.vpcs.vpc) <= 2
            seen += [v.vpc_id for v in body.vpcs.vpc]
            if number * body.page_size >= body.total_count:
                break
            number += 1
        assert seen == made and number == 3
        scope = ipam.create_ipam(ipam_models.CreateIpamRequest(region_id=HZ, operating_region_list=[HZ])) \
            .body.private_default_scope_id
        pools = [ipam.create_ipam_pool(ipam_models.CreateIpamPoolRequest(
            region_id=HZ, ipam_scope_id=scope, pool_region_id=HZ, ip_version="IPv4")).body.ipam_pool_id
            for _ in range(5)]
        listed, token, pages = [], None, 0
        while True:
            body = ipam.list_ipam_pools(ipam_models.ListIpamPoolsRequest(region_id=HZ, max_results=100,
                                                                         next_token=token)).body
            assert body.max_results == 2 and len(body.ipam_pools) <= 2
            listed += [p.ipam_pool_id for p in body.ipam_pools]
            pages += 1
            token = body.next_token
            if not token:
                break
        assert listed == pools and pages == 3
        for i in range(3):
            ecs.create_security_group(ecs_models.CreateSecurityGroupRequest(region_id=HZ, vpc_id=made[0]))
        body = ecs.describe_security_groups(ecs_models.DescribeSecurityGroupsRequest(region_id=HZ, page_size=100)).body
        assert (len(body.security_groups.security_group), body.page_size, body.total_count) == (2, 2, 3)


def test_the_throttle_refuses_calls_past_the_rate(tmp_path: Path):
    with served(tmp_path / "sandbox.db", throttle=1, log=tmp_path / "calls.log") as s:
        vpc = s.vpc()
        ask = vpc_models.DescribeVpcsRequest(region_id=HZ)
        vpc.describe_vpcs(ask)
        with pytest.raises(TeaException) as info:
            vpc.describe_vpcs(ask)
        assert (info.value.code, info.value.data["statusCode"]) == ("Throttling.User", 400)
        assert info.value.data["Message"] == "Request was denied due to user flow control."
        time.sleep(1.1)
        assert vpc.describe_vpcs(ask).body.total_count == 0
        assert [c["code"] for c in s.calls()] == ["OK", "Throttling.User", "OK"]


def test_the_token_bucket():
    now = [0.0]
    bucket = TokenBucket(4, clock=lambda: now[0])
    assert [bucket.take("k") for _ in range(5)] == [True] * 4 + [False]
    assert bucket.take("other")  # per access key
    now[0] = 0.5  # two tokens back
    assert [bucket.take("k") for _ in range(3)] == [True, True, False]
    slow = TokenBucket(0.5, clock=lambda: now[0])
    assert slow.take("k") and not slow.take("k")  # a burst of one even below one call a second
    now[0] = 2.6
    assert slow.take("k")


def test_create_ipam_needs_the_service_opened_when_asked(tmp_path: Path):
    with served(tmp_path / "sandbox.db", realism=Realism(require_open_service=True)) as s:
        ipam = s.ipam()
        create = ipam_models.CreateIpamRequest(region_id=HZ, operating_region_list=[HZ])
        assert code_of(ipam.create_ipam, create) == ("Forbidden.NotOpenService", 403)
        ipam.open_vpc_ipam_service(ipam_models.OpenVpcIpamServiceRequest(region_id=HZ))
        assert ipam.create_ipam(create).body.ipam_id.startswith("ipam-")


def test_create_ipam_needs_no_opened_service_by_default(srv: Served):
    create = ipam_models.CreateIpamRequest(region_id=HZ, operating_region_list=[HZ])
    assert srv.ipam().create_ipam(create).body.ipam_id.startswith("ipam-")
