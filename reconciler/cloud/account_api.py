"""Sandbox accounts: several Alibaba Cloud accounts in one sandbox, each with a root key and RAM
users with their own keys and RAM policies.

The cloud makes accounts by sign-up and RAM users through the RAM API; the sandbox has neither, so
these are operations of its own, callable in process only (``ipamctl sandbox account ...``), never
over HTTP (``sandbox serve`` answers them ``InvalidAction.NotFound``, so no key ever crosses the
wire):

* ``SandboxCreateAccount(AccountName)`` -> AccountId, AccessKeyId, AccessKeySecret (the root key);
* ``SandboxCreateUser(AccountId, UserName, PolicyDocument)`` -> UserName, AccessKeyId, AccessKeySecret:
  a RAM user of the account with a key, and the RAM policy (JSON) bound to it; without one the user
  may do nothing (RAM's implicit deny);
* ``SandboxListAccounts`` -> Accounts [{AccountId, AccountName, AccessKeyIds, Users [{UserName,
  AccessKeyIds, HasPolicy}]}] (never a secret).

The default account (:data:`reconciler.cloud.sandbox.DEFAULT_ACCOUNT`) always exists: it is the one
``sandbox serve``'s own key (the environment's, or the one it prints) acts as, and the owner of every
resource that records none. Account ids are 16 digits like the cloud's, from the sandbox's sequence
(a fresh sandbox given the same calls gives the same ids); keys are random (``LTAI`` + 20, a
30-character secret). A secret is kept only in the sandbox database (``_secret``, never in a
response row but the create's).

Codes (ours: the sandbox's own operations): ``MissingParameter.*``, ``InvalidParameter.UserName``,
``EntityNotExist.Account`` (404), ``EntityAlreadyExists.User``, ``InvalidParameter.PolicyDocument``.
"""

from __future__ import annotations

import hashlib
import secrets
import string

import orjson

from reconciler.cloud.sandbox import DEFAULT_ACCOUNT, Caller, Request, fail, operation
from reconciler.cloud.store import Resource, register_kind

ACCOUNT, KEY, USER = "account", "access_key", "ram_user"
#: the sandbox's own account operations: in process only, never served over HTTP
ADMIN_ACTIONS = frozenset({"SandboxCreateAccount", "SandboxCreateUser", "SandboxListAccounts",
                           "SandboxCreateResourceDirectory", "SandboxAddDirectoryMember"})
_ALNUM = string.ascii_letters + string.digits

register_kind(KEY, indexes={"owner": lambda k: (k["AccountId"], k["UserName"])})
register_kind(USER, indexes={"account": lambda u: u["AccountId"]})


def _key(req: Request, account: str, user: str) -> tuple[str, str]:
    pick = secrets.choice
    while True:
        key_id = "LTAI" + "".join(pick(_ALNUM) for _ in range(20))
        if req.store.get(KEY, key_id) is None:
            break
    secret = "".join(pick(_ALNUM) for _ in range(30))
    req.store.put({"AccessKeyId": key_id, "AccountId": account, "UserName": user, "_secret": secret,
                   "_kind": KEY, "_id": key_id, "_seq": req.store.next_seq()})
    return key_id, secret


def account_exists(store, account: str) -> bool:
    return account == DEFAULT_ACCOUNT or store.get(ACCOUNT, account) is not None


def _account(req: Request) -> str:
    account = req.text("AccountId", required=True)
    if not account_exists(req.store, account):
        raise fail("EntityNotExist.Account", f"AccountId {account!r} is not an account of this sandbox", 404)
    return account


@operation("SandboxCreateAccount", write=True)
def create_account(req: Request) -> dict:
    while True:
        seq = req.store.next_seq()
        digest = int.from_bytes(hashlib.sha256(f"{seq}:account".encode()).digest(), "big")
        account = "1" + str(digest % 10 ** 15).zfill(15)
        if not account_exists(req.store, account):
            break
    name = req.text("AccountName") or f"account-{account[-4:]}"
    req.store.put({"AccountId": account, "AccountName": name, "_kind": ACCOUNT, "_id": account, "_seq": seq})
    key_id, secret = _key(req, account, "")
    return {"AccountId": account, "AccountName": name, "AccessKeyId": key_id, "AccessKeySecret": secret}


@operation("SandboxCreateUser", write=True)
def create_user(req: Request) -> dict:
    account = _account(req)
    name = req.text("UserName", required=True)
    if not (1 <= len(name) <= 64) or not all(c.isalnum() or c in ".-_@" for c in name):
        raise fail("InvalidParameter.UserName", f"UserName {name!r}: 1-64 letters, digits, '.', '-', '_', '@'")
    uid = f"{account}/{name}"
    if req.store.get(USER, uid) is not None:
        raise fail("EntityAlreadyExists.User", f"account {account} already has a RAM user {name}")
    document = req.text("PolicyDocument")
    policy = None
    if document is not None:  # its statements are checked by `ipamctl sandbox account user create`
        try:
            policy = orjson.loads(document)
        except orjson.JSONDecodeError as exc:
            raise fail("InvalidParameter.PolicyDocument", f"PolicyDocument is not JSON: {exc}")
        if not isinstance(policy, dict) or "Statement" not in policy:
            raise fail("InvalidParameter.PolicyDocument", "PolicyDocument is a RAM policy: {Version, Statement}")
    req.store.put({"AccountId": account, "UserName": name, "_policy": policy, "_kind": USER, "_id": uid,
                   "_seq": req.store.next_seq()})
    key_id, secret = _key(req, account, name)
    return {"AccountId": account, "UserName": name, "AccessKeyId": key_id, "AccessKeySecret": secret}


@operation("SandboxListAccounts")
def list_accounts(req: Request) -> dict:
    accounts = [{"AccountId": DEFAULT_ACCOUNT, "AccountName": "default"}] + [
        {"AccountId": a["AccountId"], "AccountName": a["AccountName"]} for a in req.store.all(ACCOUNT)]
    for row in accounts:
        account = row["AccountId"]
        row["AccessKeyIds"] = [k["AccessKeyId"] for k in req.store.find(KEY, "owner", (account, ""))]
        row["Users"] = [{"UserName": u["UserName"], "HasPolicy": u["_policy"] is not None,
                         "AccessKeyIds": [k["AccessKeyId"] for k in req.store.find(KEY, "owner", (account, u["UserName"]))]}
                        for u in req.store.find(USER, "account", account)]
    return {"Accounts": accounts}


def key_of(store, key_id: str) -> tuple[str, Caller, object] | None:
    """(secret, caller, RAM policy document or None) of an access key the sandbox issued, or None."""
    key: Resource | None = store.get(KEY, key_id)
    if key is None:
        return None
    user = key["UserName"] or None
    policy = None
    if user is not None:
        rec = store.get(USER, f"{key['AccountId']}/{user}")
        policy = rec["_policy"] if rec is not None else None
    return key["_secret"], Caller(key["AccountId"], user), policy
