"""Accounts and IPAM pool sharing in the sandbox, call by call: the seed's owner/principal permission
table, invitations and the resource directory, stopping a share, and the two sharing quotas."""

from __future__ import annotations

import pytest

from reconciler.cloud import share_api
from reconciler.cloud.sandbox import DEFAULT_ACCOUNT, Caller, SandboxCloud
from reconciler.errors import CloudError

R = {"RegionId": "cn-hangzhou"}
OWNER = Caller()


def code(fn, *args, **kw) -> str:
    with pytest.raises(CloudError) as info:
        fn(*args, **kw)
    return info.value.code


@pytest.fixture()
def world():
    """The default account owns a pool 10.0.0.0/16 with rules /16-/28; a second account exists."""
    cloud = SandboxCloud()
    other = cloud.call("SandboxCreateAccount", {"AccountName": "biz"})
    ipam = cloud.call("CreateIpam", {**R, "OperatingRegionList.1": "cn-hangzhou"})
    pool = cloud.call("CreateIpamPool", {**R, "IpamScopeId": ipam["PrivateDefaultScopeId"],
                                         "PoolRegionId": "cn-hangzhou", "AllocationMinCidrMask": 16,
                                         "AllocationMaxCidrMask": 28})["IpamPoolId"]
    cloud.call("AddIpamPoolCidr", {**R, "IpamPoolId": pool, "Cidr": "10.0.0.0/16"})
    yield cloud, pool, Caller(other["AccountId"]), other
    cloud.close()


def share(cloud, pool, *targets, caller=OWNER, external=True, **extra):
    params = {**R, "ResourceShareName": "s", "Resources.1.ResourceId": pool, "Resources.1.ResourceType": "IpamPool",
              "AllowExternalTargets": external, **extra}
    params.update({f"Targets.{i}": t for i, t in enumerate(targets, 1)})
    return cloud.call("CreateResourceShare", params, caller=caller)["ResourceShare"]["ResourceShareId"]


def accept_all(cloud, who):
    for inv in cloud.call("ListResourceShareInvitations", R, caller=who)["ResourceShareInvitations"]:
        if inv["Status"] == "Pending":
            cloud.call("AcceptResourceShareInvitation", {**R, "ResourceShareInvitationId":
                                                         inv["ResourceShareInvitationId"]}, caller=who)


def pools_seen(cloud, who) -> list[str]:
    return [p["IpamPoolId"] for p in cloud.call("ListIpamPools", R, caller=who)["IpamPools"]]


@pytest.fixture()
def shared(world):
    cloud, pool, biz, _ = world
    share(cloud, pool, biz.account)
    accept_all(cloud, biz)
    return world


def test_accounts_get_their_own_ids_and_keys_and_resources(world):
    cloud, pool, biz, created = world
    assert len(biz.account) == 16 and biz.account != DEFAULT_ACCOUNT
    assert created["AccessKeyId"].startswith("LTAI") and len(created["AccessKeySecret"]) == 30
    listed = cloud.call("SandboxListAccounts")["Accounts"]
    assert [a["AccountId"] for a in listed] == [DEFAULT_ACCOUNT, biz.account]
    assert "AccessKeySecret" not in str(listed) and created["AccessKeySecret"] not in str(listed)
    # each account sees its own resources only
    assert pools_seen(cloud, biz) == []
    vpc = cloud.call("CreateVpc", {**R, "CidrBlock": "192.168.0.0/16"}, caller=biz)["VpcId"]
    assert [v["VpcId"] for v in cloud.call("DescribeVpcs", R, caller=biz)["Vpcs"]["Vpc"]] == [vpc]
    assert vpc not in str(cloud.call("DescribeVpcs", R))
    assert code(cloud.call, "DeleteVpc", {**R, "VpcId": vpc}) == "InvalidVpcId.NotFound"
    assert code(cloud.call, "GetIpamPoolAllocation", {**R, "IpamPoolAllocationId": "ipam-pool-alloc-x"},
                caller=biz) == "ResourceNotFound.IpamPoolAllocation"


def test_a_client_token_is_the_callers_own(world):
    cloud, pool, biz, _ = world
    a = cloud.call("CreateVpc", {**R, "CidrBlock": "192.168.0.0/16", "ClientToken": "t1"})["VpcId"]
    b = cloud.call("CreateVpc", {**R, "CidrBlock": "192.168.0.0/16", "ClientToken": "t1"}, caller=biz)["VpcId"]
    assert a != b


def test_an_invitation_is_needed_outside_a_directory(world):
    cloud, pool, biz, _ = world
    sid = share(cloud, pool, biz.account)
    assert pools_seen(cloud, biz) == []  # pending
    invs = cloud.call("ListResourceShareInvitations", R, caller=biz)["ResourceShareInvitations"]
    assert [(i["ResourceShareId"], i["SenderAccountId"], i["Status"]) for i in invs] == \
        [(sid, DEFAULT_ACCOUNT, "Pending")]
    assert cloud.call("ListResourceShareInvitations", R)["ResourceShareInvitations"] == []
    inv = invs[0]["ResourceShareInvitationId"]
    assert code(cloud.call, "AcceptResourceShareInvitation", {**R, "ResourceShareInvitationId": inv}) == \
        "EntityNotExists.ResourceShareInvitation"  # not the owner's to accept
    cloud.call("AcceptResourceShareInvitation", {**R, "ResourceShareInvitationId": inv}, caller=biz)
    assert code(cloud.call, "AcceptResourceShareInvitation", {**R, "ResourceShareInvitationId": inv},
                caller=biz) == "InvalidStatus.ResourceShareInvitation"
    rows = cloud.call("ListIpamPools", R, caller=biz)["IpamPools"]
    assert [(p["IpamPoolId"], p["IsShared"], p["OwnerId"]) for p in rows] == [(pool, True, int(DEFAULT_ACCOUNT))]
    assert cloud.call("ListIpamPools", R)["IpamPools"][0]["IsShared"] is False  # the owner's own
    assert [p["IpamPoolId"] for p in cloud.call("ListIpamPools", {**R, "IsShared": True}, caller=biz)["IpamPools"]] \
        == [pool]


def test_inside_a_directory_with_sharing_enabled_no_invitation(world):
    cloud, pool, biz, _ = world
    third = Caller(cloud.call("SandboxCreateAccount")["AccountId"])
    rd = cloud.call("SandboxCreateResourceDirectory", {"MasterAccountId": DEFAULT_ACCOUNT})["ResourceDirectoryId"]
    cloud.call("SandboxAddDirectoryMember", {"ResourceDirectoryId": rd, "AccountId": biz.account})
    # only the management account enables sharing, once
    assert code(cloud.call, "EnableSharingWithResourceDirectory", R, caller=biz) == "ActionNotPermitted"
    # directory-only shares reach only the directory's accounts
    assert code(share, cloud, pool, third.account, external=False) == "AccountNotInResourceDirectory"
    cloud.call("EnableSharingWithResourceDirectory", R)
    assert code(cloud.call, "EnableSharingWithResourceDirectory", R) == "AlreadyEnabled"
    share(cloud, pool, rd, external=False)
    assert pools_seen(cloud, biz) == [pool]
    assert cloud.call("ListResourceShareInvitations", R, caller=biz)["ResourceShareInvitations"] == []
    assert pools_seen(cloud, third) == []


def test_a_directory_without_sharing_enabled_still_invites(world):
    cloud, pool, biz, _ = world
    rd = cloud.call("SandboxCreateResourceDirectory", {"MasterAccountId": DEFAULT_ACCOUNT})["ResourceDirectoryId"]
    cloud.call("SandboxAddDirectoryMember", {"ResourceDirectoryId": rd, "AccountId": biz.account})
    share(cloud, pool, biz.account)
    assert pools_seen(cloud, biz) == []
    accept_all(cloud, biz)
    assert pools_seen(cloud, biz) == [pool]


def test_a_share_names_pools_of_the_caller_and_their_permission(world):
    cloud, pool, biz, _ = world
    assert code(share, cloud, pool, DEFAULT_ACCOUNT, caller=biz) == "EntityNotExists.Resource"
    assert code(share, cloud, pool, biz.account, **{"PermissionNames.1": "AliyunRSDefaultPermissionVSwitch"}) == \
        "InvalidParameter.PermissionName"
    assert code(share, cloud, pool, "12345") == "InvalidParameter.Targets"
    share(cloud, pool, biz.account, **{"PermissionNames.1": "AliyunRSDefaultPermissionIpamPool"})


# ---- the seed's table, row by row, for the principal -----------------------------------------
def test_principal_allocates_vpc_blocks_and_secondary_blocks(shared):
    cloud, pool, biz, _ = shared
    vpc = cloud.call("CreateVpc", {**R, "Ipv4IpamPoolId": pool, "Ipv4CidrMask": 24}, caller=biz)["VpcId"]
    cloud.call("AssociateVpcCidrBlock", {**R, "VpcId": vpc, "IpamPoolId": pool, "SecondaryCidrMask": 24}, caller=biz)
    rows = cloud.call("ListIpamPoolAllocations", {**R, "IpamPoolId": pool}, caller=biz)["IpamPoolAllocations"]
    assert sorted((r["Cidr"], r["ResourceType"], r["ResourceOwnerId"]) for r in rows) == \
        [("10.0.0.0/24", "VPC", int(biz.account)), ("10.0.1.0/24", "VPC", int(biz.account))]
    # the pool's rules hold for a principal too
    assert code(cloud.call, "CreateVpc", {**R, "Ipv4IpamPoolId": pool, "Ipv4CidrMask": 12}, caller=biz) == \
        "OperationDenied.MaskOfCidrIsNotAllowed"


def test_principal_queries_the_pool_its_cidrs_and_allocations(shared):
    cloud, pool, biz, _ = shared
    assert [c["Cidr"] for c in cloud.call("ListIpamPoolCidrs", {**R, "IpamPoolId": pool}, caller=biz)["IpamPoolCidrs"]] \
        == ["10.0.0.0/16"]
    cloud.call("CreateIpamPoolAllocation", {**R, "IpamPoolId": pool, "Cidr": "10.0.200.0/24"})  # the owner's
    rows = cloud.call("ListIpamPoolAllocations", {**R, "IpamPoolId": pool}, caller=biz)["IpamPoolAllocations"]
    assert [r["Cidr"] for r in rows] == ["10.0.200.0/24"]


def test_principal_creates_and_releases_its_own_custom_allocations_only(shared):
    cloud, pool, biz, _ = shared
    mine = cloud.call("CreateIpamPoolAllocation", {**R, "IpamPoolId": pool, "CidrMask": 24}, caller=biz)
    theirs = cloud.call("CreateIpamPoolAllocation", {**R, "IpamPoolId": pool, "CidrMask": 24})
    assert code(cloud.call, "DeleteIpamPoolAllocation", {**R, "IpamPoolAllocationId":
                                                         theirs["IpamPoolAllocationId"]}, caller=biz) == \
        "Forbidden.SharedIpamPool"
    cloud.call("DeleteIpamPoolAllocation", {**R, "IpamPoolAllocationId": mine["IpamPoolAllocationId"]}, caller=biz)


def test_principal_changes_name_and_description_only(shared):
    cloud, pool, biz, _ = shared
    cloud.call("UpdateIpamPool", {**R, "IpamPoolId": pool, "IpamPoolName": "n", "IpamPoolDescription": "dd"},
               caller=biz)
    assert cloud.call("ListIpamPools", R)["IpamPools"][0]["IpamPoolName"] == "n"
    for rule in ({"AllocationMinCidrMask": 20}, {"AllocationMaxCidrMask": 24}, {"AllocationDefaultCidrMask": 24},
                 {"ClearAllocationDefaultCidrMask": True}, {"AutoImport": True}, {"AutoImport": False}):
        assert code(cloud.call, "UpdateIpamPool", {**R, "IpamPoolId": pool, **rule}, caller=biz) == \
            "Forbidden.SharedIpamPool", rule


@pytest.mark.parametrize("action, extra", [
    ("AddIpamPoolCidr", {"Cidr": "10.1.0.0/16"}),  # provision
    ("DeleteIpamPoolCidr", {"Cidr": "10.0.0.0/16"}),  # deprovision
    ("DeleteIpamPool", {}),
    ("ListIpamResourceCidrs", {}),  # query the pool's resources
])
def test_principal_is_refused_what_the_table_denies(shared, action, extra):
    cloud, pool, biz, _ = shared
    assert code(cloud.call, action, {**R, "IpamPoolId": pool, **extra}, caller=biz) == "Forbidden.SharedIpamPool"
    cloud.call(action if action == "ListIpamResourceCidrs" else "ListIpamPools", {**R, "IpamPoolId": pool})


def test_owner_releases_the_principals_allocations_and_cannot_delete_a_shared_pool(shared):
    cloud, pool, biz, _ = shared
    custom = cloud.call("CreateIpamPoolAllocation", {**R, "IpamPoolId": pool, "CidrMask": 24}, caller=biz)
    vpc = cloud.call("CreateVpc", {**R, "Ipv4IpamPoolId": pool, "Ipv4CidrMask": 24}, caller=biz)["VpcId"]
    rows = cloud.call("ListIpamPoolAllocations", {**R, "IpamPoolId": pool})["IpamPoolAllocations"]
    vpc_alloc = next(r["IpamPoolAllocationId"] for r in rows if r["ResourceId"] == vpc)
    cloud.call("DeleteIpamPoolAllocation", {**R, "IpamPoolAllocationId": custom["IpamPoolAllocationId"]})
    cloud.call("DeleteIpamPoolAllocation", {**R, "IpamPoolAllocationId": vpc_alloc})
    assert cloud.call("ListIpamPoolAllocations", {**R, "IpamPoolId": pool})["IpamPoolAllocations"] == []
    cloud.call("DeleteIpamPoolCidr", {**R, "IpamPoolId": pool, "Cidr": "10.0.0.0/16"})
    assert code(cloud.call, "DeleteIpamPool", {**R, "IpamPoolId": pool}) == "DependencyViolation.ShareResource"


def test_stopping_a_share_hides_the_pool_and_keeps_allocations(shared):
    cloud, pool, biz, _ = shared
    vpc = cloud.call("CreateVpc", {**R, "Ipv4IpamPoolId": pool, "Ipv4CidrMask": 24}, caller=biz)["VpcId"]
    sid = cloud.call("ListResourceShares", {**R, "ResourceOwner": "Self"})["ResourceShares"][0]["ResourceShareId"]
    assert [s["ResourceShareId"] for s in cloud.call("ListResourceShares", {**R, "ResourceOwner": "OtherAccounts"},
                                                     caller=biz)["ResourceShares"]] == [sid]
    assert code(cloud.call, "DeleteResourceShare", {**R, "ResourceShareId": sid}, caller=biz) == \
        "EntityNotExists.ResourceShare"
    cloud.call("DeleteResourceShare", {**R, "ResourceShareId": sid})
    assert pools_seen(cloud, biz) == []
    assert code(cloud.call, "CreateVpc", {**R, "Ipv4IpamPoolId": pool, "Ipv4CidrMask": 24}, caller=biz) == \
        "ResourceNotFound.IpamPool"
    rows = cloud.call("ListIpamPoolAllocations", {**R, "IpamPoolId": pool})["IpamPoolAllocations"]
    assert [r["ResourceId"] for r in rows] == [vpc]  # still allocated
    cloud.call("DeleteVpc", {**R, "VpcId": vpc}, caller=biz)  # deleting the VPC releases it
    assert cloud.call("ListIpamPoolAllocations", {**R, "IpamPoolId": pool})["IpamPoolAllocations"] == []


def test_quota_resource_shares_per_pool(world, monkeypatch):
    cloud, pool, biz, _ = world
    monkeypatch.setattr(share_api, "SHARES_PER_POOL", 2)  # the seed's 100, made small to reach
    share(cloud, pool, biz.account)
    share(cloud, pool, biz.account)
    assert code(share, cloud, pool, biz.account) == "QuotaExceeded.ResourceShare"


def test_the_quotas_are_the_seeds():
    # resource_share_quota_per_ipam_pool and shared_ipam_pool_quota_per_user, both 100
    assert (share_api.SHARES_PER_POOL, share_api.SHARED_POOLS_PER_USER) == (100, 100)


def test_quota_shared_pools_per_user(world, monkeypatch):
    cloud, pool, biz, _ = world
    monkeypatch.setattr(share_api, "SHARED_POOLS_PER_USER", 1)
    scope = cloud.call("ListIpamPools", R)["IpamPools"][0]["IpamScopeId"]
    second = cloud.call("CreateIpamPool", {**R, "IpamScopeId": scope})["IpamPoolId"]
    share(cloud, pool, biz.account)
    share(cloud, second, biz.account)
    invs = cloud.call("ListResourceShareInvitations", R, caller=biz)["ResourceShareInvitations"]
    cloud.call("AcceptResourceShareInvitation", {**R, "ResourceShareInvitationId":
                                                 invs[0]["ResourceShareInvitationId"]}, caller=biz)
    assert code(cloud.call, "AcceptResourceShareInvitation", {**R, "ResourceShareInvitationId":
                                                              invs[1]["ResourceShareInvitationId"]},
                caller=biz) == "QuotaExceeded.SharedIpamPool"
    assert pools_seen(cloud, biz) == [pool]
