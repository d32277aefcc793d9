"""``ipamctl report [--json | --html FILE] [--history]``: the monitoring report.

The edge: it reads the recorded state, runs discovery against the provider, reads the clock, and
appends to / reads ``state/report-history.jsonl``; everything else is pure
(:mod:`reconciler.report.model`, :mod:`reconciler.report.text`, :mod:`reconciler.report.html`).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

import click

from reconciler.cli.files import resolve, write_output
from reconciler.errors import ReconcilerError, StateError
from reconciler.workspace import Workspace

HISTORY = "report-history.jsonl"


def report(ws: Workspace, *, as_json: bool, html_path: str | None, history: bool) -> int:
    from reconciler.report.model import build_report
    from reconciler.report.text import render_text, to_document

    if as_json and html_path:
        raise StateError("Report.Options", "--json and --html are alternatives; give one of them")
    state = ws.read_state()
    discovered, discovery = _discover(ws, state.resources)
    built = build_report(state.resources, discovered, now=datetime.now(timezone.utc))
    history_path = ws.state_dir / HISTORY
    if history:
        append_history(history_path, built.headline())
    if as_json:
        click.echo(json.dumps(to_document(built, discovery), indent=2, sort_keys=True))
    elif html_path:
        from reconciler.report.html import render_html

        page = render_html(built, read_history(history_path), discovery)
        write_output(resolve(ws.root, html_path), page.encode())
        click.echo(f"Wrote the report to {html_path}.")
    else:
        click.echo(render_text(built, discovery), nl=False)
    if history and not as_json:
        click.echo(f"Recorded this run's figures in {history_path}.")
    return 0


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


def append_history(path: Path, headline: dict) -> None:
    """One JSON line per run, written with one append and fsynced."""
    line = (json.dumps(headline, sort_keys=True, separators=(",", ":")) + "\n").encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StateError("State.WriteFailed", f"cannot append to {path}: {exc.strerror or exc}; "
                         "nothing was recorded") from None
    try:
        if os.fstat(fd).st_size:  # a torn last line from a crash: start on a fresh line
            with open(path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = b"\n" + line
        os.write(fd, line)
        os.fsync(fd)
    except OSError as exc:
        raise StateError("State.WriteFailed", f"cannot append to {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_history(path: Path) -> list[dict]:
    """The recorded runs, oldest first; lines that are not a run's figures are skipped."""
    out: list[dict] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("timestamp"), str) \
                and isinstance(entry.get("utilization"), dict):
            out.append(entry)
    return out


