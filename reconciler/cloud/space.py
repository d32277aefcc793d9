"""Free-space search over integer address ranges, never enumerating addresses.

An :class:`IntervalSet` holds the taken ranges under one key (the allocations of one pool, the
top-level CIDRs of one scope, the vSwitches of one VPC). Its ranges never overlap each other (every
caller checks before adding, and :meth:`IntervalSet.add` asserts it), so the ranges sorted by start
are also sorted by end, and an overlap query is one bisection plus a walk over the hits. Beside the
ranges it keeps their union as coalesced runs (adjacent ranges merged), updated in O(log n) on add
and remove (removing a range from a run leaves the run's two sides, both still covered).

"Lowest free block of size /m" (:func:`first_free`) is the lowest aligned /m block inside one of
the parent's blocks that overlaps no taken range. Each step of the search jumps past a whole run,
so densely packed allocations cost one step, and it never enumerates addresses: an IPv6 /32 cut
into /56 blocks is instant.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Iterable, Iterator

from reconciler.net.cidr import Cidr


class IntervalSet:
    """Non-overlapping inclusive ranges ``[start, end]``, each with an owner id, and their union."""

    __slots__ = ("_starts", "_items", "_run_starts", "_run_ends")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._items: list[tuple[int, int, str]] = []
        self._run_starts: list[int] = []
        self._run_ends: list[int] = []

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[tuple[int, int, str]]:
        return iter(self._items)

    def add(self, start: int, end: int, owner: str) -> None:
        assert not self.overlapping(start, end), f"range {start}-{end} of {owner} overlaps"
        i = bisect_left(self._starts, start)
        self._starts.insert(i, start)
        self._items.insert(i, (start, end, owner))
        rs, re = self._run_starts, self._run_ends
        lo = bisect_right(rs, start) - 1
        if lo < 0 or re[lo] < start - 1:
            lo += 1
        hi, new_start, new_end = lo, start, end
        while hi < len(rs) and rs[hi] <= end + 1:
            new_start, new_end = min(new_start, rs[hi]), max(new_end, re[hi])
            hi += 1
        rs[lo:hi], re[lo:hi] = [new_start], [new_end]

    def remove(self, start: int, owner: str) -> None:
        i = bisect_left(self._starts, start)
        while i < len(self._items) and self._starts[i] == start:
            if self._items[i][2] == owner:
                end = self._items[i][1]
                del self._starts[i]
                del self._items[i]
                rs, re = self._run_starts, self._run_ends
                j = bisect_right(rs, start) - 1
                pieces = [(a, b) for a, b in ((rs[j], start - 1), (end + 1, re[j])) if a <= b]
                rs[j:j + 1], re[j:j + 1] = [a for a, _ in pieces], [b for _, b in pieces]
                return
            i += 1
        raise KeyError((start, owner))

    def overlapping(self, start: int, end: int) -> list[tuple[int, int, str]]:
        """Every range that shares an address with ``[start, end]``, highest first."""
        hits = []
        j = bisect_right(self._starts, end) - 1
        while j >= 0 and self._items[j][1] >= start:
            hits.append(self._items[j])
            j -= 1
        return hits

    def last_end_over(self, start: int, end: int) -> int | None:
        """None when ``[start, end]`` is free, else the end of the highest taken run touching it."""
        j = bisect_right(self._run_starts, end) - 1
        if j >= 0 and self._run_ends[j] >= start:
            return self._run_ends[j]
        return None


EMPTY = IntervalSet()


def is_free(cidr: Cidr, *taken: IntervalSet) -> bool:
    return all(t.last_end_over(cidr.start, cidr.end) is None for t in taken)


def first_free(blocks: Iterable[Cidr], prefix: int, *taken: IntervalSet) -> Cidr | None:
    """The lowest aligned /prefix block inside one of ``blocks`` that is free in every ``taken``."""
    for block in sorted(blocks):
        if prefix < block.prefix or prefix > block.bits:
            continue
        size = 1 << (block.bits - prefix)
        cand = block.start
        while cand + size - 1 <= block.end:
            last = None
            for t in taken:
                end = t.last_end_over(cand, cand + size - 1)
                if end is not None and (last is None or end > last):
                    last = end
            if last is None:
                return Cidr(block.version, cand, prefix)
            cand = ((last + 1 + size - 1) // size) * size  # next aligned start past the hit
    return None


def containing(blocks: Iterable[Cidr], cidr: Cidr) -> Cidr | None:
    """The block of ``blocks`` that contains ``cidr``, if any."""
    for block in blocks:
        if block.contains(cidr):
            return block
    return None
