"""The ``provider:`` block: the embedded sandbox, or Alibaba Cloud through the official SDKs.

Credentials never belong in a spec file (specs live in Git): the ``alibaba`` provider takes them from
the SDK's default chain, and a key, secret or token written here is refused with its own code.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from reconciler.models.fields import RegionText, refuse_secret_keys

PRODUCTS = ("vpcipam", "vpc", "ecs")
# host, host:port, or an IPv6 literal in brackets with a port; never a scheme (that is ``protocol``)
_ENDPOINT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)(:[0-9]{1,5})?$")
SECRET_KEYS = frozenset({"access_key_id", "access_key_secret", "access_key", "secret_key", "secret",
                         "security_token", "password", "sts_token", "credentials"})


def _endpoint(value: str) -> str:
    if not _ENDPOINT.match(value):
        raise PydanticCustomError("Spec.ProviderEndpoint", "endpoint '{value}' is not host or host:port "
                                  "(give the scheme as protocol: http or https)", {"value": value})
    return value


Endpoint = Annotated[str, AfterValidator(_endpoint)]


class Endpoints(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    vpcipam: Endpoint | None = None
    vpc: Endpoint | None = None
    ecs: Endpoint | None = None


class ProviderSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    type: Literal["sandbox", "alibaba"] = "sandbox"
    path: str | None = Field(default=None, description="sandbox: the database, relative to the workspace")
    region: RegionText | None = Field(
        default=None, description="alibaba: the region the clients are made for (each call names its own)")
    endpoint: Endpoint | None = Field(default=None, description="alibaba: one host[:port] for all three products "
                                      "(e.g. an `ipamctl sandbox serve`); default: the SDK's endpoint map")
    endpoints: Endpoints | None = Field(default=None, description="alibaba: host[:port] per product")
    protocol: Literal["https", "http"] = "https"
    signature: Literal["ACS3-HMAC-SHA256", "HMAC-SHA1"] = Field(
        "ACS3-HMAC-SHA256", description="alibaba: the V3 signature (default) or the classic RPC one")
    retries: int = Field(default=4, ge=0, le=20, description="alibaba: retries of throttled or conflicting calls")
    wait_timeout: int = Field(default=600, ge=1, le=7200,
                              description="alibaba: seconds to wait for a resource to become Available")
    connect_timeout_ms: int = Field(default=5000, ge=100, le=600000)
    read_timeout_ms: int = Field(default=30000, ge=100, le=600000)

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: object) -> object:
        refuse_secret_keys(data, SECRET_KEYS, "Spec.ProviderSecret", "credentials never go in spec files; the "
                           "alibaba provider reads them from the SDK's default chain (ALIBABA_CLOUD_ACCESS_KEY_ID / "
                           "_SECRET, a profile, an ECS RAM role)")
        return data

    @model_validator(mode="after")
    def _fits_type(self) -> Self:
        alibaba_only = [k for k in ("region", "endpoint", "endpoints") if getattr(self, k) is not None]
        if self.type == "sandbox" and alibaba_only:
            raise PydanticCustomError("Spec.ProviderField", "{keys} belong to provider type alibaba",
                                      {"keys": ", ".join(alibaba_only)})
        if self.type == "alibaba":
            if self.path is not None:
                raise PydanticCustomError("Spec.ProviderField", "path belongs to provider type sandbox", {})
            if self.region is None:
                raise PydanticCustomError("Spec.ProviderRegion", "provider type alibaba needs a region", {})
        return self
