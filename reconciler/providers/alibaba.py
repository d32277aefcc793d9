"""Planned actions as Alibaba Cloud API calls (IPAM 2023-02-28, VPC 2016-04-28), over any client.

One function per (type, action) builds the request in the RPC wire form and turns the response
into the state records the step produced. The same mapping serves the embedded sandbox and, later,
the official SDKs: only the client differs.
"""

from __future__ import annotations

import time
from typing import Callable, Mapping

from reconciler.errors import CloudError
from reconciler.net.cidr import Cidr
from reconciler.net.limits import DEFAULT_SCOPES
from reconciler.net.records import plain as _plain
from reconciler.plans.imports import import_record
from reconciler.plans.order import PlannedAction
from reconciler.providers.alibaba_ecs import EcsActions
from reconciler.providers.alibaba_read import by_token
from reconciler.providers.alibaba_records import vpc_blocks
from reconciler.providers.alibaba_share import ShareActions
from reconciler.providers.base import PartialStep
from reconciler.providers.params import gone
from reconciler.providers.params import listed as _list
from reconciler.providers.params import optional as _opt
from reconciler.providers.params import pool_id as _pool_id
from reconciler.providers.params import recorded_id as _id

# Retried with backoff and the same parameters (ClientToken included). Provider.Unreachable: no answer
# came (a dropped connection); a repeat is safe with a token, and settled() covers the calls without one.
RETRYABLE = {"OperationConflict", "ServiceUnavailable", "Throttling", "Throttling.User", "Throttling.Api",
             "IncorrectVpcStatus", "IncorrectVSwitchStatus", "IncorrectStatus.Vpc", "IncorrectStatus.VSwitch",
             "Provider.Unreachable"}
# How each create that the cloud finishes asynchronously is read back until it is ready:
# (list call, its id parameter, the path to its rows). Ready is Available (a reservation: Assigned).
READ_BACK = {
    "CreateVpc": ("DescribeVpcs", "VpcId", ("Vpcs", "Vpc")),
    "CreateVSwitch": ("DescribeVSwitches", "VSwitchId", ("VSwitches", "VSwitch")),
    "CreateVSwitchCidrReservation": ("ListVSwitchCidrReservations", "VSwitchCidrReservationIds.1",
                                     ("VSwitchCidrReservations",)),
}


def _settled(check: Callable[[CloudError], bool], refusal: CloudError) -> bool:
    try:
        return check(refusal)
    except CloudError:
        return False  # the read-back was refused too: the refusal stands


def _record(action: PlannedAction, rid: str | None, attrs: Mapping) -> dict:
    return {"type": action.type, "name": action.name, "id": rid, "attributes": _plain(attrs)}




class ApiProvider(EcsActions, ShareActions):
    """Executes planned actions through an Alibaba-style API client."""

    def __init__(self, client, name: str = "sandbox", ipv6_supply: Cidr = Cidr.parse("2408:4000::/32"),
                 retries: int = 3, sleep: Callable[[float], None] = time.sleep, *, wait_timeout: float = 600,
                 open_service: bool = False, clock: Callable[[], float] = time.monotonic):
        self.client = client
        self.name = name
        self.ipv6_supply = ipv6_supply
        self.retries = retries
        self.sleep = sleep
        self.clock = clock
        self.wait_timeout = wait_timeout
        # The real cloud needs OpenVpcIpamService once per account before the first CreateIpam.
        self.open_service = open_service

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close:
            close()

    def call(self, api: str, params: Mapping, token: str | None = None,
             settled: Callable[[CloudError], bool] | None = None) -> dict:
        """One call, retried on throttling and conflicts. ``settled(refusal)``: for an operation the
        cloud gives no ClientToken (AssociateVpcCidrBlock, AttachNetworkInterface, the Unassign* and
        some Delete* calls), whether the cloud is already as the call would leave it -- the call of an
        interrupted apply, re-issued by recovery, is then done rather than refused."""
        if token:
            params = {**params, "ClientToken": token}
        for attempt in range(self.retries + 1):
            try:
                return self.client.call(api, params)
            except CloudError as exc:
                if exc.code in RETRYABLE and attempt < self.retries:
                    # the same parameters, ClientToken included: a create that did happen is not doubled
                    self.sleep(min(0.2 * 2**attempt, 5.0))
                    continue
                if settled is not None and exc.code not in RETRYABLE and _settled(settled, exc):
                    return {}
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def vpc_blocks(self, vpc_id: str, region: str) -> set[str] | None:
        """The blocks a VPC has now (None: no such VPC)."""
        rows = ((self.call("DescribeVpcs", {"RegionId": region, "VpcId": vpc_id}).get("Vpcs") or {}).get("Vpc")) or []
        if not rows:
            return None
        primary, secondary, six = vpc_blocks(rows[0])
        return {b for b in (primary, *secondary, *six) if b}

    def create(self, api: str, params: dict, token: str | None, id_field: str,
               made: Callable[[dict], dict], within: Mapping[str, str] | None = None) -> dict:
        """``api``, then wait until what it made reads back Available (the cloud finishes VPCs, vSwitches
        and reservations asynchronously). ``made(response)`` is what the step changed: recorded when the
        wait times out, so the resource that does exist is never forgotten. ``within``: parameters the
        read-back list needs besides the region and the id (a reservation's vSwitch)."""
        r = self.call(api, params, token)
        list_api, id_param, path = READ_BACK[api]
        region = {"RegionId": params["RegionId"]} if "RegionId" in params else {}
        started, delay = self.clock(), 0.1
        while True:
            page = self.call(list_api, {**region, **(within or {}), id_param: r[id_field]}, None)
            for key in path:
                page = page.get(key) or {}
            rows: list = page if isinstance(page, list) else []
            status = rows[0].get("Status") if rows else None
            if status in ("Available", "Assigned"):
                return r
            if self.clock() - started > self.wait_timeout:
                raise PartialStep(made(r), CloudError(
                    "Provider.WaitTimeout", f"{r[id_field]} was created and is recorded, but is still "
                    f"{status or 'not listed'} after {self.wait_timeout:g} s of waiting for it to be ready",
                    address=next(iter(made(r)), None)))
            self.sleep(delay)
            delay = min(delay * 2, 5.0)

    def execute(self, action: PlannedAction, resources: Mapping[str, dict], token: str) -> dict[str, dict | None]:
        return self.execute_batch([action], resources, token)

    def execute_batch(self, batch: list[PlannedAction], resources: Mapping[str, dict], token: str) -> dict[str, dict | None]:
        """One API call for ``batch``: a single action, or up to 10 assigns/unassigns of one ENI."""
        action = batch[0]
        if action.action.value == "import":  # adopt an existing resource: recorded, no API call
            return import_record(action)  # type: ignore[return-value]  # records are records or None
        handler = getattr(self, f"_{action.type}_{action.action.value}", None)
        if handler is None:
            raise CloudError("Provider.Unsupported", f"{action.api} is not supported by the {self.name} provider",
                             address=action.address)
        try:
            if len(batch) > 1:
                return handler(action, resources, token, batch=batch)
            return handler(action, resources, token)
        except CloudError as exc:
            if exc.address is None:
                exc = CloudError(exc.code, exc.detail, address=action.address, http_status=exc.http_status)
            raise exc

    # ---- IPAM -----------------------------------------------------------------------------------
    def _ipam_create(self, a, res, token):
        after = a.after
        if self.open_service:
            self.call("OpenVpcIpamService", {"RegionId": after["region"]}, token and f"{token}-open")
            self.open_service = False
        r = self.call("CreateIpam", {"RegionId": after["region"], **_list("OperatingRegionList", after["operating_regions"]),
                                     "IpamName": a.name, **_opt(IpamDescription=after.get("description"))}, token)
        out = {a.address: _record(a, r["IpamId"], after)}
        ids = {"private": r["PrivateDefaultScopeId"], "public": r["PublicDefaultScopeId"]}
        for scope, stype in DEFAULT_SCOPES.items():
            out[f"ipam_scope.{scope}"] = {"type": "ipam_scope", "name": scope, "id": ids[scope], "attributes": {
                "ipam": a.name, "type": stype, "default": True, "description": None}}
        return out

    def _ipam_update(self, a, res, token):
        before, after = res[a.address]["attributes"], a.after
        add = sorted(set(after["operating_regions"]) - set(before["operating_regions"]))
        remove = sorted(set(before["operating_regions"]) - set(after["operating_regions"]))
        self.call("UpdateIpam", {"IpamId": _id(res, a.address), "RegionId": before["region"],
                                 **_list("AddOperatingRegion", add), **_list("RemoveOperatingRegion", remove),
                                 **_opt(IpamDescription=after.get("description"))}, token)
        return {a.address: _record(a, res[a.address]["id"], after)}

    def _ipam_delete(self, a, res, token):
        self.call("DeleteIpam", {"IpamId": _id(res, a.address), "RegionId": a.before["region"]}, token)
        return {a.address: None, **{f"ipam_scope.{s}": None for s in DEFAULT_SCOPES}}

    # ---- scopes ---------------------------------------------------------------------------------
    def _ipam_scope_create(self, a, res, token):
        r = self.call("CreateIpamScope", {"IpamId": _id(res, f"ipam.{a.after['ipam']}"), "IpamScopeType": a.after["type"],
                                          "IpamScopeName": a.name, **_opt(IpamScopeDescription=a.after.get("description"))},
                      token)
        return {a.address: _record(a, r["IpamScopeId"], a.after)}

    def _ipam_scope_update(self, a, res, token):
        self.call("UpdateIpamScope", {"IpamScopeId": _id(res, a.address), "IpamScopeName": a.name,
                                      **_opt(IpamScopeDescription=a.after.get("description"))}, token)
        return {a.address: _record(a, res[a.address]["id"], a.after)}

    def _ipam_scope_delete(self, a, res, token):
        self.call("DeleteIpamScope", {"IpamScopeId": _id(res, a.address)}, token)
        return {a.address: None}

    # ---- pools ----------------------------------------------------------------------------------
    def _masks(self, rules: Mapping) -> dict:
        return _opt(AllocationMinCidrMask=rules.get("min_mask"), AllocationMaxCidrMask=rules.get("max_mask"),
                    AllocationDefaultCidrMask=rules.get("default_mask"))

    def _ipam_pool_create(self, a, res, token):
        after = a.after
        params = {"IpamScopeId": _id(res, f"ipam_scope.{after['scope']}"), "IpVersion": after["ip_version"],
                  "IpamPoolName": a.name, "AutoImport": "true" if after["auto_import"] else "false",
                  **self._masks(after["allocation"]),
                  **_opt(PoolRegionId=after.get("region"), Ipv6Isp=after.get("isp"),
                         IpamPoolDescription=after.get("description"))}
        if after.get("source"):
            params["SourceIpamPoolId"] = _id(res, f"ipam_pool.{after['source']}")
        r = self.call("CreateIpamPool", params, token)
        return {a.address: _record(a, r["IpamPoolId"], {**after, "cidrs": []})}

    def _ipam_pool_update(self, a, res, token):
        current = res[a.address]
        after = a.after
        params = {"IpamPoolId": current["id"], "IpamPoolName": a.name,
                  "AutoImport": "true" if after["auto_import"] else "false", **self._masks(after["allocation"]),
                  **_opt(IpamPoolDescription=after.get("description"))}
        if after["allocation"].get("default_mask") is None and current["attributes"]["allocation"].get("default_mask") is not None:
            params["ClearAllocationDefaultCidrMask"] = "true"
        self.call("UpdateIpamPool", params, token)
        return {a.address: _record(a, current["id"], {**after, "cidrs": current["attributes"]["cidrs"]})}

    def _ipam_pool_provision(self, a, res, token):
        current = res[a.address]
        attrs = current["attributes"]
        public_top = attrs["ip_version"] == "IPv6" and not attrs.get("source")
        block = Cidr.parse(a.cidr)
        params = {"IpamPoolId": current["id"]}
        params.update({"NetmaskLength": str(block.prefix)} if public_top else {"Cidr": a.cidr})
        r = self.call("AddIpamPoolCidr", params, token)
        got = r.get("Cidr", a.cidr)
        cidrs = sorted(set(attrs["cidrs"]) | {got}, key=Cidr.parse)
        out = {a.address: _record(a, current["id"], {**attrs, "cidrs": cidrs})}
        if got != a.cidr:
            raise PartialStep(out, CloudError("Plan.CidrMismatch", f"the cloud provisioned {got}, the plan said {a.cidr}; "
                                           "it is recorded as provisioned; make a new plan", address=a.address))
        return out

    def _ipam_pool_deprovision(self, a, res, token):
        current = res[a.address]
        self.call("DeleteIpamPoolCidr", {"IpamPoolId": current["id"], "Cidr": a.cidr}, token)
        attrs = current["attributes"]
        return {a.address: _record(a, current["id"], {**attrs, "cidrs": [c for c in attrs["cidrs"] if c != a.cidr]})}

    def _ipam_pool_delete(self, a, res, token):
        self.call("DeleteIpamPool", {"IpamPoolId": _id(res, a.address)}, token)
        return {a.address: None}

    # ---- custom allocations -----------------------------------------------------------------------
    def _ipam_pool_allocation_allocate(self, a, res, token):
        r = self.call("CreateIpamPoolAllocation", {"IpamPoolId": _pool_id(res, a.after), "Cidr": a.cidr,
                                                   "IpamPoolAllocationName": a.name,
                                                   **_opt(IpamPoolAllocationDescription=a.after.get("description"))}, token)
        return {a.address: _record(a, r["IpamPoolAllocationId"], a.after)}

    def _ipam_pool_allocation_update(self, a, res, token):
        self.call("UpdateIpamPoolAllocation", {"IpamPoolAllocationId": _id(res, a.address), "IpamPoolAllocationName": a.name,
                                               **_opt(IpamPoolAllocationDescription=a.after.get("description"))}, token)
        return {a.address: _record(a, res[a.address]["id"], a.after)}

    def _ipam_pool_allocation_release(self, a, res, token):
        self.call("DeleteIpamPoolAllocation", {"IpamPoolAllocationId": _id(res, a.address)}, token)
        return {a.address: None}

    # ---- VPCs and vSwitches ---------------------------------------------------------------------
    def _vpc_create(self, a, res, token):
        after = a.after
        v4 = after["ipv4"]
        params = {"RegionId": after["region"], "VpcName": a.name, "CidrBlock": v4["cidr"],
                  **_opt(Description=after.get("description"))}
        if v4.get("pool"):
            params["Ipv4IpamPoolId"] = _pool_id(res, v4)
        if after.get("ipv6"):
            v6 = after["ipv6"]
            params.update({"EnableIpv6": "true", "Ipv6CidrBlock": v6["cidr"],
                           "Ipv6IpamPoolId": _pool_id(res, v6)})
        def made(r):
            return {a.address: _record(a, r["VpcId"], {**after, "secondary_cidrs": []})}

        return made(self.create("CreateVpc", params, token, "VpcId", made))

    def _vpc_allocate(self, a, res, token):
        current = res[a.address]
        attrs = dict(current["attributes"])
        block = dict(a.after)
        v6 = Cidr.parse(block["cidr"]).version == 6
        params = {"VpcId": current["id"], "RegionId": attrs["region"], "IpVersion": "IPV6" if v6 else "IPV4"}
        params.update({"IPv6CidrBlock": block["cidr"]} if v6 else {"SecondaryCidrBlock": block["cidr"]})
        if block.get("pool"):
            params["IpamPoolId"] = _pool_id(res, block)
        self.call("AssociateVpcCidrBlock", params, token,
                  settled=lambda _e: block["cidr"] in (self.vpc_blocks(current["id"], attrs["region"]) or ()))
        if v6:
            attrs["ipv6"] = block
        else:
            attrs["secondary_cidrs"] = sorted([*attrs["secondary_cidrs"], block], key=lambda b: Cidr.parse(b["cidr"]))
        return {a.address: _record(a, current["id"], attrs)}

    def _vpc_release(self, a, res, token):
        if a.api == "DeleteIpamPoolAllocation":
            return self._vpc_leave_pool(a, res, token)
        current = res[a.address]
        attrs = dict(current["attributes"])
        v6 = Cidr.parse(a.cidr).version == 6
        params = {"VpcId": current["id"], "RegionId": attrs["region"]}
        params.update({"IPv6CidrBlock": a.cidr} if v6 else {"SecondaryCidrBlock": a.cidr})
        self.call("UnassociateVpcCidrBlock", params, token,
                  settled=lambda _e: a.cidr not in (self.vpc_blocks(current["id"], attrs["region"]) or ()))
        if v6:
            attrs["ipv6"] = None
        else:
            attrs["secondary_cidrs"] = [b for b in attrs["secondary_cidrs"] if b["cidr"] != a.cidr]
        return {a.address: _record(a, current["id"], attrs)}

    def _vpc_leave_pool(self, a, res, token):
        """Release the pool allocation of one of the VPC's blocks; the VPC keeps the block ("Releasing a
        VPC allocation only dissociates the VPC from the IPAM pool"). The allocation is found by pool,
        CIDR and VPC id; none there (released already, e.g. a replayed call) is success."""
        current = res[a.address]
        pool_id = _pool_id(res, a.before)
        found = by_token(self, "ListIpamPoolAllocations", {"IpamPoolId": pool_id, "Cidr": a.cidr}, "IpamPoolAllocations")
        for alloc in found:
            if alloc.get("ResourceType") == "VPC" and alloc.get("ResourceId") == current["id"]:
                self.call("DeleteIpamPoolAllocation", {"IpamPoolAllocationId": alloc["IpamPoolAllocationId"]}, token)
        attrs = dict(current["attributes"])
        left = {"cidr": a.before["cidr"], "pool": None}
        if (attrs.get("ipv4") or {}).get("cidr") == a.cidr:
            attrs["ipv4"] = left
        elif (attrs.get("ipv6") or {}).get("cidr") == a.cidr:
            attrs["ipv6"] = left
        else:
            attrs["secondary_cidrs"] = [left if b["cidr"] == a.cidr else b for b in attrs["secondary_cidrs"]]
        return {a.address: _record(a, current["id"], attrs)}

    def _vpc_update(self, a, res, token):
        current = res[a.address]
        self.call("ModifyVpcAttribute", {"VpcId": current["id"], "RegionId": current["attributes"]["region"],
                                         "VpcName": a.name, **_opt(Description=a.after.get("description"))}, token)
        return {a.address: _record(a, current["id"], {**current["attributes"], "description": a.after.get("description")})}

    def _vpc_delete(self, a, res, token):
        self.call("DeleteVpc", {"VpcId": _id(res, a.address), "RegionId": a.before["region"]}, token)
        return {a.address: None}

    def _vswitch_create(self, a, res, token):
        vpc = res[f"vpc.{a.after['vpc']}"]
        params = {"VpcId": vpc["id"], "RegionId": vpc["attributes"]["region"], "ZoneId": a.after["zone"],
                  "CidrBlock": a.after["cidr"], "VSwitchName": a.name, **_opt(Description=a.after.get("description"))}
        if a.after.get("ipv6_cidr"):
            parent = Cidr.parse(vpc["attributes"]["ipv6"]["cidr"])
            block = Cidr.parse(a.after["ipv6_cidr"])
            params["Ipv6CidrBlock"] = str((block.start - parent.start) >> (128 - block.prefix))
        def made(r):
            return {a.address: _record(a, r["VSwitchId"], a.after)}

        return made(self.create("CreateVSwitch", params, token, "VSwitchId", made))

    def _vswitch_allocate(self, a, res, token):
        current = res[a.address]
        block = Cidr.parse(a.cidr)

        def made(r):
            attrs = dict(current["attributes"])
            attrs["prefix_reservations"] = sorted(set(attrs.get("prefix_reservations") or []) | {a.cidr}, key=Cidr.parse)
            ids = dict((current.get("ids") or {}).get("reservations") or {})
            ids[a.cidr] = r["VSwitchCidrReservationId"]
            return {a.address: {**_record(a, current["id"], attrs), "ids": {"reservations": ids}}}

        return made(self.create("CreateVSwitchCidrReservation", {
            "VSwitchId": current["id"], "VSwitchCidrReservationCidr": a.cidr, "VSwitchCidrReservationType": "Prefix",
            "IpVersion": "IPv6" if block.version == 6 else "IPv4",
            "RegionId": res[f"vpc.{current['attributes']['vpc']}"]["attributes"]["region"]}, token,
            "VSwitchCidrReservationId", made, within={"VSwitchId": current["id"]}))

    def _vswitch_release(self, a, res, token):
        current = res[a.address]
        ids = dict((current.get("ids") or {}).get("reservations") or {})
        rid = ids.pop(a.cidr, None)
        if rid is None:
            raise CloudError("State.MissingDependency", f"no recorded id for the prefix reservation {a.cidr}")
        self.call("DeleteVSwitchCidrReservation", {
            "VSwitchCidrReservationId": rid,
            "RegionId": res[f"vpc.{current['attributes']['vpc']}"]["attributes"]["region"]}, token)
        attrs = dict(current["attributes"])
        attrs["prefix_reservations"] = [c for c in attrs.get("prefix_reservations") or [] if c != a.cidr]
        return {a.address: {**_record(a, current["id"], attrs), "ids": {"reservations": ids}}}

    def _vswitch_update(self, a, res, token):
        current = res[a.address]
        self.call("ModifyVSwitchAttribute", {"VSwitchId": current["id"], "VSwitchName": a.name,
                                             **_opt(Description=a.after.get("description"))}, token)
        return {a.address: _record(a, current["id"], a.after)}

    def _vswitch_delete(self, a, res, token):
        self.call("DeleteVSwitch", {"VSwitchId": _id(res, a.address)}, token, settled=gone)
        return {a.address: None}
