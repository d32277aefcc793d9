"""The two CIDR parsers agree on every input: the fast path of ``Cidr.parse`` / ``parse_ints``
(``inet_pton`` and a table of prefix lengths) against the validating parser it falls back to, which
words every error. Random text from the characters addresses are made of, and near-miss spellings of
real blocks (leading zeros, spaces, zone ids, host bits, embedded IPv4, ``/032``, Unicode digits).
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.net.cidr import Cidr, CidrSyntaxError, _parse, parse_ints

validating = _parse.__wrapped__  # the validating parser itself, without its cache


def outcome(fn, text):
    try:
        c = fn(text)
    except CidrSyntaxError as exc:
        return ("error", exc.code, str(exc))
    return ("ok",) + ((c.version, c.start, c.prefix) if isinstance(c, Cidr) else tuple(c))


def assert_same(text):
    want = outcome(validating, text)
    assert outcome(Cidr.parse, text) == want, text
    assert outcome(parse_ints, text) == want, text
    if want[0] == "ok":
        c = Cidr.parse(text)
        assert c == validating(text) and c.end == validating(text).end


CHARS = "0123456789abcdefABCDEF:./% \t\n" + "١٠²０"


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=CHARS, max_size=48))
def test_random_text(text):
    assert_same(text)


@st.composite
def near_misses(draw) -> str:
    version = draw(st.sampled_from([4, 6]))
    bits = 32 if version == 4 else 128
    prefix = draw(st.integers(0, bits))
    start = draw(st.integers(0, 2**bits - 1))
    if draw(st.booleans()):
        start &= ~((1 << (bits - prefix)) - 1)  # mostly standard blocks
    addr = str(ipaddress.ip_address(start) if version == 4 else ipaddress.IPv6Address(start))
    if version == 6 and draw(st.booleans()):
        addr = ipaddress.IPv6Address(start).exploded
        if draw(st.booleans()):
            addr = addr.upper()
    if version == 6 and draw(st.booleans()):  # embedded IPv4 in the last 32 bits
        v4 = ipaddress.IPv4Address(start & 0xFFFFFFFF)
        addr = f"{ipaddress.IPv6Address(start & ~0xFFFFFFFF).exploded.rsplit(':', 2)[0]}:{v4}"
    plen = str(prefix)
    edit = draw(st.sampled_from(["none", "lead0", "plen0", "space", "zone", "dropdot", "bigoctet", "tripleplen",
                                 "noplen", "double", "unicode"]))
    if edit == "lead0":
        parts = addr.split(".") if version == 4 else addr.split(":")
        i = draw(st.integers(0, len(parts) - 1))
        parts[i] = "0" + parts[i]
        addr = (".".join if version == 4 else ":".join)(parts)
    elif edit == "plen0":
        plen = "0" + plen
    elif edit == "space":
        return draw(st.sampled_from([" ", "\t"])) + f"{addr}/{plen}" + draw(st.sampled_from(["", " ", "\n"]))
    elif edit == "zone":
        addr += "%eth0"
    elif edit == "dropdot":
        addr = addr.replace(".", "", 1).replace("::", ":", 1)
    elif edit == "bigoctet" and version == 4:
        addr = addr.rsplit(".", 1)[0] + ".256"
    elif edit == "tripleplen":
        plen = plen + "/" + plen
    elif edit == "noplen":
        return addr
    elif edit == "double":
        addr = addr + ":" + addr
    elif edit == "unicode":
        addr = addr.replace("1", "١")
    return f"{addr}/{plen}"


@settings(max_examples=3000, deadline=None)
@given(near_misses())
def test_near_misses(text):
    assert_same(text)


@pytest.mark.parametrize("text", [
    "10.0.0.0/8", "0.0.0.0/0", "255.255.255.255/32", "10.0.0.0/032", " 10.0.0.0/8", "10.0.0.0/8 ", "10.0.0.0 /8",
    "10.0.0.1/8", "10.0.0.0/33", "10.0.0/8", "10.0.0.256/32", "010.0.0.0/8", "10.0.0.00/32", "1.2.3.4.5/32",
    "::/0", "::/129", "2408:4000::/56", "2408:4000::1/56", "2408:4000:0:0:0:0:0:0/32", "::ffff:1.2.3.4/128",
    "::ffff:1.2.3.04/128", "::1.2.3.4/128", "1:2:3:4:5:6:7::/128", "1:2:3:4:5:6:7:8::/128", "::1:2:3:4:5:6:7/128",
    "1::2::3/128", "fe80::1%eth0/128", "12345::/16", ":::/128", "2408:4000::/56/56", "10.0.0.0/+8", "10.0.0.0/-8",
    "10.0.0.0/8\x00", "10.0.0\x00.0/8", "\ud800/8", "١٠.0.0.0/8", "10.0.0.0/²", "", "/", "/8", "10.0.0.0/",
])
def test_spellings(text):
    assert_same(text)


@pytest.mark.parametrize("value", [None, 10, 10.5, b"10.0.0.0/8", ["10.0.0.0/8"], {"a": 1}])
def test_what_is_not_text_is_refused_as_before(value):
    """Not a string: the same exception as before the fast path (an unhashable value still meets the
    parser's cache first)."""
    def result(fn):
        try:
            return ("ok", fn(value))
        except Exception as exc:  # noqa: BLE001 - the exact exception (type and words) must not change
            return (type(exc), str(exc))

    want = result(_parse)
    assert want[0] in (CidrSyntaxError, TypeError)
    assert result(Cidr.parse) == want
    assert result(parse_ints) == want


def test_cidr_is_still_a_frozen_ordered_value():
    a, b = Cidr(4, 10 << 24, 8), Cidr.parse("10.0.0.0/8")
    assert a == b and hash(a) == hash(b) and a.end == b.end == (11 << 24) - 1
    assert Cidr(4, 10 << 24, 8) < Cidr(4, 10 << 24, 16) < Cidr(6, 0, 0)
    assert repr(Cidr.parse("10.0.0.0/8")) == "Cidr('10.0.0.0/8')"
    with pytest.raises(AttributeError):
        a.start = 0
    assert Cidr(version=6, start=0, prefix=0).end == 2**128 - 1


@st.composite
def ipv6_values(draw) -> int:
    words = draw(st.lists(st.sampled_from([0, 0, 1, 0xFFFF]) | st.integers(0, 0xFFFF), min_size=8, max_size=8))
    value = 0
    for w in words:
        value = value << 16 | w
    return draw(st.sampled_from([value, value & (2**48 - 1), value & (2**32 - 1), value | 0xFFFF << 32 & (2**48 - 1)]))


@settings(max_examples=3000, deadline=None)
@given(ipv6_values())
def test_ipv6_text_is_ipaddress_text(value):
    from reconciler.net.cidr import format_address

    assert format_address(6, value) == str(ipaddress.IPv6Address(value))
    assert str(Cidr(6, value, 128)) == f"{ipaddress.IPv6Address(value)}/128"


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.text(alphabet=CHARS, max_size=40), near_misses().map(lambda t: t.rsplit("/", 1)[0])),
       st.sampled_from([4, 6]))
def test_address_block_is_the_parse_of_a_host_block(text, version):
    from reconciler.net.cidr import address_block

    want = outcome(validating, f"{text}/{32 if version == 4 else 128}")
    assert outcome(lambda t: address_block(t, version), text) == want
