"""Integer-range arithmetic of the report: unions, differences, largest free block, the sweep."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.report.ranges import (
    blocks_in,
    human_count,
    human_pct,
    largest_block,
    merge,
    overlapping_pairs,
    pct,
    subtract,
)


def test_merge_and_subtract():
    assert merge([(5, 9), (0, 3), (4, 4), (20, 30), (25, 26)]) == [(0, 9), (20, 30)]
    assert subtract([(0, 99)], [(10, 19), (15, 29), (99, 120)]) == [(0, 9), (30, 98)]
    assert subtract([(0, 9), (20, 29)], [(5, 24)]) == [(0, 4), (25, 29)]
    assert subtract([(0, 9)], []) == [(0, 9)] and subtract([(0, 9)], [(0, 9)]) == []


def test_blocks_and_largest_block():
    assert list(blocks_in(1, 6)) == [(1, 0), (2, 1), (4, 1), (6, 0)]
    assert list(blocks_in(0, 2**128 - 1)) == [(0, 128)]
    ten = 10 << 24
    # 10.97.0.0 - 10.127.255.255 and 10.128.0.0 - 10.254.255.255: the /10 at 10.128 is the largest
    free = [(ten + (97 << 16), ten + (128 << 16) - 1), (ten + (128 << 16), ten + (255 << 16) - 1)]
    assert largest_block(free, 4) == "10.128.0.0/10"
    assert largest_block([], 4) is None
    assert largest_block([(2**127 + 2**72, 2**128 - 1)], 6) == "c000::/2"


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**20))
def test_blocks_in_cover_the_range_exactly(start, length):
    end = min(start + length, 2**32 - 1)
    cursor = start
    for s, bits in blocks_in(start, end):
        assert s == cursor and s % (1 << bits) == 0
        cursor = s + (1 << bits)
    assert cursor == end + 1


def brute(ranges):
    out = set()
    for i, (s1, e1, k1) in enumerate(ranges):
        for s2, e2, k2 in ranges[i + 1:]:
            if s1 <= e2 and s2 <= e1:
                out.add(frozenset((k1, k2)))
    return out


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 40)), max_size=40))
def test_sweep_matches_brute_force(spans):
    ranges = [(s, s + n, i) for i, (s, n) in enumerate(spans)]
    pairs = overlapping_pairs(ranges)
    assert len(pairs) == len({frozenset(p) for p in pairs})  # each pair once
    assert {frozenset(p) for p in pairs} == brute(ranges)


def test_sweep_on_100k_ranges():
    """99,000 disjoint /24s, 900 ranges each straddling two neighbours, 90 /16s each covering 256 of
    them and 10 exact duplicates: the pairs are known by construction."""
    rnd = random.Random(7)
    blocks = [(i << 8, (i << 8) + 255, ("b", i)) for i in range(99_000)]
    expected = set()
    straddle = []
    for k in range(900):  # over the second half of block j and the first half of block j+1
        j = 100 * k + 3
        straddle.append(((j << 8) + 128, ((j + 1) << 8) + 127, ("s", k)))
        expected |= {frozenset((("s", k), ("b", j))), frozenset((("s", k), ("b", j + 1)))}
    wide = []
    for k in range(90):  # /16s starting on blocks 1000*k + 512 .. +767: 256 blocks, and straddles inside
        first = 1000 * k + 512
        wide.append((first << 8, ((first + 256) << 8) - 1, ("w", k)))
        expected |= {frozenset((("w", k), ("b", j))) for j in range(first, first + 256)}
        expected |= {frozenset((("w", k), s[2])) for s in straddle
                     if s[0] <= ((first + 256) << 8) - 1 and first << 8 <= s[1]}
    dupes = [(b[0], b[1], ("d", b[2][1])) for b in rnd.sample(blocks, 10)]
    for d in dupes:
        expected.add(frozenset((d[2], ("b", d[2][1]))))
        expected |= {frozenset((d[2], s[2])) for s in straddle + wide if s[0] <= d[1] and d[0] <= s[1]}
    ranges = blocks + straddle + wide + dupes
    assert len(ranges) == 100_000
    rnd.shuffle(ranges)
    pairs = overlapping_pairs(ranges)
    assert len(pairs) == len(expected)
    assert {frozenset(p) for p in pairs} == expected


def test_human_numbers():
    assert [human_count(x) for x in (0, 16_777_216, 2**32, 2**80, 255 * 2**72, 2**64 - 2**48 - 5, None)] == [
        "0", "16,777,216", "2^32", "2^80", "255 x 2^72", "~1.84e19", "-"]
    assert [human_pct(x) for x in (15.625, 3.125, 0.0, 0.004, 99.999, 100.0, None)] == [
        "15.63%", "3.13%", "0.00%", "<0.01%", ">99.99%", "100.00%", "-"]
    assert pct(2**72, 2**80) == 0.390625 and pct(1, 0) == 0.0


def _sweep_one_pop_at_a_time(ranges):
    """The sweep as first written (one sort on a tuple key, every closed range popped): the pairs and
    their order must not change."""
    import heapq

    items = sorted(ranges, key=lambda r: (r[0], -r[1]))
    active, out = [], []
    for i, (start, end, key) in enumerate(items):
        while active and active[0][0] < start:
            heapq.heappop(active)
        out.extend((items[j][2], key) for _, j in active)
        heapq.heappush(active, (end, i))
    return out


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 40)), max_size=60))
def test_sweep_gives_the_same_pairs_in_the_same_order(spans):
    ranges = [(s, s + n, i) for i, (s, n) in enumerate(spans)]
    assert overlapping_pairs(ranges) == _sweep_one_pop_at_a_time(ranges)
