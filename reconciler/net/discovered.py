"""A CIDR that resource discovery found: the value the planner's discovery rule and the report read.

Where the values come from (the cloud's resource discoveries) is :mod:`reconciler.observe.discovery`.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.net.cidr import Cidr


@dataclass(frozen=True, order=True)
class DiscoveredCidr:
    region: str
    resource_type: str  # "VPC" | "VSwitch"
    resource_id: str  # vpc-... / vsw-...
    cidr: str  # an IPv4 or IPv6 block of the resource
    vpc_id: str  # the VPC itself for a VPC row
    pool_id: str | None = None  # the IPAM pool the block is allocated from (Hosted), else None
    scope_id: str | None = None  # the IPAM scope it sits in (its pool's; else the default scope of its version)
    account: str | None = None  # the owner's account id (AliUid), when discovery gives it

    @property
    def management(self) -> str:
        return "Hosted" if self.pool_id else "Not hosted"

    @property
    def version(self) -> int:
        return Cidr.parse(self.cidr).version
