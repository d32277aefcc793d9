"""The compact plan body (ipamctl plan format "2"): every record once.

``records`` maps a key to a record's attributes; the desired records, the change set and the actions
refer to it by key (a string) instead of repeating the attributes. A record's desired attributes are
keyed by its address; another value at the same address (its recorded attributes, an ENI's
attributes between its create and its update) by the address and ``#2``, ``#3``, ... in the order
the document meets them (desired, change set, actions). A small value of an action (a
``{"cidr", "field"}`` it assigns or releases) stays in place, as a JSON object. An action or a change leaves out what its
address and the API table already say: ``type`` and ``name`` (the address is ``type.name``), ``order``
(its place), ``api`` (the call :data:`API` names), and fields that are null, false or empty.

:func:`encode` makes the body from a :class:`Plan`; :func:`expand` makes, from a body, the full values
(``desired`` with attributes, ``change_set`` with before and after) that :mod:`tfjson` and
``resource_changes`` are derived from, and :func:`plan_of` the :class:`Plan` apply runs. Equal values
share a key when they serialize alike (so ``1`` and ``true``, equal in Python, never do).
"""

from __future__ import annotations

import gc
from types import MappingProxyType
from typing import Any, Iterator, Mapping

import orjson

from reconciler.plans.action import API, Action, PlannedAction
from reconciler.plans.diff import Change, ChangeKind
from reconciler.plans.order import Plan, PlanWarning
from reconciler.plans.pieces import SORTED, Serialized, view

FORMAT = "2"
_PARTIAL = 2  # keys: an action's value this small (``{"cidr", "field"}``) stays in place


class _Table:
    """The records table being built: a key per distinct serialization, each value serialized once
    (found by identity first: a plan shares one view of a record between its places)."""

    def __init__(self) -> None:
        self.records = Serialized()
        self.by_id: dict[int, str] = {}
        self.by_bytes: dict[bytes, str] = {}
        self.count: dict[str, int] = {}  # address -> the values keyed by it so far

    def ref(self, address: str, value: Any) -> Any:
        """The key of ``value`` (None stays None)."""
        if value is None:
            return None
        # which object the value shows: a read-only view's own mapping (the planner makes a view per
        # place a record appears, of one dict; records are never changed once made), else itself
        ident = id(inner[0]) if type(value) is MappingProxyType and len(inner := _referents(value)) == 1 else id(value)
        key = self.by_id.get(ident)
        if key is not None:
            return key
        data = orjson.dumps(value, default=view, option=SORTED)
        key = self.by_bytes.get(data)
        if key is None:
            n = self.count.get(address, 0) + 1
            key = address if n == 1 else f"{address}#{n}"
            while key in self.records:  # (an address that itself ends in #n)
                n += 1
                key = f"{address}#{n}"
            self.count[address] = n
            data = memoryview(data).tobytes()  # kept: exactly its size (orjson's output has room to spare)
            self.by_bytes[data] = key
            self.records.put(key, value, data)
        self.by_id[ident] = key
        return key


_referents = gc.get_referents


def _named(out: dict[str, Any], address: str, type_: str, name: str) -> None:
    if address != f"{type_}.{name}":
        out["type"], out["name"] = type_, name


def encode(plan: Plan) -> dict[str, Any]:
    """The body's record-bearing keys (``records``, ``desired``, ``change_set``, ``actions``)."""
    table = _Table()
    desired: dict[str, Any] = {}
    for address in sorted(plan.desired):
        rec = plan.desired[address]
        entry = dict(rec)
        entry["attributes"] = table.ref(address, rec["attributes"])
        desired[address] = entry
    changes = []
    for c in plan.changes:
        d: dict[str, Any] = {"address": c.address, "kind": c.kind._value_}
        _named(d, c.address, c.type, c.name)
        if c.before is not None:
            d["before"] = table.ref(c.address, c.before)
        if c.after is not None:
            d["after"] = table.ref(c.address, c.after)
        if c.changed:
            d["changed"] = list(c.changed)
        if c.replace_reasons:
            d["replace_reasons"] = list(c.replace_reasons)
        changes.append(d)
    actions: list[dict[str, Any]] = []
    append, ref, api_of = actions.append, table.ref, API.get
    for n, a in enumerate(plan.actions, start=1):
        address = a.address
        r: dict[str, Any] = {"action": a.action._value_, "address": address}
        if address != f"{a.type}.{a.name}":
            r["type"], r["name"] = a.type, a.name
        if a.order != n:
            r["order"] = a.order
        if a.api != api_of((a.type, a.action)):
            r["api"] = a.api
        if a.cidr is not None:
            r["cidr"] = a.cidr
        if (v := a.before) is not None:
            r["before"] = v if len(v) <= _PARTIAL else ref(address, v)
        if (v := a.after) is not None:
            r["after"] = v if len(v) <= _PARTIAL else ref(address, v)
        if a.replace:
            r["replace"] = True
        if a.note is not None:
            r["note"] = a.note
        append(r)
    return {"records": table.records, "desired": desired, "change_set": changes, "actions": actions}


def full_view(plan: Plan) -> dict[str, Any]:
    """What the derived sections are made from, straight from a plan (as :class:`Expanded` makes it
    from a body): the desired records and the change set with their values, each value the mapping
    a record's read-only view shows (so the document serializes dicts, not a view per place)."""
    changes = [{"address": c.address, "type": c.type, "name": c.name, "kind": c.kind._value_,
                "before": _shown(c.before), "after": _shown(c.after), "changed": list(c.changed),
                "replace_reasons": list(c.replace_reasons)} for c in plan.changes]
    return {"desired": _Desired(plan.desired), "change_set": changes,
            "imported": {a.address for a in plan.actions if a.action is Action.IMPORT}}


def _shown(value: Any) -> Any:
    """The mapping a read-only view shows, itself (never changed: records are not, once made)."""
    if type(value) is MappingProxyType:
        inner = _referents(value)
        if len(inner) == 1 and type(inner[0]) is dict:
            return inner[0]
    return value


class _Desired(Mapping[str, Any]):
    """The plan's desired records, each with the attributes its view shows."""

    def __init__(self, desired: Mapping[Any, Any]) -> None:
        self.desired = desired

    def __getitem__(self, address: str) -> Any:
        rec = self.desired[address]
        attrs = rec["attributes"]
        return rec if type(attrs) is dict else {**rec, "attributes": _shown(attrs)}

    def __iter__(self) -> Iterator[str]:
        return iter(self.desired)

    def __len__(self) -> int:
        return len(self.desired)


def _split(row: Mapping[str, Any]) -> tuple[str, str]:
    if "type" in row:
        return row["type"], row["name"]
    type_, _, name = row["address"].partition(".")
    return type_, name


class Expanded:
    """A format-2 body's values: records resolved (each record one read-only view, shared)."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        records = body["records"]
        if not isinstance(records, dict):
            raise TypeError("records is not a mapping")
        self.frozen = {k: MappingProxyType(v) for k, v in records.items()}
        self.desired = MappingProxyType({a: MappingProxyType({**e, "attributes": self.value(e["attributes"])})
                                         for a, e in body["desired"].items()})
        self.change_set = []
        for c in body["change_set"]:
            type_, name = _split(c)
            self.change_set.append({
                "address": c["address"], "type": type_, "name": name, "kind": c["kind"],
                "before": self.value(c.get("before")), "after": self.value(c.get("after")),
                "changed": c.get("changed", []), "replace_reasons": c.get("replace_reasons", [])})
        self.imported = {a["address"] for a in body["actions"] if a["action"] == Action.IMPORT._value_}

    def value(self, ref: Any) -> Any:
        """A reference's record (a key), an in-place value (a mapping, read-only), or None."""
        if ref is None:
            return None
        if isinstance(ref, str):
            return self.frozen[ref]
        if not isinstance(ref, dict):
            raise TypeError(f"a record is {type(ref).__name__}")
        return MappingProxyType(ref)

    def view(self) -> dict[str, Any]:
        return {"desired": self.desired, "change_set": self.change_set, "imported": self.imported}


def plan_of(body: Mapping[str, Any], values: Expanded) -> Plan:
    """The plan a format-2 body holds."""
    actions = []
    for n, a in enumerate(body["actions"], start=1):
        type_, name = _split(a)
        action = Action(a["action"])
        actions.append(PlannedAction(
            a.get("order", n), action, a["address"], type_, name, a["api"] if "api" in a else API[(type_, action)],
            a.get("cidr"), values.value(a.get("before")), values.value(a.get("after")), a.get("replace", False),
            a.get("note")))
    changes = tuple(
        Change(c["address"], c["type"], c["name"], ChangeKind(c["kind"]), c["before"], c["after"],
               tuple(c["changed"]), tuple(c["replace_reasons"]))
        for c in values.change_set)
    warnings = tuple(PlanWarning(w["code"], w["address"], w["file"], w["line"], w["message"])
                     for w in body.get("warnings", ()))
    desired: Any = values.desired  # (read-only views of the records, as a fresh plan's)
    return Plan(body["lineage"], body["serial"], tuple(actions), changes, desired, warnings=warnings)
