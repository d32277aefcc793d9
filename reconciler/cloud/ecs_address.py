"""Choosing and checking the addresses and prefixes one call gives to an ENI of one vSwitch.

Rules (IPv4 and IPv6 alike; an IPv6 operation needs a vSwitch with an IPv6 /64, else
``InvalidVSwitchId.Ipv6NotTurnOn``, inferred):

- An explicit address lies in the vSwitch's block (``InvalidPrivateIpAddress.Mismatch``;
  ``InvalidIpv6Address.Mismatch``, inferred), is not system-reserved (the block's first address
  and its last three: ``InvalidIp.SystemReserved``, inferred), is not already an address or inside a
  prefix in the vSwitch (``InvalidIp.IpAssigned``) and is not given twice in the call
  (``InvalidPrivateIpAddress.Duplicated``).
- An explicit prefix is an IPv4 /28 or IPv6 /80 standard block (``InvalidParameter.Ipv4Prefix`` /
  ``.Ipv6Prefix``, inferred) inside the vSwitch's block (``InvalidIpPrefix.NotInVSwitch``, inferred),
  inside one of the vSwitch's prefix reservations of its version when it has any
  (``InvalidIpPrefix.NotInCidrReservation``, inferred), and overlaps no reserved address, no address
  or prefix in the vSwitch and nothing else of the call (codes as for addresses).
- Automatic addresses are the lowest free addresses of the block, outside the reserved addresses,
  every prefix and every prefix reservation; automatic prefixes are the lowest free aligned blocks
  inside the reservations of that version (or the whole block when there are none). Nothing free:
  ``InvalidVSwitchId.IpNotEnough``.

A call takes its explicit items first, then the automatic ones, so an automatic choice never lands
on something the same call names.
"""

from __future__ import annotations

from reconciler.cloud.ecs_api import RESERVATION, address_text, host, prefix_text
from reconciler.cloud.sandbox import Request, fail
from reconciler.cloud.space import EMPTY, IntervalSet, containing, first_free
from reconciler.net import eni_limits as L
from reconciler.net.cidr import Cidr, format_address

MISMATCH = {4: "InvalidPrivateIpAddress.Mismatch", 6: "InvalidIpv6Address.Mismatch"}


def vswitch_block(vsw: dict, version: int) -> Cidr:
    if version == 4:
        return Cidr.parse(vsw["CidrBlock"])
    if not vsw["Ipv6CidrBlock"]:
        raise fail("InvalidVSwitchId.Ipv6NotTurnOn", f"{vsw['VSwitchId']} has no IPv6 block")
    return Cidr.parse(vsw["Ipv6CidrBlock"])


def reserved_set(block: Cidr) -> IntervalSet:
    out = IntervalSet()
    for start, end in L.reserved_ranges(block.version, block.start, block.prefix):
        out.add(start, end, "system")
    return out


def reservations(req: Request, vsw: dict, version: int) -> list[Cidr]:
    rows = req.store.find(RESERVATION, "vswitch_version", (vsw["VSwitchId"], version))
    return [Cidr.parse(r["VSwitchCidrReservationCidr"]) for r in rows]


class Allocator:
    """The addresses and prefixes of one call in one vSwitch, checked and chosen."""

    def __init__(self, req: Request, vsw: dict):
        self.req, self.vsw = req, vsw
        self.picked = {4: IntervalSet(), 6: IntervalSet()}
        self._blocks: dict[int, Cidr] = {}

    def block(self, version: int) -> Cidr:
        if version not in self._blocks:
            self._blocks[version] = vswitch_block(self.vsw, version)
        return self._blocks[version]

    def _taken(self, version: int) -> IntervalSet:
        return self.req.store.space(f"eni{version}", self.vsw["VSwitchId"])

    def _reserved(self, version: int) -> IntervalSet:
        return reserved_set(self.block(version))

    def _claim(self, version: int, start: int, end: int, label: str) -> None:
        if self._reserved(version).last_end_over(start, end) is not None:
            raise fail("InvalidIp.SystemReserved", f"{label} covers a system-reserved address of "
                       f"{self.vsw['VSwitchId']} (its first address and its last three)")
        if self.picked[version].last_end_over(start, end) is not None:
            raise fail("InvalidPrivateIpAddress.Duplicated", f"{label} is given twice in this call")
        hits = self._taken(version).overlapping(start, end)
        if not hits and version == 6 and start == end:
            hits = self.req.store.space("ip6").overlapping(start, end)
        if hits:
            raise fail("InvalidIp.IpAssigned", f"{label} is already assigned (to {hits[0][2]})")
        self.picked[version].add(start, end, "call")

    # ---- explicit ---------------------------------------------------------------------------
    def address(self, version: int, text: str) -> str:
        norm = address_text(version, text)
        block = self.block(version)
        value = host(norm).start
        if not block.start <= value <= block.end:
            raise fail(MISMATCH[version], f"{norm} is not in {self.vsw['VSwitchId']}'s block {block}")
        self._claim(version, value, value, norm)
        return norm

    def prefix(self, version: int, text: str) -> str:
        name = f"Ipv{version}Prefix"
        cidr = prefix_text(version, text, name)
        block = self.block(version)
        if not block.contains(cidr):
            raise fail("InvalidIpPrefix.NotInVSwitch", f"{cidr} is not in {self.vsw['VSwitchId']}'s block {block}")
        held = reservations(self.req, self.vsw, version)
        if held and containing(held, cidr) is None:
            raise fail("InvalidIpPrefix.NotInCidrReservation",
                       f"{cidr} is not inside a prefix reservation of {self.vsw['VSwitchId']}")
        self._claim(version, cidr.start, cidr.end, str(cidr))
        return str(cidr)

    # ---- automatic --------------------------------------------------------------------------
    def auto_address(self, version: int) -> str:
        block = self.block(version)
        res_space = self.req.store.space(f"vcr{version}", self.vsw["VSwitchId"])
        found = first_free([block], block.bits, self._taken(version), self._reserved(version),
                           self.picked[version], res_space, self.req.store.space("ip6") if version == 6 else EMPTY)
        if found is None:
            raise fail("InvalidVSwitchId.IpNotEnough", f"{self.vsw['VSwitchId']} has no free IPv{version} address")
        self.picked[version].add(found.start, found.end, "call")
        return format_address(version, found.start)

    def auto_prefix(self, version: int) -> str:
        block = self.block(version)
        within = reservations(self.req, self.vsw, version) or [block]
        found = first_free(within, L.PREFIX_LEN[version], self._taken(version), self._reserved(version),
                           self.picked[version])
        if found is None:
            raise fail("InvalidVSwitchId.IpNotEnough",
                       f"{self.vsw['VSwitchId']} has no free IPv{version} /{L.PREFIX_LEN[version]} block")
        self.picked[version].add(found.start, found.end, "call")
        return str(found)

    def take(self, version: int, addresses: list[str], n_addresses: int, prefixes: list[str],
             n_prefixes: int) -> tuple[list[str], list[str]]:
        """Explicit addresses and prefixes first, then ``n_addresses`` and ``n_prefixes`` automatic ones."""
        got_a = [self.address(version, a) for a in addresses]
        got_p = [self.prefix(version, p) for p in prefixes]
        got_a += [self.auto_address(version) for _ in range(n_addresses)]
        got_p += [self.auto_prefix(version) for _ in range(n_prefixes)]
        return got_a, got_p
