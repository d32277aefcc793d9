"""Apply: carry out a plan's actions in order through a provider, recording every call.

Write-ahead intents close the gap between a cloud call and the record of its result. Before a call
is made, its *intent* -- the exact action(s), the API and the ClientToken -- is durable in the state
journal; after it, its result is written there. A process killed in between leaves a *pending*
intent, which the next apply re-issues with the same ClientToken before planning anything new
(:mod:`reconciler.apply.recovery`): the cloud answers with the stored first response when the call had
been carried out, or carries it out now. So no resource is orphaned, none is made twice, and a
delete is not tried against something gone.

Group commit: the intents of the next *window* of calls are written with ONE fsync (which also
makes the results of the earlier calls durable), so durability costs one fsync per window instead
of one or two per call. The window adapts so that fsyncs take at most about 1/``OVERHEAD`` of the
time the calls take: 1 against a slow cloud (a real one: every call announced on its own), up to
``MAX_WINDOW`` against a fast one (the sandbox). The price: after a crash, recovery also carries out
the calls of the last window that had not started (they are part of the plan that was approved).
An apply that stops on its own -- a refused call, an exception, Ctrl-C -- cancels the intents it
will not carry out. Apply stops at the first refused call.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from reconciler import faults
from reconciler.errors import CloudError, ReconcilerError, StateError
from reconciler.net.eni_limits import MAX_ITEMS_PER_CALL
from reconciler.plans.order import Action, Plan, PlannedAction
from reconciler.providers.alibaba import RETRYABLE
from reconciler.providers.base import PartialStep
from reconciler.states.state import State, canonical_bytes

MAX_WINDOW = 256  # at most this many calls' intents share one fsync
OVERHEAD = 10  # the adaptive window aims at fsync time <= call time / OVERHEAD


@dataclass(frozen=True)
class ApplyResult:
    state: State
    done: tuple[PlannedAction, ...]
    failed: PlannedAction | None = None
    error: ReconcilerError | None = None
    skipped: tuple[PlannedAction, ...] = field(default_factory=tuple)
    in_doubt: tuple[PlannedAction, ...] = field(default_factory=tuple)  # may have happened; recovered next apply

    @property
    def ok(self) -> bool:
        return self.error is None


def client_token(lineage: str, serial: int, action: PlannedAction) -> str:
    """Idempotency token of one action of one plan: a retried or recovered call is not carried out twice.

    From the state's lineage, the serial the plan was made against, the action's place and what it
    does (API, CIDR, the records before and after). It is written into the call's intent, and
    recovery re-uses that written token, never a recomputed one."""
    return _token(lineage, serial, action.to_dict())


def _token(lineage: str, serial: int, a: dict) -> str:
    what = canonical_bytes([a["api"], a["cidr"], a["before"], a["after"]])
    raw = f"{lineage}:{serial}:{a['order']}:{a['address']}:{a['action']}:".encode() + what
    return hashlib.sha256(raw).hexdigest()[:32]


def ambiguous(error: CloudError) -> bool:
    """A failure after which the call may still have been carried out (server-side, throttled)."""
    return error.http_status >= 500 or error.code in RETRYABLE


def apply_plan(
    plan: Plan,
    provider,
    transaction,
    base: State,
    on_step: Callable[[PlannedAction, str], None] | None = None,
    *,
    provider_settings: Mapping | None = None,
    window: int | None = None,
) -> ApplyResult:
    """Run ``plan`` against ``provider``; ``transaction`` records intents before and results after each call.

    ``window``: calls announced per fsync; None adapts it (see the module doc)."""
    settings = dict(provider_settings or {"type": getattr(provider, "name", "sandbox")})
    batches = batches_of(plan.actions)
    intents: list = []  # intents[k] belongs to batches[k]
    state = base
    done: list[PlannedAction] = []
    pace = _Pace(window)

    def stop(k: int, error: ReconcilerError, *, cancel_from: int) -> ApplyResult:
        """Stop at batch ``k``: the intents from ``cancel_from`` on were not carried out."""
        try:
            transaction.cancel(intents[cancel_from:], f"apply stopped at {batches[k][0].address}: {error.code}")
        except StateError as exc:  # the disk is failing too: recovery will carry them out instead
            error = _noted(error, f"the calls after it could not be marked as not made either ({exc.code})")
        if on_step:
            on_step(batches[k][0], "failed")
        where = {i.n: b for i, b in zip(intents, batches)}
        doubt = tuple(a for i in transaction.pending_intents if i.n in where for a in where[i.n])
        return ApplyResult(state, tuple(done), batches[k][0], error, tuple(a for b in batches[k + 1:] for a in b),
                           doubt)

    for k, batch in enumerate(batches):
        if k == len(intents):
            chunk = [[a.to_dict() for a in b] for b in batches[k:k + pace.window()]]
            try:
                started = time.perf_counter()
                intents.extend(transaction.intend([(_token(base.lineage, plan.serial, b[0]), b[0]["api"], b, settings)
                                                   for b in chunk]))
                pace.synced(time.perf_counter() - started)
            except StateError as exc:
                if on_step:
                    on_step(batch[0], "failed")
                return ApplyResult(state, tuple(done), batch[0], exc, tuple(a for b in batches[k + 1:] for a in b))
        intent = intents[k]
        if on_step:
            for a in batch:
                on_step(a, "start")
        faults.point("before-call")
        try:
            started = time.perf_counter()
            updates = provider.execute_batch(batch, state.resources, intent.token)
            pace.called(time.perf_counter() - started)
        except PartialStep as partial:
            faults.point("after-call")
            try:
                state = transaction.done(intent, partial.updates)
            except StateError as exc:
                return stop(k, _noted(partial.error, exc.detail), cancel_from=k + 1)
            return stop(k, partial.error, cancel_from=k + 1)
        except CloudError as exc:
            if ambiguous(exc):  # it may have been carried out: leave its intent pending
                return stop(k, _noted(exc, "the call may have been carried out; the next `ipamctl apply` re-issues "
                                      "it with the same ClientToken before planning"), cancel_from=k + 1)
            return stop(k, exc, cancel_from=k)
        except BaseException:  # Ctrl-C or a bug: this call's outcome is unknown, the later ones never start
            try:
                transaction.cancel(intents[k + 1:], "apply interrupted")
            except StateError:
                pass
            raise
        faults.point("after-call")
        try:
            state = transaction.done(intent, updates)
        except StateError as exc:
            return stop(k, exc, cancel_from=k + 1)
        faults.point("after-record")
        done.extend(batch)
        if on_step:
            for a in batch:
                on_step(a, "done")
    return ApplyResult(state, tuple(done))


class _Pace:
    """The adaptive intent window: fsync time over call time, from moving averages of both."""

    def __init__(self, fixed: int | None):
        self.fixed = fixed
        self.sync: float | None = None
        self.call: float | None = None

    def window(self) -> int:
        if self.fixed is not None:
            return max(1, self.fixed)
        if self.sync is None or self.call is None:
            return 1
        return max(1, min(MAX_WINDOW, math.ceil(OVERHEAD * self.sync / max(self.call, 1e-6))))

    def synced(self, seconds: float) -> None:
        self.sync = seconds if self.sync is None else 0.7 * self.sync + 0.3 * seconds

    def called(self, seconds: float) -> None:
        self.call = seconds if self.call is None else 0.9 * self.call + 0.1 * seconds


def batches_of(actions) -> list[list[PlannedAction]]:
    """The plan's actions grouped into API calls, in order (see :func:`batch_at`)."""
    out, i = [], 0
    while i < len(actions):
        out.append(batch_at(actions, i))
        i += len(out[-1])
    return out


def batch_at(actions, i: int) -> list[PlannedAction]:
    """The actions one API call carries from position ``i``: consecutive assigns (or unassigns) of one
    ENI through the same API and of the same kind (address or prefix), at most 10; else one action."""
    first = actions[i]
    if first.action not in (Action.ASSIGN, Action.UNASSIGN):
        return [first]
    field = (first.after or first.before or {}).get("field")
    batch = [first]
    for j in range(i + 1, min(len(actions), i + MAX_ITEMS_PER_CALL)):  # no slice: a copy per call is quadratic
        a = actions[j]
        if (len(batch) == MAX_ITEMS_PER_CALL or a.action is not first.action or a.address != first.address
                or a.api != first.api or (a.after or a.before or {}).get("field") != field):
            break
        batch.append(a)
    return batch


def _noted(error: ReconcilerError, note: str) -> ReconcilerError:
    """A copy of ``error`` with ``note`` added to its message."""
    clone = type(error).__new__(type(error))
    clone.__dict__.update(error.__dict__)
    clone.detail = f"{error.detail}; {note}"
    Exception.__init__(clone, clone.message)
    return clone
