"""What a state backend is: where a workspace's state is kept, how an apply records into it, and its lock.

The local file backend (:mod:`reconciler.states.local`) implements it today; any other (a database
shared by many runners) implements the same two protocols.
"""

from __future__ import annotations

from typing import ContextManager, Protocol, runtime_checkable

from reconciler.states.lock import LockInfo
from reconciler.states.state import State


@runtime_checkable
class Transaction(Protocol):
    """Records the changes of one apply, each durably before ``record`` returns."""

    def record(self, address: str, record: dict | None) -> State: ...
    def commit(self) -> State: ...
    def __enter__(self) -> "Transaction": ...
    def __exit__(self, *exc: object) -> bool | None: ...


@runtime_checkable
class StateBackend(Protocol):
    """Where a workspace's state is kept, and its lock. Every failure is a StateError."""

    def read(self) -> State: ...
    def write(self, state: State) -> None: ...
    def transaction(self, base: State) -> Transaction: ...
    def lock(self, command: str, timeout: float = 0.0) -> ContextManager[LockInfo]: ...
    def lock_info(self) -> LockInfo | None: ...
    def force_unlock(self, lock_id: str) -> None: ...
