"""The sandbox's IPAM, scope, pool, pool-CIDR and allocation operations, through SandboxCloud.call
with wire-form parameters on a real SQLite file. Each rule has a test that fails without it."""

from __future__ import annotations

import re

import pytest

from reconciler.cloud.sandbox import SandboxCloud
from reconciler.net import limits
from tests.support.sandbox import refused

HZ, SH, BJ = "cn-hangzhou", "cn-shanghai", "cn-beijing"


def make_ipam(cloud, region=HZ, *others):
    params = {"RegionId": region}
    params.update({f"OperatingRegionList.{i}": r for i, r in enumerate(others, 1)})
    return cloud.call("CreateIpam", params)


def make_pool(cloud, scope, **params):
    return cloud.call("CreateIpamPool", {"IpamScopeId": scope, **params})["IpamPoolId"]


def add_cidr(cloud, pool, cidr=None, mask=None):
    params = {"IpamPoolId": pool}
    if cidr:
        params["Cidr"] = cidr
    if mask is not None:
        params["NetmaskLength"] = mask
    return cloud.call("AddIpamPoolCidr", params)["Cidr"]


def allocs(cloud, pool):
    return cloud.call("ListIpamPoolAllocations", {"IpamPoolId": pool, "MaxResults": 100})["IpamPoolAllocations"]


def pool_row(cloud, pool):
    return cloud.call("ListIpamPools", {"IpamPoolIds.1": pool})["IpamPools"][0]


@pytest.fixture
def world(cloud):
    """An IPAM in Hangzhou operating in Shanghai too, with a 10.0.0.0/8 top pool in Hangzhou."""
    ipam = make_ipam(cloud, HZ, SH)
    top = make_pool(cloud, ipam["PrivateDefaultScopeId"], IpVersion="IPv4", PoolRegionId=HZ)
    add_cidr(cloud, top, "10.0.0.0/8")
    return {**ipam, "private": ipam["PrivateDefaultScopeId"], "public": ipam["PublicDefaultScopeId"],
            "top": top}


# ---- dispatcher and parameters ------------------------------------------------------------
def test_unknown_action_is_404(cloud):
    refused(cloud, "InvalidAction.NotFound", "CreateIpamTypo", {}, 404)


def test_missing_required_parameter(cloud):
    refused(cloud, "MissingParameter.RegionId", "CreateIpam", {})
    refused(cloud, "MissingParameter.IpamPoolId", "AddIpamPoolCidr", {"Cidr": "10.0.0.0/8"})


def test_bad_integer_and_boolean_values(world, cloud):
    refused(cloud, "InvalidParameter.AllocationCidrMask", "CreateIpamPool",
            {"IpamScopeId": world["private"], "AllocationMinCidrMask": "eight"})
    refused(cloud, "InvalidParameter.AutoImport", "CreateIpamPool",
            {"IpamScopeId": world["private"], "PoolRegionId": HZ, "AutoImport": "yes"})


def test_malformed_list_index_token_and_number(world, cloud):
    refused(cloud, "InvalidParameter.OperatingRegionList", "CreateIpam",
            {"RegionId": BJ, "OperatingRegionList.first": SH})
    refused(cloud, "InvalidParameter.NextToken", "ListIpamPools", {"NextToken": "abc"})
    refused(cloud, "InvalidParameter.AllocationCidrMask", "CreateIpamPool",
            {"IpamScopeId": world["private"], "AllocationMinCidrMask": 1.5})


def test_ids_have_the_cloud_formats(world, cloud):
    assert re.fullmatch(r"ipam-[0-9a-z]{17}", world["IpamId"])
    assert re.fullmatch(r"ipam-scope-[0-9a-z]{17}", world["private"])
    assert re.fullmatch(r"ipam-res-disco-[0-9a-z]{17}", world["DefaultResourceDiscoveryId"])
    assert re.fullmatch(r"ipam-pool-[0-9a-z]{17}", world["top"])
    alloc = cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": world["top"], "CidrMask": 24})
    assert re.fullmatch(r"ipam-pool-alloc-[0-9a-z]{17}", alloc["IpamPoolAllocationId"])


def test_ids_are_deterministic(tmp_path):
    def run(path):
        with SandboxCloud(path) as c:
            ipam = make_ipam(c)
            return ipam, make_pool(c, ipam["PrivateDefaultScopeId"])

    first, second = run(tmp_path / "c.db"), run(tmp_path / "d.db")
    strip = lambda r: ({k: v for k, v in r[0].items() if k != "RequestId"}, r[1])  # noqa: E731
    assert strip(first) == strip(second)  # RequestIds are unique; resource ids repeat


def test_wire_values_as_strings_ints_and_bools(world, cloud):
    a = make_pool(cloud, world["private"], SourceIpamPoolId=world["top"], AllocationMaxCidrMask="28",
                  AllocationDefaultCidrMask=24, AutoImport="True")
    b = make_pool(cloud, world["private"], SourceIpamPoolId=world["top"], AutoImport=True)
    c = make_pool(cloud, world["private"], SourceIpamPoolId=world["top"], AutoImport="false")
    row = pool_row(cloud, a)
    assert (row["AllocationMaxCidrMask"], row["AllocationDefaultCidrMask"], row["AutoImport"]) == (28, 24, True)
    assert pool_row(cloud, b)["AutoImport"] is True and pool_row(cloud, c)["AutoImport"] is False


def test_list_paging_with_next_token(world, cloud):
    for _ in range(12):
        make_pool(cloud, world["private"])
    first = cloud.call("ListIpamPools", {"IpamScopeId": world["private"]})
    assert (first["TotalCount"], first["Count"], first["MaxResults"]) == (13, 10, 10)
    rest = cloud.call("ListIpamPools", {"IpamScopeId": world["private"], "NextToken": first["NextToken"]})
    assert rest["Count"] == 3 and rest["NextToken"] == ""
    ids = [p["IpamPoolId"] for p in first["IpamPools"] + rest["IpamPools"]]
    assert len(set(ids)) == 13 and ids[0] == world["top"]
    refused(cloud, "InvalidParameter.MaxResults", "ListIpamPools", {"MaxResults": 101})


# ---- IPAM -------------------------------------------------------------------------------
def test_create_ipam_makes_two_default_scopes_and_keeps_the_managed_region(cloud):
    ipam = make_ipam(cloud, HZ, SH)
    assert set(ipam) == {"RequestId", "IpamId", "PrivateDefaultScopeId", "PublicDefaultScopeId",
                         "DefaultResourceDiscoveryId"}
    row = cloud.call("ListIpams", {"IpamIds.1": ipam["IpamId"]})["Ipams"][0]
    assert row["RegionId"] == HZ and set(row["OperatingRegionList"]) == {HZ, SH}
    assert row["ScopeCount"] == 2 and row["IpamStatus"] == "Created"
    scopes = cloud.call("ListIpamScopes", {"IpamId": ipam["IpamId"]})["IpamScopes"]
    kinds = {s["IpamScopeId"]: (s["IpamScopeType"], s["IsDefault"]) for s in scopes}
    assert kinds == {ipam["PrivateDefaultScopeId"]: ("private", True),
                     ipam["PublicDefaultScopeId"]: ("public", True)}


def test_one_ipam_per_region(cloud):
    make_ipam(cloud, HZ)
    refused(cloud, "QuotaExceeded.Ipam", "CreateIpam", {"RegionId": HZ})
    make_ipam(cloud, SH)
    assert cloud.call("ListIpams", {"RegionId": SH})["TotalCount"] == 1
    assert cloud.call("ListIpams")["TotalCount"] == 2


def test_update_ipam_regions_and_name(world, cloud):
    cloud.call("UpdateIpam", {"IpamId": world["IpamId"], "AddOperatingRegion.1": BJ,
                              "RemoveOperatingRegion.1": SH, "IpamName": "main"})
    row = cloud.call("ListIpams", {"IpamIds.1": world["IpamId"]})["Ipams"][0]
    assert set(row["OperatingRegionList"]) == {HZ, BJ} and row["IpamName"] == "main"


def test_managed_region_cannot_be_removed(world, cloud):
    refused(cloud, "OperationDenied.ManagedRegion", "UpdateIpam",
            {"IpamId": world["IpamId"], "RemoveOperatingRegion.1": HZ})


def test_region_used_by_a_pool_cannot_be_removed(world, cloud):
    pool = make_pool(cloud, world["private"], PoolRegionId=SH)
    refused(cloud, "OperationDenied.OperatingRegionInUse", "UpdateIpam",
            {"IpamId": world["IpamId"], "RemoveOperatingRegion.1": SH})
    cloud.call("DeleteIpamPool", {"IpamPoolId": pool})
    cloud.call("UpdateIpam", {"IpamId": world["IpamId"], "RemoveOperatingRegion.1": SH})


def test_delete_ipam_refused_while_pools_or_custom_scopes_exist(world, cloud):
    refused(cloud, "DependencyViolation.IpamPool", "DeleteIpam", {"IpamId": world["IpamId"]})
    cloud.call("DeleteIpamPoolCidr", {"IpamPoolId": world["top"], "Cidr": "10.0.0.0/8"})
    cloud.call("DeleteIpamPool", {"IpamPoolId": world["top"]})
    scope = cloud.call("CreateIpamScope", {"IpamId": world["IpamId"]})["IpamScopeId"]
    refused(cloud, "DependencyViolation.IpamScope", "DeleteIpam", {"IpamId": world["IpamId"]})
    cloud.call("DeleteIpamScope", {"IpamScopeId": scope})
    cloud.call("DeleteIpam", {"IpamId": world["IpamId"]})
    assert cloud.call("ListIpamScopes", {"IpamId": world["IpamId"]})["TotalCount"] == 0
    refused(cloud, "ResourceNotFound.Ipam", "DeleteIpam", {"IpamId": world["IpamId"]}, 404)
    make_ipam(cloud, HZ)  # the region's quota is free again


# ---- scopes -------------------------------------------------------------------------------
def test_only_private_scopes_can_be_created(world, cloud):
    refused(cloud, "InvalidParameter.IpamScopeType", "CreateIpamScope",
            {"IpamId": world["IpamId"], "IpamScopeType": "public"})
    refused(cloud, "ResourceNotFound.Ipam", "CreateIpamScope", {"IpamId": "ipam-nope"}, 404)


def test_scope_quota_counts_the_defaults(world, cloud):
    for _ in range(limits.SCOPES_PER_IPAM - 2):
        cloud.call("CreateIpamScope", {"IpamId": world["IpamId"], "IpamScopeType": "private"})
    refused(cloud, "QuotaExceeded.IpamScope", "CreateIpamScope", {"IpamId": world["IpamId"]})


def test_update_and_list_scopes(world, cloud):
    scope = cloud.call("CreateIpamScope", {"IpamId": world["IpamId"], "IpamScopeName": "b"})["IpamScopeId"]
    cloud.call("UpdateIpamScope", {"IpamScopeId": scope, "IpamScopeName": "acquired",
                                   "IpamScopeDescription": "company B"})
    row = cloud.call("ListIpamScopes", {"IpamScopeIds.1": scope})["IpamScopes"][0]
    assert (row["IpamScopeName"], row["IpamScopeDescription"], row["IsDefault"]) == ("acquired", "company B", False)
    assert row["IpamScopeType"] == "private" and row["IpamId"] == world["IpamId"] and row["PoolCount"] == 0
    make_pool(cloud, scope)
    listed = cloud.call("ListIpamScopes", {"IpamId": world["IpamId"]})["IpamScopes"]
    assert {s["IpamScopeId"]: s["PoolCount"] for s in listed}[world["private"]] == 1
    refused(cloud, "ResourceNotFound.IpamScope", "UpdateIpamScope", {"IpamScopeId": "ipam-scope-x"}, 404)


def test_delete_scope_rules(world, cloud):
    refused(cloud, "OperationDenied.DeleteDefaultScope", "DeleteIpamScope", {"IpamScopeId": world["public"]})
    scope = cloud.call("CreateIpamScope", {"IpamId": world["IpamId"]})["IpamScopeId"]
    pool = make_pool(cloud, scope)
    refused(cloud, "DependencyViolation.IpamPool", "DeleteIpamScope", {"IpamScopeId": scope})
    cloud.call("DeleteIpamPool", {"IpamPoolId": pool})
    cloud.call("DeleteIpamScope", {"IpamScopeId": scope})
    refused(cloud, "ResourceNotFound.IpamScope", "DeleteIpamScope", {"IpamScopeId": scope}, 404)


# ---- pools --------------------------------------------------------------------------------
def test_ip_version_matches_the_scope_type(world, cloud):
    refused(cloud, "InvalidParameter.IpVersion", "CreateIpamPool",
            {"IpamScopeId": world["private"], "IpVersion": "IPv6", "PoolRegionId": HZ})
    refused(cloud, "InvalidParameter.IpVersion", "CreateIpamPool",
            {"IpamScopeId": world["public"], "IpVersion": "IPv4", "PoolRegionId": HZ})
    refused(cloud, "InvalidParameter.IpVersion", "CreateIpamPool",
            {"IpamScopeId": world["private"], "IpVersion": "IPv5"})
    refused(cloud, "InvalidParameter.IpVersion", "CreateIpamPool",
            {"IpamScopeId": world["public"], "IpVersion": "IPv5", "PoolRegionId": HZ})
    # without IpVersion: the scope's version (public: IPv6) or the source's
    six = make_pool(cloud, world["public"], PoolRegionId=HZ)
    assert pool_row(cloud, six)["IpVersion"] == "IPv6"
    assert pool_row(cloud, make_pool(cloud, world["public"], SourceIpamPoolId=six))["IpVersion"] == "IPv6"


def test_sub_pool_source_in_the_same_scope(world, cloud):
    other = cloud.call("CreateIpamScope", {"IpamId": world["IpamId"]})["IpamScopeId"]
    refused(cloud, "InvalidParameter.SourceIpamPoolId", "CreateIpamPool",
            {"IpamScopeId": other, "SourceIpamPoolId": world["top"]})
    refused(cloud, "ResourceNotFound.IpamPool", "CreateIpamPool",
            {"IpamScopeId": world["private"], "SourceIpamPoolId": "ipam-pool-nope"}, 404)


def test_ipv6_top_level_pool_needs_a_region(world, cloud):
    refused(cloud, "MissingParameter.PoolRegionId", "CreateIpamPool",
            {"IpamScopeId": world["public"], "IpVersion": "IPv6"})
    pool = make_pool(cloud, world["public"], IpVersion="IPv6", PoolRegionId=HZ)
    row = pool_row(cloud, pool)
    assert (row["PoolRegionId"], row["Ipv6Isp"], row["IpVersion"]) == (HZ, "BGP", "IPv6")


def test_sub_pool_inherits_its_sources_region(world, cloud):
    sub = make_pool(cloud, world["private"], SourceIpamPoolId=world["top"])
    assert pool_row(cloud, sub)["PoolRegionId"] == HZ
    make_pool(cloud, world["private"], SourceIpamPoolId=world["top"], PoolRegionId=HZ)
    refused(cloud, "InvalidParameter.PoolRegionId", "CreateIpamPool",
            {"IpamScopeId": world["private"], "SourceIpamPoolId": world["top"], "PoolRegionId": SH})


def test_region_must_be_an_operating_region(world, cloud):
    refused(cloud, "InvalidParameter.PoolRegionId", "CreateIpamPool",
            {"IpamScopeId": world["private"], "PoolRegionId": BJ})
    regionless = make_pool(cloud, world["private"])
    assert pool_row(cloud, regionless)["PoolRegionId"] == ""
    refused(cloud, "InvalidParameter.PoolRegionId", "CreateIpamPool",
            {"IpamScopeId": world["private"], "SourceIpamPoolId": regionless, "PoolRegionId": BJ})
    sub = make_pool(cloud, world["private"], SourceIpamPoolId=regionless, PoolRegionId=SH)
    assert pool_row(cloud, sub)["PoolRegionId"] == SH


def test_auto_import_needs_an_effective_region(world, cloud):
    refused(cloud, "OperationDenied.AutoImportWithoutRegion", "CreateIpamPool",
            {"IpamScopeId": world["private"], "AutoImport": "true"})
    inherited = make_pool(cloud, world["private"], SourceIpamPoolId=world["top"], AutoImport="true")
    assert pool_row(cloud, inherited)["AutoImport"] is True
    regionless = make_pool(cloud, world["private"])
    refused(cloud, "OperationDenied.AutoImportWithoutRegion", "UpdateIpamPool",
            {"IpamPoolId": regionless, "AutoImport": True})
    cloud.call("UpdateIpamPool", {"IpamPoolId": world["top"], "AutoImport": True})
    assert pool_row(cloud, world["top"])["AutoImport"] is True


@pytest.mark.parametrize("masks", [
    {"AllocationMinCidrMask": 33},
    {"AllocationMaxCidrMask": -1},
    {"AllocationDefaultCidrMask": 40},
    {"AllocationMinCidrMask": 24, "AllocationMaxCidrMask": 16},
    {"AllocationMinCidrMask": 16, "AllocationMaxCidrMask": 24, "AllocationDefaultCidrMask": 28},
])
def test_allocation_mask_rules_on_create_and_update(world, cloud, masks):
    refused(cloud, "InvalidParameter.AllocationCidrMask", "CreateIpamPool",
            {"IpamScopeId": world["private"], **masks})
    refused(cloud, "InvalidParameter.AllocationCidrMask", "UpdateIpamPool",
            {"IpamPoolId": world["top"], **masks})


def test_ipv6_masks_range_to_128(world, cloud):
    pool = make_pool(cloud, world["public"], IpVersion="IPv6", PoolRegionId=HZ,
                     AllocationMinCidrMask=48, AllocationMaxCidrMask=64, AllocationDefaultCidrMask=56)
    assert pool_row(cloud, pool)["AllocationMaxCidrMask"] == 64
    refused(cloud, "InvalidParameter.AllocationCidrMask", "UpdateIpamPool",
            {"IpamPoolId": pool, "AllocationMaxCidrMask": 129})


def test_update_pool_masks_clear_default_name(world, cloud):
    cloud.call("UpdateIpamPool", {"IpamPoolId": world["top"], "AllocationMinCidrMask": 16,
                                  "AllocationMaxCidrMask": 28, "AllocationDefaultCidrMask": 24,
                                  "IpamPoolName": "root", "IpamPoolDescription": "all"})
    row = pool_row(cloud, world["top"])
    assert (row["AllocationMinCidrMask"], row["AllocationMaxCidrMask"], row["AllocationDefaultCidrMask"],
            row["IpamPoolName"]) == (16, 28, 24, "root")
    refused(cloud, "InvalidParameter.AllocationCidrMask", "UpdateIpamPool",
            {"IpamPoolId": world["top"], "AllocationMaxCidrMask": 20})  # default 24 > new max
    refused(cloud, "InvalidParameter.AllocationCidrMask", "UpdateIpamPool",
            {"IpamPoolId": world["top"], "ClearAllocationDefaultCidrMask": "true", "AllocationDefaultCidrMask": 24})
    cloud.call("UpdateIpamPool", {"IpamPoolId": world["top"], "ClearAllocationDefaultCidrMask": "true"})
    assert "AllocationDefaultCidrMask" not in pool_row(cloud, world["top"])
    cloud.call("UpdateIpamPool", {"IpamPoolId": world["top"], "AllocationMaxCidrMask": 20})


def test_pool_depth_quota(world, cloud):
    parent = world["top"]
    for depth in range(2, limits.POOL_MAX_DEPTH + 1):
        parent = make_pool(cloud, world["private"], SourceIpamPoolId=parent)
        assert pool_row(cloud, parent)["PoolDepth"] == depth
    refused(cloud, "QuotaExceeded.PoolDepth", "CreateIpamPool",
            {"IpamScopeId": world["private"], "SourceIpamPoolId": parent})


def test_sub_pools_per_pool_quota(world, cloud):
    for _ in range(limits.SUB_POOLS_PER_POOL):
        make_pool(cloud, world["private"], SourceIpamPoolId=world["top"])
    refused(cloud, "QuotaExceeded.SubPool", "CreateIpamPool",
            {"IpamScopeId": world["private"], "SourceIpamPoolId": world["top"]})
    assert pool_row(cloud, world["top"])["HasSubPool"] is True


def test_pools_per_private_scope_quota():
    with SandboxCloud() as cloud:
        scope = make_ipam(cloud)["PrivateDefaultScopeId"]
        for _ in range(limits.POOLS_PER_PRIVATE_SCOPE):
            make_pool(cloud, scope)
        refused(cloud, "QuotaExceeded.IpamPool", "CreateIpamPool", {"IpamScopeId": scope})


def test_one_public_ipv6_top_pool_per_region_and_isp(world, cloud):
    make_pool(cloud, world["public"], IpVersion="IPv6", PoolRegionId=HZ)
    refused(cloud, "QuotaExceeded.PublicIpv6TopPool", "CreateIpamPool",
            {"IpamScopeId": world["public"], "IpVersion": "IPv6", "PoolRegionId": HZ, "Ipv6Isp": "BGP"})
    make_pool(cloud, world["public"], IpVersion="IPv6", PoolRegionId=HZ, Ipv6Isp="ChinaMobile")
    make_pool(cloud, world["public"], IpVersion="IPv6", PoolRegionId=SH)
    refused(cloud, "InvalidParameter.Ipv6Isp", "CreateIpamPool",
            {"IpamScopeId": world["public"], "IpVersion": "IPv6", "PoolRegionId": SH, "Ipv6Isp": "Cable"})
    mobile = cloud.call("ListIpamPools", {"IpamScopeId": world["public"]})["IpamPools"][1]
    assert mobile["Ipv6Isp"] == "ChinaMobile"
    sub = make_pool(cloud, world["public"], SourceIpamPoolId=mobile["IpamPoolId"])
    assert pool_row(cloud, sub)["Ipv6Isp"] == "ChinaMobile"  # inherited, and not counted as a top pool
    refused(cloud, "InvalidParameter.Ipv6Isp", "CreateIpamPool",
            {"IpamScopeId": world["public"], "SourceIpamPoolId": mobile["IpamPoolId"], "Ipv6Isp": "BGP"})


def test_delete_pool_refusals_in_order(world, cloud):
    sub = make_pool(cloud, world["private"], SourceIpamPoolId=world["top"])
    add_cidr(cloud, sub, "10.1.0.0/16")
    alloc = cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": world["top"], "Cidr": "10.2.0.0/16"})
    refused(cloud, "DependencyViolation.SubCidr", "DeleteIpamPool", {"IpamPoolId": world["top"]})
    cloud.call("DeleteIpamPoolCidr", {"IpamPoolId": sub, "Cidr": "10.1.0.0/16"})
    cloud.call("DeleteIpamPool", {"IpamPoolId": sub})
    refused(cloud, "DependencyViolation.CustomPoolAllocation", "DeleteIpamPool", {"IpamPoolId": world["top"]})
    cloud.call("DeleteIpamPoolAllocation", {"IpamPoolAllocationId": alloc["IpamPoolAllocationId"]})
    refused(cloud, "DependencyViolation.PoolCidr", "DeleteIpamPool", {"IpamPoolId": world["top"]})
    cloud.call("DeleteIpamPoolCidr", {"IpamPoolId": world["top"], "Cidr": "10.0.0.0/8"})
    cloud.call("DeleteIpamPool", {"IpamPoolId": world["top"]})
    assert cloud.call("ListIpamPools", {"IpamScopeId": world["private"]})["TotalCount"] == 0
    refused(cloud, "ResourceNotFound.IpamPool", "DeleteIpamPool", {"IpamPoolId": world["top"]}, 404)


def test_list_pools_rows_and_filters(world, cloud):
    sub = make_pool(cloud, world["private"], SourceIpamPoolId=world["top"], IpamPoolName="sub")
    add_cidr(cloud, sub, "10.0.0.0/16")
    other = make_pool(cloud, world["private"], PoolRegionId=SH)
    row = pool_row(cloud, sub)
    for key in ("PoolDepth", "HasSubPool", "Cidrs", "IpVersion", "PoolRegionId", "SourceIpamPoolId",
                "AllocationMinCidrMask", "AllocationMaxCidrMask", "AutoImport", "IpamScopeId"):
        assert key in row
    assert (row["PoolDepth"], row["HasSubPool"], row["Cidrs"]) == (2, False, ["10.0.0.0/16"])
    assert row["SourceIpamPoolId"] == world["top"] and row["IpamScopeId"] == world["private"]
    ids = lambda r: [p["IpamPoolId"] for p in r["IpamPools"]]  # noqa: E731
    assert ids(cloud.call("ListIpamPools", {"SourceIpamPoolId": world["top"]})) == [sub]
    assert ids(cloud.call("ListIpamPools", {"PoolRegionId": SH})) == [other]
    assert ids(cloud.call("ListIpamPools", {"IpamScopeId": world["private"]})) == [world["top"], sub, other]
    assert ids(cloud.call("ListIpamPools", {"IpamPoolIds.1": other, "IpamPoolIds.2": sub})) == [sub, other]


# ---- pool CIDRs ---------------------------------------------------------------------------
def test_add_cidr_needs_a_cidr_or_a_mask(world, cloud):
    refused(cloud, "MissingParam.CidrOrCidrMask", "AddIpamPoolCidr", {"IpamPoolId": world["top"]})


def test_add_cidr_must_be_standard_and_of_the_pools_version(world, cloud):
    pool = make_pool(cloud, world["private"])
    refused(cloud, "InvalidParameter.CidrNotStandard", "AddIpamPoolCidr", {"IpamPoolId": pool, "Cidr": "172.16.0.1/16"})
    refused(cloud, "InvalidParameter.Cidr", "AddIpamPoolCidr", {"IpamPoolId": pool, "Cidr": "172.16.0/16"})
    refused(cloud, "InvalidParameter.Cidr", "AddIpamPoolCidr", {"IpamPoolId": pool, "Cidr": "fd00::/8"})


def test_ipv4_top_level_pool_takes_explicit_cidrs_only(world, cloud):
    pool = make_pool(cloud, world["private"])
    refused(cloud, "InvalidParameter.NetmaskLength", "AddIpamPoolCidr", {"IpamPoolId": pool, "NetmaskLength": 16})
    refused(cloud, "InvalidParameter.NetmaskLength", "AddIpamPoolCidr",
            {"IpamPoolId": pool, "Cidr": "172.16.0.0/12", "NetmaskLength": 16})
    refused(cloud, "InvalidParameter.NetmaskLength", "AddIpamPoolCidr", {"IpamPoolId": pool, "NetmaskLength": 33})
    assert add_cidr(cloud, pool, "172.16.0.0/12", 12) == "172.16.0.0/12"


def test_top_level_cidrs_do_not_overlap_in_a_scope(world, cloud):
    pool = make_pool(cloud, world["private"])
    refused(cloud, "OperationDenied.CidrOverlapInScope", "AddIpamPoolCidr", {"IpamPoolId": pool, "Cidr": "10.5.0.0/16"})
    refused(cloud, "OperationDenied.CidrOverlapInScope", "AddIpamPoolCidr", {"IpamPoolId": world["top"], "Cidr": "10.0.0.0/16"})
    add_cidr(cloud, pool, "172.16.0.0/12")
    other = cloud.call("CreateIpamScope", {"IpamId": world["IpamId"]})["IpamScopeId"]
    add_cidr(cloud, make_pool(cloud, other), "10.0.0.0/8")  # scopes may overlap each other
    rows = cloud.call("ListIpamPoolCidrs", {"IpamPoolId": pool})["IpamPoolCidrs"]
    assert rows == [{"Cidr": "172.16.0.0/12", "IpamPoolId": pool, "Status": "Created"}]


def test_public_ipv6_top_level_pool_provisioning(world, cloud):
    a = make_pool(cloud, world["public"], IpVersion="IPv6", PoolRegionId=HZ)
    refused(cloud, "InvalidParameter.Cidr", "AddIpamPoolCidr", {"IpamPoolId": a, "Cidr": "2408:4000::/40"})
    assert add_cidr(cloud, a, mask=40) == "2408:4000::/40"
    refused(cloud, "QuotaExceeded.IpamPoolCidr", "AddIpamPoolCidr", {"IpamPoolId": a, "NetmaskLength": 40})
    other = make_ipam(cloud, BJ)["PublicDefaultScopeId"]
    b = make_pool(cloud, other, IpVersion="IPv6", PoolRegionId=BJ)
    assert add_cidr(cloud, b, mask=40) == "2408:4000:100::/40"  # not the block used by a
    c = make_pool(cloud, world["public"], IpVersion="IPv6", PoolRegionId=SH)
    refused(cloud, "OperationDenied.AvailableCidrInsufficient", "AddIpamPoolCidr", {"IpamPoolId": c, "NetmaskLength": 24})
    cloud.call("DeleteIpamPoolCidr", {"IpamPoolId": a, "Cidr": "2408:4000::/40"})
    assert add_cidr(cloud, c, mask=48) == "2408:4000::/48"  # lowest free again


def test_ipv6_supply_with_56_blocks_is_instant(world, cloud):
    top = make_pool(cloud, world["public"], IpVersion="IPv6", PoolRegionId=HZ)
    assert add_cidr(cloud, top, mask=32) == "2408:4000::/32"
    sub = make_pool(cloud, world["public"], SourceIpamPoolId=top)
    assert add_cidr(cloud, sub, mask=33) == "2408:4000::/33"
    got = cloud.call("GetIpamPoolNextAvailableCidr", {"IpamPoolId": top, "CidrMask": 56})
    assert got["CidrBlock"] == "2408:4000:8000::/56"
    for i in range(200):
        cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": top, "CidrMask": 56})
    last = cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": top, "CidrMask": 56})
    assert last["Cidr"] == "2408:4000:8000:c800::/56" and last["SourceCidr"] == "2408:4000::/32"


def test_sub_pool_cidrs_come_from_the_source(world, cloud):
    sub = make_pool(cloud, world["private"], SourceIpamPoolId=world["top"])
    sibling = make_pool(cloud, world["private"], SourceIpamPoolId=world["top"])
    add_cidr(cloud, sibling, "10.0.0.0/16")
    cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": world["top"], "Cidr": "10.1.0.0/16"})
    for taken in ("10.0.5.0/24", "10.1.0.0/17", "192.168.0.0/16", "10.0.0.0/8"):
        refused(cloud, "OperationDenied.CidrUnavailableInPool", "AddIpamPoolCidr", {"IpamPoolId": sub, "Cidr": taken})
    assert add_cidr(cloud, sub, mask=16) == "10.2.0.0/16"
    assert add_cidr(cloud, sub, "10.128.0.0/9") == "10.128.0.0/9"
    rows = [a for a in allocs(cloud, world["top"]) if a["ResourceId"] == sub]
    assert {(a["Cidr"], a["ResourceType"], a["SourceCidr"], a["ResourceRegionId"]) for a in rows} == {
        ("10.2.0.0/16", "IpamPool", "10.0.0.0/8", HZ), ("10.128.0.0/9", "IpamPool", "10.0.0.0/8", HZ)}
    refused(cloud, "OperationDenied.AvailableCidrInsufficient", "AddIpamPoolCidr", {"IpamPoolId": sub, "NetmaskLength": 9})
    assert pool_row(cloud, sub)["Cidrs"] == ["10.2.0.0/16", "10.128.0.0/9"]


def test_cidrs_per_pool_quota(world, cloud):
    pool = make_pool(cloud, world["private"])
    for i in range(limits.CIDRS_PER_POOL):
        add_cidr(cloud, pool, f"172.{16 + i // 16}.{(i % 16) * 16}.0/20")
    refused(cloud, "QuotaExceeded.IpamPoolCidr", "AddIpamPoolCidr", {"IpamPoolId": pool, "Cidr": "192.168.0.0/16"})
    sub = make_pool(cloud, world["private"], SourceIpamPoolId=world["top"])
    for i in range(limits.CIDRS_PER_POOL):
        add_cidr(cloud, sub, mask=24)
    refused(cloud, "QuotaExceeded.IpamPoolCidr", "AddIpamPoolCidr", {"IpamPoolId": sub, "NetmaskLength": 24})


def test_deprovision_rules(world, cloud):
    refused(cloud, "ResourceNotFound.IpamPoolCidr", "DeleteIpamPoolCidr",
            {"IpamPoolId": world["top"], "Cidr": "10.0.0.0/9"}, 404)
    sub = make_pool(cloud, world["private"], SourceIpamPoolId=world["top"])
    add_cidr(cloud, sub, "10.0.0.0/16")
    refused(cloud, "OperationDenied.IpamPoolAllocationExist", "DeleteIpamPoolCidr",
            {"IpamPoolId": world["top"], "Cidr": "10.0.0.0/8"})
    alloc = cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": sub, "CidrMask": 24})
    refused(cloud, "OperationDenied.IpamPoolAllocationExist", "DeleteIpamPoolCidr",
            {"IpamPoolId": sub, "Cidr": "10.0.0.0/16"})
    cloud.call("DeleteIpamPoolAllocation", {"IpamPoolAllocationId": alloc["IpamPoolAllocationId"]})
    cloud.call("DeleteIpamPoolCidr", {"IpamPoolId": sub, "Cidr": "10.0.0.0/16"})
    assert allocs(cloud, world["top"]) == []  # the IpamPool allocation went with it
    assert pool_row(cloud, sub)["Cidrs"] == []
    cloud.call("DeleteIpamPoolCidr", {"IpamPoolId": world["top"], "Cidr": "10.0.0.0/8"})


# ---- allocations --------------------------------------------------------------------------
def test_custom_allocation_explicit_and_listed(world, cloud):
    got = cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": world["top"], "Cidr": "10.0.160.0/22",
                                                  "IpamPoolAllocationName": "dc"})
    assert set(got) == {"RequestId", "IpamPoolAllocationId", "Cidr", "SourceCidr"}
    assert (got["Cidr"], got["SourceCidr"]) == ("10.0.160.0/22", "10.0.0.0/8")
    row = cloud.call("ListIpamPoolAllocations", {"IpamPoolAllocationIds.1": got["IpamPoolAllocationId"]})
    row = row["IpamPoolAllocations"][0]
    assert (row["ResourceType"], row["Cidr"], row["SourceCidr"], row["IpamPoolAllocationName"],
            row["ResourceRegionId"]) == ("Custom", "10.0.160.0/22", "10.0.0.0/8", "dc", HZ)
    assert "ResourceId" in row
    by_cidr = cloud.call("ListIpamPoolAllocations", {"IpamPoolId": world["top"], "Cidr": "10.0.160.0/22"})
    assert by_cidr["TotalCount"] == 1


def test_update_allocation_name(world, cloud):
    got = cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": world["top"], "CidrMask": 24})
    cloud.call("UpdateIpamPoolAllocation", {"IpamPoolAllocationId": got["IpamPoolAllocationId"],
                                            "IpamPoolAllocationName": "lab", "IpamPoolAllocationDescription": "d"})
    row = cloud.call("ListIpamPoolAllocations", {"IpamPoolId": world["top"]})["IpamPoolAllocations"][0]
    assert (row["IpamPoolAllocationName"], row["IpamPoolAllocationDescription"], row["Cidr"]) == ("lab", "d", "10.0.0.0/24")
    refused(cloud, "ResourceNotFound.IpamPoolAllocation", "UpdateIpamPoolAllocation",
            {"IpamPoolAllocationId": "ipam-pool-alloc-x", "IpamPoolAllocationName": "n"}, 404)


def test_allocation_must_be_free_and_inside(world, cloud):
    cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": world["top"], "Cidr": "10.0.0.0/16"})
    for cidr in ("10.0.1.0/24", "10.0.0.0/15", "11.0.0.0/16"):
        refused(cloud, "OperationDenied.CidrUnavailableInPool", "CreateIpamPoolAllocation",
                {"IpamPoolId": world["top"], "Cidr": cidr})


def test_allocation_mask_within_rules(world, cloud):
    cloud.call("UpdateIpamPool", {"IpamPoolId": world["top"], "AllocationMinCidrMask": 16,
                                  "AllocationMaxCidrMask": 24})
    for params in ({"Cidr": "10.0.0.0/12"}, {"Cidr": "10.0.0.0/28"}, {"CidrMask": 25}, {"CidrMask": 8}):
        refused(cloud, "OperationDenied.MaskOfCidrIsNotAllowed", "CreateIpamPoolAllocation",
                {"IpamPoolId": world["top"], **params})
    refused(cloud, "OperationDenied.MaskOfCidrIsNotAllowed", "GetIpamPoolNextAvailableCidr",
            {"IpamPoolId": world["top"], "CidrMask": 25})


def test_allocation_by_mask_takes_the_lowest_free_block(world, cloud):
    cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": world["top"], "Cidr": "10.0.0.0/24"})
    cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": world["top"], "Cidr": "10.0.2.0/24"})
    got = lambda m: cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": world["top"], "CidrMask": m})["Cidr"]  # noqa: E731
    assert got(24) == "10.0.1.0/24"
    assert got(23) == "10.0.4.0/23"
    assert got(8 + 1) == "10.128.0.0/9"
    refused(cloud, "OperationDenied.AvailableCidrInsufficient", "CreateIpamPoolAllocation",
            {"IpamPoolId": world["top"], "CidrMask": 9})


def test_allocation_cidr_and_mask_must_agree(world, cloud):
    refused(cloud, "InvalidParameter.CidrMask", "CreateIpamPoolAllocation",
            {"IpamPoolId": world["top"], "Cidr": "10.0.0.0/16", "CidrMask": 24})
    refused(cloud, "InvalidParameter.Cidr", "CreateIpamPoolAllocation",
            {"IpamPoolId": world["top"], "Cidr": "fd00::/16"})
    got = cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": world["top"], "Cidr": "10.0.0.0/16", "CidrMask": "16"})
    assert got["Cidr"] == "10.0.0.0/16"


def test_allocation_default_mask_or_missing(world, cloud):
    refused(cloud, "MissingParam.CidrOrCidrMask", "CreateIpamPoolAllocation", {"IpamPoolId": world["top"]})
    cloud.call("UpdateIpamPool", {"IpamPoolId": world["top"], "AllocationDefaultCidrMask": 20})
    assert cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": world["top"]})["Cidr"] == "10.0.0.0/20"


def test_empty_pool_has_nothing_to_allocate(world, cloud):
    pool = make_pool(cloud, world["private"])
    refused(cloud, "OperationDenied.AvailableCidrInsufficient", "CreateIpamPoolAllocation",
            {"IpamPoolId": pool, "CidrMask": 24})
    refused(cloud, "OperationDenied.CidrUnavailableInPool", "CreateIpamPoolAllocation",
            {"IpamPoolId": pool, "Cidr": "192.168.0.0/24"})


def test_release_allocations(world, cloud):
    got = cloud.call("CreateIpamPoolAllocation", {"IpamPoolId": world["top"], "CidrMask": 16})
    cloud.call("DeleteIpamPoolAllocation", {"IpamPoolAllocationId": got["IpamPoolAllocationId"]})
    assert allocs(cloud, world["top"]) == []
    refused(cloud, "ResourceNotFound.IpamPoolAllocation", "DeleteIpamPoolAllocation",
            {"IpamPoolAllocationId": got["IpamPoolAllocationId"]}, 404)
    sub = make_pool(cloud, world["private"], SourceIpamPoolId=world["top"])
    add_cidr(cloud, sub, mask=16)
    (alloc,) = allocs(cloud, world["top"])
    refused(cloud, "OperationDenied.AllocationTypeNotSupported", "DeleteIpamPoolAllocation",
            {"IpamPoolAllocationId": alloc["IpamPoolAllocationId"]})


def test_next_available_cidr_reserves_nothing(world, cloud):
    ask = {"IpamPoolId": world["top"], "CidrMask": 16}
    assert cloud.call("GetIpamPoolNextAvailableCidr", ask)["CidrBlock"] == "10.0.0.0/16"
    assert cloud.call("GetIpamPoolNextAvailableCidr", ask)["CidrBlock"] == "10.0.0.0/16"
    cloud.call("CreateIpamPoolAllocation", ask)
    assert cloud.call("GetIpamPoolNextAvailableCidr", ask)["CidrBlock"] == "10.1.0.0/16"
    assert cloud.call("GetIpamPoolNextAvailableCidr", {"IpamPoolId": world["top"], "CidrBlock": "10.9.0.0/16"}) \
        ["CidrBlock"] == "10.9.0.0/16"
    refused(cloud, "OperationDenied.CidrUnavailableInPool", "GetIpamPoolNextAvailableCidr",
            {"IpamPoolId": world["top"], "CidrBlock": "10.0.0.0/24"})
    refused(cloud, "MissingParam.CidrOrCidrMask", "GetIpamPoolNextAvailableCidr", {"IpamPoolId": world["top"]})
