"""Apply through the official SDKs over HTTP beside the in-process sandbox, in one run.

For each size: the benchmark workspace's specs are planned (``plan --out``) and the saved plan applied
(``apply PLAN``, timed as a whole process) twice per round -- once into the embedded sandbox, once
through ``provider: {type: alibaba}`` to an ``ipamctl sandbox serve`` process on loopback (the server
on the other core) -- rounds alternating which goes first. Prints a JSON line per run and a table of
medians with the ratio; the load average is recorded with each run.

    python -m benchmarks.apply_sdk --size 10000 --rounds 3 --work benchmarks/.work/sdk
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import generate as gen
from benchmarks.run import ipamctl, run_process

PY = sys.executable


def _serve(ws: Path, env: dict) -> tuple[subprocess.Popen, int]:
    port_file = ws / "port"
    proc = subprocess.Popen(ipamctl(ws, "sandbox", "serve", "--port", "0", "--port-file", str(port_file)), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for _ in range(600):
        if port_file.exists():
            return proc, int(port_file.read_text())
        if proc.poll() is not None:
            raise RuntimeError(f"sandbox serve failed: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.05)
    raise RuntimeError("sandbox serve did not start")


def one(wss: gen.Workspaces, mode: str, work: Path) -> dict:
    ws = wss.apply_ws()
    server = None
    if mode == "served":
        server, port = _serve(ws, os.environ.copy())
        (ws / "specs" / "zz-provider.yaml").write_text(
            f"provider: {{type: alibaba, region: cn-hangzhou, endpoint: '127.0.0.1:{port}', protocol: http}}\n")
    try:
        plan = ws / "plan.json"
        p = run_process(ipamctl(ws, "plan", "--out", str(plan)), work / f"plan-{mode}.txt")
        if p["rc"]:
            raise RuntimeError(f"plan failed: {(work / f'plan-{mode}.txt.err').read_text()[-2000:]}")
        out = work / f"apply-{mode}.txt"
        a = run_process(ipamctl(ws, "apply", str(plan)), out)
        m = re.search(r"Apply complete: (\d+) actions", out.read_text(errors="replace"))
        if a["rc"] or not m:
            raise RuntimeError(f"apply failed ({a['rc']}): {Path(str(out) + '.err').read_text()[-2000:]}")
        again = run_process(ipamctl(ws, "plan", "--detailed-exitcode"), work / f"replan-{mode}.txt")
        actions = int(m.group(1))
        return {"mode": mode, "actions": actions, "wall_s": a["wall_s"], "cpu_s": a["cpu_s"], "rss_mb": a["rss_mb"],
                "actions_per_s": actions / a["wall_s"], "load": a["load"], "replan_rc": again["rc"]}
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", default="benchmarks/.work/sdk")
    args = ap.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    # one key for the server and the client: the environment is the SDK's first credential source
    os.environ.setdefault("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI" + secrets.token_hex(10))
    os.environ.setdefault("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secrets.token_hex(15))
    wss = gen.build_workspaces(args.size, "yaml", work)
    runs: dict[str, list[dict]] = {"embedded": [], "served": []}
    for r in range(args.rounds):
        for mode in (("embedded", "served") if r % 2 == 0 else ("served", "embedded")):
            result = one(wss, mode, work)
            print(json.dumps(result), flush=True)
            runs[mode].append(result)
    med = {m: statistics.median(x["wall_s"] for x in rs) for m, rs in runs.items()}
    actions = runs["embedded"][0]["actions"]
    print(f"\n| N | actions | embedded apply (median) | served, SDK over HTTP (median) | served actions/s | ratio |")
    print("|---|---|---|---|---|---|")
    print(f"| {args.size:,} | {actions:,} | {med['embedded']:.2f} s | {med['served']:.2f} s | "
          f"{actions / med['served']:,.0f} | {med['served'] / med['embedded']:.2f} |")
    print(f"loads: {[round(x['load'], 2) for rs in runs.values() for x in rs]}")
    shutil.rmtree(wss.root / "apply", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
