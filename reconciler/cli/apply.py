"""``ipamctl apply [PLANFILE]``: the edge of an apply -- approval, progress and the report.

What an apply does, under the lock, is :mod:`reconciler.apply.session`'s; this module asks, shows
and tells.
"""

from __future__ import annotations

import sys

import click

from reconciler.apply.execute import ApplyResult
from reconciler.apply.recovery import RecoveryReport
from reconciler.apply.reservations import check_held, plan_checksum, store_of
from reconciler.apply.session import ApplySession, OnStep, apply_session
from reconciler.cli import render
from reconciler.cli.files import resolve
from reconciler.cli.plan import plan_progress, plan_workspace
from reconciler.cli.progress import Progress
from reconciler.errors import StateError
from reconciler.plans.order import Plan, PlannedAction
from reconciler.states.state import State
from reconciler.workspace import Workspace, plan_lineage


def apply(ws: Workspace, *, planfile_path: str | None, auto_approve: bool, as_json: bool, lock_timeout: float,
          colour: bool) -> int:
    with apply_session(ws, lock_timeout) as session:
        dead = getattr(ws.backend(), "took_over", None)  # a shared backend's lock whose holder died
        if dead is not None:
            click.echo(f"Took over the lock {dead.id} of {dead.holder}, running '{dead.command}' since "
                       f"{dead.created}: its session with the database ended, so it is gone.", err=True)
        with Progress("Recovering", 0, enabled=False) as lines:
            echo = _quiet if as_json else progress_echo(colour, lines)
            recovered = _recover(session, echo, as_json)
        checksum = store = None
        if planfile_path:
            path = resolve(ws.root, planfile_path)
            saved = session.read_plan(str(path), plan_lineage)
            plan, state, settings = saved.plan, saved.state, saved.settings
            store = store_of(ws.backend())
            if store is not None and plan.has_changes:  # the blocks reviewed are still this plan's
                checksum = plan_checksum(path.read_bytes())
                check_held(store, plan, state.resources, checksum)
        else:
            with plan_progress(as_json) as bar:
                plan, state, settings = plan_workspace(ws, bar=bar)
            if plan.has_changes and not auto_approve:
                if as_json or not sys.stdin.isatty():
                    raise StateError("Apply.NeedsApproval", "apply asks for confirmation and there is no terminal "
                                     "to ask on; review `ipamctl plan` and pass --auto-approve, or apply a saved plan")
                click.echo(render.render_plan(plan, colour))
                answer = click.prompt("Do you want to perform these actions? Only 'yes' will be accepted", default="",
                                      show_default=False)
                if answer.strip() != "yes":
                    click.echo("Apply cancelled.")
                    return 1
        if not plan.has_changes:
            session.settle(state)
            if as_json:
                click.echo(render.json_text({"applied": [], "failed": None, "serial": state.serial,
                                             "recovery": recovered.to_dict()}))
            else:
                click.echo("No changes. The recorded state matches the specs.")
            return 0
        total = len(plan.actions)
        outcome = session.apply(plan, state, settings, lambda: _ApplyBar(total, as_json, colour))
        if store is not None and checksum is not None and outcome.result.ok:
            store.release(plan=checksum)  # allocated now: the cloud holds the blocks
    ws.keep(plan, state, outcome)
    return _report(outcome.result, outcome.final, plan, as_json, recovered, outcome.unwritten)


def _quiet(action: PlannedAction, what: str) -> None:
    pass


class _ApplyBar(Progress):
    """The apply's bar (an ApplyProgress): a line per action, the bar moved on; none with ``--json``."""

    def __init__(self, total: int, as_json: bool, colour: bool) -> None:
        super().__init__("Applying", total, enabled=not as_json)
        self.step: OnStep = _quiet if as_json else progress_echo(colour, self)

    def saving(self) -> None:
        self.update(self.done, "saving the state")


def _recover(session: ApplySession, echo: OnStep, as_json: bool) -> RecoveryReport:
    """Re-issue and record what an interrupted apply left in flight; raise when that cannot finish."""
    if not as_json and session.in_flight():
        click.echo("Recovering the calls an interrupted apply left in flight (same ClientTokens):")
    report = session.recover(echo)
    sys.stdout.flush()  # the lines of what was recovered come before what follows, on stderr too
    if not as_json and report.anything:
        if report.dropped:
            click.echo(f"{len(report.dropped)} action(s) of the interrupted apply had not started; they are dropped "
                       "and planned anew.")
        if report.cancelled:
            click.echo(f"{len(report.cancelled)} action(s) of the interrupted apply were never carried out "
                       f"(re-issuing the first was refused: {report.refusal}); they are dropped and planned anew.",
                       err=True)
        if report.recovered:
            click.echo(f"Recovered {len(report.recovered)} action(s); the state records them (serial "
                       f"{report.state.serial}).\n")  # type: ignore[union-attr]  # recover() always sets it
    if report.error:
        raise report.error
    return report


def progress_echo(colour: bool, bar: Progress) -> OnStep:
    """An on_step of apply and recovery: a line per action carried out (or failed), and the bar moved on."""
    def echo(action: PlannedAction, what: str) -> None:
        if what != "start":
            bar.echo(render.paint(render.progress_line(action, what), render.SIGN[action.action],
                                  colour and what == "done"))
            if what == "done":
                bar.update(bar.done + 1, action.address)
    return echo


def _report(result: ApplyResult, final: State, plan: Plan, as_json: bool, recovered: RecoveryReport,
            unwritten: StateError | None = None) -> int:
    errors = [e for e in (result.error, unwritten) if e is not None]
    if as_json:
        click.echo(render.json_text({
            "applied": [a.to_dict() for a in result.done],
            "failed": result.failed.to_dict() if result.failed else None,
            "in_doubt": [a.to_dict() for a in result.in_doubt],
            "errors": [d for e in errors for d in render.errors_document(e)["errors"]],
            "serial": final.serial, "recovery": recovered.to_dict()}))
    elif result.ok and unwritten is None:
        done = len(result.done)
        click.echo(f"\nApply complete: {done} action{'' if done == 1 else 's'}. "
                   f"{render.summary_line(plan).replace('Plan: ', '')}")
        click.echo(f"State serial {final.serial}.")
    else:
        for error in errors:
            click.echo(render.render_errors(error), err=True, nl=False)
        where = ("the state" if unwritten is None else
                 "the state journal (read with the state; the snapshot is rewritten by the next apply)")
        click.echo(f"{len(result.done)} of {len(plan.actions)} actions were carried out and are recorded in {where} "
                   f"(serial {final.serial}); run `ipamctl plan` to see what remains.", err=True)
        if result.in_doubt:
            click.echo(f"{len(result.in_doubt)} more may have been carried out ({result.in_doubt[0].address} "
                       f"{result.in_doubt[0].api}...): their intents are recorded, and the next `ipamctl apply` "
                       "re-issues them with the same ClientTokens and records the results before planning.", err=True)
    return 1 if errors else 0
