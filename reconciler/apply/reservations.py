"""Reservations at the edge: what a plan reserves, what other plans skip, what apply checks.

The store is the shared backend's (:class:`reconciler.states.pg_reservations.PgReservations`); the
local backend has none (a state on one disk is one workspace: there is nobody to collide with).
Blocks are keyed by their pool's cloud id, so only pools that exist (that the state records with an
id) can be reserved in or shared; a block of a pool this plan is creating is nobody else's to take.
"""

from __future__ import annotations

import hashlib
from typing import Mapping, Protocol

from reconciler.errors import StateError
from reconciler.net.cidr import Cidr
from reconciler.net.external import ExternalPool
from reconciler.net.records import drawn_blocks
from reconciler.net.reserved import ReservedBlock
from reconciler.plans.order import Plan
from reconciler.plans.reservations import pool_blocks

DEFAULT_TTL = 24 * 3600  # seconds a reservation lasts unless --reservation-ttl says otherwise


class Store(Protocol):
    workspace: str

    def live(self, *, others_only: bool = False) -> list: ...
    def of_plan(self, plan: str) -> list: ...
    def reserve(self, plan: str, blocks: list[tuple[str, str]], ttl: int) -> list: ...
    def release(self, *, plan: str | None = None, workspace: str | None = None, expired: bool = False) -> int: ...


def store_of(backend: object) -> Store | None:
    """The backend's reservations, or None (the local backend)."""
    make = getattr(backend, "reservations", None)
    return make() if callable(make) else None


def plan_checksum(data: bytes) -> str:
    """What binds a reservation to one saved plan: the sha256 of the plan file's bytes."""
    return hashlib.sha256(data).hexdigest()


def pool_ids(resources: Mapping[str, dict], outside: Mapping[str, ExternalPool] | None = None) -> dict[str, str]:
    """Pool spec name -> cloud id, for the pools the state records with an id and the external pools."""
    ids = {rec["name"]: rec["id"] for rec in resources.values() if rec.get("type") == "ipam_pool" and rec.get("id")}
    ids.update({name: p.id for name, p in (outside or {}).items()})
    return ids


def reserved_blocks(store: Store | None, resources: Mapping[str, dict],
                    outside: Mapping[str, ExternalPool] | None = None) -> list[ReservedBlock]:
    """The live reservations of the other workspaces in this workspace's pools (its own and the external
    ones), named by pool name."""
    if store is None:
        return []
    names = {pid: name for name, pid in pool_ids(resources, outside).items()}
    return sorted(ReservedBlock(names[r.pool_id], Cidr.parse(r.cidr), r.workspace, r.expires)
                  for r in store.live(others_only=True) if r.pool_id in names)


def wanted(plan: Plan, resources: Mapping[str, dict]) -> list[tuple[str, str]]:
    """(pool id, CIDR) of the blocks ``plan`` takes from pools that exist (external pools' ids are in the
    plan's records of the blocks drawn from them)."""
    ids = pool_ids(resources)
    ids.update({b["pool"]: b["pool_id"] for rec in plan.desired.values() for b in drawn_blocks(rec) if b.get("pool_id")})
    return [(ids[pool], cidr) for pool, cidr in pool_blocks(plan) if pool in ids]


def reserve(store: Store, plan: Plan, resources: Mapping[str, dict], checksum: str, ttl: int) -> list:
    return store.reserve(checksum, wanted(plan, resources), ttl)


def check_held(store: Store | None, plan: Plan, resources: Mapping[str, dict], checksum: str) -> None:
    """Before any call of a saved plan: every block it takes from an existing pool is still reserved for
    it; else ``Plan.ReservationLost`` (another plan may have been given the block meanwhile)."""
    if store is None:
        return
    need = wanted(plan, resources)
    if not need:
        return
    held = {(r.pool_id, r.cidr) for r in store.of_plan(checksum)}
    lost = [f"{cidr} (pool {pool})" for pool, cidr in need if (pool, cidr) not in held]
    if lost:
        raise StateError("Plan.ReservationLost", f"the reservation of {', '.join(lost[:5])}"
                         f"{f' and {len(lost) - 5} more' if len(lost) > 5 else ''} made with this plan expired or was "
                         "released, so another workspace's plan may have been given the block; nothing was "
                         "applied. Make a new plan (`ipamctl plan --out FILE`) and apply that")
