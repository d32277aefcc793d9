"""The keep pass of the ENI layer (reconciler/desired/keep.py).

Its quick pass (exact ENIs read as integers, each space's batch checked whole) is held to the
definition, the pass that judges every block in order (``_judged``): on random ENIs, specs and
recorded blocks, including overlapping ones, blocks outside the vSwitch or its reservations and
text that is not canonical, both give the same kept blocks, the same exact ENIs, the same values
and the same blocks held in every space. The readers of a recorded ENI's fields are held to theirs.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.desired.compute import _Eni
from reconciler.desired.keep import _judged, _wanted, exact_blocks, held_canonical, keep
from reconciler.desired.vswitch_space import VSwitchSpace
from reconciler.models.compute import Count
from reconciler.net.cidr import Cidr, format_address
from reconciler.net.records import ENI_FIELDS

V4 = Cidr.parse("10.0.1.0/24")
V6 = Cidr.parse("2408:4000:0:1::/64")
RESERVATIONS = [Cidr.parse("10.0.1.64/28"), Cidr.parse("10.0.1.192/27")]

# ---- the quick pass against the judged one --------------------------------------------------------

def _mostly(clean, odd):
    """Mostly ``clean`` texts (few collisions: a converged plan's case), sometimes an ``odd`` one:
    outside the vSwitch or its reservations, system-reserved, not canonical, of the other version."""
    return st.one_of(*[clean] * 7, st.sampled_from(odd))


_ADDR4 = _mostly(st.integers(1, 250).map(lambda i: f"10.0.1.{i}"),
                 ["10.0.1.0", "10.0.1.255", "10.0.1.70", "10.0.2.9", "010.0.1.7", "10.0.1.17"])
_PFX4 = _mostly(st.integers(0, 15).map(lambda k: f"10.0.1.{16 * k}/28"),
                ["10.0.2.0/28", "10.0.1.16/27", "10.0.1.17/28", "2408:4000:0:1::/80", "10.0.1.64/28"])
_ADDR6 = _mostly(st.integers(1, 4000).map(lambda i: f"2408:4000:0:1::{i:x}"),
                 ["2408:4000:0:2::5", "2408:4000:0:1:0:0:0:7", "2408:4000:0:1::", "2408:4000:0:1::1:0:5", "10.0.1.9"])
_PFX6 = _mostly(st.integers(1, 60).map(lambda k: f"2408:4000:0:1:{k:x}::/80"),
                ["2408:4000:0:1:2:0::/80", "2408:4000:0:2::/80", "10.0.1.32/28", "2408:4000:0:1:1::/79"])


def _numeric(text: str) -> tuple:
    try:
        return (0, Cidr.parse(text if "/" in text else text + ("/128" if ":" in text else "/32")))
    except ValueError:
        return (1, text)


@st.composite
def _spec(draw):
    def field(explicit):
        counts = st.integers(0, 2).map(lambda n: Count(count=n))
        return draw(st.one_of(st.none(), st.none(), counts, counts, st.lists(explicit, max_size=2)))
    def valid(texts, six=False):  # a spec's entries are validated before they get here
        return texts.filter(lambda text: _numeric(text)[0] == 0 and text[0] != "0" and (":" in text) == six)
    return SimpleNamespace(primary_ip=draw(st.one_of(st.none(), st.none(), st.none(), valid(_ADDR4))),
                           secondary_private_ips=field(valid(_ADDR4)), ipv4_prefixes=field(valid(_PFX4)),
                           ipv6_addresses=field(valid(_ADDR6, True)), ipv6_prefixes=field(valid(_PFX6, True)))


@st.composite
def _recorded(draw, vswitches, spec=None):
    """An ENI's recorded attributes; given its spec, mostly what the spec asks for (exact ENIs are
    the common case of a converged plan), in any order, and sometimes more or less."""
    texts = {"secondary_private_ips": _ADDR4, "ipv4_prefixes": _PFX4, "ipv6_addresses": _ADDR6, "ipv6_prefixes": _PFX6}
    a = {"vswitch": draw(st.sampled_from(vswitches)), "primary_ip": draw(st.one_of(st.none(), _ADDR4, _ADDR4, _ADDR4))}
    for key, pool in texts.items():
        want = getattr(spec, key, None)
        if isinstance(want, Count) and draw(st.integers(0, 4)):
            size = want.count
        elif isinstance(want, list) and draw(st.booleans()):
            a[key] = list(want)
            continue
        else:
            size = draw(st.integers(0, 2)) if draw(st.integers(0, 5)) == 0 else 0
        a[key] = draw(st.lists(pool, min_size=size, max_size=size))
    if draw(st.integers(0, 3)):  # mostly as eni_attributes writes them
        for key in texts:
            a[key] = sorted(set(a[key]), key=_numeric)
    return a


def _world(reserved: bool, with_v6: bool):
    pairs = {}

    def spaces_of(vswitch):
        if vswitch not in pairs:
            v4 = VSwitchSpace(f"eni4:{vswitch}", V4, RESERVATIONS if reserved and vswitch == "a" else [])
            v6 = VSwitchSpace(f"eni6:{vswitch}", V6, []) if with_v6 or vswitch == "b" else None
            pairs[vswitch] = {4: v4, 6: v6}
        return pairs[vswitch]
    return pairs, spaces_of


def _outcome(kept, enis, pairs):
    held = {vs: sorted(s.held) for vs, pair in sorted(pairs.items()) for s in pair.values() if s is not None
            for vs in [f"{s.key}"]}
    return (kept, [(e.address, e.exact is not None, {k: v for k, v in e.values.items()}) for e in enis], held)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(_spec(), st.sampled_from(["a", "b"])).flatmap(lambda sv: st.tuples(
                    st.just(sv[0]), st.just(sv[1]), _recorded([sv[1]] * 4 + ["a", "b"], sv[0]),
                    st.integers(0, 4).map(bool))),
                min_size=1, max_size=6),
       st.booleans(), st.booleans(), st.lists(st.sampled_from(["10.0.1.70/32", "10.0.1.16/28"]), max_size=1))
def test_the_quick_pass_keeps_what_judging_every_block_keeps(rows, reserved, with_v6, managed):
    outcomes = []
    for judge in (keep, _judged):
        enis, recorded = [], {}
        for i, (spec, vswitch, attributes, has_record) in enumerate(rows):
            e = _Eni(f"eni.e{i}", f"e{i}", spec, ("enis", f"e{i}"), i, vswitch)
            enis.append(e)
            if has_record:
                recorded[e.address] = {"type": "eni", "name": e.name, "attributes": dict(attributes)}
        pairs, spaces_of = _world(reserved, with_v6)
        for block in managed:  # a managed ENI occupies before the pass
            spaces_of("a")[4].occupy(Cidr.parse(block), "eni.m (managed)")
        try:
            kept = judge(enis, recorded, spaces_of)
        except (ValueError, TypeError) as exc:  # text no parser takes: both must refuse it alike
            outcomes.append(type(exc))
            continue
        outcomes.append(_outcome(kept, enis, pairs))
    assert outcomes[0] == outcomes[1]


def _one(spec_fields: dict, attributes: dict, vswitch: str = "a", reserved: bool = False, with_v6: bool = True):
    """keep's and _judged's outcome for one ENI with a record."""
    fields = {"primary_ip": None, "secondary_private_ips": None, "ipv4_prefixes": None, "ipv6_addresses": None,
              "ipv6_prefixes": None, **spec_fields}
    outcomes = []
    for judge in (keep, _judged):
        e = _Eni("eni.e0", "e0", SimpleNamespace(**fields), ("enis", "e0"), 0, vswitch)
        pairs, spaces_of = _world(reserved, with_v6)
        kept = judge([e], {"eni.e0": {"type": "eni", "name": "e0", "attributes": dict(attributes)}}, spaces_of)
        outcomes.append(_outcome(kept, [e], pairs))
    return outcomes


@pytest.mark.parametrize("spec_fields, attributes, world", [
    # a /28 outside the vSwitch's prefix reservations
    ({"ipv4_prefixes": Count(count=1)}, {"ipv4_prefixes": ["10.0.1.16/28"]}, {"reserved": True}),
    # IPv6 blocks on a vSwitch with no IPv6 block
    ({"ipv6_addresses": Count(count=1)}, {"ipv6_addresses": ["2408:4000:0:1::5"]}, {"with_v6": False}),
    # a block outside the vSwitch
    ({"secondary_private_ips": Count(count=1)}, {"secondary_private_ips": ["10.0.2.9"]}, {}),
    # a system-reserved address
    ({"secondary_private_ips": Count(count=1)}, {"secondary_private_ips": ["10.0.1.255"]}, {}),
    # an IPv6 prefix in the IPv4 prefixes
    ({"ipv4_prefixes": Count(count=1)}, {"ipv4_prefixes": ["2408:4000:0:1:1::/80"]}, {}),
    # two of its own blocks overlapping
    ({"secondary_private_ips": Count(count=1), "ipv4_prefixes": Count(count=1)},
     {"secondary_private_ips": ["10.0.1.17"], "ipv4_prefixes": ["10.0.1.16/28"]}, {}),
])
def test_a_batch_that_does_not_fit_is_judged_block_by_block(spec_fields, attributes, world):
    quick, judged = _one(spec_fields, {"vswitch": "a", "primary_ip": "10.0.1.5", **attributes}, **world)
    assert quick == judged
    assert quick[0]["eni.e0"] is not True  # something it holds is refused


@pytest.mark.parametrize("attributes", [
    {"secondary_private_ips": ["10.0.1.12", "10.0.1.11"]},  # not sorted
    {"secondary_private_ips": ["10.0.1.11", "10.0.1.12"], "ipv6_addresses": ["2408:4000:0:1::5"]},  # more held
    {"secondary_private_ips": ["10.0.1.11"]},  # fewer held
    {"secondary_private_ips": ["10.0.1.11", "10.0.1.12"], "primary_ip": None},  # no primary address
    {"secondary_private_ips": ("10.0.1.11", "10.0.1.12")},  # not a list
])
def test_exact_blocks_turns_away_a_record_not_written_as_asked(attributes):
    a = {"vswitch": "a", "primary_ip": "10.0.1.5", **attributes}
    wants = (("secondary_private_ips", 4, Count(count=2)),)
    assert exact_blocks(wants, True, a) is None
    assert exact_blocks(wants, True, {**a, "secondary_private_ips": ["10.0.1.11", "10.0.1.12"],
                                      "ipv6_addresses": [], "primary_ip": "10.0.1.5"}) is not None


def test_an_overlap_between_two_exact_enis_is_judged_in_order():
    spec = SimpleNamespace(primary_ip=None, secondary_private_ips=Count(count=1), ipv4_prefixes=None,
                           ipv6_addresses=None, ipv6_prefixes=None)
    enis = [_Eni(f"eni.e{i}", f"e{i}", spec, ("enis", f"e{i}"), i, "a") for i in range(2)]
    recorded = {e.address: {"type": "eni", "name": e.name, "attributes": {
        "vswitch": "a", "primary_ip": f"10.0.1.{10 + i}", "secondary_private_ips": ["10.0.1.20"]}}
        for i, e in enumerate(enis)}
    pairs, spaces_of = _world(False, False)
    kept = keep(enis, recorded, spaces_of)
    assert kept["eni.e0"] is True and enis[0].exact is not None  # the first keeps what it holds
    assert kept["eni.e1"] == [Cidr.parse("10.0.1.11/32")]  # the second only its primary address
    assert enis[1].values == {"primary_ip": [Cidr.parse("10.0.1.11/32")]}  # (not all kept: resolve judges it
    # the long way, and the count pass gives it a new secondary address)


def test_a_converged_batch_makes_no_block_objects_and_holds_every_block():
    spec = SimpleNamespace(primary_ip=None, secondary_private_ips=Count(count=2), ipv4_prefixes=Count(count=1),
                           ipv6_addresses=None, ipv6_prefixes=None)
    e = _Eni("eni.e0", "e0", spec, ("enis", "e0"), 0, "a")
    attributes = {"vswitch": "a", "primary_ip": "10.0.1.10", "secondary_private_ips": ["10.0.1.11", "10.0.1.12"],
                  "ipv4_prefixes": ["10.0.1.16/28"]}
    assert exact_blocks(e.wants, True, attributes) == [(4, V4.start + 10, 32), (4, V4.start + 11, 32),
                                                       (4, V4.start + 12, 32), (4, V4.start + 16, 28)]
    pairs, spaces_of = _world(False, False)
    assert keep([e], {"eni.e0": {"type": "eni", "name": "e0", "attributes": attributes}}, spaces_of) == {"eni.e0": True}
    assert e.exact is attributes and e.values == {}
    space = pairs["a"][4]
    assert space._taken is None and not space._auto  # no allocator was needed
    assert space.conflict(Cidr.parse("10.0.1.20/32")).holder == "eni.e0"  # held, by its holder


# ---- exact_blocks against the long way's verdict ----------------------------------------------------

@settings(max_examples=1000, deadline=None)
@given(_spec().flatmap(lambda spec: st.tuples(st.just(spec), _recorded(["a"], spec))))
def test_exact_blocks_agrees_with_the_long_way(case):
    spec, attributes = case
    e = _Eni("eni.e", "e", spec, ("enis", "e"), 0, "a")
    quick = exact_blocks(e.wants, spec.primary_ip is None, attributes)
    try:
        held, _ = held_canonical(attributes)
    except (ValueError, TypeError):
        assert quick is None
        return
    _wanted(e, attributes, {4: "space4", 6: "space6"}, {})
    versions_match = all(b.version == version for key, version in ENI_FIELDS for b in held.get(key, ()))
    if quick is not None:
        assert e.exact is attributes and versions_match
        assert sorted(quick) == sorted((b.version, b.start, b.prefix) for bs in held.values() for b in bs)
    elif spec.primary_ip is None and all(type(w) is Count for _, _, w in e.wants) and versions_match:
        assert e.exact is None  # the quick reader turns away no exact ENI it could read


# ---- reading a recorded ENI's fields: the quick reader against the definition -------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st

from reconciler.desired.keep import held_blocks as _held  # noqa: E402,F811
from reconciler.desired.keep import held_canonical as _held_canonical

_V4 = ["10.0.0.5", "10.0.0.17", "10.0.0.4", "010.0.0.5", "10.0.0.5/32", " 10.0.0.6", "2408:4000::5"]
_V6 = ["2408:4000::5", "2408:4000:0:0::6", "2408:4000::A", "2408:4000::4", "::ffff:1.2.3.4", "::ffff:102:304",
       "::5", "0::6", "2408:4000::5/128", "10.0.0.9"]
_P4 = ["10.0.1.0/28", "10.0.0.16/28", "10.0.1.0/028", "10.0.1.1/28", "10.0.2.0/ 28", "2408:4000::/80", "10.0.1.0"]
_P6 = ["2408:4000::/80", "2408:4000:0:0:1::/80", "2408:4000:0:0:0:1::/80", "2408:4000::1:0:0/80", "2408:4000::/79",
       "::/80", "0::/80", "2408:4000::1/80", "10.0.3.0/28", "2408:4000:0:0:0:2::/80"]


def _field(texts, scalar=False):
    items = st.lists(st.sampled_from(texts), max_size=4)
    value = st.one_of(items, items.map(tuple), st.sampled_from(texts), st.none(), st.just(7)) if not scalar \
        else st.one_of(st.sampled_from(texts), st.none(), st.lists(st.sampled_from(texts), max_size=2))
    return value


def _written(block, key):
    return str(block) if key.endswith("prefixes") else format_address(block.version, block.start)


def _definition(a):
    """What _held_canonical must give: _held's blocks, and whether each field is exactly as
    eni_attributes writes those blocks (a string for the primary address, sorted lists). The IP
    version is not judged here (an address of the other version has host bits in _held)."""
    held = _held({k: v for k, v in a.items() if v})  # (an empty field holds nothing)
    canonical = True
    for key, _ in ENI_FIELDS:
        value = a.get(key)
        if not value:
            continue
        blocks = held[key]
        if key == "primary_ip":
            canonical &= type(value) is str and value == _written(blocks[0], key)
        else:
            canonical &= type(value) is list and value == [_written(b, key) for b in sorted(blocks)]
    return held, canonical


@settings(max_examples=3000, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    "primary_ip": _field(_V4, scalar=True), "secondary_private_ips": _field(_V4), "ipv4_prefixes": _field(_P4),
    "ipv6_addresses": _field(_V6), "ipv6_prefixes": _field(_P6)}))
def test_quick_reader_of_held_blocks_agrees_with_the_definition(a):
    try:
        expected = _definition(a)
    except (ValueError, TypeError) as exc:
        try:
            _held_canonical(a)
        except type(exc):
            return
        raise AssertionError(f"no error for {a}")
    held, canonical = _held_canonical(a)
    assert (dict(held), canonical) == expected
