"""The monitoring report as one self-contained HTML page (``ipamctl report --html FILE``): inline
CSS and SVG only, no scripts, nothing fetched from the network, so a reviewer can open it from a CI
artifact. Sections: summary, the pool tree with utilization bars, an address map of each pool, IP
usage of VPCs and vSwitches, overlaps, noncompliant resources, every resource CIDR, the thresholds
crossed, and the monitoring charts of each scope (:mod:`reconciler.report.charts`)."""

from __future__ import annotations

import re
from html import escape
from typing import Sequence

from reconciler.models.monitoring import MonitoringSpec
from reconciler.report.cidrs import CidrRef
from reconciler.report.charts import Series, scope_series
from reconciler.report.monitor import COUNT_LABELS, Alert, normalize
from reconciler.report.model import PoolReport, Report
from reconciler.report.ranges import human_count
from reconciler.report.ranges import human_pct as p
from reconciler.report.svg import (
    COLOURS,
    KIND_TEXT,
    address_map,
    hatch_defs,
    line_chart,
)
from reconciler.report.text import summary

CSS = """
:root{--ink:#1f2933;--muted:#66717d;--line:#e3e6ea;--bg:#f6f7f9;--ok:#2f855a;--bad:#c53030;--warn:#b7791f}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:22px 20px 40px}
h1{font-size:24px;margin:0 0 2px}h2{font-size:18px;margin:30px 0 10px}h3{font-size:14px;margin:0 0 6px}
.muted{color:var(--muted)}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0 6px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:150px}
.card b{display:block;font-size:24px}.card.bad b{color:var(--bad)}.card.ok b{color:var(--ok)}
.panel{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin:0 0 12px}
table{border-collapse:collapse;width:100%;font-size:13px;background:#fff;border:1px solid var(--line);border-radius:8px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:middle;white-space:nowrap}
th{font-size:12px;color:var(--muted);font-weight:600;background:#fafbfc}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr:last-child td{border-bottom:0}
tr.crossed td{background:#fdf1f1}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.tree{display:inline-block}.tree .arm{color:#b3bac3}
.bar{display:inline-flex;width:100px;height:12px;background:#eceff3;border-radius:3px;overflow:hidden;
vertical-align:middle;margin-right:8px}
.bar span{display:block;height:100%}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;background:#edf2f7}
.pill.Managed,.pill.Compliant,.pill.Nonoverlapping{background:#e6f4ea;color:var(--ok)}
.pill.Noncompliant,.pill.Overlapping{background:#fde8e8;color:var(--bad)}
.pill.Unmanaged{background:#fdf3e1;color:var(--warn)}
.note{padding:10px 14px;border-radius:8px;background:#e6f4ea;color:var(--ok);border:1px solid #c6e6d0}
.legend-row{display:flex;gap:16px;font-size:12px;color:var(--muted);margin:4px 0 12px}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
svg text.axis{fill:#66717d;font-size:10.5px}svg text.in{fill:#fff;font-weight:600}svg text.in-free{fill:#7b8591}
svg text.callout{font-weight:600}svg text.legend{fill:#1f2933}
details summary{cursor:pointer;color:var(--muted);margin:4px 0}
.scroll{overflow-x:auto}.sub{display:block;font-size:11.5px}
.swfree{background:repeating-linear-gradient(45deg,#eceff3 0 3px,#dde1e7 3px 5px);border:1px solid #c9ced6}
"""


def _e(text: object) -> str:
    return escape("" if text is None else str(text), quote=True)


def n(count: int | None) -> str:
    """A count as HTML: powers of two with a superscript (2<sup>72</sup>), x as a times sign."""
    return re.sub(r"2\^(\d+)", r"2<sup>\1</sup>", _e(human_count(count)).replace(" x ", " &times; "))


def render_html(report: Report, history: Sequence[dict] = (), discovery: dict | None = None,
                spec: MonitoringSpec | None = None, alerts: Sequence[Alert] = ()) -> str:
    s = summary(report)
    history = [x for x in map(normalize, history) if x is not None]
    when = f"generated {_e(report.generated_at)}" if report.generated_at else ""
    disc = discovery or {}
    note = ("" if disc.get("status") == "ok" else
            f' &middot; discovery: {_e(disc.get("message", "not run"))} (recorded state only)')
    cards = [("Pools", s["pools"], ""), ("Resource CIDRs", s["resource_cidrs"], ""),
             ("Unmanaged", s["unmanaged"], "bad" if s["unmanaged"] else "ok"),
             ("Overlaps", s["overlaps"], "bad" if s["overlaps"] else "ok"),
             ("Noncompliant", s["noncompliant"], "bad" if s["noncompliant"] else "ok"),
             ("Thresholds crossed", len(alerts), "bad" if alerts else "ok")]
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>IPAM report</title>", f"<style>{CSS}</style></head><body>", hatch_defs(), "<main>",
        f'<h1>IPAM report</h1><div class="muted">{when}{note}</div>',
        '<div class="cards">' + "".join(f'<div class="card {c}" id="card-{_e(k.lower().replace(" ", "-"))}">'
                                        f'<span class="muted">{_e(k)}</span><b>{v}</b></div>'
                                        for k, v, c in cards) + "</div>",
        '<h2 id="pools">Pools</h2>', _legend(("sub_pool", "vpc", "custom")), _pool_table(report.pools),
        '<h2 id="maps">Address maps</h2>', _legend(("sub_pool", "vpc", "custom", "free")),
        *(_map_panel(x) for x in report.pools),
        '<h2 id="usage">IP usage of VPCs and vSwitches</h2>', _usage_table(report),
        f'<h2 id="overlaps">Overlaps within each scope ({len(report.overlaps)})</h2>', _overlap_table(report),
        f'<h2 id="noncompliant">Noncompliant resources ({len(report.noncompliant)})</h2>', _noncompliant(report),
        f'<h2 id="resources">Resource CIDRs ({len(report.resources)})</h2>', _resource_table(report),
        f'<h2 id="alerts">Thresholds crossed ({len(alerts)})</h2>', _alerts(alerts),
        f'<h2 id="history">History ({len(history)} recorded run{"" if len(history) == 1 else "s"})</h2>',
        _history(report, history, spec),
        "</main></body></html>\n"]
    return "\n".join(parts)


def _alerts(alerts: Sequence[Alert]) -> str:
    if not alerts:
        return '<div class="note">No figure is above its monitoring threshold.</div>'
    rows = "".join(f'<tr class="alert"><td>{_e(a.threshold)}</td><td>{_e(a.scope)}</td><td>{_e(a.subject)}</td>'
                   f'<td class="num">{_fmt(a.value, "" if a.threshold in COUNT_LABELS else "%")}</td>'
                   f'<td class="num">{_fmt(a.limit, "" if a.threshold in COUNT_LABELS else "%")}</td></tr>'
                   for a in alerts)
    return ('<div class="scroll"><table><tr><th>Threshold</th><th>Scope</th><th>What</th><th class=num>Value</th>'
            f"<th class=num>Threshold</th></tr>{rows}</table></div>")


def _legend(kinds) -> str:
    return '<div class="legend-row">' + "".join(
        (f'<span><i class="sw swfree"></i>{KIND_TEXT[k]}</span>' if k == "free" else
         f'<span><i class="sw" style="background:{COLOURS[k]}"></i>{KIND_TEXT[k]}</span>') for k in kinds) + "</div>"


def _bar(x: PoolReport) -> str:
    if not x.total:
        return '<span class="bar"></span>'
    parts = [("sub_pool", x.allocated_to_sub_pools), ("vpc", x.allocated_to_resources - x.custom_allocations),
             ("custom", x.custom_allocations)]
    spans = "".join(f'<span style="width:{100 * v / x.total:.3f}%;background:{COLOURS[k]}" '
                    f'title="{KIND_TEXT[k]}: {n(v)}"></span>' for k, v in parts if v)
    return f'<span class="bar">{spans}</span>'


def _pool_table(pools: Sequence[PoolReport]) -> str:
    rows = []
    for x in pools:
        arm = ('<span class="arm">' + "&nbsp;&nbsp;&nbsp;" * (x.depth - 2) + "└─ </span>") if x.depth > 1 else ""
        rules = "" if x.min_mask is None and x.max_mask is None else \
            f' <span class="muted" title="allocation rules: min and max mask">/{x.min_mask}–/{x.max_mask}</span>'
        scope = "" if x.depth > 1 else f' <span class="muted">{_e(x.scope)} scope</span>'
        rows.append(
            f'<tr class="pool" id="pool-{_e(x.name)}"><td><span class="tree">{arm}<b>{_e(x.name)}</b></span>{scope}{rules}</td>'
            f'<td class="mono">{_e(", ".join(x.cidrs))}</td>'
            f'<td>{_bar(x)}<b class="util">{p(x.utilization_pct)}</b></td>'
            f'<td class="num">{n(x.total)}</td><td class="num">{n(x.allocated_to_sub_pools)}</td>'
            f'<td class="num">{n(x.allocated_to_resources)}</td><td class="num">{n(x.free)}</td>'
            f'<td class="mono">{_e(x.largest_free_block or "-")}</td>'
            f'<td class="num">{p(x.source_utilization_pct)}</td></tr>')
    head = ("<tr><th>Pool</th><th>CIDRs</th><th>Utilization</th><th class=num>Total</th>"
            "<th class=num>To sub-pools</th><th class=num>To resources</th><th class=num>Free</th>"
            "<th>Largest free block</th><th class=num title=\"utilization of the source pool\">Source used</th></tr>")
    return f'<div class="scroll"><table>{head}{"".join(rows)}</table></div>' if rows else "<p class=muted>No pools.</p>"


def _map_panel(x: PoolReport) -> str:
    return (f'<div class="panel" id="map-{_e(x.name)}"><h3>{_e(x.name)} <span class="muted">'
            f'{_e(", ".join(x.cidrs))} &middot; {_e(x.scope)} &middot; {p(x.utilization_pct)} used &middot; '
            f'{len(x.blocks)} allocation{"" if len(x.blocks) == 1 else "s"}</span></h3>{address_map(x)}</div>')


def _usage_table(report: Report) -> str:
    rows = []
    for u in report.usage:
        sub = u.resource_type == "VSwitch"
        pct = u.usage_pct or 0
        bar = "" if u.usage_pct is None else (
            f'<span class="bar" style="width:64px"><span style="width:{min(pct, 100):.3f}%;'
            f'background:{"#e15759" if pct >= 80 else "#59a14f"}"></span></span>')
        label = ("vswitch" if sub else "vpc") + (" (discovered)" if u.name == u.resource_id else f".{u.name}")
        name = f'<span class="arm muted">└─ </span>{_e(label)}' if sub else f"<b>{_e(label)}</b>"
        rows.append(f'<tr><td>{name}</td><td class="mono">{_e(u.resource_id or "-")}</td>'
                    f'<td class="mono">{_e(u.cidr)}</td><td class="num">{n(u.total)}</td>'
                    f'<td class="num">{n(u.vswitch_addresses) if not sub else ""}</td>'
                    f'<td class="num">{n(u.eni_addresses)}</td><td class="num">{n(u.prefix_addresses)}</td>'
                    f'<td class="num">{n(u.system_reserved)}</td><td class="num">{n(u.free)}</td>'
                    f'<td>{bar}{p(u.usage_pct)}</td></tr>')
    head = ("<tr><th>Resource</th><th>ID</th><th>CIDR</th><th class=num>Total</th><th class=num>In vSwitches</th>"
            "<th class=num>ENI addresses</th>"
            "<th class=num>Prefixes</th><th class=num>System-reserved</th><th class=num>Free</th><th>Used</th></tr>")
    return f'<div class="scroll"><table>{head}{"".join(rows)}</table></div>' if rows else "<p class=muted>No VPCs.</p>"


def _ref(r: CidrRef) -> str:
    kind = {"VPC": "vpc", "VSwitch": "vswitch", "CustomAllocation": "ipam_pool_allocation"}[r.resource_type]
    label = f"{kind}.{r.name}" if r.name != r.resource_id else f"{kind} (discovered)"
    rid = f'<span class="sub muted mono">{_e(r.resource_id)}</span>' if r.resource_id else ""
    return f"{_e(label)}{rid}"


def _overlap_table(report: Report) -> str:
    if not report.overlaps:
        return '<div class="note">No overlapping CIDR blocks within any scope.</div>'
    rows = "".join(f'<tr class="overlap"><td>{_e(o.scope)}</td><td>{_ref(o.a)}</td><td class="mono">{_e(o.a.cidr)}'
                   f'</td><td>{_ref(o.b)}</td><td class="mono">{_e(o.b.cidr)}</td></tr>' for o in report.overlaps)
    return ('<div class="scroll"><table><tr><th>Scope</th><th>Resource</th><th>CIDR</th><th>Overlaps with</th>'
            f"<th>CIDR</th></tr>{rows}</table></div>")


def _noncompliant(report: Report) -> str:
    if not report.noncompliant:
        return '<div class="note">Every managed CIDR complies with its pool\'s allocation rules.</div>'
    rows = "".join(f'<tr class="noncompliant"><td>{_ref(r.ref)}</td><td class="mono">{_e(r.ref.cidr)}</td>'
                   f'<td>{_e(r.pool)}</td><td>{_e(r.reason)}</td></tr>' for r in report.noncompliant)
    return ('<div class="scroll"><table><tr><th>Resource</th><th>CIDR</th><th>Pool</th><th>Reason</th></tr>'
            f"{rows}</table></div>")


def _resource_table(report: Report) -> str:
    rows = "".join(
        f'<tr><td>{_ref(r.ref)}</td><td class="mono">{_e(r.ref.cidr)}</td><td>{_e(r.scope)}</td>'
        f'<td>{_e(r.pool or r.pool_id or "-")}</td>'
        + "".join(f'<td><span class="pill {s}">{s}</span></td>'
                  for s in (r.management_status, r.compliance_status, r.overlap_status))
        + f'<td class="muted">{_e(r.source)}</td></tr>' for r in report.resources)
    return ("<details open><summary>Management, compliance and overlap status of every VPC, vSwitch and custom "
            "allocation CIDR</summary><div class=scroll><table><tr><th>Resource</th><th>CIDR</th><th>Scope</th>"
            f"<th>Pool</th><th>Management</th><th>Compliance</th><th>Overlap</th><th>Source</th></tr>{rows}</table></div></details>")


def _nice(top: float) -> float:
    """The smallest of 1, 2, 5, 10, 20, 25, 50, 100 (then multiples of 4) above ``top`` with a margin."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100):
        if top * 1.1 <= step:
            return float(step)
    return float(max(4, -(-top * 1.1 // 4) * 4))


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    return p(v) if unit == "%" else f"{v:g}"


def _chart(title: str, series: Sequence[Series], unit: str, span: tuple[str, str], cap: int = 10) -> str:
    shown = list(series[:cap])
    values = [v for s in shown for _, v in s.points] + [s.threshold for s in shown if s.threshold is not None]
    top = _nice(max(values, default=1.0))
    top = min(top, 100.0) if unit == "%" else max(top, 4.0)
    limits = sorted({s.threshold for s in shown if s.threshold is not None})
    guides = [(t, f"threshold {_fmt(t, unit)}") for t in limits]
    marks = []
    for x in shown:
        start, end = x.crossed()
        if start is not None:
            value = next(v for t, v in x.points if t == start)
            marks.append((start, value, f"{x.label} crossed {_fmt(x.threshold, unit)} at {start}"))
    more = f'<p class="muted">{len(series) - cap} more series in the table below.</p>' if len(series) > cap else ""
    return f"<h3>{_e(title)}</h3>" + line_chart(title, [(x.label, x.points) for x in shown], top, unit,
                                               guides=guides, marks=marks, span=span) + more


def _series_table(series: Sequence[Series]) -> str:
    rows = []
    for x in series:
        unit = "" if x.group == "counts" else "%"
        trend = x.trend
        arrow = "" if trend is None else "&#9650; " if trend > 0 else "&#9660; " if trend < 0 else "&#9654; "
        change = "-" if trend is None else f"{arrow}{'+' if trend > 0 else ''}{trend:.2f}{' pts' if unit else ''}"
        start, end = x.crossed()
        crossed = "-" if start is None else f"since {_e(start)}" if end is None else f"{_e(start)} until {_e(end)}"
        cls = "crossed" if start is not None and end is None else ""
        rows.append(f'<tr class="series {cls}"><td>{_e(x.label)}</td><td class="num">{_fmt(x.latest, unit)}</td>'
                    f'<td class="num">{change}</td><td class="num">{_fmt(x.threshold, unit)}</td><td>{crossed}</td></tr>')
    return ('<div class="scroll"><table><tr><th>Series</th><th class=num>Latest</th><th class=num>Trend (window)</th>'
            f'<th class=num>Threshold</th><th>Above the threshold</th></tr>{"".join(rows)}</table></div>')


def _history(report: Report, history: Sequence[dict], spec: MonitoringSpec | None = None) -> str:
    if not history:
        return ('<p class="muted">No runs recorded yet: <code>ipamctl report --history</code> (or <code>ipamctl drift '
                "--history</code>) records this run's figures in the state backend's monitoring history.</p>")
    by_scope = scope_series(history, report, spec or MonitoringSpec())
    first, last = history[0]["timestamp"], history[-1]["timestamp"]
    out = [f'<p class="muted">{len(history)} samples from {_e(first)} to {_e(last)}; dashed red lines are the '
           "thresholds in force, a red diamond marks where a series went above its threshold.</p>"]
    for scope, series in by_scope.items():
        pools = [x for x in series if x.group == "pools"]
        usage = [x for x in series if x.group == "usage"]
        counts = [x for x in series if x.group == "counts"]
        out.append(f'<div class="panel scope-chart" id="chart-{_e(scope)}"><h3>Scope {_e(scope)}</h3>')
        if pools:
            out.append(_chart("Pool utilization", pools, "%", (first, last)))
        if usage:
            out.append(_chart("VPC and vSwitch utilization", usage, "%", (first, last)))
        if counts:
            out.append(_chart("Overlapping, unmanaged and noncompliant CIDRs", counts, "", (first, last)))
        out.append(f"<details><summary>Latest value, trend and threshold of every series of scope {_e(scope)}"
                   f"</summary>{_series_table(series)}</details></div>")
    return "".join(out)
