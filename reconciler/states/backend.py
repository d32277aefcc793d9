"""What a state backend is: where a workspace's state is kept, how an apply records into it, and its lock.

Two backends implement it: local files (:mod:`reconciler.states.local`, the default) and PostgreSQL
(:mod:`reconciler.states.postgres`, a database shared by many runners). Callers outside ``states/``
use only what the protocols below name, so that either backend can stand behind every command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ContextManager, Protocol, runtime_checkable

from reconciler.states.history import HistoryStore
from reconciler.states.journal import Intent
from reconciler.states.lock import LockInfo, LockStatus
from reconciler.states.state import State
from reconciler.states.transaction import StateTransaction


@runtime_checkable
class Transaction(Protocol):
    """Records the changes of one apply, each durably before ``record`` returns."""

    def record(self, address: str, record: dict | None) -> State: ...
    def commit(self) -> State: ...
    def __enter__(self) -> "Transaction": ...
    def __exit__(self, *exc: object) -> bool | None: ...


@dataclass(frozen=True)
class StateVersion:
    """One kept version of the state (``ipamctl state history``)."""

    serial: int
    lineage: str
    created: str | None  # ISO 8601 UTC, when it was written (None: not known)
    resources: int  # how many resources it records
    checksum: str  # sha256 of its resources, as in the snapshot
    current: bool = False  # the version ``read()`` starts from
    version: int | None = None  # the backend's own number for it, where it keeps one (postgres)


@runtime_checkable
class StateBackend(Protocol):
    """Where a workspace's state is kept, and its lock. Every failure is a StateError."""

    @property
    def description(self) -> str:
        """Where the state is, for messages ("state/ in /ws", "postgres workspace prod")."""
        ...

    def read(self) -> State: ...
    def read_with_intents(self) -> tuple[State, list[Intent]]: ...
    def pending_intents(self) -> list[Intent]: ...
    def has_journal(self) -> bool:
        """Whether anything (changes, intents) is recorded outside the snapshot."""
        ...

    def has_snapshot(self) -> bool: ...
    def write(self, state: State, *, keep_intents: list[Intent] | None = None) -> None: ...
    def transaction(self, base: State) -> StateTransaction: ...
    def fix_lineage(self) -> str: ...
    def versions(self) -> list[StateVersion]:
        """Every kept version, oldest first."""
        ...

    def read_version(self, serial: int) -> State:
        """The kept version with ``serial`` (the newest such, after a forced push); State.NoSuchVersion."""
        ...

    def written_at(self) -> str | None:
        """When the newest state was written (ISO 8601 UTC), or None when none is."""
        ...

    def history(self) -> HistoryStore:
        """The monitoring history of this workspace (:mod:`reconciler.states.history`)."""
        ...

    def lock(self, command: str, timeout: float = 0.0) -> ContextManager[LockInfo]: ...
    def lock_info(self) -> LockInfo | None: ...
    def lock_status(self) -> LockStatus | None: ...
    def force_unlock(self, lock_id: str) -> None: ...
