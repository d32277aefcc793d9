"""Recovery of an interrupted apply: resolve every pending intent before anything new is planned.

A pending intent is a cloud call whose intent is in the journal but whose result is not: the apply
died (or lost its disk) somewhere between writing the intent and writing the result. Whether the
call happened is unknown, so recovery re-issues it -- the same API, built from the same recorded
action(s) over the same recorded state, with the same ClientToken, read from the intent. The cloud
answers a repeated (API, token) with its stored first response when the call had been carried out,
and carries it out now when it had not; either way the result is recorded like apply records it.

Which are re-issued: calls are made one at a time, and the result of one is written before the next
call starts. Lines written (even not fsynced) survive a killed process; only a crash of the machine
loses them. So when the pending intents were written in the current boot (their ``boot`` is this
machine's boot id), only the FIRST pending one can have been started: it is re-issued, and the others
-- announced by a group commit but never started -- are cancelled (the new plan takes them up again).
After a reboot (or when the boot id cannot be told) any of them may have been carried out and their
results lost with the unsynced tail, so ALL are re-issued, one at a time in the order they were
written (the plan's order), each over the state that includes the results before it.

* carried out (or replayed): the result is recorded (a done line);
* refused: the call was never carried out (a refusal stores no token, and a carried-out call would
  have been answered with its stored response), so neither were the intents after it (apply never
  goes past a refused call): they are all cancelled, and planning goes on;
* a failure after which the call may have happened (HTTP 5xx, throttling, an exception): recovery
  stops, leaving it and the later intents pending, and so does the apply (``Apply.RecoveryIncomplete``).

Requires the lock (the caller holds it). Everything is recorded through one state transaction,
committed (a snapshot) at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from reconciler import faults
from reconciler.apply.execute import ambiguous
from reconciler.errors import CloudError, ReconcilerError, StateError
from reconciler.plans.order import Action, PlannedAction
from reconciler.providers.base import PartialStep
from reconciler.states.journal import Intent, split_pending
from reconciler.states.lock import UNKNOWN_LOCK_ID
from reconciler.states.state import State


@dataclass
class RecoveryReport:
    recovered: list[PlannedAction] = field(default_factory=list)  # re-issued, result recorded
    cancelled: list[PlannedAction] = field(default_factory=list)  # found never carried out
    dropped: list[PlannedAction] = field(default_factory=list)  # announced, known never started
    refusal: ReconcilerError | None = None  # why the first cancelled one was refused
    error: ReconcilerError | None = None  # recovery could not finish: intents are still pending
    state: State | None = None

    @property
    def anything(self) -> bool:
        return bool(self.recovered or self.cancelled or self.dropped or self.error)

    def to_dict(self) -> dict:
        return {"recovered": [a.to_dict() for a in self.recovered], "cancelled": [a.to_dict() for a in self.cancelled],
                "dropped": [a.to_dict() for a in self.dropped],
                "refusal": self.refusal.to_dict() if self.refusal else None,
                "error": self.error.to_dict() if self.error else None}


def planned_action(d: Mapping) -> PlannedAction:
    """The PlannedAction an intent recorded (``PlannedAction.to_dict()`` read back)."""
    frozen = (lambda v: None if v is None else MappingProxyType(dict(v)))
    return PlannedAction(d["order"], Action(d["action"]), d["address"], d["type"], d["name"], d["api"], d["cidr"],
                         frozen(d["before"]), frozen(d["after"]), d["replace"], d["note"])


def describe(intents: list[Intent]) -> list[str]:
    out = []
    for intent in intents:
        first = intent.actions[0]
        more = f" (+{len(intent.actions) - 1} more in the same call)" if len(intent.actions) > 1 else ""
        cidr = f" {first['cidr']}" if first.get("cidr") else ""
        out.append(f"{first['action']} {first['address']}{cidr} ({intent.api}, ClientToken {intent.token}){more}")
    return out


def split(pending: list[Intent]) -> tuple[list[Intent], list[Intent]]:
    """(the intents to re-issue, those known never started): see the module doc."""
    return split_pending(pending)


def pending_note(backend) -> str | None:
    """What ``plan`` says when an apply (or another writer) is running -- the lock is held by a live
    process: its calls in flight are its own, not an interrupted apply's -- or when an interrupted
    apply left calls in flight (None when neither)."""
    try:
        pending = backend.pending_intents()
        status = backend.lock_status() if hasattr(backend, "lock_status") else None
    except ReconcilerError:
        return None  # reading the state reports the damage itself
    if status is not None and status.live:
        info = status.info
        calls = (f" It has {len(pending)} cloud call(s) in flight whose results are not in the state yet."
                 if pending else "")
        who = ("an ipamctl command (the lock file is unreadable)" if info.id == UNKNOWN_LOCK_ID else
               f"`ipamctl {info.command}` (lock ID {info.id}, held by {info.holder} since {info.created})")
        return (f"Note: {who} is running on this workspace: the state is locked.{calls} This plan is made from "
                "the state as recorded now and does not include what that run is doing; plan again once it "
                "has finished.")
    if not pending:
        return None
    issue, never = split(pending)
    lines = "".join(f"\n    {d}" for d in describe(issue[:5]))
    more = f"\n    ... and {len(issue) - 5} more" if len(issue) > 5 else ""
    dropped = (f"\n{len(never)} more call(s) were announced but never started; apply drops them."
               if never else "")
    return (f"Note: an interrupted apply left {len(issue)} cloud call(s) that may have been carried out and whose "
            f"results are not in the state:{lines}{more}{dropped}\n`ipamctl apply` re-issues them with their "
            "ClientTokens and records the results before it plans anything; this plan does not include them.")


def recover(backend, open_provider: Callable[[dict], Any],
            on_step: Callable[[PlannedAction, str], None] | None = None) -> RecoveryReport:
    """Resolve every pending intent of ``backend``'s journal (see the module doc). Hold the lock."""
    state, pending = backend.read_with_intents()
    report = RecoveryReport(state=state)
    if not pending:
        return report
    providers: dict[str, Any] = {}  # ApiProviders, as faults may wrap them
    pending, never = split(pending)
    try:
        with backend.transaction(state) as txn:
            if never:
                txn.cancel(never, "announced, never started (the call before it had not finished)")
                report.dropped = [planned_action(d) for i in never for d in i.actions]
            for k, intent in enumerate(pending):
                actions = [planned_action(d) for d in intent.actions]
                key = repr(sorted(intent.provider.items()))
                if key not in providers:
                    providers[key] = open_provider(intent.provider)
                if on_step:
                    on_step(actions[0], "start")
                faults.point("before-call")
                try:
                    updates = providers[key].execute_batch(actions, txn.state.resources, intent.token)
                except PartialStep as partial:  # carried out, but not as planned: recorded, the rest dropped
                    faults.point("after-call")
                    txn.done(intent, partial.updates)
                    report.recovered.extend(actions)
                    _cancel(txn, pending[k + 1:], report, partial.error, "a recovered call did not go as planned")
                    break
                except CloudError as exc:
                    if ambiguous(exc):
                        report.error = _incomplete(pending[k:], exc)
                        break
                    _cancel(txn, pending[k:], report, exc, f"refused when re-issued: {exc.code}")
                    if on_step:
                        on_step(actions[0], "failed")
                    break
                except ReconcilerError as exc:
                    report.error = _incomplete(pending[k:], exc)
                    break
                faults.point("after-call")
                txn.done(intent, updates)
                faults.point("after-record")
                report.recovered.extend(actions)
                if on_step:
                    for a in actions:
                        on_step(a, "done")
            report.state = txn.commit()
    except StateError as exc:
        report.error = exc if report.error is None else report.error
    finally:
        for provider in providers.values():
            provider.close()
    return report


def _cancel(txn, intents: list[Intent], report: RecoveryReport, error: ReconcilerError, reason: str) -> None:
    txn.cancel(intents, reason)
    report.cancelled.extend(planned_action(d) for i in intents for d in i.actions)
    report.refusal = error


def _incomplete(intents: list[Intent], cause: ReconcilerError) -> StateError:
    return StateError("Apply.RecoveryIncomplete",
                      f"an interrupted apply left {len(intents)} call(s) in flight and re-issuing "
                      f"{describe(intents[:1])[0]} failed with {cause.code} ({cause.detail}), after which it may or "
                      "may not have been carried out; nothing new was planned. Run `ipamctl apply` again once the "
                      "cause is fixed: it re-issues the same calls with the same ClientTokens.",
                      address=intents[0].actions[0]["address"])
