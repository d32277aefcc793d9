"""Saved plans and ``plan --json`` side by side with another checkout (issue 22), in one run.

    git worktree add /tmp/base <commit>          # the commit to compare with (A); this tree is B
    python -m benchmarks.generate --sizes 100000 --formats yaml --out /tmp/bench
    python -m benchmarks.saved_plans --base /tmp/base --workspace /tmp/bench/n100000-yaml/cold --rounds 3

Each round runs, for each command, A then B (alternated, so a change of the machine's load falls on
both), every run a whole ``ipamctl`` process (wall time and peak RSS from ``wait4``, through the
launcher of :mod:`benchmarks.run`). A runs with ``PYTHONPATH`` set to the other checkout. The
commands: ``plan --out F`` and ``plan --json > F`` on a copy of the cold workspace (``--out``
fixes its lineage, so every run after the first plans alike), and ``show --json F`` of the saved plan.
Prints the medians, the file sizes and the load as a Markdown table, and the figures as JSON on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from .run import PY, _launch, _rusage

COMMANDS = {  # name -> (a side's folder -> arguments, the file stdout goes to, the file to size)
    "plan --out F": lambda d: (["plan", "--out", str(d / "plan.out")], None, d / "plan.out"),
    "plan --json > F": lambda d: (["plan", "--json"], d / "plan.json", d / "plan.json"),
    "show --json F": lambda d: (["show", "--json", str(d / "plan.out")], d / "shown.json", d / "shown.json"),
    # with --nochange: a plain plan of the converged workspace (B answers from its memo after a first,
    # untimed plan keeps it; A plans in full)
    "plan (no change)": lambda d: (["-C", str(d / "nochange"), "plan"], d / "nochange.txt", d / "nochange.txt"),
}


def _env(pythonpath: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    else:
        env.pop("PYTHONPATH", None)
    return env


def source(ws: Path, pythonpath: str | None) -> str:
    """Where the side's ``reconciler`` is imported from, run as its plans are (``-m`` puts the working
    folder first on the path: each side runs in its workspace's folder, never in a checkout)."""
    return subprocess.run([PY, "-c", "import reconciler; print(reconciler.__file__)"], capture_output=True,
                          text=True, env=_env(pythonpath), cwd=ws, check=True).stdout.strip()


def run(ws: Path, args: list[str], stdout: Path | None, pythonpath: str | None) -> dict:
    with open(stdout or os.devnull, "wb") as fo:
        cmd = args if args[0] == "-C" else ["-C", str(ws), *args]
        r = subprocess.run(_launch([PY, "-m", "reconciler", *cmd]), stdout=fo,
                           stderr=subprocess.PIPE, text=True, env=_env(pythonpath), cwd=ws)
    err, usage = _rusage(r.stderr)
    if usage["rc"] not in (0, 2):
        raise RuntimeError(f"{args} exited {usage['rc']}:\n{err[-2000:]}")
    usage["load"] = os.getloadavg()[0]
    return usage


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True, help="a checkout of the commit to compare with")
    p.add_argument("--workspace", required=True, help="a cold workspace (specs, no state)")
    p.add_argument("--nochange", help="a converged workspace (specs and state): adds a no-change plan")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--work", default="/tmp/saved-plans-bench")
    args = p.parse_args(argv)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    sides = {"A": str(Path(args.base).resolve()), "B": None}
    wss = {}
    for side in sides:
        wss[side] = work / side / "ws"
        shutil.copytree(args.workspace, wss[side])
        if args.nochange:
            shutil.copytree(args.nochange, work / side / "nochange")
            run(work / side / "nochange", ["plan"], None, sides[side])  # (B keeps its memo)
    commands = {k: v for k, v in COMMANDS.items() if args.nochange or k != "plan (no change)"}
    for side, path in sides.items():
        print(f"{side}: {source(wss[side], path)}", file=sys.stderr, flush=True)
    runs: dict[tuple[str, str], list[dict]] = {}
    sizes: dict[tuple[str, str], int] = {}
    for n in range(args.rounds):
        for name, make in commands.items():
            for side, path in sides.items():
                cmd, stdout, target = make(work / side)
                r = run(wss[side], cmd, stdout, path)
                runs.setdefault((name, side), []).append(r)
                sizes[(name, side)] = target.stat().st_size
                print(f"round {n + 1} {side} {name}: {r['wall_s']:.2f} s, {r['rss_mb']:.0f} MB, load {r['load']:.2f}",
                      file=sys.stderr, flush=True)
    shown = {s: (work / s / "shown.json").read_bytes() == (work / s / "plan.json").read_bytes() for s in sides}
    print("| command | A s (median) | B s (median) | A peak RSS MB | B peak RSS MB | A output | B output | load |")
    print("|---|---|---|---|---|---|---|---|")
    for name in commands:
        a, b = runs[(name, "A")], runs[(name, "B")]
        loads = [r["load"] for r in a + b]
        print(f"| `{name}` | {statistics.median(r['wall_s'] for r in a):.2f} | "
              f"{statistics.median(r['wall_s'] for r in b):.2f} | {max(r['rss_mb'] for r in a):.0f} | "
              f"{max(r['rss_mb'] for r in b):.0f} | {sizes[(name, 'A')] / 1e6:.1f} MB | "
              f"{sizes[(name, 'B')] / 1e6:.1f} MB | {min(loads):.1f}-{max(loads):.1f} |")
    print(f"\nshow --json of the saved plan byte-identical to plan --json: A {shown['A']}, B {shown['B']}")
    print("; ".join(f"{side}: {source(wss[side], path)}" for side, path in sides.items()))
    json.dump({f"{k[0]} [{k[1]}]": [{x: round(r[x], 3) for x in ("wall_s", "rss_mb", "load")} for r in v]
               for k, v in runs.items()}, sys.stderr, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
