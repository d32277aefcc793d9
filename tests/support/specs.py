"""Helpers for core tests: write spec text to real files, load, plan, and pretend-apply (pure)."""

from __future__ import annotations

import itertools
from pathlib import Path

from reconciler.errors import ReconcilerError, flatten
from reconciler.planner import make_plan
from reconciler.source.loader import load_specs

BASE = """\
ipam: {name: corp, region: cn-hangzhou, operating_regions: [cn-hangzhou, cn-shanghai]}
pools:
  root: {scope: private, ip_version: IPv4, cidrs: [10.0.0.0/8]}
  hz: {source: root, region: cn-hangzhou, cidrs: [10.0.0.0/11]}
  hz-prod:
    source: hz
    cidrs: [{mask: 17}]
    allocation: {min_mask: 16, default_mask: 20, max_mask: 24}
vpcs:
  prod: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}
vswitches:
  prod-h: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 24}}
"""

_counter = itertools.count()


def load(tmp_path: Path, *texts: str):
    """Write each text as its own spec file (in order) into a fresh folder and load them."""
    folder = tmp_path / f"ws{next(_counter)}" / "specs"
    folder.mkdir(parents=True)
    for i, text in enumerate(texts):
        (folder / f"{i:02d}.yaml").write_text(text)
    return load_specs(folder)


def plan(tmp_path: Path, *texts: str, recorded: dict | None = None, serial: int = 0):
    doc = load(tmp_path, *texts)
    return make_plan(doc, recorded or {}, lineage=None, serial=serial)


def converge(plan_) -> dict:
    """The state an apply of ``plan_`` would record (ids are placeholders); pure, no provider."""
    out = {}
    for address, rec in plan_.desired.items():
        out[address] = {**rec, "id": f"id-{address}", "attributes": dict(rec["attributes"])}
    return out


def codes(tmp_path: Path, *texts: str, recorded: dict | None = None) -> list[str]:
    """The error codes planning these specs raises (empty when it plans fine)."""
    try:
        plan(tmp_path, *texts, recorded=recorded)
    except ReconcilerError as exc:
        return [e.code for e in flatten(exc)]
    return []


def errors(tmp_path: Path, *texts: str, recorded: dict | None = None) -> list[ReconcilerError]:
    try:
        plan(tmp_path, *texts, recorded=recorded)
    except ReconcilerError as exc:
        return flatten(exc)
    return []
