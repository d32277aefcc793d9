"""The served sandbox with several accounts: each key the sandbox issued acts as its account, a RAM
user is held to its own policy (none: nothing allowed), the account operations are never served, and
a secret never reaches the call log."""

from __future__ import annotations

import orjson
import pytest
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_vpc20160428 import models as vpc_models

from reconciler.cloud.sandbox import DEFAULT_ACCOUNT, SandboxCloud
from tests.support.served import HZ, VPC

READ_ONLY = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "vpc:Describe*", "Resource": "*"}]}


def _made(db, action, **params) -> dict:
    with SandboxCloud(db) as cloud:  # another connection, as `ipamctl sandbox account` is
        return cloud.call(action, params)


def _vpcs(srv, key) -> list[str]:
    client = srv.vpc(key_id=key["AccessKeyId"], secret=key["AccessKeySecret"])
    return [v.vpc_id for v in client.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=HZ)).body.vpcs.vpc]


def test_an_issued_root_key_acts_as_its_account(srv):
    biz = _made(srv.db, "SandboxCreateAccount", AccountName="biz")
    client = srv.vpc(key_id=biz["AccessKeyId"], secret=biz["AccessKeySecret"])
    mine = client.create_vpc(vpc_models.CreateVpcRequest(region_id=HZ, cidr_block="10.0.0.0/16")).body.vpc_id
    theirs = srv.vpc().create_vpc(vpc_models.CreateVpcRequest(region_id=HZ, cidr_block="10.0.0.0/16")).body.vpc_id
    assert _vpcs(srv, biz) == [mine]
    assert [v.vpc_id for v in srv.vpc().describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=HZ)).body.vpcs.vpc] \
        == [theirs]
    with pytest.raises(ClientException) as info:
        client.delete_vpc(vpc_models.DeleteVpcRequest(region_id=HZ, vpc_id=theirs))
    assert info.value.code == "InvalidVpcId.NotFound"
    with pytest.raises(ClientException) as info:  # a wrong secret for an issued key
        srv.vpc(key_id=biz["AccessKeyId"], secret="x" * 30).describe_vpcs(
            vpc_models.DescribeVpcsRequest(region_id=HZ))
    assert info.value.code == "SignatureDoesNotMatch"
    log = srv.log.read_text()
    assert biz["AccessKeySecret"] not in log and biz["AccessKeyId"] in log


def test_a_ram_user_is_held_to_its_own_policy(srv):
    biz = _made(srv.db, "SandboxCreateAccount")
    reader = _made(srv.db, "SandboxCreateUser", AccountId=biz["AccountId"], UserName="reader",
                   PolicyDocument=orjson.dumps(READ_ONLY).decode())
    nobody = _made(srv.db, "SandboxCreateUser", AccountId=biz["AccountId"], UserName="nobody")
    assert _vpcs(srv, reader) == []
    client = srv.vpc(key_id=reader["AccessKeyId"], secret=reader["AccessKeySecret"])
    with pytest.raises(ClientException) as info:
        client.create_vpc(vpc_models.CreateVpcRequest(region_id=HZ, cidr_block="10.0.0.0/16"))
    assert info.value.code == "Forbidden.RAM"
    assert info.value.access_denied_detail["AuthPrincipalOwnerId"] == biz["AccountId"]
    assert info.value.access_denied_detail["AuthAction"] == "vpc:CreateVpc"
    with pytest.raises(ClientException) as info:  # no policy at all: even reads are denied
        _vpcs(srv, nobody)
    assert info.value.code == "Forbidden.RAM"
    # the user's account's resources are the user's to read
    made = srv.vpc(key_id=biz["AccessKeyId"], secret=biz["AccessKeySecret"]).create_vpc(
        vpc_models.CreateVpcRequest(region_id=HZ, cidr_block="10.0.0.0/16")).body.vpc_id
    assert _vpcs(srv, reader) == [made]


@pytest.mark.parametrize("action", ["SandboxCreateAccount", "SandboxListAccounts", "SandboxCreateUser",
                                    "SandboxCreateResourceDirectory", "SandboxAddDirectoryMember"])
def test_the_account_operations_are_never_served(srv, action):
    with pytest.raises(ClientException) as info:
        srv.call(action, VPC, AccountId=DEFAULT_ACCOUNT, UserName="u")
    assert info.value.code == "InvalidAction.NotFound"


def _sdk(srv, key_id: str, secret: str):
    from alibabacloud_credentials.client import Client
    from alibabacloud_credentials.models import Config

    from reconciler.providers.sdk import SdkClient, SdkSettings

    cred = Client(Config(type="access_key", access_key_id=key_id, access_key_secret=secret))
    return SdkClient(SdkSettings(region=HZ, endpoint=srv.endpoint, protocol="http"), cred)


def test_sharing_inside_a_directory_through_the_provider_s_sdk_client(srv):
    """The alibaba provider's own client (ResourceSharing is one of its products): the management
    account enables sharing (an operation without parameters), shares to the directory, and the
    member sees the pool at once, with no invitation."""
    biz = _made(srv.db, "SandboxCreateAccount")
    rd = _made(srv.db, "SandboxCreateResourceDirectory", MasterAccountId=DEFAULT_ACCOUNT)["ResourceDirectoryId"]
    _made(srv.db, "SandboxAddDirectoryMember", ResourceDirectoryId=rd, AccountId=biz["AccountId"])
    owner, member = _sdk(srv, srv.key.id, srv.key.secret), _sdk(srv, biz["AccessKeyId"], biz["AccessKeySecret"])
    ipam = owner.call("CreateIpam", {"RegionId": HZ, "OperatingRegionList.1": HZ})
    pool = owner.call("CreateIpamPool", {"RegionId": HZ, "IpamScopeId": ipam["PrivateDefaultScopeId"],
                                         "PoolRegionId": HZ})["IpamPoolId"]
    with pytest.raises(Exception) as info:  # not the management account
        member.call("EnableSharingWithResourceDirectory", {})
    assert getattr(info.value, "code", None) == "ActionNotPermitted"
    owner.call("EnableSharingWithResourceDirectory", {})
    owner.call("CreateResourceShare", {"ResourceShareName": "to-rd", "Resources.1.ResourceId": pool,
                                       "Resources.1.ResourceType": "IpamPool", "Targets.1": rd,
                                       "AllowExternalTargets": False})
    assert member.call("ListResourceShareInvitations", {})["ResourceShareInvitations"] == []
    rows = member.call("ListIpamPools", {"RegionId": HZ, "IsShared": True})["IpamPools"]
    assert [(r["IpamPoolId"], r["IsShared"]) for r in rows] == [(pool, True)]
    shares = member.call("ListResourceShares", {"ResourceOwner": "OtherAccounts"})["ResourceShares"]
    assert [s["ResourceShareName"] for s in shares] == ["to-rd"]
