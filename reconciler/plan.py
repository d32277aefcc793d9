"""The plan: the ordered actions that turn the recorded state into the desired one.

Each change becomes one or more actions, one per API call the cloud needs (a pool is created, then
each CIDR is provisioned). Actions are ordered by a dependency graph that encodes every deletion
precondition of the cloud: children are released before the CIDR holding them is deprovisioned,
CIDRs are deprovisioned and sub-pools deleted before their pool, pools before their scope, pools
and scopes before the IPAM; creation runs parents first. Ties are broken deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Mapping

import networkx as nx

from .address import TYPE_RANK
from .cidr import Cidr
from .diff import Change, ChangeKind
from .records import blocks_of, refs_of, space_of_pool


class Action(Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    PROVISION = "provision"
    DEPROVISION = "deprovision"
    ALLOCATE = "allocate"
    RELEASE = "release"
    ASSIGN = "assign"
    UNASSIGN = "unassign"


DESTROYING = frozenset({Action.DELETE, Action.DEPROVISION, Action.RELEASE, Action.UNASSIGN})
CREATING = frozenset({Action.CREATE, Action.PROVISION, Action.ALLOCATE, Action.ASSIGN})

API = {
    ("ipam", Action.CREATE): "CreateIpam",
    ("ipam", Action.UPDATE): "UpdateIpam",
    ("ipam", Action.DELETE): "DeleteIpam",
    ("ipam_scope", Action.CREATE): "CreateIpamScope",
    ("ipam_scope", Action.UPDATE): "UpdateIpamScope",
    ("ipam_scope", Action.DELETE): "DeleteIpamScope",
    ("ipam_pool", Action.CREATE): "CreateIpamPool",
    ("ipam_pool", Action.UPDATE): "UpdateIpamPool",
    ("ipam_pool", Action.DELETE): "DeleteIpamPool",
    ("ipam_pool", Action.PROVISION): "AddIpamPoolCidr",
    ("ipam_pool", Action.DEPROVISION): "DeleteIpamPoolCidr",
    ("ipam_pool_allocation", Action.ALLOCATE): "CreateIpamPoolAllocation",
    ("ipam_pool_allocation", Action.UPDATE): "UpdateIpamPoolAllocation",
    ("ipam_pool_allocation", Action.RELEASE): "DeleteIpamPoolAllocation",
    ("vpc", Action.CREATE): "CreateVpc",
    ("vpc", Action.UPDATE): "ModifyVpcAttribute",
    ("vpc", Action.DELETE): "DeleteVpc",
    ("vpc", Action.ALLOCATE): "AssociateVpcCidrBlock",
    ("vpc", Action.RELEASE): "UnassociateVpcCidrBlock",
    ("vswitch", Action.CREATE): "CreateVSwitch",
    ("vswitch", Action.UPDATE): "ModifyVSwitchAttribute",
    ("vswitch", Action.DELETE): "DeleteVSwitch",
}


@dataclass(frozen=True)
class PlannedAction:
    order: int
    action: Action
    address: str
    type: str
    name: str
    api: str
    cidr: str | None = None
    before: Mapping | None = None
    after: Mapping | None = None
    replace: bool = False  # one half of a replacement
    note: str | None = None  # e.g. how a CIDR was chosen, or what a delete releases

    def to_dict(self) -> dict:
        return {
            "order": self.order, "action": self.action.value, "address": self.address, "type": self.type,
            "name": self.name, "cidr": self.cidr, "api": self.api,
            "before": _plain(self.before), "after": _plain(self.after),
            "replace": self.replace, "note": self.note,
        }


@dataclass(frozen=True)
class Plan:
    lineage: str | None
    serial: int
    actions: tuple[PlannedAction, ...]
    changes: tuple[Change, ...]
    desired: Mapping[str, dict] = field(default_factory=dict)  # concrete desired records, by address
    format_version: str = "1"

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    def summary(self) -> dict[str, int]:
        counts = {k.value: 0 for k in ChangeKind}
        for c in self.changes:
            counts[c.kind.value] += 1
        for a in self.actions:
            if a.action not in (Action.CREATE, Action.UPDATE, Action.DELETE):
                counts[a.action.value] = counts.get(a.action.value, 0) + 1
        return counts


def _plain(value):
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass
class _Draft:
    action: Action
    change: Change
    cidr: str | None = None
    before: Mapping | None = None
    after: Mapping | None = None
    note: str | None = None
    sub: int = 0
    space: str | None = None  # the space a creating action takes its block from / a destroying one frees

    @property
    def address(self) -> str:
        return self.change.address


def _vpc_blocks(attrs: Mapping | None) -> dict[tuple, dict]:
    """(slot, pool, cidr) -> block, for the blocks a VPC allocates after creation (secondaries, IPv6)."""
    if not attrs:
        return {}
    out = {("secondary", b.get("pool"), b["cidr"]): dict(b) for b in attrs.get("secondary_cidrs", [])}
    if attrs.get("ipv6"):
        b = attrs["ipv6"]
        out[("ipv6", b.get("pool"), b["cidr"])] = dict(b)
    return out


def _drafts(change: Change, chosen: Mapping) -> list[_Draft]:
    t, kind, before, after = change.type, change.kind, change.before, change.after
    out: list[_Draft] = []

    def note(cidr):
        return chosen.get((change.address, cidr))

    def destroy(attrs):
        if t == "ipam_pool":
            for c in attrs["cidrs"]:
                out.append(_Draft(Action.DEPROVISION, change, c, {"cidr": c}, None, sub=len(out), space=space_of_pool(attrs)))
            out.append(_Draft(Action.DELETE, change, before=attrs, sub=len(out)))
        elif t == "ipam_pool_allocation":
            out.append(_Draft(Action.RELEASE, change, attrs["cidr"], attrs, None, space=f"pool:{attrs['pool']}"))
        else:
            cidr = attrs.get("cidr") if t == "vswitch" else attrs["ipv4"]["cidr"] if t == "vpc" else None
            released = None
            if t == "vpc":
                blocks = [b["cidr"] for b in [attrs["ipv4"], *attrs["secondary_cidrs"], attrs.get("ipv6")] if b]
                released = "releases " + ", ".join(blocks)
            out.append(_Draft(Action.DELETE, change, cidr, attrs, None, released, sub=len(out)))

    def build(attrs):
        if t == "ipam_pool":
            out.append(_Draft(Action.CREATE, change, after=attrs, sub=len(out)))
            for c in attrs["cidrs"]:
                out.append(_Draft(Action.PROVISION, change, c, None, {"cidr": c}, note(c), len(out), space_of_pool(attrs)))
        elif t == "ipam_pool_allocation":
            out.append(_Draft(Action.ALLOCATE, change, attrs["cidr"], None, attrs, note(attrs["cidr"]),
                              space=f"pool:{attrs['pool']}"))
        elif t == "vpc":
            first = {**attrs, "secondary_cidrs": []}
            cidr = attrs["ipv4"]["cidr"]
            out.append(_Draft(Action.CREATE, change, cidr, None, first, note(cidr), len(out)))
            for b in attrs["secondary_cidrs"]:
                out.append(_Draft(Action.ALLOCATE, change, b["cidr"], None, dict(b), note(b["cidr"]), len(out)))
        else:
            cidr = attrs.get("cidr") if t == "vswitch" else None
            out.append(_Draft(Action.CREATE, change, cidr, None, attrs, note(cidr) if cidr else None, len(out)))

    if kind in (ChangeKind.DELETE, ChangeKind.REPLACE):
        destroy(before)
    if kind in (ChangeKind.CREATE, ChangeKind.REPLACE):
        build(after)
    if kind is ChangeKind.UPDATE:
        out.extend(_updates(change, note))
    return out


def _updates(change: Change, note) -> list[_Draft]:
    t, before, after = change.type, change.before, change.after
    out: list[_Draft] = []
    plain = [k for k in change.changed if k not in ("cidrs", "secondary_cidrs", "ipv6", "operating_regions")]
    if t == "ipam" and "operating_regions" in change.changed:
        added = sorted(set(after["operating_regions"]) - set(before["operating_regions"]))
        removed = sorted(set(before["operating_regions"]) - set(after["operating_regions"]))
        if added:
            out.append(_Draft(Action.UPDATE, change, before=before, after={**before, "operating_regions": sorted(
                set(before["operating_regions"]) | set(added))}, note="add operating regions " + ", ".join(added), sub=1))
        if removed:
            out.append(_Draft(Action.UPDATE, change, before=before, after=after,
                              note="remove operating regions " + ", ".join(removed), sub=2))
            out[-1].space = "ipam-regions-removed"
    if plain:
        out.append(_Draft(Action.UPDATE, change, before=before, after=after, note="update " + ", ".join(plain), sub=3))
    if t == "ipam_pool":
        gone = [c for c in before["cidrs"] if c not in after["cidrs"]]
        new = [c for c in after["cidrs"] if c not in before["cidrs"]]
        for c in gone:
            out.append(_Draft(Action.DEPROVISION, change, c, {"cidr": c}, None, sub=10 + len(out), space=space_of_pool(before)))
        for c in new:
            out.append(_Draft(Action.PROVISION, change, c, None, {"cidr": c}, note(c), 100 + len(out), space_of_pool(after)))
    if t == "vpc":
        was, now = _vpc_blocks(before), _vpc_blocks(after)
        for key in sorted(was.keys() - now.keys(), key=str):
            out.append(_Draft(Action.RELEASE, change, key[2], was[key], None, sub=10 + len(out),
                              space=f"pool:{key[1]}" if key[1] else None))
        for key in sorted(now.keys() - was.keys(), key=str):
            out.append(_Draft(Action.ALLOCATE, change, key[2], None, now[key], note(key[2]), 100 + len(out),
                              space=f"pool:{key[1]}" if key[1] else None))
    return out


def _key(d: _Draft, decl: Mapping[str, int]) -> tuple:
    rank = TYPE_RANK[d.change.type]
    if d.action in DESTROYING:
        return (0, -rank, d.address, d.sub)
    if d.action is Action.UPDATE:
        return (1, rank, decl.get(d.address, 0), d.address, d.sub)
    return (2, rank, decl.get(d.address, 0), d.address, d.sub)


def build_plan(
    changes: tuple[Change, ...],
    desired: Mapping[str, dict],
    recorded: Mapping[str, dict],
    *,
    lineage: str | None,
    serial: int,
    chosen: Mapping = MappingProxyType({}),
    declaration: Mapping[str, int] = MappingProxyType({}),
) -> Plan:
    drafts = [d for c in changes for d in _drafts(c, chosen)]
    g = nx.DiGraph()
    g.add_nodes_from(range(len(drafts)))
    by_address: dict[str, list[int]] = {}
    for i, d in enumerate(drafts):
        by_address.setdefault(d.address, []).append(i)
    _edges_within(g, drafts, by_address)
    _edges_between(g, drafts, by_address, desired, recorded)
    _edges_space(g, drafts)
    order = nx.lexicographical_topological_sort(g, key=lambda i: _key(drafts[i], declaration))
    actions = []
    for n, i in enumerate(order, start=1):
        d = drafts[i]
        actions.append(PlannedAction(
            n, d.action, d.address, d.change.type, d.change.name, API[(d.change.type, d.action)], d.cidr,
            d.before, d.after, d.change.kind is ChangeKind.REPLACE, d.note))
    return Plan(lineage, serial, tuple(actions), changes, MappingProxyType(dict(desired)))


def _edges_within(g, drafts, by_address) -> None:
    """Per resource: destroy before build (replacement); a pool exists before its CIDRs are added and
    outlives them; a VPC exists before its extra blocks; operating regions are added first."""
    for address, idx in by_address.items():
        destroying = [i for i in idx if drafts[i].action in DESTROYING]
        creating = [i for i in idx if drafts[i].action in CREATING]
        for a in destroying:
            for b in creating:
                g.add_edge(a, b)
        for i in idx:
            d = drafts[i]
            if d.action is Action.DELETE:
                for j in destroying:
                    if j != i:
                        g.add_edge(j, i)
            if d.action is Action.CREATE:
                for j in creating:
                    if j != i:
                        g.add_edge(i, j)


def _edges_between(g, drafts, by_address, desired, recorded) -> None:
    """Parents are built (and updated) before their children; children are destroyed before their parents."""
    children_now: dict[str, list[str]] = {}
    children_before: dict[str, list[str]] = {}
    for source, table in ((desired, children_now), (recorded, children_before)):
        for address, rec in source.items():
            for ref in refs_of(rec):
                table.setdefault(ref, []).append(address)
    region_updates = [i for i, d in enumerate(drafts) if d.change.type == "ipam" and d.action is Action.UPDATE]
    for parent, idx in by_address.items():
        ups = [i for i in idx if drafts[i].action in CREATING or drafts[i].action is Action.UPDATE]
        downs = [i for i in idx if drafts[i].action in DESTROYING]
        for child in children_now.get(parent, ()):
            for j in by_address.get(child, ()):
                if drafts[j].action in CREATING:
                    for i in ups:
                        if drafts[i].space != "ipam-regions-removed":
                            g.add_edge(i, j)
        for child in children_before.get(parent, ()):
            for j in by_address.get(child, ()):
                if drafts[j].action in DESTROYING:
                    for i in downs:
                        g.add_edge(j, i)
    # operating regions: added before any pool is created, removed after every pool is deleted
    for i in region_updates:
        removing = drafts[i].space == "ipam-regions-removed"
        for j, d in enumerate(drafts):
            if d.change.type != "ipam_pool":
                continue
            if removing and d.action in DESTROYING:
                g.add_edge(j, i)
            if not removing and d.action in CREATING:
                g.add_edge(i, j)
    _edges_scope_children(g, drafts, by_address, recorded)


def _edges_scope_children(g, drafts, by_address, recorded) -> None:
    """The IPAM is deleted after every pool and custom scope, including pools in its default scopes."""
    for i, d in enumerate(drafts):
        if d.change.type == "ipam" and d.action is Action.DELETE:
            for j, e in enumerate(drafts):
                if e.change.type in ("ipam_scope", "ipam_pool") and e.action in DESTROYING:
                    g.add_edge(j, i)


def _edges_space(g, drafts) -> None:
    """A block taken in a space waits for the release of any overlapping block freed in that space."""
    freed: dict[str, list[tuple[Cidr, int]]] = {}
    for i, d in enumerate(drafts):
        if d.action in DESTROYING and d.space and d.cidr:
            freed.setdefault(d.space, []).append((Cidr.parse(d.cidr), i))
        if d.action is Action.DELETE and d.before is not None:
            rec = {"type": d.change.type, "name": d.change.name, "attributes": d.before}
            for space, _, c in blocks_of(rec):
                if d.change.type != "ipam_pool":
                    freed.setdefault(space, []).append((Cidr.parse(c), i))
    for j, d in enumerate(drafts):
        if d.action not in CREATING or not d.cidr:
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
