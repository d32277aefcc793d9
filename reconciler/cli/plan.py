"""``ipamctl plan``: the ordered actions that turn the recorded state into the desired one.

:func:`plan_workspace` (with its progress stages) is also what ``apply`` plans with.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Mapping, cast

import click

from reconciler.apply.recovery import pending_note
from reconciler.apply.reservations import DEFAULT_TTL, plan_checksum, reserved_blocks, store_of
from reconciler.apply.reservations import reserve as reserve_blocks
from reconciler.apply.session import plan_key
from reconciler.cli import memo, render
from reconciler.cli.files import resolve, write_output
from reconciler.cli.progress import Progress
from reconciler.cli.render_markdown import render_markdown
from reconciler.errors import StateError
from reconciler.planner import make_plan
from reconciler.plans import planfile
from reconciler.plans.order import Plan
from reconciler.states.local import LocalStateBackend
from reconciler.states.state import State
from reconciler.workspace import Workspace, plan_lineage

# What `plan` shows progress through: load the specs, read the state, the core's stages, write the output.
PLAN_STAGES = ("load", "state", "validate", "graph", "resolve", "diff", "order", "output")


def plan_progress(as_json: bool) -> Progress:
    """The bar of the planning stages (none with ``--json``)."""
    return Progress("Planning", len(PLAN_STAGES), enabled=not as_json, interval=0)


def plan_workspace(ws: Workspace, refresh: bool = False, bar: Progress | None = None) -> tuple[Plan, State, dict]:
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
    resources: Mapping[str, dict] = state.resources
    if refresh:
        from reconciler.observe.refresh import refreshed_resources

        resources = refreshed_resources(ws, state, settings)
    outside = ws.read_external_pools(doc, settings)
    plan = make_plan(doc, resources, lineage=plan_lineage(state), serial=state.serial,  # type: ignore[arg-type]
                     supply=ws.ipv6_supply(settings), external=external,
                     imports=ws.read_imports(doc, resources, settings), discovered=ws.read_discovered(doc, settings),
                     reserved=reserved_blocks(store_of(ws.backend()), resources, outside),
                     external_pools=outside, stage=stage)
    stage("output")
    return plan, state, settings


def plan(ws: Workspace, *, out: str | None, as_json: bool, detailed_exitcode: bool, refresh: bool,
         colour: bool, reserve: bool = False, reservation_ttl: int = DEFAULT_TTL, markdown: bool = False,
         compact: bool = False) -> int:
    if as_json and markdown:
        raise click.UsageError("--json and --markdown: choose one output")
    note = pending_note(ws.backend())
    if note:
        click.echo(note, err=True)
    plain = not (out or as_json or markdown or refresh or reserve or note) and memo.utf8_stdout()
    inputs = memo.snapshot(ws.root) if plain else None  # the files as they were before planning
    key = plan_key() if out or as_json else None  # signs what is saved or printed (IPAMCTL_PLAN_KEY)
    if out:
        ws.backend().fix_lineage()  # binds the saved plan to this workspace, even before its first apply
    with plan_progress(as_json) as bar:
        planned, state, settings = plan_workspace(ws, refresh, bar)
        store = store_of(ws.backend())
        if reserve and store is None:
            raise StateError("State.NoSharedBackend", "plan --reserve records the chosen blocks on a shared state "
                             "backend (`backend: {type: postgres, ...}`); the local backend has none")
        # one body for the file and stdout; stdout's document adds the derived sections (reconciler/plans/tfjson.py)
        document = planfile.Document(planned, settings["type"], settings, key=key) if out or reserve or as_json else None
        data = document.saved() if document is not None and (out or reserve) else None
        if out:
            _write_plan(resolve(ws.root, out), cast(bytes, data))
        printed = None
        if document is not None and as_json and reserve and not out:  # a reservation binds the bytes apply
            printed = document.printed(compact)  # will be given: these
        bound = data if out or not as_json else printed
        held = (reserve_blocks(store, planned, state.resources, plan_checksum(cast(bytes, bound)), reservation_ttl)
                if store is not None and (out or reserve) else [])
        text = None if as_json else (render_markdown(planned) if markdown else render.render_plan(planned, colour))
    if as_json:
        if printed is not None:
            click.echo(printed, nl=False)
        else:  # written a piece at a time: the whole document is never held in memory
            sys.stdout.flush()  # (bytes go under the text layer: nothing of it may be left before them)
            cast(planfile.Document, document).write_printed(sys.stdout.buffer.write, compact)
            sys.stdout.buffer.flush()
    else:
        click.echo(text, nl=False)
        if out:
            click.echo(f"\nSaved the plan to {out}. Apply exactly this plan with: ipamctl apply {out}",
                       err=markdown)  # (a comment on stdout holds the comment only)
        if held:
            click.echo(f"Reserved {len(held)} block(s) for this plan until {held[0].expires}; no other "
                       "workspace's plan will choose them.", err=markdown)
    code = 2 if detailed_exitcode and planned.has_changes else 0
    if (inputs is not None and text is not None and not planned.has_changes and not ws.read_outside
            and isinstance(ws.backend(), LocalStateBackend)):
        memo.keep(ws.root, inputs, colour=colour, detailed=detailed_exitcode, code=code, text=text)
    ws.keep(planned, document, data, printed, text)
    return code


def _write_plan(path: Path, data: bytes) -> None:
    write_output(path, data)
