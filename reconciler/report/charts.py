"""The monitoring history as series per scope (the IPAM console's "Monitoring Chart" tab): pool, VPC
and vSwitch utilization, and the numbers of overlapping, unmanaged and noncompliant CIDRs, each with
its latest value, its trend over the window, its threshold and when it crossed it. Pure: samples
(:func:`reconciler.report.monitor.normalize` ones, oldest first) and the thresholds in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from reconciler.models.monitoring import MonitoringSpec
from reconciler.report.model import Report

COUNTS = (("overlapping", "overlapping CIDR blocks", "overlaps"), ("unmanaged", "unmanaged CIDRs", "unmanaged"),
          ("noncompliant", "noncompliant CIDRs", "noncompliant"))


@dataclass(frozen=True)
class Series:
    label: str
    group: str  # "pools" | "usage" | "counts"
    points: tuple[tuple[str, float], ...]  # (ISO timestamp, value), oldest first
    threshold: float | None

    @property
    def latest(self) -> float | None:
        return self.points[-1][1] if self.points else None

    @property
    def trend(self) -> float | None:
        """The change from the first point of the window to the latest (None with fewer than two)."""
        return self.points[-1][1] - self.points[0][1] if len(self.points) > 1 else None

    def crossed(self) -> tuple[str | None, str | None]:
        """(when the series went above its threshold last, when it came back under it, or None while it is
        still above); (None, None) when it never was above."""
        if self.threshold is None:
            return None, None
        start = end = None
        above = False
        for t, v in self.points:
            if v > self.threshold and not above:
                start, end, above = t, None, True
            elif v <= self.threshold and above:
                end, above = t, False
        return start, end


def _points(history: Sequence[Mapping], get) -> tuple[tuple[str, float], ...]:
    out = []
    for h in history:
        v = get(h)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append((str(h["timestamp"]), float(v)))
    return tuple(out)


def scope_series(history: Sequence[Mapping], report: Report, spec: MonitoringSpec) -> dict[str, list[Series]]:
    """Every scope's series, in the order: pools, VPC and vSwitch blocks (highest latest first), counts."""
    pool_scope = {p.name: p.scope for p in report.pools}
    scopes: dict[str, dict[str, list[Series]]] = {}

    def add(scope: str, series: Series) -> None:
        scopes.setdefault(scope, {"pools": [], "usage": [], "counts": []})[series.group].append(series)

    for name in dict.fromkeys([*pool_scope, *(n for h in history for n in h.get("pools", {}))]):
        scope = pool_scope.get(name) or next((h["pools"][name].get("scope") for h in reversed(history)
                                              if (h["pools"].get(name) or {}).get("scope")), None)
        if scope is None:
            continue  # only in old-format lines, and no longer a pool: its scope is not known

        def util(h: Mapping, name: str = name):
            return (h.get("pools", {}).get(name) or {}).get("utilization_pct")

        add(scope, Series(f"ipam_pool.{name}", "pools", _points(history, util),
                          _float(spec.threshold("pool_utilization", scope, name))))
    seen: dict[tuple[str, str, str], dict] = {}
    values: list[dict[tuple[str, str, str], object]] = []  # per sample: (kind, name, cidr) -> utilization
    for h in history:
        mine: dict[tuple[str, str, str], object] = {}
        for kind in ("vpcs", "vswitches"):
            for row in h.get(kind, ()):
                where = (kind, str(row.get("name")), str(row.get("cidr")))
                seen[where] = row
                mine[where] = row.get("utilization_pct")
        values.append(mine)
    for where, row in seen.items():
        kind, name, cidr = where
        prefix = "vpc" if kind == "vpcs" else "vswitch"
        points = tuple((str(h["timestamp"]), float(v)) for h, got in zip(history, values)
                       if isinstance(v := got.get(where), (int, float)) and not isinstance(v, bool))
        if points:
            limit = spec.threshold(f"{prefix}_utilization", row.get("scope"), row.get("pool"))
            add(str(row.get("scope") or ""), Series(f"{prefix}.{name} {cidr}", "usage", points, _float(limit)))
    for scope in dict.fromkeys([*scopes, *(s for h in history for s in h.get("scopes", {}))]):
        for key, label, threshold in COUNTS:
            def count(h: Mapping, scope: str = scope, key: str = key):
                return (h.get("scopes", {}).get(scope) or {}).get(key)

            points = _points(history, count)
            if points:
                add(scope, Series(label, "counts", points, _float(spec.threshold(threshold, scope))))
    for groups in scopes.values():
        groups["usage"].sort(key=lambda s: (-(s.latest or 0), s.label))
    order = sorted(scopes, key=lambda s: (s != "private", s != "public", s))
    return {s: [*scopes[s]["pools"], *scopes[s]["usage"], *scopes[s]["counts"]] for s in order}


def _float(v: float | int | None) -> float | None:
    return None if v is None else float(v)
