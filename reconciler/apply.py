"""Apply: carry out a plan's actions in order through a provider, recording every completed step.

Each completed action is recorded durably (through the state transaction's journal) before the
next one starts, so an interruption or a refused call leaves a state that says exactly what
exists; running apply again converges. Apply stops at the first refused call.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

from .errors import CloudError, ReconcilerError
from .eni_limits import MAX_ITEMS_PER_CALL
from .plan import Action, Plan, PlannedAction
from .providers.alibaba import PartialStep
from .state import State


@dataclass(frozen=True)
class ApplyResult:
    state: State
    done: tuple[PlannedAction, ...]
    failed: PlannedAction | None = None
    error: ReconcilerError | None = None
    skipped: tuple[PlannedAction, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.error is None


def client_token(lineage: str, serial: int, action: PlannedAction) -> str:
    """Idempotency token of one action of one plan: a retried call is not carried out twice."""
    raw = f"{lineage}:{serial}:{action.order}:{action.address}:{action.action.value}:{action.cidr}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def apply_plan(
    plan: Plan,
    provider,
    transaction,
    base: State,
    on_step: Callable[[PlannedAction, str], None] | None = None,
) -> ApplyResult:
    """Run ``plan`` against ``provider``; ``transaction`` records each step durably as it completes."""
    state = base
    done: list[PlannedAction] = []
    actions = plan.actions
    i = 0
    while i < len(actions):
        batch = batch_at(actions, i)
        action = batch[0]
        if on_step:
            for a in batch:
                on_step(a, "start")
        token = client_token(base.lineage, plan.serial, action)
        try:
            updates = provider.execute_batch(batch, state.resources, token)
        except PartialStep as partial:
            for address, record in sorted(partial.updates.items()):
                state = transaction.record(address, record)
            return _failed(state, done, action, partial.error, plan, i, on_step)
        except CloudError as exc:
            return _failed(state, done, action, exc, plan, i, on_step)
        for address, record in sorted(updates.items()):
            state = transaction.record(address, record)
        done.extend(batch)
        if on_step:
            for a in batch:
                on_step(a, "done")
        i += len(batch)
    return ApplyResult(state, tuple(done))


def batch_at(actions, i: int) -> list[PlannedAction]:
    """The actions one API call carries from position ``i``: consecutive assigns (or unassigns) of one
    ENI through the same API and of the same kind (address or prefix), at most 10; else one action."""
    first = actions[i]
    if first.action not in (Action.ASSIGN, Action.UNASSIGN):
        return [first]
    field = (first.after or first.before or {}).get("field")
    batch = [first]
    for a in actions[i + 1:]:
        if (len(batch) == MAX_ITEMS_PER_CALL or a.action is not first.action or a.address != first.address
                or a.api != first.api or (a.after or a.before or {}).get("field") != field):
            break
        batch.append(a)
    return batch


def _failed(state, done, action, error, plan, i, on_step) -> ApplyResult:
    if on_step:
        on_step(action, "failed")
    return ApplyResult(state, tuple(done), action, error, tuple(plan.actions[i + 1:]))
