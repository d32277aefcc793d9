"""Sandbox security groups (ECS 2014-05-26): CreateSecurityGroup, ModifySecurityGroupAttribute
(SecurityGroupName, Description), DeleteSecurityGroup, DescribeSecurityGroups.

A group lives in a VPC of its region and is of SecurityGroupType ``normal`` (basic, default) or
``enterprise`` (advanced); its private-IP quota (``eni_limits.SECURITY_GROUP_PRIVATE_IP_QUOTA``) is
enforced by every ENI write (:func:`reconciler.cloud.ecs_api.save_eni`). A group that an ENI still
uses cannot be deleted.

Codes: MissingParameter.RegionId / .VpcId, InvalidVpcId.NotFound, InvalidSecurityGroupId.NotFound,
InvalidParameter.SecurityGroupType (inferred), DependencyViolation.NetworkInterface (inferred).
"""

from __future__ import annotations

from reconciler.cloud.ecs_api import SG, op, page
from reconciler.cloud.sandbox import Request, fail
from reconciler.net import eni_limits as L


def get_sg(req: Request) -> dict:
    sg = req.resource(SG, "SecurityGroupId", "InvalidSecurityGroupId.NotFound")
    region = req.text("RegionId")
    if region is not None and region != sg["RegionId"]:
        raise fail("InvalidSecurityGroupId.NotFound", f"{sg['SecurityGroupId']} is not in region {region}")
    return sg


@op("CreateSecurityGroup")
def create_security_group(req: Request) -> dict:
    region = req.text("RegionId", required=True)
    vpc = req.resource("vpc", "VpcId", "InvalidVpcId.NotFound")
    if vpc["RegionId"] != region:
        raise fail("InvalidVpcId.NotFound", f"{vpc['VpcId']} is not in region {region}")
    kind = req.text("SecurityGroupType") or "normal"
    if kind not in L.SECURITY_GROUP_TYPES:
        raise fail("InvalidParameter.SecurityGroupType", f"SecurityGroupType {kind!r} is not normal or enterprise")
    sg = req.create(SG, "sg-", "SecurityGroupId", RegionId=region, VpcId=vpc["VpcId"], SecurityGroupType=kind,
                    SecurityGroupName=req.text("SecurityGroupName") or "",
                    Description=req.text("Description") or "", _ips=0, _enis=0)
    return {"SecurityGroupId": sg["SecurityGroupId"]}


@op("ModifySecurityGroupAttribute")
def modify_security_group(req: Request) -> dict:
    sg = get_sg(req)
    fields = {k: req.text(k) for k in ("SecurityGroupName", "Description") if req.text(k) is not None}
    req.store.put({**sg, **fields})
    return {}


@op("DeleteSecurityGroup")
def delete_security_group(req: Request) -> dict:
    sg = get_sg(req)
    if sg["_enis"]:
        raise fail("DependencyViolation.NetworkInterface",
                   f"{sg['SecurityGroupId']} is still used by {sg['_enis']} ENI(s)")
    req.delete(SG, sg)
    return {}


def sg_row(sg: dict) -> dict:
    return {"SecurityGroupId": sg["SecurityGroupId"], "SecurityGroupName": sg["SecurityGroupName"],
            "Description": sg["Description"], "VpcId": sg["VpcId"], "SecurityGroupType": sg["SecurityGroupType"],
            "RegionId": sg["RegionId"]}


@op("DescribeSecurityGroups")
def describe_security_groups(req: Request) -> dict:
    region, vpc_id = req.text("RegionId"), req.text("VpcId")
    kind, name = req.text("SecurityGroupType"), req.text("SecurityGroupName")
    ids = [i.strip() for i in (req.text("SecurityGroupIds") or req.text("SecurityGroupId") or "")
           .strip("[]").replace('"', "").split(",") if i.strip()]
    if ids:
        rows = req.store.pick(SG, ids)
    elif vpc_id is not None:
        rows = req.store.find(SG, "vpc", vpc_id)
    elif region is not None:
        rows = req.store.find(SG, "region", region)
    else:
        rows = req.store.all(SG)
    rows = [g for g in rows if (region is None or g["RegionId"] == region) and (vpc_id is None or g["VpcId"] == vpc_id)
            and (kind is None or g["SecurityGroupType"] == kind) and (name is None or g["SecurityGroupName"] == name)]
    return page(req, rows, "SecurityGroups", "SecurityGroup", sg_row)
