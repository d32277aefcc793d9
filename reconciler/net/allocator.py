"""Free space inside a set of container blocks, on integer ranges.

:class:`BlockAllocator` answers "take this exact block" and "give me the lowest free aligned block
of length /m", and remembers who holds what so that a conflict names the other holder. It never
enumerates addresses: occupied space is a sorted list of disjoint ``[start, end]`` intervals.

First fit works on the free space cut into its maximal aligned blocks (the blocks a buddy
allocator would keep, but never merged across two containers): every free aligned block of length
/m lies in exactly one of them, of length /m or shorter, so the lowest free /m starts where the
lowest free block of length /m or shorter does. The free blocks are kept per prefix length, a heap
of starts each with the lowest at hand, so a request looks at one number per length, splits the
block it takes (at most one new free block per bit), and a release merges the freed block with its
free buddies; no step walks the held blocks. The index is built from the held intervals at the
first request for a block, and kept up to date from then on.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from heapq import heappop, heappush

from reconciler.net.cidr import BITS, Cidr


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
        self._starts = _SortedInts()  # starts of occupied intervals (disjoint)
        self._ends: dict[int, int] = {}
        self._holders: dict[int, tuple[str, Cidr]] = {}
        # the outermost containers (a container inside another adds no space), disjoint and sorted
        self._outer: list[Cidr] = []
        for c in self.containers:
            if not self._outer or self._outer[-1].end < c.start:
                self._outer.append(c)
        self._outer_starts = [c.start for c in self._outer]
        self._lo = min((c.prefix for c in self._outer), default=self.bits + 1)  # longest block served
        self._none = 1 << (self.bits + 1)  # above every address: "no free block of this length"
        # the free-block index, built at the first first_fit (None until then):
        self._free: dict[int, int] | None = None  # start -> prefix length of each maximal free block
        self._heaps: defaultdict[int, list[int]] = defaultdict(list)  # per prefix length: starts (lazily deleted, top always live)
        self._tops: list[int] = []  # per prefix length: the lowest free block's start, or self._none

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
        start = self._starts.at_or_below(block.end)
        if start is not None and self._ends[start] >= block.start:
            holder, held = self._holders[start]
            return Conflict("overlap", holder, held)
        return None

    def holders_within(self, block: Cidr) -> list[tuple[str, Cidr]]:
        """Every held block overlapping ``block``."""
        out = []
        for start in self._starts.from_at_or_below(block.start):
            if start > block.end:
                break
            if self._ends[start] >= block.start:
                out.append(self._holders[start])
        return out

    # ---- changes ----------------------------------------------------------------------------
    def take(self, block: Cidr, holder: str) -> Conflict | None:
        """Mark ``block`` held by ``holder`` unless it conflicts; returns the conflict if any."""
        found = self.conflict(block)
        if found is None:
            self._hold(block, holder)
        return found

    def force(self, block: Cidr, holder: str) -> None:
        """Mark ``block`` held even if it overlaps (recorded blocks that already exist)."""
        if self.conflict(block) is None:
            self.take(block, holder)

    def occupy(self, block: Cidr, holder: str) -> None:
        """Mark ``block`` unavailable whether or not it lies in a container (no-op if it overlaps)."""
        start = self._starts.at_or_below(block.end)
        if start is not None and self._ends[start] >= block.start:
            return
        self._hold(block, holder)

    def release(self, block: Cidr) -> None:
        if self._ends.get(block.start) == block.end:
            self._starts.remove(block.start)
            del self._ends[block.start]
            del self._holders[block.start]
            if self._free is not None:
                self._give_back(block)

    def first_fit(self, prefix: int, holder: str) -> Cidr | None:
        """Take and return the lowest free aligned block of length ``prefix``, or None."""
        got = self.first_fits(prefix, holder, 1)
        return got[0] if got else None

    def first_fits(self, prefix: int, holder: str, count: int) -> list[Cidr]:
        """:meth:`first_fit` ``count`` times; the blocks taken (fewer once the space runs out)."""
        bits, version = self.bits, self.version
        size = 1 << (bits - prefix)
        free = self._free
        if free is None:
            free = self._build()
        lo = self._lo
        if prefix < lo:
            return []
        tops, heaps, none = self._tops, self._heaps, self._none
        add_start, ends, holders = self._starts.add, self._ends, self._holders
        got = []
        for _ in range(count):
            start = min(tops[lo:prefix + 1])
            if start == none:
                break
            # the lowest free block of length /prefix or shorter: take its first /prefix ...
            length = tops.index(start, lo, prefix + 1)
            del free[start]
            heap = heaps[length]
            heappop(heap)
            while heap and free.get(heap[0]) != length:
                heappop(heap)
            tops[length] = heap[0] if heap else none
            # ... and the rest of it stays free as one block per length from /prefix up to /length+1
            for k in range(prefix, length, -1):
                s = start + (1 << (bits - k))
                free[s] = k
                heappush(heaps[k], s)
                if s < tops[k]:
                    tops[k] = s
            block = Cidr(version, start, prefix)
            add_start(start)
            ends[start] = start + size - 1
            holders[start] = (holder, block)
            got.append(block)
        return got

    # ---- the free-block index -----------------------------------------------------------------
    def _hold(self, block: Cidr, holder: str) -> None:
        """Record ``block`` held (it overlaps nothing held) and cut it out of the free blocks."""
        self._starts.add(block.start)
        self._ends[block.start] = block.end
        self._holders[block.start] = (holder, block)
        if self._free is not None:
            self._cut(block)

    def _build(self) -> dict[int, int]:
        """Cut the gaps between held intervals, inside each outer container, into maximal blocks."""
        bits = self.bits
        free: dict[int, int] = {}
        heaps: defaultdict[int, list[int]] = defaultdict(list)  # only the lengths that occur (IPv6: 129 possible)
        ends = self._ends
        for c in self._outer:
            pos = c.start
            for s in self._starts.from_at_or_below(c.start):
                if s > c.end or pos > c.end:
                    break
                if s > pos:
                    _cut_range(pos, s - 1, bits, free, heaps)
                pos = max(pos, ends[s] + 1)
            if pos <= c.end:
                _cut_range(pos, c.end, bits, free, heaps)
        # each heap got its starts in increasing order: already a heap
        self._free, self._heaps = free, heaps
        tops = self._tops = [self._none] * (bits + 1)
        for length, heap in heaps.items():
            tops[length] = heap[0]
        return free

    # _add, _remove, _cut and _give_back run only once the index is built (``_free`` not None)
    def _add(self, start: int, prefix: int) -> None:
        self._free[start] = prefix  # type: ignore[index]  # index built
        heappush(self._heaps[prefix], start)
        if start < self._tops[prefix]:
            self._tops[prefix] = start

    def _remove(self, start: int, prefix: int) -> None:
        free: dict[int, int] = self._free  # type: ignore[assignment]  # index built
        del free[start]
        if self._tops[prefix] == start:
            heap = self._heaps[prefix]
            heappop(heap)
            while heap and free.get(heap[0]) != prefix:
                heappop(heap)
            self._tops[prefix] = heap[0] if heap else self._none

    def _cut(self, block: Cidr) -> None:
        """Remove ``block``, free where it lies in a container, from the free blocks."""
        i = bisect_right(self._outer_starts, block.start) - 1
        if i >= 0 and self._outer[i].end >= block.end:
            # the free block holding it starts at the start of one of its ancestors: try each
            # distinct one, from the block itself outwards (one per set bit of the start)
            free: dict[int, int]
            free, bits = self._free, self.bits  # type: ignore[assignment]  # index built
            s, k = block.start, block.prefix
            while True:
                length = free.get(s)
                if length is not None and length <= k:
                    break
                if s <= self._outer[i].start:
                    self._free = None  # out of step with the held intervals: rebuild when next needed
                    return
                low = s & -s
                s -= low
                k = bits - low.bit_length()
            self._remove(s, length)
            start = block.start
            for k in range(block.prefix, length, -1):
                size = 1 << (bits - k)
                self._add((start & -size) ^ size, k)  # the other half of the ancestor of length /k-1
        else:
            for c in self._outer[bisect_left(self._outer_starts, block.start):]:
                if c.start > block.end:
                    break
                self._remove(c.start, c.prefix)  # a whole container inside the block: one free block

    def _give_back(self, block: Cidr) -> None:
        """Add the released ``block`` to the free blocks, merged with its free buddies."""
        i = bisect_right(self._outer_starts, block.start) - 1
        if i >= 0 and self._outer[i].end >= block.end:
            free: dict[int, int]
            free, bits, floor = self._free, self.bits, self._outer[i].prefix  # type: ignore[assignment]  # index built
            s, k = block.start, block.prefix
            while k > floor:
                size = 1 << (bits - k)
                if free.get(s ^ size) != k:
                    break
                self._remove(s ^ size, k)
                s &= ~size
                k -= 1
            self._add(s, k)
        else:
            for c in self._outer[bisect_left(self._outer_starts, block.start):]:
                if c.start > block.end:
                    break
                self._add(c.start, c.prefix)


def _cut_range(a: int, b: int, bits: int, free: dict[int, int], heaps: defaultdict[int, list[int]]) -> None:
    """Append the maximal aligned blocks of ``[a, b]`` (inclusive), lowest first: growing while the
    start's alignment limits them, then shrinking while what is left does."""
    end = b + 1
    while a < end:  # each block as large as the start's lowest set bit allows
        size = a & -a
        if not size or a + size > end:
            break
        k = bits + 1 - size.bit_length()
        free[a] = k
        heaps[k].append(a)
        a += size
    while a < end:  # the rest: one block per set bit of its length, largest first (each start is aligned)
        n = (end - a).bit_length() - 1
        free[a] = bits - n
        heaps[bits - n].append(a)
        a += 1 << n


class _SortedInts:
    """Distinct integers in order, in chunks of at most ``2 * _CHUNK``: adding or removing one moves
    the rest of its chunk only, not of the whole list."""

    __slots__ = ("_chunks", "_lasts")

    def __init__(self) -> None:
        self._chunks: list[list[int]] = []
        self._lasts: list[int] = []  # the last (greatest) integer of each chunk

    def add(self, x: int) -> None:
        lasts = self._lasts
        i = bisect_left(lasts, x)
        if i < len(lasts):
            chunk = self._chunks[i]
            insort(chunk, x)
        elif i:
            i -= 1
            chunk = self._chunks[i]
            chunk.append(x)
            lasts[i] = x
        else:
            self._chunks.append([x])
            lasts.append(x)
            return
        if len(chunk) > 2 * _CHUNK:
            self._chunks[i:i + 1] = [chunk[:_CHUNK], chunk[_CHUNK:]]
            lasts[i:i + 1] = [chunk[_CHUNK - 1], chunk[-1]]

    def remove(self, x: int) -> None:
        i = bisect_left(self._lasts, x)
        chunk = self._chunks[i]
        del chunk[bisect_left(chunk, x)]
        if chunk:
            self._lasts[i] = chunk[-1]
        else:
            del self._chunks[i], self._lasts[i]

    def at_or_below(self, x: int) -> int | None:
        """The greatest integer <= ``x``, or None."""
        lasts = self._lasts
        i = bisect_left(lasts, x)
        if i < len(lasts):
            chunk = self._chunks[i]
            j = bisect_right(chunk, x) - 1
            if j >= 0:
                return chunk[j]
        return lasts[i - 1] if i else None

    def from_at_or_below(self, x: int) -> Iterator[int]:
        """The integers in increasing order from the greatest one <= ``x`` (from the least if none is)."""
        chunks, lasts = self._chunks, self._lasts
        i = bisect_left(lasts, x)
        if i < len(lasts):
            j = bisect_right(chunks[i], x) - 1
            if j < 0:
                if i:
                    i -= 1
                    j = len(chunks[i]) - 1
                else:
                    j = 0
        elif i:
            i -= 1
            j = len(chunks[i]) - 1
        else:
            return
        yield from chunks[i][j:]
        for chunk in chunks[i + 1:]:
            yield from chunk


_CHUNK = 256
