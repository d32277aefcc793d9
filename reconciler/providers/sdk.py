"""An :class:`reconciler.providers.base.ApiClient` over the official Alibaba Cloud SDK clients.

The action mappings (:mod:`reconciler.providers.alibaba`) speak the RPC wire form; this client turns
each call into the SDK's own typed request model (``CreateVpcRequest().from_map(...)``), sends it
with the product's generated client (``create_vpc_with_options``) and hands back the typed
response's map. So every parameter and every response field goes through the SDK's models: a
parameter the SDK does not know is refused here (it would be dropped silently otherwise), and a
field the cloud does not return never reaches the reconciler.

Credentials come from the SDK's default chain (``alibabacloud_credentials``: environment, profile
files, ECS RAM role, OIDC/STS) and never pass through this module as values. SDK failures become
:class:`CloudError` with the cloud's code, HTTP status and request id; a connection that fails
becomes ``Provider.Unreachable``. The SDKs are imported only when this provider is used.
"""

from __future__ import annotations

import importlib
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from reconciler.errors import CloudError

#: product -> (SDK package, API version), in the order an action name is looked up: the ECS SDK
#: still carries the old VPC operations, which belong to the VPC product.
PRODUCTS: dict[str, tuple[str, str]] = {
    "vpcipam": ("alibabacloud_vpcipam20230228", "2023-02-28"),
    "vpc": ("alibabacloud_vpc20160428", "2016-04-28"),
    "ecs": ("alibabacloud_ecs20140526", "2014-05-26"),
    "resourcesharing": ("alibabacloud_resourcesharing20200110", "2020-01-10"),
}
_INDEX = re.compile(r"[1-9][0-9]*")
READS = ("Describe", "List", "Get")
# what a read is repeated on (with backoff); writes are repeated by the ApiProvider, token and all
RETRY_READS = frozenset({"Throttling", "Throttling.User", "Throttling.Api", "ServiceUnavailable",
                         "OperationConflict", "Provider.Unreachable"})


@dataclass(frozen=True)
class SdkSettings:
    """What ``provider: {type: alibaba, ...}`` says, checked by the spec model."""

    region: str
    endpoint: str | None = None
    endpoints: Mapping[str, str] = field(default_factory=dict)
    protocol: str = "https"
    signature: str = "ACS3-HMAC-SHA256"
    connect_timeout_ms: int = 5000
    read_timeout_ms: int = 30000
    retries: int = 4

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> "SdkSettings":
        return cls(region=str(settings.get("region") or ""), endpoint=settings.get("endpoint"),
                   endpoints=dict(settings.get("endpoints") or {}), protocol=str(settings.get("protocol") or "https"),
                   signature=str(settings.get("signature") or "ACS3-HMAC-SHA256"),
                   connect_timeout_ms=int(settings.get("connect_timeout_ms") or 5000),
                   read_timeout_ms=int(settings.get("read_timeout_ms") or 30000),
                   retries=int(settings.get("retries", 4)))

    def endpoint_of(self, product: str) -> str | None:
        return self.endpoints.get(product) or self.endpoint


def product_of(action: str) -> str:
    """The product whose SDK has ``action``; ``InvalidAction.NotFound`` when none has it."""
    for product, (package, _version) in PRODUCTS.items():
        models = _models(package)
        # an operation without parameters (EnableSharingWithResourceDirectory) has a response model only
        if hasattr(models, f"{action}Request") or hasattr(models, f"{action}Response"):
            return product
    raise CloudError("InvalidAction.NotFound", f"no official SDK has an operation {action!r}", http_status=404)


def nested(params: Mapping[str, object]) -> dict[str, Any]:
    """The wire form (``Tag.1.Key``, ``Name.2``) as the map an SDK model reads (``{"Tag": [{"Key"}]}``)."""
    out: dict[str, Any] = {}
    for key in sorted(params, key=_key_order):
        value = params[key]
        if value is None:
            continue
        parts = key.split(".")
        node: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                index = int(part) - 1
                while len(node) <= index:
                    node.append(None)
                if last:
                    node[index] = value
                else:
                    if node[index] is None:
                        node[index] = [] if _INDEX.fullmatch(parts[i + 1]) else {}
                    node = node[index]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, [] if _INDEX.fullmatch(parts[i + 1]) else {})
    return out


def flat(value: Any, prefix: str = "") -> dict[str, object]:
    """The inverse of :func:`nested` (to check that a model kept every parameter)."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for k, v in value.items():
            out.update(flat(v, f"{prefix}.{k}" if prefix else k))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value, start=1):
            out.update(flat(v, f"{prefix}.{i}"))
        return out
    return {} if value is None else {prefix: value}


def _key_order(key: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in key.split("."))


class SdkClient:
    """``call(action, params) -> dict`` through the official SDKs, one client per product."""

    def __init__(self, settings: SdkSettings, credential: Any = None, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.sleep = sleep
        self._credential = credential
        self._clients: dict[str, Any] = {}
        self._methods: dict[str, dict[str, str]] = {}

    def call(self, action: str, params: Mapping[str, object]) -> dict:
        if not action.startswith(READS):
            return self._call(action, params)  # writes: ApiProvider retries them, with their ClientToken
        for attempt in range(self.settings.retries + 1):
            try:
                return self._call(action, params)
            except CloudError as exc:  # a read is safe to repeat: the plan-time reads, drift, refresh
                if exc.code not in RETRY_READS or attempt == self.settings.retries:
                    raise
                self.sleep(min(0.2 * 2**attempt, 5.0))
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(self, action: str, params: Mapping[str, object]) -> dict:
        product = product_of(action)
        package, _version = PRODUCTS[product]
        bare = not hasattr(_models(package), f"{action}Request")
        if bare and any(v is not None for v in params.values()):
            raise CloudError("Provider.UnknownParameter", f"the official SDK's {action} takes no parameters "
                             f"({', '.join(sorted(params))})")
        request = None if bare else self._request(package, action, params)
        client = self._client(product)
        method = (re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower() + "_with_options" if bare
                  else self._methods[product].get(f"{action}Request"))
        if method is None or not hasattr(client, method):
            raise CloudError("InvalidAction.NotFound", f"the {product} SDK has no method for {action}", http_status=404)
        try:
            args = (_runtime(self.settings),) if request is None else (request, _runtime(self.settings))
            response = getattr(client, method)(*args)
        except CloudError:
            raise
        except Exception as exc:  # the SDK's exceptions, and what its HTTP stack raises
            raise _error(exc, action, self.settings.endpoint_of(product) or f"the {product} endpoint") from None
        body = getattr(response, "body", None)
        return body.to_map() if body is not None else {}

    def close(self) -> None:
        self._clients.clear()

    # ---- internals ------------------------------------------------------------------------------
    def _request(self, package: str, action: str, params: Mapping[str, object]):
        cls = getattr(_models(package), f"{action}Request")
        wire = {k: v for k, v in params.items() if v is not None}
        if "ClientToken" in wire and not hasattr(cls(), "client_token"):
            # This operation has no idempotency token in the cloud's API (DeleteVSwitch, the Modify*
            # and Unassign* calls...): it is sent without one, and recovery reads the cloud back.
            del wire["ClientToken"]
        request = cls().from_map(nested(wire))
        kept = flat(request.to_map())
        lost = sorted(set(wire) - set(kept))
        if lost:
            raise CloudError("Provider.UnknownParameter",
                             f"the official SDK's {action} has no parameter {', '.join(lost)}")
        return request

    def _client(self, product: str):
        client = self._clients.get(product)
        if client is not None:
            return client
        package, _version = PRODUCTS[product]
        from alibabacloud_tea_openapi.models import Config

        credential = self._credential
        if credential is None:
            from alibabacloud_credentials.client import Client as Credentials

            try:
                credential = self._credential = Credentials()
            except Exception as exc:
                raise CloudError("Provider.NoCredentials", f"no Alibaba Cloud credentials found ({_plain(exc)}); set "
                                 "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or a profile in "
                                 "~/.alibabacloud/config.json, or run on ECS with a RAM role") from None
        s = self.settings
        config = Config(credential=credential, region_id=s.region, endpoint=s.endpoint_of(product),
                        protocol=s.protocol, connect_timeout=s.connect_timeout_ms, read_timeout=s.read_timeout_ms)
        if s.signature == "HMAC-SHA1":
            config.signature_algorithm = "v2"
        cls = importlib.import_module(f"{package}.client").Client
        try:
            client = cls(config)
        except Exception as exc:
            raise _error(exc, f"the {product} client", s.endpoint_of(product) or product) from None
        self._clients[product] = client
        self._methods[product] = _methods_of(cls)
        return client


def _models(package: str):
    return importlib.import_module(f"{package}.models")


def _methods_of(cls) -> dict[str, str]:
    """Request class name -> the client's synchronous ``*_with_options`` method taking it."""
    out = {}
    for name in dir(cls):
        if name.endswith("_with_options") and not name.endswith("_async"):
            hint = getattr(getattr(cls, name), "__annotations__", {}).get("request")
            if hint is not None:
                out[str(getattr(hint, "__name__", hint)).rpartition(".")[2]] = name
    return out


def _runtime(settings: SdkSettings):
    from alibabacloud_tea_util.models import RuntimeOptions

    # No SDK retries: the provider retries with the same ClientToken and says so.
    return RuntimeOptions(autoretry=False, max_attempts=0, connect_timeout=settings.connect_timeout_ms,
                          read_timeout=settings.read_timeout_ms)


def _plain(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc) or type(exc).__name__
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _error(exc: BaseException, doing: str, endpoint: str) -> CloudError:
    """The project's error for what the SDK raised: the cloud's code, status and request id when the
    cloud answered; ``Provider.Unreachable`` when no answer came."""
    code = getattr(exc, "code", None)
    status = getattr(exc, "status_code", None)
    if isinstance(code, str) and code and isinstance(status, int):
        request_id = getattr(exc, "request_id", None)
        message = str(getattr(exc, "message", "") or "")
        # The SDK prefixes its message with "code: <status>, " and appends "request id: ..."
        message = re.sub(r"^code: \d+, ", "", message).split(" request id:")[0].strip()
        denied = getattr(exc, "access_denied_detail", None)
        if isinstance(denied, dict) and denied.get("AuthAction"):
            message += f" The call needs the RAM action {denied['AuthAction']} (see `ipamctl policy`)."
        detail = message + (f" (request id {request_id})" if request_id else "")
        error = CloudError(code, detail or code, http_status=status)
        error.request_id = request_id  # type: ignore[attr-defined]  # kept for the JSON output
        return error
    inner = getattr(exc, "inner_exception", None) or exc
    reason = _plain(inner)
    errno = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(inner))
    if errno:
        reason = errno.group(1).strip()
    elif "timed out" in reason.lower():
        reason = "timed out"
    return CloudError("Provider.Unreachable", f"{doing}: no answer from {endpoint}: {reason} "
                      "(is the endpoint right and reachable?)", http_status=503)


#: product -> its RAM code: VpcIpam's operations are authorised under vpc (``vpc:CreateIpam``).
RAM_CODES = {"vpcipam": "vpc", "vpc": "vpc", "ecs": "ecs", "resourcesharing": "resourcesharing"}


def ram_action(operation: str) -> str:
    """The RAM action that authorises ``operation``: ``vpc:CreateIpam``, ``vpc:CreateVpc``, ``ecs:...``."""
    return f"{RAM_CODES[product_of(operation)]}:{operation}"
