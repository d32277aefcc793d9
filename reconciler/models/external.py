"""The ``external_pools:`` block: pools this workspace draws from but another one manages.

``{hz-prod: {workspace: network, pool: hz-prod}}`` names the pool as the other workspace's specs do
(that workspace must keep its state on the same shared backend), ``{hz-prod: {id: ipam-pool-...}}``
by its cloud id (any pool the cloud lists: one made by hand, by Terraform, by another tool). VPC
blocks and custom allocations refer to it by its key here, as to a pool of ``pools:``; the plan never
creates, changes or deletes it.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from reconciler.models.backend import WORKSPACE_RE

POOL_ID_RE = re.compile(r"^ipam-pool-[a-z0-9]{1,64}$")


class ExternalPoolSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    workspace: str | None = Field(default=None, description="The workspace managing the pool (same backend)")
    pool: str | None = Field(default=None, description="The pool's name in that workspace's specs")
    id: str | None = Field(default=None, description="Or the pool's cloud id, e.g. ipam-pool-...")
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
        if self.id is not None and not POOL_ID_RE.match(self.id):
            raise PydanticCustomError("Spec.ExternalPool", "{id!r} is not an IPAM pool id (ipam-pool-...)",
                                      {"id": self.id})
        return self
