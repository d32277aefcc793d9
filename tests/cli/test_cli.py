"""The real `ipamctl` process on real workspaces: the README flow, exit codes, saved plans, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from reconciler.plans import planfile
from tests.support.specs import BASE


@pytest.mark.both_providers
def test_example_plan_apply_replan(example):
    out = example.run("plan", check=0).stdout
    assert "ipam_pool.sh" in out and "10.32.0.0/11" in out and "AddIpamPoolCidr" in out
    assert "Plan:" in out
    assert example.run("plan", "--detailed-exitcode").returncode == 2
    applied = example.run("apply", "--auto-approve", check=0).stdout
    assert "Apply complete" in applied
    assert "No changes" in example.run("plan", check=0).stdout
    assert example.run("plan", "--detailed-exitcode").returncode == 0
    shown = example.run("show", check=0).stdout
    assert "vpc-" in shown and "ipam-pool-" in shown


def test_plan_json_shape(ws):
    ws.write("main.yaml", BASE)
    doc = ws.json("plan")
    assert (doc["format_version"], doc["ipamctl_format_version"]) == ("1.2", "2")  # Terraform's, then ipamctl's
    assert doc["changes"] is True and doc["serial"] == 0
    # format 2: an action leaves out what its address and the API table say, and refers to its records
    first = doc["actions"][0]
    assert first == {"action": "create", "address": "ipam.corp", "after": "ipam.corp"}
    assert doc["desired"]["ipam.corp"]["attributes"] == "ipam.corp"  # the desired record, by key too
    assert doc["records"][first["after"]] == doc["resource_changes"][0]["change"]["after"]
    provisions = [a for a in doc["actions"] if a["action"] == "provision"]
    assert {"address": "ipam_pool.hz-prod", "cidr": "10.0.0.0/17"}.items() <= provisions[-1].items()
    assert "api" not in provisions[-1] and "order" not in provisions[-1]  # AddIpamPoolCidr, its place
    rc = {r["address"]: r for r in doc["resource_changes"]}
    assert rc["vpc.prod"]["change"]["actions"] == ["create"]
    assert rc["vpc.prod"]["change"]["after"]["ipv4"]["cidr"] == "10.0.0.0/20"
    assert doc["summary"]["create"] == len(rc)


def test_plans_are_byte_identical(ws):
    ws.write("main.yaml", BASE)
    a = ws.run("plan", "--json", check=0).stdout
    b = ws.run("plan", "--json", check=0).stdout
    assert a == b


def test_saved_plan_applies_exactly_and_only_once(ws):
    ws.write("main.yaml", BASE)
    ws.run("plan", "--out", str(ws.root / "p.tfplan"), check=0)
    planned = planfile.load_document((ws.root / "p.tfplan").read_bytes())
    ws.run("apply", str(ws.root / "p.tfplan"), check=0)
    state = ws.json("show")
    assert state["resources"]["vpc.prod"]["attributes"]["ipv4"]["cidr"] == planned["records"][planned["desired"]["vpc.prod"]["attributes"]]["ipv4"]["cidr"]
    again = ws.run("apply", str(ws.root / "p.tfplan"))
    assert again.returncode == 1 and "StalePlan" in again.stderr


def test_tampered_plan_is_refused(ws):
    ws.write("main.yaml", BASE)
    path = ws.root / "p.tfplan"
    ws.run("plan", "--out", str(path), check=0)
    saved = path.read_bytes()
    text = json.dumps(planfile.load_document(saved))  # the JSON the saved plan compresses, edited
    path.write_text(text.replace("10.0.0.0/20", "10.0.96.0/20"))
    proc = ws.run("apply", str(path))
    assert proc.returncode == 1 and "Plan.Tampered" in proc.stderr
    path.write_bytes(saved[:len(saved) // 2])  # a truncated file: not a plan at all, never a traceback
    proc = ws.run("apply", str(path))
    assert proc.returncode == 1 and "Plan.Unreadable" in proc.stderr and "Traceback" not in proc.stderr
    assert ws.json("show")["resources"] == {}


def test_apply_without_terminal_needs_auto_approve(ws):
    ws.write("main.yaml", BASE)
    proc = ws.run("apply", input="yes\n")
    assert proc.returncode == 1 and "--auto-approve" in proc.stderr
    assert ws.json("show")["resources"] == {}


def test_errors_json_lists_every_error_with_location(ws):
    ws.write("main.yaml", BASE)
    ws.write("more.yaml", "vswitches:\n  x: {vpc: prod, zone: cn-shanghai-b, cidr: 10.200.0.0/24}\n")
    proc = ws.run("plan", "--json")
    assert proc.returncode == 1
    errs = json.loads(proc.stdout)["errors"]
    assert {e["code"] for e in errs} >= {"InvalidCidrBlock.NotInVpc", "InvalidZoneId.NotFound"}
    assert all(e["file"] == "specs/more.yaml" and e["line"] == 2 and e["address"] == "vswitch.x" for e in errs)
    human = ws.run("plan")
    assert human.returncode == 1 and "specs/more.yaml:2:" in human.stderr and "Traceback" not in human.stderr


def test_validate_graph_schema(ws):
    ws.write("main.yaml", BASE)
    assert "valid" in ws.run("validate", check=0).stdout
    dot = ws.run("graph", check=0).stdout
    assert dot.startswith("digraph") and '"ipam_pool.hz" -> "ipam_pool.hz-prod";' in dot
    schema = json.loads(ws.run("schema", check=0).stdout)
    assert "pools" in schema["properties"]


def test_state_list_and_show(ws):
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    listed = ws.run("state", "list", check=0).stdout.split()
    assert listed[0] == "ipam.corp" and "vswitch.prod-h" in listed
    shown = ws.run("state", "show", "vpc.prod", check=0).stdout
    assert "10.0.0.0/20" in shown and "id = vpc-" in shown
    missing = ws.run("state", "show", "vpc.nope")
    assert missing.returncode == 1 and "State.NoSuchResource" in missing.stderr


def test_sandbox_call_and_refused_call_mid_apply(ws):
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    # an out-of-band custom allocation (which resource discovery does not see) takes the block the next
    # plan will choose, so apply is refused halfway (an out-of-band VPC is refused at plan time: test_drift)
    ws.write("more.yaml", "vpcs:\n  extra: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}\n"
             "vswitches:\n  extra-h: {vpc: extra, zone: cn-hangzhou-h, cidr: {mask: 24}}\n")
    pool = ws.json("show")["resources"]["ipam_pool.hz-prod"]["id"]
    rc, resp = ws.sandbox("CreateIpamPoolAllocation", IpamPoolId=pool, Cidr="10.0.16.0/20")
    assert rc == 0 and resp["IpamPoolAllocationId"].startswith("ipam-pool-alloc-")
    proc = ws.run("apply", "--auto-approve")
    assert proc.returncode == 1 and "OperationDenied.CidrUnavailableInPool" in proc.stderr
    assert "0 of 2 actions were carried out" in proc.stderr
    rc, err = ws.sandbox("DeleteIpamScope", IpamScopeId=ws.json("show")["resources"]["ipam_scope.private"]["id"])
    assert rc == 1 and err["Code"] == "OperationDenied.DeleteDefaultScope"


def test_lock_blocks_a_second_apply(ws):
    import subprocess
    import sys
    import time

    ws.write("main.yaml", BASE)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from reconciler.states.local import LocalStateBackend\n"
        f"b = LocalStateBackend(Path({str(ws.root / 'state')!r}))\n"
        "with b.lock('apply (test holder)'):\n    print('held', flush=True); time.sleep(30)\n")],
        stdout=subprocess.PIPE, text=True, cwd=str(ws.root.parent), env={"PYTHONPATH": str(__import__("tests.conftest").conftest.REPO)})
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = ws.run("apply", "--auto-approve")
        assert proc.returncode == 1 and "State.Locked" in proc.stderr and "apply (test holder)" in proc.stderr
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    stale = ws.run("apply", "--auto-approve")
    assert stale.returncode == 1 and "State.LockStale" in stale.stderr
    lock_id = json.loads((ws.root / "state" / ".lock").read_text())["id"]
    ws.run("force-unlock", lock_id, check=0)
    ws.run("apply", "--auto-approve", check=0)


def test_the_planner_reports_its_stages_through_a_callback_and_plans_the_same(tmp_path, capsys):
    """The CLI's progress bar learns the planner's stages from a callback; the core prints nothing."""
    from reconciler.planner import make_plan
    from reconciler.plans.planfile import to_json
    from tests.support.specs import load

    doc = load(tmp_path, BASE)
    seen: list[str] = []
    told = make_plan(doc, {}, lineage=None, serial=0, stage=seen.append)
    assert seen == ["validate", "graph", "resolve", "diff", "order"]
    quiet = make_plan(load(tmp_path, BASE), {}, lineage=None, serial=0)
    assert to_json(told, "sandbox", {"type": "sandbox"}) == to_json(quiet, "sandbox", {"type": "sandbox"})
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err == ""


def test_start_up_imports_neither_networkx_nor_deepdiff():
    """Every `ipamctl` run pays for its imports; networkx (naming a cycle) and deepdiff (a changed
    resource's keys) are imported where first needed, ~140 ms saved on a no-change plan."""
    code = "import sys, reconciler.cli.main; print(sorted({m.split('.')[0] for m in sys.modules} & {'networkx', 'deepdiff'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_collector_is_off_while_a_command_runs_and_back_on_after(tmp_path):
    """`ipamctl` turns the cyclic collector off for a command (docs/performance.md); a caller running
    the CLI in its own process (tests, scripts) has it back on when the command ends."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "main.yaml").write_text(BASE)
    code = (
        "import gc, sys\n"
        "import reconciler.cli.main as cli, reconciler.workspace as w\n"
        "load = w.Workspace.load_specs\n"
        "def watched(self):\n"
        "    print('during', gc.isenabled())\n"
        "    return load(self)\n"
        "w.Workspace.load_specs = watched\n"
        "try:\n"
        "    cli.main(['-C', sys.argv[1], 'validate'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('after', gc.isenabled())\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0] == "during False" and out.splitlines()[-1] == "after True", out
