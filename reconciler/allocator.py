"""Free space inside a set of container blocks, on integer ranges.

:class:`BlockAllocator` answers "take this exact block" and "give me the lowest free aligned block
of length /m", and remembers who holds what so that a conflict names the other holder. It never
enumerates addresses: occupied space is a sorted list of disjoint ``[start, end]`` intervals, and a
first-fit search walks the gaps between them. For each prefix length it keeps the lowest address
below which no block of that length can be free, so a run of same-size requests costs amortised
O(log n) each instead of rescanning from the bottom.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass

from .cidr import BITS, Cidr


@dataclass(frozen=True, slots=True)
class Conflict:
    """Why a block could not be taken: outside every container, or overlapping a holder."""

    reason: str  # "outside" | "overlap"
    holder: str | None = None
    held: Cidr | None = None


class BlockAllocator:
    def __init__(self, version: int, containers: list[Cidr]):
        self.version = version
        self.bits = BITS[version]
        self.containers = sorted(c for c in containers if c.version == version)
        self._container_starts = [c.start for c in self.containers]
        self._starts: list[int] = []  # sorted starts of occupied intervals (disjoint)
        self._ends: dict[int, int] = {}
        self._holders: dict[int, tuple[str, Cidr]] = {}
        self._floor: dict[int, int] = {}  # prefix -> no free block of that length below this

    # ---- queries ----------------------------------------------------------------------------
    def container_of(self, block: Cidr) -> Cidr | None:
        i = bisect_right(self._container_starts, block.start) - 1
        if i >= 0 and self.containers[i].contains(block):
            return self.containers[i]
        return next((c for c in self.containers if c.contains(block)), None)

    def conflict(self, block: Cidr) -> Conflict | None:
        """None when ``block`` lies in a container and overlaps nothing held."""
        if block.version != self.version or self.container_of(block) is None:
            return Conflict("outside")
        i = bisect_right(self._starts, block.end) - 1
        if i >= 0:
            start = self._starts[i]
            if self._ends[start] >= block.start:
                holder, held = self._holders[start]
                return Conflict("overlap", holder, held)
        return None

    def holders_within(self, block: Cidr) -> list[tuple[str, Cidr]]:
        """Every held block overlapping ``block``."""
        out = []
        i = bisect_right(self._starts, block.start) - 1
        i = max(i, 0)
        while i < len(self._starts) and self._starts[i] <= block.end:
            start = self._starts[i]
            if self._ends[start] >= block.start:
                out.append(self._holders[start])
            i += 1
        return out

    # ---- changes ----------------------------------------------------------------------------
    def take(self, block: Cidr, holder: str) -> Conflict | None:
        """Mark ``block`` held by ``holder`` unless it conflicts; returns the conflict if any."""
        found = self.conflict(block)
        if found is None:
            insort(self._starts, block.start)
            self._ends[block.start] = block.end
            self._holders[block.start] = (holder, block)
        return found

    def force(self, block: Cidr, holder: str) -> None:
        """Mark ``block`` held even if it overlaps (recorded blocks that already exist)."""
        if self.conflict(block) is None:
            self.take(block, holder)

    def occupy(self, block: Cidr, holder: str) -> None:
        """Mark ``block`` unavailable whether or not it lies in a container (no-op if it overlaps)."""
        i = bisect_right(self._starts, block.end) - 1
        if i >= 0 and self._ends[self._starts[i]] >= block.start:
            return
        insort(self._starts, block.start)
        self._ends[block.start] = block.end
        self._holders[block.start] = (holder, block)

    def release(self, block: Cidr) -> None:
        if self._ends.get(block.start) == block.end:
            self._starts.pop(bisect_left(self._starts, block.start))
            del self._ends[block.start]
            del self._holders[block.start]
            for prefix, floor in list(self._floor.items()):
                if block.start < floor:
                    self._floor[prefix] = block.start & ~((1 << (self.bits - prefix)) - 1)

    def first_fit(self, prefix: int, holder: str) -> Cidr | None:
        """Take and return the lowest free aligned block of length ``prefix``, or None."""
        size = 1 << (self.bits - prefix)
        floor = self._floor.get(prefix, 0)
        for container in self.containers:
            if container.prefix > prefix or container.end < floor:
                continue
            pos = max(container.start, floor)
            pos = (pos + size - 1) & ~(size - 1)
            while pos + size - 1 <= container.end:
                i = bisect_right(self._starts, pos + size - 1) - 1
                if i >= 0 and self._ends[self._starts[i]] >= pos:
                    # overlaps the interval at i: jump past its end, realigned
                    pos = (self._ends[self._starts[i]] + 1 + size - 1) & ~(size - 1)
                    continue
                block = Cidr(self.version, pos, prefix)
                self._floor[prefix] = pos
                self.take(block, holder)
                return block
        self._floor[prefix] = max(floor, self.containers[-1].end + 1 if self.containers else 0)
        return None
