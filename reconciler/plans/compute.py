"""Actions for the compute layer: security groups, instances (with their primary ENI), ENIs, and one
assign or unassign action per address or prefix.

An ENI is created with its primary address, then each secondary address and prefix is assigned, then
it is attached; deletion runs the other way: unassign, detach, delete. An instance's primary ENI is
created and deleted with the instance; only its extra addresses and prefixes have actions of their own.
Apply batches consecutive assign or unassign actions of one ENI into calls of at most 10.
"""

from __future__ import annotations

from reconciler.net.address import SpaceKey
from reconciler.net.records import ENI_FIELDS
from reconciler.plans.action import Action, Draft
from reconciler.plans.diff import Attributes, Change, ChangeKind
from reconciler.plans.network import Chosen

EXTRA = [f for f, _ in ENI_FIELDS if f != "primary_ip"]
ASSIGN_API = {4: ("AssignPrivateIpAddresses", "UnassignPrivateIpAddresses"),
              6: ("AssignIpv6Addresses", "UnassignIpv6Addresses")}


def _blocks(attrs: Attributes | None) -> list[tuple[str, str]]:
    """(field, cidr) of an ENI's secondary addresses and prefixes, in a stable order."""
    out: list[tuple[str, str]] = []
    if attrs:
        for key in EXTRA:
            items = attrs.get(key)
            if items:
                for item in items:
                    out.append((key, item if "/" in item else item + ("/128" if ":" in item else "/32")))
    return out


def _spaces(attrs: Attributes) -> dict[bool, SpaceKey]:
    """IPv6? -> the space an ENI's blocks of that version lie in."""
    vswitch = attrs["vswitch"]
    # (the keys written out, as blocks_of does: no call per ENI)
    return {False: f"eni4:{vswitch}", True: f"eni6:{vswitch}"}  # type: ignore[dict-item]


def _assign(out: list[Draft], change: Change, spaces: dict[bool, SpaceKey], key: str, cidr: str,
            note: str | None) -> None:
    six = ":" in cidr
    out.append(Draft(Action.ASSIGN, change, cidr, None, {"field": key, "cidr": cidr}, note, len(out), spaces[six],
                     ASSIGN_API[6 if six else 4][0]))


def _unassign(out: list[Draft], change: Change, spaces: dict[bool, SpaceKey], key: str, cidr: str) -> None:
    six = ":" in cidr
    out.append(Draft(Action.UNASSIGN, change, cidr, {"field": key, "cidr": cidr}, None, None, len(out), spaces[six],
                     ASSIGN_API[6 if six else 4][1]))


def _detach(out: list[Draft], change: Change, attrs: Attributes) -> None:
    out.append(Draft(Action.UPDATE, change, before=attrs, after={**attrs, "instance": None},
                     note=f"detach from instance.{attrs['instance']}", sub=len(out), api="DetachNetworkInterface",
                     phase="destroy"))


def _attach(out: list[Draft], change: Change, attrs: Attributes, base: Attributes) -> None:
    out.append(Draft(Action.UPDATE, change, before=base, after=attrs, note=f"attach to instance.{attrs['instance']}",
                     sub=len(out), api="AttachNetworkInterface", phase="create"))


def _destroy(out: list[Draft], change: Change, attrs: Attributes) -> None:
    t = change.type
    if t == "eni":
        blocks = _blocks(attrs)
        if blocks:
            spaces = _spaces(attrs)
            for key, cidr in blocks:
                _unassign(out, change, spaces, key, cidr)
        if attrs.get("primary"):
            return  # the rest goes with the instance
        if attrs.get("instance"):
            _detach(out, change, attrs)
        out.append(Draft(Action.DELETE, change, _host(attrs.get("primary_ip")), attrs, None, sub=len(out)))
    elif t == "instance":
        out.append(Draft(Action.DELETE, change, _host(attrs.get("primary_ip")), attrs, None, sub=len(out)))
    else:
        out.append(Draft(Action.DELETE, change, before=attrs, sub=len(out)))


def _build(out: list[Draft], change: Change, attrs: Attributes, chosen: Chosen) -> None:
    t = change.type
    if t == "eni":
        address, primary = change.address, attrs.get("primary")
        base = {**attrs, "instance": None, "secondary_private_ips": [], "ipv4_prefixes": [], "ipv6_addresses": [],
                "ipv6_prefixes": []}  # nothing held yet: EXTRA, each its own empty list
        if not primary:
            host = _host(attrs["primary_ip"])
            how = chosen.get((address, host))  # type: ignore[arg-type]  # (an ENI of its own has its primary IP)
            out.append(Draft(Action.CREATE, change, host, None, base, how, len(out)))
        blocks = _blocks(attrs)
        if blocks:
            spaces = _spaces(attrs)
            for key, cidr in blocks:
                _assign(out, change, spaces, key, cidr, chosen.get((address, cidr)))
        if attrs.get("instance") and not primary:
            _attach(out, change, attrs, base)
    elif t == "instance":
        ip = _host(attrs.get("primary_ip"))
        # (the primary ENI's address written out, as desired.compute names it: no call per instance)
        how = chosen.get((f"eni.{change.name}-primary", ip))  # type: ignore[arg-type]
        out.append(Draft(Action.CREATE, change, ip, None, attrs, how, len(out)))
    else:
        out.append(Draft(Action.CREATE, change, after=attrs, sub=len(out)))


def compute_drafts(change: Change, chosen: Chosen) -> list[Draft]:
    kind = change.kind
    out: list[Draft] = []
    # (a create has its desired side, a delete its recorded one, a replace both)
    if kind is ChangeKind.CREATE:
        _build(out, change, change.after, chosen)  # type: ignore[arg-type]
    elif kind is ChangeKind.DELETE:
        _destroy(out, change, change.before)  # type: ignore[arg-type]
    elif kind is ChangeKind.REPLACE:
        _destroy(out, change, change.before)  # type: ignore[arg-type]
        _build(out, change, change.after, chosen)  # type: ignore[arg-type]
    else:
        _update(out, change, chosen)
    return out


def _update(out: list[Draft], change: Change, chosen: Chosen) -> None:
    t = change.type
    before: Attributes = change.before  # type: ignore[assignment]  # an update has both sides
    after: Attributes = change.after  # type: ignore[assignment]
    if t == "eni":
        if before.get("instance") and before.get("instance") != after.get("instance") and not before.get("primary"):
            _detach(out, change, before)
        was, now = set(_blocks(before)), set(_blocks(after))
        spaces = _spaces(after) if was != now else {}
        for key, cidr in sorted(was - now):
            _unassign(out, change, spaces, key, cidr)
        for key, cidr in sorted(now - was):
            _assign(out, change, spaces, key, cidr, chosen.get((change.address, cidr)))
        if before.get("security_group") != after.get("security_group") or before.get("description") != after.get("description"):
            out.append(Draft(Action.UPDATE, change, before=before, after=after, note="update security group, description",
                             sub=len(out)))
        if after.get("instance") and before.get("instance") != after.get("instance") and not after.get("primary"):
            _attach(out, change, after, {**after, "instance": None})
    elif t == "instance" and before.get("status") != after.get("status"):
        api = "StartInstance" if after["status"] == "Running" else "StopInstance"
        out.append(Draft(Action.UPDATE, change, before=before, after=after, note=f"{before['status']} -> {after['status']}",
                         sub=len(out), api=api))
        if before.get("description") != after.get("description"):
            out.append(Draft(Action.UPDATE, change, before=before, after=after, note="update description", sub=len(out)))
    else:
        out.append(Draft(Action.UPDATE, change, before=before, after=after, note="update " + ", ".join(change.changed),
                         sub=len(out)))


def _host(ip: str | None) -> str | None:
    if not ip:
        return None
    return ip if "/" in ip else f"{ip}/{32 if ':' not in ip else 128}"
