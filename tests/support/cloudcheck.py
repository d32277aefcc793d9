"""Compare a recorded state with what the sandbox cloud holds: ids and CIDRs, doubles, orphans.

Reads the sandbox's store directly (every resource of every kind, no paging), so nothing the API
would hide is missed. ``problems(state_resources, sandbox_path)`` lists every difference as text
(empty: the state matches the cloud exactly); ``doubles(sandbox_path)`` lists names that exist
more than once in the cloud.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Mapping

from reconciler.cloud.sandbox import SandboxCloud

# state type -> (sandbox kind, name field)
KINDS = {
    "ipam": ("ipam", "IpamName"),
    "ipam_scope": ("ipam_scope", "IpamScopeName"),
    "ipam_pool": ("ipam_pool", "IpamPoolName"),
    "ipam_pool_allocation": ("ipam_pool_allocation", "IpamPoolAllocationName"),
    "vpc": ("vpc", "VpcName"),
    "vswitch": ("vswitch", "VSwitchName"),
    "security_group": ("security_group", "SecurityGroupName"),
    "instance": ("instance", "InstanceName"),
    "eni": ("eni", "NetworkInterfaceName"),
}


def cloud_resources(sandbox_path: Path) -> dict[str, list[dict]]:
    cloud = SandboxCloud(sandbox_path)
    try:
        out = {kind: [dict(r) for r in cloud.store.all(kind)] for kind, _ in KINDS.values()}
        out["vsw_reservation"] = [dict(r) for r in cloud.store.all("vsw_reservation")]
        return out
    finally:
        cloud.close()


def _custom(kind: str, rows: list[dict]) -> list[dict]:
    if kind == "ipam_pool_allocation":
        return [r for r in rows if r["ResourceType"] == "Custom"]
    return rows


def problems(resources: Mapping[str, dict], sandbox_path: Path) -> list[str]:
    cloud = cloud_resources(sandbox_path)
    out: list[str] = []
    by_id = {r["_id"]: r for rows in cloud.values() for r in rows}
    for stype, (kind, _) in KINDS.items():
        recorded = {rec["id"]: addr for addr, rec in resources.items() if rec["type"] == stype}
        present = {r["_id"] for r in _custom(kind, cloud[kind])}
        for rid in sorted(present - set(recorded)):
            out.append(f"orphan: {kind} {rid} exists in the cloud but not in the state")
        for rid, addr in sorted(recorded.items(), key=lambda p: p[1]):
            if rid not in present:
                out.append(f"missing: {addr} is recorded with id {rid}, which the cloud does not have")
    for addr, rec in sorted(resources.items()):
        row = by_id.get(rec["id"])
        if row is None:
            continue
        a = rec["attributes"]
        got, want = _blocks(rec["type"], row, a, cloud)
        if got != want:
            out.append(f"differs: {addr} ({rec['id']}): the cloud has {got}, the state {want}")
    vpc_ids = {rec["id"] for rec in resources.values() if rec["type"] == "vpc"}
    for alloc in cloud["ipam_pool_allocation"]:
        if alloc["ResourceType"] == "VPC" and alloc["ResourceId"] not in vpc_ids:
            out.append(f"orphan: allocation {alloc['Cidr']} of {alloc['ResourceId']}, a VPC the state lacks")
    return out


def _blocks(stype: str, row: dict, a: Mapping, cloud: dict) -> tuple[object, object]:
    if stype == "ipam_pool":
        return sorted(row["Cidrs"]), sorted(a["cidrs"])
    if stype == "ipam_pool_allocation":
        return row["Cidr"], a["cidr"]
    if stype == "vpc":
        six = [e["Ipv6CidrBlock"] for e in row["Ipv6CidrBlocks"]]
        return ((row["CidrBlock"], sorted(row["SecondaryCidrBlocks"]), six),
                (a["ipv4"]["cidr"], sorted(b["cidr"] for b in a["secondary_cidrs"]),
                 [a["ipv6"]["cidr"]] if a.get("ipv6") else []))
    if stype == "vswitch":
        reserved = sorted(r["VSwitchCidrReservationCidr"] for r in cloud["vsw_reservation"]
                          if r["VSwitchId"] == row["VSwitchId"])
        return (row["CidrBlock"], reserved), (a["cidr"], sorted(a.get("prefix_reservations") or []))
    if stype == "eni":
        return ((row["PrivateIpAddress"], sorted(row["SecondaryIps"]), sorted(row["Ipv4Prefixes"]),
                 sorted(row["Ipv6Addresses"]), sorted(row["Ipv6Prefixes"])),
                (a["primary_ip"], sorted(a["secondary_private_ips"]), sorted(a["ipv4_prefixes"]),
                 sorted(a["ipv6_addresses"]), sorted(a["ipv6_prefixes"])))
    return None, None


def doubles(sandbox_path: Path) -> list[str]:
    """Names that more than one resource of a kind has (the primary ENIs of instances have none)."""
    cloud = cloud_resources(sandbox_path)
    out = []
    for kind, name_field in KINDS.values():
        names = Counter(r[name_field] for r in _custom(kind, cloud[kind]) if r.get(name_field))
        out.extend(f"double: {count} {kind}s named {name!r}" for name, count in sorted(names.items()) if count > 1)
    return out
