"""The cloud's rules that a desired state must keep, checked at plan time with the cloud's codes.

Spatial rules (containment, overlap, free space) are checked while blocks are chosen, in
:mod:`reconciler.desired.network`; this module checks everything else: scopes and IP versions, effective
regions, quotas, pool hierarchy depth, allocation rules, and VPC / vSwitch block sizes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from reconciler.desired.network import Desired
from reconciler.errors import ReconcilerError
from reconciler.models.network import BlockSpec, MaskRequest, Spec
from reconciler.net.address import ResourceAddress, address_of
from reconciler.net.cidr import Cidr
from reconciler.net.limits import (
    CIDRS_PER_POOL,
    CIDRS_PER_PUBLIC_IPV6_TOP_POOL,
    IPAM_PER_REGION,
    MASK_RANGE,
    POOL_MAX_DEPTH,
    POOLS_PER_PRIVATE_SCOPE,
    PUBLIC_IPV6_TOP_POOLS_PER_REGION_ISP,
    SCOPES_PER_IPAM,
    SUB_POOLS_PER_POOL,
    VPC_IPV4_MASK,
    VPC_IPV6_MASK,
    VSWITCH_IPV4_MASK,
)
from reconciler.net.regions import UNKNOWN_ZONE, zone_in_region, zone_problem
from reconciler.plans.diff import Change, ChangeKind
from reconciler.source.locate import Locator, Problems, SpecPath, nowhere


class _Checker:
    def __init__(self, spec: Spec, desired: Desired, locate: Locator) -> None:
        self.spec, self.desired = spec, desired
        self.facts = desired.pools
        self.problems = Problems(locate)
        self.fail = self.problems.add  # every rule reports through it, at the spec path it checks

    # ---- IPAM and scopes ----------------------------------------------------------------------
    def scopes(self) -> None:
        if self.spec.ipam is None:
            return
        total = 2 + len(self.spec.scopes)
        if total > SCOPES_PER_IPAM:
            name = list(self.spec.scopes)[SCOPES_PER_IPAM - 2]
            self.fail("QuotaExceeded.IpamScope",
                      f"an IPAM holds at most {SCOPES_PER_IPAM} scopes, the two default scopes included; "
                      f"the spec asks for {total}", address_of("ipam_scope", name), ("scopes", name))

    # ---- pools --------------------------------------------------------------------------------
    def pools(self) -> None:
        spec = self.spec
        regions = set(spec.ipam.operating_regions) | {spec.ipam.region} if spec.ipam else set()
        children = Counter(p.source for p in spec.pools.values() if p.source)
        per_scope = Counter(f.scope for n, f in self.facts.items() if n in spec.pools)
        public_top: Counter[tuple[str | None, str | None]] = Counter()
        for name, pool in spec.pools.items():
            f = self.facts.get(name)
            if f is None:
                continue
            # (the address written out: no call per pool)
            addr: ResourceAddress = f"ipam_pool.{name}"  # type: ignore[assignment]
            path: SpecPath = ("pools", name)
            src = self.facts.get(pool.source) if pool.source else None
            if src and pool.scope is not None and pool.scope != src.scope:
                self.fail("InvalidParameter.IpamScopeId",
                          f"a sub-pool lives in its source's scope ({src.scope}), not {pool.scope}", addr, path + ("scope",))
            if src and pool.ip_version is not None and pool.ip_version != src.ip_version:
                self.fail("InvalidParameter.IpVersion",
                          f"a sub-pool has its source's IP version ({src.ip_version})", addr, path + ("ip_version",))
            public = f.scope == "public"
            if public and f.ip_version != "IPv6":
                self.fail("InvalidParameter.IpVersion", "the public scope holds IPv6 pools only", addr, path)
            if not public and f.ip_version != "IPv4":
                self.fail("InvalidParameter.IpVersion", f"private scope {f.scope} holds IPv4 pools only", addr, path)
            if pool.region is not None:
                if src and src.region is not None and pool.region != src.region:
                    self.fail("InvalidParameter.PoolRegionId",
                              f"a sub-pool inherits its source's region {src.region}; it cannot be {pool.region}",
                              addr, path + ("region",))
                elif pool.region not in regions:
                    self.fail("InvalidParameter.PoolRegionId",
                              f"region {pool.region} is not an operating region of the IPAM ({', '.join(sorted(regions))})",
                              addr, path + ("region",))
            if f.ip_version == "IPv6" and f.region is None:
                self.fail("MissingParameter.PoolRegionId", "an IPv6 pool needs an effective region", addr, path)
            if pool.auto_import and f.region is None:
                self.fail("OperationDenied.AutoImportWithoutRegion",
                          "auto_import needs an effective region", addr, path + ("auto_import",))
            # auto_import in a custom scope is accepted, as the cloud does: resource discovery imports only
            # into pools of a default scope, so there it imports nothing (README, "auto_import")
            if f.depth > POOL_MAX_DEPTH:
                self.fail("QuotaExceeded.PoolDepth",
                          f"pool hierarchies are at most {POOL_MAX_DEPTH} levels deep; this pool is level {f.depth}",
                          addr, path + ("source",))
            if pool.source and children[pool.source] > SUB_POOLS_PER_POOL:
                siblings = [n for n, p in spec.pools.items() if p.source == pool.source]
                if siblings.index(name) == SUB_POOLS_PER_POOL:  # the first one over the quota
                    self.fail("QuotaExceeded.SubPool",
                              f"a pool has at most {SUB_POOLS_PER_POOL} sub-pools; {children[pool.source]} name "
                              f"ipam_pool.{pool.source} as source", addr, path + ("source",))
            if len(pool.cidrs) > CIDRS_PER_POOL:
                self.fail("QuotaExceeded.IpamPoolCidr",
                          f"a pool holds at most {CIDRS_PER_POOL} CIDRs; {len(pool.cidrs)} given", addr, path + ("cidrs",))
            if f.top_level and f.ip_version == "IPv4":
                for i, entry in enumerate(pool.cidrs):
                    if isinstance(entry, MaskRequest):
                        self.fail("InvalidParameter.NetmaskLength",
                                  "an IPv4 top-level pool takes explicit CIDRs only", addr, path + ("cidrs", i))
            if f.top_level and f.ip_version == "IPv6" and public:
                public_top[(f.region, f.isp)] += 1
                if public_top[(f.region, f.isp)] > PUBLIC_IPV6_TOP_POOLS_PER_REGION_ISP:
                    self.fail("QuotaExceeded.PublicIpv6TopPool",
                              f"at most {PUBLIC_IPV6_TOP_POOLS_PER_REGION_ISP} public IPv6 top-level pool per region "
                              f"and ISP ({f.region}, {f.isp})", addr, path)
                if len(pool.cidrs) > CIDRS_PER_PUBLIC_IPV6_TOP_POOL:
                    self.fail("QuotaExceeded.IpamPoolCidr",
                              f"a public IPv6 top-level pool holds {CIDRS_PER_PUBLIC_IPV6_TOP_POOL} CIDR", addr,
                              path + ("cidrs",))
                for i, entry in enumerate(pool.cidrs):
                    if not isinstance(entry, MaskRequest):
                        self.fail("InvalidParameter.Cidr",
                                  "a public IPv6 top-level pool is given a mask only ({mask: N}); the cloud assigns the block",
                                  addr, path + ("cidrs", i))
            if pool.isp is not None and not (f.top_level and f.ip_version == "IPv6"):
                self.fail("InvalidParameter.Ipv6Isp", "isp applies to public IPv6 top-level pools only", addr, path + ("isp",))
            self.allocation_rules(name, f.ip_version)
        for scope, count in per_scope.items():
            if scope != "public" and count > POOLS_PER_PRIVATE_SCOPE:
                name = next(n for n, f in self.facts.items() if f.scope == scope and n in spec.pools)
                self.fail("QuotaExceeded.IpamPool",
                          f"a private scope holds at most {POOLS_PER_PRIVATE_SCOPE} pools; {scope} has {count}",
                          address_of("ipam_pool", name), ("pools", name))

    def allocation_rules(self, name: str, version: str) -> None:
        rules = self.spec.pools[name].allocation
        if rules is None:
            return
        lo, hi = MASK_RANGE[version]
        path: SpecPath = ("pools", name, "allocation")
        values = {k: getattr(rules, k) for k in ("min_mask", "default_mask", "max_mask")}
        for key, value in values.items():
            if value is not None and not lo <= value <= hi:
                self.fail("InvalidParameter.AllocationCidrMask",
                          f"{key} /{value} is outside {lo} to {hi} for {version}", address_of("ipam_pool", name),
                          path + (key,))
        known = [(k, v) for k, v in values.items() if v is not None]
        for (ka, va), (kb, vb) in zip(known, known[1:]):
            if va > vb:
                self.fail("InvalidParameter.AllocationCidrMask", f"{ka} /{va} is longer than {kb} /{vb}",
                          address_of("ipam_pool", name), path)

    # (a VPC block's or custom allocation's mask against its pool's allocation rules is judged where the
    # block is asked for, before free space: reconciler.desired.network)

    # ---- VPCs, vSwitches ------------------------------------------------------------------------
    def vpcs(self) -> None:
        for name, vpc in self.spec.vpcs.items():
            addr: ResourceAddress = f"vpc.{name}"  # type: ignore[assignment]  # (no call per VPC)
            rec = self.desired.resources[addr]["attributes"]
            blocks: list[tuple[str | tuple[str, int], BlockSpec, Mapping[str, Any] | None, str]] = [
                ("ipv4", vpc.ipv4, rec["ipv4"], "IPv4")]
            if vpc.ipv6 is not None:
                blocks.append(("ipv6", vpc.ipv6, rec["ipv6"], "IPv6"))
                if vpc.ipv6.pool is None:
                    self.fail("MissingParameter.Ipv6IpamPoolId", "an IPv6 block comes from an IPv6 pool", addr,
                              ("vpcs", name, "ipv6"))
            for i, b in enumerate(vpc.secondary_cidrs):
                chosen = self.desired.blocks.get((addr, ("vpcs", name, "secondary_cidrs", i)))
                blocks.append((("secondary_cidrs", i), b, {"cidr": chosen} if chosen else None, "IPv4"))
            mine = [Cidr.parse(r["cidr"]) for r in [rec["ipv4"], *rec["secondary_cidrs"]] if r and r["cidr"]]
            for x in range(len(mine)):
                for y in range(x + 1, len(mine)):
                    if mine[x].overlaps(mine[y]):
                        self.fail("InvalidCidrBlock.Overlapped", f"{mine[y]} overlaps {mine[x]} of the same VPC",
                                  addr, ("vpcs", name, "secondary_cidrs"))
            for key, block, resolved, version in blocks:
                path = ("vpcs", name, *((key,) if isinstance(key, str) else key))
                f = self.facts.get(block.pool) if block.pool else None
                if f is not None:
                    label = f"ipam_pool.{block.pool}" if block.pool in self.spec.pools else f"external pool {block.pool}"
                    if f.ip_version != version:
                        self.fail("InvalidParameter.IpVersion", f"{label} is {f.ip_version}; "
                                  f"this block needs an {version} pool", addr, path + ("pool",))
                    if f.region != vpc.region:
                        self.fail("OperationDenied.IpamPoolNotInRegion",
                                  f"{label}'s effective region is {f.region or 'not set'}, "
                                  f"the VPC is in {vpc.region}", addr, path + ("pool",))
                size = block.mask if block.mask is not None else (Cidr.parse(block.cidr).prefix if block.cidr else None)
                if size is None:
                    continue
                if version == "IPv4" and not VPC_IPV4_MASK[0] <= size <= VPC_IPV4_MASK[1]:
                    self.fail("InvalidCidrBlock.Malformed",
                              f"a VPC IPv4 block is /{VPC_IPV4_MASK[0]} to /{VPC_IPV4_MASK[1]}, not /{size}", addr, path)
                if version == "IPv6" and size != VPC_IPV6_MASK:
                    self.fail("InvalidParameter.Ipv6CidrMask", f"a VPC IPv6 block is /{VPC_IPV6_MASK}, not /{size}",
                              addr, path)

    def vswitches(self) -> None:
        for name, vsw in self.spec.vswitches.items():
            addr: ResourceAddress = f"vswitch.{name}"  # type: ignore[assignment]  # (no call per vSwitch)
            path = ("vswitches", name)
            size = vsw.cidr.mask if isinstance(vsw.cidr, MaskRequest) else Cidr.parse(vsw.cidr).prefix
            lo, hi = VSWITCH_IPV4_MASK
            if not lo <= size <= hi:
                self.fail("InvalidCidrBlock.Malformed", f"a vSwitch block is /{lo} to /{hi}, not /{size}", addr,
                          path + ("cidr",))
            vpc = self.spec.vpcs.get(vsw.vpc)
            if vpc is not None and not zone_in_region(vsw.zone, vpc.region):
                self.fail(UNKNOWN_ZONE, f"{zone_problem(vsw.zone, vpc.region)}, the VPC's region", addr,
                          path + ("zone",))


    def monitoring(self) -> None:
        """The scopes and pools ``monitoring:`` sets thresholds for are declared (a misspelt name would
        silently leave the threshold of the level above in force)."""
        scopes = {"private", "public", *self.spec.scopes}
        for name in self.spec.monitoring.scopes:
            if name not in scopes:
                self.fail("Spec.UnknownReference", f"monitoring.scopes.{name}: no scope {name} is declared "
                          f"(scopes: {', '.join(sorted(scopes))})", None, ("monitoring", "scopes", name))
        pools = {*self.spec.pools, *self.spec.external_pools}
        for name in self.spec.monitoring.pools:
            if name not in pools:
                self.fail("Spec.UnknownReference", f"monitoring.pools.{name}: no pool {name} is declared in pools "
                          "or external_pools", None, ("monitoring", "pools", name))


def check(spec: Spec, desired: Desired, locate: Locator | None = None) -> list[ReconcilerError]:
    """Every rule broken by the desired state (empty when it is valid)."""
    c = _Checker(spec, desired, locate or nowhere)
    c.scopes()
    c.pools()
    c.vpcs()
    c.vswitches()
    c.monitoring()
    return c.problems.errors


@dataclass(frozen=True, order=True)
class KnownIpam:
    """An IPAM the cloud lists (``ListIpams``) at plan time: its managed region and id."""

    region: str
    ipam_id: str


def check_ipam_quota(spec: Spec, recorded: Mapping[ResourceAddress, Mapping[str, Any]], changes: Iterable[Change],
                     ipams: Iterable[KnownIpam], locate: Locator | None = None) -> list[ReconcilerError]:
    """``QuotaExceeded.Ipam`` when the plan creates the spec's IPAM (a create or a replacement) in a
    region that already holds ``IPAM_PER_REGION`` IPAMs the state does not record. The state and the
    changes are walked only when the cloud lists an IPAM there other than the state's own."""
    if spec.ipam is None:
        return []
    address = address_of("ipam", spec.ipam.name)
    own = recorded.get(address)
    there = {i.ipam_id for i in ipams if i.region == spec.ipam.region} - {own.get("id") if own else None}
    if there:
        there -= {r.get("id") for r in recorded.values() if r["type"] == "ipam"}
    if len(there) < IPAM_PER_REGION:
        return []
    if not any(c.address == address and c.kind in (ChangeKind.CREATE, ChangeKind.REPLACE) for c in changes):
        return []
    listed = sorted(there)
    problems = Problems(locate or nowhere)
    problems.add("QuotaExceeded.Ipam",
                 f"region {spec.ipam.region} already has IPAM {', '.join(listed)}, which the state does not "
                 f"record; a region holds at most {IPAM_PER_REGION} IPAM(s). Adopt it (ipamctl import "
                 f"{address} {listed[0]}, or an import: block) or delete it", address, ("ipam", "region"))
    return problems.errors
