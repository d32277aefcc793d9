"""CIDR blocks as values: an IP version, a first address as an integer, and a prefix length.

All address arithmetic works on integer ranges; nothing here enumerates the addresses of a block
(an IPv6 /32 holds 2**96 of them). Parsing takes a fast path for text in canonical form (the C
library's strict ``inet_pton`` and a table of prefix lengths, no cache and no :mod:`ipaddress`
objects: :func:`parse_ints` for bulk work on integers, :meth:`Cidr.parse` for values); anything
else (spaces, ``/032``, host bits, garbage) goes to the validating parser, whose result or error
is the one the user sees, so both paths agree on every input.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache
from socket import AF_INET, AF_INET6, inet_ntop, inet_pton

BITS = {4: 32, 6: 128}


class CidrSyntaxError(ValueError):
    """A string that is not a CIDR block; ``rule`` names what is wrong with it."""

    def __init__(self, text: str, rule: str, code: str = "InvalidParameter.Cidr"):
        self.text, self.rule, self.code = text, rule, code
        super().__init__(f"{text!r} is not a valid CIDR block: {rule}")


@dataclass(frozen=True, slots=True, order=True, init=False)
class Cidr:
    """A standard CIDR block (no host bits). Ordered by version, then first address, then size."""

    version: int
    start: int
    prefix: int
    end: int = field(init=False, compare=False, repr=False)  # last address, inclusive

    def __init__(self, version: int, start: int, prefix: int) -> None:
        # the slots' own setters: a frozen dataclass's __init__ goes through object.__setattr__,
        # three times slower, and blocks are made by the hundred thousand
        _set_version(self, version)
        _set_start(self, start)
        _set_prefix(self, prefix)
        _set_end(self, start + (1 << (BITS[version] - prefix)) - 1)

    # ---- construction -------------------------------------------------------------------
    @staticmethod
    def parse(text: str) -> "Cidr":
        """Parse ``a.b.c.d/n`` or an IPv6 ``x::/n``; host bits are an error, never masked off."""
        if type(text) is str:
            addr, _, plen = text.partition("/")
            prefix = _PREFIX.get(plen)
            if prefix is not None:
                try:
                    if ":" in addr:
                        version, bits, start = 6, 128, _from_bytes(inet_pton(AF_INET6, addr), "big")
                    else:
                        version, bits, start = 4, 32, _from_bytes(inet_pton(AF_INET, addr), "big")
                except (OSError, ValueError):
                    return _parse(text)
                if prefix <= bits and not start & ((1 << (bits - prefix)) - 1):
                    return Cidr(version, start, prefix)
        return _parse(text)

    @staticmethod
    def of(version: int, start: int, prefix: int) -> "Cidr":
        bits = BITS[version]
        if not 0 <= prefix <= bits:
            raise ValueError(f"prefix /{prefix} out of range for IPv{version}")
        if start & ((1 << (bits - prefix)) - 1):
            raise ValueError("start has host bits set")
        return Cidr(version, start, prefix)

    # ---- arithmetic ---------------------------------------------------------------------
    @property
    def bits(self) -> int:
        return BITS[self.version]

    @property
    def size(self) -> int:
        return 1 << (BITS[self.version] - self.prefix)

    def contains(self, other: "Cidr") -> bool:
        return (
            self.version == other.version
            and self.prefix <= other.prefix
            and self.start <= other.start
            and other.end <= self.end
        )

    def overlaps(self, other: "Cidr") -> bool:
        return self.version == other.version and self.start <= other.end and other.start <= self.end

    def contains_address(self, version: int, value: int) -> bool:
        return version == self.version and self.start <= value <= self.end

    def subnet(self, prefix: int, index: int) -> "Cidr":
        """The ``index``-th block of length ``prefix`` inside this one."""
        if prefix < self.prefix or prefix > self.bits:
            raise ValueError(f"/{prefix} does not fit in {self}")
        step = 1 << (self.bits - prefix)
        if not 0 <= index < (1 << (prefix - self.prefix)):
            raise ValueError(f"index {index} out of range for /{prefix} in {self}")
        return Cidr(self.version, self.start + index * step, prefix)

    @property
    def netmask(self) -> str:
        """Dotted netmask (IPv4) or ``/n`` (IPv6)."""
        if self.version == 4:
            mask = (0xFFFFFFFF << (32 - self.prefix)) & 0xFFFFFFFF
            return format_address(4, mask)
        return f"/{self.prefix}"

    # ---- text ---------------------------------------------------------------------------
    def __str__(self) -> str:
        return f"{format_address(self.version, self.start)}/{self.prefix}"

    def __repr__(self) -> str:
        return f"Cidr({str(self)!r})"


_set_version, _set_start, _set_prefix, _set_end = (Cidr.__dict__[k].__set__ for k in ("version", "start", "prefix", "end"))
_PREFIX = {str(n): n for n in range(129)}  # canonical prefix lengths; "/032" and the like take the slow path
_from_bytes = int.from_bytes


def parse_ints(text: str) -> tuple[int, int, int]:
    """``(version, start, prefix)`` of a CIDR block's text, as :meth:`Cidr.parse` reads it (same
    result, same errors) without making a :class:`Cidr`: for bulk work on integer ranges."""
    if type(text) is str:
        addr, _, plen = text.partition("/")
        prefix = _PREFIX.get(plen)
        if prefix is not None:
            try:
                if ":" in addr:
                    version, bits, start = 6, 128, _from_bytes(inet_pton(AF_INET6, addr), "big")
                else:
                    version, bits, start = 4, 32, _from_bytes(inet_pton(AF_INET, addr), "big")
            except (OSError, ValueError):
                version = bits = 0
            if bits and prefix <= bits and not start & ((1 << (bits - prefix)) - 1):
                return version, start, prefix
    c = _parse(text)
    return c.version, c.start, c.prefix


def address_block(text: str, version: int) -> Cidr:
    """The /32 (``version`` 4) or /128 block of an address's text: what ``Cidr.parse(f"{text}/32")``
    (or ``/128``) gives, result and errors, without building that text first."""
    if type(text) is str:
        try:
            if version == 4:
                return Cidr(4, _from_bytes(inet_pton(AF_INET, text), "big"), 32)
            return Cidr(6, _from_bytes(inet_pton(AF_INET6, text), "big"), 128)
        except (OSError, ValueError):
            pass
    return Cidr.parse(f"{text}/{32 if version == 4 else 128}")


def exclude(block: Cidr, holes: list[Cidr]) -> list[Cidr]:
    """The standard blocks covering ``block`` minus ``holes`` (at most two per bit of depth)."""
    holes = [h for h in holes if h.overlaps(block)]
    if not holes:
        return [block]
    if any(h.contains(block) for h in holes):
        return []
    half = block.prefix + 1
    return exclude(block.subnet(half, 0), holes) + exclude(block.subnet(half, 1), holes)


def format_address(version: int, value: int) -> str:
    if version == 4:
        return f"{value >> 24 & 255}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"
    if value >> 48:  # the C library writes the rest as ipaddress does (RFC 5952); it dots ::a.b.c.d forms
        return inet_ntop(AF_INET6, value.to_bytes(16, "big"))
    return str(ipaddress.IPv6Address(value))


def parse_address(text: str) -> tuple[int, int]:
    """Parse a single IP address to ``(version, integer)``."""
    if "%" in text:
        raise CidrSyntaxError(text, "a zone id (%...) has no place in an address", "InvalidParameter.IpAddress")
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError as exc:
        raise CidrSyntaxError(text, "not an IP address", "InvalidParameter.IpAddress") from exc
    return addr.version, int(addr)


def _parse_v4(addr: str, text: str) -> int:
    parts = addr.split(".")
    if len(parts) != 4:
        raise CidrSyntaxError(text, "an IPv4 address has four dotted parts")
    value = 0
    for part in parts:
        if not part.isdigit() or not part.isascii() or (len(part) > 1 and part[0] == "0"):
            raise CidrSyntaxError(text, f"{part!r} is not a decimal octet")
        octet = int(part)
        if octet > 255:
            raise CidrSyntaxError(text, f"octet {octet} is over 255")
        value = (value << 8) | octet
    return value


@lru_cache(maxsize=4096)
def _parse(text: str) -> Cidr:
    """The validating parser: the fast path's fallback, and the one that words every error."""
    if not isinstance(text, str):
        raise CidrSyntaxError(repr(text), "a CIDR block is a string such as 10.0.0.0/16")
    raw = text.strip()
    if raw and raw != text:  # " 10.0.0.0/16", a block scalar's "10.0.0.0/16\n": what the cloud would refuse
        raise CidrSyntaxError(text, "a CIDR block has no surrounding whitespace or line break")
    if "/" not in raw:
        raise CidrSyntaxError(text, "a CIDR block needs a prefix length, e.g. /16")
    addr, _, plen = raw.partition("/")
    if "%" in addr:
        raise CidrSyntaxError(text, "a zone id (%...) has no place in a CIDR block")
    if not plen.isdigit() or not plen.isascii() or len(plen) > 3:
        raise CidrSyntaxError(text, f"prefix length {plen!r} is not a number")
    if len(plen) > 1 and plen[0] == "0":  # /016 as octets with leading zeros are: not the canonical /16
        raise CidrSyntaxError(text, f"prefix length {plen!r} has a leading zero; write /{int(plen)}")
    prefix = int(plen)
    if ":" in addr:
        version = 6
        try:
            start = int(ipaddress.IPv6Address(addr))
        except ValueError as exc:
            raise CidrSyntaxError(text, "not an IPv6 address") from exc
    else:
        version = 4
        start = _parse_v4(addr, text)
    bits = BITS[version]
    if prefix > bits:
        raise CidrSyntaxError(text, f"prefix /{prefix} is longer than {bits} bits")
    if start & ((1 << (bits - prefix)) - 1):
        base = Cidr(version, start & ~((1 << (bits - prefix)) - 1), prefix)
        raise CidrSyntaxError(
            text, f"host bits are set; the standard block is {base}", "InvalidParameter.CidrNotStandard"
        )
    return Cidr(version, start, prefix)
