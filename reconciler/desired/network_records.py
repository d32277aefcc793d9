"""The concrete desired records of the network layer (IPAM, scopes, pools, allocations, VPCs,
vSwitches), in the state's record shape, built from the spec and the blocks the resolver chose.
The resolver's requests and pool facts are defined here, so both modules read one definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol, cast

from reconciler.models.compute import ReservationSpec
from reconciler.models.network import BlockSpec, Spec, VSwitchSpec
from reconciler.net.address import ResourceAddress
from reconciler.net.cidr import Cidr
from reconciler.net.eni_limits import reserved_ranges
from reconciler.net.external import ExternalPool
from reconciler.net.limits import DEFAULT_SCOPES, VSWITCH_IPV6_MASK
from reconciler.source.locate import SpecPath


@dataclass(frozen=True)
class PoolFacts:
    """A pool's effective settings: declared, or inherited from its source."""

    scope: str
    ip_version: str
    region: str | None
    depth: int
    top_level: bool
    isp: str | None


@dataclass
class Request:
    """One block a resource asks for in a space (:mod:`reconciler.desired.network` serves it)."""

    address: ResourceAddress
    slot: str  # which block of the owner: "cidrs", "ipv4", "ipv6", "secondary_cidrs", "cidr"
    path: SpecPath  # spec path for errors
    cidr: Cidr | None
    mask: int | None
    order: tuple[int, int]
    result: Cidr | None = None
    kept: bool = False


class Resolved(Protocol):
    """What the records are made of: the resolver's pool facts and served requests, and where its
    errors go (:class:`reconciler.desired.network._Resolver`)."""

    @property
    def facts(self) -> Mapping[str, PoolFacts]: ...

    @property
    def requests(self) -> Mapping[ResourceAddress, list[Request]]: ...

    @property
    def outside(self) -> Mapping[str, ExternalPool]: ...

    def error(self, code: str, detail: str, address: ResourceAddress, path: SpecPath) -> None: ...


def pool_block(outside: Mapping[str, ExternalPool], pool: str | None, cidr: str | None) -> dict[str, Any]:
    """A block's record: its pool's name and the CIDR; with the pool's cloud id when another workspace
    manages it (apply and drift know that pool by nothing else)."""
    if pool is not None and pool in outside:
        return {"pool": pool, "cidr": cidr, "pool_id": outside[pool].id}
    return {"pool": pool, "cidr": cidr}


def _cidrs(reqs: list[Request], slot: str) -> list[str]:
    return [str(c) for c in sorted(r.result for r in reqs if r.slot == slot and r.result is not None)]


def network_records(spec: Spec, r: Resolved) -> dict[ResourceAddress, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}  # (keyed by f-string addresses: typed as addresses when returned)
    requests = cast("Mapping[str, list[Request]]", r.requests)  # (looked up by f-string addresses)

    def put(rtype: str, name: str, attrs: dict[str, Any]) -> None:
        out[f"{rtype}.{name}"] = {"type": rtype, "name": name, "attributes": attrs}

    if spec.ipam is not None:
        ipam = spec.ipam
        regions = sorted(set(ipam.operating_regions) | {ipam.region})
        put("ipam", ipam.name, {"region": ipam.region, "operating_regions": regions, "description": ipam.description})
        for default, stype in DEFAULT_SCOPES.items():
            put("ipam_scope", default, {"ipam": ipam.name, "type": stype, "default": True, "description": None})
    for name, scope in spec.scopes.items():
        if name not in DEFAULT_SCOPES and spec.ipam is not None:
            put("ipam_scope", name, {"ipam": spec.ipam.name, "type": scope.type, "default": False,
                                     "description": scope.description})
    for name, pool in spec.pools.items():
        f = r.facts.get(name)
        if f is None:
            continue
        rules = pool.allocation
        put("ipam_pool", name, {
            "scope": f.scope, "ip_version": f.ip_version, "source": pool.source, "region": f.region, "isp": f.isp,
            "allocation": {"min_mask": rules.min_mask if rules else None,
                           "default_mask": rules.default_mask if rules else None,
                           "max_mask": rules.max_mask if rules else None},
            "auto_import": pool.auto_import,
            "cidrs": _cidrs(requests.get(f"ipam_pool.{name}", []), "cidrs"),
            "description": pool.description,
        })
    for name, alloc in spec.allocations.items():
        cidrs = _cidrs(requests.get(f"ipam_pool_allocation.{name}", []), "cidr")
        put("ipam_pool_allocation", name, {**pool_block(r.outside, alloc.pool, cidrs[0] if cidrs else None),
                                           "description": alloc.description})
    for name, share in spec.resource_shares.items():
        put("resource_share", name, {"resources": sorted(share.resources), "principals": sorted(share.principals),
                                     "allow_external_targets": share.allow_external_targets})
    for name, vpc in spec.vpcs.items():
        reqs = {(q.slot, q.path): q for q in requests.get(f"vpc.{name}", [])}

        def block(slot: str, path: SpecPath, spec_block: BlockSpec) -> dict[str, Any]:
            q = reqs.get((slot, path))
            return pool_block(r.outside, spec_block.pool, str(q.result) if q and q.result else None)

        secondary = [block("secondary_cidrs", ("vpcs", name, "secondary_cidrs", i), b)
                     for i, b in enumerate(vpc.secondary_cidrs)]
        put("vpc", name, {
            "region": vpc.region,
            "ipv4": block("ipv4", ("vpcs", name, "ipv4"), vpc.ipv4),
            "secondary_cidrs": sorted(secondary, key=lambda b: (b["cidr"] is None, b["cidr"] and Cidr.parse(b["cidr"]))),
            "ipv6": block("ipv6", ("vpcs", name, "ipv6"), vpc.ipv6) if vpc.ipv6 is not None else None,
            "description": vpc.description,
        })
    taken6: dict[str, str] = {}
    for name, vsw in spec.vswitches.items():
        cidrs = _cidrs(requests.get(f"vswitch.{name}", []), "cidr")
        vpc_record = out.get(f"vpc.{vsw.vpc}")
        put("vswitch", name, {"vpc": vsw.vpc, "zone": vsw.zone, "cidr": cidrs[0] if cidrs else None,
                              "ipv6_cidr": _ipv6(r, name, vsw, vpc_record, taken6),
                              "prefix_reservations": _reservations(r, name, vsw, cidrs),
                              "description": vsw.description})
    return cast("dict[ResourceAddress, dict[str, Any]]", out)


def _ipv6(r: Resolved, name: str, vsw: VSwitchSpec, vpc: dict[str, Any] | None, taken: dict[str, str]) -> str | None:
    """The vSwitch's IPv6 /64: the index-th /64 of its VPC's /56, or an explicit /64 inside it."""
    if vsw.ipv6_cidr is None or vpc is None:
        return None
    address: ResourceAddress = f"vswitch.{name}"  # type: ignore[assignment]  # (no NewType call per vSwitch)
    path = ("vswitches", name, "ipv6_cidr")
    v6 = (vpc["attributes"].get("ipv6") or {}).get("cidr")
    if not v6:
        r.error("OperationDenied.VpcIpv6NotEnabled", f"vpc.{vsw.vpc} has no IPv6 block", address, path)
        return None
    parent = Cidr.parse(v6)
    if isinstance(vsw.ipv6_cidr, ReservationSpec):  # 0-255 (the spec's bounds): every /64 of a /56
        block = parent.subnet(VSWITCH_IPV6_MASK, vsw.ipv6_cidr.index)
    else:
        block = Cidr.parse(vsw.ipv6_cidr)
        if block.prefix != VSWITCH_IPV6_MASK or not parent.contains(block):
            r.error("InvalidParameter.Ipv6CidrBlock", f"{block} is not a /64 inside vpc.{vsw.vpc}'s {parent}",
                    address, path)
            return None
    text = str(block)
    if text in taken:
        r.error("InvalidCidrBlock.Overlapped", f"{text} is already the IPv6 block of {taken[text]}", address, path)
        return None
    taken[text] = address
    return text


def _reservations(r: Resolved, name: str, vsw: VSwitchSpec, cidrs: list[str]) -> list[str]:
    """Prefix reservations: standard blocks inside the vSwitch, not overlapping each other."""
    out: list[Cidr] = []
    address: ResourceAddress = f"vswitch.{name}"  # type: ignore[assignment]  # (no NewType call per vSwitch)
    for i, text in enumerate(vsw.prefix_reservations):
        block, path = Cidr.parse(text), ("vswitches", name, "prefix_reservations", i)
        if block.version == 4 and not (cidrs and Cidr.parse(cidrs[0]).contains(block)):
            r.error("InvalidParameter.VSwitchCidrReservationCidr", f"{block} is not inside the vSwitch", address, path)
            continue
        if block.prefix > (28 if block.version == 4 else 80):
            r.error("InvalidParameter.VSwitchCidrReservationCidr",
                    f"{block} is smaller than one prefix (/28 IPv4, /80 IPv6)", address, path)
            continue
        vsw_block = Cidr.parse(cidrs[0]) if block.version == 4 and cidrs else None
        if vsw_block is not None and any(block.start <= hi and lo <= block.end
                                         for lo, hi in reserved_ranges(4, vsw_block.start, vsw_block.prefix)):
            r.error("InvalidCidrBlock.InUse", f"{block} covers an address the system keeps (the vSwitch's first "
                    "address or its last three)", address, path)
            continue
        clash = next((o for o in out if o.overlaps(block)), None)
        if clash is not None:
            r.error("InvalidCidrBlock.Overlapped", f"{block} overlaps reservation {clash}", address, path)
            continue
        out.append(block)
    return [str(b) for b in sorted(out)]
