"""The ``external_pools:`` block: pools this workspace draws from but another one manages.

``{hz-prod: {workspace: network, pool: hz-prod}}`` names the pool as the other workspace's specs do
(that workspace must keep its state on the same shared backend), ``{hz-prod: {id: ipam-pool-...}}``
by its cloud id (any pool the cloud lists: one made by hand, by Terraform, by another tool). VPC
blocks and custom allocations refer to it by its key here, as to a pool of ``pools:``; the plan never
creates, changes or deletes it.

A pool another account shares with this one is named by id like any other. What the spec may say
of it beyond that -- ``cidrs``, ``allocation``, ``auto_import`` -- is what this workspace expects
the pool to hold; the plan never changes the pool, so an expectation that differs from the cloud
would need the pool provisioned, deprovisioned or its rules or auto-import changed, which the seed's
permission table gives the owner alone: refused at plan time (``Forbidden.SharedIpamPool`` for a
shared pool, ``ExternalPool.ManagedElsewhere`` for another workspace's), by reconciler/rules/sharing.py.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from reconciler.models.backend import WORKSPACE_RE
from reconciler.net.cidr import Cidr, CidrSyntaxError

POOL_ID_RE = re.compile(r"^ipam-pool-[a-z0-9]{1,64}$")


class ExpectedRules(BaseModel):
    """The allocation rules this workspace expects of the pool (each mask given is compared)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    min_mask: int | None = Field(default=None, ge=0, le=128)
    default_mask: int | None = Field(default=None, ge=0, le=128)
    max_mask: int | None = Field(default=None, ge=0, le=128)


class ExternalPoolSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    workspace: str | None = Field(default=None, description="The workspace managing the pool (same backend)")
    pool: str | None = Field(default=None, description="The pool's name in that workspace's specs")
    id: str | None = Field(default=None, description="Or the pool's cloud id, e.g. ipam-pool-...")
    cidrs: list[str] | None = Field(default=None, description="The provisioned CIDRs expected; the plan never "
                                    "provisions or deprovisions an external pool's")
    allocation: ExpectedRules | None = Field(default=None, description="The allocation rules expected")
    auto_import: bool | None = Field(default=None, description="The auto-import setting expected")
    description: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        named = self.workspace is not None or self.pool is not None
        if named == (self.id is not None):
            raise PydanticCustomError("Spec.ExternalPool", "name the pool either by workspace and pool, or by "
                                      "id (not both, not neither)", {})
        if named and (self.workspace is None or self.pool is None):
            raise PydanticCustomError("Spec.ExternalPool", "give both workspace and pool", {})
        if self.workspace is not None and not WORKSPACE_RE.match(self.workspace):
            raise PydanticCustomError("Spec.ExternalPool", "workspace {name!r} is not a workspace name",
                                      {"name": self.workspace})
        for text in self.cidrs or ():
            try:
                cidr = Cidr.parse(text)
            except CidrSyntaxError as exc:
                raise PydanticCustomError(exc.code, "{cidr!r}: {why}", {"cidr": text, "why": str(exc)})
            if str(cidr) != text.strip().lower():
                raise PydanticCustomError("InvalidParameter.CidrNotStandard", "{cidr!r} is not a standard block",
                                          {"cidr": text})
        if self.id is not None and not POOL_ID_RE.match(self.id):
            raise PydanticCustomError("Spec.ExternalPool", "{id!r} is not an IPAM pool id (ipam-pool-...)",
                                      {"id": self.id})
        return self
