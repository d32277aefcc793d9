"""Resource shares as ResourceSharing (2020-01-10) calls: a planned share is one CreateResourceShare of
its pools (by their recorded ids) with its principals and the permission AliyunRSDefaultPermissionIpamPool;
stopping it is one DeleteResourceShare. Neither takes a ClientToken in the cloud's API (the SDK's
models have none): a delete re-issued by recovery that finds the share gone is done; a create
interrupted in flight may be made again (docs/accounts.md)."""

from __future__ import annotations

from typing import Callable, Mapping

from reconciler.errors import CloudError
from reconciler.net.records import plain
from reconciler.plans.order import PlannedAction
from reconciler.providers.params import recorded_id

POOL_TYPE = "IpamPool"
PERMISSION = "AliyunRSDefaultPermissionIpamPool"


def _gone(refusal: CloudError) -> bool:
    return refusal.code == "EntityNotExists.ResourceShare"


class ShareActions:
    call: Callable[..., dict]  # the provider's (retries, tokens)

    def _resource_share_create(self, a: PlannedAction, res: Mapping[str, dict], token: str | None):
        after = a.after
        assert after is not None  # a create carries what it makes
        params: dict[str, object] = {"ResourceShareName": a.name, "PermissionNames.1": PERMISSION,
                                     "AllowExternalTargets": "true" if after["allow_external_targets"] else "false"}
        for i, pool in enumerate(after["resources"], 1):
            params[f"Resources.{i}.ResourceId"] = recorded_id(res, pool)
            params[f"Resources.{i}.ResourceType"] = POOL_TYPE
        for i, principal in enumerate(after["principals"], 1):
            params[f"Targets.{i}"] = principal
        share = self.call("CreateResourceShare", params, token)["ResourceShare"]
        return {a.address: {"type": a.type, "name": a.name, "id": share["ResourceShareId"],
                            "attributes": plain(after)}}

    def _resource_share_delete(self, a: PlannedAction, res: Mapping[str, dict], token: str | None):
        self.call("DeleteResourceShare", {"ResourceShareId": recorded_id(res, a.address)}, token, settled=_gone)
        return {a.address: None}
