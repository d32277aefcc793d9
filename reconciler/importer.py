"""Import: adopt existing cloud resources into the state under spec addresses, without recreating or
renumbering them.

Two ways in. ``ipamctl import ADDRESS ID`` writes the record into the state under the lock. An
``import:`` block in the specs (``import: {vpc.legacy: vpc-2ze...}``) does it inside a plan: the
records are read at plan time (:func:`read_imports`, the edge), the planner treats them as recorded
(so ``{mask: N}`` keeps the imported CIDR and the diff is against the resource as it is), and the
plan carries one ``import`` action per record, first, which apply records without an API call. An
entry whose address the state already holds with the same id is done and ignored.

Importable: ``ipam`` (with its two default scopes), ``ipam_scope`` (custom), ``ipam_pool``,
``ipam_pool_allocation`` (custom allocations), ``vpc``, ``vswitch``, ``security_group`` and ``eni``
(secondary ENIs not managed by a service). What a resource refers to (a vSwitch's VPC, a VPC block's
pool, an ENI's security group) must be in the state or imported with it.

Codes: ``Import.InvalidAddress``, ``Import.NotImportable``, ``Import.NotInSpec``,
``Import.AddressTaken`` (the state holds the address with another id), ``Import.AlreadyManaged``
(the state holds the id under another address), ``Import.NotFound``, ``Import.TypeMismatch``,
``Import.UnknownReference``, and ``InvalidOperation.EniServiceManaged`` for a service-managed ENI.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Mapping

from .action import Action, PlannedAction
from .address import SPEC_KIND, TYPE_RANK, Address
from .errors import PlanError, ReconcilerError, StateError, raise_all
from .limits import DEFAULT_SCOPES
from .plan import Plan
from .source import SpecDocument

IMPORTABLE = ("ipam", "ipam_scope", "ipam_pool", "ipam_pool_allocation", "vpc", "vswitch", "security_group", "eni")
IMPORT_API = "no API call"


def _rank(address: str) -> tuple:
    return (TYPE_RANK.get(address.split(".", 1)[0], 99), address)


def spec_imports(doc: SpecDocument, resources: Mapping[str, dict]) -> dict[str, str]:
    """address -> id of the ``import:`` entries the state does not hold yet (raw: before validation)."""
    raw = doc.data.get("import") if isinstance(doc.data, dict) else None
    out = {}
    for address, rid in (raw.items() if isinstance(raw, dict) else ()):
        if isinstance(address, str) and isinstance(rid, str):
            rec = resources.get(address)
            if rec is None or rec.get("id") != rid:
                out[address] = rid
    return out


def declared(doc: SpecDocument, address: str) -> bool:
    """Whether the specs declare ``address`` (read raw)."""
    data = doc.data if isinstance(doc.data, dict) else {}
    rtype, _, name = address.partition(".")
    if rtype == "ipam" or (rtype == "ipam_scope" and name in DEFAULT_SCOPES):
        ipam = data.get("ipam")
        return isinstance(ipam, dict) and (rtype != "ipam" or ipam.get("name") == name)
    kind = data.get(SPEC_KIND.get(rtype, ""))
    return isinstance(kind, dict) and name in kind


def problem(address: str, rid: str, resources: Mapping[str, dict]) -> tuple[str, str] | None:
    """Why ``address`` cannot take ``rid`` whatever the cloud holds: (code, detail), or None."""
    try:
        parsed = Address.parse(address)
    except ValueError as exc:
        return "Import.InvalidAddress", str(exc)
    if parsed.type not in IMPORTABLE:
        return "Import.NotImportable", f"{parsed.type} resources cannot be imported (importable: {', '.join(IMPORTABLE)})"
    if parsed.type == "ipam_scope" and parsed.name in DEFAULT_SCOPES:
        return "Import.NotImportable", f"{address} is a default scope: it comes with its IPAM (import the ipam)"
    rec = resources.get(address)
    if rec is not None and rec.get("id") != rid:
        return "Import.AddressTaken", f"the state already holds {address} as {rec.get('id')}"
    holder = next((a for a, r in resources.items() if r.get("id") == rid and a != address), None)
    if holder is not None:
        return "Import.AlreadyManaged", f"{rid} is already in the state as {holder}"
    return None


def adopt(client, resources: Mapping[str, dict], wanted: Mapping[str, str], regions: Iterable[str] = ()):
    """Read the records of ``wanted`` (address -> id) from the cloud: (records, [(address, code, detail)]).
    An IPAM brings its default scopes."""
    from .providers.alibaba_read import by_token, read_all

    stubs: dict[str, dict] = {}
    for address, rid in wanted.items():
        rtype, name = address.split(".", 1)
        stubs[address] = {"type": rtype, "name": name, "id": rid, "attributes": {}}
        if rtype == "ipam":
            for scope in by_token(client, "ListIpamScopes", {"IpamId": rid}, "IpamScopes"):
                if scope.get("IsDefault") and scope.get("IpamScopeType") in DEFAULT_SCOPES:
                    key = f"ipam_scope.{scope['IpamScopeType']}"
                    if key not in resources:
                        stubs[key] = {"type": "ipam_scope", "name": scope["IpamScopeType"], "id": scope["IpamScopeId"],
                                      "attributes": {}}
    observed = read_all(client, {**resources, **stubs}, regions)
    records, failures = {}, []
    for address in sorted(stubs, key=_rank):
        stub, rec = stubs[address], observed.resources.get(address)
        rid = stub["id"]
        if rec is None:
            other = next((u for u in observed.unmanaged if u.id == rid), None)
            if other is not None:
                failures.append((address, "Import.TypeMismatch", f"{rid} is a {other.type}, not a {stub['type']}"))
            else:
                failures.append((address, "Import.NotFound", f"{rid} was not found in the cloud (regions read: "
                                 f"{', '.join(observed.regions) or 'none'})"))
        elif observed.unresolved.get(address):
            ids = ", ".join(observed.unresolved[address])
            failures.append((address, "Import.UnknownReference", f"{rid} refers to {ids}, which the state does not "
                             "hold; import it first, or in the same import block"))
        elif stub["type"] == "eni" and rec["attributes"].get("managed"):
            failures.append((address, "InvalidOperation.EniServiceManaged", f"{rid} is managed by a cloud service; "
                             "declare it with `managed: true` and its `id` instead (read, never changed)"))
        elif stub["type"] == "eni" and rec["attributes"].get("primary"):
            failures.append((address, "Import.NotImportable", f"{rid} is the primary ENI of an instance; it comes "
                             "with its instance"))
        else:
            records[address] = rec
    return records, failures


def read_imports(client, doc: SpecDocument, resources: Mapping[str, dict], wanted: Mapping[str, str]) -> dict[str, dict]:
    """Records of the spec's ``import:`` entries ``wanted``; raises every problem at its file:line."""
    from .refresh import spec_regions

    errors: list[ReconcilerError] = []

    def fail(address: str, code: str, detail: str) -> None:
        file, line = doc.locate(("import", address))
        errors.append(PlanError(code, detail, address=address, file=file, line=line))

    ok = {}
    for address, rid in sorted(wanted.items()):
        found = problem(address, rid, resources)
        if found:
            fail(address, *found)
        else:
            ok[address] = rid
    records, failures = adopt(client, resources, ok, spec_regions(doc) | _state_regions(resources))
    for failure in failures:
        fail(*failure)
    raise_all(errors)
    return records


def _state_regions(resources: Mapping[str, dict]) -> set[str]:
    from .providers.alibaba_read import state_regions

    return state_regions(resources)


# ---- the planner's side (pure) ---------------------------------------------------------------
def import_errors(imports: Mapping[str, dict], recorded: Mapping[str, dict], graph, locate) -> list[ReconcilerError]:
    """Imports the specs cannot take: an address not declared, or the state holding it otherwise."""
    errors: list[ReconcilerError] = []
    with_ipam = any(a.startswith("ipam.") for a in imports)
    for address in sorted(imports, key=_rank):
        rid = imports[address].get("id")
        if address not in graph:
            found = ("Import.NotInSpec", f"{address} is not declared in the specs; declare it to import {rid}")
        else:
            found = problem(address, rid, recorded)
            if found and found[0] == "Import.NotImportable" and with_ipam and address.startswith("ipam_scope."):
                found = None  # a default scope imported with its IPAM
        if found:
            file, line = locate(("import", address))
            errors.append(PlanError(found[0], found[1], address=address, file=file, line=line))
    return errors


def import_actions(imports: Mapping[str, dict]) -> list[PlannedAction]:
    """One ``import`` action per record, parents first; ``after`` holds the record less type and name."""
    out = []
    for address in sorted(imports, key=_rank):
        rec = imports[address]
        body = {k: v for k, v in rec.items() if k not in ("type", "name")}
        out.append(PlannedAction(0, Action.IMPORT, address, rec["type"], rec["name"], IMPORT_API, None, None, body,
                                 False, f"adopts {rec['id']}"))
    return out


def with_imports(plan: Plan, imports: Mapping[str, dict]) -> Plan:
    """``plan`` with its import actions first (apply records them before anything refers to them)."""
    if not imports:
        return plan
    actions = import_actions(imports) + list(plan.actions)
    return replace(plan, actions=tuple(replace(a, order=i) for i, a in enumerate(actions, start=1)))


def import_record(action: PlannedAction) -> dict[str, dict]:
    """What apply records for an ``import`` action (no API call)."""
    if not action.after or not action.after.get("id"):
        raise StateError("Plan.Unreadable", f"the import of {action.address} carries no record", address=action.address)
    return {action.address: {"type": action.type, "name": action.name, **_plain(action.after)}}


def _plain(value):
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
