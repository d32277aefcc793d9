"""``ipamctl``: a thin click front end. It parses, calls the core, renders; nothing more.

Exit codes: 0 success (or no changes), 1 error, 2 changes present with ``--detailed-exitcode``.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path

import click
import orjson

from reconciler import faults
from reconciler.apply.execute import apply_plan
from reconciler.apply.recovery import pending_note, recover
from reconciler.cli import render
from reconciler.cli.progress import Progress
from reconciler.errors import ReconcilerError, StateError
from reconciler.models.network import Spec
from reconciler.planner import make_plan, validate
from reconciler.plans import planfile
from reconciler.workspace import Workspace, plan_lineage


def _json(data) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())


def _fail(error: ReconcilerError, as_json: bool) -> None:
    if as_json:
        _json(render.errors_document(error))
    else:
        click.echo(render.render_errors(error), err=True, nl=False)
    sys.exit(1)


def _colour(ctx) -> bool:
    return ctx.obj["colour"] and sys.stdout.isatty()


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ReconcilerError as exc:
            _fail(exc, "--json" in sys.argv)


@click.group(cls=_Group)
@click.option("-C", "--chdir", "chdir", default=".", type=click.Path(file_okay=False), help="Workspace folder.")
@click.option("--no-color", is_flag=True, help="Plain output even on a terminal.")
@click.version_option(package_name="ipam-reconciler")
@click.pass_context
def main(ctx, chdir, no_color):
    """Declarative IP address management: plan and apply an address plan kept in Git."""
    # A short-lived process that builds large object graphs, acyclic in the main: with the cyclic
    # collector on, even collecting rarely, a 100k plan spends 12-15 % of its time in it and frees
    # nothing of note (peak memory is the same without it; docs/performance.md). Off while a command
    # runs (an apply turns it back on for its long loop of calls), restored when the command ends.
    if gc.isenabled():
        gc.disable()
        ctx.call_on_close(gc.enable)
    gc.freeze()
    ctx.obj = {"ws": Workspace(Path(chdir)), "colour": not no_color}


@main.command("validate")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def validate_cmd(ctx, as_json):
    """Parse, validate and graph the specs (no state needed)."""
    ws: Workspace = ctx.obj["ws"]
    v = validate(ws.load_specs())
    if as_json:
        _json({"valid": True, "resources": len(v.graph)})
    else:
        click.echo(f"The specs are valid: {len(v.graph)} resources.")


# What `plan` shows progress through: load the specs, read the state, the core's stages, write the output.
PLAN_STAGES = ("load", "state", "validate", "graph", "resolve", "diff", "order", "output")


def _plan_progress(as_json: bool) -> Progress:
    return Progress("Planning", len(PLAN_STAGES), enabled=not as_json, interval=0)


def _plan(ws: Workspace, refresh: bool = False, bar: Progress | None = None):
    """Plan against the recorded state, or (``refresh``) against what the provider reads now."""
    def stage(name: str) -> None:
        if bar is not None:
            bar.update(PLAN_STAGES.index(name), name)

    stage("load")
    doc = ws.load_specs()
    stage("state")
    state = ws.read_state()
    settings = ws.provider_settings(doc)
    external = ws.read_managed_enis(doc, state.resources, settings)
    resources = state.resources
    if refresh:
        from reconciler.observe.refresh import refreshed_resources

        resources = refreshed_resources(ws, state, settings)
    plan = make_plan(doc, resources, lineage=plan_lineage(state), serial=state.serial,
                     supply=ws.ipv6_supply(settings), external=external,
                     imports=ws.read_imports(doc, resources, settings), discovered=ws.read_discovered(doc, settings),
                     stage=stage)
    stage("output")
    return plan, state, settings


@main.command("plan")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Save the plan for `apply PLANFILE`.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable plan on stdout.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@click.option("--refresh", is_flag=True, help="Plan from what the provider reads now instead of the recorded state.")
@click.pass_context
def plan_cmd(ctx, out, as_json, detailed_exitcode, refresh):
    """Show the ordered actions that turn the recorded state into the desired one."""
    ws: Workspace = ctx.obj["ws"]
    if note := pending_note(ws.backend()):
        click.echo(note, err=True)
    with _plan_progress(as_json) as bar:
        plan, _, settings = _plan(ws, refresh, bar)
        # one serialization for the file and stdout: the bytes _json(to_document(...)) would print
        data = planfile.to_json(plan, settings["type"], settings) if out or as_json else None
        if out:
            _write_plan(Path(out), data)
        text = None if as_json else render.render_plan(plan, _colour(ctx))
    if as_json:
        click.echo(data, nl=False)
    else:
        click.echo(text, nl=False)
        if out:
            click.echo(f"\nSaved the plan to {out}. Apply exactly this plan with: ipamctl apply {out}")
    sys.exit(2 if detailed_exitcode and plan.has_changes else 0)


def _write_plan(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


@main.command("apply")
@click.argument("planfile_path", metavar="[PLANFILE]", required=False, type=click.Path(dir_okay=False))
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--lock-timeout", default=0.0, type=float, help="Seconds to wait for the workspace lock.")
@click.pass_context
def apply_cmd(ctx, planfile_path, auto_approve, as_json, lock_timeout):
    """Apply a saved plan, or plan and apply after confirmation.

    First, under the lock, the calls an interrupted apply left in flight are re-issued with their
    ClientTokens and recorded (see docs/reliability.md); only then is anything planned or checked."""
    ws: Workspace = ctx.obj["ws"]
    backend = ws.backend()
    with backend.lock("apply", timeout=lock_timeout):
        with Progress("Recovering", 0, enabled=False) as lines:
            echo = (lambda a, what: None) if as_json else _progress(_colour(ctx), lines)
            recovered = _recover(ws, backend, echo, as_json)
        if planfile_path:
            state = backend.read()
            data = Path(planfile_path).read_bytes() if Path(planfile_path).is_file() else None
            if data is None:
                raise StateError("Plan.NotFound", f"{planfile_path}: no such plan file")
            plan, settings = planfile.from_json(data, path=planfile_path, lineage=plan_lineage(state), serial=state.serial)
            del data  # a 100k plan file is 300 MB: not kept through the apply
        else:
            with _plan_progress(as_json) as bar:
                plan, state, settings = _plan(ws, bar=bar)
            if plan.has_changes and not auto_approve:
                if as_json or not sys.stdin.isatty():
                    raise StateError("Apply.NeedsApproval", "apply asks for confirmation and there is no terminal "
                                     "to ask on; review `ipamctl plan` and pass --auto-approve, or apply a saved plan")
                click.echo(render.render_plan(plan, _colour(ctx)))
                answer = click.prompt("Do you want to perform these actions? Only 'yes' will be accepted", default="",
                                      show_default=False)
                if answer.strip() != "yes":
                    click.echo("Apply cancelled.")
                    sys.exit(1)
        if not plan.has_changes:
            if backend.journal_path.exists():
                with backend.transaction(state):  # fold what a killed apply recorded into the snapshot
                    pass
            if as_json:
                _json({"applied": [], "failed": None, "serial": state.serial, "recovery": recovered.to_dict()})
            else:
                click.echo("No changes. The recorded state matches the specs.")
            return
        # the plan and the state live to the end: out of the collector's passes, which run (rarely)
        # through the apply's loop of calls
        gc.freeze()
        gc.set_threshold(200_000, 1000, 1000)
        gc.enable()
        provider = faults.wrap_provider(ws.provider(settings))
        try:
            txn = backend.transaction(state)
            with txn, Progress("Applying", len(plan.actions), enabled=not as_json) as bar:
                # an escaping exception still commits what was recorded
                echo = (lambda a, what: None) if as_json else _progress(_colour(ctx), bar)
                result = apply_plan(plan, provider, txn, state, echo, provider_settings=settings,
                                    window=_intent_window())
                bar.update(bar.done, "saving the state")
                final, unwritten = _commit(txn)
        finally:
            provider.close()
    _report(result, final, plan, as_json, recovered, unwritten)


def _commit(txn):
    """Commit; when the snapshot cannot be written, the error (the journal keeps the changes)."""
    try:
        return txn.commit(), None
    except StateError as exc:
        txn.close()
        return txn.state, exc


def _intent_window() -> int | None:
    """Calls whose intents share one fsync: ``IPAM_INTENT_WINDOW`` (1 = an fsync before every call), else adaptive."""
    value = os.environ.get("IPAM_INTENT_WINDOW", "")
    return max(1, int(value)) if value.isdigit() else None


def _recover(ws: Workspace, backend, echo, as_json):
    """Re-issue and record what an interrupted apply left in flight; raise when that cannot finish."""
    if not as_json and backend.pending_intents():
        click.echo("Recovering the calls an interrupted apply left in flight (same ClientTokens):")
    report = recover(backend, lambda settings: faults.wrap_provider(ws.provider(settings)), echo)
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
                       f"{report.state.serial}).\n")
    if report.error:
        raise report.error
    return report


def _progress(colour: bool, bar: Progress):
    """apply's on_step: a line per action carried out (or failed), and the bar moved on."""
    def echo(action, what):
        if what != "start":
            bar.echo(render._paint(render.progress_line(action, what), render.SIGN[action.action],
                                   colour and what == "done"))
            if what == "done":
                bar.update(bar.done + 1, action.address)
    return echo


def _report(result, final, plan, as_json, recovered, unwritten=None) -> None:
    errors = [e for e in (result.error, unwritten) if e is not None]
    if as_json:
        _json({"applied": [a.to_dict() for a in result.done],
               "failed": result.failed.to_dict() if result.failed else None,
               "in_doubt": [a.to_dict() for a in result.in_doubt],
               "errors": [d for e in errors for d in render.errors_document(e)["errors"]],
               "serial": final.serial, "recovery": recovered.to_dict()})
    elif result.ok and unwritten is None:
        click.echo(f"\nApply complete: {len(result.done)} actions. {render.summary_line(plan).replace('Plan: ', '')}")
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
    if errors:
        sys.exit(1)


@main.command("show")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show_cmd(ctx, as_json):
    """The recorded state: every resource with its id and CIDRs."""
    state = ctx.obj["ws"].read_state()
    if as_json:
        _json({"lineage": state.lineage if state.serial else None, "serial": state.serial,
               "resources": state.resources_dict()})
    else:
        click.echo(render.render_state(state.resources, state.lineage, state.serial), nl=False)


@main.group("state")
def state_group():
    """Inspect the recorded state."""


@state_group.command("list")
@click.pass_context
def state_list(ctx):
    """Every address in the state."""
    state = ctx.find_root().obj["ws"].read_state()
    for address in sorted(state.resources, key=render._state_key):
        click.echo(address)


@state_group.command("show")
@click.argument("address")
@click.pass_context
def state_show(ctx, address):
    """One resource of the state, with every attribute."""
    state = ctx.find_root().obj["ws"].read_state()
    if address not in state.resources:
        raise StateError("State.NoSuchResource", f"{address} is not in the state (see `ipamctl state list`)",
                         address=address)
    click.echo(render.render_record(address, state.resources[address]), nl=False)


@main.command("graph")
@click.pass_context
def graph_cmd(ctx):
    """The dependency graph of the specs, in DOT."""
    click.echo(validate(ctx.obj["ws"].load_specs()).graph.to_dot(), nl=False)


@main.command("schema")
def schema_cmd():
    """JSON Schema of the spec format (for editors)."""
    click.echo(json.dumps(Spec.model_json_schema(), indent=2, sort_keys=True))


@main.command("render-os-config")
@click.argument("address")
@click.option("--os", "family", required=True, type=click.Choice(["rhel", "debian", "sles", "windows"]))
@click.option("--device", default=None, help="Interface name in the guest (default eth0 for a primary ENI, "
              "eth1... for the others in name order).")
@click.option("--adapter", default="Ethernet", help="Windows adapter name.")
@click.pass_context
def render_os_config_cmd(ctx, address, family, device, adapter):
    """The guest configuration of an ENI's secondary private IPs (from the recorded state)."""
    from reconciler.report.guest_config import guest_network
    from reconciler.report.guest_config import render as render_guest

    state = ctx.obj["ws"].read_state()
    click.echo(render_guest(guest_network(state.resources, address, device), family, adapter), nl=False)


@main.command("force-unlock")
@click.argument("lock_id")
@click.pass_context
def force_unlock_cmd(ctx, lock_id):
    """Remove a stale workspace lock left by a process that is gone."""
    ctx.obj["ws"].backend().force_unlock(lock_id)
    click.echo(f"Lock {lock_id} removed.")


@main.group("sandbox")
def sandbox_group():
    """The embedded sandbox cloud."""


@sandbox_group.command("call", context_settings={"ignore_unknown_options": True})
@click.argument("action")
@click.argument("params", nargs=-1)
@click.pass_context
def sandbox_call(ctx, action, params):
    """Call the sandbox with Alibaba API names and parameters: ACTION Key=Value ..."""
    ws: Workspace = ctx.find_root().obj["ws"]
    args = {}
    for p in params:
        key, eq, value = p.partition("=")
        if not eq or not key:
            raise StateError("Sandbox.BadParameter", f"{p!r} is not Key=Value")
        args[key] = value
    try:
        settings = ws.provider_settings(ws.load_specs())
    except ReconcilerError:
        settings = ws.provider_settings(None)
    cloud = ws.sandbox(settings)
    try:
        response = cloud.call(action, args)
    except ReconcilerError as exc:
        if exc.__class__.__name__ == "CloudError":
            _json({"Code": exc.code, "Message": exc.detail, "HttpStatus": getattr(exc, "http_status", 400)})
            sys.exit(1)
        raise
    finally:
        cloud.close()
    _json(response)


def load_commands() -> None:
    """Add the commands that live in modules of their own (sorted by name)."""
    from reconciler.cli import drift, import_, refresh, report

    for module in (drift, import_, refresh, report):
        module.register(main)


load_commands()
