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
from operator import attrgetter
from typing import Any, Callable, Mapping, cast

from reconciler.desired.keep import PREFIX, Records, Want, held_blocks, keep, spec_block
from reconciler.desired.vswitch_space import VSwitchSpace
from reconciler.errors import ReconcilerError
from reconciler.models.compute import AddressSet, Count
from reconciler.models.network import Spec
from reconciler.net.address import ResourceAddress, SpaceKey, address_of
from reconciler.net.cidr import Cidr, format_address
from reconciler.net.records import ENI_FIELDS, eni_blocks
from reconciler.source.locate import Locator, Problems, SpecPath

SINGLE = {"primary_ip": 32, "secondary_private_ips": 32, "ipv6_addresses": 128}
MISMATCH = {4: "InvalidPrivateIpAddress.Mismatch", 6: "InvalidIpv6Address.Mismatch"}  # as the sandbox
_BY_ORDER = attrgetter("order", "address")
_LENGTH = {**SINGLE, **PREFIX}  # field -> the length of one of its blocks
COUNT_CAP = 256  # above every per-ENI limit: larger counts are refused by the rules, never allocated


def primary_eni(instance: str) -> str:
    return f"{instance}-primary"


@dataclass(slots=True, init=False)
class _Eni:
    address: ResourceAddress
    name: str
    spec: AddressSet
    path: SpecPath
    order: int
    vswitch: str | None
    values: dict[str, list[Cidr]] = field(default_factory=dict)  # field -> list of Cidr (primary_ip: one)
    wants: tuple[Want, ...] = ()  # of every field the spec sets, in ENI_FIELDS order
    # the recorded attributes, when the ENI keeps exactly what it holds and they are written as this
    # module writes them (its address fields are then copied, not rebuilt; see reconciler.desired.keep)
    exact: dict[str, Any] | None = None

    def __init__(self, address: ResourceAddress, name: str, spec: AddressSet, path: SpecPath, order: int,
                 vswitch: str | None) -> None:
        # (written out, not the dataclass's own __init__ and a __post_init__: one per ENI of the plan)
        self.address, self.name, self.spec, self.path, self.order, self.vswitch = address, name, spec, path, order, vswitch
        self.values, self.exact = {}, None
        fields = spec.__dict__
        self.wants = tuple([(key, version, fields[key]) for key, version in ENI_FIELDS if fields[key] is not None])


# The constructor, typed for the f-string addresses of :meth:`EniResolver.enis` (a NewType call per ENI would cost).
_new_eni = cast("Callable[[str, str, AddressSet, SpecPath, int, str | None], _Eni]", _Eni)


class EniResolver:
    def __init__(self, spec: Spec, vswitches: Mapping[ResourceAddress, dict[str, Any]], recorded: Records,
                 external: Records, order: Callable[[ResourceAddress], int], locate: Locator) -> None:
        self.spec, self.vswitches, self.recorded = spec, vswitches, recorded
        self.external, self.order, self.locate = external, order, locate
        self.problems = Problems(locate)
        self.errors: list[ReconcilerError] = self.problems.errors
        self.chosen: dict[tuple[ResourceAddress, str], str] = {}
        self.spaces: dict[SpaceKey, VSwitchSpace | None] = {}
        self._pairs: dict[str | None, dict[int, VSwitchSpace | None]] = {}

    def error(self, code: str, detail: str, address: ResourceAddress, path: SpecPath) -> None:
        self.problems.add(code, detail, address, path)

    def enis(self) -> list[_Eni]:
        out = []
        order = cast("Callable[[str], int]", self.order)  # (for the f-string addresses, as _new_eni)
        for name, inst in self.spec.instances.items():
            primary = primary_eni(name)
            out.append(_new_eni(f"eni.{primary}", primary, inst, ("instances", name), order(f"instance.{name}"),
                                inst.vswitch))
        for name, eni in self.spec.enis.items():
            if not eni.managed:
                out.append(_new_eni(f"eni.{name}", name, eni, ("enis", name), order(f"eni.{name}"), eni.vswitch))
        out.sort(key=_BY_ORDER)
        return out

    def spaces_of(self, vswitch: str | None) -> dict[int, VSwitchSpace | None]:
        """IP version -> the vSwitch's space (made at the first question)."""
        try:
            return self._pairs[vswitch]
        except KeyError:
            pair = self._pairs[vswitch] = {4: self.space_for(vswitch, 4), 6: self.space_for(vswitch, 6)}
            return pair

    def space_for(self, vswitch: str | None, version: int) -> VSwitchSpace | None:
        key: SpaceKey = f"eni{version}:{vswitch}"  # type: ignore[assignment]  # (no NewType call per question)
        try:
            return self.spaces[key]
        except KeyError:
            pass
        space = None
        rec = self.vswitches.get(f"vswitch.{vswitch}")  # type: ignore[call-overload]  # (as key above)
        if rec is not None:
            a = rec["attributes"]
            block = a.get("cidr") if version == 4 else a.get("ipv6_cidr")
            if block:
                reservations = [Cidr.parse(c) for c in a.get("prefix_reservations", [])
                                if Cidr.parse(c).version == version]
                space = VSwitchSpace(key, Cidr.parse(block), reservations)
        self.spaces[key] = space
        return space

    def resolve(self) -> dict[ResourceAddress, _Eni]:
        enis = self.enis()
        for rec in self.external.values():  # managed ENIs only occupy space
            a = rec["attributes"]
            for key, c in eni_blocks(a):
                block = Cidr.parse(c)
                space = self.space_for(a["vswitch"], block.version) if a.get("vswitch") else None
                if space:
                    space.occupy(block, f"eni.{rec['name']} (managed)")
        kept = keep(enis, self.recorded, self.spaces_of)
        for e in enis:
            if e.exact is not None and kept.get(e.address) is not True:
                e.exact = None  # a block it holds did not fit where it lies: judged the long way
            if e.exact is None:
                self._explicit(e)
        for address, rec in self.recorded.items():  # unassigned by this plan: not handed out again yet
            if rec["type"] == "eni" and (mine := kept.get(address, ())) is not True and rec["attributes"].get("vswitch"):
                vswitch = rec["attributes"]["vswitch"]
                for values in held_blocks(rec["attributes"]).values():
                    for block in values:
                        if block not in mine:
                            space = self.space_for(vswitch, block.version)
                            if space:
                                space.occupy(block, f"{address} (released by this plan)")
        for e in enis:
            if e.exact is None:
                self._counts(e)
        return {e.address: e for e in enis}

    # ---- the three passes ---------------------------------------------------------------------

    def _explicit(self, e: _Eni) -> None:
        for key, version, want in e.wants:
            if isinstance(want, Count):
                continue
            space = self.spaces_of(e.vswitch)[version] if e.vswitch else None
            path = e.path + (key,)
            if space is None:
                self._no_space(e, key, version, path)
                continue
            for item in [want] if isinstance(want, str) else want:
                block = spec_block(item, key, version)
                if block in e.values.get(key, []):
                    continue
                found = space.take(block, e.address)
                if found is None:
                    e.values.setdefault(key, []).append(block)
                elif found.reason == "outside":
                    reserved = key in PREFIX and bool(space.reservations)
                    inside = space.block.contains(block)
                    if key not in PREFIX:
                        code = MISMATCH[version]
                    else:
                        code = "InvalidIpPrefix.NotInCidrReservation" if reserved and inside else "InvalidIpPrefix.NotInVSwitch"
                    where = "its prefix reservations" if reserved and inside else "its block"
                    self.error(code, f"{block} is not inside vswitch.{e.vswitch} ({where})", e.address, path)
                else:
                    code = ("InvalidIp.SystemReserved" if found.holder.startswith("the system")  # type: ignore[union-attr]  # (an overlap names its holder)
                            else "InvalidIp.IpAssigned")
                    self.error(code, f"{block} overlaps {found.held} of {found.holder}", e.address, path)

    def _no_space(self, e: _Eni, key: str, version: int, path: SpecPath) -> None:
        """No space to place ``key`` in: report a vSwitch without IPv6; a vSwitch without a block at all
        (unknown, or refused for its own error, already reported) adds nothing."""
        rec = self.vswitches.get(address_of("vswitch", e.vswitch)) if e.vswitch else None
        if version == 6 and rec is not None and rec["attributes"].get("cidr"):
            self.error("InvalidVSwitchId.Ipv6NotTurnOn", f"vswitch.{e.vswitch} has no IPv6 block for {key}",
                       e.address, path)

    def _counts(self, e: _Eni) -> None:
        wants: tuple[tuple[str, int, str | list[str] | Count | None], ...] = e.wants
        if not (wants and wants[0][0] == "primary_ip"):  # no primary_ip asked: the lowest free address, first
            wants = (("primary_ip", 4, None),) + wants
        values, address, vswitch = e.values, e.address, e.vswitch
        spaces = (self._pairs.get(vswitch) or self.spaces_of(vswitch)) if vswitch else None
        for key, version, want in wants:
            if key == "primary_ip":
                if want is not None or values.get("primary_ip"):
                    continue
                count = 1
            elif isinstance(want, Count):
                count = want.count - len(values.get(key, ()))
            else:
                continue
            if count <= 0:
                continue
            if count > COUNT_CAP:
                self.error("InvalidParameter.CountTooLarge", f"{key}: {count} asked; an ENI holds at most "
                           f"{COUNT_CAP} of one kind", address, e.path + (key,))
                continue
            space = spaces[version] if spaces else None
            if space is None:
                self._no_space(e, key, version, e.path + (key,))
                continue
            length = _LENGTH[key]
            got = space.first_fits(length, address, count)
            have = values.get(key)
            if have is None:
                values[key] = got
            else:
                have.extend(got)
            if got:
                how = f"lowest free /{length} in vswitch.{vswitch}"
                chosen = self.chosen
                for block in got:
                    chosen[(address, str(block))] = how
            if len(got) < count:
                self.error("InvalidVSwitchId.IpNotEnough", f"vswitch.{vswitch} has no free /{length} left for {key}",
                           address, e.path + (key,))


def text(block: Cidr, key: str) -> str:
    """An address field holds plain addresses; a prefix field holds CIDRs."""
    return str(block) if key in PREFIX else format_address(block.version, block.start)


def eni_attributes(e_spec: AddressSet, eni: _Eni | None, *, vswitch: str | None, security_group: str | None,
                   instance: str | None, primary: bool) -> dict[str, Any]:
    if eni is not None and eni.exact is not None:  # what it holds, written as below already: copied
        held = eni.exact.get  # (its primary address is there: it keeps one)
        return {"vswitch": vswitch, "security_group": security_group, "instance": instance, "primary": primary,
                "managed": False, "primary_ip": held("primary_ip"),
                "secondary_private_ips": list(held("secondary_private_ips") or ()),
                "ipv4_prefixes": list(held("ipv4_prefixes") or ()), "ipv6_addresses": list(held("ipv6_addresses") or ()),
                "ipv6_prefixes": list(held("ipv6_prefixes") or ()),
                "description": getattr(e_spec, "description", None) if not primary else None}
    attrs: dict[str, Any] = {"vswitch": vswitch, "security_group": security_group, "instance": instance,
                             "primary": primary, "managed": False}
    values: dict[str, list[Cidr]] = eni.values if eni is not None else {}
    for key, _ in ENI_FIELDS:
        blocks = values.get(key)
        if not blocks:
            attrs[key] = None if key == "primary_ip" else []
            continue
        if len(blocks) > 1:
            blocks = sorted(blocks)
        if key == "primary_ip":
            attrs[key] = text(blocks[0], key)
        elif key in PREFIX:
            attrs[key] = [str(b) for b in blocks]
        else:
            attrs[key] = [format_address(b.version, b.start) for b in blocks]
    attrs["description"] = getattr(e_spec, "description", None) if not primary else None
    return attrs


def _record(rtype: str, name: str, attrs: dict[str, Any]) -> dict[str, Any]:
    return {"type": rtype, "name": name, "attributes": attrs}


def compute_records(
    spec: Spec, network: Mapping[ResourceAddress, dict[str, Any]], recorded: Records, external: Records,
    order: Callable[[ResourceAddress], int], locate: Locator,
) -> tuple[dict[ResourceAddress, dict[str, Any]], dict[tuple[ResourceAddress, str], str], list[ReconcilerError]]:
    """Records of security groups, instances and ENIs; the CIDRs chosen by count; the errors."""
    r = EniResolver(spec, network, recorded, external, order, locate)
    resolved = r.resolve()
    out: dict[str, dict[str, Any]] = {}  # (keyed by f-string addresses: typed as addresses when returned)
    for name, sg in spec.security_groups.items():
        out[f"security_group.{name}"] = _record("security_group", name, {
            "vpc": sg.vpc, "type": sg.type, "description": sg.description})
    for name, inst in spec.instances.items():
        primary = primary_eni(name)
        address: ResourceAddress = f"eni.{primary}"  # type: ignore[assignment]  # (no NewType call per ENI)
        if name in spec.enis or primary in spec.enis:
            r.error("Spec.DuplicateName", f"eni.{primary} is the implicit primary ENI of instance.{name}; "
                    "rename the ENI", address, ("enis", primary))
        attrs = eni_attributes(inst, resolved.get(address), vswitch=inst.vswitch,
                               security_group=inst.security_group, instance=name, primary=True)
        out[address] = {"type": "eni", "name": primary, "attributes": attrs}
        out[f"instance.{name}"] = {"type": "instance", "name": name, "attributes": {
            "instance_type": inst.instance_type, "vswitch": inst.vswitch, "security_group": inst.security_group,
            "status": inst.status, "primary_ip": attrs["primary_ip"], "description": inst.description}}
    for name, eni in spec.enis.items():
        address = f"eni.{name}"  # type: ignore[assignment]  # (no NewType call per ENI)
        if eni.managed:
            if address in external:
                out[address] = dict(external[address])
            continue
        out[address] = _record("eni", name, eni_attributes(eni, resolved.get(address), vswitch=eni.vswitch,
                                                           security_group=eni.security_group, instance=eni.instance,
                                                           primary=False))
    return cast("dict[ResourceAddress, dict[str, Any]]", out), r.chosen, r.errors
