"""The fast paths of reading and recording state give exactly what the plain ones give.

Snapshot reading a piece at a time (reconciler.states.snapshot) against one orjson.loads; the chunked
checksum against sha256 of the canonical bytes; done lines from pre-serialised records against
journal.encode_done; the private copy taken with its bytes against a JSON round trip.
"""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import StateError
from reconciler.states.journal import decode_line, encode_done, encode_done_bytes
from reconciler.states.local import LocalStateBackend
from reconciler.states.snapshot import (
    _load_by_resource,
    load_document,
    resources_checksum,
)
from reconciler.states.state import (
    State,
    StateBuilder,
    canonical_bytes,
    owned_with_bytes,
    parse_state,
    sha256_hex,
)

TRICKY = ["", ",", ',\n    "', "}", '"resources": {', "\n  }", "é", "日本", "🙂", "Z", "a\\b", "\u2028", "\x00"]


def rec(address: str, **attributes) -> dict:
    rtype, _, name = address.partition(".")
    return {"type": rtype, "name": name, "id": f"id-{name}", "attributes": attributes}


def big_state(n: int) -> State:
    builder = StateBuilder(State.empty())
    for i in range(n):
        word = TRICKY[i % len(TRICKY)]
        builder.set(f"vpc.v{i}{word}", rec(f"vpc.v{i}{word}", cidr=f"10.{i % 256}.0.0/16", text=word, n=i,
                                             tags={word: [word, i, None, 1.5]}, empty={}, nothing=[]))
    return builder.build()


def test_a_written_snapshot_reads_piece_by_piece_exactly_as_one_parse():
    state = big_state(3000)  # ~1 MB: many pieces
    data = state.to_json_bytes()
    assert len(data) > 10 * (1 << 16)
    pieced = _load_by_resource(data)
    assert pieced is not None  # the layout as written takes the fast path
    whole = orjson.loads(data)
    assert pieced == whole and list(pieced) == list(whole) and list(pieced["resources"]) == list(whole["resources"])
    parsed = parse_state(data)
    assert parsed == state and parsed.to_json_bytes() == data


@pytest.mark.parametrize("n", [0, 1, 2])
def test_small_and_empty_snapshots(n):
    state = big_state(n)
    data = state.to_json_bytes()
    assert load_document(data) == orjson.loads(data)
    assert parse_state(data) == state


def test_other_layouts_fall_back_to_one_parse():
    state = big_state(50)
    doc = orjson.loads(state.to_json_bytes())
    compact = orjson.dumps(doc)
    assert _load_by_resource(compact) is None and load_document(compact) == doc
    # a nested comma on a line of its own at the resources' indentation: pieces that do not parse
    text = big_state(3000).to_json_bytes().replace(b'"nothing": []', b'"nothing": [1,\n    "x"]')
    with pytest.raises(orjson.JSONDecodeError):  # a piece cut there does not parse: load_document falls back
        _load_by_resource(text)
    assert load_document(text) == orjson.loads(text)
    # an object after the resources whose last line looks like their end
    extra = state.to_json_bytes()[:-3] + b',\n  "zz": {\n    "a": 1\n  }\n}\n'
    assert load_document(extra) == orjson.loads(extra)
    # duplicate keys: the later wins, as in one parse
    dup = state.to_json_bytes().replace(b'"vpc.v1,"', b'"vpc.v0"', 1)
    assert dup != state.to_json_bytes() and _load_by_resource(dup) is not None
    assert load_document(dup) == orjson.loads(dup)


@pytest.mark.parametrize("cut", [1, 100, 70_000, -10, -2])
def test_damaged_snapshot_reports_the_same_error_as_before(cut):
    data = big_state(1200).to_json_bytes()
    damaged = data[:cut]
    with pytest.raises(orjson.JSONDecodeError) as fast:
        load_document(damaged)
    with pytest.raises(orjson.JSONDecodeError) as plain:
        orjson.loads(damaged)
    assert str(fast.value) == str(plain.value)
    flipped = data.replace(b'"n": 7', b'"n": 8', 1)
    with pytest.raises(ValueError, match="checksum mismatch"):
        parse_state(flipped)


def test_chunked_checksum_is_the_canonical_one():
    for n in (0, 1, 2001, 4500):
        resources = dict(big_state(n).resources)
        assert resources_checksum(resources) == sha256_hex(canonical_bytes(resources))


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=6), st.recursive(
    st.none() | st.booleans() | st.integers(-2**60, 2**60) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                      max_size=3), max_leaves=8),
    max_size=40))
def test_any_resources_read_back_the_same(tmp_path_factory, attributes):
    builder = StateBuilder(State.empty())
    for i, (key, value) in enumerate(attributes.items()):
        builder.set(f"vpc.k{i}", rec(f"vpc.k{i}", key=key, value=value))
    state = builder.build()
    data = state.to_json_bytes()
    assert load_document(data) == orjson.loads(data)
    backend = LocalStateBackend(tmp_path_factory.mktemp("s") / "state")
    backend.write(state)
    assert backend.read() == state


def test_done_lines_from_bytes_match_encode_done():
    records = [("vpc.a", rec("vpc.a", cidr="10.0.0.0/16", note='",\n"é🙂', n=1.25)), ("vpc.b", None),
               ("eni.x", rec("eni.x", ips=["10.0.0.1"], deep={"z": {"a": [None, True]}}))]
    for changes in (records, records[:1], []):
        plain = encode_done("lineage-é", 7, 42, changes)
        fast = encode_done_bytes("lineage-é", 7, 42, [(a, b"null" if r is None else canonical_bytes(r))
                                                     for a, r in changes])
        assert fast == plain
        assert decode_line(fast[:-1])[0] == "done"


def test_owned_copy_and_its_bytes():
    record = rec("vpc.a", t=(1, 2), d={"b": 1, "a": [2.5]})
    owned, data = owned_with_bytes("vpc.a", record)
    assert owned == orjson.loads(canonical_bytes(record)) and data == canonical_bytes(record)
    assert owned is not record and owned["attributes"]["d"] is not record["attributes"]["d"]
    for bad in (math.nan, math.inf, -math.inf, [1, (math.nan,)], {"x": {"y": math.inf}}):
        with pytest.raises(StateError) as info:
            owned_with_bytes("vpc.a", rec("vpc.a", v=bad))
        assert info.value.code == "State.InvalidRecord" and "NaN and infinite" in info.value.message


def test_journal_lines_serialise_their_body_once_with_the_same_bytes():
    from reconciler.states.journal import (
        Intent,
        JournalEntry,
        encode_cancel,
        encode_entry,
        encode_intent,
    )

    def plain(body: dict) -> bytes:
        return canonical_bytes(dict(body, checksum=sha256_hex(canonical_bytes(body)))) + b"\n"

    record = rec("vpc.a", cidr="10.0.0.0/16", note="é,\n}")
    entry = JournalEntry("lin", 3, "vpc.a", record)
    assert encode_entry(entry) == plain({"address": "vpc.a", "lineage": "lin", "record": record, "serial": 3})
    assert encode_entry(JournalEntry("lin", 4, "vpc.a", None)) == plain(
        {"address": "vpc.a", "lineage": "lin", "record": None, "serial": 4})
    intent = Intent(5, "lin", "tok", "CreateVpc", ({"address": "vpc.a", "after": record},), {"type": "sandbox"}, None)
    assert encode_intent(intent) == plain({"kind": "intent", "intent": 5, "lineage": "lin", "token": "tok",
                                           "api": "CreateVpc", "actions": [{"address": "vpc.a", "after": record}],
                                           "provider": {"type": "sandbox"}, "boot": None})
    assert encode_cancel("lin", [5, 6], "why") == plain({"kind": "cancel", "intents": [5, 6], "lineage": "lin",
                                                         "reason": "why"})
    for line in (encode_entry(entry), encode_intent(intent), encode_cancel("lin", [5], "r")):
        decode_line(line[:-1])  # verifies the checksum
