"""Drift: how the cloud differs from the recorded state. Pure: ``drift(recorded, observed, ignore)``.

Three categories, each item silenced when a ``.driftignore`` pattern matches it:

* **changed**: a resource of the state whose attributes differ from what the cloud holds (a
  secondary CIDR associated out of band, a prefix unassigned, a pool CIDR added...). Only records
  that differ are compared in detail (deepdiff), attribute by attribute; list attributes say which
  items were added and removed.
* **missing**: a resource of the state the cloud no longer has.
* **unmanaged**: something in the cloud no state record holds (VPCs, vSwitches, ENIs, custom
  allocations... created out of band).

ENIs that a cloud service manages (ServiceManaged) are listed apart, as ``service_managed``: they are
reported, never proposed for change, and are not drift.

``.driftignore``: one pattern a line, ``#`` starts a comment; a pattern is a resource address
(``vpc.legacy``), a resource id (``vpc-2ze...``), or a glob over either (``eni.*``, ``vsw-*``).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Iterable, Mapping

import orjson

from reconciler.net.address import dependency_order
from reconciler.providers.alibaba_read import Observed, Unmanaged

IGNORE_FILE = ".driftignore"


@dataclass(frozen=True)
class AttributeDrift:
    attribute: str
    recorded: Any
    observed: Any
    added: tuple = ()  # list attributes: items the cloud has and the state does not
    removed: tuple = ()  # ... and items the state has and the cloud does not

    def to_dict(self) -> dict:
        return {"attribute": self.attribute, "recorded": self.recorded, "observed": self.observed,
                "added": list(self.added), "removed": list(self.removed)}


@dataclass(frozen=True)
class Changed:
    address: str
    type: str
    id: str
    attributes: tuple[AttributeDrift, ...]

    def to_dict(self) -> dict:
        return {"address": self.address, "type": self.type, "id": self.id,
                "attributes": [a.to_dict() for a in self.attributes]}


@dataclass(frozen=True)
class Missing:
    address: str
    type: str
    id: str

    def to_dict(self) -> dict:
        return {"address": self.address, "type": self.type, "id": self.id}


@dataclass(frozen=True)
class DriftReport:
    changed: tuple[Changed, ...]
    missing: tuple[Missing, ...]
    unmanaged: tuple[Unmanaged, ...]
    service_managed: tuple[Unmanaged, ...]
    ignored: tuple[str, ...]  # addresses and ids silenced by .driftignore
    regions: tuple[str, ...]
    # in the cloud, not in this state, but recorded by another workspace of the shared backend: not drift
    elsewhere: tuple[tuple[Unmanaged, str], ...] = ()

    @property
    def has_drift(self) -> bool:
        return bool(self.changed or self.missing or self.unmanaged)

    def to_dict(self) -> dict:
        return {"drift": self.has_drift, "regions": list(self.regions),
                "changed": [c.to_dict() for c in self.changed], "missing": [m.to_dict() for m in self.missing],
                "unmanaged": [u.to_dict() for u in self.unmanaged],
                "service_managed": [u.to_dict() for u in self.service_managed],
                "ignored": list(self.ignored),
                "other_workspaces": [{**u.to_dict(), "workspace": w} for u, w in self.elsewhere],
                "summary": {"changed": len(self.changed), "missing": len(self.missing),
                            "unmanaged": len(self.unmanaged), "service_managed": len(self.service_managed),
                            "ignored": len(self.ignored), "other_workspaces": len(self.elsewhere)}}


def parse_ignore(text: str) -> tuple[str, ...]:
    """The patterns of a ``.driftignore`` file."""
    out = []
    for line in text.splitlines():
        pattern = line.split("#", 1)[0].strip()
        if pattern:
            out.append(pattern)
    return tuple(out)


def _ignored(patterns: Iterable[str], *keys: str | None) -> bool:
    return any(fnmatchcase(k, p) for p in patterns for k in keys if k)


def _key(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def attribute_drift(recorded: Mapping, observed: Mapping) -> tuple[AttributeDrift, ...]:
    """Attribute by attribute, what differs between two attribute maps (deepdiff finds the keys)."""
    from deepdiff import DeepDiff  # only drift needs it: not imported by every run

    keys = sorted(DeepDiff(dict(recorded), dict(observed), verbose_level=0).affected_root_keys)
    out = []
    for key in keys:
        was, now = recorded.get(key), observed.get(key)
        added = removed = ()
        if isinstance(was, list) and isinstance(now, list):
            have = {_key(v) for v in was}
            seen = {_key(v) for v in now}
            added = tuple(v for v in now if _key(v) not in have)
            removed = tuple(v for v in was if _key(v) not in seen)
        out.append(AttributeDrift(str(key), was, now, added, removed))
    return tuple(out)


def drift(recorded: Mapping[str, dict], observed: Observed, ignore: Iterable[str] = (),
          others: Mapping[str, str] | None = None) -> DriftReport:
    """Changed, missing and unmanaged resources, less what ``ignore`` (patterns) silences; ``others``
    (cloud id -> workspace) holds what other workspaces of the shared backend record."""
    others = others or {}
    elsewhere = []
    patterns = tuple(ignore)
    changed, missing, ignored = [], [], []
    for address in sorted(recorded, key=dependency_order):
        rec = recorded[address]
        rid = rec.get("id")
        if not rid:
            continue  # never created: nothing to compare
        now = observed.resources.get(address)
        if now is not None and now.get("attributes") == rec.get("attributes"):
            continue
        if _ignored(patterns, address, rid):
            ignored.append(address)
            continue
        if now is None:
            missing.append(Missing(address, rec["type"], rid))
        else:
            changed.append(Changed(address, rec["type"], rid, attribute_drift(rec["attributes"], now["attributes"])))
    unmanaged, service = [], []
    for item in observed.unmanaged:
        if _ignored(patterns, item.id):
            ignored.append(item.id)
        elif item.service_managed:
            service.append(item)
        elif item.id in others:
            elsewhere.append((item, others[item.id]))
        else:
            unmanaged.append(item)
    return DriftReport(tuple(changed), tuple(missing), tuple(unmanaged), tuple(service), tuple(ignored),
                       tuple(observed.regions), tuple(elsewhere))


def other_workspaces_ids(backend: object) -> dict[str, str]:
    """Cloud id -> workspace, of every resource the other workspaces of a shared backend record (their
    newest states); nothing for the local backend, which holds one workspace."""
    names, peer = getattr(backend, "workspaces", None), getattr(backend, "peer", None)
    if names is None or peer is None:
        return {}
    me = getattr(backend, "workspace", None)
    out: dict[str, str] = {}
    for w in names():
        if w != me:
            for rec in peer(w).read().resources.values():
                if rec.get("id"):
                    out.setdefault(rec["id"], w)
    return out
