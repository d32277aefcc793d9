"""The recorded state: an immutable :class:`State` value, its snapshot format, and the backend interface.

A state maps resource addresses (``ipam_pool.hz``) to records::

    {"type": "ipam_pool", "name": "hz", "id": "ipam-pool-123" | None, "attributes": {...}}

Records are plain JSON-able dicts. A :class:`State` owns private copies of them (taken when a
record enters the state); callers must treat ``state.resources[addr]`` as read-only and copy it
before changing it.

``State.with_change`` is cheap (amortised O(sqrt n): resources live in a persistent
:class:`ResourceMap`), so an apply may produce a new State per recorded change. For bulk edits
without intermediate States, use :class:`StateBuilder` (O(1) per change, O(n) once at build).

Where a state is kept is the backend's business (:mod:`reconciler.states.backend` says what one
is; :mod:`reconciler.states.local` keeps it in files).
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, cast

import orjson

from reconciler.errors import StateError
from reconciler.states.snapshot import load_document, resources_checksum

FORMAT_VERSION = 1
RECORD_KEYS = ("type", "name", "id", "attributes")

_GONE: Any = object()  # marks a base key deleted in a ResourceMap delta
# Passthrough makes orjson refuse datetimes/dataclasses/str subclasses instead of converting them.
_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def canonical_bytes(value: Any) -> bytes:
    """Compact JSON with sorted keys at every level: the form checksums are taken over."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | _STRICT)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_problem(address: Any, record: Any) -> str | None:
    """Why ``record`` is not a valid record for ``address``, or None when it is."""
    if not isinstance(address, str) or "." not in address:
        return f"address {address!r} is not TYPE.NAME"
    if not isinstance(record, dict):
        return f"record is a {type(record).__name__}, not an object"
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        return f"record lacks {', '.join(missing)}"
    if not isinstance(record["type"], str) or not isinstance(record["name"], str):
        return "record type and name must be strings"
    if record["id"] is not None and not isinstance(record["id"], str):
        return "record id must be a string or null"
    if not isinstance(record["attributes"], dict):
        return "record attributes must be an object"
    if f"{record['type']}.{record['name']}" != address:
        return f"record is {record['type']}.{record['name']}, not {address}"
    return None


def _all_records_valid(resources: dict) -> bool:
    """Whether :func:`record_problem` finds nothing in any record, in one quick pass (it names the
    problem when this says no). A key of parsed JSON is a string; ``+`` refuses a type or name
    that is not one, and a lookup refuses a record that is not an object or lacks a key."""
    try:
        for address, record in resources.items():
            if record["type"] + "." + record["name"] != address or type(record["attributes"]) is not dict:
                return False
            if record["id"] is not None and type(record["id"]) is not str:
                return False
    except (KeyError, TypeError):
        return False
    return True


def own_record(address: str, record: Any) -> dict:
    """A validated private deep copy of ``record`` (JSON round trip); StateError when invalid."""
    return owned_with_bytes(address, record)[0]


def owned_with_bytes(address: str, record: Any) -> tuple[dict, bytes]:
    """:func:`own_record` and the record's canonical bytes, from ONE serialisation (for the journal)."""
    problem = record_problem(address, record)
    if problem is None:
        try:
            data = canonical_bytes(record)
            owned = orjson.loads(data)
            # orjson silently writes NaN/inf as null: a copy equal to the original has none (NaN is
            # unequal to everything, inf became None), so only an unequal one (tuples, too) is walked.
            if owned != record and _has_non_finite(record["attributes"]):
                raise TypeError("NaN and infinite floats are not JSON")
            return owned, data
        except (TypeError, orjson.JSONEncodeError) as exc:
            problem = f"record is not JSON-able: {exc}"
    raise StateError("State.InvalidRecord", problem, address=address if isinstance(address, str) else None)


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_non_finite(v) for v in value)
    return False


class ResourceMap(Mapping[str, dict]):
    """An immutable mapping whose :meth:`set` returns a new map sharing most of the old one.

    A frozen ``base`` dict plus a small ``delta`` of changes; when the delta outgrows
    ``sqrt(len(base))`` (at least 32) it is folded into a new base. Neither dict is ever mutated
    after construction, so older maps stay valid.
    """

    __slots__ = ("_base", "_delta", "_len")

    def __init__(self, base: Mapping[str, dict] | None = None):
        self._base: dict[str, dict] = dict(base or {})
        self._delta: dict[str, Any] = {}
        self._len = len(self._base)

    @classmethod
    def _make(cls, base: dict, delta: dict, length: int) -> "ResourceMap":
        new = cls.__new__(cls)
        new._base, new._delta, new._len = base, delta, length
        return new

    def set(self, key: str, value: dict | None) -> "ResourceMap":
        """A new map with ``key`` set to ``value``, or removed when ``value`` is None."""
        length = self._len - (key in self) + (value is not None)
        delta = dict(self._delta)
        if value is not None:
            delta[key] = value
        elif key in self._base:
            delta[key] = _GONE
        else:
            delta.pop(key, None)
        if len(delta) <= max(32, math.isqrt(len(self._base))):
            return self._make(self._base, delta, length)
        base = dict(self._base)
        for k, v in delta.items():
            if v is _GONE:
                del base[k]
            else:
                base[k] = v
        return self._make(base, {}, length)

    def __getitem__(self, key: str) -> dict:
        value = self._delta.get(key, self._base.get(key, _GONE)) if self._delta else self._base[key]
        if value is _GONE:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        if key in self._delta:
            return self._delta[key] is not _GONE
        return key in self._base

    def __iter__(self) -> Iterator[str]:
        delta = self._delta
        for key in self._base:
            if key not in delta:
                yield key
        for key, value in delta.items():
            if value is not _GONE:
                yield key

    def __len__(self) -> int:
        return self._len

    def to_dict(self) -> dict[str, dict]:
        """A plain dict of the same items (a copy: neither of the map's dicts is ever handed out)."""
        if not self._delta:
            return dict(self._base)
        return {key: self[key] for key in self}

    def __repr__(self) -> str:
        return f"ResourceMap(<{self._len} resources>)"


@dataclass(frozen=True, eq=True, repr=False)
class State:
    """One version of the recorded state. Immutable: every change returns a new State."""

    lineage: str
    serial: int
    resources: Mapping[str, dict]
    format_version: int = FORMAT_VERSION
    # whether the lineage is kept anywhere (a snapshot, the workspace's lineage file): False only for
    # State.empty(), whose lineage is new on every read until something keeps it
    lineage_kept: bool = field(default=True, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.resources, ResourceMap):
            owned = {addr: own_record(addr, rec) for addr, rec in self.resources.items()}
            object.__setattr__(self, "resources", ResourceMap(owned))

    @staticmethod
    def empty() -> "State":
        """A new state: random lineage (kept nowhere yet), serial 0, no resources."""
        return State(str(uuid.uuid4()), 0, ResourceMap(), lineage_kept=False)

    def with_change(self, address: str, record: dict | None) -> "State":
        """A new State with ``record`` at ``address`` (removed when None) and serial + 1."""
        return self.with_owned(address, None if record is None else own_record(address, record))

    def with_owned(self, address: str, owned: dict | None) -> "State":
        """:meth:`with_change` for a record that is already a private, valid copy (:func:`owned_with_bytes`)."""
        assert isinstance(self.resources, ResourceMap)
        return State(self.lineage, self.serial + 1, self.resources.set(address, owned), self.format_version)

    def resources_dict(self) -> dict[str, dict]:
        return cast(ResourceMap, self.resources).to_dict()  # always one (__post_init__)

    def checksum(self) -> str:
        """sha256 hex of the canonical (compact, sorted keys) serialisation of the resources."""
        return sha256_hex(canonical_bytes(self.resources_dict()))

    def to_json_bytes(self) -> bytes:
        """The snapshot file content: deterministic JSON (sorted keys, indent 2, final newline)."""
        resources = self.resources_dict()
        doc = {
            "format_version": self.format_version,
            "lineage": self.lineage,
            "serial": self.serial,
            "resources": resources,
            "checksum": sha256_hex(canonical_bytes(resources)),
        }
        return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | _STRICT)

    def __repr__(self) -> str:
        return f"State(lineage={self.lineage!r}, serial={self.serial}, resources=<{len(self.resources)}>)"


def parse_state(data: bytes) -> State:
    """Parse and verify snapshot bytes.

    Raises ``ValueError`` describing the damage (the caller turns it into ``State.Corrupt``
    naming the file), or StateError("State.UnsupportedVersion") for a newer format.
    """
    try:
        doc = load_document(data)  # orjson.loads(data), without its whole-document buffer
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"it is not valid JSON ({exc}; {len(data)} bytes)") from None
    if not isinstance(doc, dict):
        raise ValueError("it is not a JSON object")
    version = doc.get("format_version")
    if type(version) is not int or version < 1:
        raise ValueError(f"format_version is {version!r}, not a positive integer")
    if version > FORMAT_VERSION:
        raise StateError(
            "State.UnsupportedVersion",
            f"the state has format_version {version}, this ipamctl reads up to {FORMAT_VERSION}; "
            "use a newer ipamctl (the file is left untouched)",
        )
    lineage, serial, resources, checksum = (doc.get(k) for k in ("lineage", "serial", "resources", "checksum"))
    if not isinstance(lineage, str) or not lineage:
        raise ValueError("lineage is missing or not a string")
    if type(serial) is not int or serial < 0:
        raise ValueError(f"serial is {serial!r}, not a non-negative integer")
    if not isinstance(resources, dict):
        raise ValueError("resources is missing or not an object")
    if not isinstance(checksum, str):
        raise ValueError("checksum is missing")
    actual = resources_checksum(resources)  # sha256_hex(canonical_bytes(resources)), a chunk at a time
    if actual != checksum:
        raise ValueError(f"checksum mismatch (file says {checksum[:12]}..., content hashes to {actual[:12]}...)")
    if not _all_records_valid(resources):
        for address, record in resources.items():
            problem = record_problem(address, record)
            if problem:
                raise ValueError(f"resource {address!r}: {problem}")
    return State(lineage, serial, ResourceMap._make(resources, {}, len(resources)), version)  # parsed: ours


class StateBuilder:
    """Mutable accumulator of changes over a base State; O(1) per change, O(n) at start and build."""

    def __init__(self, base: State):
        self.lineage = base.lineage
        self.serial = base.serial
        self.format_version = base.format_version
        self._resources: dict[str, dict] = base.resources_dict()

    def set(self, address: str, record: dict | None, *, owned: bool = False) -> int:
        """Record one change (None removes); returns the new serial. ``owned`` skips the copy."""
        if record is None:
            self._resources.pop(address, None)
        else:
            self._resources[address] = record if owned else own_record(address, record)
        self.serial += 1
        return self.serial

    def __len__(self) -> int:
        return len(self._resources)

    def build(self) -> State:
        return State(self.lineage, self.serial, ResourceMap(self._resources), self.format_version)
