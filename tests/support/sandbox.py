"""Helpers shared by the sandbox cloud's tests (tests/cloud): a refused call, a network to put
ENIs in, and the ENI and instance calls they all make. The fixtures are in tests/cloud/conftest.py."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from reconciler.cloud.sandbox import SandboxCloud
from reconciler.errors import CloudError

HZ, ZONE = "cn-hangzhou", "cn-hangzhou-h"


def refused(cloud: SandboxCloud, code: str, action: str, params: dict | None = None,
            status: int = 400) -> CloudError:
    """The CloudError of a call that must fail with ``code`` and HTTP ``status``."""
    with pytest.raises(CloudError) as info:
        cloud.call(action, params or {})
    assert info.value.code == code, info.value.message
    assert info.value.http_status == status
    return info.value


@dataclass(frozen=True)
class Net:
    """A VPC, one of its vSwitches and a security group of it, in ``region``."""

    vpc: str
    vsw: str
    sg: str
    region: str = HZ


def make_net(cloud: SandboxCloud, block: str = "10.0.0.0/24", ipv6: int | None = 0, *,
             region: str = HZ, zone: str = ZONE) -> Net:
    """A VPC 10.0.0.0/16 with IPv6, a vSwitch ``block`` (IPv6 index ``ipv6``; none when None) in
    ``zone`` and a basic security group."""
    vpc = cloud.call("CreateVpc", {"RegionId": region, "CidrBlock": "10.0.0.0/16", "EnableIpv6": True})["VpcId"]
    params: dict[str, object] = {"VpcId": vpc, "ZoneId": zone, "CidrBlock": block}
    if ipv6 is not None:
        params["Ipv6CidrBlock"] = ipv6
    vsw = cloud.call("CreateVSwitch", params)["VSwitchId"]
    sg = cloud.call("CreateSecurityGroup", {"RegionId": region, "VpcId": vpc})["SecurityGroupId"]
    return Net(vpc, vsw, sg, region)


def create_eni(cloud: SandboxCloud, net: Net, **params: object) -> dict:
    """The CreateNetworkInterface answer for an ENI in ``net``'s vSwitch and security group."""
    return cloud.call("CreateNetworkInterface", {"RegionId": net.region, "VSwitchId": net.vsw,
                                                 "SecurityGroupId": net.sg, **params})


def new_eni(cloud: SandboxCloud, net: Net, **params: object) -> str:
    return create_eni(cloud, net, **params)["NetworkInterfaceId"]


def new_instance(cloud: SandboxCloud, net: Net, itype: str = "ecs.g7.large",
                 **params: object) -> tuple[str, str]:
    """(instance id, its primary ENI's id) of a new instance in ``net``."""
    iid = cloud.call("CreateInstance", {"RegionId": HZ, "InstanceType": itype, "VSwitchId": net.vsw,
                                        "SecurityGroupId": net.sg, **params})["InstanceId"]
    got = cloud.call("DescribeNetworkInterfaces", {"InstanceId": iid, "Type": "Primary"})
    return iid, got["NetworkInterfaceSets"]["NetworkInterfaceSet"][0]["NetworkInterfaceId"]


def eni_row(cloud: SandboxCloud, eni_id: str) -> dict:
    """The DescribeNetworkInterfaces row of one ENI."""
    return cloud.call("DescribeNetworkInterfaces", {"NetworkInterfaceId.1": eni_id})["NetworkInterfaceSets"][
        "NetworkInterfaceSet"][0]
