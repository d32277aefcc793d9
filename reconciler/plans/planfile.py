"""The machine-readable plan: the saved plan file, and ``plan --json`` output (the same document with
the sections :mod:`reconciler.plans.tfjson` derives, which a saved plan does not hold).

The saved plan holds every action with its exact CIDR, the concrete desired records apply writes
into the state, the lineage and serial of the state it was made against, and a checksum over all
of it. Reading it back refuses a tampered file, a plan of another workspace (lineage), and a plan
made against a state that has moved on since (``StalePlan``).

Format "2" (``ipamctl_format_version``) holds every record once, in a ``records`` table the desired
records, the change set and the actions refer to (:mod:`reconciler.plans.table`), as one line of
key-sorted JSON compressed with gzip (``zcat plan.tfplan`` shows it). The checksum is the SHA-256 of
that JSON without ``checksum`` and ``signature`` (which follow it, last); both are made as the
document is compressed, a piece at a time (:mod:`reconciler.plans.pieces`), and the printed document
is written out the same way, so neither is held whole in memory. Plans of format "1" (indented JSON,
records repeated, ``resource_changes`` saved) are still read.

The checksum is unkeyed: it catches accidental edits and truncation, not a forger, who can recompute
it. With a key (``IPAMCTL_PLAN_KEY``, read by the edge) the plan also carries ``signature``, an
HMAC-SHA256 over the same bytes, and a reader with the key refuses a plan without it or with a wrong one.
"""

from __future__ import annotations

import hashlib
import hmac
import zlib
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

import orjson

from reconciler.errors import StateError
from reconciler.plans import table, tfjson
from reconciler.plans.action import Action, PlannedAction
from reconciler.plans.diff import Change, ChangeKind
from reconciler.plans.order import Plan, PlanWarning
from reconciler.plans.pieces import SORTED, members, view

PLAN_FORMAT = table.FORMAT  # ipamctl's own plan format (``ipamctl_format_version``); format_version is Terraform's
READ_FORMATS = ("1", PLAN_FORMAT)
GZIP = b"\x1f\x8b"  # a saved plan of format 2 is gzip; a printed document (or format 1) is JSON
_LEVEL = 1  # zlib's fastest: at 100,000 resources 6.5 MB in 0.3 s, where level 6 makes 5.0 MB in 0.9 s
_INDENTED = orjson.OPT_INDENT_2 | SORTED | orjson.OPT_APPEND_NEWLINE
SIGNATURE = "hmac-sha256:"  # the prefix of ``signature``: the algorithm, then the hex digest
_SEALS = ("checksum", "signature")  # the keys the checksum and the signature are not taken over
# nor the derived sections (checked against the hashed keys when read); format 1 saved and hashed
# resource_changes
_UNHASHED = frozenset((*_SEALS, *tfjson.DERIVED))
_UNHASHED_1 = _UNHASHED - {"resource_changes"}
_DERIVED_1 = tuple(k for k in tfjson.DERIVED if k != "resource_changes")
Write = Callable[[Any], Any]


def _body(plan: Plan, settings: Mapping[str, Any] | None, provider: str) -> dict[str, Any]:
    """The document without its checksum and derived sections."""
    return {
        "provider": dict(settings or {"type": provider}),
        "format_version": tfjson.FORMAT_VERSION,
        "ipamctl_format_version": PLAN_FORMAT,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "changes": plan.has_changes,
        "summary": plan.summary(),
        "warnings": [w.to_dict() for w in plan.warnings],
        **table.encode(plan),
    }


class _Digests:
    """The checksum and (with a key) the signature, fed the same bytes in one pass."""

    def __init__(self, key: bytes | None) -> None:
        self.h = hashlib.sha256()
        self.mac = hmac.new(key, digestmod=hashlib.sha256) if key is not None else None

    def update(self, data: bytes | memoryview, /) -> None:
        self.h.update(data)
        if self.mac is not None:
            self.mac.update(data)

    def seals(self) -> dict[str, str]:
        out = {"checksum": self.h.hexdigest()}
        if self.mac is not None:
            out["signature"] = SIGNATURE + self.mac.hexdigest()
        return out


def _hashed(body: Mapping[str, Any], unhashed: frozenset[str] = _UNHASHED,
            close: bool = True) -> Iterable[bytes | memoryview]:
    """The compact, key-sorted serialization of ``body`` without its seals and derived sections
    (without its closing brace when not ``close``)."""
    return members(body, lambda k: k not in unhashed, close=close)


def _digests(body: Mapping[str, Any], key: bytes | None, unhashed: frozenset[str] = _UNHASHED) -> dict[str, str]:
    d = _Digests(key)
    for piece in _hashed(body, unhashed):
        d.update(piece)
    return d.seals()


def _checksum(body: Mapping[str, Any]) -> str:
    """SHA-256 of the compact, key-sorted serialization of ``body`` without its checksum (and signature)
    and its derived sections."""
    version = body.get("ipamctl_format_version", body.get("format_version"))
    return _digests(body, None, _UNHASHED_1 if version == "1" else _UNHASHED)["checksum"]


class Document:
    """A plan as its documents: the saved file and the printed one, from one body sealed once."""

    def __init__(self, plan: Plan, provider: str = "sandbox", settings: Mapping[str, Any] | None = None,
                 key: bytes | None = None) -> None:
        self.plan, self.key = plan, key
        self.body = _body(plan, settings, provider)
        self.seals: dict[str, str] | None = None

    def saved(self) -> bytes:
        """The saved plan file: the body's JSON and its seals, gzip-compressed as it is made."""
        digests = _Digests(self.key)
        gz = zlib.compressobj(_LEVEL, zlib.DEFLATED, 31)  # 31: a gzip container (time 0: deterministic)
        out: list[bytes] = []
        for piece in _hashed(self.body, close=False):
            digests.update(piece)
            out.append(gz.compress(piece))
        digests.update(b"}")  # the hashed bytes close here; the file's object goes on with the seals
        seals = self.seals = self.seals or digests.seals()
        tail = b"".join(b',"%s":%s' % (k.encode(), orjson.dumps(v)) for k, v in seals.items()) + b"}\n"
        out.append(gz.compress(tail))
        out.append(gz.flush())
        return b"".join(out)

    def sealed(self) -> dict[str, Any]:
        if self.seals is None:
            self.seals = _digests(self.body, self.key)
        return {**self.body, **self.seals}

    def sections(self) -> dict[str, Any]:
        return tfjson.sections(self.body["provider"], table.full_view(self.plan))

    def write_printed(self, write: Write, compact: bool) -> None:
        """What ``plan --json`` prints, written a piece at a time (indented: whole, for a terminal)."""
        _write_doc(write, {**self.sealed(), **self.sections()}, compact)

    def printed(self, compact: bool = False) -> bytes:
        out: list[bytes] = []
        self.write_printed(lambda b: out.append(bytes(b)), compact)
        return b"".join(out)


def _write_doc(write: Write, doc: Mapping[str, Any], compact: bool) -> None:
    if not compact:
        write(orjson.dumps(doc, default=view, option=_INDENTED))
        return
    for piece in members(doc, lambda k: True):
        write(piece)
    write(b"\n")


def resource_changes(plan: Plan, provider: str = "sandbox") -> list[dict[str, Any]]:
    """Shaped like ``terraform show -json``'s resource_changes, so PR-comment tools can read it."""
    return list(tfjson.resource_changes(table.full_view(plan)["change_set"], provider))


def to_document(plan: Plan, provider: str = "sandbox", settings: Mapping[str, Any] | None = None,
                key: bytes | None = None) -> dict[str, Any]:
    """The saved plan's document as plain JSON values; signed when there is a ``key``."""
    return load_document(to_json(plan, provider, settings, key))


def to_json(plan: Plan, provider: str = "sandbox", settings: Mapping[str, Any] | None = None,
            key: bytes | None = None) -> bytes:
    """The saved plan file's bytes."""
    return Document(plan, provider, settings, key).saved()


def documents(plan: Plan, provider: str = "sandbox", settings: Mapping[str, Any] | None = None,
              key: bytes | None = None, *, saved: bool = False, printed: bool = False,
              compact: bool = False) -> tuple[bytes | None, bytes | None]:
    """The saved plan file's bytes (``saved``) and the document ``plan --json`` prints (``printed``:
    with the derived sections; one line when ``compact``), from one body sealed once. (The CLI writes
    the printed one a piece at a time: :meth:`Document.write_printed`.)"""
    doc = Document(plan, provider, settings, key)
    data = doc.saved() if saved else None
    return data, doc.printed(compact) if printed else None


def load_document(data: bytes) -> dict[str, Any]:
    """A plan document's JSON object: a saved plan (gzip) uncompressed, or a printed one (JSON)."""
    if data[:2] == GZIP:
        try:
            data = zlib.decompress(data, 31)
        except zlib.error as exc:
            raise ValueError(f"damaged gzip: {exc}") from None
    body = orjson.loads(data)
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    return body


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
    plan, settings, _, _ = _read(data, path, key)
    return plan, settings


def write_terraform_json(write: Write, data: bytes, *, path: str, key: bytes | None = None,
                         compact: bool = False) -> None:
    """A saved plan (checked as :func:`read` checks it) as ``show --json PLANFILE`` prints it: the
    document with its derived sections, the bytes ``plan --json`` printed for the same plan."""
    _, _, body, derived = _read(data, path, key)
    _write_doc(write, {**body, **derived}, compact)


def terraform_json(data: bytes, *, path: str, key: bytes | None = None, compact: bool = False) -> bytes:
    out: list[bytes] = []
    write_terraform_json(lambda b: out.append(bytes(b)), data, path=path, key=key, compact=compact)
    return b"".join(out)


def _read(data: bytes, path: str, key: bytes | None) -> tuple[Plan, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The plan, its provider settings, its body and its derived sections."""
    try:
        body = load_document(data)
        # (a plan saved before format_version became Terraform's carried ipamctl's there)
        version = body["ipamctl_format_version"] if "ipamctl_format_version" in body else body.get("format_version")
        seals = _digests(body, key, _UNHASHED_1 if version == "1" else _UNHASHED)
        if body.get("checksum") != seals["checksum"]:
            raise StateError("Plan.Tampered", f"{path}: checksum mismatch: the plan file was edited or damaged; "
                             "make a new plan")
        if key is not None:
            _check_signature(body.get("signature"), seals["signature"], path)
        if version not in READ_FORMATS:
            raise StateError("Plan.UnsupportedVersion", f"{path}: plan format {version!r} is not one of "
                             f"{', '.join(READ_FORMATS)}")
        if version == "1":
            plan, values = _plan_1(body), _values_1(body)
            keys = _DERIVED_1
        else:
            expanded = table.Expanded(body)
            plan, values = table.plan_of(body, expanded), expanded.view()
            keys = tfjson.DERIVED
        settings = dict(body["provider"])
        derived = tfjson.sections(settings, values)
        if not tfjson.matches(body, derived, keys):
            raise StateError("Plan.Tampered", f"{path}: the Terraform sections (planned_values, prior_state, "
                             "configuration, ...) are not what the plan derives: they were edited; make a new plan")
    except StateError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StateError("Plan.Unreadable", f"{path}: not a plan file made by ipamctl ({exc})") from None
    return plan, settings, body, derived


def _frozen(value: dict[str, Any] | None) -> Any:
    return None if value is None else MappingProxyType(value)


def _values_1(body: Mapping[str, Any]) -> dict[str, Any]:
    return {"desired": body["desired"], "change_set": body["change_set"],
            "imported": {a["address"] for a in body["actions"] if a["action"] == Action.IMPORT._value_}}


def _plan_1(body: Mapping[str, Any]) -> Plan:
    """The plan a format-1 body holds (every record written out where it appears)."""
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
    return Plan(body["lineage"], body["serial"], actions, changes, MappingProxyType(body["desired"]),
                warnings=warnings)


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

