"""The principal's permission table at plan time (reconciler/rules/sharing.py), row by row, on an
external pool shared with this account, and the same expectations on a pool another workspace manages."""

from __future__ import annotations

import pytest

from reconciler.errors import ReconcilerError, flatten
from reconciler.net.cidr import Cidr
from reconciler.net.external import ExternalPool
from reconciler.planner import make_plan
from tests.support.specs import load

PID = "ipam-pool-shared01"
OWNER = "1000000000000000"
VPC = "vpcs:\n  pay: {region: cn-hangzhou, ipv4: {pool: shared, mask: 24}}\n"


def shared_pool(shared_by: str | None = OWNER, **kw) -> ExternalPool:
    fields = dict(min_mask=16, default_mask=24, max_mask=28, auto_import=False)
    fields.update(kw)
    owner = "the cloud" if shared_by else "workspace network"
    return ExternalPool("shared", PID, owner, "cn-hangzhou", "IPv4", (Cidr.parse("10.0.0.0/16"),), (),
                        shared_by=shared_by, **fields)


def errors(tmp_path, entry: str, pool: ExternalPool) -> list[tuple[str, int | None, str]]:
    text = f"external_pools:\n  shared: {{id: {PID}{entry}}}\n" + VPC
    try:
        make_plan(load(tmp_path, text), {}, lineage=None, serial=0, external_pools={"shared": pool})
    except ReconcilerError as exc:
        return [(e.code, e.line, e.detail) for e in flatten(exc)]
    return []


def test_allowed_rows_plan_a_vpc_block_from_the_shared_pool(tmp_path):
    plan = make_plan(load(tmp_path, f"external_pools:\n  shared: {{id: {PID}}}\n" + VPC +
                          "allocations:\n  mine: {pool: shared, mask: 24}\n"),
                     {}, lineage=None, serial=0, external_pools={"shared": shared_pool()})
    assert sorted((a.address, a.cidr and str(a.cidr)) for a in plan.actions) == \
        [("ipam_pool_allocation.mine", "10.0.1.0/24"), ("vpc.pay", "10.0.0.0/24")]


def test_expectations_the_pool_meets_are_fine(tmp_path):
    entry = ", cidrs: [10.0.0.0/16], allocation: {min_mask: 16, max_mask: 28}, auto_import: false"
    assert errors(tmp_path, entry, shared_pool()) == []


@pytest.mark.parametrize("entry, what", [
    (", cidrs: [10.0.0.0/16, 10.1.0.0/16]", "provisioning 10.1.0.0/16 (AddIpamPoolCidr)"),
    (", cidrs: []", "deprovisioning 10.0.0.0/16 (DeleteIpamPoolCidr)"),
    (", allocation: {max_mask: 26}", "modifying allocation rules (max_mask /28 -> /26"),
    (", allocation: {default_mask: 20}", "modifying allocation rules (default_mask /24 -> /20"),
    (", auto_import: true", "enabling auto import"),
])
def test_a_principal_is_refused_each_denied_row_where_the_spec_wrote_it(tmp_path, entry, what):
    (got,) = errors(tmp_path, entry, shared_pool())
    assert got[0] == "Forbidden.SharedIpamPool" and got[1] == 2
    assert what in got[2] and f"shared with this account by {OWNER}" in got[2]


def test_disabling_auto_import_is_refused_too(tmp_path):
    (got,) = errors(tmp_path, ", auto_import: false", shared_pool(auto_import=True))
    assert got[0] == "Forbidden.SharedIpamPool" and "disabling auto import" in got[2]


def test_every_denied_row_at_once(tmp_path):
    entry = ", cidrs: [10.1.0.0/16], allocation: {min_mask: 20}, auto_import: true"
    assert [c for c, _, _ in errors(tmp_path, entry, shared_pool())] == ["Forbidden.SharedIpamPool"] * 4


def test_a_pool_another_workspace_of_this_account_manages(tmp_path):
    (got,) = errors(tmp_path, ", auto_import: true", shared_pool(shared_by=None))
    assert got[0] == "ExternalPool.ManagedElsewhere" and "workspace network" in got[2]


def test_a_malformed_expected_cidr_is_a_spec_error(tmp_path):
    got = errors(tmp_path, ", cidrs: [10.0.0.1/16]", shared_pool())
    assert [c for c, _, _ in got] == ["InvalidParameter.CidrNotStandard"]
