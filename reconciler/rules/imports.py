"""The import rules the planner checks (pure): what may be imported, under which address, and
whether the specs and the recorded state can take it.

Importable: ``ipam`` (with its two default scopes), ``ipam_scope`` (custom), ``ipam_pool``,
``ipam_pool_allocation`` (custom allocations), ``vpc``, ``vswitch``, ``security_group`` and ``eni``
(secondary ENIs not managed by a service). What a resource refers to (a vSwitch's VPC, a VPC block's
pool, an ENI's security group) must be in the state or imported with it.

Codes: ``Import.InvalidAddress``, ``Import.NotImportable``, ``Import.NotInSpec``,
``Import.AddressTaken`` (the state holds the address with another id), ``Import.AlreadyManaged``
(the state holds the id under another address); the cloud-reading half (:mod:`reconciler.observe.imports`)
adds ``Import.NotFound``, ``Import.TypeMismatch``, ``Import.UnknownReference`` and
``InvalidOperation.EniServiceManaged``.
"""

from __future__ import annotations

from typing import Any, Mapping, TypeAlias

from reconciler.desired.graph import DependencyGraph
from reconciler.errors import ReconcilerError
from reconciler.net.address import (
    SPEC_KIND,
    Address,
    ResourceAddress,
    address_of,
    dependency_order,
    split_address,
)
from reconciler.net.limits import DEFAULT_SCOPES
from reconciler.source.loader import SpecDocument
from reconciler.source.locate import Locator, Problems

Records: TypeAlias = Mapping[ResourceAddress, Mapping[str, Any]]  # JSON-like records by address

IMPORTABLE = ("ipam", "ipam_scope", "ipam_pool", "ipam_pool_allocation", "vpc", "vswitch", "security_group", "eni")


def spec_imports(doc: SpecDocument, resources: Records) -> dict[str, str]:
    """address -> id of the ``import:`` entries the state does not hold yet (raw: before validation)."""
    raw = doc.data.get("import") if isinstance(doc.data, dict) else None
    out: dict[str, str] = {}
    for address, rid in (raw.items() if isinstance(raw, dict) else ()):
        if isinstance(address, str) and isinstance(rid, str):
            rec = resources.get(address)  # type: ignore[call-overload]  # raw text: held if it is an address
            if rec is None or rec.get("id") != rid:
                out[address] = rid
    return out

def declared(doc: SpecDocument, address: str) -> bool:
    """Whether the specs declare ``address`` (read raw)."""
    data = doc.data if isinstance(doc.data, dict) else {}
    rtype, name = split_address(address)
    if rtype == "ipam" or (rtype == "ipam_scope" and name in DEFAULT_SCOPES):
        ipam = data.get("ipam")
        return isinstance(ipam, dict) and (rtype != "ipam" or ipam.get("name") == name)
    kind = data.get(SPEC_KIND.get(rtype, ""))
    return isinstance(kind, dict) and name in kind

def problem(address: str, rid: str | None, resources: Records) -> tuple[str, str] | None:
    """Why ``address`` cannot take ``rid`` whatever the cloud holds: (code, detail), or None."""
    try:
        parsed = Address.parse(address)
    except ValueError as exc:
        return "Import.InvalidAddress", str(exc)
    if parsed.type not in IMPORTABLE:
        return "Import.NotImportable", f"{parsed.type} resources cannot be imported (importable: {', '.join(IMPORTABLE)})"
    if parsed.type == "ipam_scope" and parsed.name in DEFAULT_SCOPES:
        return "Import.NotImportable", f"{address} is a default scope: it comes with its IPAM (import the ipam)"
    rec = resources.get(address_of(parsed.type, parsed.name))  # (the same text, now known to be an address)
    if rec is not None and rec.get("id") != rid:
        return "Import.AddressTaken", f"the state already holds {address} as {rec.get('id')}"
    holder = next((a for a, r in resources.items() if r.get("id") == rid and a != address), None)
    if holder is not None:
        return "Import.AlreadyManaged", f"{rid} is already in the state as {holder}"
    return None

def import_errors(imports: Records, recorded: Records, graph: DependencyGraph,
                  locate: Locator) -> list[ReconcilerError]:
    """Imports the specs cannot take: an address not declared, or the state holding it otherwise."""
    problems = Problems(locate)
    with_ipam = any(a.startswith("ipam.") for a in imports)
    for address in sorted(imports, key=dependency_order):
        rid = imports[address].get("id")
        found: tuple[str, str] | None
        if address not in graph:
            found = ("Import.NotInSpec", f"{address} is not declared in the specs; declare it to import {rid}")
        else:
            found = problem(address, rid, recorded)
            if found and found[0] == "Import.NotImportable" and with_ipam and address.startswith("ipam_scope."):
                found = None  # a default scope imported with its IPAM
        if found:
            problems.add(found[0], found[1], address, ("import", address))
    return problems.errors
