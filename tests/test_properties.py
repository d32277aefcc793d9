"""Property-based tests over random pool trees and allocation requests (hypothesis).

For every generated address plan: no two blocks overlap within a space, every block lies in its
parent, planning is deterministic, apply into the real sandbox then plan gives no changes, and
deleting everything yields an order the sandbox accepts call by call. ENIs with counted secondary
addresses and prefixes ride along: no two addresses or prefixes in a vSwitch overlap (checked as
blocks of the ``eni4:<vswitch>`` space), none is a system-reserved address, limits are kept, and the
sandbox accepts every assign.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reconciler.apply.execute import apply_plan
from reconciler.cloud.sandbox import SandboxCloud
from reconciler.errors import ReconcilerError, flatten
from reconciler.net.cidr import Cidr
from reconciler.net.records import blocks_of, eni_blocks
from reconciler.planner import make_plan
from reconciler.plans.planfile import to_json
from reconciler.providers.alibaba import ApiProvider
from reconciler.source.loader import load_specs
from reconciler.states.local import LocalStateBackend

_n = itertools.count()


@st.composite
def address_plans(draw) -> str:
    lines = ["ipam: {name: corp, region: cn-hangzhou, operating_regions: [cn-hangzhou]}", "pools:",
             "  root: {scope: private, ip_version: IPv4, cidrs: [10.0.0.0/8]}"]
    vpcs, vswitches, allocations, groups, enis = [], [], [], [], []
    counter = itertools.count()

    def grow(parent: str, mask: int, depth: int) -> None:
        for _ in range(draw(st.integers(0, 3 if depth < 3 else 1))):
            name = f"p{next(counter)}"
            child = mask + draw(st.integers(2, 3))
            region = ", region: cn-hangzhou" if depth == 1 else ""
            lines.append(f"  {name}: {{source: {parent}{region}, cidrs: [{{mask: {child}}}]}}")
            if depth < draw(st.integers(1, 5)):
                grow(name, child, depth + 1)
            elif depth >= 1:
                for _ in range(draw(st.integers(0, 3))):
                    v = f"v{next(counter)}"
                    vmask = min(child + 2, 28)
                    vpcs.append(f"  {v}: {{region: cn-hangzhou, ipv4: {{pool: {name}, mask: {vmask}}}}}")
                    groups.append(f"  g{v}: {{vpc: {v}}}")
                    for _ in range(draw(st.integers(0, 2))):
                        s = f"s{next(counter)}"
                        vsmask = min(max(vmask + 2, 16), draw(st.sampled_from([24, 26, 28])))
                        vswitches.append(f"  {s}: {{vpc: {v}, zone: cn-hangzhou-h, cidr: {{mask: {vsmask}}}}}")
                        for _ in range(draw(st.integers(0, 2))):
                            enis.append(f"  e{next(counter)}: {{vswitch: {s}, security_group: g{v}, "
                                        f"secondary_private_ips: {{count: {draw(st.integers(0, 3))}}}, "
                                        f"ipv4_prefixes: {{count: {draw(st.integers(0, 2))}}}}}")
        if draw(st.booleans()) and mask + 4 <= 30:
            allocations.append(f"  a{next(counter)}: {{pool: {parent}, mask: {mask + 4}}}")

    grow("root", 8, 1)
    text = "\n".join(lines) + "\n"
    for title, rows in (("allocations", allocations), ("vpcs", vpcs), ("vswitches", vswitches),
                        ("security_groups", groups), ("enis", enis)):
        if rows:
            text += f"{title}:\n" + "\n".join(rows) + "\n"
    return text


def _doc(tmp_path, text):
    folder = tmp_path / f"p{next(_n)}" / "specs"
    folder.mkdir(parents=True)
    (folder / "main.yaml").write_text(text)
    return load_specs(folder), folder.parent


def _apply(plan, ws, cloud):
    backend = LocalStateBackend(ws / "state")
    state = backend.read()
    with backend.transaction(state) as txn:
        result = apply_plan(plan, ApiProvider(cloud), txn, state)
        txn.commit()
    assert result.ok, result.error
    return backend.read()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(address_plans())
def test_random_address_plans(tmp_path, text):
    doc, ws = _doc(tmp_path, text)
    try:
        plan = make_plan(doc, {}, lineage=None, serial=0)
    except ReconcilerError as exc:  # a small vSwitch can run out of addresses: that must be the only reason
        assert {e.code for e in flatten(exc)} == {"InvalidVSwitchId.IpNotEnough"}, exc
        assume(False)

    # deterministic: the same inputs give byte-identical plans
    assert to_json(make_plan(doc, {}, lineage=None, serial=0)) == to_json(plan)

    # no two blocks overlap within a space, and every block lies in its parent
    spaces: dict[str, list[tuple[str, Cidr]]] = {}
    for address, rec in plan.desired.items():
        for space, _, cidr in blocks_of(rec):
            spaces.setdefault(space, []).append((address, Cidr.parse(cidr)))
    for space, blocks in spaces.items():
        ordered = sorted(blocks, key=lambda b: b[1])
        for (a1, c1), (a2, c2) in zip(ordered, ordered[1:]):
            assert not c1.overlaps(c2), f"{a1} {c1} overlaps {a2} {c2} in {space}"
        kind, _, owner = space.partition(":")
        if kind == "pool":
            parents = [Cidr.parse(c) for c in plan.desired[f"ipam_pool.{owner}"]["attributes"]["cidrs"]]
        elif kind == "vpc":
            v = plan.desired[f"vpc.{owner}"]["attributes"]
            parents = [Cidr.parse(b["cidr"]) for b in [v["ipv4"], *v["secondary_cidrs"]]]
        else:
            continue
        for address, c in blocks:
            assert any(p.contains(c) for p in parents), f"{address} {c} outside {space}"

    # ENIs: addresses and prefixes inside their vSwitch, never on a system-reserved address, limits kept
    for address, rec in plan.desired.items():
        if rec["type"] != "eni":
            continue
        a = rec["attributes"]
        vsw = Cidr.parse(plan.desired[f"vswitch.{a['vswitch']}"]["attributes"]["cidr"])
        reserved = {vsw.start, vsw.end - 2, vsw.end - 1, vsw.end}
        for _, c in eni_blocks(a):
            block = Cidr.parse(c)
            assert vsw.contains(block) and not any(block.start <= r <= block.end for r in reserved), (address, c)
        assert 1 + len(a["secondary_private_ips"]) <= 10 and len(a["ipv4_prefixes"]) <= 49

    # apply into the sandbox, then plan again: no changes
    (ws / "state").mkdir()
    cloud = SandboxCloud(ws / "state" / "sandbox.db")
    state = _apply(plan, ws, cloud)
    again = make_plan(doc, state.resources, lineage=state.lineage, serial=state.serial)
    assert not again.has_changes, [a.to_dict() for a in again.actions]

    # delete everything: the sandbox accepts every call in the planned order
    (ws / "specs" / "main.yaml").write_text("# empty\n")
    empty = load_specs(ws / "specs")
    teardown = make_plan(empty, state.resources, lineage=state.lineage, serial=state.serial)
    final = _apply(teardown, ws, cloud)
    assert dict(final.resources) == {}
    assert cloud.call("ListIpams", {})["Ipams"] == []
    cloud.close()
