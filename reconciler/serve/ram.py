"""A RAM policy bound to the sandbox's access key, evaluated for every call as RAM does.

The document: ``{"Version": "1", "Statement": [{"Effect": "Allow" | "Deny", "Action": str | [str],
"Resource": str | [str]}]}``. A call is authorised as ``<ns>:<Action>`` with the products' RAM codes:
``vpc`` for the IPAM operations (2023-02-28: the RAM code of VpcIpam is vpc, as in ``vpc:CreateIpam``)
and for VPC (2016-04-28), ``ecs`` for ECS (2014-05-26). Action patterns
match case-insensitively with ``*`` (any run) and ``?`` (one character); an explicit Deny wins, and
no matching Allow is an implicit deny. Resource may only be ``*`` for now; anything else, and any
other statement element (Condition, NotAction...), is refused when the policy is loaded.

A refusal is ``Forbidden.RAM`` (403) with an ``AccessDeniedDetail`` that the SDK hands to the
caller (``TeaException.access_denied_detail``).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson

from reconciler.cloud.ecs_api import ECS_VERSION
from reconciler.cloud.sandbox import DEFAULT_ACCOUNT, IPAM_VERSION, VPC_VERSION
from reconciler.cloud.share_api import RS_VERSION
from reconciler.errors import CloudError, SpecError

# RAM codes: IPAM (VpcIpam 2023-02-28) authorises under vpc, as its RAM authorization page says
NAMESPACES = {IPAM_VERSION: "vpc", VPC_VERSION: "vpc", ECS_VERSION: "ecs", RS_VERSION: "resourcesharing"}
MESSAGE = "User not authorized to operate on the specified resource, or this API doesn't support RAM."
ACCOUNT_ID = DEFAULT_ACCOUNT  # the default account's (made-up) id, as AccessDeniedDetail names one
Decision = Literal["Allow", "ExplicitDeny", "ImplicitDeny"]
ELEMENTS = frozenset({"Effect", "Action", "Resource"})


def auth_action(version: str, action: str) -> str:
    """``ns:Action`` for an operation of API ``version``."""
    return f"{NAMESPACES.get(version, 'sandbox')}:{action}"


def _pattern(text: str) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(body, re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Statement:
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]

    def matches(self, action: str) -> bool:
        return any(_pattern(a).fullmatch(action) for a in self.actions)


@dataclass(frozen=True)
class Policy:
    statements: tuple[Statement, ...]

    def decide(self, action: str) -> Decision:
        if any(s.effect == "Deny" and s.matches(action) for s in self.statements):
            return "ExplicitDeny"
        if any(s.effect == "Allow" and s.matches(action) for s in self.statements):
            return "Allow"
        return "ImplicitDeny"

    def check(self, action: str, key_id: str, account: str = ACCOUNT_ID) -> None:
        """Raise ``Forbidden.RAM`` unless the policy allows ``action``."""
        decision = self.decide(action)
        if decision != "Allow":
            raise Denied(action, decision, key_id, account)


NOTHING = Policy(())  # a RAM user with no policy attached: every action implicitly denied


class Denied(CloudError):
    """``Forbidden.RAM`` with the AccessDeniedDetail of the refusal."""

    def __init__(self, action: str, decision: Decision, key_id: str, account: str = ACCOUNT_ID):
        super().__init__("Forbidden.RAM", MESSAGE, http_status=403)
        diagnostic = orjson.dumps({"AuthAction": action, "AuthResource": "*", "NoPermissionType": decision,
                                   "AuthPrincipalDisplayName": key_id})
        self.access_denied_detail = {
            "AuthAction": action, "PolicyType": "AccountLevelIdentityBasedPolicy", "AuthPrincipalType": "SubUser",
            "AuthPrincipalOwnerId": account, "AuthPrincipalDisplayName": key_id, "NoPermissionType": decision,
            "EncodedDiagnosticMessage": base64.b64encode(diagnostic).decode(),
        }


def _strings(value: object, what: str, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise _bad(where, f"{what} must be a non-empty string or a non-empty list of strings")
    return tuple(v.strip() for v in items)


def _bad(where: str, detail: str) -> SpecError:
    return SpecError("Serve.Policy", f"{where}: {detail}")


def parse_policy(doc: object, source: str = "the policy") -> Policy:
    """A checked :class:`Policy` from a decoded policy document; ``Serve.Policy`` when it is not one."""
    if not isinstance(doc, dict):
        raise _bad(source, "a RAM policy is a JSON object with Version and Statement")
    if doc.get("Version") != "1":
        raise _bad(source, f'Version must be "1", not {doc.get("Version")!r}')
    extra = sorted(set(doc) - {"Version", "Statement"})
    if extra:
        raise _bad(source, f"unknown element(s) {', '.join(extra)}")
    raw = doc.get("Statement")
    if not isinstance(raw, list) or not raw:
        raise _bad(source, "Statement must be a non-empty list of statements")
    statements = []
    for i, st in enumerate(raw, 1):
        where = f"{source}: Statement {i}"
        if not isinstance(st, dict):
            raise _bad(where, "a statement is a JSON object")
        unknown = sorted(set(st) - ELEMENTS)
        if unknown:
            raise _bad(where, f"{', '.join(unknown)} not supported by the sandbox (only Effect, Action, Resource)")
        effect = st.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise _bad(where, f'Effect must be "Allow" or "Deny", not {effect!r}')
        actions = _strings(st.get("Action"), "Action", where)
        for a in actions:
            if a != "*" and ":" not in a:
                raise _bad(where, f"action {a!r} is not service:Action (e.g. vpc:CreateVpc, vpc:ListIpam*) or *")
        resources = _strings(st.get("Resource"), "Resource", where)
        if any(r != "*" for r in resources):
            raise _bad(where, f"Resource {', '.join(r for r in resources if r != '*')}: only \"*\" is supported "
                       "by the sandbox for now")
        statements.append(Statement("Allow" if effect == "Allow" else "Deny", actions))
    return Policy(tuple(statements))


def load_policy(path: str | Path) -> Policy:
    """The policy in the JSON file ``path``; a clear ``Serve.Policy`` error for anything wrong."""
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise SpecError("Serve.Policy", f"cannot read the policy file {path}: {exc.strerror or exc}") from None
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise SpecError("Serve.Policy", f"{path} is not JSON: {exc}") from None
    return parse_policy(doc, str(path))
