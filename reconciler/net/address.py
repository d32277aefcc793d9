"""Resource addresses (``ipam_pool.hz-prod``) as values, and the resource types they name."""

from __future__ import annotations

from dataclasses import dataclass

# Resource types in dependency order: a type only ever depends on types before it.
TYPES = (
    "ipam",
    "ipam_scope",
    "ipam_pool",
    "ipam_pool_allocation",
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


@dataclass(frozen=True, slots=True, order=True)
class Address:
    type: str
    name: str

    @staticmethod
    def parse(text: str) -> "Address":
        rtype, dot, name = text.partition(".")
        if not dot or not name or rtype not in TYPE_RANK:
            raise ValueError(
                f"{text!r} is not a resource address (TYPE.NAME with TYPE one of {', '.join(TYPES)})"
            )
        return Address(rtype, name)

    def __str__(self) -> str:
        return f"{self.type}.{self.name}"

    @property
    def rank(self) -> int:
        return TYPE_RANK[self.type]
