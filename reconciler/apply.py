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
from .plan import Plan, PlannedAction
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
    for i, action in enumerate(plan.actions):
        if on_step:
            on_step(action, "start")
        token = client_token(base.lineage, plan.serial, action)
        try:
            updates = provider.execute(action, state.resources, token)
        except PartialStep as partial:
            for address, record in sorted(partial.updates.items()):
                state = transaction.record(address, record)
            return _failed(state, done, action, partial.error, plan, i, on_step)
        except CloudError as exc:
            return _failed(state, done, action, exc, plan, i, on_step)
        for address, record in sorted(updates.items()):
            state = transaction.record(address, record)
        done.append(action)
        if on_step:
            on_step(action, "done")
    return ApplyResult(state, tuple(done))


def _failed(state, done, action, error, plan, i, on_step) -> ApplyResult:
    if on_step:
        on_step(action, "failed")
    return ApplyResult(state, tuple(done), action, error, tuple(plan.actions[i + 1:]))
