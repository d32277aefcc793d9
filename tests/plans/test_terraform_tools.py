"""ipamctl's plan document read by the real tools made for ``terraform show -json`` (no mocks):
checkov with a custom policy, terraform-compliance with a feature, terraform-unidiff through node.
Each finds what ipamctl's own plan says: the same resources, the same failing VPCs, the same counts.

The tools live outside the project (tests/support/terraform_tools.py finds them; ``.ci/terraform-tools``
installs them); missing, these tests are skipped, and fail under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, REPO, Workspace
from tests.support.terraform_tools import require_tool

EXAMPLES = REPO / "docs" / "examples" / "terraform-tools"  # the policy and feature docs/terraform-tools.md shows
TIMEOUT = 300
# what the example's change makes (applied first): an update, a release, two replacements
CHANGES = {"00-ipam.yaml": ("description: Corporate address plan", "description: Corporate address plan, v2"),
           "20-allocations.yaml": ("  other-cloud: {pool: root, mask: 16, description: Workloads on another cloud}\n", ""),
           "30-network.yaml": ("ipv4: {pool: hz-trade-test}", "ipv4: {pool: hz-trade-test, mask: 21}")}


def _tool(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    # checkov asks PyPI for a newer release and its vendor for policy metadata unless told not to
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE", "NO_COLOR": "1"}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, env=env)


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, Path]:
    """The bundled example planned from nothing (printed, saved, and the saved one shown), then applied,
    changed and planned again; with each document's parsed form."""
    root = tmp_path_factory.mktemp("terraform-tools")
    ws = Workspace(root / "ws")
    shutil.copytree(EXAMPLE, ws.root / "specs", dirs_exist_ok=True)
    out = root / "docs"
    (out / "dir").mkdir(parents=True)
    (out / "fresh.json").write_text(ws.run("plan", "--json", check=0).stdout)
    ws.run("plan", "--out", "p.tfplan", check=0)
    (out / "dir" / "shown.json").write_text(ws.run("show", "--json", "p.tfplan", check=0).stdout)
    ws.run("apply", "p.tfplan", check=0)
    for name, (old, new) in CHANGES.items():
        path = ws.root / "specs" / name
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new))
    (out / "changed.json").write_text(ws.run("plan", "--json", check=0).stdout)
    return {"fresh": out / "fresh.json", "shown": out / "dir" / "shown.json", "changed": out / "changed.json",
            "dir": out / "dir"}


def _doc(path: Path) -> dict:
    return json.loads(path.read_text())


def _too_small(doc: dict) -> set[str]:
    """The VPCs ipamctl's plan gives a primary IPv4 block smaller than a /20 (read from its own records)."""
    return {a for a, rec in doc["desired"].items()
            if rec["type"] == "vpc" and int(doc["records"][rec["attributes"]]["ipv4"]["cidr"].split("/")[1]) > 20}


def _checkov(target: list[str], cwd: Path) -> tuple[int, dict]:
    exe = require_tool("IPAMCTL_CHECKOV")
    proc = _tool([exe, *target, "--framework", "terraform_plan", "--external-checks-dir", str(EXAMPLES / "checkov"),
                  "-c", "CKV2_IPAM_1", "-o", "json", "--skip-download"], cwd)
    assert proc.stdout.lstrip().startswith(("{", "[")), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    return proc.returncode, report[0] if isinstance(report, list) else report


def test_checkov_fails_the_vpcs_the_plan_gives_a_small_block(plans):
    doc = _doc(plans["fresh"])
    assert doc["format_version"] == "1.2" and doc["terraform_version"].startswith("1.5.")
    expected = _too_small(doc)
    vpcs = {a for a, rec in doc["desired"].items() if rec["type"] == "vpc"}
    assert expected == {"vpc.trade-test"} and len(vpcs) == 4  # the example: one /22 among /20s
    # a file given by name, and a folder (where checkov takes only JSON with terraform_version): the same
    for target, cwd in ((["-f", str(plans["fresh"])], plans["fresh"].parent), (["-d", "."], plans["dir"])):
        code, report = _checkov(target, cwd)
        assert code == 1, report  # a failed check fails the run
        assert report["summary"]["resource_count"] == len(doc["desired"]) == 37  # every record the plan leads to
        failed = {c["resource"] for c in report["results"]["failed_checks"]}
        passed = {c["resource"] for c in report["results"]["passed_checks"]}
        assert failed == expected and passed == vpcs - expected
        assert {c["check_id"] for c in report["results"]["failed_checks"]} == {"CKV2_IPAM_1"}


def test_checkov_sees_what_the_state_will_hold(plans):
    """After the change the replaced VPC (a /21 now) still fails, and the released allocation is gone."""
    doc = _doc(plans["changed"])
    code, report = _checkov(["-f", str(plans["changed"])], plans["changed"].parent)
    assert code == 1 and _too_small(doc) == {"vpc.trade-test"}
    assert {c["resource"] for c in report["results"]["failed_checks"]} == {"vpc.trade-test"}
    assert report["summary"]["resource_count"] == len(doc["desired"]) == 36


def _compliance(plan: Path, features: Path) -> subprocess.CompletedProcess:
    exe = require_tool("IPAMCTL_TF_COMPLIANCE")
    return _tool([exe, "-p", str(plan), "-f", str(features), "--no-ansi"], plan.parent)


def test_terraform_compliance_runs_a_feature_on_the_plan(plans, tmp_path):
    doc = _doc(plans["fresh"])
    assert plans["fresh"].read_text().count("\n") == 1  # piped, the document is one line, as the tool reads it
    proc = _compliance(plans["fresh"], EXAMPLES / "features")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out  # the /20 scenario fails ...
    assert "1 features (0 passed, 1 failed)" in out and "2 scenarios (1 passed, 1 failed)" in out, out
    failures = set(re.findall(r"Failure: cidr property in (\S+) resource", out))
    assert failures == _too_small(doc) == {"vpc.trade-test"}, out  # ... for the VPC ipamctl gives a /22
    assert "10.0.128.0/22" in out
    # the scenario that holds, alone, passes: the tool read the VPCs (none "defined" would skip it)
    only = tmp_path / "features"
    only.mkdir()
    text = (EXAMPLES / "features" / "vpc_blocks.feature").read_text()
    (only / "ipv4.feature").write_text(text.split("\n  Scenario: a VPC's primary")[0] + "\n")
    ok = _compliance(plans["fresh"], only)
    assert ok.returncode == 0 and "1 scenarios (1 passed)" in ok.stdout and "SKIPPING" not in ok.stdout, ok.stdout


def _unidiff(plan: Path) -> tuple[int, str]:
    exe = require_tool("IPAMCTL_UNIDIFF")
    proc = _tool([exe, str(plan)], plan.parent)
    assert proc.returncode == 0, proc.stderr
    patches = len(re.findall(r"^Index: ", proc.stdout, flags=re.M))
    return patches, proc.stdout.rstrip().splitlines()[-1]


@pytest.mark.parametrize("which", ["fresh", "shown", "changed"])
def test_terraform_unidiff_counts_the_changes_ipamctl_plans(plans, which):
    doc = _doc(plans[which])
    patches, summary = _unidiff(plans[which])
    assert patches == len(doc["resource_changes"]) == len(doc["change_set"])
    s = doc["summary"]  # Terraform counts a replacement as one to add and one to destroy
    assert summary == (f"Plan: {s['create'] + s['replace']} to add, {s['update']} to change, "
                       f"{s['delete'] + s['replace']} to destroy")
    expected = {"fresh": (35, 35, 0, 0), "shown": (35, 35, 0, 0), "changed": (4, 2, 1, 3)}[which]
    assert (patches, *map(int, re.findall(r"\d+", summary))) == expected
