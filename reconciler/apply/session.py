"""One ``apply`` of a workspace, start to end: the lock, recovery of an interrupted apply, the saved
plan (read and checked against the state), the state transaction, the intent window, the commit.

The caller (the CLI) plans, asks for approval and renders; this module prints nothing. Progress is
reported through ``on_step(action, what)`` callbacks (``what`` is "start", "done" or "failed") and,
for the apply itself, an :class:`ApplyProgress` the caller opens.
"""

from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Iterator, Mapping, Protocol

from reconciler import faults
from reconciler.apply.execute import ApplyResult, apply_plan
from reconciler.apply.recovery import RecoveryReport, recover
from reconciler.errors import StateError
from reconciler.plans import planfile
from reconciler.plans.order import Plan, PlannedAction
from reconciler.providers.alibaba import ApiProvider
from reconciler.states.backend import StateBackend
from reconciler.states.state import State
from reconciler.states.transaction import StateTransaction

OnStep = Callable[[PlannedAction, str], None]


class ApplyWorkspace(Protocol):
    """What an apply needs of the workspace (:class:`reconciler.workspace.Workspace`, a later stage)."""

    def backend(self) -> StateBackend: ...
    def provider(self, settings: Mapping) -> ApiProvider: ...


class ApplyProgress(Protocol):
    """What an apply reports to, open (a context) from just after the transaction begins to just
    before it ends: ``step`` for each action's calls, ``saving`` once they are made."""

    step: OnStep

    def saving(self) -> None: ...


@dataclass(frozen=True)
class SavedPlan:
    plan: Plan
    state: State  # the state the plan was checked against
    settings: dict  # the provider settings the plan was made with


@dataclass(frozen=True)
class ApplyOutcome:
    result: ApplyResult
    final: State  # the state committed (or, when it could not be written, the one the journal holds)
    unwritten: StateError | None = None  # why the snapshot could not be written (the journal keeps the changes)


PLAN_KEY = "IPAMCTL_PLAN_KEY"


def plan_key() -> bytes | None:
    """The key saved plans are signed with and checked against (``IPAMCTL_PLAN_KEY``), or None: then
    plans are saved unsigned and read without checking a signature. Set but empty is refused, so that
    a key that failed to arrive (an unset CI secret) does not silently turn signing off."""
    value = os.environ.get(PLAN_KEY)
    if value is None:
        return None
    if not value:
        raise StateError("Plan.EmptyKey", f"{PLAN_KEY} is set but empty: set it to the key saved plans are "
                         "signed with, or unset it to save and apply plans unsigned")
    return value.encode("utf-8", "surrogateescape")


def intent_window() -> int | None:
    """Calls whose intents share one fsync: ``IPAM_INTENT_WINDOW`` (1 = an fsync before every call), else adaptive."""
    value = os.environ.get("IPAM_INTENT_WINDOW", "")
    return max(1, int(value)) if value.isdigit() else None


@contextmanager
def apply_session(ws: ApplyWorkspace, lock_timeout: float = 0.0) -> Iterator["ApplySession"]:
    """The workspace locked for an apply (``lock_timeout`` seconds to wait for the lock)."""
    backend = ws.backend()
    with backend.lock("apply", timeout=lock_timeout):
        yield ApplySession(ws, backend)


class ApplySession:
    """The steps of an apply, in order, under the lock: :meth:`recover`, then a plan (:meth:`read_plan`
    or the caller's), then :meth:`apply` (changes) or :meth:`settle` (none)."""

    def __init__(self, ws: ApplyWorkspace, backend: StateBackend) -> None:
        self.ws, self.backend = ws, backend

    def in_flight(self) -> bool:
        """An interrupted apply left calls in flight (:meth:`recover` re-issues them)."""
        return bool(self.backend.pending_intents())

    def recover(self, on_step: OnStep | None = None) -> RecoveryReport:
        """Re-issue and record what an interrupted apply left in flight. The report's ``error`` says
        when that could not finish (then nothing new may be planned)."""
        return recover(self.backend, lambda settings: faults.wrap_provider(self.ws.provider(settings)), on_step)

    def read_plan(self, path: str, lineage_of: Callable[[State], str | None]) -> SavedPlan:
        """The plan saved in ``path``, checked to apply to the recorded state as it is now.

        ``lineage_of``: the lineage a plan made against a state carries (the workspace's
        ``plan_lineage``; the workspace is a later stage than this one). A plan applies only where
        its lineage is the workspace's (a plan bound to none applies nowhere), and with
        ``IPAMCTL_PLAN_KEY`` set only when signed with that key."""
        key = plan_key()
        state = self.backend.read()
        data: bytes | None = Path(path).read_bytes() if Path(path).is_file() else None
        if data is None:
            raise StateError("Plan.NotFound", f"{path}: no such plan file")
        plan, settings = planfile.from_json(data, path=path, lineage=lineage_of(state), serial=state.serial, key=key)
        del data  # a large plan file's text is not kept through the apply
        if plan.lineage is None:
            raise planfile.unbound(path)
        return SavedPlan(plan, state, settings)

    def settle(self, state: State) -> None:
        """No changes to make: fold what a killed apply recorded in the journal into the snapshot."""
        if self.backend.has_journal():
            with self.backend.transaction(state):
                pass

    def apply(self, plan: Plan, state: State, settings: dict,
              progress: Callable[[], ContextManager[ApplyProgress]]) -> ApplyOutcome:
        """Carry out ``plan`` (made against ``state``) through one state transaction, and commit it;
        ``progress()`` is opened inside the transaction (closed before it is)."""
        # the plan and the state live to the end: out of the collector's passes, which run (rarely)
        # through the apply's loop of calls
        gc.freeze()
        gc.set_threshold(200_000, 1000, 1000)
        gc.enable()
        provider = faults.wrap_provider(self.ws.provider(settings))
        try:
            txn = self.backend.transaction(state)
            with txn, progress() as bar:  # an escaping exception still commits what was recorded
                result = apply_plan(plan, provider, txn, state, bar.step, provider_settings=settings,
                                    window=intent_window())
                bar.saving()
                final, unwritten = _commit(txn)
        finally:
            provider.close()
        return ApplyOutcome(result, final, unwritten)


def _commit(txn: StateTransaction) -> tuple[State, StateError | None]:
    """Commit; when the snapshot cannot be written, the error (the journal keeps the changes)."""
    try:
        return txn.commit(), None
    except StateError as exc:
        txn.close()
        return txn.state, exc
