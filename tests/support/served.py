"""A sandbox database served over HTTP in the test process, and the UNMODIFIED official SDK clients
pointed at it (``ipamctl sandbox serve`` without the process).

    with served(tmp_path / "sandbox.db", log=tmp_path / "calls.log") as s:
        vpc_id = s.vpc().create_vpc(vpc_models.CreateVpcRequest(region_id=HZ, cidr_block="10.0.0.0/16")).body.vpc_id
        s.vpc(v2=True)              # the classic HMAC-SHA1 signing (Config(signature_algorithm="v2"))
        s.call("CreateVpc", VPC, RegionId=HZ, CidrBlock="10.1.0.0/16")  # any action, via the SDK's call_api
        s.calls()                   # the call log's lines, one dict per request

``served(db, *, realism=Realism(...), throttle=RATE, policy={...} | Policy, log=PATH, key=AccessKey)``
yields a :class:`Served`; the server answers on 127.0.0.1, a free port, until the block ends. The
raw signers (:func:`v1_url`, :func:`acs3_request`) sign with the SDK's own helpers, independently
of the server's checks, for requests the SDK clients cannot be made to send (a replay, an old
time); :func:`send` sends one and answers (status, body).
"""

from __future__ import annotations

import hashlib
import http.client
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import orjson
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi import utils_models
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_openapi.utils import Utils
from alibabacloud_vpc20160428.client import Client as VpcClient
from alibabacloud_vpcipam20230228.client import Client as IpamClient
from darabonba.runtime import RuntimeOptions

from reconciler.cloud.realism import EMBEDDED, Realism
from reconciler.serve.app import Options
from reconciler.serve.ram import Policy, parse_policy
from reconciler.serve.server import SandboxServer
from reconciler.serve.signature import AccessKey

HZ = "cn-hangzhou"
IPAM, VPC, ECS = "2023-02-28", "2016-04-28", "2014-05-26"
KEY = AccessKey("LTAI5tSandboxServeTest1", "sandbox-serve-test-secret-0001")


@dataclass
class Served:
    server: SandboxServer
    db: Path
    log: Path | None
    key: AccessKey

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def config(self, *, v2: bool = False, key_id: str | None = None, secret: str | None = None) -> Config:
        cfg = Config(access_key_id=key_id or self.key.id, access_key_secret=secret or self.key.secret,
                     region_id=HZ, endpoint=self.endpoint, protocol="http", read_timeout=30000)
        if v2:
            cfg.signature_algorithm = "v2"
        return cfg

    def ipam(self, **kw: Any) -> IpamClient:
        return IpamClient(self.config(**kw))

    def vpc(self, **kw: Any) -> VpcClient:
        return VpcClient(self.config(**kw))

    def ecs(self, **kw: Any) -> EcsClient:
        return EcsClient(self.config(**kw))

    def call(self, action: str, version: str, *, method: str = "POST", v2: bool = False, **params: Any) -> dict:
        """Any action through the SDK's generic ``call_api`` (for actions no typed client has, or a
        version that is not the action's): the response body."""
        client = VpcClient(self.config(v2=v2))
        api = utils_models.Params(action=action, version=version, protocol="HTTP", pathname="/", method=method,
                                  auth_type="AK", style="RPC", req_body_type="formData", body_type="json")
        req = utils_models.OpenApiRequest(query={k: str(v) for k, v in params.items()})
        return client.call_api(api, req, RuntimeOptions())["body"]

    def calls(self) -> list[dict]:
        assert self.log is not None, "served(..., log=PATH) keeps a call log"
        return [orjson.loads(line) for line in self.log.read_bytes().splitlines() if line.strip()]


@contextmanager
def served(db: str | Path, *, realism: Realism = EMBEDDED, throttle: float | None = None,
           policy: Policy | dict | None = None, log: str | Path | None = None,
           key: AccessKey = KEY, port: int = 0) -> Iterator[Served]:
    if isinstance(policy, dict):
        policy = parse_policy(policy)
    options = Options(realism=realism, throttle=throttle, policy=policy, log=Path(log) if log else None)
    server = SandboxServer(db, key, port=port, options=options).start()
    try:
        yield Served(server, Path(db), Path(log) if log else None, key)
    finally:
        server.close()


# ---- requests signed by hand (with the SDK's helpers) ------------------------------------------
def utc(offset: float = 0.0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def v1_url(s: Served, action: str, version: str, params: dict[str, str], *, method: str = "POST",
           timestamp: str | None = None, nonce: str | None = None, secret: str | None = None) -> str:
    """The path and query of a classic (HMAC-SHA1) request, signed as the SDK signs it."""
    query = {"Action": action, "Format": "json", "Version": version, "Timestamp": timestamp or utc(),
             "SignatureNonce": nonce or Utils.get_nonce(), **params, "SignatureMethod": "HMAC-SHA1",
             "SignatureVersion": "1.0", "AccessKeyId": s.key.id}
    query["Signature"] = Utils.get_rpcsignature(query, method, secret or s.key.secret)
    return "/?" + urlencode(query)


def acs3_request(s: Served, action: str, version: str, params: dict[str, str], *, method: str = "POST",
                 date: str | None = None, nonce: str | None = None, body: bytes = b"",
                 content_sha256: str | None = None) -> tuple[str, dict[str, str]]:
    """(path and query, headers) of an ACS3-HMAC-SHA256 request, signed as the SDK signs it."""
    headers = {"host": s.endpoint, "x-acs-version": version, "x-acs-action": action,
               "x-acs-date": date or utc(), "x-acs-signature-nonce": nonce or Utils.get_nonce(),
               "accept": "application/json",
               "x-acs-content-sha256": content_sha256 or hashlib.sha256(body).hexdigest()}
    if body:
        headers["content-type"] = "application/x-www-form-urlencoded"
    req = SimpleNamespace(method=method, pathname="/", query=dict(params), headers=dict(headers))
    headers["Authorization"] = Utils.get_authorization(req, "ACS3-HMAC-SHA256", headers["x-acs-content-sha256"],
                                                       s.key.id, s.key.secret)
    return "/?" + urlencode(params) if params else "/", headers


def send(s: Served, target: str, *, method: str = "POST", headers: dict[str, str] | None = None,
         body: bytes = b"") -> tuple[int, dict]:
    """One raw request (http.client): (status, JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    try:
        conn.request(method, target, body=body or None, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, orjson.loads(resp.read())
    finally:
        conn.close()
