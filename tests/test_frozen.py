"""fast_init: a frozen slotted dataclass built through its slots' setters is the same value."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.frozen import fast_init
from reconciler.plans.action import Action, PlannedAction
from reconciler.plans.diff import Change, ChangeKind


@dataclasses.dataclass(frozen=True)
class Plain:
    a: int
    b: str = "x"
    c: tuple = ()


@fast_init
@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Fast:
    a: int
    b: str = "x"
    c: tuple = ()


@pytest.mark.parametrize("args, kwargs", [((1,), {}), ((1, "y"), {}), ((1,), {"c": (2,)}), ((), {"a": 3, "b": "z"})])
def test_same_fields_and_defaults_as_the_generated_init(args, kwargs):
    assert dataclasses.astuple(Fast(*args, **kwargs)) == dataclasses.astuple(Plain(*args, **kwargs))


def test_still_frozen_and_replaceable():
    f = Fast(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.a = 2
    assert dataclasses.replace(f, b="q") == Fast(1, "q")
    with pytest.raises(TypeError):
        Fast()  # a is required
    with pytest.raises(TypeError):
        Fast(1, d=2)


def test_refuses_what_it_cannot_build():
    with pytest.raises(TypeError, match="frozen=True, slots=True, init=False"):
        fast_init(dataclasses.dataclass(frozen=True)(type("NotSlotted", (), {"__annotations__": {"a": int}})))


def test_the_values_built_this_way():
    a = PlannedAction(1, Action.ASSIGN, "eni.x", "eni", "x", "AssignPrivateIpAddresses", "10.0.0.5/32", note="n")
    assert (a.order, a.action, a.cidr, a.before, a.replace, a.note) == (1, Action.ASSIGN, "10.0.0.5/32", None, False, "n")
    c = Change("vpc.a", "vpc", "a", ChangeKind.UPDATE, {"x": 1}, {"x": 2}, ("x",))
    assert (c.changed, c.replace_reasons) == (("x",), ())
