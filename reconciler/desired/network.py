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
from typing import Any, Callable, Iterable, Mapping, TypeAlias, cast

from reconciler.desired.compute import compute_records
from reconciler.desired.graph import DependencyGraph
from reconciler.desired.keep import Records
from reconciler.desired.network_records import PoolFacts, Request, network_records, pool_block
from reconciler.errors import ReconcilerError
from reconciler.models.network import BlockSpec, MaskRequest, Spec
from reconciler.net.address import ResourceAddress, SpaceKey
from reconciler.net.allocator import BlockAllocator
from reconciler.net.cidr import Cidr
from reconciler.net.external import ExternalPool, TakenBlock
from reconciler.net.limits import IP_VERSION
from reconciler.net.records import blocks_of
from reconciler.net.reserved import ReservedBlock
from reconciler.source.locate import Locator, Problems, SpecPath, nowhere

Entry: TypeAlias = str | MaskRequest | int | None  # a block's spec entry: a CIDR, a mask, or neither
ANY_V4 = Cidr(4, 0, 0)
ANY_V6 = Cidr(6, 0, 0)
EXTERNAL_SCOPE = "(external)"  # the scope of an external pool's facts: not one of this spec's scopes


@dataclass(frozen=True)
class Desired:
    """Concrete desired resources keyed by address, in the state's record shape (no ids)."""

    resources: Mapping[ResourceAddress, dict[str, Any]]
    chosen: Mapping[tuple[ResourceAddress, str], str]  # (address, cidr) -> how it was chosen, e.g. "lowest free /20 of ipam_pool.hz"
    pools: Mapping[str, PoolFacts]  # by pool name
    blocks: Mapping[tuple[ResourceAddress, SpecPath], str]  # (address, spec path) -> the CIDR chosen for that spec entry
    errors: tuple[ReconcilerError, ...] = ()


def pool_facts(spec: Spec, graph: DependencyGraph,
               outside: Mapping[str, ExternalPool] | None = None) -> dict[str, PoolFacts]:
    """Each pool's effective settings; an external pool's are what its owner's state or the cloud says."""
    facts: dict[str, PoolFacts] = {
        name: PoolFacts(scope=EXTERNAL_SCOPE, ip_version=p.ip_version, region=p.region, depth=1, top_level=False,
                        isp=None)
        for name, p in (outside or {}).items() if name in spec.external_pools}
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
class _Space:
    key: SpaceKey
    version: int
    containers: list[Cidr] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    removed_containers: list[Cidr] = field(default_factory=list)


class _Resolver:
    def __init__(self, spec: Spec, graph: DependencyGraph, locate: Locator, recorded: Records,
                 supply: Cidr, reserved: Iterable[ReservedBlock] = (),
                 outside: Mapping[str, ExternalPool] | None = None,
                 drawn: Mapping[str, Iterable[TakenBlock]] | None = None) -> None:
        self.spec, self.graph, self.locate = spec, graph, locate
        # external pools, by this spec's name for them (only those the spec declares)
        self.outside = {n: p for n, p in (outside or {}).items() if n in spec.external_pools}
        # pool name -> blocks allocated in it that this state does not hold: an external pool's (its owner's
        # and the cloud's), and those the cloud finds allocated in this workspace's own pools (drawn)
        self.taken: dict[str, tuple[TakenBlock, ...]] = {n: p.taken for n, p in self.outside.items()}
        for n, blocks in (drawn or {}).items():
            self.taken[n] = (*self.taken.get(n, ()), *blocks)
        # pool name -> the blocks other workspaces' plans reserved in it (never chosen here)
        self.reserved: dict[str, list[ReservedBlock]] = {}
        for r in sorted(reserved):
            self.reserved.setdefault(r.pool, []).append(r)
        self.recorded = recorded
        self.supply = supply
        self.facts = pool_facts(spec, graph, self.outside)
        self.spaces: dict[SpaceKey, _Space] = {}
        self.problems = Problems(locate)
        self.errors: list[ReconcilerError] = self.problems.errors
        self.chosen: dict[tuple[ResourceAddress, str], str] = {}
        self.requests: dict[ResourceAddress, list[Request]] = {}
        # pool name -> the masks its allocation rules allow (only pools with a min or max mask): the
        # rule is judged when a block is asked for, before any free space is looked for
        self.mask_rules: dict[str, tuple[int, int]] = {
            name: (p.allocation.min_mask if p.allocation.min_mask is not None else 0,
                   p.allocation.max_mask if p.allocation.max_mask is not None else 128)
            for name, p in spec.pools.items()
            if p.allocation is not None and (p.allocation.min_mask is not None or p.allocation.max_mask is not None)}
        self.mask_rules.update({
            name: (p.min_mask if p.min_mask is not None else 0, p.max_mask if p.max_mask is not None else 128)
            for name, p in self.outside.items() if p.min_mask is not None or p.max_mask is not None})
        # (address, spec path) of the requests refused for their mask: they still take a block when one is
        # free (so what they hold is planned on), but running out of space is not reported on top
        self.mask_refused: set[tuple[ResourceAddress, SpecPath]] = set()
        # space key -> (address, slot, block) of the recorded blocks in it (ENIs hold theirs in vSwitch
        # spaces, which the ENI resolver reads itself)
        self._recorded_blocks: dict[SpaceKey, list[tuple[ResourceAddress, str, Cidr]]] = {}
        for address, rec in recorded.items():
            if rec["type"] != "eni":
                for k, slot, c in blocks_of(rec):
                    self._recorded_blocks.setdefault(k, []).append((address, slot, Cidr.parse(c)))

    def recorded_blocks(self, key: SpaceKey) -> list[tuple[ResourceAddress, str, Cidr]] | tuple[()]:
        """(address, slot, block) of every recorded block in the space ``key``."""
        return self._recorded_blocks.get(key, ())

    def error(self, code: str, detail: str, address: ResourceAddress, path: SpecPath) -> None:
        self.problems.add(code, detail, address, path)

    def space(self, key: SpaceKey, version: int) -> _Space:
        if key not in self.spaces:
            self.spaces[key] = _Space(key, version)
        return self.spaces[key]

    def request(self, key: SpaceKey, version: int, address: ResourceAddress, slot: str, path: SpecPath,
                entry: Entry, order: tuple[int, int]) -> Request | None:
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
        if facts is not None and slot != "cidrs" and owner in self.mask_rules:
            # a VPC block or a custom allocation: the pool's allocation rules come before its free space
            lo, hi = self.mask_rules[owner]
            size = cidr.prefix if cidr is not None else mask
            if size is not None and not lo <= size <= hi:
                self.error("OperationDenied.MaskOfCidrIsNotAllowed",
                           f"/{size} is outside ipam_pool.{owner}'s allocation rule /{lo} to /{hi}", address, path)
                self.mask_refused.add((address, path))
        req = Request(address, slot, path, cidr, mask, order)
        self.space(key, version).requests.append(req)
        self.requests.setdefault(address, []).append(req)
        return req

    # ---- collecting requests ------------------------------------------------------------------
    def collect(self) -> None:
        spec = self.spec
        # typed for the f-string addresses and space keys below (NewType calls per resource would cost)
        request = cast("Callable[[str, int, str, str, SpecPath, Entry, tuple[int, int]], Request | None]",
                       self.request)
        declaration = cast("Callable[[str], int]", self.graph.declaration)
        default_mask = cast("Callable[[str, str, SpecPath, int | None], int | None]", self._default_mask)
        entry: Entry
        for name, pool in spec.pools.items():
            f = self.facts.get(name)
            if f is None:
                continue
            v = IP_VERSION[f.ip_version]
            key = f"pool:{pool.source}" if pool.source else ("supply" if v == 6 else f"scope:{f.scope}")
            order = declaration(f"ipam_pool.{name}")
            for i, entry in enumerate(pool.cidrs):
                request(key, v, f"ipam_pool.{name}", "cidrs", ("pools", name, "cidrs", i), entry, (order, i))
        for name, alloc in spec.allocations.items():
            f = self.facts.get(alloc.pool)
            if f is None:
                continue
            entry = alloc.cidr if alloc.cidr is not None else alloc.mask
            if entry is None:
                entry = default_mask(alloc.pool, f"ipam_pool_allocation.{name}", ("allocations", name), None)
            order = declaration(f"ipam_pool_allocation.{name}")
            request(f"pool:{alloc.pool}", IP_VERSION[f.ip_version], f"ipam_pool_allocation.{name}", "cidr",
                    ("allocations", name), entry, (order, 0))
        for name, vpc in spec.vpcs.items():
            address = f"vpc.{name}"
            order = declaration(address)
            blocks: list[tuple[str, SpecPath, BlockSpec, int]] = [("ipv4", ("vpcs", name, "ipv4"), vpc.ipv4, 4)]
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
                        entry = default_mask(block.pool, address, path, 56 if version == 6 else None)
                if entry is not None:
                    request(key, version, address, slot, path, entry, (order, i))
        for name, vsw in spec.vswitches.items():
            address = f"vswitch.{name}"
            request(f"vpc:{vsw.vpc}", 4, address, "cidr", ("vswitches", name, "cidr"), vsw.cidr,
                    (declaration(address), 0))

    def _default_mask(self, pool: str, address: ResourceAddress, path: SpecPath,
                      fallback: int | None = None) -> int | None:
        if pool in self.outside:
            default = self.outside[pool].default_mask
        else:
            rules = self.spec.pools[pool].allocation
            default = rules.default_mask if rules is not None else None
        if default is not None:
            return default
        if fallback is not None:
            return fallback
        self.error("MissingParam.CidrOrCidrMask",
                   f"no cidr or mask given and ipam_pool.{pool} has no default mask (allocation.default_mask)",
                   address, path)
        return None

    # ---- filling spaces -----------------------------------------------------------------------
    def space_order(self) -> list[SpaceKey]:
        keys: list[str] = sorted(k for k in self.spaces if k.startswith("scope:") or k == "supply" or k.startswith("vpc-free:")
                                 or (k.startswith("pool:") and k[5:] in self.outside))
        for address in self.graph.topological_of(("ipam_pool", "vpc")):
            rtype, name = address.split(".", 1)
            if rtype == "ipam_pool" and f"pool:{name}" in self.spaces:
                keys.append(f"pool:{name}")
            elif rtype == "vpc" and f"vpc:{name}" in self.spaces:
                keys.append(f"vpc:{name}")
        return cast("list[SpaceKey]", keys)  # (f-string keys, as those of self.spaces)

    def containers(self, key: SpaceKey) -> tuple[list[Cidr], list[Cidr]]:
        """Desired containers of a space, and recorded containers the plan removes."""
        kind, _, name = key.partition(":")
        if kind == "scope":
            return [ANY_V4], []
        if kind == "supply":
            return [self.supply], []
        if kind == "vpc-free":
            return [ANY_V4, ANY_V6], []
        if kind == "pool" and name in self.outside:
            return list(self.outside[name].cidrs), []
        owner: ResourceAddress = f"ipam_pool.{name}" if kind == "pool" else f"vpc.{name}"  # type: ignore[assignment]  # (no NewType call per space)
        slots = ("cidrs",) if kind == "pool" else ("ipv4", "secondary_cidrs")
        now = [r.result for r in self.requests.get(owner, []) if r.result is not None and r.slot in slots]
        before: list[Cidr] = []
        rec = self.recorded.get(owner)
        if rec is not None:
            before = [Cidr.parse(c) for k, s, c in blocks_of(rec) if s in slots]
        return now, [c for c in before if c not in now]

    def fill(self, key: SpaceKey) -> None:
        space = self.spaces[key]
        containers, removed = self.containers(key)
        alloc = BlockAllocator(space.version, containers)
        by_owner: dict[tuple[ResourceAddress, str], list[Request]] = {}
        for req in space.requests:
            by_owner.setdefault((req.address, req.slot), []).append(req)
        recorded_here: dict[tuple[ResourceAddress, str], list[Cidr]] = {}
        for address, slot, block in self.recorded_blocks(key):
            recorded_here.setdefault((address, slot), []).append(block)
        kept: set[tuple[ResourceAddress, Cidr]] = set()
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
            result: Cidr = req.result  # type: ignore[assignment]  # (a kept request holds its block)
            if moving and req.cidr is None and alloc.container_of(result) is None:
                req.result, req.kept = None, False  # replaced with its parent: a new block in the new parent
                continue
            self._take(alloc, req, result, removed, key, moving)
            kept.add((req.address, result))
        # other workspaces' reservations: after what exists (which wins), before what is new
        kind, _, owner = key.partition(":")
        held_elsewhere = self.reserved.get(owner, []) if kind == "pool" else []
        for r in held_elsewhere:
            if r.cidr.version == space.version:
                alloc.force(r.cidr, r.holder)
        if kind == "pool" and owner in self.taken:
            # what is allocated in the pool but not to this workspace's own blocks
            mine = {block for _, _, block in self.recorded_blocks(key)}
            for t in self.taken[owner]:
                if t.cidr not in mine and t.cidr.version == space.version:
                    alloc.force(t.cidr, t.holder)
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
                    if (req.address, req.path) in self.mask_refused:
                        continue  # refused for its mask already
                    where = self.space_name(key)
                    self.error("OperationDenied.AvailableCidrInsufficient",
                               f"no free /{req.mask} block left in {where}", req.address, req.path)
                    continue
                req.result = got
                how = f"lowest free /{req.mask} in {self.space_name(key)}"
                skipped = [r for r in held_elsewhere if r.cidr.version == got.version and r.cidr.start < got.start]
                if skipped:
                    how += "; skipped " + ", ".join(f"{r.cidr} reserved by workspace {r.workspace} until {r.until}"
                                                    for r in skipped)
                self.chosen[(req.address, str(got))] = how

    def space_name(self, key: SpaceKey) -> str:
        kind, _, name = key.partition(":")
        if kind == "pool" and name in self.outside:
            p = self.outside[name]
            return f"external pool {name} ({p.id}, managed by {p.owner})"
        return _space_name(key)

    def _owner_replaced(self, key: SpaceKey) -> bool:
        """Whether the parent of a space is being replaced (so its children move with it)."""
        kind, _, name = key.partition(":")
        if kind == "vpc":
            owner: ResourceAddress = f"vpc.{name}"  # type: ignore[assignment]  # (no NewType call per space)
            rec, vpc = self.recorded.get(owner), self.spec.vpcs.get(name)
            if rec is None or vpc is None:
                return False
            was = rec["attributes"]
            now = next((str(q.result) for q in self.requests.get(owner, []) if q.slot == "ipv4" and q.result), None)
            replaced: bool = was["region"] != vpc.region or was["ipv4"] != pool_block(self.outside, vpc.ipv4.pool, now)
            return replaced
        if kind == "pool":
            return self._pool_replaced(name)
        return False

    def _pool_replaced(self, name: str) -> bool:
        owner: ResourceAddress = f"ipam_pool.{name}"  # type: ignore[assignment]  # (no NewType call per pool)
        rec, f = self.recorded.get(owner), self.facts.get(name)
        if rec is None or f is None:
            return False
        was, pool = rec["attributes"], self.spec.pools[name]
        now = {"scope": f.scope, "ip_version": f.ip_version, "source": pool.source, "region": f.region, "isp": f.isp}
        if any(was.get(k) != v for k, v in now.items()):
            return True
        return bool(pool.source and self._pool_replaced(pool.source))

    def _take(self, alloc: BlockAllocator, req: Request, block: Cidr, removed: list[Cidr], key: SpaceKey,
              moving: bool = False) -> bool:
        found = alloc.take(block, req.address)
        if found is None:
            return True
        if (req.address, req.path) in self.mask_refused:
            return False  # refused for its mask already
        where = self.space_name(key)
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
        elif found.holder == req.address and req.address.startswith("vpc."):
            # another block of the same VPC (a pool's or one given without a pool): the VPC refuses it
            # before any pool is asked, as AssociateVpcCidrBlock does
            self.error("InvalidCidrBlock.Overlapped", f"{block} overlaps {found.held} of the same VPC",
                       req.address, req.path)
        else:
            code = {"scope": "OperationDenied.CidrOverlapInScope", "vpc": "InvalidCidrBlock.Overlapped"}.get(
                key.split(":")[0], "OperationDenied.CidrUnavailableInPool")
            self.error(code, f"{block} overlaps {found.held} of {found.holder} in {where}", req.address, req.path)
        return False


def _space_name(key: SpaceKey) -> str:
    kind, _, name = key.partition(":")
    return {
        "scope": f"the top level of ipam_scope.{name}",
        "pool": f"ipam_pool.{name}",
        "vpc": f"vpc.{name}",
        "supply": "the public IPv6 supply",
        "vpc-free": f"vpc.{name}",
    }[kind]


def resolve(spec: Spec, graph: DependencyGraph, recorded: Records, *, supply: Cidr,
            locate: Locator | None = None, external: Records | None = None,
            reserved: Iterable[ReservedBlock] = (), external_pools: Mapping[str, ExternalPool] | None = None,
            drawn: Mapping[str, Iterable[TakenBlock]] | None = None) -> Desired:
    """Make every block concrete; the result says which CIDRs were chosen by mask, and the errors."""
    recorded = recorded if type(recorded) is dict else dict(recorded)  # read once; then every lookup is a dict's
    r = _Resolver(spec, graph, locate or nowhere, recorded, supply, reserved, external_pools, drawn)
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
