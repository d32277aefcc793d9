"""The embedded sandbox cloud: a local Alibaba Cloud IPAM + VPC control plane over SQLite.

:class:`SandboxCloud` takes calls in the wire form of Alibaba's RPC API (flat keys, lists as
``Name.1``, ``Name.2``..., values as strings, ints or booleans) and answers with the API's response
dicts, always with ``RequestId``; a refusal raises :class:`reconciler.errors.CloudError` with the
cloud's code and HTTP status (404 not found, 403 permission-type denials, 400 otherwise).

Operations live in the ``*_api`` modules of this package: each registers its handlers with
``@operation("CreateVpc", version=...)``; every ``reconciler/cloud/*_api.py`` is imported when a
sandbox is made, so a new module needs no change here. A handler gets a :class:`Request` (parameter
parsing, id generation, the store) and returns the response body without ``RequestId``. Handlers
that other modules must be able to veto register deletion guards with ``@guard(kind)``.

Writes (every action not starting with List/Describe/Get) are transactional: the handler's changes
are committed as one SQLite transaction, or rolled back from memory when it raises. ``DryRun=true``
runs the handler and rolls back, raising ``DryRunOperation`` (400) when it would have succeeded.
``ClientToken``: a repeat of the same action with the same token returns the stored first response
and does nothing (persisted; failed and dry-run calls store nothing).

Lists page like the real API: IPAM ``List*`` take MaxResults (1-100, default 10) and NextToken
(answering TotalCount, Count, MaxResults, NextToken: "" on the last page); VPC ``Describe*`` take
PageNumber (from 1) and PageSize (1-50, default 10) (answering TotalCount, PageNumber, PageSize).
Rows come in creation order. ``realism`` (:mod:`reconciler.cloud.realism`) may cap every page.

Ids are ``prefix`` + 17 lowercase base36 characters from sha256 of the sandbox's persistent
sequence number and the prefix, so a fresh sandbox given the same calls gives the same ids.
Error codes of this module: ``InvalidAction.NotFound`` (404), ``MissingParameter.<Name>``,
``InvalidParameter.<Name>`` (malformed int/bool/list values, paging values: inferred),
``DryRunOperation``, ``InvalidRegionId.NotFound`` (404: any region parameter, ``RegionId``,
``PoolRegionId``, ``OperatingRegionList.N``..., naming no region of ``data/regions.json``, checked
here for every call before its handler runs).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pkgutil
import threading
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Literal, Mapping, overload

import orjson

from reconciler.cloud.realism import EMBEDDED, Realism, page_size
from reconciler.cloud.store import Resource, Store, public
from reconciler.errors import CloudError
from reconciler.net.cidr import Cidr, CidrSyntaxError
from reconciler.net.regions import UNKNOWN_REGION, region_problem

IPAM_VERSION = "2023-02-28"
VPC_VERSION = "2016-04-28"
READ_PREFIXES = ("List", "Describe", "Get")
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Operation:
    action: str
    handler: Callable[["Request"], dict]
    write: bool
    version: str | None


OPERATIONS: dict[str, Operation] = {}
GUARDS: dict[str, list[Callable[["Request", dict], None]]] = {}


def operation(action: str, *, version: str | None = None, write: bool | None = None):
    """Register the decorated function as the handler of ``action``."""

    def deco(fn):
        if action in OPERATIONS and OPERATIONS[action].handler is not fn:
            raise ValueError(f"operation {action} registered twice")
        is_write = not action.startswith(READ_PREFIXES) if write is None else write
        OPERATIONS[action] = Operation(action, fn, is_write, version)
        return fn

    return deco


def guard(kind: str):
    """Register ``fn(request, resource)``, called before a resource of ``kind`` is deleted; it
    raises a CloudError (e.g. ``DependencyViolation.*``) when something still depends on it."""

    def deco(fn):
        GUARDS.setdefault(kind, []).append(fn)
        return fn

    return deco


def fail(code: str, detail: str, status: int | None = None) -> CloudError:
    """A CloudError with the status its code implies (NotFound 404, Forbidden 403, else 400)."""
    if status is None:
        status = 404 if code.endswith(".NotFound") or code.startswith("ResourceNotFound") else (
            403 if code.startswith("Forbidden") else 400)
    return CloudError(code, detail, http_status=status)


def load_operations() -> None:
    import reconciler.cloud as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name.endswith("_api"):
            importlib.import_module(f"{pkg.__name__}.{mod.name}")


#: The account every call acts as unless it names another: the sandbox's first account, which owns
#: every resource that records no owner (all of them, in a sandbox that never had a second account).
DEFAULT_ACCOUNT = "1000000000000000"


@dataclass(frozen=True)
class Caller:
    """Who makes a call: an account, as its root identity (``user`` None) or one of its RAM users."""

    account: str = DEFAULT_ACCOUNT
    user: str | None = None


ROOT = Caller()
#: kind -> whether the caller may see a resource of that kind it does not own (resource sharing
#: registers the pools shared with it, and their allocations); a kind absent here is seen by its owner only.
SEES: dict[str, Callable[["Request", Mapping[str, Any]], bool]] = {}


def owner_of(res: Mapping[str, Any]) -> str:
    """The account that owns a resource (one that records none is the default account's)."""
    return str(res.get("_owner") or DEFAULT_ACCOUNT)


class Request:
    """One call: its parameters (parsed on demand), the store, the caller, and id generation."""

    def __init__(self, cloud: "SandboxCloud", store: Store, action: str, params: dict, caller: Caller = ROOT):
        self.cloud, self.store, self.action, self.params = cloud, store, action, params
        self.caller = caller
        self.account = caller.account
        self.memo: dict[str, Any] = {}  # per-call caches (the pools shared with the caller)

    def sees(self, res: Mapping[str, Any]) -> bool:
        """Whether the caller may see ``res``: its own, or what another account shares with it."""
        if owner_of(res) == self.account:
            return True
        check = SEES.get(str(res.get("_kind")))
        return check is not None and check(self, res)

    # ---- parameters ---------------------------------------------------------------------
    def raw(self, name: str) -> object:
        value = self.params.get(name)
        return None if value is None or value == "" else value

    # The overloads say what the code guarantees: ``required=True`` never answers None.
    @overload
    def text(self, name: str, *, required: Literal[True], code: str | None = None) -> str: ...
    @overload
    def text(self, name: str, *, required: bool = False, code: str | None = None) -> str | None: ...

    def text(self, name: str, *, required: bool = False, code: str | None = None) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise fail(code or f"MissingParameter.{name}", f"{name} is required")
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    @overload
    def integer(self, name: str, *, lo: int | None = None, hi: int | None = None,
                required: Literal[True], code: str | None = None) -> int: ...
    @overload
    def integer(self, name: str, *, lo: int | None = None, hi: int | None = None,
                required: bool = False, code: str | None = None) -> int | None: ...

    def integer(self, name: str, *, lo: int | None = None, hi: int | None = None,
                required: bool = False, code: str | None = None) -> int | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise fail(f"MissingParameter.{name}", f"{name} is required")
            return None
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise fail(code or f"InvalidParameter.{name}", f"{name} must be an integer")
        if isinstance(value, str):
            try:
                value = int(value.strip(), 10)
            except ValueError:
                raise fail(code or f"InvalidParameter.{name}", f"{name}={value!r} is not an integer")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise fail(code or f"InvalidParameter.{name}", f"{name}={value} is not in [{lo}, {hi}]")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise fail(f"InvalidParameter.{name}", f"{name}={value!r} is not true or false")

    def items(self, name: str) -> list[str]:
        """The list sent as ``Name.1``, ``Name.2``... (in index order; empty values skipped)."""
        found: list[tuple[int, str]] = []
        prefix = name + "."
        for key, value in self.params.items():
            if key.startswith(prefix) and value is not None and value != "":
                index = key[len(prefix):]
                if not index.isdigit() or int(index) < 1:
                    raise fail(f"InvalidParameter.{name}", f"{key} is not {name}.N with N >= 1")
                found.append((int(index), str(value)))
        whole = self.params.get(name)
        if isinstance(whole, (list, tuple)):
            found.extend((i + 1, str(v)) for i, v in enumerate(whole))
        return [v for _, v in sorted(found, key=lambda p: p[0])]

    @overload
    def cidr(self, name: str, *, required: Literal[True], code: str | None = None) -> Cidr: ...
    @overload
    def cidr(self, name: str, *, required: bool = False, code: str | None = None) -> Cidr | None: ...

    def cidr(self, name: str, *, required: bool = False, code: str | None = None) -> Cidr | None:
        """A CIDR parameter; syntax errors raise the CidrSyntaxError's code unless ``code``."""
        value = self.text(name, required=required)
        if value is None:
            return None
        try:
            return Cidr.parse(value)
        except CidrSyntaxError as exc:
            raise fail(code or exc.code, f"{name}: {exc}")

    # ---- resources ----------------------------------------------------------------------
    @overload
    def resource(self, kind: str, name: str, code: str, *,
                 required: Literal[True] = True) -> Resource: ...
    @overload
    def resource(self, kind: str, name: str, code: str, *, required: bool) -> Resource | None: ...

    def resource(self, kind: str, name: str, code: str, *, required: bool = True) -> Resource | None:
        """The resource whose id is parameter ``name``; ``code`` (404) when there is none."""
        rid = self.text(name, required=required)
        if rid is None:
            return None
        res = self.store.get(kind, rid)
        if res is None or not self.sees(res):  # another account's resource does not exist for this one
            raise fail(code, f"{name} {rid!r} does not exist")
        return res

    def new_id(self, prefix: str) -> tuple[str, int]:
        while True:
            seq = self.store.next_seq()
            n = int.from_bytes(hashlib.sha256(f"{seq}:{prefix}".encode()).digest(), "big")
            chars = []
            for _ in range(17):
                n, r = divmod(n, 36)
                chars.append(_B36[r])
            rid = prefix + "".join(chars)
            if rid not in self.store._res:
                return rid, seq

    def create(self, kind: str, prefix: str, id_field: str, **fields) -> dict:
        rid, seq = self.new_id(prefix)
        res = {id_field: rid, **fields, "_kind": kind, "_id": rid, "_seq": seq}
        if self.account != DEFAULT_ACCOUNT:  # the default account's resources record no owner, as before
            res["_owner"] = self.account
        self.store.put(res)
        return res

    def delete(self, kind: str, res: dict) -> None:
        for check in GUARDS.get(kind, ()):
            check(self, res)
        self.store.delete(res)


def visible(req: Request, rows: list) -> list:
    """The rows the caller may see: resources of its own or shared with it (other rows as they are)."""
    return [r for r in rows if not (isinstance(r, dict) and "_kind" in r) or req.sees(r)]


def page_by_token(req: Request, rows: list, key: str, row: Callable[[Any], dict] = public) -> dict:
    """IPAM-style paging: MaxResults (1-100, default 10) and an opaque NextToken; ``row`` makes
    the response row of each item on the page (a resource, or what the caller lists). Resources
    the caller may not see are left out."""
    rows = visible(req, rows)
    size = page_size(req.cloud.realism, req.integer("MaxResults", lo=1, hi=100) or 10)
    token = req.text("NextToken")
    start = 0
    if token is not None:
        if not token.isdigit() or int(token) > len(rows):
            raise fail("InvalidParameter.NextToken", f"NextToken {token!r} is not valid")
        start = int(token)
    chunk = [row(r) for r in rows[start:start + size]]
    more = start + size < len(rows)
    return {key: chunk, "TotalCount": len(rows), "Count": len(chunk), "MaxResults": size,
            "NextToken": str(start + size) if more else ""}


def page_by_number(req: Request, rows: list, outer: str, inner: str,
                   row: Callable[[Any], dict] = public) -> dict:
    """VPC-style paging: PageNumber (from 1) and PageSize (1-50, default 10); only what the caller sees."""
    rows = visible(req, rows)
    number = req.integer("PageNumber", lo=1) or 1
    size = page_size(req.cloud.realism, req.integer("PageSize", lo=1, hi=50) or 10)
    chunk = [row(r) for r in rows[(number - 1) * size:number * size]]
    return {outer: {inner: chunk}, "TotalCount": len(rows), "PageNumber": number, "PageSize": size}


class SandboxCloud:
    """A faithful local emulation of the Alibaba Cloud IPAM and VPC APIs, persisted in SQLite."""

    # Public IPv6 top-level pools get their CIDRs here: the lowest free block of the asked mask.
    IPV6_SUPPLY: ClassVar[Cidr] = Cidr.parse("2408:4000::/32")
    # VPCs with IPv6 enabled but no IPv6 IPAM pool get the lowest free /56 here.
    VPC_IPV6_SUPPLY: ClassVar[Cidr] = Cidr.parse("2408:8000::/32")

    def __init__(self, path: str | os.PathLike | None = None, realism: Realism = EMBEDDED):
        load_operations()
        self.realism = realism  # what it imitates beyond the embedded default (cloud/realism.py)
        self._lock = threading.RLock()
        self._store: Store | None = Store(path)

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the sandbox cloud is closed")
        return self._store

    def call(self, action: str, params: Mapping[str, object] | None = None, caller: Caller = ROOT) -> dict:
        """Answer ``action`` as ``caller`` (the default account's root unless said otherwise)."""
        op = OPERATIONS.get(action)
        if op is None:
            raise fail("InvalidAction.NotFound", f"the specified action {action!r} is not found", 404)
        with self._lock:
            store = self.store
            req = Request(self, store, action, dict(params or {}), caller)
            _check_regions(req.params)
            if not op.write:
                return _wire({"RequestId": request_id(), **op.handler(req)})
            dry = req.flag("DryRun")
            token = req.text("ClientToken")
            if token is not None and caller.account != DEFAULT_ACCOUNT:
                token = f"{caller.account}:{token}"  # a token is the caller account's own
            if token is not None and not dry:
                stored = store.token(action, token)
                if stored is not None:
                    return stored
            store.begin()
            try:
                body = op.handler(req)
            except BaseException:
                store.rollback()
                raise
            if dry:
                store.rollback()
                raise fail("DryRunOperation", "Request validation has been passed with DryRun flag set.")
            wire = orjson.dumps({"RequestId": request_id(), **body})
            response = orjson.loads(wire)  # as _wire: a fresh JSON-clean copy, shared with nothing
            store.commit((action, token, wire.decode()) if token is not None and not dry else None)
            return response

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def __enter__(self) -> "SandboxCloud":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: The parameters that name a region (``Name`` or the list ``Name.N``): each must be in the region table.
REGION_PARAMETERS = frozenset({"RegionId", "PoolRegionId", "ResourceRegionId", "IpamRegionId", "OperatingRegionList",
                               "AddOperatingRegion", "RemoveOperatingRegion"})


def _check_regions(params: dict) -> None:
    """``InvalidRegionId.NotFound`` (404) for any region parameter naming no region of the table."""
    for key, value in params.items():
        if value is None or value == "" or key.partition(".")[0] not in REGION_PARAMETERS:
            continue
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if item is None or item == "":
                continue
            problem = region_problem(str(item))
            if problem is not None:
                raise fail(UNKNOWN_REGION, f"{key}: {problem}")


def request_id() -> str:
    """A random (version 4) UUID in upper case, as ``str(uuid.uuid4()).upper()`` without its object."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex().upper()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _wire(body: dict) -> dict:
    """A deep, JSON-clean copy: nothing returned shares structure with the store."""
    return orjson.loads(orjson.dumps(body))
