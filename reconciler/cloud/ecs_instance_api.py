"""Sandbox instances (ECS 2014-05-26): CreateInstance, StartInstance, StopInstance,
ModifyInstanceAttribute (InstanceName, Description), DeleteInstance, DescribeInstances,
DescribeInstanceTypes.

CreateInstance(RegionId, InstanceType, VSwitchId, SecurityGroupId, PrivateIpAddress, InstanceName,
Description, sandbox-only InstanceStatus = Running | Stopped | Pending, default Running) makes the instance and
its primary ENI (Type Primary, Status InUse) holding the primary address: the given one, or the
vSwitch's lowest free automatic address (rules of :mod:`reconciler.cloud.ecs_address`); the
security group must be in the vSwitch's VPC and the address counts against its quota. The type must
be in the instance-type table (``eni_limits.load_instance_types``).

StartInstance: Stopped or Pending -> Running (Pending is a sandbox state that only Start leaves).
StopInstance: Running -> Stopped. DeleteInstance: a Stopped instance, or any with Force=true; it
deletes the primary ENI (releasing its addresses) and detaches the secondary ENIs, which become
Available. DescribeInstanceTypes(InstanceTypes.N, at most 10; InstanceTypeFamily) returns the table's
rows, unknown names left out like the real API.

Codes: MissingParameter.RegionId / .InstanceType / .VSwitchId / .SecurityGroupId,
InvalidInstanceType.NotFound, InvalidVSwitchId.NotFound, InvalidSecurityGroupId.NotFound,
InvalidInstanceId.NotFound, IncorrectInstanceStatus, and the address codes of ``ecs_address``.
Inferred: InvalidSecurityGroupId.VpcMismatch, InvalidParameter.InstanceStatus,
InvalidParameter.InstanceTypes (more than 10 names). With ``realism.pending_seconds``, CreateInstance in a
Pending vSwitch is IncorrectVSwitchStatus (documented for RunInstances: the vSwitch is not available).
"""

from __future__ import annotations

import json

from reconciler.cloud.ecs_address import Allocator
from reconciler.cloud.ecs_api import (
    ENI,
    INSTANCE,
    drop_bandwidth,
    get_instance,
    get_vswitch,
    instance_types,
    listed,
    op,
    page,
    save_eni,
    security_groups,
)
from reconciler.cloud.realism import require_ready
from reconciler.cloud.sandbox import Request, fail

STATUSES = ("Running", "Stopped", "Pending")


@op("CreateInstance")
def create_instance(req: Request) -> dict:
    region = req.text("RegionId", required=True)
    type_name = req.text("InstanceType", required=True)
    itype = instance_types(req).get(type_name)
    if itype is None:
        raise fail("InvalidInstanceType.NotFound", f"instance type {type_name!r} is not known")
    vsw = get_vswitch(req, region)
    require_ready(req.cloud.realism, vsw, "IncorrectVSwitchStatus", vsw["VSwitchId"])
    req.text("SecurityGroupId", required=True)
    groups = security_groups(req, vsw["VpcId"], "SecurityGroupId", "SecurityGroupIds", required=True)
    status = req.text("InstanceStatus") or "Running"
    if status not in STATUSES:
        raise fail("InvalidParameter.InstanceStatus", f"InstanceStatus {status!r} is not one of {STATUSES}")
    alloc = Allocator(req, vsw)
    given = req.text("PrivateIpAddress")
    primary = alloc.address(4, given) if given else alloc.auto_address(4)
    inst = req.create(INSTANCE, "i-", "InstanceId", RegionId=region, ZoneId=vsw["ZoneId"], VpcId=vsw["VpcId"],
                      VSwitchId=vsw["VSwitchId"], InstanceType=itype.name, InstanceName=req.text("InstanceName") or "",
                      Description=req.text("Description") or "", Status=status, SecurityGroupIds=groups)
    eni_id, seq = req.new_id("eni-")
    save_eni(req, {
        "NetworkInterfaceId": eni_id, "NetworkInterfaceName": "", "Description": "", "Status": "InUse",
        "Type": "Primary", "ServiceManaged": False, "ServiceID": "", "InstanceId": inst["InstanceId"],
        "RegionId": region, "ZoneId": vsw["ZoneId"], "VpcId": vsw["VpcId"], "VSwitchId": vsw["VSwitchId"],
        "SecurityGroupIds": groups, "PrivateIpAddress": primary, "SecondaryIps": [], "Ipv4Prefixes": [],
        "Ipv6Addresses": [], "Ipv6Prefixes": [], "Tags": [], "_kind": ENI, "_id": eni_id, "_seq": seq})
    return {"InstanceId": inst["InstanceId"]}


def _set_status(req: Request, allowed: tuple[str, ...], status: str) -> dict:
    inst = get_instance(req)
    if inst["Status"] not in allowed:
        raise fail("IncorrectInstanceStatus", f"{inst['InstanceId']} is {inst['Status']}; "
                   f"{req.action} needs {' or '.join(allowed)}")
    req.store.put({**inst, "Status": status})
    return {}


@op("StartInstance")
def start_instance(req: Request) -> dict:
    return _set_status(req, ("Stopped", "Pending"), "Running")


@op("StopInstance")
def stop_instance(req: Request) -> dict:
    return _set_status(req, ("Running",), "Stopped")


@op("ModifyInstanceAttribute")
def modify_instance(req: Request) -> dict:
    inst = get_instance(req)
    fields = {k: req.text(k) for k in ("InstanceName", "Description") if req.text(k) is not None}
    req.store.put({**inst, **fields})
    return {}


@op("DeleteInstance")
def delete_instance(req: Request) -> dict:
    inst = get_instance(req)
    if inst["Status"] != "Stopped" and not req.flag("Force"):
        raise fail("IncorrectInstanceStatus", f"{inst['InstanceId']} is {inst['Status']}: stop it or give Force=true")
    for eni in req.store.find(ENI, "instance", inst["InstanceId"]):
        if eni["Type"] == "Primary":
            drop_bandwidth(req, eni)
            save_eni(req, None, eni)
        else:
            save_eni(req, {**eni, "Status": "Available", "InstanceId": ""}, eni)
    req.delete(INSTANCE, inst)
    return {}


def instance_row(req: Request, inst: dict) -> dict:
    enis = req.store.find(ENI, "instance", inst["InstanceId"])
    primary = next(e for e in enis if e["Type"] == "Primary")
    return {
        "InstanceId": inst["InstanceId"], "InstanceName": inst["InstanceName"],
        "Description": inst["Description"], "RegionId": inst["RegionId"],
        "ZoneId": inst["ZoneId"], "InstanceType": inst["InstanceType"], "Status": inst["Status"],
        "VpcId": inst["VpcId"], "VSwitchId": inst["VSwitchId"],
        "SecurityGroupIds": {"SecurityGroupId": list(inst["SecurityGroupIds"])},
        "VpcAttributes": {"VpcId": inst["VpcId"], "VSwitchId": inst["VSwitchId"],
                          "PrivateIpAddress": {"IpAddress": [primary["PrivateIpAddress"]]}},
        "NetworkInterfaces": {"NetworkInterface": [{
            "NetworkInterfaceId": e["NetworkInterfaceId"], "Type": e["Type"],
            "PrimaryIpAddress": e["PrivateIpAddress"],
            "PrivateIpSets": {"PrivateIpSet": [{"PrivateIpAddress": e["PrivateIpAddress"], "Primary": True}]
                              + [{"PrivateIpAddress": ip, "Primary": False} for ip in e["SecondaryIps"]]},
            "Ipv4PrefixSets": {"Ipv4PrefixSet": [{"Ipv4Prefix": p} for p in e["Ipv4Prefixes"]]},
            "Ipv6Sets": {"Ipv6Set": [{"Ipv6Address": a} for a in e["Ipv6Addresses"]]},
            "Ipv6PrefixSets": {"Ipv6PrefixSet": [{"Ipv6Prefix": p} for p in e["Ipv6Prefixes"]]},
        } for e in enis]},
    }


@op("DescribeInstances")
def describe_instances(req: Request) -> dict:
    region, vpc_id, vsw_id = req.text("RegionId"), req.text("VpcId"), req.text("VSwitchId")
    status, name = req.text("Status"), req.text("InstanceName")
    raw = req.text("InstanceIds")
    ids = None
    if raw is not None:
        try:
            ids = json.loads(raw)
        except ValueError:
            ids = [i.strip() for i in raw.split(",") if i.strip()]
        if not isinstance(ids, list):
            raise fail("InvalidParameter.InstanceIds", "InstanceIds is a JSON array of instance ids")
    if ids is not None:
        rows = req.store.pick(INSTANCE, [str(i) for i in ids])
    elif vsw_id is not None:
        rows = req.store.find(INSTANCE, "vswitch", vsw_id)
    elif region is not None:
        rows = req.store.find(INSTANCE, "region", region)
    else:
        rows = req.store.all(INSTANCE)
    rows = [i for i in rows if (region is None or i["RegionId"] == region) and (vpc_id is None or i["VpcId"] == vpc_id)
            and (vsw_id is None or i["VSwitchId"] == vsw_id) and (status is None or i["Status"] == status)
            and (name is None or i["InstanceName"] == name)]
    return page(req, rows, "Instances", "Instance", lambda i: instance_row(req, i))


@op("DescribeInstanceTypes")
def describe_instance_types(req: Request) -> dict:
    table = instance_types(req)
    names = listed(req, "InstanceTypes")
    family = req.text("InstanceTypeFamily")
    chosen = [table[n] for n in dict.fromkeys(names) if n in table] if names else list(table.values())
    rows = [t.row() for t in chosen if family is None or t.family == family]
    return {"InstanceTypes": {"InstanceType": rows}, "NextToken": ""}
