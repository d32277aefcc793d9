"""``ipamctl show [PLANFILE]``: the recorded state, every resource with its id and CIDRs; or a saved plan
(as ``plan`` prints it, as its JSON document, or as a pull-request comment)."""

from __future__ import annotations

import sys

import click
import orjson

from reconciler.apply.session import plan_key
from reconciler.cli import render
from reconciler.cli.files import resolve
from reconciler.cli.render_markdown import render_markdown
from reconciler.errors import StateError
from reconciler.plans import planfile
from reconciler.workspace import Workspace


def show(ws: Workspace, *, planfile_path: str | None = None, as_json: bool = False, markdown: bool = False,
         colour: bool = False, compact: bool = False) -> int:
    if as_json and markdown:
        raise click.UsageError("--json and --markdown: choose one output")
    if planfile_path is not None:
        return _show_plan(ws, planfile_path, as_json, markdown, colour, compact)
    if markdown:
        raise click.UsageError("--markdown shows a saved plan: ipamctl show --markdown PLANFILE")
    state = ws.read_state()
    if as_json:
        doc = {"lineage": state.lineage if state.serial else None, "serial": state.serial,
               "resources": state.resources_dict()}
        click.echo(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode() if compact else render.json_text(doc))
    else:
        click.echo(render.render_state(state.resources, state.lineage, state.serial), nl=False)
    return 0


def _show_plan(ws: Workspace, path_text: str, as_json: bool, markdown: bool, colour: bool, compact: bool) -> int:
    """A saved plan, wherever it was made (a reviewer's copy of a pipeline's artifact): checked whole, and
    signed when IPAMCTL_PLAN_KEY is set, but not against this workspace's state."""
    path = resolve(ws.root, path_text)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StateError("Plan.NotFound", f"{path_text}: no such plan file") from None
    except OSError as exc:
        raise StateError("Plan.Unreadable", f"{path_text}: {exc.strerror or exc}") from None
    if as_json:  # the document plan --json printed for this plan: with Terraform's sections, which no file holds
        sys.stdout.flush()  # (bytes go under the text layer: nothing of it may be left before them)
        planfile.write_terraform_json(sys.stdout.buffer.write, data, path=path_text, key=plan_key(), compact=compact)
        sys.stdout.buffer.flush()
        return 0
    plan, _ = planfile.read(data, path=path_text, key=plan_key())
    if markdown:
        click.echo(render_markdown(plan), nl=False)
    else:
        click.echo(render.render_plan(plan, colour), nl=False)
    return 0
