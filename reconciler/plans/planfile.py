"""The machine-readable plan: the saved plan file, and ``plan --json`` output (the same document with
the Terraform sections of :mod:`reconciler.plans.tfjson`, which a saved plan does not hold).

The saved plan holds every action with its exact CIDR, the concrete desired records apply writes
into the state, the lineage and serial of the state it was made against, and a checksum over all
of it. Reading it back refuses a tampered file, a plan of another workspace (lineage), and a plan
made against a state that has moved on since (``StalePlan``).

The checksum is unkeyed: it catches accidental edits and truncation, not a forger, who can recompute
it. With a key (``IPAMCTL_PLAN_KEY``, read by the edge) the plan also carries ``signature``, an
HMAC-SHA256 over the same bytes, and a reader with the key refuses a plan without it or with a wrong one.
"""

from __future__ import annotations

import hashlib
import hmac
from types import MappingProxyType
from typing import Any, Callable, Mapping, Protocol, TypeAlias

import orjson

from reconciler.errors import StateError
from reconciler.plans import tfjson
from reconciler.plans.diff import Attributes, Change, ChangeKind
from reconciler.plans.order import Action, Plan, PlannedAction, PlanWarning, _plain

PLAN_FORMAT = "1"  # ipamctl's own plan format (``ipamctl_format_version``); format_version is Terraform's
Convert: TypeAlias = Callable[[Any], Any]  # a record's attributes (or None) -> the value the document holds

TF_ACTIONS = {
    ChangeKind.CREATE: ["create"],
    ChangeKind.UPDATE: ["update"],
    ChangeKind.REPLACE: ["delete", "create"],
    ChangeKind.DELETE: ["delete"],
}


def resource_changes(plan: Plan, provider: str = "sandbox") -> list[dict[str, Any]]:
    """Shaped like ``terraform show -json``'s resource_changes, so PR-comment tools can read it."""
    return _resource_changes(plan, provider, _plain)


def _resource_changes(plan: Plan, provider: str, conv: Convert) -> list[dict[str, Any]]:
    provider_name = f"ipam-reconciler/{provider}"
    out: list[dict[str, Any]] = []
    for c in plan.changes:
        reasons = c.replace_reasons
        out.append({
            "address": c.address, "mode": "managed", "type": c.type, "name": c.name,
            "provider_name": provider_name,
            "change": {
                "actions": list(TF_ACTIONS[c.kind]), "before": conv(c.before), "after": conv(c.after),
                "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {},
                "replace_paths": [r.split(" ")[0].split(".") for r in reasons if r.endswith(" changes")] if reasons else [],
            },
            "action_reason": "replace_because_cannot_update" if c.kind is ChangeKind.REPLACE else None,
        })
    return out


def to_document(plan: Plan, provider: str = "sandbox", settings: Mapping[str, Any] | None = None,
                key: bytes | None = None) -> dict[str, Any]:
    """The plan as plain JSON values (what the saved plan file holds; ``plan --json`` prints it with
    :func:`tfjson.sections`); signed when there is a ``key``."""
    body = _body(plan, provider, settings, _plain)
    _seal(body, key)
    return body


def to_json(plan: Plan, provider: str = "sandbox", settings: Mapping[str, Any] | None = None,
            key: bytes | None = None) -> bytes:
    """``to_document`` serialized (indented, sorted keys, a final newline), without copying the records:
    read-only views are serialized as they are, and the checksum is hashed piece by piece."""
    return documents(plan, provider, settings, key, saved=True)[0]  # type: ignore[return-value]


def documents(plan: Plan, provider: str = "sandbox", settings: Mapping[str, Any] | None = None,
              key: bytes | None = None, *, saved: bool = False, printed: bool = False,
              compact: bool = False) -> tuple[bytes | None, bytes | None]:
    """The saved plan file's bytes (``saved``, as :func:`to_json`) and the document ``plan --json``
    prints (``printed``: with the Terraform sections; one line when ``compact``), from one body sealed once."""
    if not (saved or printed):
        return None, None
    body = _body(plan, provider, settings, None)
    _seal(body, key)
    return (orjson.dumps(body, default=_view, option=_INDENTED | orjson.OPT_APPEND_NEWLINE) if saved else None,
            _dumps(tfjson.with_sections(body), compact) if printed else None)


def _dumps(doc: Mapping[str, Any], compact: bool) -> bytes:
    return orjson.dumps(doc, default=_view, option=(_SORTED if compact else _INDENTED) | orjson.OPT_APPEND_NEWLINE)


_SORTED = orjson.OPT_SORT_KEYS
_INDENTED = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
_CHUNK = 4096  # list items or mapping entries serialized at a time for the checksum


class _Unwrap(dict[int, tuple[Attributes, dict[str, Any]]]):
    """Each read-only view of a record, once, as the dict it shows (a shallow copy shared by every place
    the record appears in the document; nested values are not copied)."""

    def __call__(self, value: Any) -> Any:
        if type(value) is not MappingProxyType:
            return value
        out = self.get(id(value))
        if out is None:
            out = self[id(value)] = (value, value.copy())
        return out[1]


def _view(value: object) -> dict[str, Any]:
    """orjson's fallback: a read-only mapping view is serialized as the dict it shows."""
    if isinstance(value, MappingProxyType):
        return value.copy()
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _body(plan: Plan, provider: str, settings: Mapping[str, Any] | None, conv: Convert | None) -> dict[str, Any]:
    """The document without its checksum. ``conv`` copies records into plain values (None: left as they
    are, for orjson with :func:`_view`)."""
    if conv is None:
        conv = _Unwrap()
        actions = [a.to_dict(plain=conv) for a in plan.actions]
        desired = {k: conv(plan.desired[k]) for k in sorted(plan.desired)}
        changes = [_change_dict(c, conv) for c in plan.changes]
        resources = _resource_changes(plan, provider, conv)
    else:
        actions = [a.to_dict() for a in plan.actions]
        desired = {k: conv(v) for k, v in sorted(plan.desired.items())}
        changes = [_change_dict(c, conv) for c in plan.changes]
        resources = _resource_changes(plan, provider, conv)
    return {
        "provider": dict(settings or {"type": provider}),
        "format_version": tfjson.FORMAT_VERSION,
        "ipamctl_format_version": plan.format_version,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "changes": plan.has_changes,
        "actions": actions,
        "resource_changes": resources,
        "summary": plan.summary(),
        "desired": desired,
        "change_set": changes,
        "warnings": [w.to_dict() for w in plan.warnings],
    }


SIGNATURE = "hmac-sha256:"  # the prefix of ``signature``: the algorithm, then the hex digest
_SEALS = ("checksum", "signature")  # the keys the checksum and the signature are not taken over
# nor the Terraform sections: derived from the hashed keys, checked against them when read
_UNHASHED = frozenset((*_SEALS, *tfjson.DERIVED))


class _Sink(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...


class _Both:
    """Two digests fed the same bytes in one pass (the checksum and the signature)."""

    def __init__(self, a: _Sink, b: _Sink) -> None:
        self.a, self.b = a, b

    def update(self, data: bytes | memoryview, /) -> None:
        self.a.update(data)
        self.b.update(data)


def _seal(body: dict[str, Any], key: bytes | None) -> None:
    body["checksum"], signature = _digests(body, key)
    if signature is not None:
        body["signature"] = signature


def _digests(body: Mapping[str, Any], key: bytes | None) -> tuple[str, str | None]:
    """The checksum of ``body`` and, with a ``key``, its signature (``SIGNATURE`` + HMAC-SHA256 hex),
    both over the same bytes, hashed once."""
    h = hashlib.sha256()
    if key is None:
        _hash(h, body)
        return h.hexdigest(), None
    mac = hmac.new(key, digestmod=hashlib.sha256)
    _hash(_Both(h, mac), body)
    return h.hexdigest(), SIGNATURE + mac.hexdigest()


def _checksum(body: Mapping[str, Any]) -> str:
    """SHA-256 of the compact, key-sorted serialization of ``body`` without its checksum (and signature)."""
    return _digests(body, None)[0]


def _hash(h: _Sink, body: Mapping[str, Any]) -> None:
    """Feed ``h`` the compact, key-sorted serialization of ``body`` without its checksum and signature
    (and Terraform sections).

    Hashed piece by piece (long lists and mappings a chunk at a time) instead of serializing the
    whole document at once: the same bytes, without holding them all in memory."""
    h.update(b"{")
    for n, key in enumerate(sorted(k for k in body if k not in _UNHASHED)):
        if n:
            h.update(b",")
        h.update(orjson.dumps(key))
        h.update(b":")
        _feed(h, body[key])
    h.update(b"}")


def _feed(h: _Sink, value: Any) -> None:
    t = type(value)
    if (t is list or t is tuple) and len(value) > _CHUNK:
        h.update(b"[")
        for i in range(0, len(value), _CHUNK):
            if i:
                h.update(b",")
            h.update(memoryview(orjson.dumps(value[i:i + _CHUNK], default=_view, option=_SORTED))[1:-1])
        h.update(b"]")
    elif (t is dict or t is MappingProxyType) and len(value) > _CHUNK:
        items = sorted(value.items(), key=_first)
        h.update(b"{")
        for i in range(0, len(items), _CHUNK):
            if i:
                h.update(b",")
            h.update(memoryview(orjson.dumps(dict(items[i:i + _CHUNK]), default=_view, option=_SORTED))[1:-1])
        h.update(b"}")
    else:
        h.update(orjson.dumps(value, default=_view, option=_SORTED))


def _first(item: tuple[Any, Any]) -> Any:
    return item[0]


def _change_dict(c: Change, conv: Convert = _plain) -> dict[str, Any]:
    return {"address": c.address, "type": c.type, "name": c.name, "kind": c.kind._value_,
            "before": conv(c.before), "after": conv(c.after), "changed": list(c.changed),
            "replace_reasons": list(c.replace_reasons)}


def _frozen(value: dict[str, Any] | None) -> Attributes | None:
    return None if value is None else MappingProxyType(value)


def from_json(data: bytes, *, path: str, lineage: str | None, serial: int,
              key: bytes | None = None) -> tuple[Plan, dict[str, Any]]:
    """Read a saved plan and check it still applies to a state of ``lineage`` at ``serial`` (None: a
    workspace whose lineage is kept nowhere yet); with a ``key``, that it is signed with it. A plan
    without a lineage read for a workspace without one is returned: the apply refuses it
    (:func:`unbound`), as it cannot tell one such workspace from another.

    Returns the plan and the provider settings it was made with."""
    plan, settings = read(data, path=path, key=key)
    if plan.lineage != lineage:
        if plan.lineage is None:
            raise unbound(path)
        here = f"this workspace's state is {lineage}" if lineage else "this workspace has no state or lineage yet"
        raise StateError("Plan.WrongWorkspace", f"{path} was made for state lineage {plan.lineage}, {here}; "
                         "a plan applies only in the workspace it was made in")
    if plan.serial != serial:
        raise StateError("StalePlan", f"{path} was made against state serial {plan.serial}, the state is now at "
                         f"serial {serial}; make a new plan")
    return plan, settings


def read(data: bytes, *, path: str, key: bytes | None = None) -> tuple[Plan, dict[str, Any]]:
    """A saved plan, checked to be whole (and signed with ``key`` when one is given), wherever it was
    made: what ``show PLANFILE`` renders. Applying one goes through :func:`from_json`."""
    plan, settings, _ = _read(data, path, key)
    return plan, settings


def terraform_json(data: bytes, *, path: str, key: bytes | None = None, compact: bool = False) -> bytes:
    """A saved plan (checked as :func:`read` checks it) as ``show --json PLANFILE`` prints it: the
    document with its Terraform sections, the bytes ``plan --json`` printed for the same plan."""
    return _dumps(tfjson.with_sections(_read(data, path, key)[2]), compact)


def _read(data: bytes, path: str, key: bytes | None) -> tuple[Plan, dict[str, Any], dict[str, Any]]:
    try:
        body = orjson.loads(data)
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
        checksum, signature = _digests(body, key)
        if body.get("checksum") != checksum:
            raise StateError("Plan.Tampered", f"{path}: checksum mismatch: the plan file was edited or damaged; "
                             "make a new plan")
        if signature is not None:
            _check_signature(body.get("signature"), signature, path)
        # (a plan saved before format_version became Terraform's carried ipamctl's there)
        version = body["ipamctl_format_version"] if "ipamctl_format_version" in body else body.get("format_version")
        if version != PLAN_FORMAT:
            raise StateError("Plan.UnsupportedVersion", f"{path}: plan format {version!r} is not {PLAN_FORMAT}")
        if not tfjson.matches(body):
            raise StateError("Plan.Tampered", f"{path}: the Terraform sections (planned_values, prior_state, "
                             "configuration, ...) are not what the plan derives: they were edited; make a new plan")
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
        warnings = tuple(PlanWarning(w["code"], w["address"], w["file"], w["line"], w["message"])
                         for w in body.get("warnings", ()))  # (a plan saved before warnings has none)
        plan = Plan(body["lineage"], body["serial"], actions, changes, MappingProxyType(body["desired"]),
                    warnings=warnings)
        settings = dict(body["provider"])
    except StateError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StateError("Plan.Unreadable", f"{path}: not a plan file made by ipamctl ({exc})") from None
    return plan, settings, body


def unbound(path: str) -> StateError:
    """A plan carrying no lineage (``plan --json`` on a workspace with no state and no ``state/lineage``):
    it cannot be told which workspace it was made for, so it applies in none."""
    return StateError("Plan.Unbound", f"{path} is bound to no workspace: it was made on a workspace with no state "
                      "yet and not saved with --out; save the plan with `ipamctl plan --out FILE`, which binds it "
                      "to its workspace")


def _check_signature(given: Any, expected: str, path: str) -> None:
    """Refuse a plan without ``signature`` or with another than ``expected`` (compared in constant time)."""
    if given is None:
        raise StateError("Plan.Unsigned", f"{path} is not signed, and IPAMCTL_PLAN_KEY is set: only plans signed "
                         "with that key apply; make the plan again with the key set")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode()):
        raise StateError("Plan.BadSignature", f"{path}: the signature does not match IPAMCTL_PLAN_KEY: the plan was "
                         "edited after it was signed, or signed with another key; make a new plan")

