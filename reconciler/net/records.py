"""The shape of a resource record (desired or recorded): what it refers to and which blocks it holds.

A record is ``{"type", "name", "id", "attributes"}``; references inside ``attributes`` are by name.
These two functions are the only place that knows where references and blocks sit in each type's
attributes, so the resolver, the planner and apply agree on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from reconciler.net.address import SUPPLY, ResourceAddress, SpaceKey, space_key

if TYPE_CHECKING:
    from reconciler.net.cidr import Cidr

_NESTED = frozenset({dict, MappingProxyType, list, tuple})

# refs_of and blocks_of run for every record in the planner's loops: they build addresses and space
# keys as text and only cast the result to its type (no NewType call per item).
_Addresses: TypeAlias = list[ResourceAddress]
_Blocks: TypeAlias = list[tuple[SpaceKey, str, str]]


def plain(value: Any) -> Any:
    """Plain JSON-able copies of mappings (dicts and read-only views) and sequences, recursively."""
    t = type(value)
    if t is dict or t is MappingProxyType:
        return {k: plain(v) if type(v) in _NESTED else v for k, v in value.items()}
    if t is list or t is tuple:
        return [plain(v) if type(v) in _NESTED else v for v in value]
    return value


def refs_of(record: Mapping[str, Any]) -> list[ResourceAddress]:
    """Addresses this record refers to (its dependencies)."""
    a, t = record["attributes"], record["type"]
    # (the most common types first: a large plan is mostly ENIs and instances)
    if t == "eni":
        out = [f"vswitch.{a['vswitch']}"] if a.get("vswitch") else []
        if a.get("security_group"):
            out.append(f"security_group.{a['security_group']}")
        if a.get("instance"):
            out.append(f"instance.{a['instance']}")
        return cast(_Addresses, out)
    if t == "instance":
        return cast(_Addresses, [f"vswitch.{a['vswitch']}"] + (
            [f"security_group.{a['security_group']}"] if a.get("security_group") else []))
    if t == "ipam_scope":
        return cast(_Addresses, [f"ipam.{a['ipam']}"])
    if t == "ipam_pool":
        out = [f"ipam_scope.{a['scope']}"]
        if a.get("source"):
            out.append(f"ipam_pool.{a['source']}")
        return cast(_Addresses, out)
    # (a block carrying its pool's id is drawn from an external pool: no resource of this state)
    if t == "ipam_pool_allocation":
        return cast(_Addresses, [] if a.get("pool_id") else [f"ipam_pool.{a['pool']}"])
    if t == "vpc":
        blocks = [a.get("ipv4"), a.get("ipv6"), *a.get("secondary_cidrs", [])]
        return cast(_Addresses, sorted({f"ipam_pool.{b['pool']}" for b in blocks
                                        if b and b.get("pool") and not b.get("pool_id")}))
    if t == "vswitch":
        return cast(_Addresses, [f"vpc.{a['vpc']}"])
    if t == "security_group":
        return cast(_Addresses, [f"vpc.{a['vpc']}"])
    if t == "resource_share":
        return cast(_Addresses, list(a["resources"]))
    return []


ENI_FIELDS = (("primary_ip", 4), ("secondary_private_ips", 4), ("ipv4_prefixes", 4), ("ipv6_addresses", 6),
              ("ipv6_prefixes", 6))


def item_key(item: str) -> Cidr:
    """Numeric order of an address or prefix string (10.0.0.9 before 10.0.0.10)."""
    from reconciler.net.cidr import Cidr

    return Cidr.parse(item if "/" in item else f"{item}/{128 if ':' in item else 32}")


def eni_blocks(attributes: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, cidr) of every address (as a /32 or /128) and prefix an ENI holds."""
    out: list[tuple[str, str]] = []
    for key, version in ENI_FIELDS:
        value = attributes.get(key)
        for item in ([value] if isinstance(value, str) else value or []):
            out.append((key, item if "/" in item else f"{item}/{32 if version == 4 else 128}"))
    return out


def space_of_pool(attributes: Mapping[str, Any]) -> SpaceKey:
    """Where a pool's own CIDRs are carved from."""
    if attributes.get("source"):
        return space_key("pool", attributes["source"])
    if attributes["ip_version"] == "IPv6":
        return SUPPLY
    return space_key("scope", attributes["scope"])


def drawn_blocks(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The block dicts (``{pool, cidr}``, with ``pool_id`` when the pool is external) of a record drawn
    from pools: a custom allocation's attributes, a VPC's primary, IPv6 and secondary blocks."""
    a, t = record.get("attributes") or {}, record.get("type")
    if t == "ipam_pool_allocation":
        return [a]
    if t == "vpc":
        return [b for b in (a.get("ipv4"), a.get("ipv6"), *(a.get("secondary_cidrs") or ())) if b]
    return []


def blocks_of(record: Mapping[str, Any]) -> list[tuple[SpaceKey, str, str]]:
    """(space key, slot, cidr) of every block a record holds.

    Space keys: ``scope:<scope>`` (top-level IPv4 pools), ``supply`` (public IPv6 top-level pools),
    ``pool:<pool>`` (sub-pool CIDRs, custom allocations, VPC blocks), ``vpc:<vpc>`` (vSwitches) and
    ``vpc-free:<vpc>`` (VPC blocks given without IPAM), ``vpc6:<vpc>`` (vSwitch IPv6 /64s) and
    ``eni4:<vswitch>`` / ``eni6:<vswitch>`` (ENI addresses as /32 or /128, and prefixes).
    """
    a, t = record["attributes"], record["type"]
    if t == "ipam_pool":
        key = space_of_pool(a)
        return [(key, "cidrs", c) for c in a.get("cidrs", [])]
    if t == "ipam_pool_allocation":
        return cast(_Blocks, [(f"pool:{a['pool']}", "cidr", a["cidr"])]) if a.get("cidr") else []
    if t == "vpc":
        out: list[tuple[str, str, str]] = []
        entries = [("ipv4", a.get("ipv4")), ("ipv6", a.get("ipv6"))]
        entries += [("secondary_cidrs", b) for b in a.get("secondary_cidrs", [])]
        for slot, block in entries:
            if block and block.get("cidr"):
                space = f"pool:{block['pool']}" if block.get("pool") else f"vpc-free:{record['name']}"
                out.append((space, slot, block["cidr"]))
        return cast(_Blocks, out)
    if t == "vswitch":
        out = [(f"vpc:{a['vpc']}", "cidr", a["cidr"])] if a.get("cidr") else []
        if a.get("ipv6_cidr"):
            out.append((f"vpc6:{a['vpc']}", "ipv6_cidr", a["ipv6_cidr"]))
        return cast(_Blocks, out)
    if t == "eni" and a.get("vswitch"):
        return cast(_Blocks, [(f"eni{6 if ':' in c else 4}:{a['vswitch']}", key, c) for key, c in eni_blocks(a)])
    return []
