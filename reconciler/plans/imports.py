"""Import actions in a plan (pure): one ``import`` action per adopted record, first, which apply
records without an API call.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from reconciler.errors import StateError
from reconciler.net.address import ResourceAddress, dependency_order
from reconciler.net.records import plain
from reconciler.plans.action import Action, PlannedAction
from reconciler.plans.diff import Record
from reconciler.plans.order import Plan

IMPORT_API = "no API call"


def import_actions(imports: Mapping[ResourceAddress, Record]) -> list[PlannedAction]:
    """One ``import`` action per record, parents first; ``after`` holds the record less type and name."""
    out: list[PlannedAction] = []
    for address in sorted(imports, key=dependency_order):
        rec = imports[address]
        body = {k: v for k, v in rec.items() if k not in ("type", "name")}
        out.append(PlannedAction(0, Action.IMPORT, address, rec["type"], rec["name"], IMPORT_API, None, None, body,
                                 False, f"adopts {rec['id']}"))
    return out

def with_imports(plan: Plan, imports: Mapping[ResourceAddress, Record]) -> Plan:
    """``plan`` with its import actions first (apply records them before anything refers to them)."""
    if not imports:
        return plan
    actions = import_actions(imports) + list(plan.actions)
    return replace(plan, actions=tuple(replace(a, order=i) for i, a in enumerate(actions, start=1)))

def import_record(action: PlannedAction) -> dict[ResourceAddress, Record]:
    """What apply records for an ``import`` action (no API call)."""
    if not action.after or not action.after.get("id"):
        raise StateError("Plan.Unreadable", f"the import of {action.address} carries no record", address=action.address)
    return {action.address: {"type": action.type, "name": action.name, **plain(action.after)}}
