"""CIDR values: parsing rules (standard blocks only) and integer-range arithmetic."""

import pytest

from reconciler.net.cidr import Cidr, CidrSyntaxError


def test_parse_ipv4_and_ipv6():
    c = Cidr.parse("10.32.0.0/11")
    assert (c.version, c.start, c.prefix) == (4, 10 << 24 | 32 << 16, 11)
    assert str(c) == "10.32.0.0/11"
    assert c.end == (10 << 24 | 63 << 16 | 255 << 8 | 255)
    v6 = Cidr.parse("2408:4000::/56")
    assert v6.version == 6 and v6.size == 2**72 and str(v6) == "2408:4000::/56"


@pytest.mark.parametrize("text, code", [
    ("10.0.0.1/8", "InvalidParameter.CidrNotStandard"),
    ("2408:4000::1/56", "InvalidParameter.CidrNotStandard"),
    ("10.0.0.0", "InvalidParameter.Cidr"),
    ("10.0.0.0/33", "InvalidParameter.Cidr"),
    ("10.0.0/8", "InvalidParameter.Cidr"),
    ("10.0.0.256/32", "InvalidParameter.Cidr"),
    ("010.0.0.0/8", "InvalidParameter.Cidr"),
    ("::/129", "InvalidParameter.Cidr"),
    ("10.0.0.0/x", "InvalidParameter.Cidr"),
    ("١٠.0.0.0/8", "InvalidParameter.Cidr"),
])
def test_rejects_non_standard_and_malformed(text, code):
    with pytest.raises(CidrSyntaxError) as err:
        Cidr.parse(text)
    assert err.value.code == code


def test_host_bits_message_names_the_standard_block():
    with pytest.raises(CidrSyntaxError, match="10.0.0.0/8"):
        Cidr.parse("10.1.2.3/8")


def test_contains_and_overlaps_without_enumerating():
    big = Cidr.parse("2408::/16")  # 2**112 addresses: arithmetic only
    assert big.contains(Cidr.parse("2408:4000::/56"))
    assert not big.contains(Cidr.parse("2409::/56"))
    a, b = Cidr.parse("10.0.0.0/16"), Cidr.parse("10.0.255.0/24")
    assert a.overlaps(b) and b.overlaps(a) and a.contains(b) and not b.contains(a)
    assert not Cidr.parse("10.0.0.0/16").overlaps(Cidr.parse("10.1.0.0/16"))
    assert not Cidr.parse("0.0.0.0/0").overlaps(Cidr.parse("::/0"))


def test_subnet_and_ordering():
    c = Cidr.parse("10.0.0.0/8")
    assert str(c.subnet(11, 1)) == "10.32.0.0/11"
    assert sorted([Cidr.parse("10.1.0.0/16"), Cidr.parse("10.0.0.0/16")])[0] == Cidr.parse("10.0.0.0/16")
    assert Cidr.parse("10.0.0.0/24").netmask == "255.255.255.0"


def test_exclude_covers_the_rest_exactly():
    from reconciler.net.cidr import exclude

    block = Cidr.parse("10.0.0.0/24")
    rest = exclude(block, [Cidr.parse("10.0.0.64/26"), Cidr.parse("10.0.0.200/30")])
    assert sum(c.size for c in rest) == 256 - 64 - 4
    assert not any(c.overlaps(Cidr.parse("10.0.0.64/26")) or c.overlaps(Cidr.parse("10.0.0.200/30")) for c in rest)
    assert exclude(block, []) == [block] and exclude(block, [Cidr.parse("10.0.0.0/16")]) == []
