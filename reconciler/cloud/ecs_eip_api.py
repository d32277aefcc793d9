"""Sandbox EIP and IPv6-bandwidth writes (VPC 2016-04-28) of the managed-ENI table:
AssociateEipAddress, UnassociateEipAddress, AssociateEipAddressBatch, AllocateIpv6InternetBandwidth,
ModifyIpv6InternetBandwidth, DeleteIpv6InternetBandwidth.

They exist here to enforce the managed-ENI rule (``ecs-managed-enis.txt``): every one of them but
ModifyIpv6InternetBandwidth is refused on a service-managed ENI with
``InvalidOperation.EniServiceManaged`` (403) unless ``CallerService`` names the ENI's service.

The sandbox has no EIPs: the three EIP calls check their target (an ENI when InstanceType /
BindedInstanceType is ``NetworkInterface`` or the id starts with ``eni-``; an instance otherwise) and
then change nothing. IPv6 bandwidth is recorded: the sandbox gives IPv6 addresses no ids of their
own, so ``Ipv6AddressId`` is the IPv6 address itself (an address some ENI holds);
AllocateIpv6InternetBandwidth answers ``Ipv6InternetBandwidthId`` (``ipv6bw-``) and ``Ipv6AddressId``;
Modify changes ``Bandwidth``; Delete (by ``Ipv6InternetBandwidthId`` or ``Ipv6AddressId``) releases it;
unassigning the address or deleting its ENI releases it too.

Codes: MissingParameter.AllocationId / .InstanceId / .BindedInstanceId / .Ipv6AddressId,
InvalidEniId.NotFound, InvalidInstanceId.NotFound, InvalidOperation.EniServiceManaged (403).
Inferred: InvalidIpv6AddressId.NotFound, InvalidIpv6InternetBandwidthId.NotFound,
OperationDenied.Ipv6InternetBandwidthExists, InvalidParameter.Bandwidth.
"""

from __future__ import annotations

from typing import cast

from reconciler.cloud.ecs_api import (
    BANDWIDTH,
    ENI,
    INSTANCE,
    address_text,
    check_managed,
    host,
)
from reconciler.cloud.sandbox import Request, fail
from reconciler.cloud.store import Resource
from reconciler.cloud.vpc_api import op


def _check_target(req: Request, id_name: str, type_name: str) -> None:
    target = req.text(id_name, required=True)
    kind = req.text(type_name) or ""
    if kind == "NetworkInterface" or target.startswith("eni-"):
        eni = req.store.get(ENI, target)
        if eni is None:
            raise fail("InvalidEniId.NotFound", f"ENI {target!r} does not exist")
        check_managed(req, eni)
    elif req.store.get(INSTANCE, target) is None:
        raise fail("InvalidInstanceId.NotFound", f"instance {target!r} does not exist")


@op("AssociateEipAddress")
def associate_eip(req: Request) -> dict:
    req.text("AllocationId", required=True)
    _check_target(req, "InstanceId", "InstanceType")
    return {}


@op("UnassociateEipAddress")
def unassociate_eip(req: Request) -> dict:
    req.text("AllocationId", required=True)
    _check_target(req, "InstanceId", "InstanceType")
    return {}


@op("AssociateEipAddressBatch")
def associate_eip_batch(req: Request) -> dict:
    _check_target(req, "BindedInstanceId", "BindedInstanceType")
    return {}


def _eni_of_address(req: Request) -> tuple[str, dict]:
    text = req.text("Ipv6AddressId", required=True)
    address = address_text(6, text) if ":" in text else text
    hits = [] if ":" not in address else req.store.space("ip6").overlapping(host(address).start, host(address).start)
    if not hits:
        raise fail("InvalidIpv6AddressId.NotFound", f"no ENI holds the IPv6 address {text!r}")
    return address, cast(Resource, req.store.get(ENI, hits[0][2]))  # the "ip6" space holds ENIs only


def _bandwidth(req: Request) -> int:
    return req.integer("Bandwidth", lo=1, hi=5000) or 1


@op("AllocateIpv6InternetBandwidth")
def allocate_ipv6_bandwidth(req: Request) -> dict:
    address, eni = _eni_of_address(req)
    check_managed(req, eni)
    if req.store.count(BANDWIDTH, "address", address):
        raise fail("OperationDenied.Ipv6InternetBandwidthExists", f"{address} already has Internet bandwidth")
    bw = req.create(BANDWIDTH, "ipv6bw-", "Ipv6InternetBandwidthId", Ipv6AddressId=address,
                    Ipv6GatewayId=req.text("Ipv6GatewayId") or "", Bandwidth=_bandwidth(req),
                    _eni=eni["NetworkInterfaceId"])
    return {"Ipv6InternetBandwidthId": bw["Ipv6InternetBandwidthId"], "Ipv6AddressId": address}


def _find_bandwidth(req: Request) -> dict:
    bid = req.text("Ipv6InternetBandwidthId")
    if bid is not None:
        bw = req.store.get(BANDWIDTH, bid)
    else:
        address, _ = _eni_of_address(req)
        found = req.store.find(BANDWIDTH, "address", address)
        bw = found[0] if found else None
    if bw is None:
        raise fail("InvalidIpv6InternetBandwidthId.NotFound", "no such IPv6 Internet bandwidth")
    return bw


@op("ModifyIpv6InternetBandwidth")
def modify_ipv6_bandwidth(req: Request) -> dict:
    bw = _find_bandwidth(req)  # open to the account even on a managed ENI
    req.store.put({**bw, "Bandwidth": _bandwidth(req)})
    return {}


@op("DeleteIpv6InternetBandwidth")
def delete_ipv6_bandwidth(req: Request) -> dict:
    bw = _find_bandwidth(req)
    check_managed(req, cast(Resource, req.store.get(ENI, bw["_eni"])))  # an ENI's bandwidths go with it
    req.store.delete(bw)
    return {}
