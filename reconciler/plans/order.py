"""The plan: the ordered actions that turn the recorded state into the desired one.

Each change becomes one or more actions, one per API call the cloud needs (a pool is created, then
each CIDR is provisioned). Actions are ordered by a dependency graph that encodes every deletion
precondition of the cloud: children are released before the CIDR holding them is deprovisioned,
CIDRs are deprovisioned and sub-pools deleted before their pool, pools before their scope, pools
and scopes before the IPAM; creation runs parents first. Ties are broken deterministically.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

from reconciler.desired.graph import lexical_order
from reconciler.net.address import TYPE_RANK, ResourceAddress, SpaceKey
from reconciler.net.cidr import Cidr
from reconciler.net.records import blocks_of, refs_of
from reconciler.net.records import plain as _plain
from reconciler.plans.action import (
    API,
    CREATING,
    DESTROYING,
    REGIONS_REMOVED,
    Action,
    Draft,
    PlannedAction,
    creating,
    destroying,
)
from reconciler.plans.compute import compute_drafts
from reconciler.plans.diff import Change, ChangeKind, Record
from reconciler.plans.network import Chosen, network_drafts

if TYPE_CHECKING:
    import networkx

__all__ = ["API", "CREATING", "DESTROYING", "Action", "Plan", "PlanWarning", "PlannedAction", "build_plan", "_plain"]


@dataclass(frozen=True, slots=True)
class PlanWarning:
    """Something a plan does that the cloud allows but a reviewer should see (the plan still applies);
    shaped like an error's JSON (code, address, file, line, message)."""

    code: str
    address: str | None
    file: str | None
    line: int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "address": self.address, "file": self.file, "line": self.line,
                "message": self.message}


@dataclass(frozen=True)
class Plan:
    lineage: str | None
    serial: int
    actions: tuple[PlannedAction, ...]
    changes: tuple[Change, ...]
    desired: Mapping[ResourceAddress, Record] = field(default_factory=dict)  # concrete desired records, by address
    format_version: str = "1"
    warnings: tuple[PlanWarning, ...] = ()  # shown with the plan, saved with it; none blocks it

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    def summary(self) -> dict[str, int]:
        counts = {k.value: 0 for k in ChangeKind}
        for kind, n in Counter([c.kind for c in self.changes]).items():
            counts[kind.value] += n
        for action, n in Counter([a.action for a in self.actions]).items():  # in order of first appearance
            if action not in (Action.CREATE, Action.UPDATE, Action.DELETE):
                counts[action.value] = counts.get(action.value, 0) + n
        return counts


COMPUTE = frozenset({"security_group", "instance", "eni"})


def _keys(drafts: list[Draft], decl: Mapping[ResourceAddress, int]) -> list[tuple[int | str, ...]]:
    """Each draft's place among those ready together: destroys first (children before parents), then
    updates, then builds (parents first), each in declaration order."""
    keys: list[tuple[int | str, ...]] = []
    append, rank_of, position, update = keys.append, TYPE_RANK.__getitem__, decl.get, Action.UPDATE
    for d in drafts:
        rank = rank_of(d.change.type)
        if d.down:
            append((0, -rank, d.address, d.sub))
        else:
            append((1 if d.action is update else 2, rank, position(d.address, 0), d.address, d.sub))
    return keys


def build_plan(
    changes: tuple[Change, ...],
    desired: Mapping[ResourceAddress, Record],
    recorded: Mapping[ResourceAddress, Record],
    *,
    lineage: str | None,
    serial: int,
    chosen: Chosen = MappingProxyType({}),
    declaration: Mapping[ResourceAddress, int] = MappingProxyType({}),
    warnings: tuple[PlanWarning, ...] = (),
) -> Plan:
    drafts: list[Draft] = []
    by_address: dict[ResourceAddress, list[int]] = {}
    by_type: dict[str, list[int]] = {}
    for c in changes:
        made = compute_drafts(c, chosen) if c.type in COMPUTE else network_drafts(c, chosen)
        if made:
            idx = range(len(drafts), len(drafts) + len(made))
            drafts += made
            by_address.setdefault(c.address, []).extend(idx)
            by_type.setdefault(c.type, []).extend(idx)
    g = _Edges(len(drafts))
    _edges_within(g, drafts, by_address)
    _edges_between(g, drafts, by_address, by_type, desired, recorded)
    _edges_space(g, drafts)
    keys = _keys(drafts, declaration)
    order = lexical_order(range(len(drafts)), g.succ, key=keys.__getitem__)
    actions: list[PlannedAction] = []
    api, replace = API, ChangeKind.REPLACE
    for n, i in enumerate(order, start=1):
        d = drafts[i]
        c = d.change
        actions.append(PlannedAction(n, d.action, d.address, c.type, c.name, d.api or api[(c.type, d.action)], d.cidr,
                                     d.before, d.after, c.kind is replace, d.note))
    return Plan(lineage, serial, tuple(actions), changes, MappingProxyType(dict(desired)), warnings=warnings)


class _Edges:
    """The action graph: ``succ[i]`` lists the actions that must wait for action ``i``. An edge may be
    listed twice (the order is the same: a topological sort counts both ends alike); lists, not sets,
    since a cold plan adds several edges per action."""

    def __init__(self, n: int) -> None:
        self.succ: list[list[int]] = [[] for _ in range(n)]

    def add_edge(self, a: int, b: int) -> None:
        self.succ[a].append(b)

    def to_networkx(self) -> networkx.DiGraph:  # (imported here, at first use)
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(range(len(self.succ)))
        g.add_edges_from((a, b) for a, bs in enumerate(self.succ) for b in bs)
        return g


def _edges_within(g: _Edges, drafts: list[Draft], by_address: dict[ResourceAddress, list[int]]) -> None:
    """Per resource: destroy before build (replacement); a pool exists before its CIDRs are added and
    outlives them; a VPC exists before its extra blocks; operating regions are added first."""
    succ = g.succ
    for idx in by_address.values():
        if len(idx) == 1:
            continue
        downs = [i for i in idx if drafts[i].down]
        ups = [i for i in idx if drafts[i].up]
        if downs and ups:
            for a in downs:
                succ[a].extend(ups)
        for i in idx:
            action = drafts[i].action
            if action is Action.DELETE:
                for j in downs:
                    if j != i:
                        succ[j].append(i)
            elif action is Action.CREATE:
                succ[i].extend(j for j in ups if j != i)


def _edges_between(g: _Edges, drafts: list[Draft], by_address: dict[ResourceAddress, list[int]],
                   by_type: dict[str, list[int]], desired: Mapping[ResourceAddress, Record],
                   recorded: Mapping[ResourceAddress, Record]) -> None:
    """Parents are built (and updated) before their children; children are destroyed before their parents."""
    succ = g.succ
    update = Action.UPDATE
    # builds, ordered after their parents' builds: creating, or a plain update (not a detach or attach)
    builds = [d.up or (d.action is update and not d.phase) for d in drafts]
    children_now: dict[ResourceAddress, list[ResourceAddress]] = {}
    children_before: dict[ResourceAddress, list[ResourceAddress]] = {}
    for source, table in ((desired, children_now), (recorded, children_before)):
        if not source:
            continue  # (nothing recorded: a cold plan)
        for address in by_address:  # a child without actions orders nothing
            rec = source.get(address)
            if rec is not None:
                for ref in refs_of(rec):
                    table.setdefault(ref, []).append(address)
    for parent, idx in by_address.items():
        kids = children_now.get(parent)
        if kids:
            ups = [i for i in idx if builds[i] and drafts[i].space != REGIONS_REMOVED]
            if ups:
                after = [j for child in kids for j in by_address.get(child, ()) if builds[j]]
                if after:
                    for i in ups:
                        succ[i].extend(after)
        kids = children_before.get(parent)
        if kids:
            downs = [i for i in idx if drafts[i].down]
            if downs:
                for child in kids:
                    for j in by_address.get(child, ()):
                        if drafts[j].down:
                            succ[j].extend(downs)
    # operating regions: added before any pool is created, removed after every pool is deleted
    region_updates = [i for i in by_type.get("ipam", ()) if drafts[i].action is Action.UPDATE]
    pools = by_type.get("ipam_pool", ())
    for i in region_updates:
        if drafts[i].space == REGIONS_REMOVED:
            for j in pools:
                if drafts[j].down:
                    succ[j].append(i)
        else:
            succ[i].extend(j for j in pools if drafts[j].up)
    _edges_scope_children(g, drafts, by_type)


def _edges_scope_children(g: _Edges, drafts: list[Draft], by_type: dict[str, list[int]]) -> None:
    """The IPAM is deleted after every pool and custom scope, including pools in its default scopes."""
    for i in by_type.get("ipam", ()):
        if drafts[i].action is Action.DELETE:
            for j in (*by_type.get("ipam_scope", ()), *by_type.get("ipam_pool", ())):
                if drafts[j].down:
                    g.succ[j].append(i)


def _edges_space(g: _Edges, drafts: list[Draft]) -> None:
    """A block taken in a space waits for the release of any overlapping block freed in that space."""
    if not any(destroying(d) for d in drafts):
        return
    freed: dict[SpaceKey, list[tuple[Cidr, int]]] = {}
    for i, d in enumerate(drafts):
        if destroying(d) and d.space and d.cidr:
            freed.setdefault(d.space, []).append((Cidr.parse(d.cidr), i))
        if d.action is Action.DELETE and d.before is not None:
            rec = {"type": d.change.type, "name": d.change.name, "attributes": d.before}
            for space, _, c in blocks_of(rec):
                if d.change.type != "ipam_pool":
                    freed.setdefault(space, []).append((Cidr.parse(c), i))
    for j, d in enumerate(drafts):
        if not creating(d) or not d.cidr:
            continue
        taken = [(d.space, d.cidr)] if d.space else []
        if d.after is not None and d.action is Action.CREATE:
            rec = {"type": d.change.type, "name": d.change.name, "attributes": d.after}
            taken = [(s, c) for s, _, c in blocks_of(rec)]
        for space, cidr in taken:
            new = Cidr.parse(cidr)
            for old, i in freed.get(space, ()):
                if old.overlaps(new) and i != j:
                    g.add_edge(i, j)
