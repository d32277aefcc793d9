"""The keep pass of the ENI layer: what each recorded ENI keeps of the blocks it holds.

Every ENI keeps what it holds and still asks for, in declaration order, one batch per vSwitch space
(:meth:`reconciler.desired.vswitch_space.VSwitchSpace.keep_all`); a block that lies outside its space, outside
the prefix reservations, or over a block kept before it, is refused. An ENI whose spec asks for
exactly what it holds, recorded as :func:`reconciler.desired.compute.eni_attributes` writes it, is
*exact*: its record is copied and the explicit and count passes have nothing to do for it.

In a converged plan nearly every ENI is exact and every space's blocks fit. So the pass first reads
the exact ENIs' blocks as integers (:func:`exact_blocks`, no ``Cidr`` made), the others as blocks,
and checks each space's batch whole (:meth:`~reconciler.desired.vswitch_space.VSwitchSpace.fits` on integer ranges); when
every batch fits, every block is kept, in any order. Only when some batch does not fit is every ENI
judged block by block, in order (:func:`_judged`): the rule is the same, the quick pass only skips
the work that cannot change its result.
"""

from __future__ import annotations

from socket import AF_INET, AF_INET6, inet_ntop, inet_pton
from typing import (
    Any,
    Callable,
    Iterator,
    Literal,
    Mapping,
    Protocol,
    Sequence,
    TypeAlias,
    cast,
)

from reconciler.desired.vswitch_space import Range, VSwitchSpace
from reconciler.models.compute import AddressSet, Count
from reconciler.net.address import ResourceAddress
from reconciler.net.cidr import Cidr, address_block, format_address
from reconciler.net.records import ENI_FIELDS

PREFIX = {"ipv4_prefixes": 28, "ipv6_prefixes": 80}
_from_bytes = int.from_bytes
_PREFIX_TEXT = {str(n): n for n in range(129)}  # prefix lengths as str() writes them
Kept: TypeAlias = dict[ResourceAddress, Literal[True] | list[Cidr]]
"""Address -> True (keeps every block it holds) or the list of blocks it keeps."""

Want: TypeAlias = tuple[str, int, str | list[str] | Count]
"""(field, IP version, what the spec asks: the primary address, a list of entries or a count)."""

Spaces: TypeAlias = Mapping[int, VSwitchSpace | None]  # IP version -> a vSwitch's space (None: no block)
SpacesOf: TypeAlias = Callable[[str | None], Spaces]  # a vSwitch's name -> its spaces
Records: TypeAlias = Mapping[ResourceAddress, Mapping[str, Any]]  # JSON-like records by address


class Eni(Protocol):
    """What the keep pass reads and sets of an ENI (:class:`reconciler.desired.compute._Eni`)."""

    address: ResourceAddress
    vswitch: str | None
    spec: AddressSet
    wants: tuple[Want, ...]  # of the fields the spec sets, in ENI_FIELDS order
    values: dict[str, list[Cidr]]  # field -> blocks placed
    exact: dict[str, Any] | None  # its recorded attributes, when it keeps exactly what it holds


_Items: TypeAlias = dict[VSwitchSpace, list[tuple[Eni, str, Cidr]]]  # space -> (ENI, field, block), in order


def keep(enis: Sequence[Eni], recorded: Records, spaces_of: SpacesOf) -> Kept:
    """What each recorded ENI of ``enis`` keeps (by address), setting ``exact`` and ``values`` on them."""
    kept = _fitting(enis, recorded, spaces_of)
    if kept is None:  # some batch does not fit: every block judged in order
        for e in enis:
            e.exact = None
        kept = _judged(enis, recorded, spaces_of)
    return kept


def _fitting(enis: Sequence[Eni], recorded: Records, spaces_of: SpacesOf) -> Kept | None:
    """The keep pass when every space's batch fits (then nothing is refused); None, with nothing
    held, when one does not."""
    ranges: dict[VSwitchSpace | None, list[Range]] = {}
    groups: _Items = {}  # of the ENIs read the long way
    exact: list[tuple[Eni, dict[str, Any]]] = []  # (ENI, its recorded attributes)
    holds: dict[ResourceAddress, int] = {}
    for e, attributes in _in_place(enis, recorded, holds):
        spaces = spaces_of(e.vswitch)
        blocks = exact_blocks(e.wants, e.spec.primary_ip is None, attributes)
        if blocks is not None:
            address = e.address
            for version, start, prefix in blocks:
                space = spaces[version]  # (None where the vSwitch has no block of that version)
                items = ranges.get(space)
                if items is None:
                    items = ranges[space] = []
                items.append((start, start + (1 << ((32 if version == 4 else 128) - prefix)) - 1, prefix, address))
            exact.append((e, attributes))
            continue
        holds[e.address] = _wanted(e, attributes, spaces, groups)
    if None in ranges:
        return None  # a block in a space the vSwitch lacks: refused
    batches = cast("dict[VSwitchSpace, list[Range]]", ranges)  # (None is not a key)
    for space, group in groups.items():  # the long way's blocks join their space's batch
        more = space.ranges_of([(block, e.address) for e, _, block in group])
        if more is None:
            return None
        batches.setdefault(space, []).extend(more)
    if not all(space.fits(spans) for space, spans in batches.items()):
        return None
    for space, spans in batches.items():  # every batch fits: hold them all
        space.hold_ranges(spans)
    kept: Kept = {}
    lists = cast("dict[ResourceAddress, list[Cidr]]", kept)  # (the same dict: lists until True is set below)
    for group in groups.values():
        for e, key, block in group:
            if e.exact is None:
                e.values.setdefault(key, []).append(block)
                lists.setdefault(e.address, []).append(block)
    for e, attributes in exact:
        e.exact = attributes
    for e in enis:
        if e.exact is not None:  # (read here or the long way)
            kept[e.address] = True
    return _whole(kept, holds)


def _judged(enis: Sequence[Eni], recorded: Records, spaces_of: SpacesOf) -> Kept:
    """The keep pass block by block: each space's batch taken in order, a block refused where it
    does not fit. An exact ENI with a block refused anywhere is judged the long way."""
    groups: _Items = {}  # in order within each space
    holds: dict[ResourceAddress, int] = {}
    for e, attributes in _in_place(enis, recorded, holds):
        holds[e.address] = _wanted(e, attributes, spaces_of(e.vswitch), groups)
    # spaces are independent, and an ENI's blocks of one field all lie in one space: keeping space
    # by space, each in order, is keeping ENI by ENI
    judged = [(items, space.keep_all([(block, e.address) for e, _, block in items]))
              for space, items in groups.items()]
    refused = {e.address for items, oks in judged if False in oks
               for (e, _, _), ok in zip(items, oks) if not ok and e.exact is not None}
    kept: Kept = {}
    lists = cast("dict[ResourceAddress, list[Cidr]]", kept)  # (the same dict: lists until True is set below)
    for items, oks in judged:
        for (e, key, block), ok in zip(items, oks):
            if ok and (e.exact is None or e.address in refused):
                e.values.setdefault(key, []).append(block)
                lists.setdefault(e.address, []).append(block)
    for e in enis:
        if e.exact is not None and e.address not in refused:
            kept[e.address] = True
    return _whole(kept, holds)


def _in_place(enis: Sequence[Eni], recorded: Records,
              holds: dict[ResourceAddress, int]) -> Iterator[tuple[Eni, dict[str, Any]]]:
    """Each recorded ENI of ``enis`` still in the vSwitch it is recorded in, with its recorded
    attributes; one recorded elsewhere holds nothing it keeps (``holds`` -1: all released)."""
    for e in enis:
        rec = recorded.get(e.address)
        if rec is None:
            continue
        attributes = rec["attributes"]
        if attributes.get("vswitch") != e.vswitch:
            holds[e.address] = -1
            continue
        yield e, attributes


def _whole(kept: Kept, holds: dict[ResourceAddress, int]) -> Kept:
    """``kept``, with True for an ENI that keeps every block it holds (``holds``: how many)."""
    for address, count in holds.items():
        mine = kept.get(address, [])
        if mine is not True and count == len(mine):
            kept[address] = True
    return kept


def _wanted(e: Eni, attributes: dict[str, Any], spaces: Spaces, groups: _Items) -> int:
    """Put the blocks ``e`` holds and still asks for in ``groups`` (by space, in order); set
    ``e.exact`` when it asks for exactly what it holds, recorded canonically. Returns how many
    blocks it holds."""
    held, canonical = held_canonical(attributes)
    exact = canonical
    total = sum(map(len, held.values()))
    placed = 0  # blocks put in a space to keep
    for key, version, want in e.wants:
        have = held.get(key)
        if not have:
            if key == "primary_ip" or not isinstance(want, Count) or want.count:
                exact = False  # something to place or allocate
            continue
        if not canonical and len(have) > 1:
            have = sorted(have)  # (canonical lists are sorted already)
        if key == "primary_ip":
            block = spec_block(want, key, version)  # type: ignore[arg-type]  # (primary_ip asks for one address)
            if block not in have:
                exact = False
                continue
            chosen = [block]
        elif isinstance(want, Count):
            chosen = have[: want.count]
            if want.count != len(have):
                exact = False
        else:
            wanted_here = {spec_block(w, key, version) for w in want}
            chosen = [b for b in have if b in wanted_here]
            if len(wanted_here) != len(chosen):
                exact = False
        space = spaces[version]
        if space is not None:
            items = groups.get(space)
            if items is None:
                items = groups[space] = []
            for block in chosen:
                items.append((e, key, block))
            placed += len(chosen)
    if e.spec.primary_ip is None:
        have = held.get("primary_ip")
        if have:
            space = spaces[4]
            if space is not None:
                groups.setdefault(space, []).append((e, "primary_ip", have[0]))
                placed += 1
        else:
            exact = False  # the lowest free address is chosen
    if exact and placed == total:  # nothing held that is not asked for (kept unless refused)
        e.exact = attributes
    return total


def spec_block(item: str, key: str, version: int) -> Cidr:
    """The block a spec's entry of field ``key`` names."""
    if key in PREFIX:
        return Cidr.parse(item)
    return address_block(item, version)


# ---- reading what a recorded ENI holds -------------------------------------------------------------

def held_blocks(attributes: Mapping[str, Any]) -> dict[str, list[Cidr]]:
    """Field -> blocks of what a recorded ENI holds (as :func:`reconciler.net.records.eni_blocks` lists them)."""
    out: dict[str, list[Cidr]] = {}
    for key, version in ENI_FIELDS:
        value = attributes.get(key)
        items = [value] if isinstance(value, str) else value or ()
        if items:
            out[key] = [Cidr.parse(item) if "/" in item else address_block(item, version) for item in items]
    return out


def held_canonical(a: Mapping[str, Any]) -> tuple[dict[str, list[Cidr]], bool]:
    """:func:`held_blocks`, and whether every field is written as ``eni_attributes`` writes it:
    canonical text (the C library's strict IPv4 parser accepts nothing else; IPv6 text is compared
    with its canonical form), each list sorted, the primary address a string and the others lists.
    Anything the strict parsers refuse is read by :func:`held_blocks` and is not canonical."""
    out: dict[str, list[Cidr]] = {}
    canonical = True
    try:
        value = a.get("primary_ip")
        if value:
            if type(value) is not str:
                raise TypeError
            out["primary_ip"] = [Cidr(4, _from_bytes(inet_pton(AF_INET, value), "big"), 32)]
        value = a.get("secondary_private_ips")
        if value:
            if type(value) is not list:
                raise TypeError
            starts = [_from_bytes(inet_pton(AF_INET, v), "big") for v in value]
            if len(starts) > 1 and starts != sorted(starts):
                canonical = False
            out["secondary_private_ips"] = [Cidr(4, start, 32) for start in starts]
        for key in ("ipv4_prefixes", "ipv6_prefixes"):
            value = a.get(key)
            if value:
                if type(value) is not list:
                    raise TypeError
                blocks = []
                for v in value:
                    block = _canonical_block(v)
                    if block is None:  # not as str() writes it (or not a block: Cidr.parse says why)
                        blocks = [Cidr.parse(v) for v in value]
                        canonical = False
                        break
                    blocks.append(block)
                else:
                    if len(blocks) > 1 and _order(blocks) != sorted(_order(blocks)):
                        canonical = False
                out[key] = blocks
        value = a.get("ipv6_addresses")
        if value:
            if type(value) is not list:
                raise TypeError
            starts = []
            for v in value:
                packed = inet_pton(AF_INET6, v)
                start = _from_bytes(packed, "big")
                if canonical and _v6_text(packed, start) != v:
                    canonical = False
                starts.append(start)
            if len(starts) > 1 and starts != sorted(starts):
                canonical = False
            out["ipv6_addresses"] = [Cidr(6, start, 128) for start in starts]
    except (OSError, ValueError, TypeError):  # "/" in an address field, text to judge, a list for a string
        return held_blocks(a), False
    return out, canonical  # (fields in another order than held_blocks's: read by key)


def exact_blocks(wants: tuple[Want, ...], primary_free: bool, a: Mapping[str, Any]) -> list[tuple[int, int, int]] | None:
    """``(IP version, first address, prefix length)`` of every block a recorded ENI holds, when its
    spec asks by count for exactly what it holds (and for no primary address: it keeps the one it
    has), the record is canonical as :func:`held_canonical` judges it, and each block is of its
    field's IP version; None for any other ENI, which is read the long way. Integers only.

    ``wants`` are the spec's ``(field, IP version, value)`` of the fields it sets;
    ``primary_free`` says the spec names no primary address."""
    if not primary_free:
        return None  # the primary address asked for: the long way
    out: list[tuple[int, int, int]] = []
    try:
        value = a.get("primary_ip")
        if type(value) is not str or not value:
            return None
        out.append((4, _from_bytes(inet_pton(AF_INET, value), "big"), 32))
        fields = 1
        for key, version, want in wants:
            if type(want) is not Count:
                return None  # explicit entries: the long way
            value = a.get(key)
            n = want.count
            if not value:
                if n:
                    return None  # something to allocate
                continue
            if type(value) is not list or len(value) != n:
                return None
            fields += 1
            if key == "secondary_private_ips":
                starts = [_from_bytes(inet_pton(AF_INET, v), "big") for v in value]
                if n > 1 and starts != sorted(starts):
                    return None
                out += [(4, s, 32) for s in starts]
            elif key == "ipv6_addresses":
                starts = []
                for v in value:
                    packed = inet_pton(AF_INET6, v)
                    start = _from_bytes(packed, "big")
                    if _v6_text(packed, start) != v:
                        return None
                    starts.append(start)
                if n > 1 and starts != sorted(starts):
                    return None
                out += [(6, s, 128) for s in starts]
            else:  # prefixes, as str() writes them, of the field's version
                blocks = []
                for v in value:
                    addr, _, plen = v.partition("/")
                    prefix = _PREFIX_TEXT.get(plen)
                    if prefix is None or (":" in addr) != (version == 6):
                        return None
                    if version == 6:
                        packed = inet_pton(AF_INET6, addr)
                        start = _from_bytes(packed, "big")
                        if _v6_text(packed, start) != addr:
                            return None
                        bits = 128
                    else:
                        start, bits = _from_bytes(inet_pton(AF_INET, addr), "big"), 32
                    if prefix > bits or start & ((1 << (bits - prefix)) - 1):
                        return None
                    blocks.append((version, start, prefix))
                if n > 1 and blocks != sorted(blocks):
                    return None
                out += blocks
    except (OSError, ValueError, TypeError):
        return None
    if fields != sum(1 for key, _ in ENI_FIELDS if a.get(key)):
        return None  # something held that is not asked for
    return out


def _v6_text(packed: bytes, start: int) -> str:
    """An IPv6 address as ``format_address`` writes it (inet_ntop from 2**48 up)."""
    return inet_ntop(AF_INET6, packed) if start >> 48 else format_address(6, start)


def _canonical_block(text: str) -> Cidr | None:
    """``Cidr.parse(text)`` when ``text`` is exactly ``str()`` of it, else None (or an error)."""
    addr, _, plen = text.partition("/")
    prefix = _PREFIX_TEXT.get(plen)
    if prefix is None:
        return None
    if ":" in addr:
        packed = inet_pton(AF_INET6, addr)
        start = _from_bytes(packed, "big")
        if _v6_text(packed, start) != addr:
            return None
        version, bits = 6, 128
    else:
        start, version, bits = _from_bytes(inet_pton(AF_INET, addr), "big"), 4, 32
    if prefix > bits or start & ((1 << (bits - prefix)) - 1):
        return None
    return Cidr(version, start, prefix)


def _order(blocks: list[Cidr]) -> list[tuple[int, int, int]]:
    return [(b.version, b.start, b.prefix) for b in blocks]
