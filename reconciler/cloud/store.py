"""SQLite persistence of the sandbox cloud, with the whole model held in memory.

Schema: ``resources(id PRIMARY KEY, kind, data JSON)``, ``tokens(action, token, response)`` keyed
on (action, token), and ``meta(key PRIMARY KEY, value)`` (the id sequence number). The database is
in WAL mode; everything is loaded on open.

Each resource is a plain dict in the API's own key names plus three internal keys: ``_kind``,
``_id`` and ``_seq`` (creation order). A dict that is in the store is never changed in place:
writers build a new dict (:func:`changed`) and :meth:`Store.put` it, so the undo log can hold the
old one.

A call runs between :meth:`Store.begin` and :meth:`Store.commit` or :meth:`Store.rollback`. Every
put/delete goes to an undo log and a dirty set; commit writes only the dirty rows (plus the token
and the sequence number) in ONE SQLite transaction, rollback restores memory from the undo log.
So a failed, dry-run or crashed call changes nothing.

Other processes may write the same database (``ipamctl sandbox call`` beside a served sandbox):
:meth:`Store.data_version` tells whether another connection committed since, and a store given an
``expect_version`` refuses to commit over such a change (``OperationConflict``, rolled back) rather
than write rows and a sequence number computed from a stale copy. Unset (the default), a commit
writes whatever it holds, as before.

Indexes, so no call scans all resources of a kind: each kind registers (:func:`register_kind`)
named secondary indexes (key functions; a None key is not indexed) and a ``spaces`` function giving
the address ranges the resource takes under which keys (see :mod:`reconciler.cloud.space`).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, TypeAlias

from urllib.parse import quote

import orjson

from reconciler.cloud.space import EMPTY, IntervalSet
from reconciler.errors import CloudError
from reconciler.net.cidr import Cidr

# A resource in the API's key names plus ``_kind``, ``_id`` and ``_seq``; kinds differ in their keys.
Resource: TypeAlias = dict[str, Any]
IndexFn: TypeAlias = Callable[[Resource], object]
SpacesFn: TypeAlias = Callable[[Resource], Iterable[tuple[tuple, Cidr]]]


@dataclass
class KindSpec:
    indexes: dict[str, IndexFn] = field(default_factory=dict)
    spaces: SpacesFn | None = None


KINDS: dict[str, KindSpec] = {}


def register_kind(kind: str, *, indexes: dict[str, IndexFn] | None = None,
                  spaces: SpacesFn | None = None) -> None:
    """Declare a resource kind's secondary indexes and address spaces (once, at import)."""
    KINDS[kind] = KindSpec(dict(indexes or {}), spaces)


def changed(res: Resource, **fields: Any) -> Resource:
    """A copy of ``res`` with ``fields`` replaced: what a writer puts back."""
    new = dict(res)
    new.update(fields)
    return new


def public(res: Resource) -> dict[str, Any]:
    """The resource without its internal keys."""
    return {k: v for k, v in res.items() if not k.startswith("_")}


SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (id TEXT PRIMARY KEY, kind TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (action TEXT NOT NULL, token TEXT NOT NULL, response TEXT NOT NULL,
                                   PRIMARY KEY (action, token));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class ReadOnlyPath(os.PathLike):
    """A sandbox database path to open for reading only (:func:`read_only`)."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)

    def __fspath__(self) -> str:
        return self.path


def read_only(path: str | os.PathLike) -> ReadOnlyPath:
    """``path`` marked to be opened read-only: ``Store(read_only(path))`` opens the database with
    SQLite's ``mode=ro`` (nothing is created or written: no schema, no journal-mode change), and,
    when even that needs a write (a WAL database whose ``-shm`` file cannot be created because the
    folder is read-only), as ``immutable=1``. Read-only commands (plan, drift, report) so work on a
    read-only workspace; a write through such a store is refused (``Sandbox.WriteFailed``)."""
    return ReadOnlyPath(path)


def _connect(path: str | None, read_only: bool, immutable: bool = False) -> sqlite3.Connection:
    if path is None:
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        conn.executescript(SCHEMA)
        return conn
    if read_only:
        uri = f"file:{quote(os.path.abspath(path))}?{'immutable=1' if immutable else 'mode=ro'}"
        return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    # A checkpoint (copy the WAL into the database, fdatasync it) every 40 MB of WAL rather than
    # every 4 MB: an apply commits one small transaction per call, tens of thousands of them.
    conn.execute("PRAGMA wal_autocheckpoint=10000")
    conn.executescript(SCHEMA)
    return conn


def sandbox_error(path: str | None, exc: sqlite3.Error, doing: str) -> CloudError:
    """The sandbox database failed: ``Sandbox.Damaged`` (not a sandbox database), ``Sandbox.StorageFull``
    (the disk is full) or ``Sandbox.WriteFailed`` / ``Sandbox.OpenFailed`` (anything else). A failed
    write changed nothing (the call was rolled back), so it is a refusal (400), not a call in doubt."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    where = path or "the in-memory sandbox"
    if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or name.startswith("SQLITE_CORRUPT") \
            or "not a database" in str(exc) or "malformed" in str(exc):
        return CloudError("Sandbox.Damaged", f"{where} is not a readable sandbox database ({exc}); move it aside "
                          "to start from an empty sandbox, or check the provider's path", http_status=500)
    if name == "SQLITE_FULL" or "disk is full" in str(exc):
        return CloudError("Sandbox.StorageFull", f"cannot {doing} {where}: the disk is full; the call was rolled "
                          "back and changed nothing. Free some space and run the command again")
    code = "Sandbox.WriteFailed" if doing == "write" else "Sandbox.OpenFailed"
    return CloudError(code, f"cannot {doing} {where}: {exc}" + ("; the call was rolled back and changed nothing"
                                                                  if doing == "write" else ""))


class Store:
    def __init__(self, path: str | os.PathLike | None = None):
        self.read_only = isinstance(path, ReadOnlyPath)
        self.path = None if path is None else os.fspath(path)
        try:
            # Read-only, a database without a -wal file is whole in its main file (the last writer
            # checkpointed it as it closed): read it as it is (immutable), which creates nothing beside
            # it. With a -wal file (an apply running, or one killed), mode=ro reads through the WAL.
            whole = self.read_only and self.path is not None and not os.path.exists(self.path + "-wal")
            try:
                self.conn = _connect(self.path, self.read_only, immutable=whole)
                row = self.conn.execute("SELECT value FROM meta WHERE key='seq'").fetchone()
            except sqlite3.OperationalError:
                if not self.read_only or whole:
                    raise
                self.conn.close()  # mode=ro needs to create the -shm file: read the file as it is
                self.conn = _connect(self.path, self.read_only, immutable=True)
                row = self.conn.execute("SELECT value FROM meta WHERE key='seq'").fetchone()
            rows = self.conn.execute("SELECT id, kind, data FROM resources ORDER BY rowid").fetchall()
        except sqlite3.Error as exc:
            raise sandbox_error(self.path, exc, "open") from None
        self._res: dict[str, Resource] = {}
        self._by_kind: dict[str, dict[str, Resource]] = {}
        self._index: dict[tuple[str, str], dict[object, dict[str, None]]] = {}
        self._spaces: dict[tuple, IntervalSet] = {}
        self._undo: list[tuple[str, Resource | None]] | None = None
        self._dirty: dict[str, None] = {}
        self.generation = 0  # bumped on every change in memory (rollbacks too): a key for derived views
        self.expect_version: int | None = None  # see data_version(): commit only over this version
        self.seq = int(row[0]) if row else 0
        self._seq_at_begin = self.seq
        for _id, _kind, data in rows:
            self._link(orjson.loads(data))

    # ---- reads --------------------------------------------------------------------------
    def get(self, kind: str, rid: str | None) -> Resource | None:
        res = self._res.get(rid) if rid else None
        return res if res is not None and res["_kind"] == kind else None

    def all(self, kind: str) -> list[Resource]:
        return sorted(self._by_kind.get(kind, {}).values(), key=_seq)

    def find(self, kind: str, index: str, key: object) -> list[Resource]:
        ids = self._index.get((kind, index), {}).get(key, {})
        return sorted((self._res[i] for i in ids), key=_seq)

    def pick(self, kind: str, ids: Iterable[str]) -> list[Resource]:
        """The resources of ``kind`` among ``ids`` that exist, in creation order."""
        found = (self.get(kind, i) for i in dict.fromkeys(ids))
        return sorted((r for r in found if r is not None), key=_seq)

    def count(self, kind: str, index: str, key: object) -> int:
        return len(self._index.get((kind, index), {}).get(key, {}))

    def space(self, *key) -> IntervalSet:
        return self._spaces.get(tuple(key), EMPTY)

    def token(self, action: str, token: str) -> dict | None:
        row = self.conn.execute(
            "SELECT response FROM tokens WHERE action=? AND token=?", (action, token)
        ).fetchone()
        return orjson.loads(row[0]) if row else None

    # ---- writes (inside begin/commit) ---------------------------------------------------
    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def put(self, res: Resource) -> None:
        rid = res["_id"]
        old = self._res.get(rid)
        assert old is not res, f"{rid} was changed in place; put a copy (changed())"
        self._log(rid, old)
        if old is None:
            self._link(res)
        elif old["_kind"] != res["_kind"]:
            self._unlink(old)
            self._link(res)
        else:
            self._relink(old, res)

    def delete(self, res: Resource) -> None:
        rid = res["_id"]
        old = self._res.get(rid)
        if old is None:
            return
        self._log(rid, old)
        self._unlink(old)

    def begin(self) -> None:
        self._undo, self._dirty, self._seq_at_begin = [], {}, self.seq

    def rollback(self) -> None:
        for rid, old in reversed(self._undo or []):
            cur = self._res.get(rid)
            if cur is not None:
                self._unlink(cur)
            if old is not None:
                self._link(old)
        self.seq = self._seq_at_begin
        self._undo, self._dirty = None, {}

    def commit(self, token: tuple[str, str, dict | str] | None = None) -> None:
        """Write the dirty rows, the sequence number and the token record in one transaction (the
        response as a dict, or already as its JSON text)."""
        cur = self.conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            if self.expect_version is not None and self.data_version() != self.expect_version:
                raise CloudError("OperationConflict", "another process changed the sandbox database during "
                                 "the call; the call was rolled back and changed nothing. Try it again")
            for rid in self._dirty:
                res = self._res.get(rid)
                if res is None:
                    cur.execute("DELETE FROM resources WHERE id=?", (rid,))
                else:
                    cur.execute(
                        "INSERT INTO resources(id, kind, data) VALUES (?, ?, ?) "
                        "ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, data=excluded.data",
                        (rid, res["_kind"], orjson.dumps(res).decode()),
                    )
            if self.seq != self._seq_at_begin:
                cur.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('seq', ?)", (str(self.seq),))
            if token is not None:
                action, tok, response = token
                text = response if isinstance(response, str) else orjson.dumps(response).decode()
                cur.execute("INSERT OR REPLACE INTO tokens(action, token, response) VALUES (?, ?, ?)",
                            (action, tok, text))
            cur.execute("COMMIT")
        except BaseException as exc:
            try:
                if self.conn.in_transaction:
                    cur.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite has rolled it back itself (a full disk does)
            self.rollback()
            if isinstance(exc, sqlite3.Error):
                raise sandbox_error(self.path, exc, "write") from None
            raise
        self._undo, self._dirty = None, {}

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version``: it changes when another connection commits (never for
        this store's own commits), so an unchanged value means the copy in memory is current."""
        try:
            return int(self.conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error as exc:
            raise sandbox_error(self.path, exc, "open") from None

    def close(self) -> None:
        self.conn.close()

    # ---- internals ----------------------------------------------------------------------
    def _log(self, rid: str, old: Resource | None) -> None:
        if self._undo is None:
            raise RuntimeError("store write outside begin()/commit()")
        self._undo.append((rid, old))
        self._dirty[rid] = None

    def _link(self, res: Resource) -> None:
        self.generation += 1
        rid, kind = res["_id"], res["_kind"]
        self._res[rid] = res
        self._by_kind.setdefault(kind, {})[rid] = res
        spec = KINDS.get(kind)
        if spec is None:
            return
        for name, fn in spec.indexes.items():
            key = fn(res)
            if key is not None:
                self._index.setdefault((kind, name), {}).setdefault(key, {})[rid] = None
        if spec.spaces is not None:
            for key, cidr in spec.spaces(res):
                self._spaces.setdefault(key, IntervalSet()).add(cidr.start, cidr.end, rid)

    def _relink(self, old: Resource, new: Resource) -> None:
        """``_unlink(old)`` then ``_link(new)`` (same id and kind), touching only the index entries and
        address ranges that differ: an ENI given one more address re-adds that one, not all of them."""
        self.generation += 2
        rid, kind = new["_id"], new["_kind"]
        self._res[rid] = new
        self._by_kind[kind][rid] = new
        spec = KINDS.get(kind)
        if spec is None:
            return
        for name, fn in spec.indexes.items():
            was, now = fn(old), fn(new)
            if was == now:
                continue
            if was is not None:
                bucket = self._index[(kind, name)][was]
                del bucket[rid]
                if not bucket:
                    del self._index[(kind, name)][was]
            if now is not None:
                self._index.setdefault((kind, name), {}).setdefault(now, {})[rid] = None
        if spec.spaces is not None:
            before, after = list(spec.spaces(old)), list(spec.spaces(new))
            if before == after:
                return
            kept = set(before) & set(after)
            for key, cidr in before:
                if (key, cidr) not in kept:
                    self._spaces[key].remove(cidr.start, rid)
            for key, cidr in after:
                if (key, cidr) not in kept:
                    self._spaces.setdefault(key, IntervalSet()).add(cidr.start, cidr.end, rid)

    def _unlink(self, res: Resource) -> None:
        self.generation += 1
        rid, kind = res["_id"], res["_kind"]
        del self._res[rid]
        del self._by_kind[kind][rid]
        spec = KINDS.get(kind)
        if spec is None:
            return
        for name, fn in spec.indexes.items():
            key = fn(res)
            if key is not None:
                bucket = self._index[(kind, name)][key]
                del bucket[rid]
                if not bucket:
                    del self._index[(kind, name)][key]
        if spec.spaces is not None:
            for key, cidr in spec.spaces(res):
                self._spaces[key].remove(cidr.start, rid)


def _seq(res: Resource) -> int:
    return res["_seq"]
