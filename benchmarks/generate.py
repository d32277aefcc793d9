"""Realistic address plans of N resources for the benchmarks, deterministic for a seed.

One IPAM in four operating regions; the default scopes plus custom private scopes (a second
tree opens when a scope nears its 500-pool quota, and an ``acquired`` scope overlaps the main
one); IPv4 pool trees five to six levels deep (root /8 -> region /11 -> business unit /14 ->
environment /16 -> team /18 [-> application /19]) and a public IPv6 tree three levels deep
(region /40 -> business unit /46 -> environment /50); custom allocations (explicit on-premises
blocks at the root, mask reservations in team pools); VPCs with a primary block from a team
pool (by mask or by the pool's default mask), secondary CIDRs, an IPv6 /56 for half of them, a
few legacy VPCs with explicit CIDRs outside IPAM (each new VPC is one with a chance of 3 %);
vSwitches (/23 to /26, some with an IPv6 /64; only a legacy VPC's first vSwitch has a prefix
reservation, so small plans have none: none at 1,000 or 5,000 resources with the default seed,
2 at 6,000, 19 at 100,000); per VPC a basic security group for instances and an advanced one for
ENIs; instances (ecs.g7/c7/r7) with secondary private IPs on their primary ENI; attached and
Available ENIs with secondary IPs, IPv4 /28 and IPv6 /80 prefixes.

Every cloud limit the planner enforces is kept: 50 sub-pools and 50 CIDRs per pool, 500 pools per
private scope, depth <= 10, VPC /8-/28, vSwitch /16-/29, per-ENI address limits of the instance
type (ecs.g7.large: 6 IPv4 counting primary, secondaries and /28 prefixes) and of Available ENIs
(10 IPs, 49 prefixes), security-group quotas, prefixes only in regions that have them. Space
is budgeted so that every ``{mask: N}`` / ``{count: N}`` resolves: vSwitches fill at most 60 % of
their VPC's block and addresses at most 60 % of their vSwitch; team pools are filled to 70 %.

"Resources" are records of the desired state (the IPAM, its two default scopes, every declared
resource, and each instance's implicit primary ENI), the unit ``ipamctl plan`` works in.

    python -m benchmarks.generate --sizes 1000,10000 --formats yaml,json --out benchmarks/.work
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SEED = 5  # issue 5

REGIONS = {  # region -> zones; all four have IP prefixes
    "cn-hangzhou": ["h", "i", "j", "k"],
    "cn-shanghai": ["b", "e", "f", "g"],
    "cn-beijing": ["a", "c", "g", "h"],
    "cn-shenzhen": ["a", "d", "e", "f"],
}
REGION_WEIGHTS = {"cn-hangzhou": 40, "cn-shanghai": 30, "cn-beijing": 20, "cn-shenzhen": 10}
SHORT = {"cn-hangzhou": "hz", "cn-shanghai": "sh", "cn-beijing": "bj", "cn-shenzhen": "sz"}
REGION_BLOCK = {"cn-hangzhou": "10.0.0.0/11", "cn-shanghai": "10.32.0.0/11", "cn-beijing": "10.64.0.0/11",
                "cn-shenzhen": "10.96.0.0/11"}
BUSINESS_UNITS = ["trade", "payments", "logistics", "search", "ads", "data", "infra", "risk"]  # 8 /14s per /11
ENVIRONMENTS = ["prod", "staging", "test", "dev"]  # 4 /16s per /14
TEAMS_PER_ENV = 4  # 4 /18s per /16
MAIN_SCOPES = ["private", "corp-b", "corp-c"]  # a new tree opens when a scope nears its quota
ACQUIRED = "acquired"
SCOPE_POOL_BUDGET = 420  # of the 500-pool quota per private scope
TEAM_FILL = 0.70
VSWITCH_FILL = 0.60  # of a VPC's primary block
ADDRESS_FILL = 0.60  # of a vSwitch's usable addresses
# (type, ENIs per instance, IPv4 per ENI, IPv6 per ENI), with weights
INSTANCE_TYPES = [("ecs.g7.large", 3, 6, 6, 55), ("ecs.c7.large", 3, 6, 6, 15), ("ecs.g7.xlarge", 4, 15, 15, 20),
                  ("ecs.r7.xlarge", 4, 15, 15, 10)]
AVAILABLE_MAX_IPV4 = 10
ZONES_PER_VPC = 2


def _wchoice(rng: random.Random, items: dict):
    keys = list(items)
    return rng.choices(keys, weights=[items[k] for k in keys])[0]


# ---- the model: spec bodies by file, plus the budgets churn needs ------------------------------------
@dataclass
class EniMeta:
    name: str
    vswitch: str
    instance: str | None
    ipv4_limit: int
    sec: int
    prefixes: int
    v6prefixes: int


@dataclass
class VSwitchMeta:
    name: str
    vpc: str
    zone: str
    usable: int
    used: int
    has_v6: bool
    legacy: bool
    instances: list[str] = field(default_factory=list)
    enis: list[str] = field(default_factory=list)


@dataclass
class VpcMeta:
    name: str
    region: str
    file: str
    capacity: int  # addresses of the primary block
    used: int  # addresses of its vSwitches
    vswitch_mask: tuple[int, int]
    legacy: bool
    has_v6: bool
    next_v6: int = 0
    vswitches: list[str] = field(default_factory=list)


@dataclass
class LeafMeta:
    name: str
    capacity: int
    used: int
    region: str


@dataclass
class Model:
    n: int
    seed: int
    files: dict = field(default_factory=dict)  # file -> kind -> name -> body (ipam: body)
    where: dict = field(default_factory=dict)  # (kind, name) -> file
    count: int = 0  # records of the desired state
    vpcs: dict = field(default_factory=dict)
    vswitches: dict = field(default_factory=dict)
    enis: dict = field(default_factory=dict)
    instances: dict = field(default_factory=dict)  # name -> (vswitch, ENIs per instance, IPv4 per ENI, attached)
    leaves: dict = field(default_factory=dict)
    allocations: list = field(default_factory=list)  # names of mask reservations in leaves (churn may drop them)
    counters: dict = field(default_factory=dict)

    def put(self, file: str, kind: str, name: str, body: dict, records: int = 1) -> None:
        if (kind, name) in self.where:
            raise ValueError(f"duplicate {kind}.{name}")
        self.files.setdefault(file, {}).setdefault(kind, {})[name] = body
        self.where[(kind, name)] = file
        self.count += records

    def body(self, kind: str, name: str) -> dict:
        return self.files[self.where[(kind, name)]][kind][name]

    def drop(self, kind: str, name: str, records: int = 1) -> None:
        file = self.where.pop((kind, name))
        del self.files[file][kind][name]
        self.count -= records

    def next(self, key: str) -> int:
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]

    def kinds(self) -> dict:
        """Resources per kind (declared, without implicit records)."""
        out: dict[str, int] = {}
        for (kind, _name) in self.where:
            out[kind] = out.get(kind, 0) + 1
        return out


# ---- pool trees ------------------------------------------------------------------------------------
class ScopeTree:
    """One private scope's IPv4 tree, grown on demand: root -> region -> BU -> env -> team [-> app]."""

    def __init__(self, gen: "Generator", scope: str, prefix: str):
        self.gen, self.scope, self.prefix = gen, scope, prefix
        self.pools = 0
        self.root = f"{prefix}root" if prefix else "root"
        self.regions: dict[str, dict] = {}
        self.file = f"10-pools-{scope}"

    def add_pool(self, name: str, body: dict) -> None:
        self.gen.m.put(self.file, "pools", name, body)
        self.pools += 1

    def ensure_root(self) -> None:
        if self.pools:
            return
        cidrs = ["10.0.0.0/8"] + (["100.64.0.0/10"] if self.scope == "private" else [])
        self.add_pool(self.root, {"scope": self.scope, "ip_version": "IPv4", "cidrs": cidrs,
                                  "description": f"Top of the {self.scope} scope"})

    def region(self, region: str) -> dict:
        self.ensure_root()
        if region not in self.regions:
            name = f"{self.prefix}{SHORT[region]}"
            self.add_pool(name, {"source": self.root, "region": region, "cidrs": [REGION_BLOCK[region]]})
            self.regions[region] = {"pool": name, "bus": 0, "envs": 0, "teams": 0, "apps": 0, "bu": None,
                                    "env": None, "team": None, "leaf": None}
        return self.regions[region]

    def full(self) -> bool:
        return self.pools >= SCOPE_POOL_BUDGET

    def leaf_for(self, region: str, size: int) -> LeafMeta | None:
        """A leaf pool with ``size`` addresses free (new pools are added as needed); None when the
        region's tree is full."""
        r = self.region(region)
        leaf = r["leaf"]
        if leaf is not None and leaf.used + size <= leaf.capacity * TEAM_FILL:
            return leaf
        rng = self.gen.rng
        # an open team with a second application pool to come
        if r.get("app_parent") and r["apps"] < 2:
            return self._app(r, region)
        if r["team"] is None or r["teams"] >= TEAMS_PER_ENV:
            if r["env"] is None or r["envs"] >= len(ENVIRONMENTS):
                if r["bus"] >= len(BUSINESS_UNITS):
                    return None
                bu = f"{r['pool']}-{BUSINESS_UNITS[r['bus']]}"
                r["bus"] += 1
                self.add_pool(bu, {"source": r["pool"], "cidrs": [{"mask": 14}]})
                r["bu"], r["envs"] = bu, 0
            env = f"{r['bu']}-{ENVIRONMENTS[r['envs']]}"
            r["envs"] += 1
            self.add_pool(env, {"source": r["bu"], "cidrs": [{"mask": 16}],
                                "description": f"{ENVIRONMENTS[r['envs'] - 1]} environment"})
            r["env"], r["teams"] = env, 0
            r["team"] = None
        team = f"{r['env']}-t{r['teams'] + 1}"
        r["teams"] += 1
        r["team"] = team
        if rng.random() < 0.2:  # a team that splits its space per application: a sixth level
            self.add_pool(team, {"source": r["env"], "cidrs": [{"mask": 18}]})
            r["app_parent"], r["apps"] = team, 0
            return self._app(r, region)
        r["app_parent"] = None
        self.add_pool(team, {"source": r["env"], "cidrs": [{"mask": 18}],
                             "allocation": {"min_mask": 16, "default_mask": 21, "max_mask": 24}})
        leaf = LeafMeta(team, 1 << 14, 0, region)
        r["leaf"] = leaf
        self.gen.m.leaves[team] = leaf
        return leaf

    def _app(self, r: dict, region: str) -> LeafMeta:
        parent = r["app_parent"]
        r["apps"] += 1
        name = f"{parent}-app{r['apps']}"
        self.add_pool(name, {"source": parent, "cidrs": [{"mask": 19}],
                             "allocation": {"min_mask": 16, "default_mask": 21, "max_mask": 24}})
        if r["apps"] >= 2:
            r["app_parent"] = None
        leaf = LeafMeta(name, 1 << 13, 0, region)
        r["leaf"] = leaf
        self.gen.m.leaves[name] = leaf
        return leaf


# ---- the generator ---------------------------------------------------------------------------------
class Generator:
    def __init__(self, n: int, seed: int = SEED):
        self.rng = random.Random(f"ipam-bench:{seed}:{n}")
        self.m = Model(n, seed)
        self.trees: dict[str, ScopeTree] = {}
        self.main = 0
        self.v6_pools: set[str] = set()
        self.legacy = 0

    # -- top ---------------------------------------------------------------------------------------
    def run(self) -> Model:
        m = self.m
        m.put("00-ipam", "ipam", "ipam", {"name": "corp", "region": "cn-hangzhou",
                                          "operating_regions": sorted(REGIONS),
                                          "description": "Corporate address plan (benchmark)"}, records=3)
        self._scope(ACQUIRED, "Addresses of an acquired company, overlapping ours")
        self.trees["private"] = ScopeTree(self, "private", "")
        self.trees["private"].ensure_root()
        self.trees[ACQUIRED] = ScopeTree(self, ACQUIRED, "acq-")
        # explicit on-premises blocks at the root, and the container overlay range
        for i in range(max(2, m.n // 20000)):
            m.put("20-allocations", "allocations", f"idc-{i + 1}",
                  {"pool": "root", "cidr": f"10.{200 + i}.0.0/16", "description": "On-premises data centre"})
        m.put("20-allocations", "allocations", "overlay",
              {"pool": "root", "cidr": "100.64.0.0/16", "description": "Container overlay"})
        while m.count < m.n:
            self.vpc()
        return m

    def _scope(self, name: str, description: str) -> None:
        self.m.put("00-ipam", "scopes", name, {"type": "private", "description": description})

    def tree_for(self, region: str, size: int) -> tuple[ScopeTree, LeafMeta]:
        if self.rng.random() < 0.04:
            tree = self.trees[ACQUIRED]
            leaf = tree.leaf_for(region, size)
            if leaf is not None:
                return tree, leaf
        while True:
            scope = MAIN_SCOPES[self.main]
            if scope not in self.trees:
                self._scope(scope, "Another private address space of the group")
                self.trees[scope] = ScopeTree(self, scope, f"{scope[-1]}-")
            tree = self.trees[scope]
            leaf = None if tree.full() else tree.leaf_for(region, size)
            if leaf is not None:
                return tree, leaf
            self.main += 1
            if self.main >= len(MAIN_SCOPES):
                raise ValueError("the plan outgrew every scope; lower N")

    def v6_pool(self, tree: ScopeTree, leaf: LeafMeta, region: str) -> str:
        """The IPv6 environment pool matching a leaf (created with its parents on first use)."""
        top = f"v6-{SHORT[region]}"
        env = re.match(r"(.*)-t\d+(-app\d+)?$", leaf.name).group(1)  # <env>-t<k>[-app<j>]
        bu = env.rsplit("-", 1)[0]
        for name, body in ((top, {"scope": "public", "ip_version": "IPv6", "region": region, "cidrs": [{"mask": 40}]}),
                           (f"v6-{bu}", {"source": top, "cidrs": [{"mask": 46}]}),
                           (f"v6-{env}", {"source": f"v6-{bu}", "cidrs": [{"mask": 50}],
                                          "allocation": {"min_mask": 48, "default_mask": 56, "max_mask": 64}})):
            if name not in self.v6_pools:
                self.m.put("11-pools-ipv6", "pools", name, body)
                self.v6_pools.add(name)
        return f"v6-{env}"

    # -- one VPC with everything in it ----------------------------------------------------------------
    def vpc(self) -> None:
        rng, m = self.rng, self.m
        region = _wchoice(rng, REGION_WEIGHTS)
        if rng.random() < 0.03 and self.legacy < 200:
            return self.legacy_vpc(region)
        grown = rng.random() < 0.08
        mask = 21 if grown else rng.choices([20, 21, 22], weights=[55, 35, 10])[0]
        secondaries = [22] if grown else ([rng.choice([22, 23])] if rng.random() < 0.2 else [])
        if not grown and rng.random() < 0.05:
            secondaries.append(23)
        use_default = mask == 21 and not grown and rng.random() < 0.4
        size = (1 << (32 - mask)) + sum(1 << (32 - s) for s in secondaries)
        tree, leaf = self.tree_for(region, size)
        leaf.used += size
        if rng.random() < 0.3 and leaf.used + 256 <= leaf.capacity * TEAM_FILL:  # a reserved block
            alloc = f"{leaf.name}-rsv{m.next(leaf.name + ':rsv')}"
            m.put("20-allocations", "allocations", alloc, {"pool": leaf.name, "mask": rng.choice([23, 24]),
                                                           "description": "Reserved for a partner link"})
            leaf.used += 512
            m.allocations.append(alloc)
        bu = leaf.name.split("-")[: 2 + (1 if tree.prefix else 0)]
        file = f"30-{tree.scope}-{'-'.join(bu)}"
        name = f"{leaf.name}-vpc{m.next(leaf.name)}"
        body: dict = {"region": region, "ipv4": {"pool": leaf.name} if use_default else {"pool": leaf.name, "mask": mask}}
        if secondaries:
            body["secondary_cidrs"] = [{"pool": leaf.name, "mask": s} for s in secondaries]
        has_v6 = rng.random() < 0.5
        if has_v6:
            body["ipv6"] = {"pool": self.v6_pool(tree, leaf, region), "mask": 56}
        if rng.random() < 0.3:
            body["description"] = f"{name.split('-')[1]} workloads"
        m.put(file, "vpcs", name, body)
        vmeta = VpcMeta(name, region, file, 1 << (32 - mask), 0, (mask + 3, mask + 4), False, has_v6)
        m.vpcs[name] = vmeta
        self.security_groups(file, name)
        zones = rng.sample(REGIONS[region], ZONES_PER_VPC)
        if grown:  # eight /24s fill the /21 exactly; the next ones land in the secondary /22
            plan = [24] * 10
        else:
            plan, total = [], 0
            for _ in range(rng.randint(2, 12)):
                vmask = rng.choices(vmeta.vswitch_mask, weights=[30, 70])[0]
                if total + (1 << (32 - vmask)) > vmeta.capacity * VSWITCH_FILL:
                    break
                total += 1 << (32 - vmask)
                plan.append(vmask)
        for i, vmask in enumerate(plan):
            if m.count >= m.n and i > 0:
                break
            self.vswitch(file, vmeta, f"{region}-{zones[i % len(zones)]}", vmask)

    def security_groups(self, file: str, vpc: str) -> None:
        self.m.put(file, "security_groups", f"{vpc}-web", {"vpc": vpc, "type": "basic"})
        self.m.put(file, "security_groups", f"{vpc}-pods", {"vpc": vpc, "type": "advanced",
                                                            "description": "ENIs of container nodes"})

    def vswitch(self, file: str, vpc: VpcMeta, zone: str, vmask: int, *, fill: bool = True) -> VSwitchMeta:
        m = self.m
        name = f"{vpc.name}-{zone.rsplit('-', 1)[1]}{len(vpc.vswitches) + 1}"
        body: dict = {"vpc": vpc.name, "zone": zone, "cidr": {"mask": vmask}}
        if vpc.has_v6:
            body["ipv6_cidr"] = {"index": vpc.next_v6}
            vpc.next_v6 += 1
        m.put(file, "vswitches", name, body)
        usable = (1 << (32 - vmask)) - 4
        meta = VSwitchMeta(name, vpc.name, zone, usable, 0, vpc.has_v6, False)
        m.vswitches[name] = meta
        vpc.vswitches.append(name)
        vpc.used += 1 << (32 - vmask)
        if fill:
            self.fill(file, vpc, meta)
        return meta

    def fill(self, file: str, vpc: VpcMeta, vsw: VSwitchMeta) -> None:
        rng, m = self.rng, self.m
        budget = int(vsw.usable * ADDRESS_FILL)
        cap = max(1, vsw.usable // 25)
        for _ in range(rng.randint(max(1, cap // 2), cap)):
            if m.count >= m.n:
                return
            if not self.instance(file, vpc, vsw, budget):
                break
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            if m.count >= m.n:
                return
            self.available_eni(file, vpc, vsw, budget)

    def instance(self, file: str, vpc: VpcMeta, vsw: VSwitchMeta, budget: int, *, name: str | None = None) -> bool:
        rng, m = self.rng, self.m
        itype, enis, ipv4, ipv6, _w = rng.choices(INSTANCE_TYPES, weights=[t[4] for t in INSTANCE_TYPES])[0]
        sec = rng.choices([0, 1, 2], weights=[60, 30, 10])[0]
        if vsw.used + 1 + sec > budget:
            return False
        name = name or f"{vpc.name}-vm{m.next(vpc.name + ':vm')}"
        body: dict = {"instance_type": itype, "vswitch": vsw.name, "security_group": f"{vpc.name}-web"}
        if rng.random() < 0.1:
            body["status"] = "Stopped"
        if sec:
            body["secondary_private_ips"] = {"count": sec}
        m.put(file, "instances", name, body, records=2)
        vsw.used += 1 + sec
        vsw.instances.append(name)
        m.instances[name] = [vsw.name, enis, ipv4, []]
        # attached ENIs (the primary ENI counts against the instance type's ENIs)
        for k in range(rng.choices([0, 1, 2], weights=[50, 40, 10])[0]):
            if k + 2 > enis or m.count >= m.n:
                break
            sec = rng.choice([0, 1, 2])
            pref = rng.choice([0, 0, 1, 2])
            pref = min(pref, ipv4 - 1 - sec)
            v6p = rng.choice([0, 1, 2]) if vsw.has_v6 else 0
            cost = 1 + sec + 16 * pref
            if vsw.used + cost > budget:
                pref, cost = 0, 1 + sec
                if vsw.used + cost > budget:
                    break
            eni = f"{name}-eth{k + 1}"
            self._eni(file, eni, vsw, f"{vpc.name}-pods", name, ipv4, sec, pref, v6p)
            vsw.used += cost
            m.instances[name][3].append(eni)
        return True

    def available_eni(self, file: str, vpc: VpcMeta, vsw: VSwitchMeta, budget: int, name: str | None = None) -> bool:
        rng, m = self.rng, self.m
        sec = rng.randint(0, 5)
        pref = rng.choice([0, 0, 1])
        v6p = rng.choice([0, 1]) if vsw.has_v6 else 0
        cost = 1 + sec + 16 * pref
        if vsw.used + cost > budget:
            return False
        name = name or f"{vpc.name}-spare{m.next(vpc.name + ':spare')}"
        self._eni(file, name, vsw, f"{vpc.name}-pods", None, AVAILABLE_MAX_IPV4, sec, pref, v6p)
        vsw.used += cost
        return True

    def _eni(self, file, name, vsw, sg, instance, limit, sec, pref, v6p, extra: dict | None = None) -> None:
        body: dict = {"vswitch": vsw.name, "security_group": sg}
        if instance:
            body["instance"] = instance
        if sec:
            body["secondary_private_ips"] = {"count": sec}
        if pref:
            body["ipv4_prefixes"] = {"count": pref}
        if v6p:
            body["ipv6_prefixes"] = {"count": v6p}
        body.update(extra or {})
        self.m.put(file, "enis", name, body)
        self.m.enis[name] = EniMeta(name, vsw.name, instance, limit, sec, pref, v6p)
        vsw.enis.append(name)

    # -- a VPC outside IPAM, with explicit blocks and addresses -----------------------------------------
    def legacy_vpc(self, region: str) -> None:
        m = self.m
        k = self.legacy
        self.legacy += 1
        second, third = 16 + k // 16, (k % 16) * 16
        base = f"172.{second}.{third}"
        file = "40-legacy"
        name = f"legacy-{SHORT[region]}-{k + 1}"
        m.put(file, "vpcs", name, {"region": region, "ipv4": {"cidr": f"{base}.0/20"},
                                   "description": "Created before IPAM; blocks kept as they are"})
        vmeta = VpcMeta(name, region, file, 4096, 0, (24, 24), True, False)
        m.vpcs[name] = vmeta
        self.security_groups(file, name)
        zones = REGIONS[region]
        for i in range(3):
            if m.count >= m.n and i > 0:
                return
            net = f"172.{second}.{third + i}"
            vname = f"{name}-{zones[i % 2]}{i + 1}"
            body: dict = {"vpc": name, "zone": f"{region}-{zones[i % 2]}", "cidr": f"{net}.0/24"}
            if i == 0:
                body["prefix_reservations"] = [f"{net}.128/26"]  # four /28s, and addresses never come from it
            m.put(file, "vswitches", vname, body)
            vsw = VSwitchMeta(vname, name, body["zone"], 252 - (64 if i == 0 else 0), 0, False, True)
            m.vswitches[vname] = vsw
            vmeta.vswitches.append(vname)
            vmeta.used += 256
            for j in range(4):
                if m.count >= m.n:
                    return
                inst = f"{vname}-vm{j + 1}"
                m.put(file, "instances", inst, {"instance_type": "ecs.g7.large", "vswitch": vname,
                                                "security_group": f"{name}-web", "primary_ip": f"{net}.{10 + j}",
                                                "secondary_private_ips": [f"{net}.{20 + j}"]}, records=2)
                vsw.used += 2
                vsw.instances.append(inst)
                m.instances[inst] = [vname, 3, 6, []]
                if j < 2:
                    eni = f"{inst}-eth1"
                    extra: dict = {"primary_ip": f"{net}.{30 + j}"}
                    if i == 0:  # prefixes from the reservation: one explicit, one by count
                        extra["ipv4_prefixes"] = [f"{net}.{128 + 16 * j}/28"] if j == 0 else {"count": 1}
                    self._eni(file, eni, vsw, f"{name}-pods", inst, 6, 0, 0, 0, extra)
                    m.enis[eni].prefixes = 1 if i == 0 else 0
                    vsw.used += 1
                    m.instances[inst][3].append(eni)


def generate(n: int, seed: int = SEED) -> Model:
    """A plan of about ``n`` resources (records of the desired state), deterministic for ``seed``."""
    return Generator(n, seed).run()


# ---- 1 % churn ------------------------------------------------------------------------------------------
def churn(model: Model, fraction: float = 0.01, seed: int = SEED) -> tuple[Model, dict]:
    """A copy of ``model`` with about ``fraction`` of its resources changed, added or removed
    (40 / 30 / 30), every change within the cloud's limits and the budgets above. Returns the new
    model and what was done (counts of touched records by operation)."""
    m = copy.deepcopy(model)
    rng = random.Random(f"ipam-bench-churn:{seed}:{model.n}")
    target = max(3, round(model.count * fraction))
    done = {"changed": 0, "added": 0, "removed": 0}
    gen = Generator(m.n, seed)
    gen.m, gen.rng = m, rng
    vswitches = sorted(n for n, v in m.vswitches.items() if not v.legacy)
    tries = 0
    while sum(done.values()) < target and tries < target * 50:
        tries += 1
        op = rng.choices(["changed", "added", "removed"], weights=[40, 30, 30])[0]
        touched = {"changed": _change, "added": _add, "removed": _remove}[op](m, gen, rng, vswitches)
        done[op] += touched
    return m, done


def _pick(rng, names):
    return names[rng.randrange(len(names))] if names else None


def _change(m: Model, gen: Generator, rng: random.Random, vswitches) -> int:
    what = rng.choice(["instance", "instance", "eni", "eni", "eni", "vpc", "vswitch", "sg"])
    if what == "instance":
        name = _pick(rng, sorted(m.instances))
        body = m.body("instances", name)
        if rng.random() < 0.5:
            body["status"] = "Running" if body.get("status") == "Stopped" else "Stopped"
        else:
            body["description"] = f"changed {m.next('desc')}"
        return 1
    if what == "eni":
        name = _pick(rng, sorted(m.enis))
        e = m.enis[name]
        body = m.body("enis", name)
        vsw = m.vswitches[e.vswitch]
        if isinstance(body.get("secondary_private_ips", {"count": 0}), dict) and not vsw.legacy:
            room = 1 + e.sec + 1 + e.prefixes <= e.ipv4_limit and vsw.used + 1 <= vsw.usable * 0.7
            if e.sec and (not room or rng.random() < 0.5):
                e.sec -= 1
                vsw.used -= 1
            elif room:
                e.sec += 1
                vsw.used += 1
            if e.sec:
                body["secondary_private_ips"] = {"count": e.sec}
            else:
                body.pop("secondary_private_ips", None)
        else:
            body["description"] = f"changed {m.next('desc')}"
        return 1
    kind = {"vpc": "vpcs", "vswitch": "vswitches", "sg": "security_groups"}[what]
    names = sorted(n for (k, n) in m.where if k == kind)
    m.body(kind, _pick(rng, names))["description"] = f"changed {m.next('desc')}"
    return 1


def _add(m: Model, gen: Generator, rng: random.Random, vswitches) -> int:
    what = rng.choice(["eni", "eni", "instance", "instance", "vswitch", "allocation"])
    before = m.count
    if what in ("eni", "instance"):
        vsw = m.vswitches[_pick(rng, vswitches)]
        if vsw.name not in m.vswitches or (("vswitches", vsw.name) not in m.where):
            return 0
        vpc = m.vpcs[vsw.vpc]
        budget = int(vsw.usable * 0.7)
        if what == "eni":
            gen.available_eni(vpc.file, vpc, vsw, budget, name=f"{vpc.name}-churn{m.next('churn')}")
        else:
            gen.instance(vpc.file, vpc, vsw, budget, name=f"{vpc.name}-churnvm{m.next('churn')}")
    elif what == "vswitch":
        vpc = m.vpcs[_pick(rng, sorted(n for n, v in m.vpcs.items() if not v.legacy))]
        vmask = vpc.vswitch_mask[1]
        if vpc.used + (1 << (32 - vmask)) <= vpc.capacity * 0.8 and vpc.next_v6 < 250:
            zone = m.vswitches[vpc.vswitches[0]].zone if vpc.vswitches else f"{vpc.region}-{REGIONS[vpc.region][0]}"
            vsw = gen.vswitch(vpc.file, vpc, zone, vmask, fill=False)
            gen.instance(vpc.file, vpc, vsw, int(vsw.usable * ADDRESS_FILL))
    else:
        leaf = m.leaves[_pick(rng, sorted(m.leaves))]
        if leaf.used + 512 <= leaf.capacity * 0.8:
            name = f"{leaf.name}-rsv{m.next(leaf.name + ':rsv')}"
            m.put("20-allocations", "allocations", name, {"pool": leaf.name, "mask": 24,
                                                          "description": "Reserved (churn)"})
            leaf.used += 512
            m.allocations.append(name)
    return m.count - before


def _remove(m: Model, gen: Generator, rng: random.Random, vswitches) -> int:
    what = rng.choice(["eni", "eni", "instance", "instance", "allocation"])
    before = m.count
    if what == "eni":
        name = _pick(rng, sorted(n for n in m.enis if ("enis", n) in m.where))
        if name:
            _drop_eni(m, name)
    elif what == "instance":
        name = _pick(rng, sorted(m.instances))
        if name:
            vsw_name, _enis, _ipv4, attached = m.instances.pop(name)
            for eni in attached:
                if ("enis", eni) in m.where:
                    _drop_eni(m, eni)
            m.drop("instances", name, records=2)
    else:
        name = _pick(rng, sorted(m.allocations))
        if name:
            m.allocations.remove(name)
            m.drop("allocations", name)
    return before - m.count


def _drop_eni(m: Model, name: str) -> None:
    e = m.enis.pop(name)
    m.drop("enis", name)
    if e.instance and e.instance in m.instances:
        m.instances[e.instance][3].remove(name)


# ---- writing -----------------------------------------------------------------------------------------------
KIND_ORDER = ["ipam", "scopes", "pools", "allocations", "vpcs", "vswitches", "security_groups", "instances", "enis"]


def documents(model: Model) -> dict[str, dict]:
    """File stem -> the document written to it (kinds in their usual order)."""
    out = {}
    for file in sorted(model.files):
        kinds = model.files[file]
        doc = {}
        for kind in KIND_ORDER:
            if kind == "ipam" and "ipam" in kinds:
                doc["ipam"] = kinds["ipam"]["ipam"]
            elif kinds.get(kind):
                doc[kind] = kinds[kind]
        if doc:
            out[file] = doc
    return out


def write_specs(model: Model, specs_dir: Path, fmt: str) -> list[Path]:
    """Write the model's files as YAML (``.yaml``) or JSON (``.json``) into ``specs_dir`` (emptied first)."""
    if specs_dir.exists():
        shutil.rmtree(specs_dir)
    specs_dir.mkdir(parents=True)
    paths = []
    for stem, doc in documents(model).items():
        if fmt == "yaml":
            path = specs_dir / f"{stem}.yaml"
            text = yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), default_flow_style=None,
                             sort_keys=False, width=120, allow_unicode=True)
        elif fmt == "json":
            path = specs_dir / f"{stem}.json"
            text = json.dumps(doc, indent=2) + "\n"
        else:
            raise ValueError(f"format {fmt!r}: yaml or json")
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


ID_PREFIX = {"ipam": "ipam-", "ipam_scope": "ipam-scope-", "ipam_pool": "ipam-pool-",
             "ipam_pool_allocation": "ipam-pool-alloc-", "vpc": "vpc-", "vswitch": "vsw-", "security_group": "sg-",
             "instance": "i-", "eni": "eni-"}


def converged_state(desired: dict, lineage: str | None = None) -> bytes:
    """The state file of a workspace where every desired record exists (ids made up, attributes as desired)."""
    import hashlib

    from reconciler.states.state import State

    resources = {}
    for address, rec in desired.items():
        digest = hashlib.sha256(address.encode()).hexdigest()[:17]
        resources[address] = {"type": rec["type"], "name": rec["name"], "id": ID_PREFIX.get(rec["type"], "") + digest,
                              "attributes": rec["attributes"]}
    lineage = lineage or str(uuid.UUID(int=random.Random(len(desired)).getrandbits(128)))
    return State(lineage, 1, resources).to_json_bytes()


def plan_desired(ws: Path) -> tuple[dict, object]:
    """``make_plan`` of a workspace against an empty state: (desired records, the plan)."""
    from reconciler.planner import make_plan
    from reconciler.source.loader import load_specs

    doc = load_specs(ws / "specs", display_base=ws)
    plan = make_plan(doc, {}, lineage=None, serial=0)
    return dict(plan.desired), plan


@dataclass
class Workspaces:
    """The workspaces of one size and format."""

    n: int
    fmt: str
    root: Path
    resources: int
    churn: dict

    @property
    def cold(self) -> Path:  # the base specs, no state
        return self.root / "cold"

    @property
    def nochange(self) -> Path:  # the base specs and their converged state
        return self.root / "nochange"

    @property
    def churned(self) -> Path:  # the churned specs and the base's converged state
        return self.root / "churn"

    def apply_ws(self) -> Path:  # a fresh copy of the base specs for apply (no state, no sandbox)
        ws = self.root / "apply"
        if ws.exists():
            shutil.rmtree(ws)
        ws.mkdir(parents=True)
        shutil.copytree(self.cold / "specs", ws / "specs")
        return ws


def build_workspaces(n: int, fmt: str, out: Path, seed: int = SEED, model: Model | None = None,
                     state_bytes: bytes | None = None) -> Workspaces:
    """cold/ (specs only), nochange/ (specs + converged state), churn/ (churned specs + the same state)."""
    model = model or generate(n, seed)
    root = out / f"n{n}-{fmt}"
    for sub in ("cold", "nochange", "churn", "apply"):
        if (root / sub).exists():
            shutil.rmtree(root / sub)
    write_specs(model, root / "cold" / "specs", fmt)
    write_specs(model, root / "nochange" / "specs", fmt)
    churned, done = churn(model, seed=seed)
    write_specs(churned, root / "churn" / "specs", fmt)
    if state_bytes is None:
        desired, _ = plan_desired(root / "cold")
        state_bytes = converged_state(desired)
    for ws in (root / "nochange", root / "churn"):
        (ws / "state").mkdir(parents=True, exist_ok=True)
        (ws / "state" / "state.json").write_bytes(state_bytes)
    meta = {"n": n, "fmt": fmt, "seed": seed, "resources": model.count, "kinds": model.kinds(), "churn": done,
            "churned_resources": churned.count}
    (root / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return Workspaces(n, fmt, root, model.count, done)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--formats", default="yaml,json")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / ".work"))
    p.add_argument("--seed", type=int, default=SEED)
    args = p.parse_args(argv)
    out = Path(args.out)
    for n in [int(s) for s in args.sizes.split(",")]:
        model = generate(n, args.seed)
        state = None
        for fmt in args.formats.split(","):
            ws = build_workspaces(n, fmt, out, args.seed, model=model, state_bytes=state)
            state = (ws.nochange / "state" / "state.json").read_bytes()
            print(f"{ws.root}: {ws.resources} resources, churn {ws.churn}")


if __name__ == "__main__":
    main()
