"""A pool another workspace manages, as the plan sees it: the value the edge reads and the core draws from.

The edge (reconciler/observe/external.py) reads it at plan time from the owner workspace's recorded
state on the shared backend and from the cloud (the pool, its provisioned CIDRs, the allocations the
cloud lists in it); the core (reconciler/desired/network.py) chooses blocks inside ``cidrs`` around
``taken`` and never plans an action on the pool itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.net.cidr import Cidr


@dataclass(frozen=True, order=True)
class TakenBlock:
    cidr: Cidr
    holder: str  # who holds it, for the plan's errors: "vpc.web of workspace network", "vpc-2ze... (the cloud)"


@dataclass(frozen=True)
class ExternalPool:
    name: str  # this workspace's key in ``external_pools:``
    id: str  # the pool's cloud id
    owner: str  # "workspace network" or "the cloud"
    region: str | None
    ip_version: str  # "IPv4" | "IPv6"
    cidrs: tuple[Cidr, ...]  # provisioned
    taken: tuple[TakenBlock, ...]  # allocated already (by any workspace or none)
    min_mask: int | None = None
    default_mask: int | None = None
    max_mask: int | None = None
    auto_import: bool | None = None
    shared_by: str | None = None  # the owner's account id when another account shares the pool with this one
