"""Blocks other workspaces' plans reserved: never chosen, said so in the note, and an explicit block
on one is refused naming the reservation; what already exists keeps its block."""

from __future__ import annotations

import pytest

from reconciler.errors import ReconcilerError, flatten
from reconciler.net.cidr import Cidr
from reconciler.net.reserved import ReservedBlock
from reconciler.planner import make_plan
from tests.support.specs import BASE, converge, load

UNTIL = "2026-12-08T16:00:00Z"


def _plan(tmp_path, text, reserved=(), recorded=None):
    return make_plan(load(tmp_path, text), recorded or {}, lineage=None, serial=0, reserved=reserved)


def _vpc(plan, name="prod"):
    return next(a for a in plan.actions if a.address == f"vpc.{name}" and a.action.value == "create")


def test_a_reserved_block_is_skipped_and_the_note_says_by_whom(tmp_path):
    free = _vpc(_plan(tmp_path, BASE))
    assert free.after["ipv4"]["cidr"] == "10.0.0.0/20"
    held = ReservedBlock("hz-prod", Cidr.parse("10.0.0.0/20"), "payments", UNTIL)
    plan = _plan(tmp_path, BASE, [held])
    vpc = _vpc(plan)
    assert vpc.after["ipv4"]["cidr"] == "10.0.16.0/20"
    assert "skipped 10.0.0.0/20 reserved by workspace payments until 2026-12-08T16:00:00Z" in vpc.note


def test_a_reservation_of_the_other_ip_version_changes_nothing(tmp_path):
    other = [ReservedBlock("hz-prod", Cidr.parse("2408:4000::/56"), "payments", UNTIL)]
    assert _vpc(_plan(tmp_path, BASE, other)).after["ipv4"]["cidr"] == "10.0.0.0/20"


def test_a_reservation_in_the_parent_pool_moves_the_sub_pool_s_block(tmp_path):
    plan = _plan(tmp_path, BASE, [ReservedBlock("hz", Cidr.parse("10.0.0.0/20"), "payments", UNTIL)])
    provision = next(a for a in plan.actions if a.address == "ipam_pool.hz-prod" and a.action.value == "provision")
    assert provision.cidr == "10.0.128.0/17" and "reserved by workspace payments" in provision.note
    assert _vpc(plan).after["ipv4"]["cidr"] == "10.0.128.0/20"


def test_an_explicit_block_on_a_reservation_is_refused(tmp_path):
    text = BASE.replace("ipv4: {pool: hz-prod, mask: 20}", "ipv4: {pool: hz-prod, cidr: 10.0.0.0/20}")
    assert _vpc(_plan(tmp_path, text)).after["ipv4"]["cidr"] == "10.0.0.0/20"
    with pytest.raises(ReconcilerError) as info:
        _plan(tmp_path, text, [ReservedBlock("hz-prod", Cidr.parse("10.0.0.0/22"), "payments", UNTIL)])
    err = next(e for e in flatten(info.value) if e.address == "vpc.prod")
    assert err.code == "OperationDenied.CidrUnavailableInPool"
    assert "reservation of workspace payments (until 2026-12-08T16:00:00Z)" in err.detail


def test_a_block_that_exists_keeps_its_place(tmp_path):
    recorded = converge(_plan(tmp_path, BASE))
    held = ReservedBlock("hz-prod", Cidr.parse("10.0.0.0/20"), "payments", UNTIL)  # a stale reservation
    plan = _plan(tmp_path, BASE, [held], recorded=recorded)
    assert not plan.has_changes
