"""Fixed limits of Alibaba Cloud ENIs, IP prefixes and security groups, and the instance-type table.

Both the planner (at plan time) and the sandbox cloud (on every call) enforce these numbers, so
they live in one place, as pure data and small functions (nothing here imports the sandbox).
Sources: ``shared/seeds/ecs-ip-prefixes.txt`` (prefix lengths, regions, prefix counts, security
group quotas, the ecs.g7.large arithmetic), ``ecs-secondary-private-ips.zh.md`` (an Available ENI
takes at most 10 private IPs; an InUse ENI's limit is the instance type's), ``ecs-managed-enis.txt``
and ``shared/reference/alibaba-api.md`` (at most 10 items a call, reserved vSwitch addresses).

Counting rules (the seed's "each IP prefix counts as one IP address"):

- InUse ENI: ``1 (primary) + secondary IPv4 addresses + IPv4 prefixes <= EniPrivateIpAddressQuantity``
  and ``IPv6 addresses + IPv6 prefixes <= EniIpv6AddressQuantity``.
- Available ENI: ``1 + secondary IPv4 addresses <= 10`` and, each prefix counting as one IP,
  ``1 + secondary IPv4 addresses + IPv4 prefixes <= 50`` (the seed's 49 prefixes "by calling the
  AssignPrivateIpAddresses operation" are 50 minus the primary, as its 9 "in the ECS console" are 10
  minus the primary; so at most 49 prefixes, and fewer beside secondary addresses), and
  ``IPv6 addresses + IPv6 prefixes <= 10``.
- Security group: every private IPv4 and IPv6 address and every prefix of every ENI in the group
  counts one against its quota (basic ``normal`` 6,000; advanced ``enterprise`` 65,536).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# ---- IP prefixes (ecs-ip-prefixes.txt, "IP addresses") -------------------------------------
IPV4_PREFIX_LEN = 28
IPV6_PREFIX_LEN = 80
PREFIX_LEN = {4: IPV4_PREFIX_LEN, 6: IPV6_PREFIX_LEN}
IPV4_PREFIX_SIZE = 1 << (32 - IPV4_PREFIX_LEN)  # 16 addresses

# ---- Available (unattached) ENIs ----------------------------------------------------------------
AVAILABLE_ENI_MAX_PRIVATE_IPV4 = 10  # primary included (ecs-secondary-private-ips.zh.md)
AVAILABLE_ENI_MAX_IPV4_PREFIXES = 49  # through the API (ecs-ip-prefixes.txt), with no secondary address
# primary + secondary addresses + IPv4 prefixes: "each IP prefix counts as one IP address", and 49 is
# 50 minus the primary (alibaba-api.md: "up to 49 secondary IPv4 entries")
AVAILABLE_ENI_MAX_IPV4_ENTRIES = 1 + AVAILABLE_ENI_MAX_IPV4_PREFIXES
AVAILABLE_ENI_MAX_IPV6 = 10  # IPv6 addresses + IPv6 prefixes (alibaba-api.md)

# ---- one call ---------------------------------------------------------------------------------
MAX_ITEMS_PER_CALL = 10  # Ipv4Prefix.N, PrivateIpAddress.N, Ipv6Address.N, Ipv6Prefix.N: N in 1..10
COUNT_RANGE = (1, 10)  # SecondaryPrivateIpAddressCount, Ipv4PrefixCount, Ipv6AddressCount, ...

# ---- security groups (ecs-ip-prefixes.txt, "Security group") ------------------------------------
SECURITY_GROUP_TYPES = ("normal", "enterprise")  # basic, advanced
SECURITY_GROUP_PRIVATE_IP_QUOTA = {"normal": 6_000, "enterprise": 65_536}

# ---- vSwitch system-reserved addresses (alibaba-api.md) -----------------------------------------
VSWITCH_RESERVED_HEAD = 1  # the first address
VSWITCH_RESERVED_TAIL = 3  # the last three

# ---- regions where IP prefixes exist (ecs-ip-prefixes.txt, "Region") ----------------------------
IP_PREFIX_REGION_NAMES = {
    "Singapore": "ap-southeast-1",
    "US (Silicon Valley)": "us-west-1",
    "US (Virginia)": "us-east-1",
    "Philippines (Manila)": "ap-southeast-6",
    "Germany (Frankfurt)": "eu-central-1",
    "UK (London)": "eu-west-1",
    "Malaysia (Kuala Lumpur)": "ap-southeast-3",
    "Thailand (Bangkok)": "ap-southeast-7",
    "Indonesia (Jakarta)": "ap-southeast-5",
    "Japan (Tokyo)": "ap-northeast-1",
    "South Korea (Seoul)": "ap-northeast-2",
    "UAE (Dubai)": "me-east-1",
    "SAU (Riyadh - Partner Region)": "me-central-1",
    "China (Qingdao)": "cn-qingdao",
    "China (Beijing)": "cn-beijing",
    "China (Hangzhou)": "cn-hangzhou",
    "China (Shenzhen)": "cn-shenzhen",
    "China (Shanghai)": "cn-shanghai",
    "China (Hong Kong)": "cn-hongkong",
    "China (Hohhot)": "cn-huhehaote",
    "China (Chengdu)": "cn-chengdu",
    "China (Heyuan)": "cn-heyuan",
    "China (Ulanqab)": "cn-wulanchabu",
    "China (Guangzhou)": "cn-guangzhou",
}
IP_PREFIX_REGIONS = frozenset(IP_PREFIX_REGION_NAMES.values())

# ---- managed ENIs (ecs-managed-enis.txt) ----------------------------------------------------------
# Write APIs refused on a service-managed ENI unless the creating service calls them.
MANAGED_ENI_GUARDED_ACTIONS = frozenset({
    "DeleteNetworkInterface", "ModifyNetworkInterfaceAttribute", "AttachNetworkInterface",
    "DetachNetworkInterface", "AssignPrivateIpAddresses", "UnassignPrivateIpAddresses",
    "AssignIpv6Addresses", "UnassignIpv6Addresses", "AssociateEipAddress", "UnassociateEipAddress",
    "AssociateEipAddressBatch", "AllocateIpv6InternetBandwidth", "DeleteIpv6InternetBandwidth",
})
MANAGED_ENI_OPEN_ACTIONS = frozenset({"DescribeNetworkInterfaces", "ModifyIpv6InternetBandwidth"})

DATA_FILE = Path(__file__).resolve().parents[1] / "data" / "instance_types.json"


def prefix_regions_supported(region_id: str) -> bool:
    return region_id in IP_PREFIX_REGIONS


def reserved_ranges(version: int, start: int, prefix: int) -> list[tuple[int, int]]:
    """The system-reserved addresses of a vSwitch block as inclusive ranges: its first address and
    its last three (the same rule for a vSwitch's IPv4 block and its IPv6 /64)."""
    bits = 32 if version == 4 else 128
    end = start + (1 << (bits - prefix)) - 1
    return [(start, start + VSWITCH_RESERVED_HEAD - 1), (end - VSWITCH_RESERVED_TAIL + 1, end)]


def security_group_usage(ipv4_addresses: int, ipv4_prefixes: int = 0, ipv6_addresses: int = 0,
                         ipv6_prefixes: int = 0) -> int:
    """What one ENI takes from each of its security groups' private-IP quota."""
    return ipv4_addresses + ipv4_prefixes + ipv6_addresses + ipv6_prefixes


def security_group_quota(group_type: str) -> int:
    return SECURITY_GROUP_PRIVATE_IP_QUOTA[group_type]


# ---- instance types --------------------------------------------------------------------------
@dataclass(frozen=True)
class InstanceType:
    """Per-instance ENI limits of an ECS instance type (DescribeInstanceTypes' names in brackets).

    ``eni_quantity`` [EniQuantity]: ENIs per instance, the primary included. ``ipv4_per_eni``
    [EniPrivateIpAddressQuantity]: private IPv4 addresses per ENI, the primary included; each IPv4
    prefix counts as one. ``ipv6_per_eni`` [EniIpv6AddressQuantity]: IPv6 addresses per ENI; each
    IPv6 prefix counts as one."""

    name: str
    eni_quantity: int
    ipv4_per_eni: int
    ipv6_per_eni: int
    notes: str = ""

    @property
    def family(self) -> str:
        return self.name.rsplit(".", 1)[0]

    def max_ipv4_prefixes(self, secondary_addresses: int = 0) -> int:
        """IPv4 prefixes an InUse ENI of this type can still hold: ecs.g7.large (6) takes 5 with no
        secondary address, 4 with one, and so on."""
        return max(0, self.ipv4_per_eni - 1 - secondary_addresses)

    def max_ipv6_prefixes(self, ipv6_addresses: int = 0) -> int:
        return max(0, self.ipv6_per_eni - ipv6_addresses)

    def row(self) -> dict[str, Any]:
        """The DescribeInstanceTypes row."""
        return {"InstanceTypeId": self.name, "InstanceTypeFamily": self.family,
                "EniQuantity": self.eni_quantity, "EniPrivateIpAddressQuantity": self.ipv4_per_eni,
                "EniIpv6AddressQuantity": self.ipv6_per_eni}


_FIELDS = {"EniQuantity": "eni_quantity", "EniPrivateIpAddressQuantity": "ipv4_per_eni",
           "EniIpv6AddressQuantity": "ipv6_per_eni"}


def _entry(name: str, raw: Mapping[str, Any], base: InstanceType | None = None) -> InstanceType:
    values = {f: getattr(base, f) for f in _FIELDS.values()} if base is not None else {}
    for key, value in raw.items():
        field = _FIELDS.get(key, key if key in _FIELDS.values() else None)
        if field is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"instance type {name}: {key}={value!r} is not a positive integer")
        values[field] = value
    missing = [k for k, f in _FIELDS.items() if f not in values]
    if missing:
        raise ValueError(f"instance type {name}: missing {', '.join(missing)}")
    notes = raw.get("notes", base.notes if base is not None else "")
    return InstanceType(name, values["eni_quantity"], values["ipv4_per_eni"], values["ipv6_per_eni"], notes)


def load_instance_types(
    overrides: Mapping[str, InstanceType | Mapping[str, Any] | None] | None = None,
) -> dict[str, InstanceType]:
    """The instance-type table of ``data/instance_types.json``, with ``overrides`` applied.

    ``overrides`` maps a type name to an :class:`InstanceType`, to a mapping of DescribeInstanceTypes
    names (``EniQuantity``...) or field names (``eni_quantity``...) laid over the table's entry (a new
    name needs all three), or to None to drop the type."""
    doc = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    table = {name: _entry(name, raw) for name, raw in doc["instance_types"].items()}
    for name, value in (overrides or {}).items():
        if value is None:
            table.pop(name, None)
        elif isinstance(value, InstanceType):
            table[name] = value if value.name == name else InstanceType(
                name, value.eni_quantity, value.ipv4_per_eni, value.ipv6_per_eni, value.notes)
        else:
            table[name] = _entry(name, value, table.get(name))
    return table


# ---- ENI counting ------------------------------------------------------------------------------
def ipv4_exceeded(itype: InstanceType | None, addresses: int, prefixes: int) -> bool:
    """Whether an ENI holding ``addresses`` private IPv4 addresses (primary included) and
    ``prefixes`` IPv4 prefixes is over its limit: the instance type's when InUse (``itype``), the
    Available-ENI limits when ``itype`` is None."""
    if itype is None:
        return addresses > AVAILABLE_ENI_MAX_PRIVATE_IPV4 or addresses + prefixes > AVAILABLE_ENI_MAX_IPV4_ENTRIES
    return addresses + prefixes > itype.ipv4_per_eni


def ipv6_exceeded(itype: InstanceType | None, addresses: int, prefixes: int) -> bool:
    limit = AVAILABLE_ENI_MAX_IPV6 if itype is None else itype.ipv6_per_eni
    return addresses + prefixes > limit
