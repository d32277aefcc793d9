"""The diff against the recorded state: a key-set difference and one equality check per address held on both
sides, checked against that definition written the plain way on random states."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.plans.diff import ChangeKind, diff

NAMES = st.sampled_from(["a", "b", "c", "d", "e"])
TYPES = st.sampled_from(["vpc", "vswitch", "ipam_scope", "eni"])


@st.composite
def states(draw):
    out = {}
    for rtype, name in draw(st.lists(st.tuples(TYPES, NAMES), max_size=12)):
        attributes = {"tags": draw(st.sampled_from([[], ["x"], ["x", "y"]])),  # no attribute that forces a replacement
                      "description": draw(st.sampled_from([None, "x"]))}
        if rtype in ("ipam_scope", "eni"):
            attributes["default" if rtype == "ipam_scope" else "managed"] = name in "ab"  # the same on both sides
        out[f"{rtype}.{name}"] = {"type": rtype, "name": name, "attributes": attributes}
    return out


def implicit(rec):
    a = rec["attributes"]
    return a.get("default", False) if rec["type"] == "ipam_scope" else a.get("managed", False) if rec["type"] == "eni" else False


@settings(max_examples=400, deadline=None)
@given(states(), states())
def test_the_diff_is_the_key_set_difference_and_an_equality_check(desired, recorded):
    want = {a: ChangeKind.CREATE for a in desired.keys() - recorded.keys() if not implicit(desired[a])}
    want |= {a: ChangeKind.DELETE for a in recorded.keys() - desired.keys() if not implicit(recorded[a])}
    for a in desired.keys() & recorded.keys():
        if desired[a]["attributes"] != recorded[a]["attributes"] and not implicit(desired[a]):
            want[a] = ChangeKind.UPDATE
    changes = diff(desired, recorded)
    assert {c.address: c.kind for c in changes} == want
    assert [c.address for c in changes] == sorted(want, key=lambda a: (
        ["ipam_scope", "vpc", "vswitch", "eni"].index(a.split(".")[0]), a))
    for c in changes:
        if c.kind is ChangeKind.UPDATE:
            before, after = recorded[c.address]["attributes"], desired[c.address]["attributes"]
            assert c.changed == tuple(sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)))
