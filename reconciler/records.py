"""The shape of a resource record (desired or recorded): what it refers to and which blocks it holds.

A record is ``{"type", "name", "id", "attributes"}``; references inside ``attributes`` are by name.
These two functions are the only place that knows where references and blocks sit in each type's
attributes, so the resolver, the planner and apply agree on them.
"""

from __future__ import annotations


def refs_of(record: dict) -> list[str]:
    """Addresses this record refers to (its dependencies)."""
    a, t = record["attributes"], record["type"]
    if t == "ipam_scope":
        return [f"ipam.{a['ipam']}"]
    if t == "ipam_pool":
        out = [f"ipam_scope.{a['scope']}"]
        if a.get("source"):
            out.append(f"ipam_pool.{a['source']}")
        return out
    if t == "ipam_pool_allocation":
        return [f"ipam_pool.{a['pool']}"]
    if t == "vpc":
        blocks = [a.get("ipv4"), a.get("ipv6"), *a.get("secondary_cidrs", [])]
        return sorted({f"ipam_pool.{b['pool']}" for b in blocks if b and b.get("pool")})
    if t == "vswitch":
        return [f"vpc.{a['vpc']}"]
    return []


def space_of_pool(attributes: dict) -> str:
    """Where a pool's own CIDRs are carved from."""
    if attributes.get("source"):
        return f"pool:{attributes['source']}"
    if attributes["ip_version"] == "IPv6":
        return "supply"
    return f"scope:{attributes['scope']}"


def blocks_of(record: dict) -> list[tuple[str, str, str]]:
    """(space key, slot, cidr) of every block a record holds.

    Space keys: ``scope:<scope>`` (top-level IPv4 pools), ``supply`` (public IPv6 top-level pools),
    ``pool:<pool>`` (sub-pool CIDRs, custom allocations, VPC blocks), ``vpc:<vpc>`` (vSwitches) and
    ``vpc-free:<vpc>`` (VPC blocks given without IPAM).
    """
    a, t = record["attributes"], record["type"]
    if t == "ipam_pool":
        key = space_of_pool(a)
        return [(key, "cidrs", c) for c in a.get("cidrs", [])]
    if t == "ipam_pool_allocation":
        return [(f"pool:{a['pool']}", "cidr", a["cidr"])] if a.get("cidr") else []
    if t == "vpc":
        out = []
        entries = [("ipv4", a.get("ipv4")), ("ipv6", a.get("ipv6"))]
        entries += [("secondary_cidrs", b) for b in a.get("secondary_cidrs", [])]
        for slot, block in entries:
            if block and block.get("cidr"):
                key = f"pool:{block['pool']}" if block.get("pool") else f"vpc-free:{record['name']}"
                out.append((key, slot, block["cidr"]))
        return out
    if t == "vswitch":
        return [(f"vpc:{a['vpc']}", "cidr", a["cidr"])] if a.get("cidr") else []
    return []
