"""Faults and wrong words at the edge of the CLI (issue 17, items 17-23): output files, -C, a broken
provider path, a garbage or read-only sandbox, an apply running next to a plan, drift's hint, the
apply summary, show's columns, an invalid import address."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from reconciler.plans import planfile
from tests.conftest import REPO
from tests.support.specs import BASE


# ---- 17: output files ---------------------------------------------------------------------------
def test_out_to_a_device_writes_it_and_keeps_it(ws, tmp_path):
    # a null device of the test's own (never the system's /dev/null: the bug replaces it with a file)
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        os.close(os.open(device, os.O_WRONLY))
    except OSError:
        pytest.skip("cannot make a device node here (needs root, and a filesystem without nodev)")
    ws.write("main.yaml", BASE)
    ws.run("plan", "--out", str(device), check=0)
    assert stat.S_ISCHR(os.stat(device).st_mode)


def test_out_through_a_symlink_writes_its_target_and_keeps_the_link(ws):
    ws.write("main.yaml", BASE)
    (ws.root / "plans").mkdir()
    link = ws.root / "latest.json"
    link.symlink_to("plans/p.json")
    ws.run("plan", "--out", "latest.json", check=0)
    assert link.is_symlink() and os.readlink(link) == "plans/p.json"
    assert planfile.load_document((ws.root / "plans" / "p.json").read_bytes())["actions"]
    html = ws.root / "report.html"
    html.symlink_to("plans/r.html")
    ws.run("report", "--html", "report.html", check=0)
    assert html.is_symlink() and (ws.root / "plans" / "r.html").read_text().startswith("<!")


def test_out_to_a_fifo_is_written_directly(ws, tmp_path):
    ws.write("main.yaml", BASE)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = ws.run("plan", "--out", str(fifo))
    reader.join(30)  # (a daemon: when the pipe is replaced instead of written, it waits on for nothing)
    assert proc.returncode == 0 and stat.S_ISFIFO(os.stat(fifo).st_mode) and got and planfile.load_document(got[0])["actions"]


def test_write_output_uses_unique_temp_files_and_leaves_none(tmp_path):
    from reconciler.cli.files import write_output

    target = tmp_path / "p.json"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    seen: set[str] = set()
    real_replace = os.replace

    def spy(src, dst):
        seen.add(os.path.basename(src))
        return real_replace(src, dst)

    os.replace = spy
    try:
        threads = [threading.Thread(target=write_output, args=(target, b"x" * 100_000)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        os.replace = real_replace
    assert len(seen) == 8 and all(n != "p.json.tmp" for n in seen)  # never the fixed name of two runs
    assert target.read_bytes() == b"x" * 100_000 and stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]


# ---- 18: tracebacks ---------------------------------------------------------------------------
def _no_traceback(proc: subprocess.CompletedProcess, code: str) -> None:
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert code in proc.stderr + proc.stdout, proc.stderr


def test_out_into_a_missing_folder_is_an_error(ws):
    ws.write("main.yaml", BASE)
    _no_traceback(ws.run("plan", "--out", "/missing/dir/p.json"), "Output.WriteFailed")
    _no_traceback(ws.run("report", "--html", "missing/r.html"), "Output.WriteFailed")


def test_provider_path_on_the_state_file_is_refused(ws):
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    ws.write("main.yaml", BASE + "provider: {path: state/state.json}\n")
    for args in (("plan",), ("drift",), ("apply", "--auto-approve")):
        _no_traceback(ws.run(*args), "Spec.ProviderPath")
    assert json.loads((ws.root / "state" / "state.json").read_text())["serial"] > 0
    # the workspace's lineage file is one of the state's own files too
    ws.write("main.yaml", BASE + "provider: {path: state/lineage}\n")
    _no_traceback(ws.run("plan"), "Spec.ProviderPath")


def test_a_garbage_sandbox_is_an_error(ws):
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    db = ws.root / "state" / "sandbox.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"this is not a database, just garbage " * 200)
    for args in (("plan", "--refresh"), ("drift",), ("report",), ("sandbox", "call", "DescribeVpcs",
                                                                  "RegionId=cn-hangzhou")):
        _no_traceback(ws.run(*args), "Sandbox.Damaged")


def _checkpointed(db: Path) -> None:
    """The WAL folded into the database and its -wal / -shm files gone (as after a clean close)."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()


READ_ONLY_COMMANDS = (("plan",), ("plan", "--refresh"), ("drift",), ("report",), ("show",))


def test_read_only_commands_write_nothing_in_the_workspace(ws):
    """Root ignores permissions, so this checks what a read-only folder would refuse: nothing is created
    or changed in state/ by a read-only command (before, opening the sandbox made -wal / -shm files and
    plan created the database's folder and an empty database). The one file a plan may write is its
    memo (state/plan.memo, skipped where it cannot be written: the test below)."""
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    db = ws.root / "state" / "sandbox.db"
    _checkpointed(db)
    before = {p.name: p.read_bytes() for p in (ws.root / "state").iterdir()}
    for args in READ_ONLY_COMMANDS:
        ws.run(*args, check=0)
    after = {p.name: p.read_bytes() for p in (ws.root / "state").iterdir()}
    assert after.pop("plan.memo").endswith(b"No changes. The recorded state matches the specs.\n")
    assert after == before


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to run the commands as another user")
def test_read_only_commands_work_on_a_read_only_workspace(ws):
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    _checkpointed(ws.root / "state" / "sandbox.db")
    for p in [ws.root, *ws.root.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)  # root's: another user can read, never write
    before = sorted(p.name for p in (ws.root / "state").iterdir())
    # another user must reach the workspace, and run this interpreter and the code (a venv's python may
    # link into root's home): the folders on the way get o+rx for the test's length (read, never write)
    reach = [ws.root, REPO, Path(os.path.realpath(sys.executable)).parent, Path(sys.prefix)]
    opened = {parent: os.stat(parent).st_mode for start in reach for parent in (start, *start.parents)
              if parent != Path("/") and parent.is_dir() and not os.stat(parent).st_mode & 0o001}
    env = {"PATH": os.environ.get("PATH", ""), "HOME": "/tmp", "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    try:
        for parent, mode in opened.items():
            os.chmod(parent, stat.S_IMODE(mode) | 0o005)
        for args in READ_ONLY_COMMANDS:
            proc = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable,
                                   "-m", "reconciler", "-C", str(ws.root), *args], capture_output=True, text=True,
                                  env=env, timeout=120)
            assert proc.returncode == 0 and "Traceback" not in proc.stderr, (args, proc.stderr)
    finally:
        for parent, mode in opened.items():
            os.chmod(parent, stat.S_IMODE(mode))
    assert sorted(p.name for p in (ws.root / "state").iterdir()) == before


# ---- 19: a plan next to a running apply ---------------------------------------------------------
def test_plan_during_a_running_apply_says_an_apply_is_running(ws):
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    ws.write("main.yaml", BASE.replace("prod-h: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 24}}",
                                       "prod-h: {vpc: prod, zone: cn-hangzhou-h, cidr: {mask: 24}}\n"
                                       "  prod-i: {vpc: prod, zone: cn-hangzhou-i, cidr: {mask: 24}}"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1",
           "IPAM_FAULT_KILL_AFTER": "1", "IPAM_FAULT_KILL_POINT": "before-call"}
    # a live apply holding the lock with a call in flight: a process that holds the lock (flock) while
    # the journal has the intent an apply killed before its call left
    subprocess.run([sys.executable, "-m", "reconciler", "-C", str(ws.root), "apply", "--auto-approve"],
                   env=env, capture_output=True, timeout=120)
    (ws.root / "state" / ".lock").unlink()  # the killed apply's lock: now taken by a live holder
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, sys.argv[1]);"
        "from reconciler.states.lock import WorkspaceLock; from pathlib import Path;"
        "l = WorkspaceLock(Path(sys.argv[2]) / 'state' / '.lock'); l.acquire('apply');"
        "print('held', flush=True); time.sleep(60)"), str(REPO), str(ws.root)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = ws.run("plan", check=0)
    finally:
        holder.kill()
        holder.wait()
    assert "interrupted apply" not in proc.stderr
    assert "`ipamctl apply` (lock ID" in proc.stderr and "is running" in proc.stderr
    assert "1 cloud call(s) in flight" in proc.stderr
    # with the holder gone, it is an interrupted apply again
    assert "an interrupted apply left 1 cloud call(s)" in ws.run("plan", check=0).stderr


# ---- 20: drift's hint -------------------------------------------------------------------------
def test_drift_hint_names_plan_refresh(ws):
    ws.write("main.yaml", BASE)
    ws.run("apply", "--auto-approve", check=0)
    vpc = ws.json("show")["resources"]["vpc.prod"]["id"]
    rc, _ = ws.sandbox("ModifyVpcAttribute", VpcId=vpc, RegionId="cn-hangzhou", Description="changed")
    assert rc == 0
    out = ws.run("drift", check=0).stdout
    assert "`ipamctl plan --refresh` shows what apply would change back" in out
    assert "`ipamctl plan` shows what apply would change back" not in out
    # and it is true: plain plan sees nothing, plan --refresh the change back
    assert ws.json("plan")["actions"] == []
    assert [a["address"] for a in ws.json("plan", "--refresh")["actions"]] == ["vpc.prod"]


# ---- 22: relative paths under -C --------------------------------------------------------------
def test_relative_paths_are_relative_to_the_c_folder(ws, tmp_path):
    ws.write("main.yaml", BASE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "reconciler", "-C", str(ws.root), *args], cwd=elsewhere,
                              capture_output=True, text=True, env=env, timeout=120)

    assert run("plan", "--out", "p.json").returncode == 0
    assert (ws.root / "p.json").is_file() and not (elsewhere / "p.json").exists()
    proc = run("apply", "p.json")
    assert proc.returncode == 0, proc.stderr
    assert run("report", "--html", "r.html").returncode == 0
    assert (ws.root / "r.html").is_file() and not (elsewhere / "r.html").exists()


# ---- 23: wrong words --------------------------------------------------------------------------
def test_apply_summary_and_show_columns(ws):
    ws.write("main.yaml", "ipam: {name: corp, region: cn-hangzhou}\n")
    assert "Apply complete: 1 action. 1 to add" in ws.run("apply", "--auto-approve", check=0).stdout
    ws.write("main.yaml", BASE + "allocations:\n  onprem: {pool: root, cidr: 10.200.0.0/16}\n")
    out = ws.run("apply", "--auto-approve", check=0).stdout
    assert "Apply complete: " in out and " actions. " in out
    lines = [line for line in ws.run("show", check=0).stdout.splitlines() if line.startswith("  ")]
    ids = {line.split()[1] for line in lines}
    assert any(i.startswith("ipam-pool-alloc-") and len(i) > 28 for i in ids)
    columns = {line.index(line.split()[2]) for line in lines if len(line.split()) > 2}
    assert len(columns) == 1, lines  # the blocks start in one column


def test_import_of_a_malformed_address_is_an_invalid_address(ws):
    ws.write("main.yaml", BASE)
    for address in ("vpc..//x", "vpc.", "vpc. x", "ipam."):
        proc = ws.run("import", address, "vpc-1")
        assert proc.returncode == 1 and "Import.InvalidAddress" in proc.stderr, (address, proc.stderr)
