"""Sandbox ENIs (ECS 2014-05-26): CreateNetworkInterface, AttachNetworkInterface,
DetachNetworkInterface, DeleteNetworkInterface, ModifyNetworkInterfaceAttribute,
DescribeNetworkInterfaces.

CreateNetworkInterface(RegionId, VSwitchId, SecurityGroupId | SecurityGroupIds.N, PrimaryIpAddress,
PrivateIpAddress.N | SecondaryPrivateIpAddressCount, Ipv4Prefix.N | Ipv4PrefixCount, Ipv6Address.N |
Ipv6AddressCount, Ipv6Prefix.N | Ipv6PrefixCount, NetworkInterfaceName, Description, Tag.N.Key/Value,
sandbox-only ServiceManaged=true + ServiceID=<service>) makes an Available, Secondary ENI and answers
its DescribeNetworkInterfaces row. Lists take at most 10 items and counts 1 to 10; an explicit list
and its count are exclusive; prefixes exist only in ``eni_limits.IP_PREFIX_REGIONS``; the Available
limits apply (10 IPv4 addresses with the primary, 50 IPv4 entries counting the primary, the
secondary addresses and the IPv4 prefixes, 10 IPv6 entries). A managed
ENI's Description contains its service's name (added when missing).

AttachNetworkInterface(NetworkInterfaceId, InstanceId): the ENI is Available, the instance Running or
Stopped, in the ENI's VPC and zone, below its type's EniQuantity (the primary ENI counts), and the
ENI's addresses fit the type's per-ENI limits. DetachNetworkInterface: a Secondary ENI attached to
that instance becomes Available. DeleteNetworkInterface: only an Available ENI.
ModifyNetworkInterfaceAttribute: NetworkInterfaceName, Description, SecurityGroupId.N (quota checked).
The managed-ENI rule applies to all four writes and to Attach/Detach.

Codes: MissingParameter.RegionId / .VSwitchId / .SecurityGroupId / .InstanceId / .ServiceID,
InvalidVSwitchId.NotFound, InvalidSecurityGroupId.NotFound, InvalidEniId.NotFound,
InvalidInstanceId.NotFound, InvalidOperation.InvalidEniState, InvalidOperation.EniServiceManaged (403),
EniPerInstanceLimitExceeded, IncorrectInstanceStatus, InvalidOperation.Ipv4CountExceeded,
InvalidOperation.Ipv6CountExceeded, InvalidOperation.DetachPrimaryEniNotAllowed, and the address codes
of ``ecs_address``. Inferred: InvalidParameter.Conflict, InvalidParameter.<List> (over 10 items),
InvalidParameter.<Count> (not 1-10), OperationDenied.IpPrefixNotSupportedInRegion,
InvalidSecurityGroupId.VpcMismatch, InvalidOperation.VpcMismatch, InvalidOperation.ZoneMismatch,
QuotaExceeded.SecurityGroupPrivateIp. With ``realism.pending_seconds``, an ENI in a Pending vSwitch is
IncorrectVSwitchStatus (ECS's documented code for a vSwitch whose status does not allow the call).
"""

from __future__ import annotations

from reconciler.cloud.ecs_address import Allocator
from reconciler.cloud.ecs_api import (
    ENI,
    RUNNING_OR_STOPPED,
    check_capacity,
    check_managed,
    check_prefix_region,
    counts,
    drop_bandwidth,
    eni_row,
    get_eni,
    get_instance,
    get_vswitch,
    instance_types,
    one_of,
    op,
    page,
    save_eni,
    security_groups,
    tags,
)
from reconciler.cloud.realism import require_ready
from reconciler.cloud.sandbox import Request, fail


@op("CreateNetworkInterface")
def create_eni(req: Request) -> dict:
    region = req.text("RegionId", required=True)
    vsw = get_vswitch(req, region)
    require_ready(req.cloud.realism, vsw, "IncorrectVSwitchStatus", vsw["VSwitchId"])
    groups = security_groups(req, vsw["VpcId"], "SecurityGroupId", "SecurityGroupIds", required=True)
    managed = req.flag("ServiceManaged")
    service = req.text("ServiceID", required=managed) if managed else ""
    v4, n4 = one_of(req, "PrivateIpAddress", "SecondaryPrivateIpAddressCount")
    p4, np4 = one_of(req, "Ipv4Prefix", "Ipv4PrefixCount")
    a6, na6 = one_of(req, "Ipv6Address", "Ipv6AddressCount")
    p6, np6 = one_of(req, "Ipv6Prefix", "Ipv6PrefixCount")
    if p4 or np4 or p6 or np6:
        check_prefix_region(req, region)
    shape = {"Status": "Available", "InstanceId": ""}
    check_capacity(req, shape, (1 + len(v4) + n4, len(p4) + np4, len(a6) + na6, len(p6) + np6))
    alloc = Allocator(req, vsw)
    given = req.text("PrimaryIpAddress")
    primary = alloc.address(4, given) if given else None
    sec, pf4 = alloc.take(4, v4, 0, p4, 0)
    ad6, pf6 = alloc.take(6, a6, 0, p6, 0) if (a6 or p6) else ([], [])
    if primary is None:
        primary = alloc.auto_address(4)
    more, more_p = alloc.take(4, [], n4, [], np4)
    more6, more_p6 = alloc.take(6, [], na6, [], np6) if (na6 or np6) else ([], [])
    description = req.text("Description") or ""
    if managed and service not in description:
        description = f"{description} ({service})" if description else service
    eni_id, seq = req.new_id("eni-")
    eni = {"NetworkInterfaceId": eni_id, "NetworkInterfaceName": req.text("NetworkInterfaceName") or "",
           "Description": description, "Status": "Available", "Type": "Secondary", "ServiceManaged": managed,
           "ServiceID": service, "InstanceId": "", "RegionId": region, "ZoneId": vsw["ZoneId"],
           "VpcId": vsw["VpcId"], "VSwitchId": vsw["VSwitchId"], "SecurityGroupIds": groups,
           "PrivateIpAddress": primary, "SecondaryIps": sec + more, "Ipv4Prefixes": pf4 + more_p,
           "Ipv6Addresses": ad6 + more6, "Ipv6Prefixes": pf6 + more_p6, "Tags": tags(req),
           "_kind": ENI, "_id": eni_id, "_seq": seq}
    save_eni(req, eni)
    return eni_row(eni)


@op("AttachNetworkInterface")
def attach_eni(req: Request) -> dict:
    eni = get_eni(req)
    check_managed(req, eni)
    inst = get_instance(req)
    if eni["Status"] != "Available":
        raise fail("InvalidOperation.InvalidEniState", f"{eni['NetworkInterfaceId']} is {eni['Status']}, not Available")
    if inst["Status"] not in RUNNING_OR_STOPPED:
        raise fail("IncorrectInstanceStatus", f"{inst['InstanceId']} is {inst['Status']}, not Running or Stopped")
    if eni["VpcId"] != inst["VpcId"]:
        raise fail("InvalidOperation.VpcMismatch", f"{eni['NetworkInterfaceId']} and {inst['InstanceId']} are in different VPCs")
    if eni["ZoneId"] != inst["ZoneId"]:
        raise fail("InvalidOperation.ZoneMismatch", f"{eni['NetworkInterfaceId']} and {inst['InstanceId']} are in different zones")
    itype = instance_types(req)[inst["InstanceType"]]
    if req.store.count(ENI, "instance", inst["InstanceId"]) >= itype.eni_quantity:
        raise fail("EniPerInstanceLimitExceeded",
                   f"{inst['InstanceId']} ({itype.name}) holds {itype.eni_quantity} ENIs, the primary included")
    new = {**eni, "Status": "InUse", "InstanceId": inst["InstanceId"]}
    check_capacity(req, new, counts(new))
    save_eni(req, new, eni)
    return {}


@op("DetachNetworkInterface")
def detach_eni(req: Request) -> dict:
    eni = get_eni(req)
    check_managed(req, eni)
    inst = get_instance(req)
    if eni["Type"] == "Primary":
        raise fail("InvalidOperation.DetachPrimaryEniNotAllowed", f"{eni['NetworkInterfaceId']} is a primary ENI")
    if eni["Status"] != "InUse" or eni["InstanceId"] != inst["InstanceId"]:
        raise fail("InvalidOperation.InvalidEniState", f"{eni['NetworkInterfaceId']} is not attached to {inst['InstanceId']}")
    if inst["Status"] not in RUNNING_OR_STOPPED:
        raise fail("IncorrectInstanceStatus", f"{inst['InstanceId']} is {inst['Status']}, not Running or Stopped")
    save_eni(req, {**eni, "Status": "Available", "InstanceId": ""}, eni)
    return {}


@op("DeleteNetworkInterface")
def delete_eni(req: Request) -> dict:
    eni = get_eni(req)
    check_managed(req, eni)
    if eni["Status"] != "Available":
        raise fail("InvalidOperation.InvalidEniState", f"{eni['NetworkInterfaceId']} is {eni['Status']}; "
                   "only an Available ENI can be deleted")
    drop_bandwidth(req, eni)
    save_eni(req, None, eni)
    return {}


@op("ModifyNetworkInterfaceAttribute")
def modify_eni(req: Request) -> dict:
    eni = get_eni(req)
    check_managed(req, eni)
    fields: dict[str, object] = {k: req.text(k) for k in ("NetworkInterfaceName", "Description")
                                 if req.text(k) is not None}
    if req.items("SecurityGroupId"):
        fields["SecurityGroupIds"] = security_groups(req, eni["VpcId"], "", "SecurityGroupId", required=True)
    save_eni(req, {**eni, **fields}, eni)
    return {}


@op("DescribeNetworkInterfaces")
def describe_enis(req: Request) -> dict:
    f = {k: req.text(k) for k in ("RegionId", "VSwitchId", "VpcId", "InstanceId", "Type", "Status",
                                  "NetworkInterfaceName")}
    managed = None if req.raw("ServiceManaged") is None else req.flag("ServiceManaged")
    ids = req.items("NetworkInterfaceId")
    if ids:
        rows = req.store.pick(ENI, ids)
    elif f["InstanceId"] is not None:
        rows = req.store.find(ENI, "instance", f["InstanceId"])
    elif f["VSwitchId"] is not None:
        rows = req.store.find(ENI, "vswitch", f["VSwitchId"])
    elif f["VpcId"] is not None:
        rows = req.store.find(ENI, "vpc", f["VpcId"])
    elif f["RegionId"] is not None:
        rows = req.store.find(ENI, "region", f["RegionId"])
    else:
        rows = req.store.all(ENI)
    rows = [e for e in rows if all(v is None or e[k] == v for k, v in f.items())
            and (managed is None or e["ServiceManaged"] == managed)]
    return page(req, rows, "NetworkInterfaceSets", "NetworkInterfaceSet", eni_row)
