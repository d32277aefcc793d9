"""Cloud rows -> state-shaped records: one function per resource type, each giving the attributes
exactly as the desired records (:mod:`reconciler.desired.network_records`, :mod:`reconciler.desired.compute`)
and the apply steps (:mod:`reconciler.providers.alibaba`) shape them.

References are by name: :class:`Names` turns an id into the name the state knows it by, and keeps
the ids it could not name (they appear as the raw id, so a comparison shows them). Where the cloud
answers a default for a value the spec left out (an empty description, a pool's allocation masks
at the ends of their range), the record holds what the state holds for it (None), so an unchanged
resource reads back equal to its record.
"""

from __future__ import annotations

from typing import Mapping

from reconciler.net.address import TYPE_RANK
from reconciler.net.cidr import Cidr
from reconciler.net.limits import MASK_RANGE
from reconciler.net.records import item_key
from reconciler.providers.alibaba_ecs import eni_record, first_group

TYPE_ORDER = TYPE_RANK
SG_TYPES: dict[str | None, str] = {"normal": "basic", "enterprise": "advanced"}  # by a row's type, maybe absent


class Names:
    """id -> state name; ``tracking()`` gives a view that remembers the ids it could not name."""

    def __init__(self, names: Mapping[str, str], external: Mapping[str, str] | None = None):
        self.names = names
        self.external = external or {}  # id -> name of the pools other workspaces manage (external_pools)
        self.missing: list[str] = []

    def tracking(self) -> "Names":
        return Names(self.names, self.external)

    def block(self, pool_id: str | None, cidr: str | None) -> dict:
        """A block's record as the plan makes it (reconciler.desired.network_records.pool_block)."""
        if pool_id and pool_id in self.external and pool_id not in self.names:
            return {"pool": self.external[pool_id], "cidr": cidr, "pool_id": pool_id}
        return {"pool": self(pool_id), "cidr": cidr}

    def __call__(self, rid: str | None) -> str | None:
        if not rid:
            return None
        name = self.names.get(rid)
        if name is None:
            self.missing.append(rid)
            return rid
        return name


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def _sorted(cidrs) -> list[str]:
    return sorted(cidrs, key=Cidr.parse)


def ipam_attrs(row: dict, n: Names) -> dict:
    return {"region": row["RegionId"], "operating_regions": sorted(set(row.get("OperatingRegionList") or ())),
            "description": _text(row.get("IpamDescription"))}


def scope_attrs(row: dict, n: Names) -> dict:
    default = bool(row.get("IsDefault"))
    return {"ipam": n(row.get("IpamId")), "type": row.get("IpamScopeType"), "default": default,
            "description": None if default else _text(row.get("IpamScopeDescription"))}


def pool_attrs(row: dict, n: Names, cidrs: list[str], was: Mapping | None) -> dict:
    version = row["IpVersion"]
    low, high = MASK_RANGE[version]
    before = (was or {}).get("allocation") or {}

    def mask(key: str, value, default):
        # the cloud's default for a mask the spec left out reads as the state's None
        return None if value is None or (value == default and before.get(key) is None) else value

    source = row.get("SourceIpamPoolId") or None
    return {
        "scope": n(row.get("IpamScopeId")), "ip_version": version, "source": n(source),
        "region": _text(row.get("PoolRegionId")),
        "isp": _text(row.get("Ipv6Isp")) if version == "IPv6" and source is None else None,
        "allocation": {"min_mask": mask("min_mask", row.get("AllocationMinCidrMask"), low),
                       "default_mask": row.get("AllocationDefaultCidrMask"),
                       "max_mask": mask("max_mask", row.get("AllocationMaxCidrMask"), high)},
        "auto_import": bool(row.get("AutoImport")),
        "cidrs": _sorted(cidrs),
        "description": _text(row.get("IpamPoolDescription")),
    }


def allocation_attrs(row: dict, n: Names) -> dict:
    return {**n.block(row.get("IpamPoolId"), row["Cidr"]),
            "description": _text(row.get("IpamPoolAllocationDescription"))}


def vpc_blocks(row: dict) -> tuple[str, list[str], list[str]]:
    """(primary, secondary IPv4 blocks, IPv6 blocks) of a DescribeVpcs row."""
    secondary = (row.get("SecondaryCidrBlocks") or {}).get("SecondaryCidrBlock") or []
    six = [e["Ipv6CidrBlock"] for e in (row.get("Ipv6CidrBlocks") or {}).get("Ipv6CidrBlock") or []]
    return row["CidrBlock"], list(secondary), six


def vpc_attrs(row: dict, n: Names, pool_of: Mapping[tuple[str, str], str]) -> dict:
    """``pool_of``: (VPC id, block) -> the pool holding its VPC allocation (DescribeVpcs names no pool)."""
    primary, secondary, six = vpc_blocks(row)

    def block(cidr: str) -> dict:
        return n.block(pool_of.get((row["VpcId"], cidr)), cidr)

    return {"region": row["RegionId"], "ipv4": block(primary),
            "secondary_cidrs": sorted((block(c) for c in secondary), key=lambda b: Cidr.parse(b["cidr"])),
            "ipv6": block(six[0]) if six else None, "description": _text(row.get("Description"))}


def vswitch_record(row: dict, n: Names, reservations: list[dict], was: Mapping | None) -> dict:
    """Attributes, plus the reservation ids (``ids``) when it has reservations or its record kept ids."""
    blocks = {r["VSwitchCidrReservationCidr"]: r["VSwitchCidrReservationId"] for r in reservations
              if r.get("VSwitchCidrReservationType", "Prefix") == "Prefix"}
    attrs = {"vpc": n(row.get("VpcId")), "zone": row.get("ZoneId"), "cidr": row.get("CidrBlock"),
             "ipv6_cidr": _text(row.get("Ipv6CidrBlock")), "prefix_reservations": _sorted(blocks),
             "description": _text(row.get("Description"))}
    out = {"attributes": attrs}
    if blocks or (was is not None and "ids" in was):
        out["ids"] = {"reservations": {c: blocks[c] for c in _sorted(blocks)}}
    return out


def sg_attrs(row: dict, n: Names) -> dict:
    return {"vpc": n(row.get("VpcId")), "type": SG_TYPES.get(row.get("SecurityGroupType"), row.get("SecurityGroupType")),
            "description": _text(row.get("Description"))}


def instance_attrs(row: dict, n: Names) -> dict:
    # DescribeInstances names an instance's network only in VpcAttributes (no top-level VSwitchId)
    vpc = row.get("VpcAttributes") or {}
    ips = (vpc.get("PrivateIpAddress") or {}).get("IpAddress") or []
    return {"instance_type": row.get("InstanceType"), "vswitch": n(vpc.get("VSwitchId")),
            "security_group": n(first_group(row)), "status": row.get("Status"),
            "primary_ip": ips[0] if ips else None, "description": _text(row.get("Description"))}


def eni_attrs(name: str, row: dict, n: Names) -> dict:
    attrs = dict(eni_record(name, row, {})["attributes"])
    attrs.update(vswitch=n(row.get("VSwitchId")), security_group=n(first_group(row)),
                 instance=n(row.get("InstanceId") or None))
    return attrs


def share_attrs(row: dict, n: Names) -> dict:
    """A share's pools (by address; an id no state record holds, as it is) and targets."""
    pools = [f"ipam_pool.{n(p)}" for p in row.get("Resources") or ()]
    return {"resources": sorted(pools), "principals": sorted(row.get("Targets") or ()),
            "allow_external_targets": bool(row.get("AllowExternalTargets"))}


def record(rtype: str, rec: dict, row: dict, n: Names, cloud) -> dict:
    """The record of ``row`` under ``rec``'s address (its type, name and id)."""
    was = rec.get("attributes")
    base = {"type": rtype, "name": rec["name"], "id": rec["id"]}
    if rtype == "ipam":
        return {**base, "attributes": ipam_attrs(row, n)}
    if rtype == "ipam_scope":
        return {**base, "attributes": scope_attrs(row, n)}
    if rtype == "ipam_pool":
        return {**base, "attributes": pool_attrs(row, n, cloud.pool_cidrs.get(rec["id"], []), was)}
    if rtype == "ipam_pool_allocation":
        return {**base, "attributes": allocation_attrs(row, n)}
    if rtype == "vpc":
        return {**base, "attributes": vpc_attrs(row, n, cloud.vpc_pool)}
    if rtype == "vswitch":
        reservations = cloud.vswitch_reservations(rec["id"], row.get("RegionId"))
        return {**base, **vswitch_record(row, n, reservations, rec)}
    if rtype == "security_group":
        return {**base, "attributes": sg_attrs(row, n)}
    if rtype == "instance":
        return {**base, "attributes": instance_attrs(row, n)}
    if rtype == "eni":
        return {**base, "attributes": eni_attrs(rec["name"], row, n)}
    if rtype == "resource_share":
        return {**base, "attributes": share_attrs(row, n)}
    raise ValueError(f"no record shape for {rtype}")  # pragma: no cover


def cidrs_of(rtype: str, row: dict, pool_cidrs: Mapping[str, list[str]]) -> tuple[str, ...]:
    """The blocks and addresses a cloud object holds."""
    if rtype == "vpc":
        primary, secondary, six = vpc_blocks(row)
        return (primary, *secondary, *six)
    if rtype == "vswitch":
        return tuple(c for c in (row.get("CidrBlock"), row.get("Ipv6CidrBlock")) if c)
    if rtype == "ipam_pool":
        return tuple(pool_cidrs.get(row["IpamPoolId"], ()))
    if rtype == "ipam_pool_allocation":
        return (row["Cidr"],)
    if rtype == "instance":
        ips = ((row.get("VpcAttributes") or {}).get("PrivateIpAddress") or {}).get("IpAddress") or []
        return tuple(ips)
    if rtype == "eni":
        a = eni_record("", row, {})["attributes"]
        items = [a["primary_ip"], *a["secondary_private_ips"], *a["ipv4_prefixes"], *a["ipv6_addresses"],
                 *a["ipv6_prefixes"]]
        return tuple(sorted((i for i in items if i), key=item_key))
    return ()


_NAME = {"resource_share": "ResourceShareName", "ipam": "IpamName", "ipam_scope": "IpamScopeName", "ipam_pool": "IpamPoolName",
         "ipam_pool_allocation": "IpamPoolAllocationName", "vpc": "VpcName", "vswitch": "VSwitchName",
         "security_group": "SecurityGroupName", "instance": "InstanceName", "eni": "NetworkInterfaceName"}
_PARENT = {"ipam_scope": "IpamId", "ipam_pool": "IpamScopeId", "ipam_pool_allocation": "IpamPoolId",
           "vswitch": "VpcId", "security_group": "VpcId", "instance": "VpcId", "eni": "VpcId"}


def about(rtype: str, row: dict, pool_cidrs: Mapping[str, list[str]]) -> dict:
    """What is shown of an unmanaged object: its blocks, the id it lives in, its name, whether a service manages it."""
    holder = (row.get("VpcAttributes") or {}) if rtype == "instance" else row
    parent = holder.get(_PARENT[rtype]) if rtype in _PARENT else None
    return {"cidrs": cidrs_of(rtype, row, pool_cidrs), "parent": parent or None,
            "name": _text(row.get(_NAME.get(rtype, ""))),
            "service_managed": bool(row.get("ServiceManaged")) if rtype == "eni" else False}
