"""``ipamctl drift [--json] [--detailed-exitcode] [--history]``: how the cloud differs from the recorded state.

Reads the state and the cloud, changes neither; ``--history`` also reads resource discovery and
records the monitoring sample ``report --history`` records (in the state backend's history). Exit codes: 0 no drift (or drift without
``--detailed-exitcode``), 2 drift with ``--detailed-exitcode``, 1 error. The regions read are the
state's, the IPAM's operating regions and the regions the specs name (when they load).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from reconciler.cli import render
from reconciler.errors import ReconcilerError
from reconciler.source.loader import SpecDocument
from reconciler.workspace import Workspace

if TYPE_CHECKING:  # the observe modules are imported where first needed (start-up time)
    from reconciler.observe.drift import DriftReport
    from reconciler.providers.alibaba_read import Unmanaged


def load_specs_or_none(ws: Workspace) -> SpecDocument | None:
    """The specs when they load (they only add regions here), else None."""
    try:
        return ws.load_specs()
    except ReconcilerError:
        return None


def read_ignore(ws: Workspace) -> tuple[str, ...]:
    from reconciler.observe.drift import IGNORE_FILE, parse_ignore

    path = ws.root / IGNORE_FILE
    try:
        return parse_ignore(path.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return ()


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)


def _unmanaged_line(u: Unmanaged) -> str:
    where = u.region or "-"
    if u.parent:
        where += f", in {u.parent}"
    text = f"{u.type} {u.id} ({where})"
    if u.name:
        text += f" \"{u.name}\""
    if u.cidrs:
        text += " " + ", ".join(u.cidrs)
    return text


def render_drift(report: DriftReport, serial: int) -> str:
    regions = ", ".join(report.regions) or "none"
    if not report.has_drift:
        out = [f"No drift. The cloud matches the recorded state (serial {serial}; regions {regions})."]
    else:
        out = [f"Drift between the recorded state (serial {serial}) and the cloud (regions {regions}):", ""]
        for c in report.changed:
            out.append(f"  ~ {c.address} ({c.id}) changed in the cloud")
            for a in c.attributes:
                if a.added or a.removed:
                    items = [f"+ {_value(v)}" for v in a.added] + [f"- {_value(v)}" for v in a.removed]
                    out.append(f"        {a.attribute}: {'; '.join(items)}")
                else:
                    out.append(f"        {a.attribute}: {_value(a.recorded)} -> {_value(a.observed)}")
        for m in report.missing:
            out.append(f"  - {m.address} ({m.id}) is gone from the cloud")
        for u in report.unmanaged:
            out.append(f"  ? {_unmanaged_line(u)} is not in the state")
    if report.elsewhere:
        out += ["", "Recorded by other workspaces of the shared backend (not drift):"]
        out += [f"    {_unmanaged_line(u)}: workspace {w}" for u, w in report.elsewhere]
    if report.service_managed:
        out += ["", "Service-managed ENIs (read only, never changed; not drift):"]
        out += [f"    {_unmanaged_line(u)}" for u in report.service_managed]
    if report.has_drift:
        s = report.to_dict()["summary"]
        line = f"Drift: {s['changed']} changed, {s['missing']} missing, {s['unmanaged']} unmanaged."
        if report.ignored:
            line += f" {len(report.ignored)} ignored (.driftignore)."
        out += ["", line, "`ipamctl plan --refresh` shows what apply would change back (to do it: `ipamctl refresh`, "
                "then `ipamctl apply`; plain `ipamctl plan` compares the specs with the recorded state and does not "
                "see drift); `ipamctl refresh` alone accepts what changed or is gone; `ipamctl import ADDRESS ID` "
                "adopts an unmanaged resource."]
    elif report.ignored:
        out.append(f"{len(report.ignored)} difference(s) ignored (.driftignore).")
    return "\n".join(out) + "\n"


def drift(ws: Workspace, *, as_json: bool, detailed_exitcode: bool, history: bool = False) -> int:
    from reconciler.observe.drift import drift as drift_report
    from reconciler.observe.drift import other_workspaces_ids
    from reconciler.observe.refresh import observe, spec_regions

    backend = ws.backend()
    state = backend.read()
    doc = load_specs_or_none(ws)
    observed = observe(ws, state.resources, ws.provider_settings(doc), spec_regions(doc))
    report = drift_report(state.resources, observed, read_ignore(ws), other_workspaces_ids(backend))
    discovery = _monitoring_sample(ws, backend, state) if history else _last_discovery(ws, backend)
    if as_json:
        body = {**report.to_dict(), "serial": state.serial, "discovery": discovery}
        click.echo(render.json_text(body))
    else:
        click.echo(render_drift(report, state.serial) + _discovery_text(discovery, history), nl=False)
    ws.keep(state, observed, report)
    return 2 if detailed_exitcode and report.has_drift else 0


def _monitoring_sample(ws: Workspace, backend, state) -> dict:
    """Read discovery, and record the monitoring sample of this run (``drift --history``): the same
    figures ``report --history`` records, so a scheduled drift job keeps the history too."""
    from datetime import datetime, timezone

    from reconciler.cli.report import _discover, known_scopes, monitoring_settings, retention_of
    from reconciler.report.model import build_report
    from reconciler.report.monitor import alerts, freshness, sample

    spec, _ = monitoring_settings(ws)
    now = datetime.now(timezone.utc)
    discovered, discovery = _discover(ws, state.resources)
    built = build_report(state.resources, discovered, now=now)
    discovery = freshness(discovery, built.generated_at or "", backend.written_at(), built)
    scopes = known_scopes(state.resources)
    store = backend.history()
    store.append(sample(built, alerts(built, spec, scopes), command="drift", discovery=discovery, known_scopes=scopes),
                 retention_of(spec), now)
    return {**discovery, "recorded_in": store.description}


def _last_discovery(ws: Workspace, backend) -> dict:
    """When discovery was last read, as the newest recorded sample says (drift itself reads the
    resources directly, not through discovery)."""
    from datetime import datetime, timezone

    from reconciler.cli.report import monitoring_settings, retention_of

    spec, _ = monitoring_settings(ws)
    last = backend.history().newest(retention_of(spec), datetime.now(timezone.utc))
    if not isinstance(last, dict) or not (last.get("discovery") or {}).get("read_at"):
        return {"status": "not-read", "last_read_at": None, "last_read_by": None}
    return {"status": "not-read", "last_read_at": last["discovery"]["read_at"], "last_read_by": last.get("command")}


def _discovery_text(discovery: dict, history: bool) -> str:
    if not history:
        last = discovery.get("last_read_at")
        return (f"Resource discovery was last read at {last} (by `ipamctl {discovery.get('last_read_by')} --history`); "
                "drift reads the resources directly.\n") if last else ""
    if discovery.get("status") != "ok":
        return f"Recorded this run's figures in {discovery['recorded_in']} (discovery: {discovery.get('message')}).\n"
    out = (f"Resource discovery read at {discovery['read_at']} (the cloud updates it every 5 minutes); recorded "
           f"this run's figures in {discovery['recorded_in']}.\n")
    if discovery.get("may_lag"):
        out += f"Warning: {discovery['warning']}.\n"
    return out
