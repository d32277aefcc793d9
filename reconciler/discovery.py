"""Resource discovery: every VPC and vSwitch CIDR in the IPAM's operating regions, with its
management status, as the IPAM guide describes it ("Hosted" when allocated from a pool, "Not hosted"
when created without IPAM).

This module holds the value type; reading it from a provider lives with the provider's reads.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class DiscoveredCidr:
    region: str
    resource_type: str  # "VPC" | "VSwitch"
    resource_id: str  # vpc-... / vsw-...
    cidr: str  # an IPv4 or IPv6 block of the resource
    vpc_id: str  # the VPC itself for a VPC row
    pool_id: str | None = None  # the IPAM pool the block is allocated from (Hosted), else None

    @property
    def management(self) -> str:
        return "Hosted" if self.pool_id else "Not hosted"
