"""The concrete desired records of the network layer (IPAM, scopes, pools, allocations, VPCs,
vSwitches), in the state's record shape, built from the spec and the blocks the resolver chose.
"""

from __future__ import annotations

from reconciler.models.network import ReservationSpec, Spec
from reconciler.net.cidr import Cidr
from reconciler.net.eni_limits import reserved_ranges
from reconciler.net.limits import DEFAULT_SCOPES, VSWITCH_IPV6_MASK


def _cidrs(reqs: list, slot: str) -> list[str]:
    return [str(c) for c in sorted(r.result for r in reqs if r.slot == slot and r.result is not None)]


def network_records(spec: Spec, r) -> dict[str, dict]:
    out: dict[str, dict] = {}

    def put(rtype: str, name: str, attrs: dict) -> None:
        out[f"{rtype}.{name}"] = {"type": rtype, "name": name, "attributes": attrs}

    if spec.ipam is not None:
        ipam = spec.ipam
        regions = sorted(set(ipam.operating_regions) | {ipam.region})
        put("ipam", ipam.name, {"region": ipam.region, "operating_regions": regions, "description": ipam.description})
        for scope, stype in DEFAULT_SCOPES.items():
            put("ipam_scope", scope, {"ipam": ipam.name, "type": stype, "default": True, "description": None})
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
            "cidrs": _cidrs(r.requests.get(f"ipam_pool.{name}", []), "cidrs"),
            "description": pool.description,
        })
    for name, alloc in spec.allocations.items():
        cidrs = _cidrs(r.requests.get(f"ipam_pool_allocation.{name}", []), "cidr")
        put("ipam_pool_allocation", name, {"pool": alloc.pool, "cidr": cidrs[0] if cidrs else None,
                                           "description": alloc.description})
    for name, vpc in spec.vpcs.items():
        reqs = {(q.slot, q.path): q for q in r.requests.get(f"vpc.{name}", [])}

        def block(slot, path, spec_block):
            q = reqs.get((slot, path))
            return {"pool": spec_block.pool, "cidr": str(q.result) if q and q.result else None}

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
        cidrs = _cidrs(r.requests.get(f"vswitch.{name}", []), "cidr")
        vpc = out.get(f"vpc.{vsw.vpc}")
        put("vswitch", name, {"vpc": vsw.vpc, "zone": vsw.zone, "cidr": cidrs[0] if cidrs else None,
                              "ipv6_cidr": _ipv6(r, name, vsw, vpc, taken6),
                              "prefix_reservations": _reservations(r, name, vsw, cidrs),
                              "description": vsw.description})
    return out


def _ipv6(r, name: str, vsw, vpc: dict | None, taken: dict[str, str]) -> str | None:
    """The vSwitch's IPv6 /64: the index-th /64 of its VPC's /56, or an explicit /64 inside it."""
    if vsw.ipv6_cidr is None or vpc is None:
        return None
    address, path = f"vswitch.{name}", ("vswitches", name, "ipv6_cidr")
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


def _reservations(r, name: str, vsw, cidrs: list[str]) -> list[str]:
    """Prefix reservations: standard blocks inside the vSwitch, not overlapping each other."""
    out: list[Cidr] = []
    address = f"vswitch.{name}"
    for i, text in enumerate(vsw.prefix_reservations):
        block, path = Cidr.parse(text), ("vswitches", name, "prefix_reservations", i)
        if block.version == 4 and not (cidrs and Cidr.parse(cidrs[0]).contains(block)):
            r.error("InvalidParameter.VSwitchCidrReservationCidr", f"{block} is not inside the vSwitch", address, path)
            continue
        if block.prefix > (28 if block.version == 4 else 80):
            r.error("InvalidParameter.VSwitchCidrReservationCidr",
                    f"{block} is smaller than one prefix (/28 IPv4, /80 IPv6)", address, path)
            continue
        vsw = Cidr.parse(cidrs[0]) if block.version == 4 and cidrs else None
        if vsw is not None and any(block.start <= hi and lo <= block.end
                                   for lo, hi in reserved_ranges(4, vsw.start, vsw.prefix)):
            r.error("InvalidCidrBlock.InUse", f"{block} covers an address the system keeps (the vSwitch's first "
                    "address or its last three)", address, path)
            continue
        clash = next((o for o in out if o.overlaps(block)), None)
        if clash is not None:
            r.error("InvalidCidrBlock.Overlapped", f"{block} overlaps reservation {clash}", address, path)
            continue
        out.append(block)
    return [str(b) for b in sorted(out)]
