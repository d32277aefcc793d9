"""The pure core: (spec document, recorded state) -> validated models -> graph -> concrete desired
state -> diff -> ordered Plan. No files, clocks, terminals or providers are touched here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, TypeAlias

from reconciler.desired.graph import DependencyGraph
from reconciler.desired.network import Desired, resolve
from reconciler.errors import ReconcilerError, raise_all
from reconciler.models.network import Spec, parse_spec
from reconciler.net.address import ResourceAddress
from reconciler.net.cidr import Cidr
from reconciler.net.discovered import DiscoveredCidr
from reconciler.net.external import ExternalPool, TakenBlock
from reconciler.net.reserved import ReservedBlock
from reconciler.plans.diff import diff
from reconciler.plans.imports import with_imports
from reconciler.plans.order import Plan, build_plan
from reconciler.rules.compute import check_compute
from reconciler.rules.discovery import check_discovered, hosted_elsewhere
from reconciler.rules.imports import import_errors
from reconciler.rules.network import KnownIpam, check, check_ipam_quota
from reconciler.rules.sharing import check_external, check_shares
from reconciler.source.loader import SpecDocument

# The block public IPv6 top-level pools are carved from. The sandbox hands out the same block;
# a real provider will state its own (see reconciler.providers).
DEFAULT_IPV6_SUPPLY = Cidr.parse("2408:4000::/32")


@dataclass(frozen=True)
class Validated:
    spec: Spec
    graph: DependencyGraph


Records: TypeAlias = Mapping[ResourceAddress, dict[str, Any]]  # JSON-like records by address
Stage: TypeAlias = Callable[[str], None]  # told the name of each stage as it starts (a progress bar at the CLI edge)


def _quiet(name: str) -> None:
    pass


def validate(doc: SpecDocument, recorded: Records | None = None, stage: Stage = _quiet, *,
             rules: bool = False) -> Validated:
    """Parse and graph the specs; raises every error found (SpecError / ErrorGroup).

    ``rules`` (``ipamctl validate``): also every rule the specs alone decide, judged as a plan on an
    empty workspace judges them (block sizes and masks, allocation rules, regions and zones, quotas,
    free space, ENI limits), but for what only the cloud can answer (managed ENIs, which the cloud
    lists): a rule broken on an empty state is broken whatever the state, but for blocks a state
    already records elsewhere, which ``plan`` then judges."""
    stage("validate")
    spec = parse_spec(doc)
    stage("graph")
    graph = DependencyGraph.build(spec, doc.locate, doc.order, recorded=(recorded or {}).keys(), orders=doc.orders)
    if rules:
        stage("rules")
        desired = resolve(spec, graph, {}, supply=DEFAULT_IPV6_SUPPLY, locate=doc.locate, external={})
        compute = check_compute(spec, desired, {}, {}, doc.locate)
        over = {e.address for e in compute if e.code.endswith("CountExceeded")}  # as desired_state reports them
        cloud_only = {f"eni.{name}" for name, eni in spec.enis.items() if eni.managed}
        raise_all([e for e in [*desired.errors, *check(spec, desired, doc.locate), *compute,
                               *check_shares(spec.resource_shares, doc.locate)]
                   if e.address not in cloud_only and not (e.code == "InvalidVSwitchId.IpNotEnough" and e.address in over)])
    return Validated(spec, graph)


def desired_state(doc: SpecDocument, recorded: Records, *, supply: Cidr = DEFAULT_IPV6_SUPPLY,
                  external: Records | None = None, stage: Stage = _quiet,
                  reserved: Iterable[ReservedBlock] = (),
                  external_pools: Mapping[str, ExternalPool] | None = None,
                  drawn: Mapping[str, Iterable[TakenBlock]] | None = None) -> tuple[Desired, Validated]:
    """The concrete desired state; raises every rule broken, each with file, line and address.

    ``external`` holds records read from the cloud for resources the spec refers to but never
    changes (managed ENIs), keyed by their spec address."""
    v = validate(doc, recorded, stage)
    stage("resolve")
    desired = resolve(v.spec, v.graph, recorded, supply=supply, locate=doc.locate, external=external,
                      reserved=reserved, external_pools=external_pools, drawn=drawn)
    compute = check_compute(v.spec, desired, recorded, external or {}, doc.locate)
    over = {e.address for e in compute if e.code.endswith("CountExceeded")}
    # an ENI asking for more than it may hold is reported for that, not for the space it ran out of
    errors: list[ReconcilerError] = [e for e in desired.errors
                                     if not (e.code == "InvalidVSwitchId.IpNotEnough" and e.address in over)]
    errors.extend(check(v.spec, desired, doc.locate))
    errors.extend(check_external(v.spec.external_pools, external_pools or {}, doc.locate))
    errors.extend(check_shares(v.spec.resource_shares, doc.locate))
    errors.extend(compute)
    raise_all(errors)
    return desired, v


def make_plan(
    doc: SpecDocument,
    recorded: Records,
    *,
    lineage: str | None,
    serial: int,
    supply: Cidr = DEFAULT_IPV6_SUPPLY,
    external: Records | None = None,
    imports: Records | None = None,
    discovered: Iterable[DiscoveredCidr | KnownIpam] = (),
    reserved: Iterable[ReservedBlock] = (),
    external_pools: Mapping[str, ExternalPool] | None = None,
    stage: Stage = _quiet,
) -> Plan:
    """The plan that turns ``recorded`` into what ``doc`` describes. Deterministic.

    ``imports``: records read from the cloud for the spec's ``import:`` entries (by address); they are
    planned as if recorded and carried as ``import`` actions, first. ``discovered``: the CIDRs resource
    discovery finds; a new pool block overlapping one of its scope is refused (Hosted; Not hosted with
    ``ipam.discovered_overlaps: refuse``) or carried as a plan warning (Not hosted, by default); with them
    come the IPAMs the cloud lists in the spec's regions (:class:`KnownIpam`): creating the spec's IPAM in
    a region that has one the state does not record is refused (``QuotaExceeded.Ipam``). ``reserved``:
    blocks other workspaces' plans reserved in the spec's pools; never chosen, and a mask request that
    skipped one says so in its note. ``external_pools``: the pools of the spec's ``external_pools:`` as the
    edge read them (their CIDRs and what is allocated in them already), by the spec's name. ``stage``
    is told each stage's name as it starts (validate, graph, resolve, diff, order); it must not print into the plan."""
    imports = dict(imports or {})
    # one plain dict, read once (a state's resources are an immutable map): every later lookup is a dict's
    merged = recorded.to_dict() if hasattr(recorded, "to_dict") else dict(recorded)
    merged.update(imports)
    found = tuple(discovered)
    cidrs = [d for d in found if isinstance(d, DiscoveredCidr)]
    desired, v = desired_state(doc, merged, supply=supply, external=external, stage=stage, reserved=reserved,
                               external_pools=external_pools, drawn=hosted_elsewhere(merged, cidrs))
    raise_all(import_errors(imports, recorded, v.graph, doc.locate))
    stage("diff")
    changes = diff(desired.resources, merged)
    raise_all(check_ipam_quota(v.spec, merged, changes, [d for d in found if isinstance(d, KnownIpam)], doc.locate))
    overlaps = v.spec.ipam.discovered_overlaps if v.spec.ipam is not None else "warn"
    refused, warnings = check_discovered(desired, merged, changes, cidrs, doc.locate, overlaps)
    raise_all(refused)
    stage("order")
    # the keys of creates and updates, whose addresses are all in the graph (destroys are ordered without)
    declaration = v.graph.declarations()
    plan = build_plan(changes, desired.resources, merged, lineage=lineage, serial=serial,
                      chosen=desired.chosen, declaration=declaration, warnings=tuple(warnings))
    return with_imports(plan, imports)
