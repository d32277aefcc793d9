"""Sandbox resource sharing (ResourceSharing 2020-01-10) of IPAM pools, and a resource directory.

From the address-planning seed ("Share planned pools with multiple accounts"):

* **Any account.** The owner calls ``CreateResourceShare`` (``ResourceShareName``,
  ``Resources.N.ResourceId`` / ``.ResourceType`` = ``IpamPool``, ``Targets.N`` account ids,
  ``PermissionNames.N`` = ``AliyunRSDefaultPermissionIpamPool``, ``AllowExternalTargets``); each
  target gets a ``Pending`` invitation, which it lists (``ListResourceShareInvitations``) and accepts
  (``AcceptResourceShareInvitation``); only then does it see the pool.
* **Inside a resource directory.** Once the management account called
  ``EnableSharingWithResourceDirectory``, a share from a member (or the management account) to another
  account of the same directory, or to the directory itself (its id as a target: every account of it),
  needs no invitation: "The principal does not need to confirm the invitation and accepts it by default".
  ``AllowExternalTargets=false`` limits the targets to the caller's directory.
* **Stopping.** ``DeleteResourceShare`` (owner only): the principals no longer see the pool; the
  allocations they made in it stay (deleting their VPC later releases its allocation).

A principal sees a shared pool in ``ListIpamPools`` (``IsShared`` true: shared *with* the caller,
as the console's "Pools Shared with Me" tab; ``OwnerId`` the owner's account) and its allocations.
What a principal may do with it is the seed's permission table, enforced by the pool and allocation
operations (``Forbidden.SharedIpamPool``).

The directory itself is the sandbox's own (the cloud's Resource Management API is not emulated):
``SandboxCreateResourceDirectory(MasterAccountId)`` -> ResourceDirectoryId, and
``SandboxAddDirectoryMember(ResourceDirectoryId, AccountId)``; folders are not modelled.

Quotas (the seed's): ``resource_share_quota_per_ipam_pool`` 100 shares per pool
(``QuotaExceeded.ResourceShare``), ``shared_ipam_pool_quota_per_user`` 100 pools shared with one
account (``QuotaExceeded.SharedIpamPool``), both codes ours.

Codes of the cloud: ``EntityNotExists.ResourceShare`` (404), ``AccountNotInResourceDirectory`` (409),
``ActionNotPermitted`` (409: not the directory's management account), ``AlreadyEnabled`` (409),
``InvalidParameter`` (400). Ours: ``EntityNotExists.ResourceShareInvitation`` (404),
``EntityNotExists.Resource`` (404: a resource the caller does not own), ``InvalidParameter.ResourceType``,
``InvalidParameter.PermissionName``, ``InvalidParameter.Targets``, ``InvalidStatus.ResourceShareInvitation``,
``QuotaExceeded.ResourceShare``, ``QuotaExceeded.SharedIpamPool``, ``Sandbox.AccountInDirectory``.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Mapping

from reconciler.cloud.account_api import account_exists
from reconciler.cloud.sandbox import SEES, Caller, Request, fail, operation, owner_of, page_by_token
from reconciler.cloud.store import Resource, changed, register_kind

RS_VERSION = "2020-01-10"
SHARE, INVITATION, DIRECTORY = "resource_share", "resource_share_invitation", "resource_directory"
POOL_TYPE, DISCOVERY_TYPE = "IpamPool", "IpamResourceDiscovery"
PERMISSIONS = {POOL_TYPE: "AliyunRSDefaultPermissionIpamPool",
               DISCOVERY_TYPE: "AliyunRSDefaultPermissionIpamResourceDiscovery"}
SHARES_PER_POOL = 100  # resource_share_quota_per_ipam_pool
SHARED_POOLS_PER_USER = 100  # shared_ipam_pool_quota_per_user
ACCOUNT_RE = re.compile(r"^[0-9]{16}$")

register_kind(SHARE, indexes={"owner": lambda s: s["ResourceShareOwner"]})
register_kind(INVITATION, indexes={"receiver": lambda i: i["ReceiverAccountId"],
                                   "share": lambda i: i["ResourceShareId"]})
register_kind(DIRECTORY, indexes={"master": lambda d: d["MasterAccountId"]})


def rs_op(action: str):
    return operation(action, version=RS_VERSION)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# ---- the directory -------------------------------------------------------------------------
def directory_of(store, account: str) -> Resource | None:
    """The resource directory the account is the management account or a member of."""
    for d in store.all(DIRECTORY):
        if d["MasterAccountId"] == account or account in d["Members"]:
            return d
    return None


def _accounts_of(directory: Resource) -> list[str]:
    return [directory["MasterAccountId"], *directory["Members"]]


@operation("SandboxCreateResourceDirectory", write=True)
def create_directory(req: Request) -> dict:
    master = req.text("MasterAccountId", required=True)
    if not account_exists(req.store, master):
        raise fail("EntityNotExist.Account", f"MasterAccountId {master!r} is not an account of this sandbox", 404)
    if directory_of(req.store, master) is not None:
        raise fail("Sandbox.AccountInDirectory", f"account {master} is already in a resource directory")
    rd = req.create(DIRECTORY, "rd-", "ResourceDirectoryId", MasterAccountId=master, Members=[],
                    SharingEnabled=False)
    return {"ResourceDirectoryId": rd["ResourceDirectoryId"], "MasterAccountId": master}


@operation("SandboxAddDirectoryMember", write=True)
def add_member(req: Request) -> dict:
    rd = req.store.get(DIRECTORY, req.text("ResourceDirectoryId", required=True))
    if rd is None:
        raise fail("EntityNotExist.ResourceDirectory", "ResourceDirectoryId names no resource directory", 404)
    account = req.text("AccountId", required=True)
    if not account_exists(req.store, account):
        raise fail("EntityNotExist.Account", f"AccountId {account!r} is not an account of this sandbox", 404)
    if directory_of(req.store, account) is not None:
        raise fail("Sandbox.AccountInDirectory", f"account {account} is already in a resource directory")
    req.store.put(changed(rd, Members=[*rd["Members"], account]))
    return {"ResourceDirectoryId": rd["ResourceDirectoryId"], "AccountId": account}


@rs_op("EnableSharingWithResourceDirectory")
def enable_sharing(req: Request) -> dict:
    rd = next(iter(req.store.find(DIRECTORY, "master", req.account)), None)
    if rd is None:
        raise fail("ActionNotPermitted", "The caller must be the master account for the Resource Directory.", 409)
    if rd["SharingEnabled"]:
        raise fail("AlreadyEnabled", "You have already enabled sharing with the Resource Directory.", 409)
    req.store.put(changed(rd, SharingEnabled=True))
    return {}


# ---- who sees what -------------------------------------------------------------------------
def principals(store, share: Mapping[str, Any]) -> set[str]:
    """The accounts a share reaches now: accepted invitations and, inside a directory with sharing
    enabled, its targets there (the directory's id meaning every account of it), the owner apart."""
    owner = share["ResourceShareOwner"]
    rd = directory_of(store, owner)
    inside = set(_accounts_of(rd)) if rd is not None and rd["SharingEnabled"] else set()
    reached: set[str] = set()
    for target in share["Targets"]:
        if rd is not None and target == rd["ResourceDirectoryId"]:
            reached |= inside
        elif target in inside:
            reached.add(target)
    reached |= {i["ReceiverAccountId"] for i in store.find(INVITATION, "share", share["ResourceShareId"])
                if i["Status"] == "Accepted"}
    reached.discard(owner)
    return reached


def pools_shared_with(req: Request) -> dict[str, str]:
    """pool id -> owner account, of every pool shared with the caller (once per call)."""
    got = req.memo.get("shared")
    if got is None:
        got = {}
        for share in req.store.all(SHARE):
            if req.account in principals(req.store, share):
                for r in share["Resources"]:
                    if r["ResourceType"] == POOL_TYPE:
                        got[r["ResourceId"]] = share["ResourceShareOwner"]
        req.memo["shared"] = got
    return got


def shares_of_pool(store, pool_id: str) -> list[Resource]:
    return [s for s in store.all(SHARE) if any(r["ResourceId"] == pool_id for r in s["Resources"])]


def _sees_pool(req: Request, pool: Mapping[str, Any]) -> bool:
    return pool["IpamPoolId"] in pools_shared_with(req)


def _sees_allocation(req: Request, alloc: Mapping[str, Any]) -> bool:
    pool = req.store.get("ipam_pool", alloc["IpamPoolId"])
    return pool is not None and (owner_of(pool) == req.account or _sees_pool(req, pool))


SEES["ipam_pool"] = _sees_pool
SEES["ipam_pool_allocation"] = _sees_allocation
SEES[SHARE] = lambda req, share: req.account in principals(req.store, share)
SEES[INVITATION] = lambda req, inv: inv["ReceiverAccountId"] == req.account

DENIED = "Forbidden.SharedIpamPool"


def owner_only(req: Request, pool: Resource, what: str) -> None:
    """Refuse a principal what the seed's table gives the pool's owner alone ("Not supported")."""
    if owner_of(pool) != req.account:
        raise fail(DENIED, f"{pool['IpamPoolId']} is shared with this account by {owner_of(pool)}: {what} is "
                   "supported for the pool's owner only, not for a principal", 403)


# ---- the shares ------------------------------------------------------------------------------
def _share_row(share: Resource) -> dict:
    return {k: share[k] for k in ("ResourceShareId", "ResourceShareName", "ResourceShareOwner",
                                  "ResourceShareStatus", "AllowExternalTargets", "CreateTime", "UpdateTime")}


def _resources(req: Request) -> list[dict]:
    out = []
    for i in range(1, 101):
        rid, kind = req.text(f"Resources.{i}.ResourceId"), req.text(f"Resources.{i}.ResourceType")
        if rid is None and kind is None:
            break
        if rid is None or kind is None:
            raise fail("InvalidParameter", f"Resources.{i} needs both ResourceId and ResourceType")
        if kind != POOL_TYPE:
            raise fail("InvalidParameter.ResourceType", f"Resources.{i}.ResourceType {kind!r}: the sandbox shares "
                       f"IPAM pools ({POOL_TYPE}) only")
        pool = req.store.get("ipam_pool", rid)
        if pool is None or owner_of(pool) != req.account:
            raise fail("EntityNotExists.Resource", f"the caller owns no IPAM pool {rid!r}", 404)
        if len(shares_of_pool(req.store, rid)) >= SHARES_PER_POOL:
            raise fail("QuotaExceeded.ResourceShare", f"{rid} is already in {SHARES_PER_POOL} resource shares "
                       "(resource_share_quota_per_ipam_pool)")
        out.append({"ResourceId": rid, "ResourceType": kind})
    return out


def _check_quota(req: Request, account: str, adding: list[dict]) -> None:
    before = pools_shared_with(Request(req.cloud, req.store, req.action, {}, Caller(account)))
    after = set(before) | {r["ResourceId"] for r in adding}
    if len(after) > SHARED_POOLS_PER_USER:
        raise fail("QuotaExceeded.SharedIpamPool", f"account {account} would have {len(after)} shared IPAM pools; "
                   f"at most {SHARED_POOLS_PER_USER} (shared_ipam_pool_quota_per_user)")


@rs_op("CreateResourceShare")
def create_share(req: Request) -> dict:
    name = req.text("ResourceShareName", required=True)
    resources = _resources(req)
    for p in req.items("PermissionNames"):
        if p not in {PERMISSIONS[r["ResourceType"]] for r in resources} and p not in PERMISSIONS.values():
            raise fail("InvalidParameter.PermissionName", f"PermissionNames: {p!r} is not a permission of the "
                       f"shared resources ({PERMISSIONS[POOL_TYPE]})")
    external = req.flag("AllowExternalTargets")
    rd = directory_of(req.store, req.account)
    targets = req.items("Targets")
    for t in targets:
        if rd is not None and t == rd["ResourceDirectoryId"]:
            continue
        if not ACCOUNT_RE.match(t):
            raise fail("InvalidParameter.Targets", f"target {t!r} is neither an account id (16 digits) nor the "
                       "caller's resource directory")
        in_directory = rd is not None and t in _accounts_of(rd)
        if not external and not in_directory:
            raise fail("AccountNotInResourceDirectory", f"The account is not a master or a member of a resource "
                       f"directory: {t} (AllowExternalTargets is false)", 409)
        if t == req.account:
            raise fail("InvalidParameter.Targets", "a resource share's targets are other accounts")
    now = _now()
    share = req.create(SHARE, "rs-", "ResourceShareId", ResourceShareName=name, ResourceShareOwner=req.account,
                       ResourceShareStatus="Active", AllowExternalTargets=external, CreateTime=now, UpdateTime=now,
                       Resources=resources, Targets=targets,
                       PermissionNames=req.items("PermissionNames") or sorted({PERMISSIONS[r["ResourceType"]]
                                                                              for r in resources}))
    reached = principals(req.store, share)
    for account in sorted(reached):
        _check_quota(req, account, resources)
    for t in targets:
        if ACCOUNT_RE.match(t) and t not in reached:
            req.create(INVITATION, "i-", "ResourceShareInvitationId", ResourceShareId=share["ResourceShareId"],
                       ResourceShareName=name, SenderAccountId=req.account, ReceiverAccountId=t, Status="Pending",
                       CreateTime=now)
    return {"ResourceShare": _share_row(share)}


@rs_op("DeleteResourceShare")
def delete_share(req: Request) -> dict:
    rid = req.text("ResourceShareId", required=True)
    share = req.store.get(SHARE, rid)
    if share is None or share["ResourceShareOwner"] != req.account:
        raise fail("EntityNotExists.ResourceShare", "Resource sharing does not exist in the current account.", 404)
    for inv in req.store.find(INVITATION, "share", rid):
        req.store.delete(inv)
    req.store.delete(share)
    return {}


@rs_op("ListResourceShares")
def list_shares(req: Request) -> dict:
    mine = req.text("ResourceOwner", required=True)
    if mine not in ("Self", "OtherAccounts"):
        raise fail("InvalidParameter", f"ResourceOwner {mine!r} is Self or OtherAccounts")
    ids = set(req.items("ResourceShareIds"))
    rows = [s for s in req.store.all(SHARE)
            if (s["ResourceShareOwner"] == req.account if mine == "Self" else req.account in principals(req.store, s))
            and (not ids or s["ResourceShareId"] in ids)]
    return page_by_token(req, rows, "ResourceShares", _share_row)


@rs_op("ListResourceShareAssociations")
def list_associations(req: Request) -> dict:
    """The resources (``AssociationType=Resource``) or targets (``Target``) of the caller's shares."""
    kind = req.text("AssociationType", required=True)
    if kind not in ("Resource", "Target"):
        raise fail("InvalidParameter.AssociationType", "The AssociationType is invalid.")
    ids = set(req.items("ResourceShareIds"))
    rows = []
    rd = directory_of(req.store, req.account)
    inside = set(_accounts_of(rd)) | {rd["ResourceDirectoryId"]} if rd is not None else set()
    for share in req.store.find(SHARE, "owner", req.account):
        if ids and share["ResourceShareId"] not in ids:
            continue
        base = {"ResourceShareId": share["ResourceShareId"], "ResourceShareName": share["ResourceShareName"],
                "AssociationType": kind, "AssociationStatus": "Associated"}
        if kind == "Resource":
            rows += [{**base, "EntityId": r["ResourceId"], "EntityType": r["ResourceType"]} for r in share["Resources"]]
        else:
            rows += [{**base, "EntityId": t, "EntityType": "Account" if ACCOUNT_RE.match(t) else "ResourceDirectory",
                      "External": t not in inside} for t in share["Targets"]]
    return page_by_token(req, rows, "ResourceShareAssociations", lambda r: r)


def _invitation_row(inv: Resource) -> dict:
    return {k: inv[k] for k in ("ResourceShareInvitationId", "ResourceShareId", "ResourceShareName",
                                "SenderAccountId", "ReceiverAccountId", "Status", "CreateTime")}


@rs_op("ListResourceShareInvitations")
def list_invitations(req: Request) -> dict:
    ids, shares = set(req.items("ResourceShareInvitationIds")), set(req.items("ResourceShareIds"))
    rows = [i for i in req.store.find(INVITATION, "receiver", req.account)
            if (not ids or i["ResourceShareInvitationId"] in ids) and (not shares or i["ResourceShareId"] in shares)]
    return page_by_token(req, rows, "ResourceShareInvitations", _invitation_row)


@rs_op("AcceptResourceShareInvitation")
def accept_invitation(req: Request) -> dict:
    inv = req.store.get(INVITATION, req.text("ResourceShareInvitationId", required=True))
    if inv is None or inv["ReceiverAccountId"] != req.account:
        raise fail("EntityNotExists.ResourceShareInvitation", "ResourceShareInvitationId names no invitation to "
                   "this account", 404)
    if inv["Status"] != "Pending":
        raise fail("InvalidStatus.ResourceShareInvitation", f"the invitation is {inv['Status']}, not Pending")
    share = req.store.get(SHARE, inv["ResourceShareId"])
    assert share is not None  # deleting a share deletes its invitations
    _check_quota(req, req.account, share["Resources"])
    accepted = changed(inv, Status="Accepted")
    req.store.put(accepted)
    return {"ResourceShareInvitation": _invitation_row(accepted)}
