"""Sandbox IPAM instances and IPAM scopes (API version 2023-02-28).

Operations: OpenVpcIpamService, GetVpcIpamServiceStatus, CreateIpam, UpdateIpam, DeleteIpam,
ListIpams, CreateIpamScope, UpdateIpamScope, DeleteIpamScope, ListIpamScopes.

OpenVpcIpamService is idempotent and answers ``{Code: "200", Message: "successful"}`` as the cloud
does; the service's state is one ``ipam_service`` resource. With ``realism.require_open_service``
(:mod:`reconciler.cloud.realism`), CreateIpam before it is refused with ``Forbidden.NotOpenService``
(403; invented: the IPAM error-code table documents no code for a service never opened).

Rules: an IPAM's managed region (RegionId) is always one of its operating regions; at most
``limits.IPAM_PER_REGION`` IPAMs per region; two default scopes (private, public) are made with it
and go with it; only ``private`` scopes can be created, at most ``limits.SCOPES_PER_IPAM`` per IPAM
counting the defaults; default scopes cannot be deleted; nothing is deleted while pools (or, for an
IPAM, custom scopes) remain in it.

Codes: InvalidParameter.IpamScopeType, OperationDenied.DeleteDefaultScope, ResourceNotFound.Ipam,
ResourceNotFound.IpamScope (404), MissingParameter.RegionId / .IpamId / .IpamScopeId.
Inferred (no documented code or mapping): OperationDenied.ManagedRegion,
OperationDenied.OperatingRegionInUse, QuotaExceeded.Ipam, QuotaExceeded.IpamScope,
DependencyViolation.IpamPool (mapping), DependencyViolation.IpamScope.
"""

from __future__ import annotations

from reconciler.cloud.sandbox import (
    IPAM_VERSION,
    Request,
    fail,
    operation,
    page_by_token,
)
from reconciler.cloud.store import changed, public, register_kind
from reconciler.net import limits

register_kind("ipam", indexes={"region": lambda r: r["RegionId"]})
register_kind("ipam_scope", indexes={"ipam": lambda r: r["IpamId"]})


def op(action: str):
    return operation(action, version=IPAM_VERSION)


def get_ipam(req: Request, name: str = "IpamId") -> dict:
    return req.resource("ipam", name, "ResourceNotFound.Ipam")


def get_scope(req: Request, name: str = "IpamScopeId") -> dict:
    return req.resource("ipam_scope", name, "ResourceNotFound.IpamScope")


def _dedup(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


# ---- the service --------------------------------------------------------------------------
SERVICE = "ipam_service"  # one resource of this kind, id SERVICE, once the service is opened


@op("OpenVpcIpamService")
def open_service(req: Request) -> dict:
    if req.store.get(SERVICE, SERVICE) is None:
        # no sequence number taken: opening the service changes no id the sandbox hands out later
        req.store.put({"Enabled": True, "_kind": SERVICE, "_id": SERVICE, "_seq": 0})
    return {"Code": "200", "Message": "successful"}


@op("GetVpcIpamServiceStatus")
def service_status(req: Request) -> dict:
    return {"Enabled": req.store.get(SERVICE, SERVICE) is not None}


# ---- IPAM ---------------------------------------------------------------------------------
@op("CreateIpam")
def create_ipam(req: Request) -> dict:
    region = req.text("RegionId", required=True)
    if req.cloud.realism.require_open_service and req.store.get(SERVICE, SERVICE) is None:
        raise fail("Forbidden.NotOpenService", "the IPAM service is not opened for this account: "
                   "call OpenVpcIpamService first")
    regions = _dedup(req.items("OperatingRegionList"))
    if region not in regions:
        regions.append(region)
    if req.store.count("ipam", "region", region) >= limits.IPAM_PER_REGION:
        raise fail("QuotaExceeded.Ipam",
                   f"region {region} already has {limits.IPAM_PER_REGION} IPAM(s), the quota")
    name, desc = req.text("IpamName") or "", req.text("IpamDescription") or ""
    ipam = req.create("ipam", "ipam-", "IpamId", IpamName=name, IpamDescription=desc,
                      RegionId=region, OperatingRegionList=regions, IpamStatus="Created")
    ipam_id = ipam["IpamId"]
    scopes = {}
    for scope_type in ("private", "public"):
        scope = req.create("ipam_scope", "ipam-scope-", "IpamScopeId", IpamId=ipam_id,
                           IpamScopeName="", IpamScopeDescription="", IpamScopeType=scope_type,
                           IsDefault=True, RegionId=region, Status="Created")
        scopes[scope_type] = scope["IpamScopeId"]
    discovery, _ = req.new_id("ipam-res-disco-")
    req.store.put(changed(ipam, PrivateDefaultScopeId=scopes["private"],
                          PublicDefaultScopeId=scopes["public"], DefaultResourceDiscoveryId=discovery))
    return {"IpamId": ipam_id, "PrivateDefaultScopeId": scopes["private"],
            "PublicDefaultScopeId": scopes["public"], "DefaultResourceDiscoveryId": discovery}


@op("UpdateIpam")
def update_ipam(req: Request) -> dict:
    ipam = get_ipam(req)
    regions = list(ipam["OperatingRegionList"])
    for region in req.items("AddOperatingRegion"):
        if region not in regions:
            regions.append(region)
    for region in _dedup(req.items("RemoveOperatingRegion")):
        if region == ipam["RegionId"]:
            raise fail("OperationDenied.ManagedRegion",
                       f"{region} is the managed region of {ipam['IpamId']} and cannot be removed")
        if req.store.count("ipam_pool", "ipam_region", (ipam["IpamId"], region)):
            raise fail("OperationDenied.OperatingRegionInUse",
                       f"pools of {ipam['IpamId']} still have {region} as their region")
        if region in regions:
            regions.remove(region)
    fields: dict[str, object] = {"OperatingRegionList": regions}
    for key in ("IpamName", "IpamDescription"):
        if req.text(key) is not None:
            fields[key] = req.text(key)
    req.store.put(changed(ipam, **fields))
    return {}


@op("DeleteIpam")
def delete_ipam(req: Request) -> dict:
    ipam = get_ipam(req)
    if req.store.count("ipam_pool", "ipam", ipam["IpamId"]):
        raise fail("DependencyViolation.IpamPool", f"{ipam['IpamId']} still has IPAM pools")
    scopes = req.store.find("ipam_scope", "ipam", ipam["IpamId"])
    if any(not s["IsDefault"] for s in scopes):
        raise fail("DependencyViolation.IpamScope", f"{ipam['IpamId']} still has custom scopes")
    for scope in scopes:
        req.delete("ipam_scope", scope)
    req.delete("ipam", ipam)
    return {}


def ipam_row(req: Request, ipam: dict) -> dict:
    row = public(ipam)
    row["ScopeCount"] = req.store.count("ipam_scope", "ipam", ipam["IpamId"])
    return row


@op("ListIpams")
def list_ipams(req: Request) -> dict:
    ids = req.items("IpamIds")
    region = req.text("RegionId")
    name = req.text("IpamName")
    if ids:
        rows = req.store.pick("ipam", ids)
    elif region is not None:
        rows = req.store.find("ipam", "region", region)
    else:
        rows = req.store.all("ipam")
    rows = [r for r in rows if (region is None or r["RegionId"] == region)
            and (name is None or r["IpamName"] == name)]
    return page_by_token(req, rows, "Ipams", lambda r: ipam_row(req, r))


# ---- scopes -------------------------------------------------------------------------------
@op("CreateIpamScope")
def create_scope(req: Request) -> dict:
    ipam = get_ipam(req)
    scope_type = req.text("IpamScopeType") or "private"
    if scope_type != "private":
        raise fail("InvalidParameter.IpamScopeType",
                   f"IpamScopeType {scope_type!r}: only private scopes can be created")
    if req.store.count("ipam_scope", "ipam", ipam["IpamId"]) >= limits.SCOPES_PER_IPAM:
        raise fail("QuotaExceeded.IpamScope",
                   f"{ipam['IpamId']} already has {limits.SCOPES_PER_IPAM} scopes, the quota")
    scope = req.create("ipam_scope", "ipam-scope-", "IpamScopeId", IpamId=ipam["IpamId"],
                       IpamScopeName=req.text("IpamScopeName") or "",
                       IpamScopeDescription=req.text("IpamScopeDescription") or "",
                       IpamScopeType="private", IsDefault=False, RegionId=ipam["RegionId"],
                       Status="Created")
    return {"IpamScopeId": scope["IpamScopeId"]}


@op("UpdateIpamScope")
def update_scope(req: Request) -> dict:
    scope = get_scope(req)
    fields = {k: req.text(k) for k in ("IpamScopeName", "IpamScopeDescription") if req.text(k) is not None}
    req.store.put(changed(scope, **fields))
    return {}


@op("DeleteIpamScope")
def delete_scope(req: Request) -> dict:
    scope = get_scope(req)
    if scope["IsDefault"]:
        raise fail("OperationDenied.DeleteDefaultScope",
                   f"{scope['IpamScopeId']} is a default scope and cannot be deleted")
    if req.store.count("ipam_pool", "scope", scope["IpamScopeId"]):
        raise fail("DependencyViolation.IpamPool", f"{scope['IpamScopeId']} still has IPAM pools")
    req.delete("ipam_scope", scope)
    return {}


@op("ListIpamScopes")
def list_scopes(req: Request) -> dict:
    ipam_id = req.text("IpamId")
    ids = req.items("IpamScopeIds")
    scope_type, name = req.text("IpamScopeType"), req.text("IpamScopeName")
    if ids:
        rows = req.store.pick("ipam_scope", ids)
    elif ipam_id is not None:
        rows = req.store.find("ipam_scope", "ipam", ipam_id)
    else:
        rows = req.store.all("ipam_scope")
    rows = [r for r in rows if (ipam_id is None or r["IpamId"] == ipam_id)
            and (scope_type is None or r["IpamScopeType"] == scope_type)
            and (name is None or r["IpamScopeName"] == name)]
    def row(scope: dict) -> dict:
        return dict(public(scope), PoolCount=req.store.count("ipam_pool", "scope", scope["IpamScopeId"]))

    return page_by_token(req, rows, "IpamScopes", row)
