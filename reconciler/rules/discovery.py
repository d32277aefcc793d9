"""The plan-time rule against discovered CIDRs (pure): a block a plan allocates from a pool that
overlaps a CIDR resource discovery finds in the same scope.

* Hosted (managed) CIDRs are allocated from a pool of the scope, and the cloud refuses a block
  overlapping one ("IPAM ensures that the allocated CIDR blocks do not overlap"): always an error,
  with the cloud's own code ``OperationDenied.CidrUnavailableInPool``.
* Not hosted CIDRs (made without IPAM) hold nothing in any pool, so the cloud allocates over them;
  only the networks conflict once connected. A warning in the plan by default; refused with
  ``OperationDenied.CidrOverlapWithDiscovered`` when the spec sets ``ipam: {discovered_overlaps: refuse}``.

The blocks checked are the ones a plan allocates from a pool and did not hold before: VPC blocks
(primary, secondary, IPv6) and custom allocations. Pool CIDRs are not checked (a pool is meant to
cover existing networks; auto-import depends on it), nor VPC blocks given without a pool.

Where a discovered CIDR sits: in the scope the cloud names (``scope_id``) when the state knows that
scope, else in the scope of its pool when the state knows the pool, else (Not hosted) in the default
scope of its IP version (``private`` for IPv4, ``public`` for IPv6). A discovered CIDR of a resource
the state holds is left out when this plan releases it (the resource is deleted or replaced, or a
VPC no longer holds that block).
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, Iterable, Mapping

from reconciler.desired.network import Desired
from reconciler.errors import ReconcilerError
from reconciler.net.address import ResourceAddress
from reconciler.net.cidr import Cidr
from reconciler.net.discovered import DiscoveredCidr
from reconciler.net.external import TakenBlock
from reconciler.net.records import blocks_of
from reconciler.plans.diff import Change, ChangeKind
from reconciler.plans.order import PlanWarning
from reconciler.source.locate import Locator, Problems

CODE = "OperationDenied.CidrOverlapWithDiscovered"  # a Not hosted overlap, refused by the spec's choice
WARNING = "Warning.CidrOverlapWithDiscovered"  # a Not hosted overlap, allowed (the default)
HOSTED = "OperationDenied.CidrUnavailableInPool"  # a Hosted overlap: the cloud's own refusal
POLICIES = ("warn", "refuse")  # ipam.discovered_overlaps
CHECKED = ("vpc", "ipam_pool_allocation")


class _Index:
    """Discovered blocks of one scope and IP version sorted by start, with the running maximum of
    their ends, so an overlap query is a bisection and a walk over the hits."""

    def __init__(self, items: list[tuple[Cidr, DiscoveredCidr, ResourceAddress | None]]) -> None:
        self.items = sorted(items, key=lambda i: (i[0].start, i[0].end))
        self.starts = [c.start for c, _, _ in self.items]
        self.reach: list[int] = []
        for c, _, _ in self.items:
            self.reach.append(max(c.end, self.reach[-1]) if self.reach else c.end)

    def overlapping(self, block: Cidr) -> list[tuple[DiscoveredCidr, ResourceAddress | None]]:
        out: list[tuple[DiscoveredCidr, ResourceAddress | None]] = []
        j = bisect_right(self.starts, block.end) - 1
        while j >= 0 and self.reach[j] >= block.start:
            c, d, owner = self.items[j]
            if c.end >= block.start:
                out.append((d, owner))
            j -= 1
        return out


def _scope(d: DiscoveredCidr, scopes: Mapping[str, str], pools: Mapping[str, str]) -> str | None:
    if d.scope_id and d.scope_id in scopes:
        return scopes[d.scope_id]
    if d.pool_id:
        return pools.get(d.pool_id)
    return "private" if d.version == 4 else "public"


def check_discovered(desired: Desired, recorded: Mapping[ResourceAddress, Mapping[str, Any]], changes: Iterable[Change],
                     discovered: Iterable[DiscoveredCidr], locate: Locator,
                     overlaps: str = "warn") -> tuple[list[ReconcilerError], list[PlanWarning]]:
    """Errors and warnings for the new pool blocks of ``desired`` that overlap ``discovered`` CIDRs of
    their scope. ``overlaps``: what a Not hosted overlap is, ``warn`` or ``refuse`` (a Hosted one is
    always refused)."""
    discovered = tuple(discovered)
    if not discovered:
        return [], []
    ids = {rec["id"]: address for address, rec in recorded.items() if rec.get("id")}
    scopes = {r["id"]: r["name"] for r in recorded.values() if r["type"] == "ipam_scope" and r.get("id")}
    pools = {r["id"]: r["attributes"].get("scope") for r in recorded.values() if r["type"] == "ipam_pool" and r.get("id")}
    gone = {c.address for c in changes if c.kind in (ChangeKind.REPLACE, ChangeKind.DELETE)}
    by_scope: dict[tuple[str, int], list[tuple[Cidr, DiscoveredCidr, ResourceAddress | None]]] = {}
    for d in discovered:
        owner = ids.get(d.resource_id)
        if owner is not None:
            if owner in gone or owner not in desired.resources:
                continue  # released by this plan
            if d.resource_type == "VPC" and d.cidr not in {c for _, _, c in blocks_of(desired.resources[owner])}:
                continue
        scope = _scope(d, scopes, pools)
        if scope is not None:
            block = Cidr.parse(d.cidr)
            by_scope.setdefault((scope, block.version), []).append((block, d, owner))
    index = {key: _Index(items) for key, items in by_scope.items()}
    paths = {(address, cidr): path for (address, path), cidr in desired.blocks.items()}
    problems, warned = Problems(locate), Problems(locate)
    for address in sorted(desired.resources):
        rec = desired.resources[address]
        if rec["type"] not in CHECKED:
            continue
        held: set[str] = set()
        if address in recorded and address not in gone:
            held = {c for _, _, c in blocks_of(recorded[address])}
        for space, _, cidr in blocks_of(rec):
            if not space.startswith("pool:") or cidr in held:
                continue
            facts = desired.pools.get(space[len("pool:"):])
            block = Cidr.parse(cidr)
            found = index.get((facts.scope, block.version)) if facts else None
            hits = [d for d, owner in (found.overlapping(block) if found else ()) if owner != address]
            if not hits or facts is None:  # (no facts, no index: no hits)
                continue
            hosted = [d for d in hits if d.pool_id]
            chosen = hosted or hits
            chosen.sort(key=lambda d: (d.resource_type != "VPC", Cidr.parse(d.cidr), d.resource_id))
            d = chosen[0]
            more = f" (and {len(chosen) - 1} more)" if len(chosen) > 1 else ""
            what = (f"{cidr} overlaps {d.cidr} of {d.resource_type} {d.resource_id} ({d.management}, {d.region}){more}, "
                    f"which resource discovery finds in ipam_scope.{facts.scope}")
            path = paths.get((address, cidr), ())
            if hosted:
                problems.add(HOSTED, f"{what}; the pool has allocated it; choose another block", address, path)
            elif overlaps == "refuse":
                problems.add(CODE, f"{what}; choose another block, or import the resource (refused by "
                                   "ipam.discovered_overlaps: refuse)", address, path)
            else:
                warned.add(WARNING, f"{what}; the cloud allows it, but the two networks conflict if they are "
                                    "ever connected; choose another block, import the resource, or set "
                                    "ipam.discovered_overlaps: refuse", address, path)
    warnings = [PlanWarning(w.code, w.address, w.file, w.line, w.message) for w in warned.errors]
    return problems.errors, warnings


def hosted_elsewhere(recorded: Mapping[ResourceAddress, Mapping[str, Any]],
                     cidrs: Iterable[DiscoveredCidr]) -> dict[str, list[TakenBlock]]:
    """Pool name -> the Hosted VPC blocks discovery finds allocated in this state's pools to VPCs the
    state does not hold (another workspace's, drawing on the pool as an external pool, or a VPC made
    by hand): the allocator plans around them rather than choosing one and refusing it here."""
    names = {rec["id"]: rec["name"] for rec in recorded.values() if rec["type"] == "ipam_pool" and rec.get("id")}
    if not names:
        return {}
    mine = {rec.get("id") for rec in recorded.values() if rec["type"] == "vpc"}
    out: dict[str, list[TakenBlock]] = {}
    for d in sorted(cidrs):
        if d.resource_type == "VPC" and d.pool_id in names and d.resource_id not in mine:
            out.setdefault(names[d.pool_id], []).append(
                TakenBlock(Cidr.parse(d.cidr), f"VPC {d.resource_id} (Hosted, {d.region})"))
    return out
