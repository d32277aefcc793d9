"""The machine-readable plan: ``plan --json`` output and the saved plan file.

The saved plan holds every action with its exact CIDR, the concrete desired records apply writes
into the state, the lineage and serial of the state it was made against, and a checksum over all
of it. Reading it back refuses a tampered file, a plan of another workspace (lineage), and a plan
made against a state that has moved on since (``StalePlan``).
"""

from __future__ import annotations

import hashlib
from types import MappingProxyType
from typing import Mapping

import orjson

from .diff import Change, ChangeKind
from .errors import StateError
from .plan import Action, Plan, PlannedAction, _plain

TF_ACTIONS = {
    ChangeKind.CREATE: ["create"],
    ChangeKind.UPDATE: ["update"],
    ChangeKind.REPLACE: ["delete", "create"],
    ChangeKind.DELETE: ["delete"],
}


def resource_changes(plan: Plan, provider: str = "sandbox") -> list[dict]:
    """Shaped like ``terraform show -json``'s resource_changes, so PR-comment tools can read it."""
    out = []
    for c in plan.changes:
        out.append({
            "address": c.address, "mode": "managed", "type": c.type, "name": c.name,
            "provider_name": f"ipam-reconciler/{provider}",
            "change": {
                "actions": TF_ACTIONS[c.kind], "before": _plain(c.before), "after": _plain(c.after),
                "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {},
                "replace_paths": [[r.split(" ")[0]] for r in c.replace_reasons if r.endswith(" changes")],
            },
            "action_reason": "replace_because_cannot_update" if c.kind is ChangeKind.REPLACE else None,
        })
    return out


def to_document(plan: Plan, provider: str = "sandbox", settings: Mapping | None = None) -> dict:
    body = {
        "provider": dict(settings or {"type": provider}),
        "format_version": plan.format_version,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "changes": plan.has_changes,
        "actions": [a.to_dict() for a in plan.actions],
        "resource_changes": resource_changes(plan, provider),
        "summary": plan.summary(),
        "desired": {k: _plain(v) for k, v in sorted(plan.desired.items())},
        "change_set": [_change_dict(c) for c in plan.changes],
    }
    body["checksum"] = _checksum(body)
    return body


def to_json(plan: Plan, provider: str = "sandbox", settings: Mapping | None = None) -> bytes:
    return orjson.dumps(to_document(plan, provider, settings), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def _checksum(body: dict) -> str:
    canonical = orjson.dumps({k: v for k, v in body.items() if k != "checksum"}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def _change_dict(c: Change) -> dict:
    return {"address": c.address, "type": c.type, "name": c.name, "kind": c.kind.value,
            "before": _plain(c.before), "after": _plain(c.after), "changed": list(c.changed),
            "replace_reasons": list(c.replace_reasons)}


def _frozen(value):
    return None if value is None else MappingProxyType(value)


def from_json(data: bytes, *, path: str, lineage: str | None, serial: int) -> tuple[Plan, dict]:
    """Read a saved plan and check it still applies to a state of ``lineage`` at ``serial``.

    Returns the plan and the provider settings it was made with."""
    try:
        body = orjson.loads(data)
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
        if body.get("checksum") != _checksum(body):
            raise StateError("Plan.Tampered", f"{path}: checksum mismatch: the plan file was edited or damaged; "
                             "make a new plan")
        if body.get("format_version") != "1":
            raise StateError("Plan.UnsupportedVersion", f"{path}: plan format {body.get('format_version')!r} is not 1")
        actions = tuple(
            PlannedAction(a["order"], Action(a["action"]), a["address"], a["type"], a["name"], a["api"], a["cidr"],
                          _frozen(a["before"]), _frozen(a["after"]), a["replace"], a["note"])
            for a in body["actions"]
        )
        changes = tuple(
            Change(c["address"], c["type"], c["name"], ChangeKind(c["kind"]), _frozen(c["before"]),
                   _frozen(c["after"]), tuple(c["changed"]), tuple(c["replace_reasons"]))
            for c in body["change_set"]
        )
        plan = Plan(body["lineage"], body["serial"], actions, changes, MappingProxyType(body["desired"]))
        settings = dict(body["provider"])
    except StateError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError("Plan.Unreadable", f"{path}: not a plan file made by ipamctl ({exc})") from None
    if plan.lineage is not None and lineage is not None and plan.lineage != lineage:
        raise StateError("Plan.WrongWorkspace",
                         f"{path} was made for state lineage {plan.lineage}, this workspace's state is {lineage}")
    if plan.serial != serial or (plan.lineage is None and lineage is not None and serial != 0):
        raise StateError("StalePlan", f"{path} was made against state serial {plan.serial}, the state is now at "
                         f"serial {serial}; make a new plan")
    return plan, settings

