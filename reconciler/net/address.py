"""Resource addresses (``ipam_pool.hz-prod``) and space keys (``pool:hz-prod``) as typed values, and the
resource types they name.

Both are kept as text at run time, so a state of 100,000 records keys its dicts with them at no
cost; the types make them distinct from other strings in every signature (as dbt's ``UniqueId``).
:func:`address_of` and :func:`split_address` are the one way to build and take one apart;
:class:`Address` is the parsed form, for text a user typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NewType

ResourceAddress = NewType("ResourceAddress", str)
"""``TYPE.NAME``: a key of the desired and the recorded state."""

SpaceKey = NewType("SpaceKey", str)
"""``KIND:NAME`` (or ``supply``): an address space blocks are carved from: ``scope:private`` (a scope's
top level), ``pool:hz`` (a pool's CIDRs), ``vpc:app`` (a VPC's blocks), ``eni4:web`` / ``eni6:web``
(a vSwitch's IPv4 / IPv6 addresses and prefixes), ``supply`` (the cloud's public IPv6 supply)."""

SUPPLY = SpaceKey("supply")


def address_of(rtype: str, name: str) -> ResourceAddress:
    return ResourceAddress(f"{rtype}.{name}")


def split_address(address: str) -> tuple[str, str]:
    """(type, name) of an address text; the name keeps any further dots."""
    rtype, _, name = address.partition(".")
    return rtype, name


def space_key(kind: str, name: str) -> SpaceKey:
    return SpaceKey(f"{kind}:{name}")


def split_space(key: str) -> tuple[str, str]:
    """(kind, name) of a space key; ``supply`` has no name."""
    kind, _, name = key.partition(":")
    return kind, name

# Resource types in dependency order: a type only ever depends on types before it.
TYPES = (
    "ipam",
    "ipam_scope",
    "ipam_pool",
    "ipam_pool_allocation",
    "resource_share",
    "vpc",
    "vswitch",
    "security_group",
    "instance",
    "eni",
)
TYPE_RANK = {t: i for i, t in enumerate(TYPES)}

# The spec's top-level key for each type (``ipam`` is a single object, the rest maps by name).
SPEC_KIND = {
    "ipam": "ipam",
    "ipam_scope": "scopes",
    "ipam_pool": "pools",
    "ipam_pool_allocation": "allocations",
    "resource_share": "resource_shares",
    "vpc": "vpcs",
    "vswitch": "vswitches",
    "security_group": "security_groups",
    "instance": "instances",
    "eni": "enis",
}
KIND_TYPE = {kind: rtype for rtype, kind in SPEC_KIND.items()}


def dependency_order(address: str) -> tuple[int, str]:
    """A sort key for address texts: parents' types first (unknown types last), then by name."""
    return (TYPE_RANK.get(address.split(".", 1)[0], 99), address)


# A spec's resource name (the same rule as reconciler.models.network.NAME_RE, which validates the specs).
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True, slots=True, order=True)
class Address:
    type: str
    name: str

    @staticmethod
    def parse(text: str) -> "Address":
        """The address ``text`` names; ValueError when it is not one: an unknown TYPE, or a NAME that
        is empty or that no spec can declare (the spec's rule for names, :data:`NAME_RE`; an IPAM's
        name is free text, but not empty, padded or holding control characters)."""
        rtype, dot, name = text.partition(".")
        if not dot or rtype not in TYPE_RANK:
            raise ValueError(
                f"{text!r} is not a resource address (TYPE.NAME with TYPE one of {', '.join(TYPES)})"
            )
        if rtype == "ipam":
            bad = not name.strip() or name != name.strip() or any(ord(c) < 32 or ord(c) == 127 for c in name)
        else:
            bad = NAME_RE.fullmatch(name) is None
        if bad:
            raise ValueError(
                f"{text!r} is not a resource address: the name {name!r} is empty or malformed (a name starts "
                "with a letter or digit and uses only letters, digits, '-', '_' and '.', at most 128 characters)"
            )
        return Address(rtype, name)

    def __str__(self) -> str:
        return address_of(self.type, self.name)

    @property
    def rank(self) -> int:
        return TYPE_RANK[self.type]
