"""First-fit allocation on integer ranges, checked against a naive lowest-address-first search."""

import random

from hypothesis import given, settings, strategies as st

from reconciler.allocator import BlockAllocator
from reconciler.cidr import Cidr


def naive_first_fit(containers, held, prefix, bits):
    """The obviously-correct method: try every aligned block from the bottom of each container."""
    size = 1 << (bits - prefix)
    for c in sorted(containers):
        if c.prefix > prefix:
            continue
        pos = c.start
        while pos + size - 1 <= c.end:
            if all(pos + size - 1 < h.start or pos > h.end for h in held):
                return Cidr(c.version, pos, prefix)
            pos += size
    return None


def test_lowest_free_block_skips_taken_and_reserved_space():
    a = BlockAllocator(4, [Cidr.parse("10.0.0.0/8")])
    assert a.take(Cidr.parse("10.0.0.0/11"), "ipam_pool.hz") is None
    assert a.take(Cidr.parse("10.255.0.0/16"), "ipam_pool_allocation.idc") is None
    assert str(a.first_fit(11, "ipam_pool.sh")) == "10.32.0.0/11"
    assert str(a.first_fit(16, "x")) == "10.64.0.0/16"
    assert str(a.first_fit(11, "y")) == "10.96.0.0/11"


def test_conflicts_name_the_holder():
    a = BlockAllocator(4, [Cidr.parse("10.0.0.0/16")])
    a.take(Cidr.parse("10.0.0.0/20"), "vpc.a")
    clash = a.take(Cidr.parse("10.0.8.0/24"), "vpc.b")
    assert clash.reason == "overlap" and clash.holder == "vpc.a"
    assert a.take(Cidr.parse("10.1.0.0/24"), "vpc.c").reason == "outside"


def test_exhaustion_returns_none():
    a = BlockAllocator(4, [Cidr.parse("10.0.0.0/23")])
    assert a.first_fit(24, "a") and a.first_fit(24, "b")
    assert a.first_fit(24, "c") is None
    assert a.first_fit(22, "d") is None


def test_ipv6_supply_is_not_enumerated():
    a = BlockAllocator(6, [Cidr.parse("2408:4000::/32")])
    got = [a.first_fit(56, f"p{i}") for i in range(3)]
    assert [str(g) for g in got] == ["2408:4000::/56", "2408:4000:0:100::/56", "2408:4000:0:200::/56"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["take", "fit", "release"]), st.integers(16, 28), st.integers(0, 10**6)),
                max_size=60))
def test_matches_naive_lowest_address_first(ops):
    containers = [Cidr.parse("10.0.0.0/16"), Cidr.parse("10.8.0.0/18")]
    a = BlockAllocator(4, containers)
    held: list[Cidr] = []
    rng = random.Random(0)
    for op, prefix, seed in ops:
        if op == "fit":
            expect = naive_first_fit(containers, held, prefix, 32)
            got = a.first_fit(prefix, "x")
            assert got == expect
            if got:
                held.append(got)
        elif op == "take":
            c = containers[seed % 2]
            if prefix < c.prefix:
                continue
            block = c.subnet(prefix, seed % (1 << (prefix - c.prefix)))
            ok = a.take(block, "y") is None
            assert ok == all(not block.overlaps(h) for h in held)
            if ok:
                held.append(block)
        elif held:
            victim = held.pop(rng.randrange(len(held)))
            a.release(victim)
