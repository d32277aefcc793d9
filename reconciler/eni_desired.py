"""The compute layer of the desired state made concrete: security groups, instances, ENIs, and every
ENI address and prefix chosen at plan time.

Each vSwitch has an IPv4 and an IPv6 space. Addresses (as /32 or /128) and prefixes (/28, /80)
share a space and never overlap; the vSwitch's first address and last three belong to the system;
prefixes come from the vSwitch's prefix reservations when it has any, and automatic addresses never
come from them. As for blocks in pools, what is recorded stays, explicit entries are placed next,
what this plan unassigns stays unavailable, and counts take the lowest free addresses or blocks in
declaration order. Managed ENIs (read from the cloud, never changed) only occupy space.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from .allocator import BlockAllocator, Conflict
from .cidr import Cidr, exclude, format_address
from .eni_limits import reserved_ranges
from .errors import PlanError, ReconcilerError
from .records import ENI_FIELDS, eni_blocks
from .spec import Spec
from .spec_ecs import AddressSet, Count

Locator = Callable[[tuple], tuple[str | None, int | None]]
PREFIX = {"ipv4_prefixes": 28, "ipv6_prefixes": 80}
SINGLE = {"primary_ip": 32, "secondary_private_ips": 32, "ipv6_addresses": 128}
MISMATCH = {4: "InvalidPrivateIpAddress.Mismatch", 6: "InvalidIpv6Address.Mismatch"}  # as the sandbox
COUNT_CAP = 256  # above every per-ENI limit: larger counts are refused by the rules, never allocated


def primary_eni(instance: str) -> str:
    return f"{instance}-primary"


class _Space:
    """One vSwitch, one IP version. ``taken`` holds everything in the vSwitch (system addresses,
    addresses, prefixes) and judges explicit entries; two more allocators serve counts: addresses from
    the vSwitch minus its prefix reservations, prefixes from the reservations (or the whole vSwitch).
    All three always hold the same blocks, so a count allocator is only built at the first count it
    serves, from the blocks held by then (most plans count in few vSwitches)."""

    __slots__ = ("key", "block", "taken", "reservations", "held", "_auto")

    def __init__(self, key: str, block: Cidr, reservations: list[Cidr]):
        self.key, self.block, self.reservations = key, block, reservations
        self.taken = BlockAllocator(block.version, [block])
        self.held: list[tuple[Cidr, str]] = []  # every block occupied, in order (what a count allocator replays)
        self._auto: dict[bool, BlockAllocator] = {}  # prefix? -> count allocator, once built

    def conflict(self, block: Cidr):
        found = self.taken.conflict(block)
        if found is None and block.prefix in (28, 80) and self.reservations:
            if not any(r.contains(block) for r in self.reservations):
                return Conflict("outside")
        return found

    def take(self, block: Cidr, holder: str):
        found = self.conflict(block)
        if found is None:
            self.occupy(block, holder)
        return found

    def occupy(self, block: Cidr, holder: str) -> None:
        self.taken.occupy(block, holder)
        self.held.append((block, holder))
        for alloc in self._auto.values():
            alloc.occupy(block, holder)

    def first_fit(self, prefix: int, holder: str) -> Cidr | None:
        is_prefix = prefix in (28, 80)
        alloc = self._auto.get(is_prefix)
        if alloc is None:
            vsw, reservations = self.block, self.reservations
            alloc = BlockAllocator(vsw.version, (reservations or [vsw]) if is_prefix else exclude(vsw, reservations))
            for block, who in self.held:
                alloc.occupy(block, who)
            self._auto[is_prefix] = alloc
        got = alloc.first_fit(prefix, holder)
        if got is not None:
            self.occupy(got, holder)
        return got


def _space(key: str, vsw: Cidr, reservations: list[Cidr]) -> _Space:
    space = _Space(key, vsw, reservations)
    bits = 32 if vsw.version == 4 else 128
    for lo, hi in reserved_ranges(vsw.version, vsw.start, vsw.prefix):  # first address and last three
        for addr in range(lo, hi + 1):
            space.occupy(Cidr(vsw.version, addr, bits), "the system (reserved address of the vSwitch)")
    return space


@dataclass
class _Eni:
    address: str
    name: str
    spec: AddressSet
    path: tuple
    order: int
    vswitch: str | None
    values: dict = field(default_factory=dict)  # field -> list of Cidr (primary_ip: one)


class EniResolver:
    def __init__(self, spec: Spec, vswitches: Mapping[str, dict], recorded: Mapping[str, dict],
                 external: Mapping[str, dict], order: Callable[[str], int], locate: Locator):
        self.spec, self.vswitches, self.recorded = spec, vswitches, recorded
        self.external, self.order, self.locate = external, order, locate
        self.errors: list[ReconcilerError] = []
        self.chosen: dict[tuple[str, str], str] = {}
        self.spaces: dict[str, _Space] = {}

    def error(self, code: str, detail: str, address: str, path: tuple) -> None:
        file, line = self.locate(path)
        self.errors.append(PlanError(code, detail, address=address, file=file, line=line))

    def enis(self) -> list[_Eni]:
        out = []
        for name, inst in self.spec.instances.items():
            out.append(_Eni(f"eni.{primary_eni(name)}", primary_eni(name), inst, ("instances", name),
                            self.order(f"instance.{name}"), inst.vswitch))
        for name, eni in self.spec.enis.items():
            if not eni.managed:
                out.append(_Eni(f"eni.{name}", name, eni, ("enis", name), self.order(f"eni.{name}"), eni.vswitch))
        return sorted(out, key=lambda e: (e.order, e.address))

    def space_for(self, vswitch: str, version: int) -> _Space | None:
        key = f"eni{version}:{vswitch}"
        if key not in self.spaces:
            rec = self.vswitches.get(f"vswitch.{vswitch}")
            if rec is None:
                return None
            a = rec["attributes"]
            block = a.get("cidr") if version == 4 else a.get("ipv6_cidr")
            if not block:
                return None
            reservations = [Cidr.parse(c) for c in a.get("prefix_reservations", []) if Cidr.parse(c).version == version]
            self.spaces[key] = _space(key, Cidr.parse(block), reservations)
        return self.spaces[key]

    def resolve(self) -> dict[str, dict]:
        enis = self.enis()
        for rec in self.external.values():  # managed ENIs only occupy space
            a = rec["attributes"]
            for key, c in eni_blocks(a):
                block = Cidr.parse(c)
                space = self.space_for(a["vswitch"], block.version) if a.get("vswitch") else None
                if space:
                    space.occupy(block, f"eni.{rec['name']} (managed)")
        kept: set[tuple[str, Cidr]] = set()
        whole: set[str] = set()  # ENIs that keep every block they hold
        for e in enis:
            if self._keep(e, kept):
                whole.add(e.address)
        for e in enis:
            self._explicit(e)
        for address, rec in self.recorded.items():  # unassigned by this plan: not handed out again yet
            if rec["type"] == "eni" and address not in whole and rec["attributes"].get("vswitch"):
                vswitch = rec["attributes"]["vswitch"]
                for values in _held(rec["attributes"]).values():
                    for block in values:
                        if (address, block) not in kept:
                            space = self.space_for(vswitch, block.version)
                            if space:
                                space.occupy(block, f"{address} (released by this plan)")
        for e in enis:
            self._counts(e)
        return {e.address: e.values for e in enis}

    # ---- the three passes ---------------------------------------------------------------------
    def _recorded_values(self, e: _Eni) -> dict[str, list[Cidr]]:
        rec = self.recorded.get(e.address)
        if rec is None or rec["attributes"].get("vswitch") != e.vswitch:
            return {}
        return _held(rec["attributes"])

    def _keep(self, e: _Eni, kept: set) -> bool:
        """Keep what ``e`` holds and still asks for; True when that is every block it holds."""
        rec = self.recorded.get(e.address)
        if rec is None:
            return True
        held = self._recorded_values(e)
        if not held:
            return rec["attributes"].get("vswitch") == e.vswitch  # nothing held, or all of it elsewhere
        before = len(kept)
        for key, version in ENI_FIELDS:
            want = getattr(e.spec, key)
            have = sorted(held.get(key, []))
            if want is None or not have:
                continue
            if key == "primary_ip":
                block = _block(want, key, version)
                if block not in have:
                    continue
                chosen = [block]
            elif isinstance(want, Count):
                chosen = have[: want.count]
            else:
                wanted = {_block(w, key, version) for w in want}
                chosen = [b for b in have if b in wanted]
            space = self.space_for(e.vswitch, version)
            for block in chosen:
                if space is not None and space.take(block, e.address) is None:
                    e.values.setdefault(key, []).append(block)
                    kept.add((e.address, block))
        if e.spec.primary_ip is None and held.get("primary_ip"):
            space = self.space_for(e.vswitch, 4)
            block = held["primary_ip"][0]
            if space is not None and space.take(block, e.address) is None:
                e.values["primary_ip"] = [block]
                kept.add((e.address, block))
        return len(kept) - before == sum(map(len, held.values()))

    def _explicit(self, e: _Eni) -> None:
        for key, version in ENI_FIELDS:
            want = getattr(e.spec, key)
            if want is None or isinstance(want, Count):
                continue
            space = self.space_for(e.vswitch, version) if e.vswitch else None
            path = e.path + (key,)
            if space is None:
                self._no_space(e, key, version, path)
                continue
            for item in [want] if isinstance(want, str) else want:
                block = _block(item, key, version)
                if block in e.values.get(key, []):
                    continue
                found = space.conflict(block)
                if found is None:
                    space.take(block, e.address)
                    e.values.setdefault(key, []).append(block)
                elif found.reason == "outside":
                    reserved = key in PREFIX and bool(space.reservations)
                    inside = space.taken.containers[0].contains(block)
                    if key not in PREFIX:
                        code = MISMATCH[version]
                    else:
                        code = "InvalidIpPrefix.NotInCidrReservation" if reserved and inside else "InvalidIpPrefix.NotInVSwitch"
                    where = "its prefix reservations" if reserved and inside else "its block"
                    self.error(code, f"{block} is not inside vswitch.{e.vswitch} ({where})", e.address, path)
                else:
                    code = "InvalidIp.SystemReserved" if found.holder.startswith("the system") else "InvalidIp.IpAssigned"
                    self.error(code, f"{block} overlaps {found.held} of {found.holder}", e.address, path)

    def _no_space(self, e: _Eni, key: str, version: int, path: tuple) -> None:
        """No space to place ``key`` in: report a vSwitch without IPv6; a vSwitch without a block at all
        (unknown, or refused for its own error, already reported) adds nothing."""
        rec = self.vswitches.get(f"vswitch.{e.vswitch}") if e.vswitch else None
        if version == 6 and rec is not None and rec["attributes"].get("cidr"):
            self.error("InvalidVSwitchId.Ipv6NotTurnOn", f"vswitch.{e.vswitch} has no IPv6 block for {key}",
                       e.address, path)

    def _counts(self, e: _Eni) -> None:
        fields = [("primary_ip", 4)] + [f for f in ENI_FIELDS if f[0] != "primary_ip"]
        for key, version in fields:
            want = getattr(e.spec, key)
            if key == "primary_ip":
                if e.values.get("primary_ip") or want is not None:
                    continue
                count = 1
            elif isinstance(want, Count):
                count = want.count - len(e.values.get(key, []))
            else:
                continue
            if count <= 0:
                continue
            if count > COUNT_CAP:
                self.error("InvalidParameter.CountTooLarge", f"{key}: {count} asked; an ENI holds at most "
                           f"{COUNT_CAP} of one kind", e.address, e.path + (key,))
                continue
            space = self.space_for(e.vswitch, version) if e.vswitch else None
            if space is None:
                self._no_space(e, key, version, e.path + (key,))
                continue
            length = PREFIX.get(key, SINGLE.get(key))
            for _ in range(count):
                got = space.first_fit(length, e.address)
                if got is None:
                    self.error("InvalidVSwitchId.IpNotEnough", f"vswitch.{e.vswitch} has no free /{length} left for {key}",
                               e.address, e.path + (key,))
                    break
                e.values.setdefault(key, []).append(got)
                self.chosen[(e.address, str(got))] = f"lowest free /{length} in vswitch.{e.vswitch}"


def _held(attributes: dict) -> dict[str, list[Cidr]]:
    """Field -> blocks of what a recorded ENI holds (as :func:`reconciler.records.eni_blocks` lists them)."""
    out: dict[str, list[Cidr]] = {}
    for key, version in ENI_FIELDS:
        value = attributes.get(key)
        items = [value] if isinstance(value, str) else value or ()
        if items:
            suffix = "/32" if version == 4 else "/128"
            out[key] = [Cidr.parse(item if "/" in item else item + suffix) for item in items]
    return out


def _block(item: str, key: str, version: int) -> Cidr:
    if key in PREFIX:
        return Cidr.parse(item)
    return Cidr.parse(f"{item}/{32 if version == 4 else 128}")


def text(block: Cidr, key: str) -> str:
    """An address field holds plain addresses; a prefix field holds CIDRs."""
    return str(block) if key in PREFIX else format_address(block.version, block.start)


def eni_attributes(e_spec, values: dict, *, vswitch, security_group, instance, primary: bool) -> dict:
    attrs = {"vswitch": vswitch, "security_group": security_group, "instance": instance, "primary": primary,
             "managed": False}
    for key, _ in ENI_FIELDS:
        blocks = sorted(values.get(key, []))
        if key == "primary_ip":
            attrs[key] = text(blocks[0], key) if blocks else None
        else:
            attrs[key] = [text(b, key) for b in blocks]
    attrs["description"] = getattr(e_spec, "description", None) if not primary else None
    return attrs


def _record(rtype: str, name: str, attrs: dict) -> dict:
    return {"type": rtype, "name": name, "attributes": attrs}


def compute_records(spec: Spec, network: Mapping[str, dict], recorded: Mapping[str, dict],
                    external: Mapping[str, dict], order: Callable[[str], int], locate: Locator):
    """Records of security groups, instances and ENIs; the CIDRs chosen by count; the errors."""
    r = EniResolver(spec, network, recorded, external, order, locate)
    values = r.resolve()
    out: dict[str, dict] = {}
    for name, sg in spec.security_groups.items():
        out[f"security_group.{name}"] = _record("security_group", name, {
            "vpc": sg.vpc, "type": sg.type, "description": sg.description})
    for name, inst in spec.instances.items():
        eni = primary_eni(name)
        if name in spec.enis or eni in spec.enis:
            r.error("Spec.DuplicateName", f"eni.{eni} is the implicit primary ENI of instance.{name}; "
                    "rename the ENI", f"eni.{eni}", ("enis", eni))
        attrs = eni_attributes(inst, values.get(f"eni.{eni}", {}), vswitch=inst.vswitch,
                               security_group=inst.security_group, instance=name, primary=True)
        out[f"eni.{eni}"] = _record("eni", eni, attrs)
        out[f"instance.{name}"] = _record("instance", name, {
            "instance_type": inst.instance_type, "vswitch": inst.vswitch, "security_group": inst.security_group,
            "status": inst.status, "primary_ip": attrs["primary_ip"], "description": inst.description})
    for name, eni in spec.enis.items():
        address = f"eni.{name}"
        if eni.managed:
            if address in external:
                out[address] = dict(external[address])
            continue
        out[address] = _record("eni", name, eni_attributes(eni, values.get(address, {}), vswitch=eni.vswitch,
                                                           security_group=eni.security_group, instance=eni.instance,
                                                           primary=False))
    return out, r.chosen, r.errors
