"""Monitoring over time: the thresholds a report crosses (alerts), the sample one run records in the
history, and the retention that bounds it. Pure: values in, values out; the CLI edge reads the specs,
the clock and the state backend's history store.

The series are the IPAM guide's "Monitoring Chart" ones, per scope: the utilization of each pool,
of each VPC block and of each vSwitch block; the number of overlapping CIDR blocks (CIDRs whose
OverlapStatus is Overlapping); and the numbers of Unmanaged and of Noncompliant CIDRs, with the
meanings :mod:`reconciler.report.cidrs` gives those statuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Mapping, Sequence

from reconciler.models.monitoring import MonitoringSpec
from reconciler.report.cidrs import ResourceCidr
from reconciler.report.model import Report, Usage
from reconciler.report.ranges import human_pct

SAMPLE_FORMAT = 2  # format 1: the headline lines `report --history` wrote before (still read)
COUNT_LABELS = {"overlaps": "overlapping CIDR blocks", "noncompliant": "noncompliant CIDRs",
                "unmanaged": "unmanaged CIDRs"}


@dataclass(frozen=True)
class Alert:
    threshold: str  # pool_utilization | vpc_utilization | vswitch_utilization | overlaps | noncompliant | unmanaged
    scope: str
    subject: str  # ipam_pool.NAME, vpc.NAME CIDR, vswitch.NAME CIDR, scope NAME
    value: float
    limit: float
    labels: tuple[tuple[str, str], ...] = ()  # pool, vpc, vswitch, cidr, region, account where they apply

    @property
    def message(self) -> str:
        if self.threshold in COUNT_LABELS:
            return (f"{self.subject}: {self.value:g} {COUNT_LABELS[self.threshold]}, above the threshold "
                    f"{self.threshold}: {self.limit:g}")
        return f"{self.subject}: {human_pct(self.value)} used, above the threshold {self.threshold}: {self.limit:g}%"

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "scope": self.scope, "subject": self.subject, "value": self.value,
                "limit": self.limit, "labels": dict(self.labels), "message": self.message}


# ---- per-scope figures --------------------------------------------------------------------------
def scope_counts(report: Report, known_scopes: Iterable[str] = ()) -> dict[str, dict[str, int]]:
    """Per scope: resource CIDRs, overlapping CIDR blocks, overlap pairs, unmanaged and noncompliant CIDRs.
    Every scope a pool or CIDR sits in is listed, and those of ``known_scopes`` (the recorded scopes)."""
    out: dict[str, dict[str, int]] = {}

    def row(scope: str) -> dict[str, int]:
        return out.setdefault(scope, {"cidrs": 0, "overlapping": 0, "overlaps": 0, "unmanaged": 0, "noncompliant": 0})

    for scope in (*known_scopes, *(p.scope for p in report.pools)):
        row(scope)
    for r in report.resources:
        c = row(r.scope)
        c["cidrs"] += 1
        c["overlapping"] += r.overlap_status == "Overlapping"
        c["unmanaged"] += r.management_status == "Unmanaged"
        c["noncompliant"] += r.compliance_status == "Noncompliant"
    for o in report.overlaps:
        row(o.scope)["overlaps"] += 1
    return dict(sorted(out.items()))


def _cidr_rows(report: Report) -> dict[tuple[str, str, str], ResourceCidr]:
    return {(r.ref.resource_type, r.ref.name, r.ref.cidr): r for r in report.resources}


@dataclass(frozen=True)
class UsageRow:
    """An IP usage row with where it sits (scope, pool) and whose it is (account)."""

    usage: Usage
    scope: str
    pool: str | None
    account: str | None

    @property
    def kind(self) -> str:
        return "vswitch" if self.usage.resource_type == "VSwitch" else "vpc"

    def labels(self) -> tuple[tuple[str, str], ...]:
        u = self.usage
        vswitch = u.name if self.kind == "vswitch" else ""
        return (("scope", self.scope), ("pool", self.pool or ""), ("vpc", u.vpc or ""), ("vswitch", vswitch),
                ("cidr", u.cidr), ("region", u.region or ""), ("account", self.account or ""))


def usage_rows(report: Report) -> list[UsageRow]:
    rows = _cidr_rows(report)
    out = []
    for u in report.usage:
        r = rows.get((u.resource_type, u.name, u.cidr))
        account = report.accounts.get(u.resource_id or "") if u.resource_id else None
        out.append(UsageRow(u, r.scope if r else "", r.pool if r else None, account))
    return out


# ---- thresholds -----------------------------------------------------------------------------------
def alerts(report: Report, spec: MonitoringSpec, known_scopes: Iterable[str] = ()) -> tuple[Alert, ...]:
    """Every figure above its threshold: pools, VPC and vSwitch blocks, then the counts of each scope."""
    out: list[Alert] = []
    for p in report.pools:
        limit = spec.threshold("pool_utilization", p.scope, p.name)
        if limit is not None and p.utilization_pct > limit:
            out.append(Alert("pool_utilization", p.scope, f"ipam_pool.{p.name}", p.utilization_pct, float(limit),
                             (("pool", p.name), ("region", p.region or ""))))
    for row in usage_rows(report):
        u, key = row.usage, f"{row.kind}_utilization"
        limit = spec.threshold(key, row.scope, row.pool)
        if limit is not None and u.usage_pct is not None and u.usage_pct > limit:
            out.append(Alert(key, row.scope, f"{row.kind}.{u.name} {u.cidr}", u.usage_pct, float(limit),
                             row.labels()[1:]))
    for scope, c in scope_counts(report, known_scopes).items():
        for key, value in (("overlaps", c["overlapping"]), ("noncompliant", c["noncompliant"]),
                           ("unmanaged", c["unmanaged"])):
            limit = spec.threshold(key, scope)
            if limit is not None and value > limit:
                out.append(Alert(key, scope, f"scope {scope}", float(value), float(limit)))
    return tuple(out)


# ---- the history's samples ------------------------------------------------------------------------
def sample(report: Report, found: Sequence[Alert], *, command: str, discovery: Mapping,
           known_scopes: Iterable[str] = ()) -> dict:
    """What one run records: every series' value now, and the thresholds it crossed."""
    usage: dict[str, list[dict]] = {"vpc": [], "vswitch": []}
    for row in usage_rows(report):
        u = row.usage
        usage[row.kind].append({"name": u.name, "id": u.resource_id, "vpc": u.vpc, "cidr": u.cidr, "scope": row.scope,
                                "pool": row.pool, "region": u.region, "account": row.account,
                                "utilization_pct": u.usage_pct})
    return {
        "format": SAMPLE_FORMAT, "timestamp": report.generated_at, "command": command,
        "discovery": {k: discovery.get(k) for k in ("status", "read_at", "cidrs", "may_lag")},
        "pools": {p.name: {"scope": p.scope, "region": p.region, "utilization_pct": p.utilization_pct}
                  for p in report.pools},
        "vpcs": usage["vpc"], "vswitches": usage["vswitch"],
        "scopes": scope_counts(report, known_scopes),
        "alerts": [{"threshold": a.threshold, "scope": a.scope, "subject": a.subject, "value": a.value,
                    "limit": a.limit} for a in found],
    }


def normalize(entry: object) -> dict | None:
    """A recorded line as a sample (format 2), or None when it is not one. A format-1 line (the headline
    figures of earlier versions) becomes a sample with its pools' utilization and no per-scope counts."""
    if not isinstance(entry, dict) or not isinstance(entry.get("timestamp"), str) or parse_time(entry["timestamp"]) is None:
        return None
    if entry.get("format") == SAMPLE_FORMAT:
        if isinstance(entry.get("pools"), dict) and isinstance(entry.get("scopes"), dict):
            return entry
        return None
    util = entry.get("utilization")
    if not isinstance(util, dict):
        return None
    return {"format": SAMPLE_FORMAT, "timestamp": entry["timestamp"], "command": "report", "legacy": True,
            "discovery": {}, "vpcs": [], "vswitches": [], "scopes": {}, "alerts": [],
            "pools": {n: {"scope": None, "region": None, "utilization_pct": v} for n, v in util.items()
                      if isinstance(v, (int, float))},
            "totals": {k: entry.get(k) for k in ("overlaps", "overlapping_cidrs", "noncompliant")}}


def parse_time(text: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return t if t.tzinfo is not None else None


# ---- discovery freshness ----------------------------------------------------------------------------
REFRESH_SECONDS = 300  # the cloud's resource discovery is updated every 5 minutes (the IPAM guide)


def freshness(discovery: Mapping, read_at: str, state_written_at: str | None, report: Report | None = None) -> dict:
    """``discovery`` with when it was read and whether its figures may lag: the state was written (an
    apply, refresh or import changed the cloud) less than the refresh interval before the read, so the
    cloud's discovery may not show that change yet. ``report``: the CIDRs recorded but not discovered."""
    out = {**discovery, "read_at": read_at, "refresh_seconds": REFRESH_SECONDS, "state_written_at": state_written_at,
           "may_lag": False}
    read, written = parse_time(read_at), parse_time(state_written_at or "")
    missing = [r for r in (report.resources if report else ()) if r.source == "state"
               and r.ref.resource_type in ("VPC", "VSwitch")]
    out["recorded_not_discovered"] = len(missing)
    if discovery.get("status") != "ok" or read is None or written is None:
        return out
    age = (read - written).total_seconds()
    if age < REFRESH_SECONDS:
        out["may_lag"] = True
        until = (written.timestamp() + REFRESH_SECONDS)
        stamp = datetime.fromtimestamp(until, read.tzinfo).isoformat(timespec="seconds").replace("+00:00", "Z")
        extra = f"; {len(missing)} recorded CIDR(s) are not in discovery yet" if missing else ""
        out["warning"] = (f"the state was written at {state_written_at}, {max(age, 0):.0f}s before discovery was read; "
                          f"resource discovery is updated every {REFRESH_SECONDS // 60} minutes, so the discovered "
                          f"figures may not show that change until about {stamp}{extra}")
    return out
