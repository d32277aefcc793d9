"""A RAM policy bound to the served sandbox's key: allowed calls pass, others are Forbidden.RAM with
the AccessDeniedDetail the SDK hands back; a bad policy is a clear error before serving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alibabacloud_vpc20160428 import models as vpc_models
from alibabacloud_vpcipam20230228 import models as ipam_models
from Tea.exceptions import TeaException

from reconciler.errors import SpecError
from reconciler.serve.ram import load_policy, parse_policy
from tests.support.served import HZ, served

POLICY = {"Version": "1", "Statement": [
    {"Effect": "Allow", "Action": ["VPC:describe*", "vpc:*Ipam*"], "Resource": "*"},
    {"Effect": "Deny", "Action": "vpc:DeleteIpam*", "Resource": ["*"]},
    {"Effect": "Allow", "Action": "ecs:DescribeInstanceTyp?s", "Resource": "*"},
]}


def denied(fn, *args) -> TeaException:
    with pytest.raises(TeaException) as info:
        fn(*args)
    assert (info.value.code, info.value.data["statusCode"]) == ("Forbidden.RAM", 403)
    assert info.value.data["Message"] == ("User not authorized to operate on the specified resource, "
                                          "or this API doesn't support RAM.")
    return info.value


def test_allowed_calls_pass_and_others_are_forbidden(tmp_path: Path):
    with served(tmp_path / "sandbox.db", policy=POLICY, log=tmp_path / "calls.log") as s:
        vpc, ipam = s.vpc(), s.ipam()
        assert vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=HZ)).body.total_count == 0
        implicit = denied(vpc.create_vpc, vpc_models.CreateVpcRequest(region_id=HZ, cidr_block="10.0.0.0/16"))
        detail = implicit.access_denied_detail
        assert (detail["AuthAction"], detail["NoPermissionType"]) == ("vpc:CreateVpc", "ImplicitDeny")
        assert detail["AuthPrincipalDisplayName"] == s.key.id and detail["PolicyType"] and detail["AuthPrincipalType"]
        made = ipam.create_ipam(ipam_models.CreateIpamRequest(region_id=HZ, operating_region_list=[HZ])).body
        explicit = denied(ipam.delete_ipam, ipam_models.DeleteIpamRequest(region_id=HZ, ipam_id=made.ipam_id))
        assert explicit.access_denied_detail["NoPermissionType"] == "ExplicitDeny"
        assert explicit.access_denied_detail["AuthAction"] == "vpc:DeleteIpam"
        # the ? wildcard stands for one character: ecs:DescribeInstanceTyp?s allows DescribeInstanceTypes
        assert s.call("DescribeInstanceTypes", "2014-05-26")["InstanceTypes"]["InstanceType"]
        denied(lambda: s.call("DescribeNetworkInterfaces", "2014-05-26", RegionId=HZ))
        codes = [(c["auth_action"], c["code"]) for c in s.calls()]
        assert ("vpc:CreateVpc", "Forbidden.RAM") in codes and ("vpc:CreateIpam", "OK") in codes
        assert ipam.list_ipams(ipam_models.ListIpamsRequest(region_id=HZ)).body.total_count == 1


def test_a_policy_allowing_everything_but_one_action(tmp_path: Path):
    policy = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                                            {"Effect": "Deny", "Action": "vpc:CreateVpc", "Resource": "*"}]}
    with served(tmp_path / "sandbox.db", policy=policy) as s:
        denied(s.vpc(v2=True).create_vpc, vpc_models.CreateVpcRequest(region_id=HZ, cidr_block="10.0.0.0/16"))
        assert s.vpc(v2=True).describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=HZ)).body.total_count == 0


def test_the_decisions():
    policy = parse_policy(POLICY)
    assert policy.decide("vpc:DescribeVpcs") == "Allow"
    assert policy.decide("VPC:DESCRIBEVSWITCHES") == "Allow"
    assert policy.decide("vpc:CreateVpc") == "ImplicitDeny"
    assert policy.decide("vpc:DeleteIpamPool") == "ExplicitDeny"
    assert policy.decide("ecs:DescribeInstanceTypes") == "Allow"
    assert policy.decide("ecs:DescribeInstanceTyps") == "ImplicitDeny"  # ? is exactly one character


@pytest.mark.parametrize("doc, words", [
    ({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "vpc:*", "Resource": "acs:vpc:*:*:vpc/*"}]},
     "only \"*\""),
    ({"Version": "2", "Statement": []}, "Version"),
    ({"Version": "1", "Statement": [{"Effect": "Permit", "Action": "vpc:*", "Resource": "*"}]}, "Effect"),
    ({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "CreateVpc", "Resource": "*"}]}, "service:Action"),
    ({"Version": "1", "Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}, "Action"),
    ({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "vpc:*", "Resource": "*",
                                     "Condition": {}}]}, "Condition"),
    ([], "JSON object"),
])
def test_a_bad_policy_is_a_clear_error(doc, words):
    with pytest.raises(SpecError) as info:
        parse_policy(doc)
    assert info.value.code == "Serve.Policy" and words in info.value.detail


def test_a_policy_file_that_is_not_json(tmp_path: Path):
    (tmp_path / "p.json").write_text("{not json")
    with pytest.raises(SpecError, match="is not JSON"):
        load_policy(tmp_path / "p.json")
    with pytest.raises(SpecError, match="cannot read"):
        load_policy(tmp_path / "missing.json")
    (tmp_path / "ok.json").write_text(json.dumps(POLICY))
    assert load_policy(tmp_path / "ok.json").decide("vpc:ListIpams") == "Allow"
