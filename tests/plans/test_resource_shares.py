"""The owner's `resource_shares:` planned: what a share change does (in the plan's note), its order
around its pools, replacement when its pools, principals or reach change, the seed's two quotas, and
the spec's refusals."""

from __future__ import annotations

import pytest

from reconciler.rules import sharing
from tests.support.specs import codes, converge, plan

BIZ, OPS = "1685267497393460", "1234567890123456"
POOLS = """\
ipam: {name: corp, region: cn-hangzhou}
pools:
  root: {scope: private, ip_version: IPv4, cidrs: [10.0.0.0/8]}
  prod: {source: root, region: cn-hangzhou, cidrs: [10.0.0.0/16]}
"""


def share(body: str) -> str:
    return POOLS + f"resource_shares:\n  to-biz: {body}\n"


def test_a_share_is_created_after_its_pools_and_says_what_it_does(tmp_path):
    got = plan(tmp_path, share(f'{{resources: [ipam_pool.prod], principals: ["{BIZ}"]}}'))
    steps = [(a.action.value, a.address, a.api) for a in got.actions]
    assert steps[-1] == ("create", "resource_share.to-biz", "CreateResourceShare")
    assert steps.index(("create", "ipam_pool.prod", "CreateIpamPool")) < len(steps) - 1
    note = got.actions[-1].note
    assert f"shares ipam_pool.prod with {BIZ}" in note and "AliyunRSDefaultPermissionIpamPool" in note
    assert "accepts the invitation" in note
    assert got.actions[-1].after == {"resources": ["ipam_pool.prod"], "principals": [BIZ],
                                     "allow_external_targets": True}
    inside = plan(tmp_path, share(f'{{resources: [ipam_pool.prod], principals: [rd-abc], '
                                  'allow_external_targets: false}'))
    assert "inside the resource directory only, no invitation" in inside.actions[-1].note


def test_stopping_a_share_runs_before_its_pool_is_deleted_and_says_what_stays(tmp_path):
    state = converge(plan(tmp_path, share(f'{{resources: [ipam_pool.prod], principals: ["{BIZ}"]}}')))
    gone = plan(tmp_path, POOLS.replace("  prod: {source: root, region: cn-hangzhou, cidrs: [10.0.0.0/16]}\n", ""),
                recorded=state, serial=1)
    steps = [(a.action.value, a.address) for a in gone.actions]
    assert steps.index(("delete", "resource_share.to-biz")) < steps.index(("delete", "ipam_pool.prod"))
    note = next(a.note for a in gone.actions if a.address == "resource_share.to-biz")
    assert "they no longer see it; the allocations they made stay" in note
    assert plan(tmp_path, share(f'{{resources: [ipam_pool.prod], principals: ["{BIZ}"]}}'), recorded=state,
                serial=1).actions == ()


@pytest.mark.parametrize("change", [
    f'{{resources: [ipam_pool.prod, ipam_pool.root], principals: ["{BIZ}"]}}',
    f'{{resources: [ipam_pool.prod], principals: ["{BIZ}", "{OPS}"]}}',
    f'{{resources: [ipam_pool.prod], principals: ["{BIZ}"], allow_external_targets: false}}',
])
def test_a_changed_share_is_replaced(tmp_path, change):
    state = converge(plan(tmp_path, share(f'{{resources: [ipam_pool.prod], principals: ["{BIZ}"]}}')))
    again = plan(tmp_path, share(change), recorded=state, serial=1)
    assert [(a.action.value, a.address, a.replace) for a in again.actions] == \
        [("delete", "resource_share.to-biz", True), ("create", "resource_share.to-biz", True)]


def test_the_spec_s_refusals(tmp_path):
    assert codes(tmp_path, share('{resources: [ipam_pool.prod], principals: ["12345"]}')) == \
        ["InvalidParameter.Targets"]
    assert codes(tmp_path, share(f'{{resources: [vpc.app], principals: ["{BIZ}"]}}')) == \
        ["InvalidParameter.ResourceType"]
    assert codes(tmp_path, share(f'{{resources: [ipam_pool.nope], principals: ["{BIZ}"]}}')) == \
        ["Spec.UnknownReference"]
    assert codes(tmp_path, share(f'{{resources: [], principals: ["{BIZ}"]}}')) != []


def test_the_seed_s_quotas(tmp_path, monkeypatch):
    monkeypatch.setattr(sharing, "SHARES_PER_POOL", 1)
    two = POOLS + (f'resource_shares:\n  a: {{resources: [ipam_pool.prod], principals: ["{BIZ}"]}}\n'
                   f'  b: {{resources: [ipam_pool.prod], principals: ["{OPS}"]}}\n')
    assert codes(tmp_path, two) == ["QuotaExceeded.ResourceShare"]
    monkeypatch.setattr(sharing, "SHARES_PER_POOL", 100)
    monkeypatch.setattr(sharing, "SHARED_POOLS_PER_USER", 1)
    both = POOLS + f'resource_shares:\n  a: {{resources: [ipam_pool.prod, ipam_pool.root], principals: ["{BIZ}"]}}\n'
    assert codes(tmp_path, both) == ["QuotaExceeded.SharedIpamPool"]


def test_the_quotas_are_the_seeds():
    assert (sharing.SHARES_PER_POOL, sharing.SHARED_POOLS_PER_USER) == (100, 100)
