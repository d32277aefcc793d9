"""Actions for the compute layer: security groups, instances (with their primary ENI), ENIs, and one
assign or unassign action per address or prefix.

An ENI is created with its primary address, then each secondary address and prefix is assigned, then
it is attached; deletion runs the other way: unassign, detach, delete. An instance's primary ENI is
created and deleted with the instance; only its extra addresses and prefixes have actions of their own.
Apply batches consecutive assign or unassign actions of one ENI into calls of at most 10.
"""

from __future__ import annotations

from typing import Mapping

from .action import Action, Draft
from .diff import Change, ChangeKind
from .records import ENI_FIELDS

EXTRA = [f for f, _ in ENI_FIELDS if f != "primary_ip"]
ASSIGN_API = {4: ("AssignPrivateIpAddresses", "UnassignPrivateIpAddresses"),
              6: ("AssignIpv6Addresses", "UnassignIpv6Addresses")}


def _blocks(attrs: Mapping | None) -> list[tuple[str, str]]:
    """(field, cidr) of an ENI's secondary addresses and prefixes, in a stable order."""
    out = []
    if attrs:
        for key in EXTRA:
            items = attrs.get(key)
            if items:
                for item in items:
                    out.append((key, item if "/" in item else item + ("/128" if ":" in item else "/32")))
    return out


def _space(attrs: Mapping, cidr: str) -> str:
    return f"eni{6 if ':' in cidr else 4}:{attrs['vswitch']}"


def compute_drafts(change: Change, chosen: Mapping) -> list[Draft]:
    t, kind = change.type, change.kind
    out: list[Draft] = []

    def note(cidr):
        return chosen.get((change.address, cidr))

    def assign(attrs, key, cidr):
        api = ASSIGN_API[6 if ":" in cidr else 4][0]
        out.append(Draft(Action.ASSIGN, change, cidr, None, {"field": key, "cidr": cidr}, note(cidr), len(out),
                         _space(attrs, cidr), api=api))

    def unassign(attrs, key, cidr):
        api = ASSIGN_API[6 if ":" in cidr else 4][1]
        out.append(Draft(Action.UNASSIGN, change, cidr, {"field": key, "cidr": cidr}, None, None, len(out),
                         _space(attrs, cidr), api=api))

    def detach(attrs):
        out.append(Draft(Action.UPDATE, change, before=attrs, after={**attrs, "instance": None},
                         note=f"detach from instance.{attrs['instance']}", sub=len(out), api="DetachNetworkInterface",
                         phase="destroy"))

    def attach(attrs, base):
        out.append(Draft(Action.UPDATE, change, before=base, after=attrs, note=f"attach to instance.{attrs['instance']}",
                         sub=len(out), api="AttachNetworkInterface", phase="create"))

    def destroy(attrs):
        if t == "eni":
            for key, cidr in _blocks(attrs):
                unassign(attrs, key, cidr)
            if attrs.get("primary"):
                return  # the rest goes with the instance
            if attrs.get("instance"):
                detach(attrs)
            out.append(Draft(Action.DELETE, change, _host(attrs.get("primary_ip")), attrs, None,
                             sub=len(out)))
        elif t == "instance":
            out.append(Draft(Action.DELETE, change, _host(attrs.get("primary_ip")), attrs, None, sub=len(out)))
        else:
            out.append(Draft(Action.DELETE, change, before=attrs, sub=len(out)))

    def build(attrs):
        if t == "eni":
            base = {**attrs, "instance": None, "secondary_private_ips": [], "ipv4_prefixes": [], "ipv6_addresses": [],
                    "ipv6_prefixes": []}  # nothing held yet: EXTRA, each its own empty list
            if not attrs.get("primary"):
                out.append(Draft(Action.CREATE, change, _host(attrs["primary_ip"]), None, base,
                                 note(_host(attrs["primary_ip"])), len(out)))
            for key, cidr in _blocks(attrs):
                assign(attrs, key, cidr)
            if attrs.get("instance") and not attrs.get("primary"):
                attach(attrs, base)
        elif t == "instance":
            cidr = _host(attrs.get("primary_ip"))
            how = chosen.get((f"eni.{change.name}-primary", cidr))
            out.append(Draft(Action.CREATE, change, cidr, None, attrs, how, len(out)))
        else:
            out.append(Draft(Action.CREATE, change, after=attrs, sub=len(out)))

    if kind in (ChangeKind.DELETE, ChangeKind.REPLACE):
        destroy(change.before)
    if kind in (ChangeKind.CREATE, ChangeKind.REPLACE):
        build(change.after)
    if kind is ChangeKind.UPDATE:
        before, after = change.before, change.after
        if t == "eni":
            if before.get("instance") and before.get("instance") != after.get("instance") and not before.get("primary"):
                detach(before)
            was, now = set(_blocks(before)), set(_blocks(after))
            for key, cidr in sorted(was - now):
                unassign(after, key, cidr)
            for key, cidr in sorted(now - was):
                assign(after, key, cidr)
            if before.get("security_group") != after.get("security_group") or before.get("description") != after.get("description"):
                out.append(Draft(Action.UPDATE, change, before=before, after=after, note="update security group, description",
                                 sub=len(out)))
            if after.get("instance") and before.get("instance") != after.get("instance") and not after.get("primary"):
                attach(after, {**after, "instance": None})
        elif t == "instance" and before.get("status") != after.get("status"):
            api = "StartInstance" if after["status"] == "Running" else "StopInstance"
            out.append(Draft(Action.UPDATE, change, before=before, after=after, note=f"{before['status']} -> {after['status']}",
                             sub=len(out), api=api))
            if before.get("description") != after.get("description"):
                out.append(Draft(Action.UPDATE, change, before=before, after=after, note="update description", sub=len(out)))
        else:
            out.append(Draft(Action.UPDATE, change, before=before, after=after, note="update " + ", ".join(change.changed),
                             sub=len(out)))
    return out


def _host(ip: str | None) -> str | None:
    if not ip:
        return None
    return ip if "/" in ip else f"{ip}/{32 if ':' not in ip else 128}"
