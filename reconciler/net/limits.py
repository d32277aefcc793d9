"""Quotas and fixed limits of Alibaba Cloud IPAM and VPC, as the seed documents state them.

Both the planner (at plan time) and the sandbox cloud (on every call) enforce these numbers, so
they live in one place. Sources: ``vpc-ipam-address-planning.txt`` (quota table, allocation rules,
provisioning rules) and ``../shared/reference/alibaba-api.md`` (vSwitch masks, reserved addresses).
"""

# vpc-ipam-address-planning.txt, "Quota limits"
IPAM_PER_REGION = 1  # ipam_quota_per_region
SCOPES_PER_IPAM = 5  # ipam_scope_quota_per_ipam (the two default scopes count)
POOL_MAX_DEPTH = 10  # ipam_pool_quota_depth: a top-level pool is level 1
CIDRS_PER_POOL = 50  # ipam_cidr_quota_per_ipam_pool
SUB_POOLS_PER_POOL = 50  # ipam_sub_pool_quota_per_ipam_pool
POOLS_PER_PRIVATE_SCOPE = 500  # ipam_pool_quota_per_scope
PUBLIC_IPV6_TOP_POOLS_PER_REGION_ISP = 1  # ipam_public_ipv6_top_pool_quota_per_region_isp
CIDRS_PER_PUBLIC_IPV6_TOP_POOL = 1  # ipam_cidr_quota_per_public_ipv6_top_pool

# Allocation rules: "0 to 128 for IPv6, 0 to 32 for IPv4".
MASK_RANGE = {"IPv4": (0, 32), "IPv6": (0, 128)}
IP_VERSION = {"IPv4": 4, "IPv6": 6}

# VPC and vSwitch block sizes (CreateVpc / CreateVSwitch documentation).
VPC_IPV4_MASK = (8, 28)
VPC_IPV6_MASK = 56
VSWITCH_IPV4_MASK = (16, 29)
VSWITCH_IPV6_MASK = 64

# The default ISP of public IPv6 pools ("Assign BGP (Multi-ISP)").
DEFAULT_IPV6_ISP = "BGP"

DEFAULT_SCOPES = {"private": "private", "public": "public"}  # name -> scope type
