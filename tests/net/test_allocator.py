"""First-fit allocation on integer ranges, checked against a naive lowest-address-first search."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.net.allocator import BlockAllocator
from reconciler.net.cidr import Cidr


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


# ---- against a reference model: every question answered by looking at every held block -----------------------
class Reference:
    """The obviously-correct allocator: held blocks in a list; first fit walks the gaps between them,
    in address order, from the bottom of each container."""

    def __init__(self, version, containers):
        self.version = version
        self.bits = 32 if version == 4 else 128
        self.containers = sorted(c for c in containers if c.version == version)
        self.held: list[tuple[str, Cidr]] = []

    def conflict(self, block):
        if block.version != self.version or not any(c.contains(block) for c in self.containers):
            return ("outside", None, None)
        over = [(h.start, who, h) for who, h in self.held if h.overlaps(block)]
        return ("overlap", *max(over)[1:]) if over else None

    def take(self, block, holder):
        found = self.conflict(block)
        if found is None:
            self.held.append((holder, block))
        return found

    def occupy(self, block, holder):
        if not any(h.overlaps(block) for _, h in self.held):
            self.held.append((holder, block))

    def release(self, block):
        self.held = [(who, h) for who, h in self.held if (h.start, h.end) != (block.start, block.end)]

    def holders_within(self, block):
        return sorted(((who, h) for who, h in self.held if h.overlaps(block)), key=lambda wh: wh[1].start)

    def first_fit(self, prefix, holder):
        size = 1 << (self.bits - prefix)
        held = sorted(h for _, h in self.held)
        for c in self.containers:
            if c.prefix > prefix:
                continue
            pos = c.start
            for h in held:
                if h.end < pos or h.start > c.end:
                    continue
                if -(-pos // size) * size + size - 1 < h.start:
                    break
                pos = h.end + 1
            pos = -(-pos // size) * size
            if pos + size - 1 <= c.end:
                block = Cidr(self.version, pos, prefix)
                self.held.append((holder, block))
                return block
        return None


def as_tuple(conflict):
    return None if conflict is None else (conflict.reason, conflict.holder, conflict.held)


def same_index_as_rebuilt(a: BlockAllocator) -> bool:
    """White box: the free blocks kept up to date step by step are those a fresh build finds."""
    if a._free is None:
        return True
    b = BlockAllocator(a.version, a.containers)
    for holder, block in a.holders_within(Cidr(a.version, 0, 0)):
        b.occupy(block, holder)
    b._build()
    return a._free == b._free and a._tops == b._tops


CASES = {
    # name: (version, containers, shortest and longest prefix asked)
    "v4 two containers": (4, ["10.0.0.0/22", "10.8.0.0/24"], 21, 30),
    # two sibling halves: a block spanning both is in neither, so they must never merge
    "v4 sibling and nested containers": (4, ["10.0.0.0/24", "10.0.1.0/24", "10.0.1.64/26", "10.0.4.0/23"], 22, 32),
    "v6 several containers": (6, ["2408:4000::/56", "2408:4000:0:100::/56", "2408:4000:1::/60", "2408:4000:1::/62"],
                              54, 66),
}


def block_near(version, containers, lo, hi, pick, offset, prefix):
    """A block near one of the containers: inside, straddling none (they are CIDRs), around or outside."""
    bits = 32 if version == 4 else 128
    c = containers[pick % len(containers)]
    prefix = lo + prefix % (hi - lo + 1)
    size = 1 << (bits - prefix)
    start = (c.start - c.size + offset % (3 * c.size)) & ~(size - 1)
    return Cidr(version, max(start, 0), prefix)


def check_sequence(case, ops):
    version, texts, lo, hi = CASES[case]
    containers = [Cidr.parse(t) for t in texts]
    a, ref = BlockAllocator(version, containers), Reference(version, containers)
    for n, (op, x, y, z) in enumerate(ops):
        if op == "fit":
            prefix = lo + x % (hi - lo + 1)
            assert a.first_fit(prefix, f"f{n}") == ref.first_fit(prefix, f"f{n}"), (n, prefix)
        elif op == "release":
            if ref.held and x % 4:
                _, block = ref.held[y % len(ref.held)]
            else:
                block = block_near(version, containers, lo - 2, hi, x, y, z)
            a.release(block)
            ref.release(block)
        else:
            block = block_near(version, containers, lo - 2, hi, x, y, z)
            if op == "take":
                assert as_tuple(a.take(block, f"t{n}")) == ref.take(block, f"t{n}"), (n, block)
            elif op == "occupy":
                a.occupy(block, f"o{n}")
                ref.occupy(block, f"o{n}")
            else:
                assert as_tuple(a.conflict(block)) == ref.conflict(block)
                assert a.holders_within(block) == ref.holders_within(block)
    for c in containers:
        assert a.holders_within(c) == ref.holders_within(c)
    assert same_index_as_rebuilt(a)
    for prefix in range(lo, hi + 1):  # what is left, length by length
        assert a.first_fit(prefix, "end") == ref.first_fit(prefix, "end"), prefix


OPS = st.lists(st.tuples(st.sampled_from(["fit", "fit", "fit", "release", "release", "take", "occupy", "query"]),
                         st.integers(0, 2**16), st.integers(0, 2**70), st.integers(0, 64)), max_size=120)


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_random_sequences_match_the_reference_v4(ops):
    check_sequence("v4 two containers", ops)


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_random_sequences_match_the_reference_sibling_containers(ops):
    check_sequence("v4 sibling and nested containers", ops)


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_random_sequences_match_the_reference_v6(ops):
    check_sequence("v6 several containers", ops)


def test_sibling_containers_never_merge_into_a_block_spanning_both():
    a = BlockAllocator(4, [Cidr.parse("10.0.0.0/25"), Cidr.parse("10.0.0.128/25")])
    assert a.first_fit(24, "x") is None
    halves = [a.first_fit(26, f"q{i}") for i in range(4)]
    for block in halves:
        a.release(block)
    assert a.first_fit(24, "x") is None
    assert str(a.first_fit(25, "y")) == "10.0.0.0/25"
    assert str(a.first_fit(25, "z")) == "10.0.0.128/25"


def test_explicit_unaligned_neighbours_are_skipped_then_freed():
    # explicit blocks of mixed alignment side by side: the free /26 below them and the /25 after
    a = BlockAllocator(4, [Cidr.parse("10.0.0.0/24")])
    for text in ("10.0.0.0/28", "10.0.0.16/29", "10.0.0.32/27", "10.0.0.128/30", "10.0.0.200/32"):
        assert a.take(Cidr.parse(text), text) is None
    assert str(a.first_fit(26, "a")) == "10.0.0.64/26"
    assert a.first_fit(25, "b") is None
    assert str(a.first_fit(29, "c")) == "10.0.0.24/29"
    a.release(Cidr.parse("10.0.0.128/30"))
    assert str(a.first_fit(26, "d")) == "10.0.0.128/26"
    a.release(Cidr.parse("10.0.0.32/27"))
    assert str(a.first_fit(27, "e")) == "10.0.0.32/27"
    assert str(a.first_fit(32, "f")) == "10.0.0.192/32"


def test_occupied_space_outside_and_around_containers():
    a = BlockAllocator(4, [Cidr.parse("10.0.0.0/26"), Cidr.parse("10.0.0.128/26")])
    assert str(a.first_fit(27, "a")) == "10.0.0.0/27"
    a.occupy(Cidr.parse("10.0.0.64/26"), "outside")  # between the containers: changes nothing
    a.occupy(Cidr.parse("10.0.0.128/25"), "around")  # holds all of the second container
    assert str(a.first_fit(27, "b")) == "10.0.0.32/27"
    assert a.first_fit(27, "c") is None
    a.release(Cidr.parse("10.0.0.128/25"))
    assert str(a.first_fit(26, "d")) == "10.0.0.128/26"


def release_heavy(version, container, prefixes, explicit, ops, share, seed):
    rng = random.Random(seed)
    c = Cidr.parse(container)
    a, ref = BlockAllocator(version, [c]), Reference(version, [c])
    for n in range(explicit):  # scattered explicit blocks first, as recorded ones are
        prefix = rng.choice(prefixes)
        block = c.subnet(prefix, rng.randrange(1 << (prefix - c.prefix)))
        assert as_tuple(a.take(block, f"x{n}")) == ref.take(block, f"x{n}")
    live = []
    for n in range(ops):
        if live and rng.random() < share:
            block = live.pop(rng.randrange(len(live)))
            a.release(block)
            ref.release(block)
            continue
        prefix = rng.choice(prefixes)
        got = a.first_fit(prefix, f"f{n}")
        assert got == ref.first_fit(prefix, f"f{n}"), (n, prefix)
        if got is not None:
            live.append(got)
    assert same_index_as_rebuilt(a)


def test_release_heavy_sequences_match_the_reference_v4():
    release_heavy(4, "10.0.0.0/16", [18, 20, 22, 24, 24, 26, 26, 28, 28, 29, 32], 30, 3000, 0.4, 1)
    release_heavy(4, "10.0.0.0/20", [22, 24, 26, 28, 32], 5, 3000, 0.3, 2)  # full most of the time


def test_release_heavy_sequences_match_the_reference_v6():
    release_heavy(6, "2408:4000::/40", [44, 48, 52, 56, 56, 60, 64, 64, 80], 30, 3000, 0.4, 3)
