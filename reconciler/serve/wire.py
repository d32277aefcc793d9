"""One HTTP request of Alibaba Cloud's RPC wire protocol, read into a call, and the bodies answered.

A request is kept as it arrived (:class:`HttpRequest`: method, path, the query's decoded pairs,
lower-cased headers, raw body) because the signature checks rebuild their canonical forms from it.
Parameters are the query string plus, for ``application/x-www-form-urlencoded``, the form body
(the SDK's classic signing puts some operations' parameters there). The call's action and version
come from the ``x-acs-action`` / ``x-acs-version`` headers (ACS3 signing) or from the ``Action`` /
``Version`` parameters (classic signing, whose protocol parameters are then dropped: the sandbox
sees only the operation's own).

Bodies: a success is the sandbox's JSON answer (it carries its RequestId); an error is
``{RequestId, HostId, Code, Message, Recommend}`` plus any extra field (``AccessDeniedDetail``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import parse_qsl, quote

import orjson

from reconciler.cloud.sandbox import request_id as request_id  # the cloud's RequestId form, shared
from reconciler.errors import CloudError

# The classic (v1) protocol's own parameters: never passed to an operation.
PROTOCOL_PARAMETERS = frozenset({
    "Action", "Version", "Format", "Timestamp", "SignatureNonce", "SignatureMethod", "SignatureVersion",
    "SignatureType", "AccessKeyId", "Signature", "SecurityToken", "BearerToken",
})
FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json;charset=utf-8"
PRODUCTS = {"2023-02-28": "VpcIpam", "2016-04-28": "Vpc", "2014-05-26": "Ecs"}  # for Recommend links


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # as sent, without the query
    query: tuple[tuple[str, str], ...]  # decoded, in the order sent
    headers: Mapping[str, tuple[str, ...]]  # lower-case names, every value sent
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def query_params(self) -> dict[str, str]:
        return dict(self.query)

    def form(self) -> dict[str, str]:
        """The form body's parameters (empty unless the body is a urlencoded form)."""
        kind = (self.header("content-type") or "").split(";")[0].strip().lower()
        if kind != FORM or not self.body:
            return {}
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def params(self) -> dict[str, str]:
        """Query and form parameters together (the form's win, as the SDK merges them to sign)."""
        return {**self.query_params(), **self.form()}


def parse_target(target: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The request line's target split into the path and the decoded query pairs."""
    path, _, qs = target.partition("?")
    return path or "/", tuple(parse_qsl(qs, keep_blank_values=True))


@dataclass(frozen=True)
class Call:
    action: str
    version: str
    params: dict[str, str] = field(default_factory=dict)


def call_of(req: HttpRequest, classic: bool) -> Call:
    """The operation a verified request asks for: ``classic`` for v1 (parameter) signing."""
    params = req.params()
    if classic:
        action, version = params.get("Action"), params.get("Version")
        params = {k: v for k, v in params.items() if k not in PROTOCOL_PARAMETERS}
    else:
        action, version = req.header("x-acs-action"), req.header("x-acs-version")
    if not action:
        raise CloudError("MissingParameter.Action", "the Action of the request is not given", http_status=400)
    if not version:
        raise CloudError("MissingParameter.Version", "the Version of the request is not given", http_status=400)
    return Call(action, version, params)


def error_body(code: str, message: str, rid: str, host: str, version: str | None = None,
               extra: Mapping[str, object] | None = None) -> bytes:
    product = PRODUCTS.get(version or "", "")
    recommend = (f"https://api.aliyun.com/troubleshoot?q={quote(code, safe='.')}&product={product}"
                 f"&requestId={rid}")
    body: dict[str, object] = {"RequestId": rid, "HostId": host, "Code": code, "Message": message,
                               "Recommend": recommend}
    body.update(extra or {})
    return orjson.dumps(body)


def success_body(answer: Mapping[str, object]) -> bytes:
    return orjson.dumps(answer)
