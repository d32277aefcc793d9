"""The address space of one vSwitch and one IP version, where ENI addresses and prefixes are placed.

Addresses (as /32 or /128) and prefixes (/28, /80) share the space and never overlap; the vSwitch's
first address and last three belong to the system; prefixes come from the vSwitch's prefix
reservations when it has any, and automatic addresses never come from them.

Three allocators would serve it: ``taken`` (everything in the vSwitch; judges explicit entries),
and two that serve counts, addresses from the vSwitch minus its prefix reservations and prefixes
from the reservations (one for both when the vSwitch has no reservations). All of them always
hold the same blocks, in the same order, so the space keeps one list of what it holds (as integer
ranges) and builds an allocator only at the first question for it, from that list. Blocks ENIs
already hold are kept in one batch per space (:meth:`VSwitchSpace.fits`, then
:meth:`VSwitchSpace.hold_ranges`, or :meth:`VSwitchSpace.keep_all`): when they overlap nothing and
lie where they may, which is the rule, no allocator is needed at all; otherwise they are judged
one by one, in order (:mod:`reconciler.desired.keep`).
"""

from __future__ import annotations

from typing import Iterable, TypeAlias

from reconciler.net.address import SpaceKey
from reconciler.net.allocator import BlockAllocator, Conflict
from reconciler.net.cidr import Cidr, exclude
from reconciler.net.eni_limits import reserved_ranges

PREFIX_LENGTHS = (28, 80)
SYSTEM = "the system (reserved address of the vSwitch)"

Range: TypeAlias = tuple[int, int, int, str]  # a block held: (first address, last address, prefix length, holder)


class VSwitchSpace:
    __slots__ = ("key", "block", "reservations", "held", "_taken", "_auto")

    def __init__(self, key: SpaceKey, block: Cidr, reservations: list[Cidr]) -> None:
        self.key, self.block, self.reservations = key, block, reservations
        # (first address, last address, prefix length, holder) of every block occupied, in order
        self.held: list[Range] = []
        self._taken: BlockAllocator | None = None
        self._auto: dict[bool | None, BlockAllocator] = {}  # prefix? (None: both) -> count allocator, once built
        bits = 32 if block.version == 4 else 128
        for lo, hi in reserved_ranges(block.version, block.start, block.prefix):  # first address and last three
            for addr in range(lo, hi + 1):
                self.held.append((addr, addr, bits, SYSTEM))

    def _replay(self, alloc: BlockAllocator) -> BlockAllocator:
        version = self.block.version
        for start, _, prefix, holder in self.held:
            alloc.occupy(Cidr(version, start, prefix), holder)
        return alloc

    @property
    def taken(self) -> BlockAllocator:
        if self._taken is None:
            self._taken = self._replay(BlockAllocator(self.block.version, [self.block]))
        return self._taken

    # ---- one block at a time ------------------------------------------------------------------
    def conflict(self, block: Cidr) -> Conflict | None:
        found = self.taken.conflict(block)
        if found is None and block.prefix in PREFIX_LENGTHS and self.reservations:
            if not any(r.contains(block) for r in self.reservations):
                return Conflict("outside")
        return found

    def take(self, block: Cidr, holder: str) -> Conflict | None:
        found = self.conflict(block)
        if found is None:
            self.occupy(block, holder)
        return found

    def occupy(self, block: Cidr, holder: str) -> None:
        """Mark ``block`` unavailable (no-op where it overlaps what is held)."""
        self.held.append((block.start, block.end, block.prefix, holder))
        if self._taken is not None:
            self._taken.occupy(block, holder)
        for alloc in self._auto.values():
            alloc.occupy(block, holder)

    def first_fit(self, prefix: int, holder: str) -> Cidr | None:
        got = self.first_fits(prefix, holder, 1)
        return got[0] if got else None

    def first_fits(self, prefix: int, holder: str, count: int) -> list[Cidr]:
        """Take the lowest free ``/prefix`` ``count`` times (fewer when the space runs out)."""
        # without prefix reservations, addresses and prefixes come from the same place: one allocator
        kind = (prefix in PREFIX_LENGTHS) if self.reservations else None
        alloc = self._auto.get(kind)
        if alloc is None:
            vsw, reservations = self.block, self.reservations
            containers = (reservations or [vsw]) if kind else exclude(vsw, reservations)
            alloc = self._auto[kind] = self._replay(BlockAllocator(vsw.version, containers))
        got = alloc.first_fits(prefix, holder, count)
        self.held += [(block.start, block.end, block.prefix, holder) for block in got]
        # occupy everywhere else (``alloc`` holds them already)
        for other in (self._taken, self._auto.get(not kind) if kind is not None else None):
            if other is not None:
                for block in got:
                    other.occupy(block, holder)
        return got

    # ---- a batch ------------------------------------------------------------------------------
    def keep_all(self, blocks: Iterable[tuple[Cidr, str]]) -> list[bool]:
        """:meth:`take` each ``(block, holder)`` in order; whether each was taken."""
        blocks = list(blocks)
        ranges = self.ranges_of(blocks)
        if ranges is not None and self.fits(ranges):
            self.hold_ranges(ranges)
            return [True] * len(blocks)
        return [self.take(block, holder) is None for block, holder in blocks]

    def ranges_of(self, blocks: Iterable[tuple[Cidr, str]]) -> list[Range] | None:
        """``(first address, last address, prefix length, holder)`` of each ``(block, holder)``; None
        when one is of the other IP version (it lies outside the space)."""
        version = self.block.version
        out: list[Range] = []
        for block, holder in blocks:
            if block.version != version:
                return None
            out.append((block.start, block.end, block.prefix, holder))
        return out

    def fits(self, ranges: list[Range]) -> bool:
        """Whether :meth:`take` would succeed for every one of ``ranges`` (first address, last address,
        prefix length, holder: blocks of this space's IP version), in any order: no allocator asked
        yet, every block in the vSwitch (a /28 or /80 prefix in its reservations, if it has any), and
        no two of them, or one of them and a block held, overlapping."""
        if self._taken is not None or self._auto:
            return False
        vsw, reservations = self.block, self.reservations
        lo, hi = vsw.start, vsw.end
        spans = [(start, end) for start, end, _, _ in self.held]
        for start, end, prefix, _ in ranges:
            if start < lo or end > hi:
                return False
            if reservations and prefix in PREFIX_LENGTHS and not any(
                    r.prefix <= prefix and r.start <= start and end <= r.end for r in reservations):
                return False
            spans.append((start, end))
        spans.sort()
        last = -1
        for start, end in spans:
            if start <= last:
                return False
            last = end
        return True

    def hold_ranges(self, ranges: list[Range]) -> None:
        """Hold ``ranges`` (as :meth:`fits` takes them), which fit: every take succeeds."""
        self.held += ranges
