"""The ``monitoring:`` block: the thresholds ``ipamctl report`` alerts on, and how much history is kept.

```yaml
monitoring:
  pool_utilization: 80          # % of a pool's provisioned addresses allocated (to resources and sub-pools)
  vpc_utilization: null         # % of a VPC block used (its vSwitches' used addresses); null: no alert
  vswitch_utilization: 90       # % of a vSwitch block used (ENI addresses, prefixes, system-reserved)
  overlaps: 0                   # overlapping CIDR blocks in a scope (the seed's "number of overlapping CIDR blocks")
  noncompliant: 0               # noncompliant CIDRs in a scope
  unmanaged: null               # unmanaged CIDRs in a scope
  scopes:                       # per scope: any of the six above
    acquired: {overlaps: 10}
  pools:                        # per pool: pool_utilization, and vpc_ / vswitch_utilization of what is drawn from it
    hz-trade: {pool_utilization: 90}
  history: {max_age_days: 90, max_samples: 2000}
```

A figure **crosses** its threshold when it is above it (``overlaps: 0``: any overlap). ``null``
switches a threshold off; a key left out of an override takes the value of the level above
(pool, then scope, then the top of the block, then the defaults shown). Without a ``monitoring:``
block the defaults apply. Pure: the model, and :func:`monitoring_spec` reading the block on its own
(so the report works while other parts of the specs are still being fixed).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reconciler.errors import SpecError, raise_all
from reconciler.source.loader import SpecDocument

PERCENT_KEYS = ("pool_utilization", "vpc_utilization", "vswitch_utilization")
COUNT_KEYS = ("overlaps", "noncompliant", "unmanaged")
THRESHOLD_KEYS = PERCENT_KEYS + COUNT_KEYS
ThresholdKey = Literal["pool_utilization", "vpc_utilization", "vswitch_utilization", "overlaps", "noncompliant",
                       "unmanaged"]
MAX_AGE_DAYS, MAX_SAMPLES = 90, 2000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PoolThresholds(_Model):
    """A pool's own thresholds: its utilization, and that of the VPC and vSwitch blocks drawn from it."""

    pool_utilization: float | None = Field(default=None, ge=0, le=100, description="% allocated; null: off")
    vpc_utilization: float | None = Field(default=None, ge=0, le=100, description="% used of a VPC block")
    vswitch_utilization: float | None = Field(default=None, ge=0, le=100, description="% used of a vSwitch block")


class ScopeThresholds(PoolThresholds):
    """A scope's thresholds: the percentages of what sits in it, and its counts."""

    overlaps: int | None = Field(default=None, ge=0, description="Overlapping CIDR blocks in the scope; null: off")
    noncompliant: int | None = Field(default=None, ge=0, description="Noncompliant CIDRs in the scope")
    unmanaged: int | None = Field(default=None, ge=0, description="Unmanaged CIDRs in the scope")


class HistoryRetention(_Model):
    max_age_days: int = Field(default=MAX_AGE_DAYS, ge=1, le=3660,
                              description="Samples older than this many days are dropped")
    max_samples: int = Field(default=MAX_SAMPLES, ge=1, le=1_000_000,
                             description="At most this many samples are kept (the newest)")


class MonitoringSpec(ScopeThresholds):
    """Thresholds ``ipamctl report`` alerts on (a figure above its threshold), and the history kept."""

    pool_utilization: float | None = Field(default=80, ge=0, le=100, description="% of a pool allocated; null: off")
    vpc_utilization: float | None = Field(default=None, ge=0, le=100, description="% used of a VPC block")
    vswitch_utilization: float | None = Field(default=90, ge=0, le=100, description="% used of a vSwitch block")
    overlaps: int | None = Field(default=0, ge=0, description="Overlapping CIDR blocks in a scope; null: off")
    noncompliant: int | None = Field(default=0, ge=0, description="Noncompliant CIDRs in a scope")
    unmanaged: int | None = Field(default=None, ge=0, description="Unmanaged CIDRs in a scope")
    scopes: dict[str, ScopeThresholds] = Field(default_factory=dict, description="Per-scope thresholds")
    pools: dict[str, PoolThresholds] = Field(default_factory=dict, description="Per-pool thresholds")
    history: HistoryRetention = Field(default_factory=HistoryRetention,
                                      description="Retention of the monitoring history (by age and by count)")

    def _top(self, key: str) -> float | int | None:
        return getattr(self, key)  # type: ignore[no-any-return]

    def threshold(self, key: str, scope: str | None = None, pool: str | None = None) -> float | int | None:
        """The threshold of ``key`` for a figure of ``pool`` in ``scope``: the most specific level that sets it."""
        if pool is not None and key in PERCENT_KEYS:
            own = self.pools.get(pool)
            if own is not None and key in own.model_fields_set:
                return getattr(own, key)  # type: ignore[no-any-return]
        if scope is not None:
            level = self.scopes.get(scope)
            if level is not None and key in level.model_fields_set:
                return getattr(level, key)  # type: ignore[no-any-return]
        return self._top(key)

    def effective(self) -> dict[str, Any]:
        """The thresholds in force, as the report's JSON shows them."""
        def value(key: str, v: float | int | None) -> float | int | None:
            return float(v) if v is not None and key in PERCENT_KEYS else v

        def given(m: BaseModel) -> dict[str, Any]:
            return {k: value(k, getattr(m, k)) for k in THRESHOLD_KEYS if k in m.model_fields_set}

        return {**{k: value(k, self._top(k)) for k in THRESHOLD_KEYS},
                "scopes": {n: given(s) for n, s in sorted(self.scopes.items())},
                "pools": {n: given(p) for n, p in sorted(self.pools.items())},
                "history": {"max_age_days": self.history.max_age_days, "max_samples": self.history.max_samples}}


def monitoring_spec(doc: SpecDocument | None) -> MonitoringSpec:
    """The document's ``monitoring:`` block validated on its own (the defaults when there is none or no
    document). SpecError located at the offending key's file and line."""
    raw: Any = doc.data.get("monitoring") if doc is not None and isinstance(doc.data, dict) else None
    if raw is None:
        return MonitoringSpec()
    try:
        return MonitoringSpec.model_validate(raw)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            loc = ("monitoring", *err["loc"])
            etype = err["type"]
            code = ("Spec.UnknownKey" if etype == "extra_forbidden" else
                    "Spec.OutOfRange" if etype in ("greater_than_equal", "less_than_equal") else
                    "Spec.WrongType" if etype.endswith("_type") or etype.endswith("_parsing") else "Spec.InvalidValue")
            msg = f"unknown key {loc[-1]!r}" if etype == "extra_forbidden" else err["msg"]
            assert doc is not None  # raw came from it
            file, line = doc.locate(loc)
            errors.append(SpecError(code, f"{'.'.join(str(p) for p in loc)}: {msg}", file=file, line=line))
        raise_all(errors)
        raise  # pragma: no cover - raise_all always raises when errors were found
