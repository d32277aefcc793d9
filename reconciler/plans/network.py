"""Actions for the network layer: IPAM, scopes, pools and their CIDRs, custom allocations, VPCs
and their blocks, vSwitches and their prefix reservations."""

from __future__ import annotations

from typing import Any, Callable, Mapping, TypeAlias

from reconciler.net.address import ResourceAddress, SpaceKey
from reconciler.net.records import space_of_pool
from reconciler.plans.action import REGIONS_REMOVED, Action, Draft
from reconciler.plans.diff import Attributes, Change, ChangeKind

# the call that releases a VPC block's pool allocation, the VPC keeping the block
POOL_RELEASE = "DeleteIpamPoolAllocation"

Chosen: TypeAlias = Mapping[tuple[ResourceAddress, str], str]  # (address, cidr) -> how the CIDR was chosen
Note: TypeAlias = Callable[[str], str | None]  # cidr -> how it was chosen


def _vpc_blocks(attrs: Attributes | None) -> dict[tuple[str, str | None, str], dict[str, Any]]:
    """(slot, pool, cidr) -> block, for the blocks a VPC allocates after creation (secondaries, IPv6)."""
    if not attrs:
        return {}
    out = {("secondary", b.get("pool"), b["cidr"]): dict(b) for b in attrs.get("secondary_cidrs", [])}
    if attrs.get("ipv6"):
        b = attrs["ipv6"]
        out[("ipv6", b.get("pool"), b["cidr"])] = dict(b)
    return out


def share_note(attrs: Attributes, *, stopping: bool) -> str:
    """What a share change does, as the address-planning seed says it (the plan's note)."""
    pools, who = ", ".join(attrs["resources"]), ", ".join(attrs["principals"])
    if stopping:
        return (f"stops sharing {pools} with {who}: they no longer see it; the allocations they made stay, "
                "and deleting their VPC later releases its allocation")
    how = ("each principal accepts the invitation, or none is needed inside a resource directory with sharing "
           "enabled" if attrs["allow_external_targets"] else "inside the resource directory only, no invitation")
    return f"shares {pools} with {who} (AliyunRSDefaultPermissionIpamPool; {how})"


def network_drafts(change: Change, chosen: Chosen) -> list[Draft]:
    t, kind, before, after = change.type, change.kind, change.before, change.after
    out: list[Draft] = []

    def note(cidr: str) -> str | None:
        return chosen.get((change.address, cidr))

    def destroy(attrs: Attributes) -> None:
        if t == "ipam_pool":
            for c in attrs["cidrs"]:
                out.append(Draft(Action.DEPROVISION, change, c, {"cidr": c}, None, sub=len(out), space=space_of_pool(attrs)))
            out.append(Draft(Action.DELETE, change, before=attrs, sub=len(out)))
        elif t == "ipam_pool_allocation":
            # (the key written out, as blocks_of does: no call per record)
            space: SpaceKey = f"pool:{attrs['pool']}"  # type: ignore[assignment]
            out.append(Draft(Action.RELEASE, change, attrs["cidr"], attrs, None, space=space))
        elif t == "resource_share":
            out.append(Draft(Action.DELETE, change, None, attrs, None, share_note(attrs, stopping=True), sub=len(out)))
        else:
            if t == "vswitch":
                for r in attrs.get("prefix_reservations") or []:
                    out.append(Draft(Action.RELEASE, change, r, {"cidr": r}, None, "prefix reservation", len(out)))
            cidr = attrs.get("cidr") if t == "vswitch" else attrs["ipv4"]["cidr"] if t == "vpc" else None
            released = None
            if t == "vpc":
                blocks = [b["cidr"] for b in [attrs["ipv4"], *attrs["secondary_cidrs"], attrs.get("ipv6")] if b]
                released = "releases " + ", ".join(blocks)
            out.append(Draft(Action.DELETE, change, cidr, attrs, None, released, sub=len(out)))

    def build(attrs: Attributes) -> None:
        if t == "ipam_pool":
            out.append(Draft(Action.CREATE, change, after=attrs, sub=len(out)))
            for c in attrs["cidrs"]:
                out.append(Draft(Action.PROVISION, change, c, None, {"cidr": c}, note(c), len(out), space_of_pool(attrs)))
        elif t == "ipam_pool_allocation":
            space: SpaceKey = f"pool:{attrs['pool']}"  # type: ignore[assignment]  # (as in destroy)
            out.append(Draft(Action.ALLOCATE, change, attrs["cidr"], None, attrs, note(attrs["cidr"]), space=space))
        elif t == "vpc":
            first = {**attrs, "secondary_cidrs": []}
            cidr = attrs["ipv4"]["cidr"]
            out.append(Draft(Action.CREATE, change, cidr, None, first, note(cidr), len(out)))
            for b in attrs["secondary_cidrs"]:
                out.append(Draft(Action.ALLOCATE, change, b["cidr"], None, dict(b), note(b["cidr"]), len(out)))
        elif t == "vswitch":
            cidr = attrs.get("cidr")
            out.append(Draft(Action.CREATE, change, cidr, None, {**attrs, "prefix_reservations": []},
                             note(cidr) if cidr else None, len(out)))
            for r in attrs.get("prefix_reservations") or []:
                out.append(Draft(Action.ALLOCATE, change, r, None, {"cidr": r}, "prefix reservation", len(out)))
        elif t == "resource_share":
            out.append(Draft(Action.CREATE, change, None, None, attrs, share_note(attrs, stopping=False), len(out)))
        else:
            out.append(Draft(Action.CREATE, change, None, None, attrs, None, len(out)))

    if kind in (ChangeKind.DELETE, ChangeKind.REPLACE):
        destroy(before)  # type: ignore[arg-type]  # a delete and a replace have a recorded side
    if kind in (ChangeKind.CREATE, ChangeKind.REPLACE):
        build(after)  # type: ignore[arg-type]  # a create and a replace have a desired side
    if kind is ChangeKind.UPDATE:
        out.extend(_updates(change, note))
    return out


def _updates(change: Change, note: Note) -> list[Draft]:
    t = change.type
    before: Attributes = change.before  # type: ignore[assignment]  # an update has both sides
    after: Attributes = change.after  # type: ignore[assignment]
    out: list[Draft] = []
    blocks = ("cidrs", "secondary_cidrs", "ipv6", "operating_regions", "prefix_reservations")
    plain = [k for k in change.changed if k not in blocks and not (t == "vpc" and k == "ipv4")]
    if t == "ipam" and "operating_regions" in change.changed:
        added = sorted(set(after["operating_regions"]) - set(before["operating_regions"]))
        removed = sorted(set(before["operating_regions"]) - set(after["operating_regions"]))
        if added:
            out.append(Draft(Action.UPDATE, change, before=before, after={**before, "operating_regions": sorted(
                set(before["operating_regions"]) | set(added))}, note="add operating regions " + ", ".join(added), sub=1))
        if removed:
            out.append(Draft(Action.UPDATE, change, before=before, after=after,
                              note="remove operating regions " + ", ".join(removed), sub=2))
            out[-1].space = REGIONS_REMOVED
    if plain:
        out.append(Draft(Action.UPDATE, change, before=before, after=after, note="update " + ", ".join(plain), sub=3))
    if t == "ipam_pool":
        gone = [c for c in before["cidrs"] if c not in after["cidrs"]]
        new = [c for c in after["cidrs"] if c not in before["cidrs"]]
        for c in gone:
            out.append(Draft(Action.DEPROVISION, change, c, {"cidr": c}, None, sub=10 + len(out), space=space_of_pool(before)))
        for c in new:
            out.append(Draft(Action.PROVISION, change, c, None, {"cidr": c}, note(c), 100 + len(out), space_of_pool(after)))
    if t == "vswitch":
        was, now = before.get("prefix_reservations") or [], after.get("prefix_reservations") or []
        for c in [c for c in was if c not in now]:
            out.append(Draft(Action.RELEASE, change, c, {"cidr": c}, None, "prefix reservation", 10 + len(out)))
        for c in [c for c in now if c not in was]:
            out.append(Draft(Action.ALLOCATE, change, c, None, {"cidr": c}, "prefix reservation", 100 + len(out)))
    if t == "vpc":
        was, now = _vpc_blocks(before), _vpc_blocks(after)
        if "ipv4" in change.changed:  # (a changed primary CIDR or pool is a replacement: only a pool left here)
            was[("ipv4", before["ipv4"].get("pool"), before["ipv4"]["cidr"])] = dict(before["ipv4"])
            now[("ipv4", after["ipv4"].get("pool"), after["ipv4"]["cidr"])] = dict(after["ipv4"])
        # a block that keeps its CIDR and leaves its pool: the pool allocation is released, the VPC
        # keeps the block (DeleteIpamPoolAllocation; no Unassociate/Associate of the block)
        for key in sorted(was.keys() - now.keys(), key=str):
            slot, pool, cidr = key
            if pool and (slot, None, cidr) in now:
                left: SpaceKey = f"pool:{pool}"  # type: ignore[assignment]
                out.append(Draft(Action.RELEASE, change, cidr, was.pop(key), dict(now.pop((slot, None, cidr))),
                                 f"leaves ipam_pool.{pool}; the VPC keeps the block", 10 + len(out), left,
                                 api=POOL_RELEASE))
        for key in sorted(was.keys() - now.keys(), key=str):
            space: SpaceKey | None = f"pool:{key[1]}" if key[1] else None  # type: ignore[assignment]
            out.append(Draft(Action.RELEASE, change, key[2], was[key], None, sub=10 + len(out), space=space))
        for key in sorted(now.keys() - was.keys(), key=str):
            space = f"pool:{key[1]}" if key[1] else None  # type: ignore[assignment]
            out.append(Draft(Action.ALLOCATE, change, key[2], None, now[key], note(key[2]), 100 + len(out), space=space))
    return out
