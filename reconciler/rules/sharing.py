"""The seed's sharing rules at plan time (pure): the principal's side of the permission table, and the
owner's two sharing quotas (:func:`check_shares`).

"Permissions for pool owners and principals" (address planning seed) gives a principal -- an account
a pool is shared with -- VPC blocks, secondary blocks and custom allocations from the pool (which the
plan draws from an ``external_pools:`` entry as from any pool), and the release of its own custom
allocations; it denies it "Provision a CIDR block to an IPAM pool", "Deprovision a CIDR block",
"Modify allocation rules", "Enable/disable auto import" and "Delete an IPAM pool". An external pool is
never created, changed or deleted by a plan, so a spec can only come to need one of those by
expecting of the pool what it does not hold: ``cidrs`` it has not provisioned (or lacking ones it
has), other ``allocation`` rules, another ``auto_import``. Each such difference is refused here,
where the spec wrote it:

* on a pool shared with this account, with the cloud's refusal of the call it would take,
  ``Forbidden.SharedIpamPool`` (the sandbox refuses the same calls with the same code);
* on a pool of this account that another workspace (or no workspace) manages,
  ``ExternalPool.ManagedElsewhere``: change it where it is managed.
"""

from __future__ import annotations

from typing import Mapping

from reconciler.errors import PlanError, ReconcilerError
from reconciler.models.external import ExternalPoolSpec
from reconciler.models.network import ResourceShareSpec
from reconciler.net.cidr import Cidr
from reconciler.net.external import ExternalPool
from reconciler.net.limits import MASK_RANGE
from reconciler.source.locate import Locator, Problems

DENIED = "Forbidden.SharedIpamPool"
ELSEWHERE = "ExternalPool.ManagedElsewhere"


def _effective(pool: ExternalPool) -> dict[str, int | None]:
    low, high = MASK_RANGE[pool.ip_version]
    return {"min_mask": low if pool.min_mask is None else pool.min_mask, "default_mask": pool.default_mask,
            "max_mask": high if pool.max_mask is None else pool.max_mask}


def check_external(specs: Mapping[str, ExternalPoolSpec], pools: Mapping[str, ExternalPool],
                   locate: Locator) -> list[ReconcilerError]:
    """Every expectation of an external pool that only its owner (or its managing workspace) could meet."""
    problems = Problems(locate, PlanError)
    for name in sorted(specs):
        spec, pool = specs[name], pools.get(name)
        if pool is None:
            continue
        address = f"external_pools.{name}"

        def refuse(what: str, key: str) -> None:
            if pool.shared_by is not None:
                problems.add(DENIED, f"{pool.id} is shared with this account by {pool.shared_by}: {what} is "
                             "supported for the pool's owner only, not for a principal (the seed's permission table)",
                             address, ("external_pools", name, key))
            else:
                problems.add(ELSEWHERE, f"{pool.id} is managed by {pool.owner}: {what} is done there, never by a "
                             "plan that draws from it", address, ("external_pools", name, key))

        if spec.cidrs is not None:
            want, have = {Cidr.parse(c) for c in spec.cidrs}, set(pool.cidrs)
            for cidr in sorted(want - have):
                refuse(f"provisioning {cidr} (AddIpamPoolCidr)", "cidrs")
            for cidr in sorted(have - want):
                refuse(f"deprovisioning {cidr} (DeleteIpamPoolCidr)", "cidrs")
        if spec.allocation is not None:
            now = _effective(pool)
            for key in ("min_mask", "default_mask", "max_mask"):
                value = getattr(spec.allocation, key)
                if value is not None and value != now[key]:
                    shown = "none" if now[key] is None else f"/{now[key]}"
                    refuse(f"modifying allocation rules ({key} {shown} -> /{value}, UpdateIpamPool)", "allocation")
        if spec.auto_import is not None and spec.auto_import != bool(pool.auto_import):
            refuse(f"{'enabling' if spec.auto_import else 'disabling'} auto import (UpdateIpamPool AutoImport)",
                   "auto_import")
    return problems.errors


SHARES_PER_POOL = 100  # resource_share_quota_per_ipam_pool
SHARED_POOLS_PER_USER = 100  # shared_ipam_pool_quota_per_user


def check_shares(shares: Mapping[str, ResourceShareSpec], locate: Locator) -> list[ReconcilerError]:
    """The owner's side: the seed's two sharing quotas, as far as this spec's shares reach them (shares
    other workspaces or accounts make are the cloud's to count, and it refuses them on apply)."""
    problems = Problems(locate, PlanError)
    per_pool: dict[str, list[str]] = {}
    per_principal: dict[str, set[str]] = {}
    for name, share in shares.items():
        for pool in share.resources:
            per_pool.setdefault(pool, []).append(name)
        for principal in share.principals:
            per_principal.setdefault(principal, set()).update(share.resources)
    for pool, names in sorted(per_pool.items()):
        if len(names) > SHARES_PER_POOL:
            over = names[SHARES_PER_POOL]
            problems.add("QuotaExceeded.ResourceShare", f"{pool} is in {len(names)} resource shares; at most "
                         f"{SHARES_PER_POOL} (resource_share_quota_per_ipam_pool)", f"resource_share.{over}",
                         ("resource_shares", over))
    for principal, pools in sorted(per_principal.items()):
        if len(pools) > SHARED_POOLS_PER_USER:
            where = next(n for n, s in shares.items() if principal in s.principals)
            problems.add("QuotaExceeded.SharedIpamPool", f"{principal} would have {len(pools)} pools shared with it; "
                         f"at most {SHARED_POOLS_PER_USER} (shared_ipam_pool_quota_per_user)",
                         f"resource_share.{where}", ("resource_shares", where, "principals"))
    return problems.errors
