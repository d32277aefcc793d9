"""Resource discovery: every VPC and vSwitch CIDR in the IPAM's operating regions, with its
management status, as the IPAM guide describes it ("Hosted" when allocated from a pool or imported
into one, "Not hosted" when created without IPAM).

:func:`discover` reads :class:`~reconciler.net.discovered.DiscoveredCidr` values through any client with
``call(action, params) -> dict``: for each IPAM that operates in the regions asked (``ListIpams``),
its default resource discovery's rows of each region (``ListIpamDiscoveredResource``, paged); a
region outside every IPAM's operating regions is not discovered. When no IPAM exists yet in the
regions (before the first apply), they are read directly (``DescribeVpcs``, ``DescribeVSwitches``),
so that a plan still sees what is there: every CIDR Not hosted, in the default scope of its IP
version, as a resource discovery would show it.

:func:`list_ipams` is the ``ListIpams`` read both use; :func:`known_ipams` turns its rows into the
:class:`~reconciler.rules.network.KnownIpam` values the plan judges the one-IPAM-per-region quota from.
"""

from __future__ import annotations

from typing import Iterable

from reconciler.net.discovered import DiscoveredCidr
from reconciler.rules.network import KnownIpam


def list_ipams(client, regions: Iterable[str]) -> dict[str, dict]:
    """``ListIpams`` rows of the IPAMs managed in ``regions``, by id."""
    from reconciler.providers.alibaba_read import by_token

    ipams: dict[str, dict] = {}
    for region in sorted({r for r in regions if isinstance(r, str) and r}):
        for ipam in by_token(client, "ListIpams", {"RegionId": region}, "Ipams"):
            ipams.setdefault(ipam["IpamId"], ipam)
    return ipams


def known_ipams(ipams: dict[str, dict]) -> tuple[KnownIpam, ...]:
    """The (managed region, id) of each IPAM row, sorted."""
    return tuple(sorted(KnownIpam(str(row.get("RegionId") or ""), ipam_id) for ipam_id, row in ipams.items()))


def _placed(client, ipam: dict) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """(resource id, CIDR) -> (pool, scope) of each CIDR the IPAM's scopes hold. ListIpamDiscoveredResource
    does not say whether a CIDR is hosted by a pool; ListIpamResourceCidrs does, per scope."""
    from reconciler.providers.alibaba_read import by_token

    out: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    region = {"RegionId": ipam["RegionId"]} if ipam.get("RegionId") else {}
    for scope in by_token(client, "ListIpamScopes", {**region, "IpamId": ipam["IpamId"]}, "IpamScopes"):
        sid = scope["IpamScopeId"]
        for row in by_token(client, "ListIpamResourceCidrs", {**region, "IpamScopeId": sid}, "IpamResourceCidrs"):
            out[(row["ResourceId"], row["Cidr"])] = (row.get("IpamPoolId") or None, row.get("IpamScopeId") or sid)
    return out


def discover(client, operating_regions: Iterable[str], ipams: dict[str, dict] | None = None) -> tuple[DiscoveredCidr, ...]:
    """Every VPC and vSwitch CIDR discovered in ``operating_regions``, sorted (``ipams``: the
    :func:`list_ipams` rows of those regions when already read)."""
    from reconciler.providers.alibaba_read import PAGE_VPC, by_number, by_token
    from reconciler.providers.alibaba_records import vpc_blocks

    regions = sorted({r for r in operating_regions if isinstance(r, str) and r})
    found: set[DiscoveredCidr] = set()
    if ipams is None:
        ipams = list_ipams(client, regions)
    for ipam in ipams.values():
        discovery = ipam.get("DefaultResourceDiscoveryId")
        if not discovery:
            continue
        rows = [(region, row) for region in sorted(set(regions) & set(ipam.get("OperatingRegionList") or ()))
                for row in by_token(client, "ListIpamDiscoveredResource",
                                    {"IpamResourceDiscoveryId": discovery, "RegionId": region}, "IpamDiscoveredResources")]
        placed = _placed(client, ipam) if rows else {}
        for region, row in rows:
            pool, scope = placed.get((row["ResourceId"], row["Cidr"]), (None, None))
            owner = row.get("AliUid")
            found.add(DiscoveredCidr(row.get("ResourceRegionId") or region, row["ResourceType"], row["ResourceId"],
                                     row["Cidr"], row.get("VpcId") or row["ResourceId"], pool, scope,
                                     str(owner) if owner not in (None, "") else None))
    for region in (regions if not ipams else ()):
        for vpc in by_number(client, "DescribeVpcs", {"RegionId": region}, "Vpcs", "Vpc", PAGE_VPC):
            primary, secondary, six = vpc_blocks(vpc)
            for cidr in (primary, *secondary, *six):
                found.add(DiscoveredCidr(region, "VPC", vpc["VpcId"], cidr, vpc["VpcId"]))
        for vsw in by_number(client, "DescribeVSwitches", {"RegionId": region}, "VSwitches", "VSwitch", PAGE_VPC):
            for block in (vsw.get("CidrBlock"), vsw.get("Ipv6CidrBlock")):
                if block:
                    found.add(DiscoveredCidr(region, "VSwitch", vsw["VSwitchId"], block, vsw["VpcId"]))
    return tuple(sorted(found))
