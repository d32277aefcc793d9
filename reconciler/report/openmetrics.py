"""The report's current figures in the OpenMetrics text format (``ipamctl report --format openmetrics``),
for node_exporter's textfile collector or a Pushgateway. Pure: a string from a Report.

Every family is a gauge with HELP and TYPE lines; names and labels are stable (docs/report.md lists
them). Ratios are 0..1 (Prometheus' convention; the report's percentages divided by 100), counts
are plain numbers (an IPv6 pool's address count is a float, as every sample value is). Label values
are escaped as the format says (backslash, double quote, newline); a label that does not apply is
the empty string, which Prometheus treats as absent. The text ends with ``# EOF``; without the
OpenMetrics-only parts it is also valid Prometheus text format 0.0.4.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from reconciler.report.model import Report
from reconciler.report.monitor import Alert, parse_time, scope_counts, usage_rows

CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
PREFIX = "ipam"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _value(v: float | int) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v) if abs(v) < 2**53 else repr(float(v))
    return repr(float(v))


class _Families:
    def __init__(self) -> None:
        self.out: list[str] = []

    def family(self, name: str, help_text: str, samples: Iterable[tuple[Sequence[tuple[str, str]], float | int]]) -> None:
        full = f"{PREFIX}_{name}"
        self.out += [f"# TYPE {full} gauge", f"# HELP {full} {_escape(help_text)}"]
        for labels, value in samples:
            body = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels)
            self.out.append(f"{full}{{{body}}} {_value(value)}" if body else f"{full} {_value(value)}")


def _ts(text: str | None) -> float | None:
    t = parse_time(text or "")
    return t.timestamp() if t else None


def render_openmetrics(report: Report, found: Sequence[Alert], discovery: Mapping,
                       known_scopes: Iterable[str] = ()) -> str:
    f = _Families()
    pools = [((("scope", p.scope), ("pool", p.name), ("pool_id", p.id or ""), ("region", p.region or ""),
               ("ip_version", p.ip_version)), p) for p in report.pools]
    f.family("pool_utilization_ratio", "Share of the pool's provisioned addresses allocated to resources and sub-pools",
             [(labels, p.utilization_pct / 100) for labels, p in pools])
    f.family("pool_addresses", "Addresses of the pool by kind: provisioned (total), free, allocated to sub-pools, "
             "to resources, and custom allocations",
             [((*labels, ("kind", kind)), value) for labels, p in pools for kind, value in (
                 ("total", p.total), ("free", p.free), ("sub_pools", p.allocated_to_sub_pools),
                 ("resources", p.allocated_to_resources), ("custom", p.custom_allocations))])
    rows = usage_rows(report)
    for kind, title in (("vpc", "VPC"), ("vswitch", "vSwitch")):
        mine = [r for r in rows if r.kind == kind]
        f.family(f"{kind}_cidr_utilization_ratio", f"Share of a {title} CIDR block's addresses used (ENI addresses, "
                 "prefixes and system-reserved; a VPC block sums its vSwitches); absent when not known",
                 [(r.labels(), r.usage.usage_pct / 100) for r in mine if r.usage.usage_pct is not None])
        f.family(f"{kind}_cidr_addresses", f"Addresses of a {title} CIDR block: total, and used where known",
                 [((*r.labels(), ("kind", k)), v) for r in mine
                  for k, v in (("total", r.usage.total), ("used", r.usage.used)) if v is not None])
    counts = scope_counts(report, known_scopes)
    for key, name, text in (("cidrs", "scope_cidrs", "Resource CIDRs (VPC, vSwitch, custom allocation) in the scope"),
                            ("overlapping", "scope_overlapping_cidrs", "CIDR blocks in the scope whose overlap status "
                             "is Overlapping"),
                            ("overlaps", "scope_overlaps", "Pairs of overlapping CIDR blocks in the scope"),
                            ("unmanaged", "scope_unmanaged_cidrs", "CIDRs in the scope not managed by an IPAM pool"),
                            ("noncompliant", "scope_noncompliant_cidrs", "Managed CIDRs in the scope that break their "
                             "pool's allocation rules")):
        f.family(name, text, [((("scope", scope),), c[key]) for scope, c in counts.items()])
    f.family("threshold_crossed", "1 for each figure above its monitoring threshold (ipamctl report "
             "--detailed-exitcode exits 2 while any is)",
             [((("threshold", a.threshold), ("scope", a.scope), ("subject", a.subject)), 1) for a in found])
    f.family("thresholds_crossed", "Figures above their monitoring thresholds", [((), len(found))])
    read = _ts(discovery.get("read_at"))
    f.family("discovery_cidrs", "CIDRs resource discovery returned", [((), int(discovery.get("cidrs") or 0))])
    if read is not None:
        f.family("discovery_read_timestamp_seconds", "When resource discovery was read (Unix time)", [((), read)])
    written = _ts(discovery.get("state_written_at"))
    if written is not None:
        f.family("state_written_timestamp_seconds", "When the recorded state was last written (Unix time)",
                 [((), written)])
    f.family("discovery_may_lag", "1 when the state changed less than the discovery refresh interval (5 minutes) "
             "before discovery was read, so the figures may lag", [((), bool(discovery.get("may_lag")))])
    generated = _ts(report.generated_at)
    if generated is not None:
        f.family("report_generated_timestamp_seconds", "When these figures were computed (Unix time)",
                 [((), generated)])
    return "\n".join(f.out) + "\n# EOF\n"
