"""The difference between the desired resources and the recorded ones: a pure function.

State is keyed by address, so the diff is a key-set difference plus one equality check per
resource present on both sides; :mod:`deepdiff` only describes the resources that did change.
A change to an attribute the cloud cannot modify in place is a replacement, and a replacement
carries over to every resource that refers to the replaced one by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Mapping, TypeAlias

from reconciler.frozen import fast_init
from reconciler.net.address import TYPE_RANK, ResourceAddress, address_of
from reconciler.net.records import refs_of

Record: TypeAlias = dict[str, Any]  # {"type", "name", "id", "attributes"}: JSON-like
Attributes: TypeAlias = Mapping[str, Any]  # a record's attributes (a read-only view once in a change)

# Attributes whose change the cloud cannot make in place (a new resource is needed): top-level
# attribute names, or dotted paths into a nested attribute ("ipv4.cidr"). Reviewed against the seeds
# and the API reference (README's "Replacements"): what is not listed is changed in place
# (ModifyVpcAttribute, UpdateIpamPool, AddIpamPoolCidr, AssociateVpcCidrBlock, ...).
FORCES_NEW = {
    "ipam": ("region",),  # the managed region "cannot be removed"
    "ipam_scope": ("ipam", "type"),
    "ipam_pool": ("scope", "ip_version", "source", "region", "isp"),  # effective region "cannot be modified"
    "ipam_pool_allocation": ("pool", "pool_id", "cidr"),  # pool_id: an external pool's (its owner replaced it)
    # every attribute: the sandbox has no Associate/DisassociateResourceShare, so a new share replaces it
    "resource_share": ("resources", "principals", "allow_external_targets"),
    "vpc": ("region", "ipv4.cidr", "ipv4.pool", "ipv4.pool_id"),  # no API moves a primary block, or a VPC into a pool
    "vswitch": ("vpc", "zone", "cidr", "ipv6_cidr"),
    "security_group": ("vpc", "type"),
    "instance": ("instance_type", "vswitch", "security_group", "primary_ip"),
    "eni": ("vswitch", "primary_ip", "primary", "managed"),
}


def _leaves_pool(was: Any, now: Any) -> bool:
    """A block leaving its pool, keeping its CIDR: DeleteIpamPoolAllocation ("Releasing a VPC
    allocation only dissociates the VPC from the IPAM pool. This action does not delete the VPC itself.")."""
    return was is not None and now is None


# Changes of a FORCES_NEW path that the cloud does make in place after all: (type, path) -> test on
# the (recorded, desired) values. (The planned in-place action: plans/network.py.)
IN_PLACE: Mapping[tuple[str, str], Callable[[Any, Any], bool]] = {
    ("vpc", "ipv4.pool"): _leaves_pool,
}


def _at(attrs: Attributes, path: str) -> Any:
    head, _, rest = path.partition(".")
    value = attrs.get(head)
    return value.get(rest) if rest and isinstance(value, Mapping) else None if rest else value


def replace_paths(rtype: str, before: Attributes, after: Attributes, changed: tuple[str, ...]) -> tuple[str, ...]:
    """The FORCES_NEW paths of ``rtype`` whose value differs between ``before`` and ``after`` and that
    the cloud cannot change in place (only for the top-level attributes in ``changed``)."""
    out: list[str] = []
    for path in FORCES_NEW[rtype]:
        if path.partition(".")[0] not in changed:
            continue
        was, now = _at(before, path), _at(after, path)
        if was == now:
            continue
        test = IN_PLACE.get((rtype, path))
        if test is not None and test(was, now):
            continue
        out.append(path)
    return tuple(out)


class ChangeKind(Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"

    # members are singletons compared by identity: hashed by it too (Enum's own hash is a Python call
    # on the name, and a plan looks members up several times per change)
    __hash__ = object.__hash__


@fast_init
@dataclass(frozen=True, slots=True, init=False)
class Change:
    address: ResourceAddress
    type: str
    name: str
    kind: ChangeKind
    before: Attributes | None  # recorded attributes
    after: Attributes | None  # desired attributes
    changed: tuple[str, ...] = ()  # top-level attributes that differ
    replace_reasons: tuple[str, ...] = ()  # why a replacement is needed

    if TYPE_CHECKING:  # the __init__ fast_init writes (the dataclass makes none: init=False)
        def __init__(self, address: ResourceAddress, type: str, name: str, kind: ChangeKind,
                     before: Attributes | None, after: Attributes | None, changed: tuple[str, ...] = (),
                     replace_reasons: tuple[str, ...] = ()) -> None: ...


def _freeze(attrs: Attributes | None) -> Attributes | None:
    """A read-only view of a record's attributes. Not a copy: desired and recorded records are never
    changed once made (a state's resources are an immutable map; the desired state is built anew
    by every plan), and a copy per record would cost a cold plan as much as building them."""
    if attrs is None or type(attrs) is MappingProxyType:
        return attrs
    return MappingProxyType(attrs)


def _implicit(record: Record) -> bool:
    """Default scopes come and go with their IPAM, and service-managed ENIs belong to their service:
    neither ever gets actions of its own."""
    a = record["attributes"]
    # (the flags' own values, read as a condition: no bool() call per record)
    return (record["type"] == "ipam_scope" and a.get("default", False)) or (record["type"] == "eni" and a.get("managed", False))  # type: ignore[no-any-return]


def diff(desired: Mapping[ResourceAddress, Record], recorded: Mapping[ResourceAddress, Record]) -> tuple[Change, ...]:
    """Every change that turns ``recorded`` into ``desired``, sorted by type rank then address."""
    desired = desired if type(desired) is dict else dict(desired)  # one pass; then every lookup is a dict's
    recorded = recorded if type(recorded) is dict else dict(recorded)
    changes: dict[ResourceAddress, Change] = {}
    both = 0  # addresses on both sides: when all the recorded ones, nothing is deleted
    for address, want in desired.items():
        have = recorded.get(address)
        if have is None:
            if not _implicit(want):
                changes[address] = Change(address, want["type"], want["name"], ChangeKind.CREATE, None,
                                          _freeze(want["attributes"]))
            continue
        both += 1
        if want["attributes"] == have["attributes"] or _implicit(want):
            continue
        from deepdiff import (
            DeepDiff,  # only a changed resource needs it: its import is a large part of start-up
        )

        changed = tuple(sorted(DeepDiff(have["attributes"], want["attributes"], verbose_level=0).affected_root_keys))
        reasons = tuple(f"{p} changes" for p in replace_paths(want["type"], have["attributes"], want["attributes"], changed))
        kind = ChangeKind.REPLACE if reasons else ChangeKind.UPDATE
        changes[address] = Change(address, want["type"], want["name"], kind, _freeze(have["attributes"]),
                                  _freeze(want["attributes"]), changed, reasons)
    if both < len(recorded):
        for address in recorded.keys() - desired.keys():
            rec = recorded[address]
            if not _implicit(rec):
                changes[address] = Change(address, rec["type"], rec["name"], ChangeKind.DELETE,
                                          _freeze(rec["attributes"]), None)
    _cascade(changes, desired, recorded)
    return tuple(sorted(changes.values(), key=lambda c: (TYPE_RANK[c.type], c.address)))


def _cascade(changes: dict[ResourceAddress, Change], desired: Mapping[ResourceAddress, Record],
             recorded: Mapping[ResourceAddress, Record]) -> None:
    """A resource that refers to a replaced one by id is replaced too (its parent's id changes)."""
    queue = sorted(a for a, c in changes.items() if c.kind is ChangeKind.REPLACE)
    if not queue:
        return
    dependents: dict[ResourceAddress, list[ResourceAddress]] = {}
    for address, rec in recorded.items():
        for ref in refs_of(rec):
            dependents.setdefault(ref, []).append(address)
    for address in list(recorded):
        rec = recorded[address]
        if rec["type"] == "ipam_scope" and rec["attributes"].get("default"):
            ipam = address_of("ipam", rec["attributes"]["ipam"])
            if ipam in changes and changes[ipam].kind is ChangeKind.REPLACE:
                dependents.setdefault(ipam, []).append(address)
    while queue:
        parent = queue.pop(0)
        for child in sorted(dependents.get(parent, ())):
            current = changes.get(child)
            if child not in desired or (current and current.kind in (ChangeKind.REPLACE, ChangeKind.DELETE)):
                continue
            rec = desired[child]
            if _implicit(rec):
                queue.append(child)  # the default scope is re-created with the IPAM; its pools follow
                continue
            changes[child] = Change(
                child, rec["type"], rec["name"], ChangeKind.REPLACE, _freeze(recorded[child]["attributes"]),
                _freeze(rec["attributes"]), current.changed if current else (), (f"{parent} is replaced",),
            )
            queue.append(child)
