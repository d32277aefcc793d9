"""The harness of the crash, disk-fault and concurrency tests: a generated workspace of 300 actions,
the real ``ipamctl`` run as a process (with fault variables), and the checks made after each fault.

``IPAM_LONG_TESTS=1`` turns the sampled variants into exhaustive ones (see docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from reconciler.planner import make_plan
from reconciler.source.loader import load_specs
from reconciler.states.backend import StateBackend
from reconciler.states.local import LocalStateBackend
from reconciler.workspace import plan_lineage
from tests.support.cloudcheck import doubles, problems

REPO = Path(__file__).resolve().parents[2]
LONG = os.environ.get("IPAM_LONG_TESTS") == "1"
FAULT_VARS = ("IPAM_FAULT_KILL_AFTER", "IPAM_FAULT_KILL_POINT", "IPAM_FAULT_FAIL_CALL", "IPAM_FAULT_DISK_BYTES",
              "IPAM_FAULT_SYNC_LOG", "IPAM_FAULT_BOOT_ID", "IPAM_INTENT_WINDOW", "IPAM_FAULT_PAUSE_AFTER",
              "IPAM_FAULT_PAUSE_POINT", "IPAM_FAULT_PAUSE_FILE")


def crash_spec(vpcs: int = 24) -> str:
    """Pools (a tree of 3 levels and 8 team pools), custom allocations, VPCs with secondary blocks,
    two vSwitches each, a security group each and an ENI each with secondary IPs and /28 prefixes:
    302 actions in 206 calls for 24 VPCs."""
    lines = ["ipam: {name: corp, region: cn-hangzhou, operating_regions: [cn-hangzhou, cn-shanghai]}",
             "pools:",
             "  root: {scope: private, ip_version: IPv4, cidrs: [10.0.0.0/8]}",
             "  hz: {source: root, region: cn-hangzhou, cidrs: [10.0.0.0/11]}",
             "  sh: {source: root, region: cn-shanghai, cidrs: [{mask: 11}]}"]
    teams = 8
    for t in range(teams):
        lines.append(f"  team-{t}: {{source: {'hz' if t % 2 == 0 else 'sh'}, cidrs: [{{mask: 16}}], "
                     "allocation: {min_mask: 16, default_mask: 20, max_mask: 24}}")
    lines += ["allocations:"] + [f"  reserved-{i}: {{pool: root, mask: 16}}" for i in range(3)]
    lines.append("vpcs:")
    for v in range(vpcs):
        t = v % teams
        region = "cn-hangzhou" if t % 2 == 0 else "cn-shanghai"
        extra = f", secondary_cidrs: [{{pool: team-{t}, mask: 22}}]" if v % 2 == 0 else ""
        lines.append(f"  vpc-{v}: {{region: {region}, ipv4: {{pool: team-{t}, mask: 20}}{extra}}}")
    lines.append("vswitches:")
    for v in range(vpcs):
        zones = ["cn-hangzhou-h", "cn-hangzhou-i"] if v % teams % 2 == 0 else ["cn-shanghai-b", "cn-shanghai-e"]
        for z in zones:
            lines.append(f"  vsw-{v}-{z[-1]}: {{vpc: vpc-{v}, zone: {z}, cidr: {{mask: 24}}}}")
    lines.append("security_groups:")
    lines += [f"  sg-{v}: {{vpc: vpc-{v}, type: advanced}}" for v in range(vpcs)]
    lines.append("enis:")
    for v in range(vpcs):
        z = "h" if v % teams % 2 == 0 else "b"
        lines.append(f"  eni-{v}: {{vswitch: vsw-{v}-{z}, security_group: sg-{v}, "
                     f"secondary_private_ips: {{count: 2}}, ipv4_prefixes: {{count: {3 + v % 3}}}}}")
    return "\n".join(lines) + "\n"


def make_workspace(root: Path, spec: str | None = None) -> Path:
    (root / "specs").mkdir(parents=True)
    (root / "specs" / "main.yaml").write_text(spec if spec is not None else crash_spec())
    return root


def ipamctl(root: Path, *args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real CLI as a process, with the given fault variables (and none inherited)."""
    base = {k: v for k, v in os.environ.items() if k not in FAULT_VARS}
    full = {**base, "PYTHONPATH": str(REPO), "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "reconciler", "-C", str(root), *args], capture_output=True,
                          text=True, env=full, timeout=timeout)


def popen(root: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    base = {k: v for k, v in os.environ.items() if k not in FAULT_VARS}
    full = {**base, "PYTHONPATH": str(REPO), "NO_COLOR": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "reconciler", "-C", str(root), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full)


def paused(root: Path, marker: Path, k: int, point: str = "after-call", env: dict | None = None,
           timeout: float = 60) -> subprocess.Popen:
    """``ipamctl apply --auto-approve`` started and held the k-th time it passes ``point``
    (``IPAM_FAULT_PAUSE_*``): it goes on once ``marker`` is removed."""
    pause = {"IPAM_FAULT_PAUSE_AFTER": str(k), "IPAM_FAULT_PAUSE_POINT": point, "IPAM_FAULT_PAUSE_FILE": str(marker)}
    proc = popen(root, "apply", "--auto-approve", env={**(env or {}), **pause})
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"the apply never paused at {point} {k} ({proc.returncode}):\n{out[-2000:]}\n"
                                 f"{err[-2000:]}")
        time.sleep(0.01)
    return proc


def lock_id(root: Path) -> str | None:
    try:
        return json.loads((root / "state" / ".lock").read_text())["id"]
    except FileNotFoundError:
        return None


def files_intact(root: Path) -> list[str]:
    """The state reads (snapshot checksum, journal) and the snapshot is there: else what is wrong."""
    backend = LocalStateBackend(root / "state")
    out = []
    if not backend.snapshot_path.exists():
        out.append("state.json is missing")
    try:
        backend.read()
    except Exception as exc:  # noqa: BLE001 - any failure to read is what this reports
        out.append(f"the state does not read: {exc}")
    return out


def converged(root: Path, backend: StateBackend | None = None) -> list[str]:
    """Everything that is wrong after a converging apply: the state against the sandbox (ids, CIDRs,
    orphans, doubles), a plan with changes left, intents left pending, a lock left behind.
    ``backend``: the workspace's, when not its local files (then their checks are left out)."""
    local = backend is None
    backend = backend if backend is not None else LocalStateBackend(root / "state")
    state, pending = backend.read_with_intents()
    sandbox = root / "state" / "sandbox.db"
    out = (files_intact(root) if local else []) + problems(state.resources, sandbox) + doubles(sandbox)
    plan = make_plan(load_specs(root / "specs"), state.resources, lineage=plan_lineage(state), serial=state.serial)
    if plan.has_changes:
        out.append(f"the plan still has {len(plan.actions)} action(s): {[a.address for a in plan.actions[:5]]}")
    if pending:
        out.append(f"{len(pending)} intent(s) still pending")
    lock_left = (root / "state" / ".lock").exists() if local else backend.lock_status() is not None
    if lock_left:
        out.append("the lock was left behind")
    return out


def cloud_tokens(root: Path) -> set[tuple[str, str]]:
    """The (API, ClientToken) pairs the workspace's sandbox carried out (and answers again from its store)."""
    path = root / "state" / "sandbox.db"
    if not path.exists():
        return set()
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return set(db.execute("SELECT action, token FROM tokens").fetchall())
