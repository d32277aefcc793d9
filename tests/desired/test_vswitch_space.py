"""A vSwitch's ENI space: keeping a batch of blocks gives what taking them one by one gives (which
were taken, who holds what, and what the counts get next), whether the batch is clean (no allocator
built) or not (overlaps, blocks outside the vSwitch or outside its prefix reservations)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.desired.vswitch_space import VSwitchSpace
from reconciler.net.cidr import Cidr

VSW = Cidr.parse("10.0.1.0/24")
RESERVATIONS = [Cidr.parse("10.0.1.64/28"), Cidr.parse("10.0.1.192/27")]


@st.composite
def blocks(draw):
    """(block, holder): mostly addresses and /28s inside the vSwitch, some outside or overlapping."""
    kind = draw(st.sampled_from(["address", "address", "address", "prefix", "outside", "system"]))
    if kind == "address":
        block = Cidr(4, VSW.start + draw(st.integers(0, 255)), 32)
    elif kind == "prefix":
        block = Cidr(4, VSW.start + 16 * draw(st.integers(0, 15)), 28)
    elif kind == "outside":
        block = Cidr(4, VSW.end + 1 + draw(st.integers(0, 255)), 32)
    else:
        block = Cidr(4, VSW.start + draw(st.sampled_from([0, 252, 253, 254, 255])), 32)
    return block, f"eni.e{draw(st.integers(0, 5))}"


def state(space: VSwitchSpace) -> list:
    return sorted((str(b), who) for who, b in space.taken.holders_within(Cidr(4, 0, 0)))


@settings(max_examples=400, deadline=None)
@given(st.lists(blocks(), max_size=40), st.booleans(), st.lists(st.sampled_from([32, 28]), max_size=12),
       st.lists(blocks(), max_size=3))
def test_a_batch_is_taken_as_one_by_one(batch, reserved, counts, before):
    reservations = RESERVATIONS if reserved else []
    one, many = VSwitchSpace("eni4:v", VSW, reservations), VSwitchSpace("eni4:v", VSW, reservations)
    for block, holder in before:  # managed ENIs: occupied whatever they overlap
        one.occupy(block, holder)
        many.occupy(block, holder)
    expect = [one.take(block, holder) is None for block, holder in batch]
    assert many.keep_all(batch) == expect
    for prefix in counts:
        assert many.first_fit(prefix, "eni.count") == one.first_fit(prefix, "eni.count")
    assert state(many) == state(one)


def test_a_clean_batch_builds_no_allocator():
    space = VSwitchSpace("eni4:v", VSW, [])
    batch = [(Cidr(4, VSW.start + i, 32), "eni.a") for i in (5, 6, 9)] + [(Cidr.parse("10.0.1.16/28"), "eni.b")]
    assert space.keep_all(batch) == [True] * 4
    assert space._taken is None and not space._auto
    assert space.first_fit(32, "eni.c") == Cidr.parse("10.0.1.1/32")
    assert space.conflict(Cidr.parse("10.0.1.6/32")).holder == "eni.a"


def test_an_overlap_in_the_batch_is_refused_to_the_later_block():
    space = VSwitchSpace("eni4:v", VSW, [])
    batch = [(Cidr.parse("10.0.1.16/28"), "eni.a"), (Cidr.parse("10.0.1.17/32"), "eni.b"),
             (Cidr.parse("10.0.1.255/32"), "eni.c"), (Cidr.parse("10.0.2.1/32"), "eni.d")]
    assert space.keep_all(batch) == [True, False, False, False]
    assert space.conflict(Cidr.parse("10.0.1.17/32")).holder == "eni.a"


@settings(max_examples=400, deadline=None)
@given(st.lists(blocks(), max_size=30), st.booleans(), st.lists(blocks(), max_size=3))
def test_ranges_fit_as_the_same_blocks_do(batch, reserved, before):
    """fits() on integer ranges (the keep pass's quick read) agrees with fits() on blocks, and says
    yes only where taking every block one by one succeeds (it may say no where the blocks held
    already overlap each other: then the pass judges block by block); holding the ranges holds
    the same as keeping the blocks."""
    reservations = RESERVATIONS if reserved else []
    spaces = [VSwitchSpace("eni4:v", VSW, reservations) for _ in range(3)]
    for space in spaces:
        for block, holder in before:
            space.occupy(block, holder)
    as_ranges = [(b.start, b.end, b.prefix, holder) for b, holder in batch]
    one_by_one = all([spaces[2].take(block, holder) is None for block, holder in batch])
    fits = spaces[0].fits(as_ranges)
    assert fits == (spaces[1].ranges_of(batch) == as_ranges and spaces[1].fits(spaces[1].ranges_of(batch)))
    assert one_by_one or not fits
    if fits:
        spaces[0].hold_ranges(as_ranges)
        assert spaces[1].keep_all(batch) == [True] * len(batch)
        assert state(spaces[0]) == state(spaces[1]) == state(spaces[2])
