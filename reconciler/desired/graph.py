"""The dependency graph of the desired state: IPAM -> scope -> pool -> sub-pool -> VPC -> vSwitch.

Nodes are address strings and edges run from a dependency to its dependent, kept as plain
insertion-ordered adjacency dicts (what :class:`networkx.DiGraph` keeps, without its per-node and
per-edge attribute dicts); networkx is only called to name a cycle. Building it checks every reference by name; a
reference to something the recorded state holds but the spec dropped is reported with the cloud's
error for deleting a resource that still has dependents.

Every edge runs from a type to a later one in :data:`reconciler.net.address.TYPES`, but for a pool's
source pool (tests/desired/test_graph.py checks every kind of reference). So a cycle can only be among
pools, and a resource's dependencies, direct or not, are all of its own type or earlier ones: the
cycle check and :meth:`DependencyGraph.topological_of` look at no more of the graph than that.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import (
    TYPE_CHECKING,
    AbstractSet,
    Any,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    NamedTuple,
    TypeVar,
    cast,
)

from reconciler.errors import PlanError, ReconcilerError, SpecError, raise_all
from reconciler.models.network import BlockSpec, Spec
from reconciler.net.address import SPEC_KIND, TYPE_RANK, TYPES, ResourceAddress
from reconciler.net.limits import DEFAULT_SCOPES
from reconciler.source.locate import Locator, SpecPath, nowhere

if TYPE_CHECKING:
    from _typeshed import SupportsGetItem, SupportsRichComparison

# The cloud's refusal when the referenced resource is to be deleted while this one still uses it.
DEPENDENT_CODES = {
    ("ipam_scope", "ipam"): "DependencyViolation.IpamScope",
    ("ipam_pool", "ipam_scope"): "DependencyViolation.IpamPool",
    ("ipam_pool", "ipam_pool"): "DependencyViolation.SubCidr",
    ("ipam_pool_allocation", "ipam_pool"): "DependencyViolation.CustomPoolAllocation",
    ("vpc", "ipam_pool"): "OperationDenied.IpamPoolAllocationExist",
    ("vswitch", "vpc"): "DependencyViolation.VSwitch",
    ("security_group", "vpc"): "DependencyViolation.SecurityGroup",
    ("instance", "vswitch"): "DependencyViolation.NetworkInterface",
    ("eni", "vswitch"): "DependencyViolation.NetworkInterface",
    ("instance", "security_group"): "DependencyViolation.NetworkInterface",
    ("eni", "security_group"): "DependencyViolation.NetworkInterface",
    ("eni", "instance"): "InvalidOperation.InvalidEniState",
}

Node = TypeVar("Node", bound="SupportsRichComparison")
Key = TypeVar("Key", bound="SupportsRichComparison")


class Reference(NamedTuple):  # a tuple: a plan makes about one and a half per resource
    source: ResourceAddress  # address of the resource holding the reference
    target: ResourceAddress  # address referred to
    path: SpecPath  # spec path of the referring field


# The constructor, typed for the f-string addresses below (a NewType call per reference would cost).
_reference = cast("Callable[[str, str, SpecPath], Reference]", Reference)


def references(spec: Spec) -> Iterator[Reference]:
    """Every reference the spec makes, in declaration order of the kinds."""
    ipam = f"ipam.{spec.ipam.name}" if spec.ipam else "ipam"
    for name in spec.scopes:
        yield _reference(f"ipam_scope.{name}", ipam, ("scopes", name))
    for name, pool in spec.pools.items():
        addr = f"ipam_pool.{name}"
        if pool.source is not None:
            yield _reference(addr, f"ipam_pool.{pool.source}", ("pools", name, "source"))
        if pool.scope is not None:
            yield _reference(addr, f"ipam_scope.{pool.scope}", ("pools", name, "scope"))
        elif pool.source is None:
            yield _reference(addr, "ipam_scope.private", ("pools", name))
    outside = spec.external_pools  # drawn from, never changed: no node of this graph
    for name, alloc in spec.allocations.items():
        if alloc.pool not in outside:
            yield _reference(f"ipam_pool_allocation.{name}", f"ipam_pool.{alloc.pool}", ("allocations", name, "pool"))
    for name, share in spec.resource_shares.items():
        for i, shared in enumerate(share.resources):
            yield _reference(f"resource_share.{name}", shared, ("resource_shares", name, "resources", i))
    for name, vpc in spec.vpcs.items():
        blocks: list[tuple[SpecPath, BlockSpec | None]] = [(("ipv4",), vpc.ipv4), (("ipv6",), vpc.ipv6)]
        blocks += [(("secondary_cidrs", i), b) for i, b in enumerate(vpc.secondary_cidrs)]
        for path, block in blocks:
            if block is not None and block.pool is not None and block.pool not in outside:
                yield _reference(f"vpc.{name}", f"ipam_pool.{block.pool}", ("vpcs", name, *path, "pool"))
    for name, vsw in spec.vswitches.items():
        yield _reference(f"vswitch.{name}", f"vpc.{vsw.vpc}", ("vswitches", name, "vpc"))
    for name, sg in spec.security_groups.items():
        yield _reference(f"security_group.{name}", f"vpc.{sg.vpc}", ("security_groups", name, "vpc"))
    for name, inst in spec.instances.items():
        source = f"instance.{name}"
        yield _reference(source, f"vswitch.{inst.vswitch}", ("instances", name, "vswitch"))
        if inst.security_group:
            yield _reference(source, f"security_group.{inst.security_group}", ("instances", name, "security_group"))
    for name, eni in spec.enis.items():
        source = f"eni.{name}"
        if eni.vswitch is not None:
            yield _reference(source, f"vswitch.{eni.vswitch}", ("enis", name, "vswitch"))
        if eni.security_group is not None:
            yield _reference(source, f"security_group.{eni.security_group}", ("enis", name, "security_group"))
        if eni.instance is not None:
            yield _reference(source, f"instance.{eni.instance}", ("enis", name, "instance"))


def _nx() -> Any:
    """networkx, imported at first use: only a cycle to name or an unknown node to report needs it
    (its import is a large part of every run's start-up otherwise)."""
    import networkx

    return networkx


def lexical_order(nodes: Iterable[Node], succ: SupportsGetItem[Node, Iterable[Node]],
                  key: Callable[[Node], Key]) -> list[Node]:
    """Kahn's topological sort of ``nodes`` (edges ``n -> m`` for ``m in succ[n]``) taking, among the
    nodes ready at each step, the one with the smallest ``key`` (then the smallest node): deterministic,
    like ``networkx.lexicographical_topological_sort``, with each key computed once. The nodes are
    ranked by ``(key, node)`` once, so the heap holds plain integers. Raises
    ``networkx.NetworkXUnfeasible`` on a cycle (find it with ``networkx.find_cycle``)."""
    from heapq import heapify, heappop, heappush
    from itertools import islice
    from operator import eq

    dense = isinstance(nodes, range) and nodes.start == 0 and nodes.step == 1  # 0..n-1: lists, not dicts
    nodes = list(nodes)
    # (dense: lists indexed by the node, which is an int then)
    keys: SupportsGetItem[Node, Key] = (cast("SupportsGetItem[Node, Key]", [key(n) for n in nodes]) if dense
                                        else {n: key(n) for n in nodes})
    ranked = sorted(nodes, key=keys.__getitem__)
    ordered = [keys[n] for n in ranked]
    if any(map(eq, ordered, islice(ordered, 1, None))):  # equal keys: the smaller node first
        ranked = sorted(nodes, key=lambda n: (keys[n], n))
    rank: SupportsGetItem[Node, int]
    if dense:
        ranks = [0] * len(ranked)
        for i, n in enumerate(cast("list[int]", ranked)):
            ranks[n] = i
        rank = cast("SupportsGetItem[Node, int]", ranks)
    else:
        rank = {n: i for i, n in enumerate(ranked)}
    targets = [[rank[m] for m in succ[n]] for n in ranked]
    indegree = [0] * len(ranked)
    for ms in targets:
        for m in ms:
            indegree[m] += 1
    heap = [i for i, d in enumerate(indegree) if d == 0]
    heapify(heap)
    out: list[Node] = []
    while heap:
        i = heappop(heap)
        out.append(ranked[i])
        for m in targets[i]:
            indegree[m] -= 1
            if indegree[m] == 0:
                heappush(heap, m)
    if len(out) != len(nodes):
        raise _nx().NetworkXUnfeasible("the graph has a cycle")
    return out


def _acyclic(succ: Mapping[ResourceAddress, list[ResourceAddress]]) -> bool:
    """Whether the graph (every node a key of ``succ``) has no cycle: Kahn's count, no order kept."""
    indegree = dict.fromkeys(succ, 0)
    for ms in succ.values():
        for m in ms:
            indegree[m] += 1
    ready = [n for n, d in indegree.items() if d == 0]
    seen = 0
    while ready:
        seen += 1
        for m in succ[ready.pop()]:
            indegree[m] -= 1
            if indegree[m] == 0:
                ready.append(m)
    return seen == len(indegree)


class DependencyGraph:
    """Resources of the desired state and what each depends on."""

    def __init__(self, succ: dict[ResourceAddress, dict[ResourceAddress, None]], order: dict[ResourceAddress, int],
                 by_type: Mapping[str, list[ResourceAddress]] | None = None) -> None:
        self._succ = succ  # node -> its dependents (insertion order), every node a key
        self._order = order
        if by_type is None:
            by_type = {t: [] for t in TYPES}
            for n in succ:
                by_type.setdefault(n.partition(".")[0], []).append(n)
        self._by_type = by_type  # type -> its nodes
        self._pred: dict[ResourceAddress, list[ResourceAddress]] | None = None
        self._topo: list[ResourceAddress] | None = None  # the whole order, made at the first question

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        spec: Spec,
        locate: Locator | None = None,
        order: Callable[[str, str | None], int] | None = None,
        recorded: Collection[ResourceAddress] = (),
        orders: Callable[[str], Mapping[str, int]] | None = None,
    ) -> "DependencyGraph":
        """``order(kind, name)`` is a resource's declaration key; ``orders(kind)``, when given, the same
        for every name of a kind at once."""
        locate = locate or nowhere
        recorded = recorded if isinstance(recorded, (AbstractSet, Mapping)) else set(recorded)  # (keys: no copy)
        # (keyed by the f-string addresses below; typed as addresses once built)
        g: dict[str, dict[str, None]] = {}
        decl: dict[str, int] = {}
        errors: list[ReconcilerError] = []

        by_type: dict[str, list[str]] = {t: [] for t in TYPES}

        def add(address: str, rtype: str, kind: str, name: str | None, key: int,
                of_kind: Mapping[str, int] | None = None) -> None:
            if address not in g:
                g[address] = {}
                by_type[rtype].append(address)
            decl[address] = (of_kind[name] if of_kind is not None  # type: ignore[index]  # (given with a name)
                             else order(kind, name) if order else key)

        if spec.ipam is not None:
            ipam = f"ipam.{spec.ipam.name}"
            add(ipam, "ipam", "ipam", None, -3)
            for i, scope in enumerate(DEFAULT_SCOPES):
                add(f"ipam_scope.{scope}", "ipam_scope", "ipam", None, -2 + i)
                g[ipam][f"ipam_scope.{scope}"] = None
        elif spec.scopes or spec.pools or any(a.pool not in spec.external_pools for a in spec.allocations.values()):
            kind = "scopes" if spec.scopes else "pools" if spec.pools else "allocations"
            file, line = locate((kind,))
            gone = sorted(a for a in recorded if a.startswith("ipam."))
            if gone:
                code = "DependencyViolation.IpamPool" if spec.pools else "DependencyViolation.IpamScope"
                errors.append(PlanError(code, f"{gone[0]} is removed from the spec but {kind} still need it; delete "
                                        "every pool and custom scope before the IPAM", address=gone[0], file=file, line=line))
            else:
                errors.append(SpecError("Spec.MissingIpam", "scopes, pools and allocations need an `ipam:` block",
                                        file=file, line=line))
        seq = 0
        for rtype, kind in SPEC_KIND.items():
            if rtype == "ipam":
                continue
            of_kind = orders(kind) if orders is not None else None  # (keys a kind at a time)
            for name in getattr(spec, kind):
                if rtype == "instance":
                    seq += 1
                    add(f"eni.{name}-primary", "eni", kind, name, seq, of_kind)
                if rtype == "ipam_scope" and name in DEFAULT_SCOPES:
                    file, line = locate((kind, name))
                    errors.append(
                        SpecError("Spec.ReservedName", f"`{name}` is a default scope; it always exists and is not declared",
                                  address=f"ipam_scope.{name}", file=file, line=line)
                    )
                    continue
                seq += 1
                add(f"{rtype}.{name}", rtype, kind, name, seq, of_kind)
        for name in spec.instances:
            g[f"instance.{name}"][f"eni.{name}-primary"] = None
        for ref in references(spec):
            dependents = g.get(ref.target)
            if dependents is not None:
                if ref.source not in g:  # (not met: every source is declared)
                    g[ref.source] = {}
                    by_type[ref.source.partition(".")[0]].append(ref.source)
                dependents[ref.source] = None
                continue
            if ref.target == "ipam" or (spec.ipam is None and ref.target.startswith("ipam_scope.")):
                continue  # reported once as Spec.MissingIpam
            file, line = locate(ref.path)
            src_type, tgt_type = ref.source.split(".")[0], ref.target.split(".")[0]
            if ref.target in recorded:
                code = DEPENDENT_CODES.get((src_type, tgt_type), "DependencyViolation")
                errors.append(PlanError(code, f"{ref.target} is removed from the spec but {ref.source} still uses it; "
                                              f"remove or move {ref.source} first", address=ref.source, file=file, line=line))
            else:
                errors.append(SpecError("Spec.UnknownReference", f"refers to {ref.target}, which is not declared",
                                        address=ref.source, file=file, line=line))
        graph = cls(cast("dict[ResourceAddress, dict[ResourceAddress, None]]", g),
                    cast("dict[ResourceAddress, int]", decl), cast("dict[str, list[ResourceAddress]]", by_type))
        errors.extend(graph._cycle_errors(locate))
        raise_all(errors)
        return graph

    def _cycle_errors(self, locate: Locator) -> list[ReconcilerError]:
        pools = self._by_type.get("ipam_pool", ())  # the only type that refers to its own (module docstring)
        if _acyclic({p: [m for m in self._succ[p] if m.startswith("ipam_pool.")] for p in pools}):
            return []
        nx = _nx()
        g = nx.DiGraph()
        g.add_nodes_from(self._succ)
        g.add_edges_from((u, v) for u, vs in self._succ.items() for v in vs)
        cycle = nx.find_cycle(g)
        names = " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
        first = cycle[0][1]
        kind = {"ipam_pool": "pools"}.get(first.split(".")[0], "pools")
        file, line = locate((kind, first.split(".", 1)[1], "source"))
        return [SpecError("Spec.Cycle", f"reference cycle: {names}", address=first, file=file, line=line)]

    def _key(self, address: ResourceAddress) -> tuple[int, str]:
        return (self._order[address], address)

    # ---- queries --------------------------------------------------------------------------
    def __contains__(self, address: object) -> bool:
        return address in self._succ

    def __len__(self) -> int:
        return len(self._succ)

    def topological(self) -> list[ResourceAddress]:
        """Every address, dependencies first; ties broken by declaration order (deterministic)."""
        if self._topo is None:
            self._topo = lexical_order(self._succ, self._succ, self._key)
        return list(self._topo)

    def topological_of(self, types: Iterable[str]) -> list[ResourceAddress]:
        """The addresses of these types and every address they depend on, in the order of
        :meth:`topological`, without ordering the rest of the graph. (A set that holds every
        dependency of its members is ordered the same alone: at each step the smallest ready node
        of the whole graph, when it is in the set, is the smallest ready one of the set.)"""
        types = tuple(types)
        top = max(TYPE_RANK[t] for t in types)
        pred: dict[ResourceAddress, list[ResourceAddress]] = {}  # the edges into these types and their dependencies: from a
        for t in TYPES[: top + 1]:  # type no later than the latest of them (module docstring)
            for u in self._by_type.get(t, ()):
                for v in self._succ[u]:
                    if v in pred:
                        pred[v].append(u)
                    else:
                        pred[v] = [u]
        within: dict[ResourceAddress, None] = {}
        stack = [n for t in types for n in self._by_type.get(t, ())]
        while stack:
            n = stack.pop()
            if n not in within:
                within[n] = None
                stack.extend(pred.get(n, ()))
        succ = {n: [m for m in self._succ[n] if m in within] for n in within}
        return lexical_order(within, succ, self._key)

    def declaration(self, address: ResourceAddress) -> int:
        return self._order[address]

    def declarations(self) -> Mapping[ResourceAddress, int]:
        """Address -> declaration key of every node (read-only)."""
        return MappingProxyType(self._order)

    def declaration_or(self, address: ResourceAddress, default: int = 0) -> int:
        """The declaration key of ``address``, or ``default`` when it is not in the graph."""
        return self._order.get(address, default)

    def _node(self, address: ResourceAddress, where: str = "digraph") -> dict[ResourceAddress, None]:
        try:
            return self._succ[address]
        except KeyError:
            raise _nx().NetworkXError(f"The node {address} is not in the {where}.") from None

    def dependencies(self, address: ResourceAddress) -> list[ResourceAddress]:
        self._node(address)
        return sorted(self._predecessors()[address], key=self._key)

    def _predecessors(self) -> dict[ResourceAddress, list[ResourceAddress]]:
        pred = self._pred
        if pred is None:
            self._pred = pred = {n: [] for n in self._succ}
            for u, vs in self._succ.items():
                for v in vs:
                    pred[v].append(u)
        return pred

    def dependents(self, address: ResourceAddress) -> list[ResourceAddress]:
        return sorted(self._node(address), key=self._key)

    def descendants(self, address: ResourceAddress) -> set[ResourceAddress]:
        """Every address reachable from ``address`` (not itself, unless on a cycle through it)."""
        seen: set[ResourceAddress] = set()
        stack = list(self._node(address, "graph"))
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(self._succ[n])
        seen.discard(address)
        return seen

    def to_dot(self) -> str:
        lines = ["digraph ipam {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
        order = self.topological()
        for node in order:
            lines.append(f'  "{node}";')
        for node in order:
            for child in self.dependents(node):
                lines.append(f'  "{node}" -> "{child}";')
        lines.append("}")
        return "\n".join(lines) + "\n"
