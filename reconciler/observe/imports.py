"""Import: adopt existing cloud resources into the state under spec addresses, without recreating or
renumbering them.

Two ways in. ``ipamctl import ADDRESS ID`` writes the record into the state under the lock. An
``import:`` block in the specs (``import: {vpc.legacy: vpc-2ze...}``) does it inside a plan: the
records are read at plan time (:func:`read_imports`, the edge), the planner treats them as recorded
(so ``{mask: N}`` keeps the imported CIDR and the diff is against the resource as it is), and the
plan carries one ``import`` action per record, first, which apply records without an API call. An
entry whose address the state already holds with the same id is done and ignored.

What may be imported, and the checks that need no cloud, are :mod:`reconciler.rules.imports`'s;
the import actions of a plan are :mod:`reconciler.plans.imports`'s. This module reads the cloud and
adds the codes only the cloud can answer: ``Import.NotFound``, ``Import.TypeMismatch``,
``Import.UnknownReference``, and ``InvalidOperation.EniServiceManaged`` for a service-managed ENI.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from reconciler.errors import PlanError, ReconcilerError, raise_all
from reconciler.net.address import dependency_order
from reconciler.net.limits import DEFAULT_SCOPES
from reconciler.observe.refresh import spec_regions
from reconciler.providers.alibaba_read import by_token, read_all, state_regions
from reconciler.rules.imports import problem
from reconciler.source.loader import SpecDocument


def adopt(client, resources: Mapping[str, dict], wanted: Mapping[str, str], regions: Iterable[str] = ()):
    """Read the records of ``wanted`` (address -> id) from the cloud: (records, [(address, code, detail)]).
    An IPAM brings its default scopes."""
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
    for address in sorted(stubs, key=dependency_order):
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
    errors: list[ReconcilerError] = []

    def fail(address: str, code: str, detail: str) -> None:
        file, line = doc.locate(("import", address))
        errors.append(PlanError(code, detail, address=address, file=file, line=line))

    ok = {}
    for address, rid in sorted(wanted.items()):
        found = problem(address, rid, resources)  # type: ignore[arg-type]  # the state's keys are addresses
        if found:
            fail(address, *found)
        else:
            ok[address] = rid
    records, failures = adopt(client, resources, ok, spec_regions(doc) | state_regions(resources))
    for failure in failures:
        fail(*failure)
    raise_all(errors)
    return records
