"""``ipamctl report [--json | --format text|json|openmetrics | --html FILE] [--out FILE] [--history]
[--detailed-exitcode]``: the monitoring report.

The edge: it reads the recorded state, the specs' ``monitoring:`` block, runs discovery against the
provider, reads the clock, and appends to / reads the state backend's monitoring history
(:mod:`reconciler.states.history`); everything else is pure (:mod:`reconciler.report.model`,
:mod:`reconciler.report.monitor`, :mod:`reconciler.report.text`, :mod:`reconciler.report.html`,
:mod:`reconciler.report.openmetrics`). Exit codes: 0, 1 on an error, and 2 with
``--detailed-exitcode`` when a figure is above its threshold.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Mapping

import click

from reconciler.cli.files import resolve, write_output
from reconciler.errors import ReconcilerError, StateError
from reconciler.states.history import HISTORY_FILE as HISTORY
from reconciler.states.history import Retention
from reconciler.workspace import Workspace

FORMATS = ("text", "json", "openmetrics")


def monitoring_settings(ws: Workspace):
    """The ``monitoring:`` block (thresholds, retention) and where it came from; the defaults when the
    specs do not load (said in the output), an error when the block itself is invalid."""
    from reconciler.models.monitoring import monitoring_spec

    try:
        doc = ws.load_specs()
    except ReconcilerError as exc:
        return monitoring_spec(None), f"defaults: the specs did not load ({exc.code})"
    return monitoring_spec(doc), "specs" if isinstance(doc.data, dict) and "monitoring" in doc.data else "defaults"


def retention_of(spec) -> Retention:
    return Retention(spec.history.max_age_days, spec.history.max_samples)


def known_scopes(resources: Mapping[str, dict]) -> list[str]:
    return sorted(r["name"] for r in resources.values() if r["type"] == "ipam_scope")


def report(ws: Workspace, *, fmt: str, html_path: str | None, history: bool, detailed_exitcode: bool = False,
           out_path: str | None = None) -> int:
    from reconciler.report.model import build_report
    from reconciler.report.monitor import alerts, freshness, sample
    from reconciler.report.text import render_text, to_document

    if html_path and (fmt != "text" or out_path):
        raise StateError("Report.Options", "--json and --html are alternatives (so are --format and --out with "
                         "--html); give one of them")
    spec, source = monitoring_settings(ws)
    backend = ws.backend()
    state = backend.read()
    now = datetime.now(timezone.utc)
    discovered, discovery = _discover(ws, state.resources)
    built = build_report(state.resources, discovered, now=now)
    discovery = freshness(discovery, built.generated_at or "", backend.written_at(), built)
    scopes = known_scopes(state.resources)
    found = alerts(built, spec, scopes)
    monitoring = {"thresholds": spec.effective(), "thresholds_from": source, "crossed": bool(found),
                  "alerts": [a.to_dict() for a in found]}
    store = backend.history()
    if history:
        store.append(sample(built, found, command="report", discovery=discovery, known_scopes=scopes),
                     retention_of(spec), now)
    if html_path:
        from reconciler.report.html import render_html

        page = render_html(built, store.read(retention_of(spec), now), discovery, spec=spec, alerts=found)
        write_output(resolve(ws.root, html_path), page.encode())
        click.echo(f"Wrote the report to {html_path}.")
        if found:
            click.echo(_alert_lines(found), nl=False)
    else:
        if fmt == "json":
            body = json.dumps({**to_document(built, discovery), "monitoring": monitoring}, indent=2, sort_keys=True) + "\n"
        elif fmt == "openmetrics":
            from reconciler.report.openmetrics import render_openmetrics

            body = render_openmetrics(built, found, discovery, scopes)
        else:
            body = render_text(built, discovery) + _freshness_line(discovery) + _alert_lines(found, source)
        if out_path:
            write_output(resolve(ws.root, out_path), body.encode())
            click.echo(f"Wrote the report ({fmt}) to {out_path}.")
        else:
            click.echo(body, nl=False)
    if history and fmt == "text":
        click.echo(f"Recorded this run's figures in {store.description}.")
    if discovery.get("may_lag") and fmt != "text":
        click.echo(f"Warning: {discovery['warning']}", err=True)
    return 2 if detailed_exitcode and found else 0


def _freshness_line(discovery: Mapping) -> str:
    if discovery.get("status") != "ok":
        return ""
    line = f"\nDiscovery read at {discovery['read_at']} (the cloud updates it every 5 minutes)"
    if discovery.get("state_written_at"):
        line += f"; the state was last written at {discovery['state_written_at']}"
    line += ".\n"
    if discovery.get("may_lag"):
        line += f"Warning: {discovery['warning']}.\n"
    return line


def _alert_lines(found, source: str | None = None) -> str:
    if not found:
        return "\nThresholds: none crossed" + (f" ({source})" if source else "") + ".\n"
    head = f"\nThresholds crossed: {len(found)}" + (f" ({source})" if source else "") + "\n"
    return head + "".join(f"  ! {a.message}\n" for a in found)


def _discover(ws: Workspace, resources: Mapping[str, dict]) -> tuple[tuple, dict]:
    """Every VPC and vSwitch CIDR of the recorded IPAM's regions, read through resource discovery
    (reading creates nothing: a sandbox never created reads as an empty cloud)."""
    from reconciler.observe.discovery import discover

    ipam = next((r for r in resources.values() if r["type"] == "ipam"), None)
    if ipam is None:
        return (), {"status": "not-run", "message": "no IPAM in the recorded state", "cidrs": 0}
    a = ipam["attributes"]
    regions = sorted({r for r in [a.get("region"), *(a.get("operating_regions") or ())] if r})
    try:
        settings = ws.provider_settings(ws.load_specs())
    except ReconcilerError:
        settings = ws.provider_settings(None)
    client = ws.cloud_reader(settings)
    try:
        found = tuple(discover(client, regions))
    finally:
        client.close()
    return found, {"status": "ok", "cidrs": len(found)}
