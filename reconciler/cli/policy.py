"""``ipamctl policy [--plan FILE] [--drift]``: the least-privilege RAM policy, as JSON.

Without ``--plan`` the specs are planned (against the recorded state, with the plan-time reads) and
the policy covers that plan and those reads: what ``ipamctl apply`` needs now. With ``--plan`` it
covers applying exactly that saved plan. ``--drift`` adds what drift, refresh, import and report read.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli import render
from reconciler.cli.files import resolve
from reconciler.cli.plan import plan_workspace
from reconciler.errors import StateError
from reconciler.plans import planfile
from reconciler.providers.policy import plan_calls, ram_policy, spec_reads
from reconciler.providers.sdk import ram_action
from reconciler.workspace import Workspace, plan_lineage


def policy(ws: Workspace, *, plan_path: str | None, drift: bool) -> int:
    if plan_path:
        path = resolve(ws.root, plan_path)
        if not Path(path).is_file():
            raise StateError("Plan.NotFound", f"{plan_path}: no such plan file")
        state = ws.read_state()
        planned, _ = planfile.from_json(Path(path).read_bytes(), path=plan_path, lineage=plan_lineage(state),
                                        serial=state.serial)
        calls = plan_calls(planned)
        if drift:
            calls |= spec_reads({}, drift=True)
    else:
        doc = ws.load_specs()
        planned, _, _ = plan_workspace(ws)
        ws.keep(planned)
        calls = plan_calls(planned) | spec_reads(doc.data if isinstance(doc.data, dict) else {}, drift=drift)
    click.echo(render.json_text(ram_policy(calls, ram_action)))
    return 0
