"""The benchmark suite of issue 5: one command runs it all and writes ``docs/performance.md``.

    python -m benchmarks.run --sizes 1000,10000,100000          # the whole suite (about an hour on 2 cores)
    python -m benchmarks.run --smoke                            # N=1,000: checks results, not times
    python -m pytest -q tests/test_benchmark_smoke.py           # the same, as a test (part of the suite: CI runs it)

What it does, per size N (resources = records of the desired state) and spec format:

1. generates the workspaces (``benchmarks.generate``): ``cold`` (specs, no state), ``nochange``
   (specs + converged state), ``churn`` (1 % of resources changed, added or removed + the same state);
2. times each pipeline stage in fresh processes (``benchmarks.stages``), best of ``--repeat``, and
   measures each stage's peak Python allocations in one more (tracemalloc) pass;
3. times whole ``ipamctl plan`` processes (wall time, peak RSS from ``wait4``), best of ``--repeat``;
4. applies a saved cold plan into the sandbox (``apply PLANFILE``: actions per second), checks that
   the next plan is empty and that the state equals the converged state the benchmarks construct;
5. at the largest size: the cyclic GC's share, cProfile and pyinstrument profiles of the cold plan,
   and the baselines (allocation, diff, parse; ``benchmarks.baselines``), each in its own process;
6. writes the tables between the generated-section markers of ``docs/performance.md`` (text outside
   the markers is kept) and every figure to ``benchmarks/.work/results.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from . import generate as gen

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DOC = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- BEGIN GENERATED: python -m benchmarks.run -->", "<!-- END GENERATED -->"
PY = sys.executable
SCENARIOS = ("cold", "nochange", "churn")
SCENARIO_TEXT = {"cold": "cold (empty state)", "nochange": "no-change (converged state)", "churn": "1 % churn"}
STAGE_TEXT = {"load": "load (spec files)", "state": "read state", "validate": "validate (pydantic)",
              "graph": "graph (references, cycles, order)", "resolve": "allocate / resolve", "rules": "rules",
              "diff": "diff", "order": "order (action graph)", "render": "render (text)",
              "render-json": "render --json / --out"}


def log(msg: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


# ---- processes ----------------------------------------------------------------------------------------------
# A small launcher forks the measured process: a child's peak RSS (ru_maxrss) starts from its parent's
# at fork time and survives exec, so forking from this (large) process would inflate every figure.
LAUNCH = """import json, os, sys, time
t = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t
sys.stderr.write("\\n@@RUSAGE " + json.dumps([os.waitstatus_to_exitcode(status), ru.ru_maxrss, wall,
                                             ru.ru_utime, ru.ru_stime]) + "\\n")
"""


def _launch(args: list[str]) -> list[str]:
    return [PY, "-c", LAUNCH, *args]


def _rusage(stderr: str) -> tuple[str, dict]:
    head, _, tail = stderr.rpartition("@@RUSAGE ")
    rc, maxrss, wall, utime, stime = json.loads(tail.splitlines()[0])
    return head.rstrip("\n"), {"rc": rc, "rss_mb": maxrss / 1024, "wall_s": wall, "user_s": utime, "sys_s": stime}


def run_process(args: list[str], out: Path | None = None) -> dict:
    """Run a process to its end: wall seconds, its own peak RSS, CPU seconds, exit code."""
    out = out or Path(os.devnull)
    with open(out, "wb") as fo:
        r = subprocess.run(_launch(args), stdout=fo, stderr=subprocess.PIPE, text=True)
    err, usage = _rusage(r.stderr)
    if out != Path(os.devnull):
        Path(str(out) + ".err").write_text(err)
    usage["cpu_s"] = usage["user_s"] + usage["sys_s"]
    usage["load"] = os.getloadavg()[0]
    return usage


def ipamctl(ws: Path, *args: str) -> list[str]:
    return [PY, "-m", "reconciler", "-C", str(ws), *args]


def json_process(args: list[str]) -> dict:
    """Run a measuring process (through the launcher, so its own RSS figures are its own); its JSON."""
    r = subprocess.run(_launch(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err, usage = _rusage(r.stderr)
    if usage["rc"]:
        raise RuntimeError(f"{' '.join(args)} failed ({usage['rc']}):\n{err[-3000:]}")
    for line in err.strip().splitlines():
        log(line)
    return json.loads(r.stdout)


# ---- machine ------------------------------------------------------------------------------------------------
def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    versions = {}
    for mod in ("pydantic", "networkx", "deepdiff", "yaml", "orjson", "netaddr", "yaml_rs"):
        try:
            m = __import__(mod)
            versions[mod] = getattr(m, "__version__", "?")
        except ImportError:
            versions[mod] = None
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "reconciler"], capture_output=True,
                                text=True).stdout.strip())
    return {"nproc": os.cpu_count(), "cpu": model, "memory": mem, "python": platform.python_version(),
            "loadavg_at_start": [round(x, 1) for x in os.getloadavg()],
            "platform": platform.platform(), "date": datetime.date.today().isoformat(),
            "commit": commit + (" (reconciler/ has uncommitted changes)" if dirty else ""), "libraries": versions}


# ---- workspaces ---------------------------------------------------------------------------------------------
def _generator_stamp() -> str:
    import hashlib

    return hashlib.sha256((HERE / "generate.py").read_bytes()).hexdigest()[:12]


def workspaces(n: int, formats: list[str], work: Path, regenerate: bool = False) -> dict[str, gen.Workspaces]:
    """The workspaces of size n for each format (reused when the generator has not changed)."""
    stamp = _generator_stamp()
    out: dict[str, gen.Workspaces] = {}
    model = state = None
    for fmt in formats:
        root = work / f"n{n}-{fmt}"
        meta_path = root / "meta.json"
        if not regenerate and meta_path.exists():
            meta = json.loads(meta_path.read_text())
            if meta.get("stamp") == stamp and all((root / s / "specs").is_dir() for s in SCENARIOS):
                out[fmt] = gen.Workspaces(n, fmt, root, meta["resources"], meta["churn"])
                state = (root / "nochange" / "state" / "state.json").read_bytes()
                continue
        log(f"generating N={n:,} ({fmt})")
        model = model or gen.generate(n)
        ws = gen.build_workspaces(n, fmt, work, model=model, state_bytes=state)
        state = (ws.nochange / "state" / "state.json").read_bytes()
        meta = json.loads(meta_path.read_text())
        meta["stamp"] = stamp
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        out[fmt] = ws
    return out


# ---- measurements -------------------------------------------------------------------------------------------
def stage_timings(ws: Path, repeat: int, memory: bool = True) -> dict:
    best: dict[str, float] = {}
    rss: dict[str, float] = {}
    total = float("inf")
    facts = gcs = None
    for _ in range(repeat):
        r = json_process([PY, "-m", "benchmarks.stages", str(ws)])
        for k, v in r["times"].items():
            best[k] = min(best.get(k, float("inf")), v)
        if r["total_s"] < total:
            total, gcs = r["total_s"], r.get("gc_by_stage_s")
        rss = r["rss_mb"]
        facts = r["facts"]
    out = {"best_s": best, "total_s": total, "rss_mb": rss, "facts": facts, "repeat": repeat, "gc_by_stage_s": gcs,
           "gc_mode": r.get("gc_mode")}
    if memory:
        m = json_process([PY, "-m", "benchmarks.stages", str(ws), "--memory"])
        out["heap_peak_mb"] = {k: v / 2**20 for k, v in m["heap_peak_bytes"].items()}
    return out


def plan_processes(ws: Path, scenario: str, repeat: int, work: Path) -> dict:
    best = None
    runs = []
    out = work / f"plan-{ws.parent.name}-{scenario}.txt"
    for _ in range(repeat):
        args = ipamctl(ws, "plan", "--detailed-exitcode")
        r = run_process(args, out)
        text = out.read_text(errors="replace")
        expected = 0 if scenario == "nochange" else 2
        r["ok"] = r["rc"] == expected and (("No changes." in text) == (scenario == "nochange"))
        if not r["ok"]:
            raise RuntimeError(f"plan in {ws} exited {r['rc']} (expected {expected}):\n{text[-2000:]}"
                               f"{Path(str(out) + '.err').read_text()[-2000:]}")
        summary = [line for line in text.splitlines() if line.startswith("Plan:") or line.startswith("No changes")]
        r["summary"] = summary[-1] if summary else ""
        runs.append(r)
        if best is None or r["wall_s"] < best["wall_s"]:
            best = r
    return {"best_wall_s": best["wall_s"], "rss_mb": max(r["rss_mb"] for r in runs), "summary": best["summary"],
            "runs": [round(r["wall_s"], 3) for r in runs], "cpu_s": min(r["cpu_s"] for r in runs),
            "load": [round(r["load"], 1) for r in runs]}


def startup(repeat: int) -> dict:
    best = {}
    for name, args in (("python", [PY, "-c", "pass"]), ("import reconciler.cli.main", [PY, "-c", "import reconciler.cli.main"]),
                       ("ipamctl --help", [PY, "-m", "reconciler", "--help"])):
        best[name] = min(run_process(args)["wall_s"] for _ in range(repeat))
    r = subprocess.run([PY, "-X", "importtime", "-c", "import reconciler.cli.main"], capture_output=True, text=True)
    rows = []
    for line in r.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m and "." not in m.group(4) and m.group(4) not in ("site", "encodings", "reconciler"):
            rows.append((m.group(4), int(m.group(2))))  # packages, wherever first imported
    rows.sort(key=lambda r: -r[1])
    return {"wall_s": best, "imports": rows[:8]}


def apply_benchmark(wss: gen.Workspaces, work: Path) -> dict:
    ws = wss.apply_ws()
    planfile = ws / "plan.json"
    p = run_process(ipamctl(ws, "plan", "--out", str(planfile)), work / f"apply-plan-{wss.root.name}.txt")
    if p["rc"] != 0:
        raise RuntimeError(f"plan --out failed in {ws}")
    out = work / f"apply-{wss.root.name}.txt"
    a = run_process(ipamctl(ws, "apply", str(planfile)), out)
    text = out.read_text(errors="replace")
    m = re.search(r"Apply complete: (\d+) actions", text)
    if a["rc"] != 0 or not m:
        raise RuntimeError(f"apply failed in {ws} ({a['rc']}):\n{text[-2000:]}")
    actions = int(m.group(1))
    again = run_process(ipamctl(ws, "plan", "--detailed-exitcode"), work / f"apply-replan-{wss.root.name}.txt")
    applied = json.loads((ws / "state" / "state.json").read_bytes())["resources"]
    built = json.loads((wss.nochange / "state" / "state.json").read_bytes())["resources"]
    same = set(applied) == set(built) and all(applied[k]["attributes"] == built[k]["attributes"] for k in applied)
    return {"actions": actions, "apply_wall_s": a["wall_s"], "apply_rss_mb": a["rss_mb"],
            "actions_per_s": actions / a["wall_s"], "plan_out_wall_s": p["wall_s"],
            "converged": again["rc"] == 0, "state_equals_constructed": same,
            "resources": len(applied)}


def gc_share(ws: Path, repeat: int) -> dict:
    out = {}
    for mode in ("callbacks", "disable", "freeze", "cli"):  # callbacks: default thresholds, collections timed
        runs = [json_process([PY, "-m", "benchmarks.stages", str(ws), "--gc", mode]) for _ in range(repeat)]
        best = min(runs, key=lambda r: r["total_s"])
        out[mode] = {"total_s": best["total_s"], "rss_mb": max(r["rss_mb"]["render-json"] for r in runs),
                     "imports_s": best.get("imports_s")}
        if mode in ("callbacks", "cli"):
            out[mode]["gc_s"] = best["gc_s"]
            out[mode]["gc_collections"] = best["gc_collections"]
            out[mode]["gc_by_stage_s"] = best["gc_by_stage_s"]
    return out


def profiles(ws: Path, work: Path) -> dict:
    out = {}
    r = json_process([PY, "-m", "benchmarks.stages", str(ws), "--profile", "cprofile", "--profile-out",
                      str(work / "cold-plan.prof")])
    rows = r["rows"]
    out["cprofile"] = {"wall_s": r["wall_s"], "file": str(work / "cold-plan.prof"),
                       "by_tottime": sorted(rows, key=lambda x: -x["tottime"])[:25],
                       "by_cumtime": sorted((x for x in rows if x["function"].startswith("reconciler/")),
                                            key=lambda x: -x["cumtime"])[:30]}
    try:
        r = json_process([PY, "-m", "benchmarks.stages", str(ws), "--profile", "pyinstrument", "--profile-out",
                          str(work / "cold-plan.pyinstrument.txt")])
        out["pyinstrument"] = {"wall_s": r["wall_s"], "file": str(work / "cold-plan.pyinstrument.txt"),
                               "text": r["text"]}
    except RuntimeError as exc:
        out["pyinstrument"] = {"error": str(exc)[-500:]}
    return out


def baselines(sizes: dict, largest: int, args) -> dict:
    out: dict = {}
    m = [PY, "-m", "benchmarks.baselines"]
    for v in (4, 6):
        log(f"allocation baseline IPv{v}: {args.alloc_requests:,} requests")
        out[f"alloc_v{v}"] = json_process(m + ["alloc", "--version", str(v), "--requests", str(args.alloc_requests),
                                               "--runs", str(args.repeat), "--budget", str(args.alloc_budget),
                                               "--project-budget", str(args.alloc_project_budget)])
    wss = sizes[largest]["yaml"]
    for case, ws in (("churn", wss.churned), ("nochange", wss.nochange)):
        log(f"diff baseline ({case}) at N={largest:,}")
        out[f"diff_{case}"] = json_process(m + ["diff", "--ws", str(ws), "--runs", str(args.repeat),
                                                "--budget", str(args.diff_budget)])
    for fmt, w in sizes[largest].items():
        log(f"parse baseline ({fmt}) at N={largest:,}")
        out[f"parse_{fmt}"] = json_process(m + ["parse", "--ws", str(w.cold), "--runs", str(args.repeat)])
    log("overlap audit")
    out["overlap"] = json_process(m + ["overlap", "--runs", str(args.repeat)])
    return out


# ---- the report ---------------------------------------------------------------------------------------------
def _s(x: float | None) -> str:
    if x is None:
        return "–"
    if x >= 100:
        return f"{x:,.0f} s"
    if x >= 10:
        return f"{x:.1f} s"
    if x >= 0.1:
        return f"{x:.2f} s"
    return f"{x * 1000:.1f} ms"


def _mb(x: float | None) -> str:
    return "–" if x is None else f"{x:,.0f} MB"


def _met(ok: bool | None) -> str:
    return "–" if ok is None else ("**met**" if ok else "**not met**")


def goals(results: dict) -> list[tuple[str, str, str, bool | None]]:
    """(goal, target, measured, met)"""
    rows = []
    procs = results.get("processes", {})
    sizes = sorted(int(n) for n in procs)
    big = str(sizes[-1]) if sizes else None
    if big and int(big) >= 100_000:
        p = procs[big].get("yaml", {})
        for scen, target in (("churn", 2.5), ("nochange", 2.5), ("cold", 4.0)):
            if scen in p:
                w = p[scen]["best_wall_s"]
                rows.append((f"`ipamctl plan`, {int(big):,} resources, YAML, {SCENARIO_TEXT[scen]}",
                             f"<= {target} s", _s(w), w <= target))
        if p:
            peak = max(p[s]["rss_mb"] for s in p)
            rows.append((f"peak memory of those plans ({int(big):,}, YAML)", "< 700 MB", _mb(peak), peak < 700))
    for a, b in zip(sizes, sizes[1:]):
        pa, pb = procs[str(a)].get("yaml", {}), procs[str(b)].get("yaml", {})
        for scen in SCENARIOS:
            if scen in pa and scen in pb:
                ratio = pb[scen]["best_wall_s"] / pa[scen]["best_wall_s"]
                scale = b / a
                target = 1.2 * scale
                rows.append((f"scaling {a:,} -> {b:,} ({SCENARIO_TEXT[scen]}, YAML, whole plan)",
                             f"<= {target:.0f}x time for {scale:.0f}x resources", f"{ratio:.1f}x", ratio <= target))
    base = results.get("baselines", {})
    for v in (4, 6):
        a = base.get(f"alloc_v{v}")
        if a:
            pm = a["methods"]["project"]
            full = pm["best_s"] if pm["complete"] else None
            measured = _s(full) if full is not None else f"> {_s(pm['best_s'])} ({pm['requests']:,} done)"
            rows.append((f"allocation, {a['requests']:,} mixed requests (IPv{v}, {a['releases']:,} releases)",
                         "< 0.5 s", measured, full is not None and full < 0.5))
            ip = a["methods"]["netbox-ipset"]
            rows.append((f"allocation vs NetBox IPSet (IPv{v}, first {ip['compared_at']:,} requests)", ">= 20x faster",
                         f"{ip['ratio']:.0f}x", ip["ratio"] >= 20))
    d = base.get("diff_churn")
    if d:
        rows.append((f"diff vs whole-document DeepDiff ({d['resources']:,} resources, 1 % churn)", ">= 20x faster",
                     f"{d['ratio']:.0f}x", d["ratio"] >= 20))
    d = base.get("diff_nochange")
    if d:
        rows.append((f"diff vs whole-document DeepDiff ({d['resources']:,} resources, no change)", ">= 20x faster",
                     f"{d['ratio']:.0f}x", d["ratio"] >= 20))
    for n in sorted(results.get("apply", {}), key=int):
        ap = results["apply"][n]
        rows.append((f"apply into the sandbox ({ap['actions']:,} actions, N={int(n):,})", ">= 2,000 actions/s",
                     f"{ap['actions_per_s']:,.0f} actions/s", ap["actions_per_s"] >= 2000))
    o = base.get("overlap")
    if o:
        if o.get("landed") and "audit_s" in o:
            rows.append((f"overlap audit over {o['cidrs']:,} CIDRs (from CIDR text)", "<= 3 s", _s(o["audit_s"]),
                         o["audit_s"] <= 3))
            rows.append((f"overlap sweep alone over {o['cidrs']:,} ranges", "<= 3 s", _s(o["sweep_s"]),
                         o["sweep_s"] <= 3))
        else:
            rows.append(("overlap audit over 1,000,000 CIDRs", "<= 3 s", o.get("note", "not measured"), None))
    return rows


DESCRIBE = {}  # function -> what it does, for the hot-spot table (filled from reading the code)


def bytecode() -> dict:
    """Compile the package's bytecode before any process is timed, as ``pip install`` does for an installed one.

    Without it, where ``PYTHONDONTWRITEBYTECODE`` is set (this machine sets it) or the package folder is
    read-only, every ``ipamctl`` process would compile the package from source: about 50 ms each here."""
    import compileall

    t = time.perf_counter()
    ok = compileall.compile_dir(str(REPO / "reconciler"), quiet=1)
    return {"ok": bool(ok), "seconds": round(time.perf_counter() - t, 2),
            "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE")}


def markdown(results: dict) -> str:
    m = results["machine"]
    out = [BEGIN, "",
           f"Measured {m['date']} on {m['nproc']} × {m['cpu']}, {m['memory']} memory, Python {m['python']} "
           f"({m['platform']}); commit {m['commit']}. Libraries: "
           + ", ".join(f"{k} {v}" for k, v in m["libraries"].items() if v) + ".",
           f"Command: `{results['command']}` ({results['elapsed_min']:.0f} min). Best of {results['repeat']} runs "
           "unless said otherwise; every plan is a separate process."
           + (" The package's bytecode is compiled first (`compileall`, as `pip install` does; this machine sets "
              "`PYTHONDONTWRITEBYTECODE`), so no process compiles it from source." if results.get("bytecode") else ""),
           "",
           f"**Noise.** 1-minute load average {m['loadavg_at_start'][0]} at the start of the run, "
           f"{results.get('loadavg_at_end', ['?'])[0]} at the end, on {m['nproc']} cores (the measured process "
           "itself counts 1; the process table gives it for every run). The machine is a virtual one on a shared "
           "host: the same process can take 20-30 % longer at one time of day than at another, with no load of "
           "its own; wall times are upper bounds, and CPU times (user + sys) are given beside them.", ""]
    out += ["### Goals of issue 5", "", "| goal | target | measured | |", "|---|---|---|---|"]
    out += [f"| {g} | {t} | {v} | {_met(ok)} |" for g, t, v, ok in goals(results)]
    out += [""]
    gens = results.get("generated", {})
    if gens:
        out += ["### The generated plans", "",
                "| N | resources | pools | allocations | VPCs | vSwitches | security groups | instances | ENIs "
                "| YAML | JSON | 1 % churn (records changed / added / removed) |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for n in sorted(gens, key=int):
            g = gens[n]
            k = g["kinds"]
            out.append(f"| {int(n):,} | {g['resources']:,} | {k.get('pools', 0):,} | {k.get('allocations', 0):,} | "
                       f"{k.get('vpcs', 0):,} | {k.get('vswitches', 0):,} | {k.get('security_groups', 0):,} | "
                       f"{k.get('instances', 0):,} | {k.get('enis', 0):,} | {g.get('yaml_mb', 0):.1f} MB | "
                       f"{g.get('json_mb', 0):.1f} MB | {g['churn']['changed']} / {g['churn']['added']} / "
                       f"{g['churn']['removed']} |")
        out += ["", "Instances count twice (the instance and its implicit primary ENI), the IPAM three times "
                "(with its two default scopes).", ""]
    procs = results.get("processes", {})
    if procs:
        out += ["### Whole `ipamctl plan` processes", "",
                "Wall time (best) and peak RSS of `python -m reconciler -C WS plan --detailed-exitcode`, output to a file.", "",
                "| N | format | scenario | wall | CPU (user+sys) | peak RSS | load avg during runs | plan |",
                "|---|---|---|---|---|---|---|---|"]
        for n in sorted(procs, key=int):
            for fmt in procs[n]:
                for scen, p in procs[n][fmt].items():
                    out.append(f"| {int(n):,} | {fmt} | {SCENARIO_TEXT.get(scen, scen)} | {_s(p['best_wall_s'])} | "
                               f"{_s(p['cpu_s'])} | {_mb(p['rss_mb'])} | {', '.join(map(str, p['load']))} | "
                               f"{p['summary']} |")
        st = results.get("startup")
        if st:
            out += ["", "Process start-up alone: " + ", ".join(f"`{k}` {_s(v)}" for k, v in st["wall_s"].items())
                    + ". Heaviest imports (`python -X importtime -c 'import reconciler.cli.main'`, cumulative, one run): "
                    + ", ".join(f"`{name}` {_s(us / 1e6)}" for name, us in st["imports"]) + "."]
        out += [""]
    stages = results.get("stages", {})
    if stages:
        out += ["### Stages", "",
                "Each stage called directly (`benchmarks/stages.py`, the calls `make_plan` and the `plan` command make), "
                "in a fresh process per run, the collector set up as `ipamctl` sets it; time is the best of the runs, memory the peak of Python allocations "
                "during the stage above what was allocated when it began (tracemalloc, a separate pass), and the "
                "process's peak RSS after the stage.", ""]
        for n in sorted(stages, key=int):
            cols = [s for s in SCENARIOS if s in stages[n]]
            out += [f"**N = {int(n):,} (YAML)**", "",
                    "| stage | " + " | ".join(SCENARIO_TEXT[c] for c in cols) + " |",
                    "|---|" + "---|" * len(cols)]
            names = list(stages[n][cols[0]]["best_s"])
            for st_name in names:
                cells = []
                for c in cols:
                    s = stages[n][c]
                    heap = s.get("heap_peak_mb", {}).get(st_name)
                    cells.append(f"{_s(s['best_s'][st_name])} · {heap:,.0f} MB · RSS {s['rss_mb'][st_name]:,.0f} MB"
                                 if heap is not None else _s(s["best_s"][st_name]))
                out.append(f"| {STAGE_TEXT.get(st_name, st_name)} | " + " | ".join(cells) + " |")
            tot = [f"{_s(sum(v for k, v in stages[n][c]['best_s'].items() if k != 'render-json'))}" for c in cols]
            out.append("| **sum (without --json)** | " + " | ".join(tot) + " |")
            acts = [f"{stages[n][c]['facts']['changes']:,} changes, {stages[n][c]['facts']['actions']:,} actions"
                    for c in cols]
            out.append("| plan | " + " | ".join(acts) + " |")
            out += [""]
    ap = results.get("apply", {})
    if ap:
        out += ["### Apply into the sandbox", "",
                "`ipamctl plan --out F` then `ipamctl apply F` (timed) in a fresh workspace, then `plan` again.", "",
                "| N | actions | apply wall | actions/s | peak RSS | next plan empty | state = constructed converged state |",
                "|---|---|---|---|---|---|---|"]
        for n in sorted(ap, key=int):
            a = ap[n]
            out.append(f"| {int(n):,} | {a['actions']:,} | {_s(a['apply_wall_s'])} | {a['actions_per_s']:,.0f} | "
                       f"{_mb(a['apply_rss_mb'])} | {'yes' if a['converged'] else 'NO'} | "
                       f"{'yes' if a['state_equals_constructed'] else 'NO'} |")
        out += [""]
    base = results.get("baselines", {})
    if base:
        out += ["### Baselines, side by side", ""]
        for v in (4, 6):
            a = base.get(f"alloc_v{v}")
            if not a:
                continue
            out += [f"**Allocation, IPv{v}** — {a['requests']:,} first-fit requests of mixed lengths in {a['container']} "
                    f"with {a['releases']:,} releases in between, after {a['seeds']} scattered explicit blocks. "
                    f"Identical results to the naive lowest-address-first reference on the first "
                    f"{a['sample']['requests']:,} requests: "
                    + ", ".join(f"{k} {'yes' if ok else 'NO'}" for k, ok in a["sample"]["identical"].items())
                    + f"; all methods identical on the first {a['common_requests']:,}: "
                    f"{'yes' if a['identical_on_common'] else 'NO'}.", "",
                    "| method | requests done | time | per 1,000 | project on the same requests | ratio | runs |",
                    "|---|---|---|---|---|---|---|"]
            for name, mm in a["methods"].items():
                per = mm["best_s"] / mm["requests"] * 1000 if mm["requests"] else 0
                if name == "project":
                    out.append(f"| project (`BlockAllocator`) | {mm['requests']:,}{'' if mm['complete'] else ' (budget)'} | "
                               f"{_s(mm['best_s'])} | {_s(per)} | – | – | {mm['runs']} |")
                else:
                    out.append(f"| {name} | {mm['requests']:,}{'' if mm['complete'] else ' (budget)'} | {_s(mm['best_s'])} | "
                               f"{_s(per)} | {_s(mm['project_s_same_requests'])} | {mm['ratio']:.1f}x | {mm['runs']} |")
            pt = a["methods"]["project"].get("per_thousand", {})
            if pt:
                out += ["", "Project, time to reach: " + ", ".join(f"{int(k):,} requests {_s(v)}" for k, v in pt.items())
                        + f". The same requests without releases: {_s(a['project_without_releases_s'])}."]
            out += [""]
        rows = [(k, base[k]) for k in ("diff_churn", "diff_nochange") if k in base]
        if rows:
            out += ["**Diff** — `reconciler.plans.diff.diff(desired, recorded)` against one `DeepDiff(recorded, desired)` of the "
                    "whole documents (records as type, name, attributes).", "",
                    "| case | resources | changes | project | DeepDiff | ratio | same addresses |", "|---|---|---|---|---|---|---|"]
            for k, d in rows:
                out.append(f"| {k.split('_', 1)[1]} | {d['resources']:,} | {d['changes']:,} | {_s(d['project_s'])} | "
                           f"{_s(d['deepdiff_s'])} ({d['runs']['deepdiff']} runs) | {d['ratio']:.0f}x | "
                           f"{'yes' if d['same_addresses'] else 'NO'} |")
            out += [""]
        rows = [(k, base[k]) for k in ("parse_yaml", "parse_json") if k in base]
        if rows:
            out += ["**Parse** — all spec files of the cold workspace, read and merged; the same data checked equal.", "",
                    "| format | files | size | method | time | project's time ÷ this |", "|---|---|---|---|---|---|"]
            for _k, p in rows:
                proj = p["best_s"]["project"]
                for name, t in p["best_s"].items():
                    same = "" if name == "project" else (" (same data)" if p["same_data"].get(name) else " (DIFFERENT data)")
                    out.append(f"| {p['format']} | {p['files']} | {p['bytes'] / 2**20:.1f} MB | {name}{same} | {_s(t)} | "
                               f"{proj / t:.2f}x |")
            out += [""]
        o = base.get("overlap")
        if o:
            if o.get("landed") and "audit_s" in o:
                out += [f"**Overlap audit** — `{o['function']}` (sort and sweep, as `ipamctl report` runs it) over {o['cidrs']:,} CIDRs with {o['planted_overlaps']:,} "
                        f"planted overlaps: the sweep on integer ranges {_s(o['sweep_s'])}; from CIDR text "
                        f"(`Cidr.parse` each, then the sweep, as `report_cidrs` does) {_s(o['audit_s'])}; "
                        f"{o['pairs_found']:,} pairs found.", ""]
            else:
                out += [f"**Overlap audit** — {o.get('note')}.", ""]
    g = results.get("gc")
    cold = results.get("stages", {}).get(str(results.get("gc_size")), {}).get("cold")
    if g and "cli" not in g and cold and cold.get("gc_mode") == "cli":
        g = dict(g, cli={"total_s": cold["total_s"], "rss_mb": cold["rss_mb"].get("render-json"),
                         "gc_by_stage_s": cold.get("gc_by_stage_s")})
    if g:
        cb = g["callbacks"]
        out += [f"### The cyclic GC (cold plan, N = {int(results['gc_size']):,}, in-process pipeline)", "",
                "The pipeline of the stage table, `render --json` included, in one process per setting.", "",
                "| GC setting | pipeline time | of which in collections | peak RSS |", "|---|---|---|---|"]
        for mode, text in (("callbacks", "Python's default thresholds"), ("disable", "`gc.disable()` for the run"),
                           ("freeze", "`gc.freeze()` after loading the specs, default thresholds"),
                           ("cli", "as `ipamctl` sets it: disabled, `gc.freeze()` after the imports")):
            if mode in g:
                gcs = g[mode].get("gc_by_stage_s")
                inside = _s(sum(v for k, v in gcs.items() if k != "imports")) if gcs else "–"
                out.append(f"| {text} | {_s(g[mode]['total_s'])} | {inside} | {_mb(g[mode]['rss_mb'])} |")
        by = dict(cb["gc_by_stage_s"])
        during_imports = by.pop("imports", 0.0)
        in_pipeline = sum(by.values())
        out += ["", f"Time inside collections (`gc.callbacks`) during the pipeline (imports excluded): "
                f"{_s(in_pipeline)} of {_s(cb['total_s'])} ({100 * in_pipeline / cb['total_s']:.0f} %), "
                f"{cb['gc_collections']:,} collections in all; by stage: "
                + ", ".join(f"{k} {_s(v)}" for k, v in sorted(by.items(), key=lambda kv: -kv[1]))
                + f". Importing the modules took {_s(cb.get('imports_s'))}, {_s(during_imports)} of it in collections."]
        nogc = results.get("processes_nogc")
        if nogc:
            out += ["", "Whole `ipamctl plan` processes with the collector disabled (a wrapper calling `gc.disable()` "
                    "before `reconciler.cli.main.main`): "
                    + ", ".join(f"{SCENARIO_TEXT[s]} {_s(p['best_wall_s'])} (peak {_mb(p['rss_mb'])})"
                                for s, p in nogc.items()) + "."]
        out += [""]
    prof = results.get("profile")
    if prof:
        cp = prof["cprofile"]
        out += [f"### Profile of the cold plan (N = {int(results['gc_size']):,}, YAML)", "",
                f"cProfile, the whole pipeline of the stage table (`render --json` included) in one process, the "
                "collector set up as `ipamctl` sets it "
                f"({_s(cp['wall_s'])} under the profiler; stats in "
                f"`{Path(cp['file']).relative_to(REPO) if cp['file'].startswith(str(REPO)) else cp['file']}`, "
                "open with `python -m pstats`).", "",
                "Top functions of the project by cumulative time:", "",
                "| function | calls | cumulative | own |", "|---|---|---|---|"]
        for r in cp["by_cumtime"][:25]:
            out.append(f"| `{r['function']}` | {r['calls']:,} | {_s(r['cumtime'])} | {_s(r['tottime'])} |")
        out += ["", "Top functions overall by own time:", "", "| function | calls | own | cumulative |", "|---|---|---|---|"]
        for r in cp["by_tottime"][:20]:
            out.append(f"| `{r['function']}` | {r['calls']:,} | {_s(r['tottime'])} | {_s(r['cumtime'])} |")
        pi = prof.get("pyinstrument")
        if pi and "text" in pi:
            lines = [l for l in pi["text"].splitlines() if l.strip()]
            out += ["", f"pyinstrument ({_s(pi['wall_s'])}; full output in `{Path(pi['file']).name}` under "
                    "`benchmarks/.work/`), the top of the call tree:", "", "```"] + lines[:60] + ["```"]
        out += [""]
    for note in results.get("notes", []):
        out += [f"*Note:* {note}.", ""]
    out += [END]
    return "\n".join(out)


TEMPLATE = """# Performance

How fast `ipamctl` is on large address plans, measured by the benchmark suite in `benchmarks/`
(issue 5), against the issue's goals and side by side with other ways of doing the same work.

{generated}
"""


def write_doc(results: dict, path: Path = DOC) -> None:
    body = markdown(results)
    if path.exists():
        text = path.read_text()
        if BEGIN in text and END in text:
            text = text[: text.index(BEGIN)] + body + text[text.index(END) + len(END):]
        else:
            text = text.rstrip() + "\n\n" + body + "\n"
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = TEMPLATE.format(generated=body)
    path.write_text(text)


# ---- smoke --------------------------------------------------------------------------------------------------
def smoke(work: Path, n: int = 1000) -> dict:
    """Checks, not times, at N=1,000: plans are non-empty, the no-change plan is empty, apply
    converges (and equals the constructed converged state), baselines agree with the project."""
    from . import baselines as bl

    checks: dict = {}
    wss = workspaces(n, ["yaml", "json"], work, regenerate=True)
    for fmt, w in wss.items():
        assert 0.9 * n <= w.resources <= 1.1 * n, f"{fmt}: {w.resources} resources for N={n}"
        touched = sum(w.churn.values())
        assert 0.005 * n <= touched <= 0.03 * n, f"{fmt}: churn touched {touched} resources"
        r = run_process(ipamctl(w.cold, "validate"), work / f"smoke-validate-{fmt}.txt")
        assert r["rc"] == 0, f"{fmt}: validate exited {r['rc']}"
        for scen, ws in (("cold", w.cold), ("nochange", w.nochange), ("churn", w.churned)):
            p = plan_processes(ws, scen, 1, work)  # raises unless the exit code and output are as expected
            checks[f"{fmt}-{scen}"] = p["summary"]
    for scen, ws in (("cold", wss["yaml"].cold), ("nochange", wss["yaml"].nochange), ("churn", wss["yaml"].churned)):
        facts = json_process([PY, "-m", "benchmarks.stages", str(ws)])["facts"]
        assert facts["has_changes"] == (scen != "nochange"), f"{scen}: {facts}"
        assert scen == "nochange" or facts["actions"] > 0
    ap = apply_benchmark(wss["yaml"], work)
    assert ap["actions"] > n, ap
    assert ap["converged"], "the plan after apply is not empty"
    assert ap["state_equals_constructed"], "the applied state differs from the constructed converged state"
    checks["apply"] = {k: ap[k] for k in ("actions", "converged", "state_equals_constructed")}
    for v in (4, 6):
        a = bl.allocation_benchmark(v, requests=2000, runs=1, budget=10, project_budget=30, sample=500,
                                    log=lambda m: None)
        assert all(a["sample"]["identical"].values()), a["sample"]
        assert a["identical_on_common"], a
        checks[f"alloc_v{v}"] = a["sample"]["identical"]
    d = bl.diff_benchmark(wss["yaml"].churned, runs=1, log=lambda m: None)
    assert d["same_addresses"] and d["changes"] > 0, d
    checks["diff"] = {"changes": d["changes"], "same_addresses": d["same_addresses"]}
    for fmt, w in wss.items():
        p = bl.parse_benchmark(w.cold, runs=1, log=lambda m: None)
        assert all(p["same_data"].values()), p
        checks[f"parse_{fmt}"] = p["same_data"]
    return checks


def _overlay(base: dict, top: dict) -> None:
    """Lay ``top`` over ``base``: nested mappings merged, anything else replaced."""
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict) and k not in ("best_s", "rss_mb", "heap_peak_mb"):
            _overlay(base[k], v)
        else:
            base[k] = v


# ---- main ---------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="The benchmark suite of issue 5; writes docs/performance.md")
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--formats", default="yaml,json")
    p.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    p.add_argument("--apply-sizes", default=None, help="sizes to apply (default: every size)")
    p.add_argument("--work", default=str(HERE / ".work"))
    p.add_argument("--out", default=str(DOC))
    p.add_argument("--regenerate", action="store_true")
    p.add_argument("--alloc-requests", type=int, default=100_000)
    p.add_argument("--alloc-budget", type=float, default=60.0, help="seconds per baseline allocator run")
    p.add_argument("--alloc-project-budget", type=float, default=600.0)
    p.add_argument("--diff-budget", type=float, default=150.0)
    p.add_argument("--skip", default="", help="comma-separated: stages,processes,apply,gc,profile,baselines")
    p.add_argument("--smoke", action="store_true", help="N=1,000: check results, not times")
    p.add_argument("--results", default=None, help="results file (default WORK/results.json)")
    p.add_argument("--merge", action="store_true", help="start from the results file and replace only what is measured")
    p.add_argument("--report-only", action="store_true", help="write the document from the results file(s)")
    p.add_argument("--overlay", default="", help="with --report-only: results files laid over --results")
    args = p.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(REPO)
    if args.smoke:
        checks = smoke(work / "smoke")
        print(json.dumps(checks, indent=2))
        print("smoke: 1 passed, 0 failed")
        return 0
    t0 = time.perf_counter()
    skip = set(filter(None, args.skip.split(",")))
    sizes = [int(s) for s in args.sizes.split(",")]
    formats = args.formats.split(",")
    apply_sizes = sizes if args.apply_sizes is None else [int(s) for s in args.apply_sizes.split(",") if s]
    results_path = Path(args.results) if args.results else work / "results.json"
    if args.report_only:
        results = json.loads(results_path.read_text())
        for extra in filter(None, args.overlay.split(",")):
            top = json.loads(Path(extra).read_text())
            parts = [k for k in ("processes", "startup", "stages", "gc", "profile") if top.get(k)]
            _overlay(results, {k: top[k] for k in parts})
            results.setdefault("notes", []).append(f"{', '.join(parts)} from `{top['command']}`, run right after "
                                                   f"({top['elapsed_min']:.0f} min)")
        write_doc(results, Path(args.out))
        return 0
    results: dict = {"machine": machine(), "command": "python -m benchmarks.run " + " ".join(argv or sys.argv[1:]),
                     "repeat": args.repeat, "generated": {}, "processes": {}, "stages": {}, "apply": {}}
    if args.merge and results_path.exists():
        old = json.loads(results_path.read_text())
        _overlay(old, {k: v for k, v in results.items() if k not in ("generated", "processes", "stages", "apply")})
        results = old

    def save():
        results["elapsed_min"] = (time.perf_counter() - t0) / 60
        results["loadavg_at_end"] = [round(x, 1) for x in os.getloadavg()]
        results_path.write_text(json.dumps(results, indent=1, default=str))
        write_doc(results, Path(args.out))

    all_ws = {}
    for n in sizes:
        all_ws[n] = workspaces(n, formats, work, args.regenerate)
        meta = json.loads((all_ws[n][formats[0]].root / "meta.json").read_text())
        g = {"resources": meta["resources"], "kinds": meta["kinds"], "churn": meta["churn"]}
        for fmt, w in all_ws[n].items():
            g[f"{fmt}_mb"] = sum(f.stat().st_size for f in (w.cold / "specs").iterdir()) / 2**20
        results["generated"][str(n)] = g
    results["bytecode"] = bytecode()
    if "processes" not in skip:
        results["startup"] = startup(args.repeat)
    for n in sizes:
        if "processes" not in skip:
            for fmt in formats:
                for scen in SCENARIOS:
                    log(f"plan processes N={n:,} {fmt} {scen}")
                    ws = getattr(all_ws[n][fmt], {"cold": "cold", "nochange": "nochange", "churn": "churned"}[scen])
                    results["processes"].setdefault(str(n), {}).setdefault(fmt, {})[scen] = \
                        plan_processes(ws, scen, args.repeat, work)
            save()
        if "stages" not in skip:
            for scen in SCENARIOS:
                log(f"stages N={n:,} yaml {scen}")
                ws = getattr(all_ws[n]["yaml"], {"cold": "cold", "nochange": "nochange", "churn": "churned"}[scen])
                results["stages"].setdefault(str(n), {})[scen] = stage_timings(ws, args.repeat)
            save()
        if "apply" not in skip and n in apply_sizes:
            log(f"apply N={n:,}")
            results["apply"][str(n)] = apply_benchmark(all_ws[n]["yaml"], work)
            save()
    largest = max(sizes)
    results["gc_size"] = largest
    big = all_ws[largest]["yaml"]
    if "gc" not in skip:
        log(f"GC share N={largest:,}")
        results["gc"] = gc_share(big.cold, args.repeat)  # (ipamctl runs with it disabled: no process run apart)
        save()
    if "profile" not in skip:
        log(f"profiles N={largest:,}")
        results["profile"] = profiles(big.cold, work)
        save()
    if "baselines" not in skip:
        results["baselines"] = baselines(all_ws, largest, args)
        save()
    save()
    log(f"done in {(time.perf_counter() - t0) / 60:.1f} min; wrote {args.out} and {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
