"""``ipamctl``: a thin click front end. It parses the command line and dispatches: each command is a
function of :mod:`reconciler.cli` (``cli/<command>.py``) that takes plain arguments, calls the core,
renders, and returns the exit code, which this module makes the process's.

Exit codes: 0 success (or no changes), 1 error, 2 changes present with ``--detailed-exitcode``.
A :class:`ReconcilerError` a command raises is rendered here (stderr, or the ``--json`` errors
document on stdout) and exits 1.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from reconciler.cli import render
from reconciler.cli.apply import apply
from reconciler.cli.drift import drift
from reconciler.cli.fmt import fmt
from reconciler.cli.force_unlock import force_unlock
from reconciler.cli.graph import graph
from reconciler.cli.import_ import import_
from reconciler.cli.plan import plan
from reconciler.cli.policy import policy
from reconciler.cli.refresh import refresh
from reconciler.cli.reservations import reservations_list, reservations_release
from reconciler.cli.render_os_config import render_os_config
from reconciler.cli.report import report
from reconciler.cli import accounts
from reconciler.cli.sandbox import sandbox_call as sandbox_call_
from reconciler.cli.sandbox import sandbox_serve as sandbox_serve_
from reconciler.cli.schema import schema
from reconciler.cli.show import show
from reconciler.cli.state import state_history as state_history_
from reconciler.cli.state import state_list as state_list_
from reconciler.cli.state import state_migrate as state_migrate_
from reconciler.cli.state import state_pull as state_pull_
from reconciler.cli.state import state_push as state_push_
from reconciler.cli.state import state_show as state_show_
from reconciler.cli.validate import validate
from reconciler.errors import ReconcilerError
from reconciler.workspace import Workspace

Obj = dict[str, Any]  # ctx.obj: {"ws": Workspace, "colour": bool}


def _fail(error: ReconcilerError, as_json: bool) -> NoReturn:
    if as_json:
        click.echo(render.json_text(render.errors_document(error)))
    else:
        click.echo(render.render_errors(error), err=True, nl=False)
    sys.exit(1)


def _exit(code: int) -> None:
    """A command's exit code made the process's (0: return, and click ends the process with 0)."""
    if code:
        sys.exit(code)


def _ws(obj: Obj) -> Workspace:
    ws: Workspace = obj["ws"]
    return ws


def _colour(obj: Obj) -> bool:
    return obj["colour"] and sys.stdout.isatty()


def _compact(flag: bool | None) -> bool:
    """One-line JSON: as asked, else when stdout is no terminal (terraform-compliance reads one line)."""
    return not sys.stdout.isatty() if flag is None else flag


COMPACT_HELP = "--json on one line (the default when stdout is not a terminal); --no-compact indents."


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ReconcilerError as exc:
            _fail(exc, "--json" in sys.argv)


@click.group(cls=_Group)
@click.option("-C", "--chdir", "chdir", default=".", type=click.Path(file_okay=False), help="Workspace folder.")
@click.option("--no-color", is_flag=True, help="Plain output even on a terminal.")
@click.version_option(package_name="ipam-reconciler")
@click.pass_context
def main(ctx: click.Context, chdir: str, no_color: bool) -> None:
    """Declarative IP address management: plan and apply an address plan kept in Git."""
    # A short-lived process that builds large object graphs, acyclic in the main: with the cyclic
    # collector on, even collecting rarely, a large plan spends a good part of its time in it and
    # frees nothing of note (peak memory is the same without it; docs/performance.md). Off while a command
    # runs (an apply turns it back on for its long loop of calls), restored when the command ends.
    if gc.isenabled():
        gc.disable()
        ctx.call_on_close(gc.enable)
    gc.freeze()
    ctx.obj = {"ws": Workspace(Path(chdir)), "colour": not no_color}


@main.command("validate")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def validate_cmd(obj: Obj, as_json: bool) -> None:
    """Parse, validate and graph the specs (no state needed)."""
    _exit(validate(_ws(obj), as_json=as_json))


@main.command("fmt")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 naming each file not in the layout.")
@click.pass_obj
def fmt_cmd(obj: Obj, check: bool) -> None:
    """Rewrite the YAML spec files in the canonical layout (key order, one-line short entries), comments kept."""
    _exit(fmt(_ws(obj), check=check))


@main.command("plan")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Save the plan for `apply PLANFILE`.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable plan on stdout.")
@click.option("--markdown", is_flag=True, help="The plan as a pull-request comment (Markdown) on stdout.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@click.option("--refresh", is_flag=True, help="Plan from what the provider reads now instead of the recorded state.")
@click.option("--reserve", is_flag=True, help="Reserve the chosen blocks on the shared backend (a preview; --out "
              "reserves too).")
@click.option("--reservation-ttl", type=click.IntRange(60, 30 * 86400), default=86400, show_default=True,
              help="Seconds a reservation lasts.")
@click.option("--compact/--no-compact", default=None, help=COMPACT_HELP)
@click.option("--full", is_flag=True, help="Plan in full even when the memo of a no-change plan (state/plan.memo) "
              "answers.")
@click.pass_obj
def plan_cmd(obj: Obj, out: str | None, as_json: bool, markdown: bool, detailed_exitcode: bool, refresh: bool,
             reserve: bool, reservation_ttl: int, compact: bool | None, full: bool) -> None:
    """Show the ordered actions that turn the recorded state into the desired one."""
    # (--full is read by the process's entry point, which answers from the memo only without it; here
    # the plan is made in full in any case)
    _exit(plan(_ws(obj), out=out, as_json=as_json, detailed_exitcode=detailed_exitcode, refresh=refresh,
               colour=_colour(obj), reserve=reserve, reservation_ttl=reservation_ttl, markdown=markdown,
               compact=_compact(compact)))


@main.command("apply")
@click.argument("planfile_path", metavar="[PLANFILE]", required=False, type=click.Path(dir_okay=False))
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--lock-timeout", default=0.0, type=float, help="Seconds to wait for the workspace lock.")
@click.pass_obj
def apply_cmd(obj: Obj, planfile_path: str | None, auto_approve: bool, as_json: bool, lock_timeout: float) -> None:
    """Apply a saved plan, or plan and apply after confirmation.

    First, under the lock, the calls an interrupted apply left in flight are re-issued with their
    ClientTokens and recorded (see docs/reliability.md); only then is anything planned or checked."""
    _exit(apply(_ws(obj), planfile_path=planfile_path, auto_approve=auto_approve, as_json=as_json,
                lock_timeout=lock_timeout, colour=_colour(obj)))


@main.command("show")
@click.argument("planfile_path", metavar="[PLANFILE]", required=False, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@click.option("--markdown", is_flag=True, help="PLANFILE as a pull-request comment.")
@click.option("--compact/--no-compact", default=None, help=COMPACT_HELP)
@click.pass_obj
def show_cmd(obj: Obj, planfile_path: str | None, as_json: bool, markdown: bool, compact: bool | None) -> None:
    """The recorded state (every resource with its id and CIDRs), or a saved plan."""
    _exit(show(_ws(obj), planfile_path=planfile_path, as_json=as_json, markdown=markdown, colour=_colour(obj),
               compact=_compact(compact)))


@main.group("state")
def state_group() -> None:
    """Inspect the recorded state, its kept versions; move it between backends."""


@state_group.command("list")
@click.pass_obj
def state_list(obj: Obj) -> None:
    """Every address in the state."""
    _exit(state_list_(_ws(obj)))


@state_group.command("show")
@click.argument("address")
@click.option("--serial", type=click.IntRange(0),
              help="From the kept version with this serial (see `state history`).")
@click.pass_obj
def state_show(obj: Obj, address: str, serial: int | None) -> None:
    """One resource of the state, with every attribute."""
    _exit(state_show_(_ws(obj), address=address, serial=serial))


@state_group.command("history")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def state_history(obj: Obj, as_json: bool) -> None:
    """Every kept version of the state: serial, lineage, time, resource count."""
    _exit(state_history_(_ws(obj), as_json=as_json))


@state_group.command("pull")
@click.option("--serial", type=click.IntRange(0), help="A kept older version instead of the current state.")
@click.pass_obj
def state_pull(obj: Obj, serial: int | None) -> None:
    """The state as JSON on stdout (the snapshot format, journal included)."""
    _exit(state_pull_(_ws(obj), serial=serial))


@state_group.command("push")
@click.argument("path", metavar="FILE")
@click.option("--force", is_flag=True, help="Write it even with a lower serial or another lineage.")
@click.option("--lock-timeout", default=0.0, type=float, help="Seconds to wait for the workspace lock.")
@click.pass_obj
def state_push(obj: Obj, path: str, force: bool, lock_timeout: float) -> None:
    """Write a state file (`-`: stdin) as the new version of the state, under the lock."""
    _exit(state_push_(_ws(obj), path=path, force=force, lock_timeout=lock_timeout))


@state_group.command("migrate")
@click.option("--to", "to", required=True, type=click.Choice(["configured", "local"]),
              help="configured: local files -> the `backend:` block's backend; local: back.")
@click.option("--lock-timeout", default=0.0, type=float, help="Seconds to wait for each lock.")
@click.pass_obj
def state_migrate(obj: Obj, to: str, lock_timeout: float) -> None:
    """Copy the state (its versions, pending intents) between the local files and the configured backend."""
    _exit(state_migrate_(_ws(obj), to=to, lock_timeout=lock_timeout))


@main.command("graph")
@click.pass_obj
def graph_cmd(obj: Obj) -> None:
    """The dependency graph of the specs, in DOT."""
    _exit(graph(_ws(obj)))


@main.command("schema")
def schema_cmd() -> None:
    """JSON Schema of the spec format (for editors)."""
    _exit(schema())


@main.command("render-os-config")
@click.argument("address")
@click.option("--os", "family", required=True, type=click.Choice(["rhel", "debian", "sles", "windows"]))
@click.option("--device", default=None, help="Interface name in the guest (default eth0 for a primary ENI, "
              "eth1... for the instance's other ENIs in the order apply attaches them: address order).")
@click.option("--adapter", default="Ethernet", help="Windows adapter name.")
@click.pass_obj
def render_os_config_cmd(obj: Obj, address: str, family: str, device: str | None, adapter: str) -> None:
    """The guest configuration of an attached ENI's secondary IPs, prefixes and IPv6 (from the recorded state)."""
    _exit(render_os_config(_ws(obj), address=address, family=family, device=device, adapter=adapter))


@main.command("force-unlock")
@click.argument("lock_id")
@click.pass_obj
def force_unlock_cmd(obj: Obj, lock_id: str) -> None:
    """Remove a stale workspace lock left by a process that is gone."""
    _exit(force_unlock(_ws(obj), lock_id=lock_id))


@main.group("sandbox")
def sandbox_group() -> None:
    """The embedded sandbox cloud."""


@sandbox_group.command("call", context_settings={"ignore_unknown_options": True})
@click.argument("action")
@click.argument("params", nargs=-1)
@click.pass_obj
def sandbox_call(obj: Obj, action: str, params: tuple[str, ...]) -> None:
    """Call the sandbox with Alibaba API names and parameters: ACTION Key=Value ..."""
    _exit(sandbox_call_(_ws(obj), action=action, params=params))


@sandbox_group.group("account")
def account_group() -> None:
    """The sandbox's accounts and RAM users (their keys are printed once, on creation)."""


@account_group.command("create")
@click.option("--name", help="The account's name.")
@click.pass_obj
def account_create(obj: Obj, name: str | None) -> None:
    """Create an account; prints its id and root key (id and secret)."""
    _exit(accounts.account_create(_ws(obj), name=name))


@account_group.command("list")
@click.pass_obj
def account_list(obj: Obj) -> None:
    """Every account, its RAM users and their key ids (never a secret)."""
    _exit(accounts.account_list(_ws(obj)))


@account_group.group("user")
def user_group() -> None:
    """RAM users of an account."""


@user_group.command("create")
@click.argument("account_id")
@click.argument("user_name")
@click.option("--policy", type=click.Path(dir_okay=False), metavar="FILE",
              help="RAM policy (JSON) attached to the user; without one it may do nothing.")
@click.pass_obj
def user_create(obj: Obj, account_id: str, user_name: str, policy: str | None) -> None:
    """Create a RAM user of ACCOUNT_ID with a key; prints the key (id and secret)."""
    _exit(accounts.user_create(_ws(obj), account=account_id, user=user_name, policy=policy))


@sandbox_group.group("directory")
def directory_group() -> None:
    """The sandbox's resource directory: a management account and members."""


@directory_group.command("create")
@click.option("--master", required=True, metavar="ACCOUNT_ID", help="The management account.")
@click.pass_obj
def directory_create(obj: Obj, master: str) -> None:
    """Create a resource directory managed by ACCOUNT_ID."""
    _exit(accounts.directory_create(_ws(obj), master=master))


@directory_group.command("add-member")
@click.argument("directory_id")
@click.argument("account_id")
@click.pass_obj
def directory_add(obj: Obj, directory_id: str, account_id: str) -> None:
    """Make ACCOUNT_ID a member of the resource directory DIRECTORY_ID."""
    _exit(accounts.directory_add(_ws(obj), directory=directory_id, account=account_id))


@sandbox_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback must be asked for explicitly.")
@click.option("--port", default=0, type=click.IntRange(0, 65535), show_default=True, help="0: pick a free port.")
@click.option("--port-file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the port number here (atomically) once the socket listens.")
@click.option("--db", type=click.Path(dir_okay=False), metavar="PATH",
              help="Sandbox database (default: the workspace's, state/sandbox.db).")
@click.option("--pending", default=0.0, type=float, metavar="SECONDS",
              help="New VPCs, vSwitches and vSwitch CIDR reservations stay Pending this long.")
@click.option("--throttle", type=float, metavar="RATE", help="At most RATE calls a second per access key.")
@click.option("--page-size", type=int, metavar="N", help="Cap every list's page at N rows.")
@click.option("--policy", type=click.Path(dir_okay=False), metavar="FILE",
              help="RAM policy (JSON) bound to the sandbox key.")
@click.option("--require-open-service", is_flag=True, help="CreateIpam needs OpenVpcIpamService first.")
@click.option("--log", "log", type=click.Path(dir_okay=False), metavar="FILE", help="One JSON line per call.")
@click.pass_obj
def sandbox_serve(obj: Obj, host: str, port: int, port_file: str | None, db: str | None, pending: float,
                  throttle: float | None, page_size: int | None, policy: str | None, require_open_service: bool,
                  log: str | None) -> None:
    """Serve the sandbox over HTTP to the official SDK clients until SIGINT / SIGTERM."""
    _exit(sandbox_serve_(_ws(obj), host=host, port=port, port_file=port_file, db=db, pending=pending,
                         throttle=throttle, page_size=page_size, policy=policy, log=log,
                         require_open_service=require_open_service))


@main.command("drift")
@click.option("--json", "as_json", is_flag=True, help="The drift report as JSON on stdout.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there is drift (0 none, 1 error).")
@click.option("--history", is_flag=True, help="Also read resource discovery and record the monitoring figures "
              "in the history (as report --history does).")
@click.pass_obj
def drift_cmd(obj: Obj, as_json: bool, detailed_exitcode: bool, history: bool) -> None:
    """Compare the recorded state with the cloud: changed, missing and unmanaged resources."""
    _exit(drift(_ws(obj), as_json=as_json, detailed_exitcode=detailed_exitcode, history=history))


@main.command("import")
@click.argument("address")
@click.argument("resource_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True)
@click.option("--lock-timeout", default=0.0, type=float, help="Seconds to wait for the workspace lock.")
@click.pass_obj
def import_cmd(obj: Obj, address: str, resource_id: str, as_json: bool, lock_timeout: float) -> None:
    """Adopt the cloud resource ID into the state as ADDRESS (e.g. vpc.legacy vpc-2ze...)."""
    _exit(import_(_ws(obj), address=address, resource_id=resource_id, as_json=as_json, lock_timeout=lock_timeout))


@main.command("policy")
@click.option("--plan", "plan_path", metavar="FILE", help="The saved plan to apply (default: plan the specs now).")
@click.option("--drift", is_flag=True, help="Also what drift, refresh, import and report read.")
@click.pass_obj
def policy_cmd(obj: Obj, plan_path: str | None, drift: bool) -> None:
    """The least-privilege RAM policy (JSON) that applying the specs or a saved plan needs."""
    _exit(policy(_ws(obj), plan_path=plan_path, drift=drift))


@main.group("reservations")
def reservations_group() -> None:
    """Blocks plans reserved on the shared state backend."""


@reservations_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def reservations_list_cmd(obj: Obj, as_json: bool) -> None:
    """Every live reservation: block, pool, workspace, expiry, plan."""
    _exit(reservations_list(_ws(obj), as_json=as_json))


@reservations_group.command("release")
@click.option("--plan", "plan_checksum", metavar="CHECKSUM", help="The plan's checksum (or its first characters).")
@click.option("--workspace", metavar="NAME", help="Every reservation of a workspace.")
@click.option("--expired", is_flag=True, help="Those past their time.")
@click.pass_obj
def reservations_release_cmd(obj: Obj, plan_checksum: str | None, workspace: str | None, expired: bool) -> None:
    """Give reserved blocks back before they expire."""
    _exit(reservations_release(_ws(obj), plan=plan_checksum, workspace=workspace, expired=expired))


@main.command("refresh")
@click.option("--json", "as_json", is_flag=True)
@click.option("--lock-timeout", default=0.0, type=float, help="Seconds to wait for the workspace lock.")
@click.pass_obj
def refresh_cmd(obj: Obj, as_json: bool, lock_timeout: float) -> None:
    """Write what the cloud holds now into the recorded state."""
    _exit(refresh(_ws(obj), as_json=as_json, lock_timeout=lock_timeout))


@main.command("report")
@click.option("--json", "as_json", is_flag=True, help="The report as a JSON document on stdout (--format json).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "openmetrics"]), default=None,
              help="text (default), json, or openmetrics: the current figures for Prometheus (textfile "
                   "collector, Pushgateway).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the output to FILE (atomically: a temp file renamed over it) instead of stdout.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write a self-contained HTML page (pool tree, address maps, overlaps, monitoring charts).")
@click.option("--history", is_flag=True,
              help="Record this run's figures in the monitoring history (state/report-history.jsonl, or the "
                   "postgres backend's history table).")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 2 when a figure is above its monitoring threshold (0 none, 1 error).")
@click.pass_obj
def report_cmd(obj: Obj, as_json: bool, fmt: str | None, out_path: str | None, html_path: str | None, history: bool,
               detailed_exitcode: bool) -> None:
    """Pool utilization, VPC and vSwitch IP usage, overlaps and compliance, and the thresholds crossed."""
    if as_json and fmt not in (None, "json"):
        raise click.UsageError("--json is --format json; give one of them")
    chosen = "json" if as_json else fmt or "text"
    _exit(report(_ws(obj), fmt=chosen, html_path=html_path, history=history, detailed_exitcode=detailed_exitcode,
                 out_path=out_path))
