"""The desired state made concrete: every ``{mask: N}`` turned into the exact CIDR apply will use.

Blocks live in *spaces*: a scope's top level, the public IPv6 supply, a pool (its sub-pools'
CIDRs, custom allocations and VPC blocks), and a VPC (its vSwitches). Spaces are filled parents
first. Within a space, blocks already recorded keep their CIDRs (even when a lower block has freed
up), explicit CIDRs are taken next, blocks this plan releases stay unavailable until the next plan,
and only then are mask requests served lowest-address-first in declaration order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping

from reconciler.desired.compute import compute_records
from reconciler.desired.graph import DependencyGraph
from reconciler.desired.network_records import network_records
from reconciler.errors import PlanError, ReconcilerError
from reconciler.models.network import MaskRequest, Spec
from reconciler.net.allocator import BlockAllocator
from reconciler.net.cidr import Cidr
from reconciler.net.limits import IP_VERSION
from reconciler.net.records import blocks_of

Locator = Callable[[tuple], tuple[str | None, int | None]]
ANY_V4 = Cidr(4, 0, 0)
ANY_V6 = Cidr(6, 0, 0)


@dataclass(frozen=True)
class PoolFacts:
    """A pool's effective settings: declared, or inherited from its source."""

    scope: str
    ip_version: str
    region: str | None
    depth: int
    top_level: bool
    isp: str | None


@dataclass(frozen=True)
class Desired:
    """Concrete desired resources keyed by address, in the state's record shape (no ids)."""

    resources: Mapping[str, dict]
    chosen: Mapping[tuple[str, str], str]  # (address, cidr) -> how it was chosen, e.g. "lowest free /20 of ipam_pool.hz"
    pools: Mapping[str, PoolFacts]
    blocks: Mapping[tuple[str, tuple], str]  # (address, spec path) -> the CIDR chosen for that spec entry
    errors: tuple[ReconcilerError, ...] = ()


def pool_facts(spec: Spec, graph: DependencyGraph) -> dict[str, PoolFacts]:
    facts: dict[str, PoolFacts] = {}
    for address in graph.topological_of(("ipam_pool",)):
        if not address.startswith("ipam_pool."):
            continue
        name = address.split(".", 1)[1]
        pool = spec.pools[name]
        src = facts.get(pool.source) if pool.source else None
        scope = pool.scope or (src.scope if src else "private")
        scope_type = "public" if scope == "public" else "private"
        version = pool.ip_version or (src.ip_version if src else ("IPv6" if scope_type == "public" else "IPv4"))
        region = pool.region or (src.region if src else None)
        facts[name] = PoolFacts(
            scope=scope,
            ip_version=version,
            region=region,
            depth=(src.depth + 1) if src else 1,
            top_level=pool.source is None,
            isp=(pool.isp or "BGP") if version == "IPv6" and pool.source is None else None,
        )
    return facts


@dataclass
class _Request:
    address: str
    slot: str  # which block of the owner: "cidrs", "ipv4", "ipv6", "secondary_cidrs", "cidr"
    path: tuple  # spec path for errors
    cidr: Cidr | None
    mask: int | None
    order: tuple
    result: Cidr | None = None
    kept: bool = False


@dataclass
class _Space:
    key: str
    version: int
    containers: list[Cidr] = field(default_factory=list)
    requests: list[_Request] = field(default_factory=list)
    removed_containers: list[Cidr] = field(default_factory=list)


class _Resolver:
    def __init__(self, spec, graph, locate, recorded, supply):
        self.spec, self.graph, self.locate = spec, graph, locate
        self.recorded = recorded
        self.supply = supply
        self.facts = pool_facts(spec, graph)
        self.spaces: dict[str, _Space] = {}
        self.errors: list[ReconcilerError] = []
        self.chosen: dict[tuple[str, str], str] = {}
        self.requests: dict[str, list[_Request]] = {}
        # space key -> (address, slot, block) of the recorded blocks in it (ENIs hold theirs in vSwitch
        # spaces, which the ENI resolver reads itself)
        self._recorded_blocks: dict[str, list[tuple[str, str, Cidr]]] = {}
        for address, rec in recorded.items():
            if rec["type"] != "eni":
                for k, slot, c in blocks_of(rec):
                    self._recorded_blocks.setdefault(k, []).append((address, slot, Cidr.parse(c)))

    def recorded_blocks(self, key: str) -> list[tuple[str, str, Cidr]] | tuple:
        """(address, slot, block) of every recorded block in the space ``key``."""
        return self._recorded_blocks.get(key, ())

    def error(self, code, detail, address, path):
        file, line = self.locate(path)
        self.errors.append(PlanError(code, detail, address=address, file=file, line=line))

    def space(self, key: str, version: int) -> _Space:
        if key not in self.spaces:
            self.spaces[key] = _Space(key, version)
        return self.spaces[key]

    def request(self, key, version, address, slot, path, entry, order):
        cidr = Cidr.parse(entry) if isinstance(entry, str) else None
        mask = entry.mask if isinstance(entry, MaskRequest) else entry if isinstance(entry, int) else None
        bits = 32 if version == 4 else 128
        if mask is not None and not 0 <= mask <= bits:
            self.error("InvalidParameter.CidrMask", f"/{mask} is not a valid IPv{version} mask (0 to {bits})", address, path)
            return None
        if cidr is not None and cidr.version != version:
            self.error("InvalidParameter.IpVersion", f"{cidr} is IPv{cidr.version} but this block is IPv{version}",
                       address, path)
            return None
        kind, _, owner = key.partition(":")
        facts = self.facts.get(owner) if kind == "pool" else None
        if facts is not None and IP_VERSION[facts.ip_version] != version:
            return None  # a block of the other IP version than its pool: the rules report InvalidParameter.IpVersion
        req = _Request(address, slot, path, cidr, mask, order)
        self.space(key, version).requests.append(req)
        self.requests.setdefault(address, []).append(req)
        return req

    # ---- collecting requests ------------------------------------------------------------------
    def collect(self) -> None:
        spec = self.spec
        for name, pool in spec.pools.items():
            f = self.facts.get(name)
            if f is None:
                continue
            v = IP_VERSION[f.ip_version]
            key = f"pool:{pool.source}" if pool.source else ("supply" if v == 6 else f"scope:{f.scope}")
            order = self.graph.declaration(f"ipam_pool.{name}")
            for i, entry in enumerate(pool.cidrs):
                self.request(key, v, f"ipam_pool.{name}", "cidrs", ("pools", name, "cidrs", i), entry, (order, i))
        for name, alloc in spec.allocations.items():
            f = self.facts.get(alloc.pool)
            if f is None:
                continue
            entry = alloc.cidr if alloc.cidr is not None else alloc.mask
            if entry is None:
                entry = self._default_mask(alloc.pool, f"ipam_pool_allocation.{name}", ("allocations", name))
            order = self.graph.declaration(f"ipam_pool_allocation.{name}")
            self.request(f"pool:{alloc.pool}", IP_VERSION[f.ip_version], f"ipam_pool_allocation.{name}", "cidr",
                         ("allocations", name), entry, (order, 0))
        for name, vpc in spec.vpcs.items():
            address = f"vpc.{name}"
            order = self.graph.declaration(address)
            blocks = [("ipv4", ("vpcs", name, "ipv4"), vpc.ipv4, 4)]
            blocks += [("secondary_cidrs", ("vpcs", name, "secondary_cidrs", i), b, 4) for i, b in enumerate(vpc.secondary_cidrs)]
            if vpc.ipv6 is not None:
                blocks.append(("ipv6", ("vpcs", name, "ipv6"), vpc.ipv6, 6))
            for i, (slot, path, block, version) in enumerate(blocks):
                if block.pool is None:
                    key = f"vpc-free:{name}"
                    entry = block.cidr
                else:
                    if block.pool not in self.facts:
                        continue
                    key = f"pool:{block.pool}"
                    entry = block.cidr if block.cidr is not None else block.mask
                    if entry is None:
                        entry = self._default_mask(block.pool, address, path, fallback=56 if version == 6 else None)
                if entry is not None:
                    self.request(key, version, address, slot, path, entry, (order, i))
        for name, vsw in spec.vswitches.items():
            address = f"vswitch.{name}"
            self.request(f"vpc:{vsw.vpc}", 4, address, "cidr", ("vswitches", name, "cidr"), vsw.cidr,
                         (self.graph.declaration(address), 0))

    def _default_mask(self, pool: str, address: str, path: tuple, fallback: int | None = None) -> int | None:
        rules = self.spec.pools[pool].allocation
        if rules is not None and rules.default_mask is not None:
            return rules.default_mask
        if fallback is not None:
            return fallback
        self.error("MissingParam.CidrOrCidrMask",
                   f"no cidr or mask given and ipam_pool.{pool} has no default mask (allocation.default_mask)",
                   address, path)
        return None

    # ---- filling spaces -----------------------------------------------------------------------
    def space_order(self) -> list[str]:
        keys = sorted(k for k in self.spaces if k.startswith("scope:") or k == "supply" or k.startswith("vpc-free:"))
        for address in self.graph.topological_of(("ipam_pool", "vpc")):
            rtype, name = address.split(".", 1)
            if rtype == "ipam_pool" and f"pool:{name}" in self.spaces:
                keys.append(f"pool:{name}")
            elif rtype == "vpc" and f"vpc:{name}" in self.spaces:
                keys.append(f"vpc:{name}")
        return keys

    def containers(self, key: str) -> tuple[list[Cidr], list[Cidr]]:
        """Desired containers of a space, and recorded containers the plan removes."""
        kind, _, name = key.partition(":")
        if kind == "scope":
            return [ANY_V4], []
        if kind == "supply":
            return [self.supply], []
        if kind == "vpc-free":
            return [ANY_V4, ANY_V6], []
        owner = f"ipam_pool.{name}" if kind == "pool" else f"vpc.{name}"
        slots = ("cidrs",) if kind == "pool" else ("ipv4", "secondary_cidrs")
        now = [r.result for r in self.requests.get(owner, []) if r.result is not None and r.slot in slots]
        before = []
        rec = self.recorded.get(owner)
        if rec is not None:
            before = [Cidr.parse(c) for k, s, c in blocks_of(rec) if s in slots]
        return now, [c for c in before if c not in now]

    def fill(self, key: str) -> None:
        space = self.spaces[key]
        containers, removed = self.containers(key)
        alloc = BlockAllocator(space.version, containers)
        by_owner = {}
        for req in space.requests:
            by_owner.setdefault((req.address, req.slot), []).append(req)
        recorded_here: dict[tuple[str, str], list[Cidr]] = {}
        for address, slot, block in self.recorded_blocks(key):
            recorded_here.setdefault((address, slot), []).append(block)
        kept: set[tuple[str, Cidr]] = set()
        # 1. recorded blocks stay where they are
        for (address, slot), reqs in sorted(by_owner.items(), key=lambda kv: kv[1][0].order):
            held = sorted(recorded_here.get((address, slot), ()))
            if not held:
                continue
            for req in reqs:
                if req.cidr is not None and req.cidr in held:
                    held.remove(req.cidr)
                    req.result, req.kept = req.cidr, True
            for req in reqs:
                if req.result is None and req.cidr is None and req.mask is not None:
                    match = next((c for c in held if c.prefix == req.mask), None)
                    if match is not None:
                        held.remove(match)
                        req.result, req.kept = match, True
        ordered = sorted(space.requests, key=lambda r: r.order)
        moving = self._owner_replaced(key)
        for req in ordered:
            if not req.kept:
                continue
            if moving and req.cidr is None and alloc.container_of(req.result) is None:
                req.result, req.kept = None, False  # replaced with its parent: a new block in the new parent
                continue
            self._take(alloc, req, req.result, removed, key, moving)
            kept.add((req.address, req.result))
        # 2. explicit blocks
        for req in ordered:
            if req.result is None and req.cidr is not None:
                if self._take(alloc, req, req.cidr, removed, key):
                    req.result = req.cidr
        # 3. what this plan releases stays unavailable to new mask requests
        for address, _, block in self.recorded_blocks(key):
            if (address, block) not in kept and block.version == space.version:
                alloc.force(block, f"{address} (released by this plan)")
        # 4. mask requests, lowest free first, in declaration order
        for req in ordered:
            if req.result is None and req.cidr is None and req.mask is not None:
                got = alloc.first_fit(req.mask, req.address)
                if got is None:
                    where = _space_name(key)
                    self.error("OperationDenied.AvailableCidrInsufficient",
                               f"no free /{req.mask} block left in {where}", req.address, req.path)
                    continue
                req.result = got
                self.chosen[(req.address, str(got))] = f"lowest free /{req.mask} in {_space_name(key)}"

    def _owner_replaced(self, key: str) -> bool:
        """Whether the parent of a space is being replaced (so its children move with it)."""
        kind, _, name = key.partition(":")
        if kind == "vpc":
            rec, vpc = self.recorded.get(f"vpc.{name}"), self.spec.vpcs.get(name)
            if rec is None or vpc is None:
                return False
            was = rec["attributes"]
            now = next((str(q.result) for q in self.requests.get(f"vpc.{name}", []) if q.slot == "ipv4" and q.result), None)
            return was["region"] != vpc.region or was["ipv4"] != {"pool": vpc.ipv4.pool, "cidr": now}
        if kind == "pool":
            return self._pool_replaced(name)
        return False

    def _pool_replaced(self, name: str) -> bool:
        rec, f = self.recorded.get(f"ipam_pool.{name}"), self.facts.get(name)
        if rec is None or f is None:
            return False
        was, pool = rec["attributes"], self.spec.pools[name]
        now = {"scope": f.scope, "ip_version": f.ip_version, "source": pool.source, "region": f.region, "isp": f.isp}
        if any(was.get(k) != v for k, v in now.items()):
            return True
        return bool(pool.source) and self._pool_replaced(pool.source)

    def _take(self, alloc, req, block, removed, key, moving: bool = False) -> bool:
        found = alloc.take(block, req.address)
        if found is None:
            return True
        where = _space_name(key)
        if found.reason == "outside":
            gone = next((c for c in removed if c.contains(block)), None)
            if gone is not None and req.kept and not moving:
                code = "DependencyViolation.VSwitch" if key.startswith("vpc:") else "OperationDenied.IpamPoolAllocationExist"
                self.error(code, f"{block} of {req.address} lies in {gone}, which the spec removes from {where}; "
                                 f"release {req.address}'s block first", req.address, req.path)
            elif key.startswith("vpc:"):
                self.error("InvalidCidrBlock.NotInVpc", f"{block} is not inside any IPv4 block of {where}",
                           req.address, req.path)
            else:
                self.error("OperationDenied.CidrUnavailableInPool", f"{block} is not inside the CIDRs of {where}",
                           req.address, req.path)
        else:
            code = {"scope": "OperationDenied.CidrOverlapInScope", "vpc": "InvalidCidrBlock.Overlapped"}.get(
                key.split(":")[0], "OperationDenied.CidrUnavailableInPool")
            self.error(code, f"{block} overlaps {found.held} of {found.holder} in {where}", req.address, req.path)
        return False


def _space_name(key: str) -> str:
    kind, _, name = key.partition(":")
    return {
        "scope": f"the top level of ipam_scope.{name}",
        "pool": f"ipam_pool.{name}",
        "vpc": f"vpc.{name}",
        "supply": "the public IPv6 supply",
        "vpc-free": f"vpc.{name}",
    }[kind]


def resolve(spec: Spec, graph: DependencyGraph, recorded: Mapping[str, dict], *, supply: Cidr,
            locate: Locator | None = None, external: Mapping[str, dict] | None = None) -> Desired:
    """Make every block concrete; the result says which CIDRs were chosen by mask, and the errors."""
    recorded = recorded if type(recorded) is dict else dict(recorded)  # read once; then every lookup is a dict's
    r = _Resolver(spec, graph, locate or (lambda p: (None, None)), recorded, supply)
    r.collect()
    for key in r.space_order():
        r.fill(key)
    resources = network_records(spec, r)
    compute, chosen, errors = compute_records(spec, resources, recorded, external or {},
                                              graph.declaration_or, r.locate)
    resources.update(compute)
    r.chosen.update(chosen)
    r.errors.extend(errors)
    blocks = {(q.address, q.path): str(q.result) for reqs in r.requests.values() for q in reqs if q.result is not None}
    return Desired(MappingProxyType(resources), MappingProxyType(r.chosen), MappingProxyType(r.facts),
                   MappingProxyType(blocks), tuple(r.errors))
