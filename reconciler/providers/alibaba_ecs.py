"""Planned compute actions as Alibaba Cloud ECS API calls (2014-05-26): security groups, instances,
ENIs, and batched assignment of secondary addresses and prefixes (at most 10 a call)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

from reconciler.errors import CloudError
from reconciler.net.eni_limits import MAX_ITEMS_PER_CALL
from reconciler.net.records import item_key
from reconciler.net.records import plain as _plain
from reconciler.providers.base import PartialStep
from reconciler.providers.params import gone
from reconciler.providers.params import optional as _opt
from reconciler.providers.params import recorded_id as _id

SG_TYPE = {"basic": "normal", "advanced": "enterprise"}
FIELD_PARAM = {
    "secondary_private_ips": "PrivateIpAddress",
    "ipv4_prefixes": "Ipv4Prefix",
    "ipv6_addresses": "Ipv6Address",
    "ipv6_prefixes": "Ipv6Prefix",
}


def _host(cidr: str) -> str:
    return cidr.split("/")[0]


class EcsActions:
    """Mixed into :class:`reconciler.providers.alibaba.ApiProvider`; uses its ``call``."""

    if TYPE_CHECKING:  # ApiProvider.call (declared here, defined there)
        def call(self, api: str, params: Mapping, token: str | None = None,
                 settled: Callable[[CloudError], bool] | None = None) -> dict: ...

    def _region_of_vswitch(self, res, vswitch: str) -> str:
        vsw = res[f"vswitch.{vswitch}"]
        return res[f"vpc.{vsw['attributes']['vpc']}"]["attributes"]["region"]

    def _record(self, a, rid, attrs) -> dict:
        return {"type": a.type, "name": a.name, "id": rid, "attributes": _plain(attrs)}

    # ---- reading -----------------------------------------------------------------------------------
    def eni_row(self, eni_id: str, region: str) -> dict | None:
        """The DescribeNetworkInterfaces row of one ENI now (None: no such ENI)."""
        r = self.call("DescribeNetworkInterfaces", {"RegionId": region, "NetworkInterfaceId.1": eni_id})
        rows = r["NetworkInterfaceSets"]["NetworkInterfaceSet"]
        return rows[0] if rows else None

    def read_enis(self, wanted: Mapping[str, str], resources: Mapping[str, dict]) -> dict[str, dict]:
        """Records of the ENIs ``wanted`` (spec address -> id) as the cloud has them, with vSwitches
        named by the spec names the state knows them by. Missing ENIs are left out."""
        by_id = {rec["id"]: rec["name"] for rec in resources.values()
                 if rec["type"] in ("vswitch", "security_group") and rec.get("id")}
        regions = sorted({rec["attributes"]["region"] for rec in resources.values()
                          if rec["type"] == "vpc"} | {r for rec in resources.values() if rec["type"] == "ipam"
                                                       for r in rec["attributes"]["operating_regions"]})
        out = {}
        for address, eni_id in sorted(wanted.items()):
            for region in regions:
                r = self.call("DescribeNetworkInterfaces", {"RegionId": region, "NetworkInterfaceId.1": eni_id}, None)
                rows = r["NetworkInterfaceSets"]["NetworkInterfaceSet"]
                if rows:
                    out[address] = eni_record(address.split(".", 1)[1], rows[0], by_id)
                    break
        return out

    # ---- security groups ------------------------------------------------------------------------
    def _security_group_create(self, a, res, token):
        vpc = res[f"vpc.{a.after['vpc']}"]
        r = self.call("CreateSecurityGroup", {"RegionId": vpc["attributes"]["region"], "VpcId": vpc["id"],
                                              "SecurityGroupType": SG_TYPE[a.after["type"]], "SecurityGroupName": a.name,
                                              **_opt(Description=a.after.get("description"))}, token)
        return {a.address: self._record(a, r["SecurityGroupId"], a.after)}

    def _security_group_update(self, a, res, token):
        current = res[a.address]
        region = res[f"vpc.{current['attributes']['vpc']}"]["attributes"]["region"]
        self.call("ModifySecurityGroupAttribute", {"RegionId": region, "SecurityGroupId": current["id"],
                                                   "SecurityGroupName": a.name,
                                                   **_opt(Description=a.after.get("description"))}, token)
        return {a.address: self._record(a, current["id"], a.after)}

    def _security_group_delete(self, a, res, token):
        region = res[f"vpc.{a.before['vpc']}"]["attributes"]["region"] if f"vpc.{a.before['vpc']}" in res else None
        self.call("DeleteSecurityGroup", {"SecurityGroupId": _id(res, a.address), **_opt(RegionId=region)}, token,
                  settled=gone)
        return {a.address: None}

    # ---- instances --------------------------------------------------------------------------------
    def _instance_create(self, a, res, token):
        after = a.after
        region = self._region_of_vswitch(res, after["vswitch"])
        params = {"RegionId": region, "InstanceType": after["instance_type"],
                  "VSwitchId": _id(res, f"vswitch.{after['vswitch']}"), "InstanceName": a.name,
                  **_opt(PrivateIpAddress=after.get("primary_ip"), Description=after.get("description"))}
        if after.get("security_group"):
            params["SecurityGroupId"] = _id(res, f"security_group.{after['security_group']}")
        r = self.call("CreateInstance", params, token)
        iid = r["InstanceId"]
        stop_error = None
        if after.get("status") == "Stopped":
            try:
                self.call("StopInstance", {"InstanceId": iid}, f"{token}-stop" if token else None)
            except CloudError as exc:  # the instance exists and runs: record it so, then fail the step
                stop_error = exc
        eni = self.call("DescribeNetworkInterfaces", {"RegionId": region, "InstanceId": iid, "Type": "Primary"}, None)
        rows = eni["NetworkInterfaceSets"]["NetworkInterfaceSet"]
        primary = f"{a.name}-primary"
        eni_attrs = {"vswitch": after["vswitch"], "security_group": after.get("security_group"), "instance": a.name,
                     "primary": True, "managed": False, "primary_ip": rows[0]["PrivateIpAddress"],
                     "secondary_private_ips": [], "ipv4_prefixes": [], "ipv6_addresses": [], "ipv6_prefixes": [],
                     "description": None}
        attrs = {**after, "primary_ip": rows[0]["PrivateIpAddress"]}
        if stop_error is not None:
            attrs["status"] = "Running"
        out = {a.address: self._record(a, iid, attrs),
               f"eni.{primary}": {"type": "eni", "name": primary, "id": rows[0]["NetworkInterfaceId"],
                                  "attributes": eni_attrs}}
        if stop_error is not None:

            raise PartialStep(out, CloudError(
                stop_error.code, f"{a.address} was created ({iid}) but StopInstance was refused: {stop_error.detail}; "
                "it is recorded as Running, and the next plan stops it", address=a.address))
        return out

    def _instance_update(self, a, res, token):
        current = res[a.address]
        if a.api in ("StartInstance", "StopInstance"):
            self.call(a.api, {"InstanceId": current["id"]}, token)
            attrs = {**current["attributes"], "status": a.after["status"]}
        else:
            self.call("ModifyInstanceAttribute", {"InstanceId": current["id"], "InstanceName": a.name,
                                                  **_opt(Description=a.after.get("description"))}, token)
            attrs = {**current["attributes"], "description": a.after.get("description")}
        return {a.address: self._record(a, current["id"], attrs)}

    def _instance_delete(self, a, res, token):
        self.call("DeleteInstance", {"InstanceId": _id(res, a.address), "Force": "true"}, token, settled=gone)
        return {a.address: None, f"eni.{a.name}-primary": None}

    # ---- ENIs ------------------------------------------------------------------------------------
    def _eni_create(self, a, res, token):
        after = a.after
        params = {"RegionId": self._region_of_vswitch(res, after["vswitch"]),
                  "VSwitchId": _id(res, f"vswitch.{after['vswitch']}"), "NetworkInterfaceName": a.name,
                  **_opt(PrimaryIpAddress=after.get("primary_ip"), Description=after.get("description"))}
        if after.get("security_group"):
            params["SecurityGroupId"] = _id(res, f"security_group.{after['security_group']}")
        r = self.call("CreateNetworkInterface", params, token)
        return {a.address: self._record(a, r["NetworkInterfaceId"], after)}

    def _eni_update(self, a, res, token):
        current = res[a.address]
        attrs = dict(current["attributes"])
        region = self._region_of_vswitch(res, attrs["vswitch"])
        if a.api == "AttachNetworkInterface":
            iid = _id(res, f"instance.{a.after['instance']}")
            self.call(a.api, {"RegionId": region, "NetworkInterfaceId": current["id"], "InstanceId": iid}, token,
                      settled=lambda _e: (self.eni_row(current["id"], region) or {}).get("InstanceId") == iid)
            attrs["instance"] = a.after["instance"]
        elif a.api == "DetachNetworkInterface":
            iid = _id(res, f"instance.{a.before['instance']}")
            self.call(a.api, {"RegionId": region, "NetworkInterfaceId": current["id"], "InstanceId": iid}, token,
                      settled=lambda _e: (self.eni_row(current["id"], region) or {}).get("InstanceId") != iid)
            attrs["instance"] = None
        else:
            params = {"RegionId": region, "NetworkInterfaceId": current["id"],
                      **_opt(Description=a.after.get("description"))}
            if a.after.get("security_group"):
                params["SecurityGroupId.1"] = _id(res, f"security_group.{a.after['security_group']}")
            self.call("ModifyNetworkInterfaceAttribute", params, token)
            attrs.update(security_group=a.after.get("security_group"), description=a.after.get("description"))
        return {a.address: self._record(a, current["id"], attrs)}

    def _eni_delete(self, a, res, token):
        region = self._region_of_vswitch(res, a.before["vswitch"])
        self.call("DeleteNetworkInterface", {"RegionId": region, "NetworkInterfaceId": _id(res, a.address)}, token,
                  settled=gone)
        return {a.address: None}

    def _eni_assign(self, a, res, token, batch=None):
        return self._eni_batch(batch or [a], res, token, assign=True)

    def _eni_unassign(self, a, res, token, batch=None):
        return self._eni_batch(batch or [a], res, token, assign=False)

    def _eni_batch(self, batch, res, token, *, assign: bool):
        first = batch[0]
        if len(batch) > MAX_ITEMS_PER_CALL:
            raise CloudError("Provider.BatchTooLarge", f"at most {MAX_ITEMS_PER_CALL} items a call")
        current = res[first.address]
        attrs: dict[str, Any] = {k: (list(v) if isinstance(v, list) else v) for k, v in current["attributes"].items()}
        params = {"RegionId": self._region_of_vswitch(res, attrs["vswitch"]), "NetworkInterfaceId": current["id"]}
        counters: dict[str, int] = {}
        for action in batch:
            block = action.after if assign else action.before
            key = block["field"]
            param = FIELD_PARAM[key]
            counters[param] = counters.get(param, 0) + 1
            value = block["cidr"] if key.endswith("prefixes") else _host(block["cidr"])
            params[f"{param}.{counters[param]}"] = value
            items = attrs.get(key) or []
            attrs[key] = sorted(set(items) | {value}, key=item_key) if assign else [x for x in items if x != value]
        if assign:
            self.call(first.api, params, token)
        else:  # no ClientToken in the Unassign* APIs: done when none of the items is on the ENI any more
            leaving = {v for k, v in params.items() if "." in k}
            self.call(first.api, params, token, settled=lambda _e: not leaving & _items(
                self.eni_row(current["id"], params["RegionId"])))
        return {first.address: self._record(first, current["id"], attrs)}


def _items(row: Mapping | None) -> set[str]:
    """Every address and prefix on an ENI row (nothing when there is no ENI)."""
    if row is None:
        return set()
    a = eni_record("", row, {})["attributes"]
    return {*a["secondary_private_ips"], *a["ipv4_prefixes"], *a["ipv6_addresses"], *a["ipv6_prefixes"]}


def first_group(row: Mapping) -> str | None:
    """The id of a row's first security group (an ENI's or an instance's)."""
    groups = (row.get("SecurityGroupIds") or {}).get("SecurityGroupId") or []
    return groups[0] if groups else None


def eni_record(name: str, row: Mapping, names: Mapping[str, str]) -> dict:
    """A state-shaped record of a DescribeNetworkInterfaces row; ``names`` maps the ids of vSwitches
    and security groups to their spec names (an id it lacks reads as None)."""
    private = row.get("PrivateIpSets", {}).get("PrivateIpSet", [])
    attrs = {
        "vswitch": names.get(row.get("VSwitchId")),  # type: ignore[arg-type]  # None: no name
        "security_group": names.get(first_group(row)),  # type: ignore[arg-type]  # None: no name
        "instance": None,
        "primary": row.get("Type") == "Primary", "managed": bool(row.get("ServiceManaged")),
        "primary_ip": row.get("PrivateIpAddress"),
        "secondary_private_ips": sorted((p["PrivateIpAddress"] for p in private if not p.get("Primary")), key=item_key),
        "ipv4_prefixes": sorted((p["Ipv4Prefix"] for p in row.get("Ipv4PrefixSets", {}).get("Ipv4PrefixSet", [])),
                                key=item_key),
        "ipv6_addresses": sorted((p["Ipv6Address"] for p in row.get("Ipv6Sets", {}).get("Ipv6Set", [])), key=item_key),
        "ipv6_prefixes": sorted((p["Ipv6Prefix"] for p in row.get("Ipv6PrefixSets", {}).get("Ipv6PrefixSet", [])),
                                key=item_key),
        "description": row.get("Description") or None,
    }
    return {"type": "eni", "name": name, "id": row["NetworkInterfaceId"], "attributes": attrs}
