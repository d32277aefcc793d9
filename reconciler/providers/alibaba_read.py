"""Reading the cloud: every IPAM, scope, pool (with its CIDRs), custom allocation, VPC, vSwitch (with
its prefix reservations), security group, instance and ENI in the regions that matter, as
state-shaped records.

:func:`read_all` lists each kind with the Alibaba list APIs, following their paging (IPAM ``List*``:
MaxResults / NextToken; VPC and ECS ``Describe*``: PageNumber / PageSize), over any client with
``call(action, params) -> dict``. A cloud object whose id a state record holds becomes a record
``{"type", "name", "id", "attributes"}`` under that record's address, its references named by the
names the state knows their ids by, its attributes shaped exactly as :mod:`reconciler.net.records` and
the desired records shape them, so that an unchanged resource reads back equal to its record.
Everything else is returned as :class:`Unmanaged` (type, id, region, CIDRs).

The regions read: the ones given, every region the state names (the IPAM's managed and operating
regions, each VPC's and pool's region), and the operating regions of the state's IPAMs as the cloud
has them. The row -> record mapping lives in :mod:`reconciler.providers.alibaba_records`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from reconciler.net.cidr import Cidr
from reconciler.net.records import drawn_blocks
from reconciler.providers import alibaba_records as rows

# Page sizes: the largest each API takes (tests shrink them to exercise paging).
PAGE_TOKEN = 100  # IPAM List*: MaxResults 1-100
PAGE_VPC = 50  # VPC Describe*: PageSize 1-50
PAGE_ECS = 100  # ECS Describe*: PageSize 1-100


def by_token(client, action: str, params: Mapping, key: str) -> list[dict]:
    """Every row of an IPAM-style list (MaxResults / NextToken)."""
    out: list[dict] = []
    token = None
    while True:
        page = client.call(action, {**params, "MaxResults": PAGE_TOKEN, **({"NextToken": token} if token else {})})
        out.extend(page.get(key) or [])
        token = page.get("NextToken")
        if not token:
            return out


def by_number(client, action: str, params: Mapping, outer: str, inner: str, size: int) -> list[dict]:
    """Every row of a VPC/ECS-style list (PageNumber from 1 / PageSize), up to its TotalCount."""
    out: list[dict] = []
    number = 1
    while True:
        page = client.call(action, {**params, "PageNumber": number, "PageSize": size})
        chunk = (page.get(outer) or {}).get(inner) or []
        out.extend(chunk)
        if not chunk or len(out) >= int(page.get("TotalCount", 0)):
            return out
        number += 1


@dataclass(frozen=True)
class Unmanaged:
    """A cloud object no state record holds."""

    type: str  # the record type it would have: vpc, vswitch, eni, ipam_pool_allocation, ...
    id: str
    region: str | None
    cidrs: tuple[str, ...] = ()
    parent: str | None = None  # the id of the VPC, pool, scope or IPAM it lives in
    name: str | None = None  # its name in the cloud
    service_managed: bool = False  # an ENI a cloud service manages (read only, never changed)

    def to_dict(self) -> dict:
        return {"type": self.type, "id": self.id, "region": self.region, "cidrs": list(self.cidrs),
                "parent": self.parent, "name": self.name, "service_managed": self.service_managed}


@dataclass(frozen=True)
class Observed:
    """What the cloud holds: records of the state's resources that still exist (by address), the rest."""

    resources: Mapping[str, dict]
    unmanaged: tuple[Unmanaged, ...]
    regions: tuple[str, ...]
    # address -> ids its record refers to that no state record holds (shown as the raw id in the record)
    unresolved: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def state_regions(recorded: Mapping[str, dict]) -> set[str]:
    """Every region a state names: IPAM managed and operating regions, VPC and pool regions."""
    out: set[str | None] = set()  # filtered to names below
    for rec in recorded.values():
        a = rec.get("attributes") or {}
        if rec.get("type") == "ipam":
            out.add(a.get("region"))
            out.update(a.get("operating_regions") or ())
        elif rec.get("type") in ("vpc", "ipam_pool"):
            out.add(a.get("region"))
    return {r for r in out if isinstance(r, str) and r}


class _Cloud:
    """Raw rows of everything listed, by id, and the lookups the records need."""

    def __init__(self, client):
        self.client = client
        self.objects: dict[str, tuple[str, dict, str | None]] = {}  # id -> (type, row, region)
        self.pool_cidrs: dict[str, list[str]] = {}
        self.vpc_pool: dict[tuple[str, str], str] = {}  # (vpc id, block) -> pool id of its VPC allocation
        self.reservations: dict[str, list[dict]] = {}

    def put(self, rtype: str, rid: str, row: dict, region: str | None) -> None:
        self.objects[rid] = (rtype, row, region)

    def ipams(self, regions: Iterable[str]) -> list[dict]:
        found: dict[str, dict] = {}
        for region in sorted(regions):
            for row in by_token(self.client, "ListIpams", {"RegionId": region}, "Ipams"):
                found.setdefault(row["IpamId"], row)
        for ipam in found.values():
            self.put("ipam", ipam["IpamId"], ipam, ipam.get("RegionId"))
            for scope in by_token(self.client, "ListIpamScopes", {"IpamId": ipam["IpamId"]}, "IpamScopes"):
                self.put("ipam_scope", scope["IpamScopeId"], scope, ipam.get("RegionId"))
                for pool in by_token(self.client, "ListIpamPools", {"IpamScopeId": scope["IpamScopeId"]}, "IpamPools"):
                    self._pool(pool)
        return list(found.values())

    def _pool(self, pool: dict) -> None:
        pid = pool["IpamPoolId"]
        self.put("ipam_pool", pid, pool, pool.get("PoolRegionId") or pool.get("RegionId"))
        cidrs = by_token(self.client, "ListIpamPoolCidrs", {"IpamPoolId": pid}, "IpamPoolCidrs")
        self.pool_cidrs[pid] = sorted((c["Cidr"] for c in cidrs), key=Cidr.parse)
        for alloc in by_token(self.client, "ListIpamPoolAllocations", {"IpamPoolId": pid}, "IpamPoolAllocations"):
            if alloc.get("ResourceType") == "Custom":
                self.put("ipam_pool_allocation", alloc["IpamPoolAllocationId"], alloc,
                         alloc.get("ResourceRegionId") or pool.get("PoolRegionId") or None)
            elif alloc.get("ResourceType") == "VPC":
                self.vpc_pool[(alloc["ResourceId"], alloc["Cidr"])] = pid

    def region(self, region: str) -> None:
        c = self.client
        for row in by_number(c, "DescribeVpcs", {"RegionId": region}, "Vpcs", "Vpc", PAGE_VPC):
            self.put("vpc", row["VpcId"], row, region)
        for row in by_number(c, "DescribeVSwitches", {"RegionId": region}, "VSwitches", "VSwitch", PAGE_VPC):
            self.put("vswitch", row["VSwitchId"], row, region)
        for row in by_number(c, "DescribeSecurityGroups", {"RegionId": region}, "SecurityGroups", "SecurityGroup",
                             PAGE_ECS):
            self.put("security_group", row["SecurityGroupId"], row, region)
        for row in by_number(c, "DescribeInstances", {"RegionId": region}, "Instances", "Instance", PAGE_ECS):
            self.put("instance", row["InstanceId"], row, region)
        for row in by_number(c, "DescribeNetworkInterfaces", {"RegionId": region}, "NetworkInterfaceSets",
                             "NetworkInterfaceSet", PAGE_ECS):
            self.put("eni", row["NetworkInterfaceId"], row, region)

    def shares(self) -> None:
        """The caller's resource shares, each with its pools and targets (ResourceSharing)."""
        rows = by_token(self.client, "ListResourceShares", {"ResourceOwner": "Self"}, "ResourceShares")
        members: dict[str, dict[str, list[str]]] = {r["ResourceShareId"]: {"Resource": [], "Target": []} for r in rows}
        for kind in ("Resource", "Target"):
            for a in by_token(self.client, "ListResourceShareAssociations", {"AssociationType": kind},
                              "ResourceShareAssociations"):
                if a.get("ResourceShareId") in members and a.get("EntityId"):
                    members[a["ResourceShareId"]][kind].append(a["EntityId"])
        for row in rows:
            if row.get("ResourceShareStatus", "Active") != "Active":
                continue
            got = members[row["ResourceShareId"]]
            self.put("resource_share", row["ResourceShareId"],
                     {**row, "Resources": got["Resource"], "Targets": got["Target"]}, None)

    def vswitch_reservations(self, vsw_id: str, region: str | None) -> list[dict]:
        if vsw_id not in self.reservations:
            params = {"VSwitchId": vsw_id, **({"RegionId": region} if region else {})}
            self.reservations[vsw_id] = by_token(self.client, "ListVSwitchCidrReservations", params,
                                                 "VSwitchCidrReservations")
        return self.reservations[vsw_id]


def external_pool_ids(recorded: Mapping[str, dict]) -> dict[str, str]:
    """id -> name of the external pools the state's VPC blocks and custom allocations are drawn from."""
    out: dict[str, str] = {}
    for rec in recorded.values():
        for b in drawn_blocks(rec):
            if b.get("pool_id"):
                out[b["pool_id"]] = b["pool"]
    return out


def read_all(client, recorded: Mapping[str, dict], regions: Iterable[str] = ()) -> Observed:
    """What the cloud holds for the state ``recorded`` (address -> record), and what it holds besides."""
    cloud = _Cloud(client)
    wanted = set(regions) | state_regions(recorded)
    ids = {rec["id"]: a for a, rec in recorded.items() if rec.get("id")}
    for ipam in cloud.ipams(wanted):
        if ipam["IpamId"] in ids:  # the state's IPAM: its operating regions as the cloud has them
            wanted.update(r for r in ipam.get("OperatingRegionList") or () if r)
    for region in sorted(wanted):
        cloud.region(region)
    if any(rec.get("type") == "resource_share" for rec in recorded.values()):
        cloud.shares()  # (read only where the state holds shares: other workspaces need no ResourceSharing grant)
    outside = external_pool_ids(recorded)
    names = rows.Names({rec["id"]: rec["name"] for rec in recorded.values() if rec.get("id")}, outside)
    resources: dict[str, dict] = {}
    unresolved: dict[str, tuple[str, ...]] = {}
    unmanaged: list[Unmanaged] = []
    for rid, (rtype, row, where) in cloud.objects.items():
        address = ids.get(rid)
        rec = recorded.get(address) if address else None
        if rec is None or rec.get("type") != rtype:
            # default scopes come with their IPAM; an external pool is its owner's to report
            if not (rtype == "ipam_scope" and row.get("IsDefault")) and rid not in outside:  # default scopes come with their IPAM
                unmanaged.append(Unmanaged(rtype, rid, where, **rows.about(rtype, row, cloud.pool_cidrs)))
            continue
        seen = names.tracking()
        # address is set: rec was found under it
        resources[address] = rows.record(rtype, rec, row, seen, cloud)  # type: ignore[index]
        if seen.missing:
            unresolved[address] = tuple(dict.fromkeys(seen.missing))  # type: ignore[index]
    unmanaged.sort(key=lambda u: (rows.TYPE_ORDER.get(u.type, 99), u.region or "", u.id))
    return Observed(resources, tuple(unmanaged), tuple(sorted(wanted)), unresolved)
