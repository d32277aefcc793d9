"""The dependency graph on plain adjacency dicts: the same order, neighbours, descendants and cycle
as networkx gives for the same nodes and edges."""

from __future__ import annotations

import heapq
import random

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.desired.graph import DEPENDENT_CODES, DependencyGraph, lexical_order
from reconciler.errors import ReconcilerError, flatten
from reconciler.source.loader import load_specs
from tests.support.specs import BASE


def heap_order(nodes, succ, key):
    """Kahn's sort with a heap of (key, node), as the sort was first written."""
    nodes = list(nodes)
    indegree = dict.fromkeys(nodes, 0)
    for n in nodes:
        for m in succ[n]:
            indegree[m] += 1
    heap = [(key(n), n) for n in nodes if indegree[n] == 0]
    heapq.heapify(heap)
    out = []
    while heap:
        _, n = heapq.heappop(heap)
        out.append(n)
        for m in succ[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                heapq.heappush(heap, (key(m), m))
    return out


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 40), st.integers(0, 10**6), st.booleans())
def test_sort_is_the_heap_sort(n, seed, ties):
    rng = random.Random(seed)
    nodes = list(range(n))
    rng.shuffle(nodes)
    succ = {i: [j for j in range(i + 1, n) if rng.random() < 0.15] for i in range(n)}
    keys = {i: rng.randint(0, 4) if ties else (rng.random(), i) for i in range(n)}
    assert lexical_order(nodes, succ, keys.__getitem__) == heap_order(nodes, succ, keys.__getitem__)


def test_a_cycle_is_refused():
    with pytest.raises(nx.NetworkXUnfeasible):
        lexical_order([1, 2, 3], {1: [2], 2: [3], 3: [1]}, lambda n: n)


def _graph(tmp_path, text=BASE):
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "00.yaml").write_text(text)
    doc = load_specs(folder)
    from reconciler.models.network import parse_spec

    return DependencyGraph.build(parse_spec(doc), doc.locate, doc.order)


def test_neighbours_and_descendants_as_networkx(tmp_path):
    g = _graph(tmp_path)
    ref = nx.DiGraph()
    ref.add_nodes_from(g._succ)
    ref.add_edges_from((u, v) for u, vs in g._succ.items() for v in vs)
    assert g.topological() == list(nx.lexicographical_topological_sort(ref, key=lambda a: (g.declaration(a), a)))
    for node in g.topological():
        assert g.descendants(node) == nx.descendants(ref, node)
        assert g.dependencies(node) == sorted(ref.predecessors(node), key=lambda a: (g.declaration(a), a))
        assert g.dependents(node) == sorted(ref.successors(node), key=lambda a: (g.declaration(a), a))
    assert "vswitch.prod-h" in g.descendants("ipam_pool.root") and len(g) == ref.number_of_nodes()
    with pytest.raises(nx.NetworkXError):
        g.descendants("vpc.nowhere")


def test_a_reference_cycle_is_named(tmp_path):
    text = BASE.replace(
        "  hz-prod:", "  a: {source: b, cidrs: [{mask: 20}]}\n  b: {source: a, cidrs: [{mask: 20}]}\n  hz-prod:")
    with pytest.raises(ReconcilerError) as err:
        _graph(tmp_path, text)
    cycle = [e for e in flatten(err.value) if e.code == "Spec.Cycle"]
    assert cycle and "ipam_pool.a -> ipam_pool.b -> ipam_pool.a" in str(cycle[0])


@pytest.mark.parametrize("types", [("ipam_pool",), ("ipam_pool", "vpc"), ("vswitch",), ("ipam",)])
def test_the_order_of_some_types_is_the_whole_order_restricted(tmp_path, types):
    # pools declared children first, so that declaration order and dependency order disagree
    text = BASE.replace("pools:\n", "pools:\n  late: {source: hz, region: cn-hangzhou, cidrs: [{mask: 16}]}\n")
    g = _graph(tmp_path, text)
    ref = nx.DiGraph()
    ref.add_nodes_from(g._succ)
    ref.add_edges_from((u, v) for u, vs in g._succ.items() for v in vs)
    picked = {n for n in ref if n.split(".")[0] in types}
    closure = picked.union(*(nx.ancestors(ref, n) for n in picked))
    assert g.topological_of(types) == [n for n in g.topological() if n in closure]
    assert picked and picked <= set(g.topological_of(types))


def test_every_edge_runs_to_a_later_type_but_between_pools(tmp_path):
    # the cycle check looks only among pools, and topological_of only at earlier types: both rest on this
    from pathlib import Path

    from reconciler.models.network import parse_spec
    from reconciler.net.address import TYPE_RANK

    doc = load_specs(Path(__file__).resolve().parents[2] / "specs")
    g = DependencyGraph.build(parse_spec(doc), doc.locate, doc.order)
    pairs = {(u.split(".")[0], v.split(".")[0]) for u, vs in g._succ.items() for v in vs}
    assert {(target, source) for source, target in DEPENDENT_CODES} | {("instance", "eni")} <= pairs
    for u, v in pairs:
        assert TYPE_RANK[u] < TYPE_RANK[v] or u == v == "ipam_pool", (u, v)


def test_a_cycle_among_pools_deep_in_a_large_tree_is_found(tmp_path):
    chain = "".join(f"  c{i}: {{source: c{i + 1}, cidrs: [{{mask: 24}}]}}\n" for i in range(30))
    text = BASE.replace("  hz-prod:", chain + "  c30: {source: c0, cidrs: [{mask: 24}]}\n  hz-prod:")
    with pytest.raises(ReconcilerError) as err:
        _graph(tmp_path, text)
    assert [e for e in flatten(err.value) if e.code == "Spec.Cycle"]


def test_declaration_keys_taken_a_kind_at_a_time_are_those_taken_one_by_one():
    from pathlib import Path

    from reconciler.models.network import parse_spec

    doc = load_specs(Path(__file__).resolve().parents[2] / "specs")
    spec = parse_spec(doc)
    one, bulk = (DependencyGraph.build(spec, doc.locate, doc.order, orders=o) for o in (None, doc.orders))
    assert list(bulk._succ.items()) == list(one._succ.items())
    assert list(bulk.declarations().items()) == list(one.declarations().items())
    assert bulk._by_type == one._by_type and bulk.topological() == one.topological()
