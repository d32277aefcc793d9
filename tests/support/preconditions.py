"""An independent model of the cloud's preconditions, used to walk a plan step by step.

It knows nothing of the planner: it keeps what exists and, before each action, asserts the
precondition the cloud documents for that call (a parent exists before a child is made; a block is
free of allocations before it is deprovisioned; a pool is empty before it is deleted; ...).
"""

from __future__ import annotations

from reconciler.net.cidr import Cidr
from reconciler.plans.order import Action


class Cloud:
    def __init__(self, recorded: dict, desired: dict | None = None):
        self.res = {a: {"type": r["type"], "attributes": _copy(r["attributes"])} for a, r in recorded.items()}
        self.desired = desired or {}

    # ---- views --------------------------------------------------------------------------------
    def of_type(self, t):
        return {a: r["attributes"] for a, r in self.res.items() if r["type"] == t}

    def pool_cidrs(self, pool):
        rec = self.res.get(f"ipam_pool.{pool}")
        return [Cidr.parse(c) for c in rec["attributes"]["cidrs"]] if rec else []

    def allocations_in(self, pool):
        """Every block allocated from ``pool``: sub-pool CIDRs, custom allocations, VPC blocks."""
        out = []
        for a, p in self.of_type("ipam_pool").items():
            if p.get("source") == pool:
                out += [(a, Cidr.parse(c)) for c in p["cidrs"]]
        for a, x in self.of_type("ipam_pool_allocation").items():
            if x["pool"] == pool:
                out.append((a, Cidr.parse(x["cidr"])))
        for a, v in self.of_type("vpc").items():
            for b in [v["ipv4"], v.get("ipv6"), *v["secondary_cidrs"]]:
                if b and b.get("pool") == pool:
                    out.append((a, Cidr.parse(b["cidr"])))
        return out

    def contained(self, pool, cidr):
        return any(c.contains(Cidr.parse(cidr)) for c in self.pool_cidrs(pool))

    # ---- one step -----------------------------------------------------------------------------
    def step(self, a) -> None:
        t, addr, act = a.type, a.address, a.action
        here = addr in self.res
        if t in ("security_group", "instance", "eni") or (t == "vswitch" and act in (Action.ALLOCATE, Action.RELEASE)):
            return self.compute_step(a, here)
        if act is Action.CREATE:
            assert not here, f"{addr} created twice"
            after = _copy(a.after)
            if t == "ipam_scope":
                assert f"ipam.{after['ipam']}" in self.res, f"{addr}: IPAM missing"
            if t == "ipam_pool":
                assert after["scope"] in ("private", "public") or f"ipam_scope.{after['scope']}" in self.res
                if after.get("source"):
                    assert f"ipam_pool.{after['source']}" in self.res, f"{addr}: source pool missing"
                if after.get("region"):
                    ipam = next(iter(self.of_type("ipam").values()))
                    assert after["region"] in ipam["operating_regions"], f"{addr}: region not operating yet"
                after["cidrs"] = []
            if t == "vpc":
                for b in (after["ipv4"], after.get("ipv6")):
                    if b and b.get("pool"):
                        assert self.contained(b["pool"], b["cidr"]), f"{addr}: {b['cidr']} not provisioned in {b['pool']}"
                after["secondary_cidrs"] = []
            if t == "vswitch":
                vpc = self.res.get(f"vpc.{after['vpc']}")
                assert vpc, f"{addr}: VPC missing"
                blocks = [vpc["attributes"]["ipv4"], *vpc["attributes"]["secondary_cidrs"]]
                assert any(Cidr.parse(b["cidr"]).contains(Cidr.parse(a.cidr)) for b in blocks), f"{addr}: not in VPC"
            if t == "ipam":
                for scope in ("private", "public"):
                    self.res[f"ipam_scope.{scope}"] = {"type": "ipam_scope", "attributes": {
                        "ipam": a.name, "type": scope, "default": True, "description": None}}
            self.res[addr] = {"type": t, "attributes": after}
        elif act is Action.PROVISION:
            pool = self.res[addr]["attributes"]
            if pool.get("source"):
                assert self.contained(pool["source"], a.cidr), f"{addr}: {a.cidr} not provisioned in source"
            pool["cidrs"].append(a.cidr)
        elif act is Action.ALLOCATE:
            if t == "ipam_pool_allocation":
                assert self.contained(a.after["pool"], a.cidr), f"{addr}: {a.cidr} not provisioned"
                self.res[addr] = {"type": t, "attributes": _copy(a.after)}
            else:
                assert here, f"{addr}: VPC missing"
                if a.after.get("pool"):
                    assert self.contained(a.after["pool"], a.cidr)
                v = self.res[addr]["attributes"]
                if ":" in a.cidr:
                    v["ipv6"] = _copy(a.after)
                else:
                    v["secondary_cidrs"].append(_copy(a.after))
        elif act is Action.UPDATE:
            assert here
            if t == "ipam":
                removed = set(self.res[addr]["attributes"]["operating_regions"]) - set(a.after["operating_regions"])
                for p, attrs in self.of_type("ipam_pool").items():
                    assert attrs.get("region") not in removed, f"{addr}: region of {p} removed while in use"
            keep = {k: v for k, v in self.res[addr]["attributes"].items() if k in ("cidrs", "secondary_cidrs")}
            self.res[addr]["attributes"] = {**_copy(a.after), **keep}
        elif act is Action.DEPROVISION:
            pool = self.res[addr]["attributes"]
            block = Cidr.parse(a.cidr)
            inside = [x for x, c in self.allocations_in(a.name) if block.contains(c)]
            assert not inside, f"{addr}: deprovision {a.cidr} while {inside} allocated in it"
            pool["cidrs"].remove(a.cidr)
        elif act is Action.RELEASE:
            assert here
            if t == "vpc":
                v = self.res[addr]["attributes"]
                block = Cidr.parse(a.cidr)
                vsw = [x for x, s in self.of_type("vswitch").items() if s["vpc"] == a.name and block.contains(Cidr.parse(s["cidr"]))]
                assert not vsw, f"{addr}: release {a.cidr} with vSwitches {vsw} in it"
                if ":" in a.cidr:
                    v["ipv6"] = None
                else:
                    v["secondary_cidrs"] = [b for b in v["secondary_cidrs"] if b["cidr"] != a.cidr]
            else:
                del self.res[addr]
        elif act is Action.DELETE:
            assert here, f"{addr} deleted but does not exist"
            if t == "vpc":
                assert not [x for x, s in self.of_type("vswitch").items() if s["vpc"] == a.name], f"{addr}: vSwitches left"
                assert not [x for x, s in self.of_type("security_group").items() if s["vpc"] == a.name], f"{addr}: SGs left"
            if t == "vswitch":
                users = [x for x, s in {**self.of_type("eni"), **self.of_type("instance")}.items() if s["vswitch"] == a.name]
                assert not users, f"{addr}: {users} still in it"
                assert not self.res[addr]["attributes"].get("prefix_reservations"), f"{addr}: reservations left"
            if t == "ipam_pool":
                assert not self.res[addr]["attributes"]["cidrs"], f"{addr}: CIDRs still provisioned"
                assert not [p for p, x in self.of_type("ipam_pool").items() if x.get("source") == a.name], f"{addr}: sub-pools"
                assert not [p for p, x in self.of_type("ipam_pool_allocation").items() if x["pool"] == a.name]
            if t == "ipam_scope":
                assert not [p for p, x in self.of_type("ipam_pool").items() if x["scope"] == a.name], f"{addr}: pools left"
            if t == "ipam":
                assert not self.of_type("ipam_pool"), f"{addr}: pools left"
                assert not [s for s, x in self.of_type("ipam_scope").items() if not x["default"]], f"{addr}: scopes left"
                for scope in ("private", "public"):
                    self.res.pop(f"ipam_scope.{scope}", None)
            del self.res[addr]
        else:  # pragma: no cover
            raise AssertionError(f"unknown action {act}")


def _items(attrs):
    return [x for k in ("secondary_private_ips", "ipv4_prefixes", "ipv6_addresses", "ipv6_prefixes") for x in attrs.get(k) or []]


def _compute_step(self, a, here) -> None:
    t, addr, act = a.type, a.address, a.action
    if t == "vswitch":
        v = self.res[addr]["attributes"]
        v.setdefault("prefix_reservations", [])
        if act is Action.ALLOCATE:
            v["prefix_reservations"].append(a.cidr)
        else:
            inside = [e for e, x in self.of_type("eni").items() if x.get("vswitch") == a.name and any(
                "/" in p and Cidr.parse(a.cidr).contains(Cidr.parse(p)) for p in _items(x))]
            assert not inside, f"{addr}: reservation {a.cidr} released while {inside} hold prefixes in it"
            v["prefix_reservations"].remove(a.cidr)
        return
    if act is Action.CREATE:
        assert not here, f"{addr} created twice"
        after = _copy(a.after)
        assert f"vswitch.{after['vswitch']}" in self.res if "vswitch" in after else f"vpc.{after['vpc']}" in self.res
        if after.get("security_group"):
            assert f"security_group.{after['security_group']}" in self.res, f"{addr}: security group missing"
        self.res[addr] = {"type": t, "attributes": after}
        if t == "instance":
            self.res[f"eni.{a.name}-primary"] = {"type": "eni", "attributes": {
                "vswitch": after["vswitch"], "security_group": after.get("security_group"), "instance": a.name,
                "primary": True, "managed": False, "primary_ip": after["primary_ip"], "secondary_private_ips": [],
                "ipv4_prefixes": [], "ipv6_addresses": [], "ipv6_prefixes": [], "description": None}}
        return
    assert here, f"{addr}: {act.value} on something that does not exist"
    attrs = self.res[addr]["attributes"]
    if act is Action.ASSIGN:
        key, cidr = a.after["field"], a.after["cidr"]
        value = cidr if key.endswith("prefixes") else cidr.split("/")[0]
        if key == "ipv4_prefixes":
            vsw = self.res[f"vswitch.{attrs['vswitch']}"]["attributes"]
            final = self.desired.get(f"vswitch.{attrs['vswitch']}", {}).get("attributes", {})
            if final.get("prefix_reservations"):
                assert any(Cidr.parse(r).contains(Cidr.parse(cidr)) for r in vsw.get("prefix_reservations") or []), \
                    f"{addr}: {cidr} assigned before its prefix reservation exists"
        attrs.setdefault(key, []).append(value)
    elif act is Action.UNASSIGN:
        key, cidr = a.before["field"], a.before["cidr"]
        value = cidr if key.endswith("prefixes") else cidr.split("/")[0]
        attrs[key].remove(value)
    elif act is Action.UPDATE:
        if a.api == "AttachNetworkInterface":
            assert f"instance.{a.after['instance']}" in self.res, f"{addr}: attach before the instance exists"
            attrs["instance"] = a.after["instance"]
        elif a.api == "DetachNetworkInterface":
            assert attrs.get("instance"), f"{addr}: detach while not attached"
            attrs["instance"] = None
        else:
            keep = {k: v for k, v in attrs.items() if k in ("secondary_private_ips", "ipv4_prefixes", "ipv6_addresses",
                                                             "ipv6_prefixes", "instance")}
            self.res[addr]["attributes"] = {**_copy(a.after), **keep}
    elif act is Action.DELETE:
        if t == "eni":
            assert not attrs.get("instance"), f"{addr}: deleted while attached"
            assert not _items(attrs), f"{addr}: deleted before its addresses were unassigned"
        if t == "instance":
            attached = [e for e, x in self.of_type("eni").items() if x.get("instance") == a.name and not x.get("primary")]
            assert not attached, f"{addr}: deleted with {attached} attached"
            assert not _items(self.res[f"eni.{a.name}-primary"]["attributes"]), f"{addr}: primary ENI not unassigned"
            del self.res[f"eni.{a.name}-primary"]
        if t == "security_group":
            users = [e for e, x in {**self.of_type("eni"), **self.of_type("instance")}.items()
                     if x.get("security_group") == a.name]
            assert not users, f"{addr}: still used by {users}"
        del self.res[addr]
    else:  # pragma: no cover
        raise AssertionError(f"unexpected {act} on {addr}")


Cloud.compute_step = _compute_step


def _copy(value):
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(v) for v in value]
    return value


def walk(plan, recorded) -> dict:
    """Run every action of ``plan`` through the model; returns the final attributes by address."""
    cloud = Cloud(recorded, dict(plan.desired))
    for action in plan.actions:
        cloud.step(action)
    return {a: r["attributes"] for a, r in cloud.res.items()}
