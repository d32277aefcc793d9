"""Integer-range arithmetic for the monitoring report: unions, differences, the largest standard
block of a free range, overlapping pairs by sort and sweep, and numbers a person can read.

Ranges are inclusive ``(start, end)`` integers; nothing enumerates addresses (an IPv6 pool holds
2**72 and more), so everything here is linear or ``n log n`` in the number of ranges.
"""

from __future__ import annotations

import heapq
from decimal import ROUND_HALF_UP, Decimal
from operator import itemgetter
from typing import Hashable, Iterable, Iterator, Sequence, TypeVar

from reconciler.net.cidr import format_address


def merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of ``ranges`` as sorted, disjoint, non-adjacent ranges."""
    out: list[list[int]] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


def subtract(base: Iterable[tuple[int, int]], holes: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """``base`` minus ``holes`` as sorted disjoint ranges."""
    holes = merge(holes)
    out, i = [], 0
    for start, end in merge(base):
        while i < len(holes) and holes[i][1] < start:
            i += 1
        j, cursor = i, start
        while j < len(holes) and holes[j][0] <= end:
            if holes[j][0] > cursor:
                out.append((cursor, holes[j][0] - 1))
            cursor = max(cursor, holes[j][1] + 1)
            j += 1
        if cursor <= end:
            out.append((cursor, end))
    return out


def size(ranges: Iterable[tuple[int, int]]) -> int:
    return sum(e - s + 1 for s, e in ranges)


def blocks_in(start: int, end: int) -> Iterator[tuple[int, int]]:
    """The standard blocks ``(start, host bits)`` exactly covering [start, end], lowest first
    (at most two per bit of address width)."""
    while start <= end:
        room = (end - start + 1).bit_length() - 1  # the largest power of two that fits
        bits = min(room, (start & -start).bit_length() - 1) if start else room
        yield start, bits
        start += 1 << bits


def largest_block(ranges: Sequence[tuple[int, int]], version: int) -> str | None:
    """The largest standard block inside any of ``ranges`` (the lowest of equals), as a CIDR."""
    best = None
    for start, end in ranges:
        for s, bits in blocks_in(start, end):
            if best is None or bits > best[1]:
                best = (s, bits)
    width = 32 if version == 4 else 128
    return None if best is None else f"{format_address(version, best[0])}/{width - best[1]}"


K = TypeVar("K", bound=Hashable)


def overlapping_pairs(ranges: Iterable[tuple[int, int, K]]) -> list[tuple[K, K]]:
    """Every pair of overlapping ranges ``(start, end, key)``, by sort and sweep.

    Sorted by start (then longest first), each range meets the ranges still open at its start (a heap
    by end drops the closed ones), so the cost is O(n log n + pairs) and memory O(n). In each pair
    the first range starts no later than the second. A range starting past every end seen so far
    meets nothing: the heap is emptied at once (what popping would do, one by one).
    """
    items = sorted(ranges, key=itemgetter(1), reverse=True)  # two stable sorts: (start, -end), ties in input order
    items.sort(key=itemgetter(0))
    active: list[tuple[int, int]] = []  # heap of (end, index into items)
    out: list[tuple[K, K]] = []
    reach = None  # the largest end so far
    heappush, heappop = heapq.heappush, heapq.heappop
    for i, (start, end, key) in enumerate(items):
        if reach is None or start > reach:
            active.clear()
            reach = end
        else:
            while active[0][0] < start:  # the range ending at ``reach`` is still there
                heappop(active)
            out.extend((items[j][2], key) for _, j in active)
            if end > reach:
                reach = end
        heappush(active, (end, i))
    return out


def pct(part: int, whole: int) -> float:
    """``part`` as a percentage of ``whole``, correctly rounded (int / int is exact before rounding,
    so 2**80-sized counts are fine)."""
    return part * 100 / whole if whole else 0.0


def human_count(n: int | None) -> str:
    """Counts a person can read: ``16,777,216``; ``2^72``; ``255 x 2^72``; ``~4.72e21``."""
    if n is None:
        return "-"
    if n < 10**8:
        return f"{n:,}"
    k = (n & -n).bit_length() - 1
    m = n >> k
    if m == 1:
        return f"2^{k}"
    if m < 1024:
        return f"{m} x 2^{k}"
    mantissa, _, exponent = f"{n:.2e}".partition("e+")
    return f"~{mantissa}e{int(exponent)}"


def human_pct(value: float | None) -> str:
    """Two decimals, half up; never rounds a non-zero share to 0 or a partial one to 100."""
    if value is None:
        return "-"
    if 0 < value < 0.01:
        return "<0.01%"
    if 99.99 < value < 100:
        return ">99.99%"
    return f"{Decimal(repr(value)).quantize(Decimal('0.01'), ROUND_HALF_UP)}%"
