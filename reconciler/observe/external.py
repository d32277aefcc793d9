"""External pools at plan time: what the plan may draw from a pool another workspace manages.

For each entry of the spec's ``external_pools:`` the edge reads the pool and what is allocated in it:

* ``{workspace: W, pool: P}``: workspace W's recorded state on the same shared backend (the pool's id,
  effective region, IP version, allocation rules and provisioned CIDRs, and every block W's records
  hold in it), and the cloud's allocations in the pool (those of every other workspace, and of
  resources no workspace manages);
* ``{id: ipam-pool-...}``: the pool as the cloud lists it, and its allocations.

Refusals are ``ExternalPool.*`` codes (the cloud has none for a plan-time question; README lists them).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from pydantic import ValidationError

from reconciler.errors import PlanError, ReconcilerError, raise_all
from reconciler.models.external import ExternalPoolSpec
from reconciler.net.cidr import Cidr
from reconciler.net.external import ExternalPool, TakenBlock
from reconciler.net.records import blocks_of, drawn_blocks
from reconciler.providers.alibaba_read import by_token
from reconciler.source.loader import SpecDocument

SAME_CLOUD = ("both workspaces must use one cloud: the real one, or one `ipamctl sandbox serve` (an embedded "
              "sandbox is one workspace's own)")


def declared(doc: SpecDocument) -> dict[str, ExternalPoolSpec]:
    """The spec's valid ``external_pools:`` entries (the spec's validation reports the others, with lines)."""
    raw = doc.data.get("external_pools") if isinstance(doc.data, dict) else None
    own = doc.data.get("pools") if isinstance(doc.data, dict) else None
    out = {}
    for name, body in (raw.items() if isinstance(raw, dict) else ()):
        if isinstance(own, dict) and name in own:
            continue  # a name of both: Spec.ExternalPoolName
        try:
            out[str(name)] = ExternalPoolSpec.model_validate(body)
        except ValidationError:
            continue
    return out


def read_external_pools(doc: SpecDocument, backend: object, client: Callable[[], Any]) -> dict[str, ExternalPool]:
    """Each declared external pool, by this spec's name for it; every problem found is raised."""
    wanted = declared(doc)
    if not wanted:
        return {}
    out: dict[str, ExternalPool] = {}
    errors: list[ReconcilerError] = []
    states: dict[str, Mapping[str, dict]] = {}
    cloud = client()
    try:
        for name, spec in sorted(wanted.items()):
            file, line = doc.locate(("external_pools", name))

            def refuse(code: str, detail: str) -> None:
                errors.append(PlanError(code, f"external_pools.{name}: {detail}", file=file, line=line))

            if spec.workspace is not None:
                got = _from_workspace(name, spec, backend, states, cloud, refuse)
            else:
                got = _from_cloud(name, str(spec.id), cloud, refuse)
            if got is not None:
                out[name] = got
    finally:
        cloud.close()
    raise_all(errors)
    return out


def _from_workspace(name: str, spec: ExternalPoolSpec, backend: object, states: dict, cloud,
                    refuse: Callable[[str, str], None]) -> ExternalPool | None:
    peer = getattr(backend, "peer", None)
    if peer is None:
        refuse("State.NoSharedBackend", f"a pool of workspace {spec.workspace} is read from the shared state "
               "backend (`backend: {type: postgres, ...}`); the local backend holds one workspace only. Name the "
               "pool by its cloud id instead ({id: ipam-pool-...})")
        return None
    if spec.workspace == getattr(backend, "workspace", None):
        refuse("ExternalPool.SameWorkspace", f"{spec.workspace} is this workspace; its own pools go in `pools:`")
        return None
    workspace = str(spec.workspace)
    if workspace not in states:
        states[workspace] = peer(workspace).read().resources
    resources = states[workspace]
    address = f"ipam_pool.{spec.pool}"
    rec = resources.get(address)
    if rec is None or not rec.get("id"):
        refuse("ExternalPool.NotFound", f"workspace {workspace} records no {address}"
               + ("" if resources else " (it has no state yet)") + "; it must be applied there first")
        return None
    a = rec["attributes"]
    row = _pool_row(cloud, rec["id"])
    if row is None:
        refuse("ExternalPool.NotFound", f"workspace {workspace} records {address} as {rec['id']}, which the cloud "
               f"does not list; {SAME_CLOUD}")
        return None
    taken = [TakenBlock(Cidr.parse(c), f"{owner} of workspace {workspace}")
             for owner, c in _blocks_in(resources, str(spec.pool))]
    rules = a.get("allocation") or {}
    return ExternalPool(name, rec["id"], f"workspace {workspace}", a.get("region"), a["ip_version"],
                        tuple(sorted(Cidr.parse(c) for c in a.get("cidrs") or ())),
                        tuple(sorted(set(taken) | set(_allocations(cloud, rec["id"])))),
                        rules.get("min_mask"), rules.get("default_mask"), rules.get("max_mask"),
                        bool(a.get("auto_import")), _shared_by(row))


def _from_cloud(name: str, pool_id: str, cloud, refuse: Callable[[str, str], None]) -> ExternalPool | None:
    row = _pool_row(cloud, pool_id)
    if row is None:
        refuse("ExternalPool.NotFound", f"the cloud lists no pool {pool_id}")
        return None
    cidrs = by_token(cloud, "ListIpamPoolCidrs", {"IpamPoolId": pool_id}, "IpamPoolCidrs")
    return ExternalPool(name, pool_id, "the cloud", row.get("PoolRegionId") or None, row["IpVersion"],
                        tuple(sorted(Cidr.parse(c["Cidr"]) for c in cidrs)),
                        tuple(sorted(set(_allocations(cloud, pool_id)))),
                        row.get("AllocationMinCidrMask"), row.get("AllocationDefaultCidrMask"),
                        row.get("AllocationMaxCidrMask"), bool(row.get("AutoImport")), _shared_by(row))


def _shared_by(row: dict) -> str | None:
    """The owner's account when the pool is shared with the caller (``IsShared``: "Pools Shared with Me")."""
    owner = row.get("OwnerId")
    return str(owner) if row.get("IsShared") and owner is not None else None


def _pool_row(cloud, pool_id: str) -> dict | None:
    rows = by_token(cloud, "ListIpamPools", {"IpamPoolIds.1": pool_id}, "IpamPools")
    return next((r for r in rows if r.get("IpamPoolId") == pool_id), None)


def _allocations(cloud, pool_id: str) -> list[TakenBlock]:
    """What the cloud has allocated in the pool (VPCs, custom allocations, sub-pools): every workspace's."""
    rows = by_token(cloud, "ListIpamPoolAllocations", {"IpamPoolId": pool_id}, "IpamPoolAllocations")
    return [TakenBlock(Cidr.parse(r["Cidr"]), f"{r.get('ResourceType') or 'an allocation'} "
                       f"{r.get('ResourceId') or r.get('IpamPoolAllocationId')} (allocated in the cloud)")
            for r in rows if r.get("Cidr")]


def _blocks_in(resources: Mapping[str, dict], pool: str) -> list[tuple[str, str]]:
    """(address, CIDR) of every block the owner's records hold in its pool ``pool``: sub-pool CIDRs,
    custom allocations, VPC blocks (not those drawn from a pool of the same name it draws externally)."""
    key = f"pool:{pool}"
    out = []
    for address, rec in resources.items():
        foreign = _foreign(rec)
        for space, _, cidr in blocks_of(rec):
            if space == key and cidr not in foreign:
                out.append((address, cidr))
    return out


def _foreign(rec: Mapping[str, Any]) -> set[str]:
    """The CIDRs of a record's blocks that carry a pool id (drawn from a pool another workspace manages)."""
    return {b["cidr"] for b in drawn_blocks(rec) if b.get("pool_id") and b.get("cidr")}
