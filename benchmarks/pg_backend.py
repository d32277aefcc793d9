"""The PostgreSQL state backend at scale (issue 19): plans, apply and a long history, side by side with
the local backend, each a whole ``ipamctl`` process.

    python -m benchmarks.pg_backend --size 100000 --rounds 5
    python -m pytest -q tests/test_benchmark_pg_smoke.py       # N=1,000: checks results, not times

1. starts a PostgreSQL server of its own (``tests/support/postgres.py``), removed at the end;
2. takes the ``nochange`` and ``churn`` workspaces of ``benchmarks.generate`` (specs + converged state,
   reused as ``benchmarks.run`` reuses them) and makes a pg twin of each: the same specs plus
   ``zz-backend.yaml`` (``backend: {type: postgres, workspace: bench}``), the state loaded with
   ``ipamctl state push`` (``PG_CONN_STR`` in the environment);
3. times ``ipamctl plan --full --detailed-exitcode`` (planning in full: the local backend's no-change
   memo would answer the local side alone), local (A) against pg (B), A first in odd rounds and B
   first in even ones, after one uncounted run of each; every pg plan's output must equal the local one;
   the ``read state`` stage alone (``benchmarks.stages``), local and pg, once a round;
4. applies a saved cold plan (``plan --out F``, ``apply F``) into a fresh sandbox, local and pg
   alternated, at ``--apply-size``; actions per second; the next plan must be empty;
5. pushes successive serials into a second pg workspace until it keeps ``--history`` versions (each
   version the converged state with one record changed, as a small apply leaves it; the last one
   converged again), then times the no-change plan on 1 version (A) against 100 versions (B);
6. records the 1-minute load average before and after every process, prints the tables (Markdown)
   and writes every figure to ``WORK/pg-backend.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from psycopg.conninfo import conninfo_to_dict

from . import run
from .run import PY, ipamctl, log, run_process

BACKEND = "backend:\n  type: postgres\n  workspace: {name}\n"
# The pg state read in its parts, in a fresh process (as a plan's first use of the backend is).
READ = """import json, sys, time
t0 = time.perf_counter()
from reconciler.states.postgres import PostgresStateBackend
b = PostgresStateBackend(sys.argv[1], sys.argv[2])
t1 = time.perf_counter(); b._db(); t2 = time.perf_counter()
row = b._db().execute(b._sql["newest"], b._params(), binary=True).fetchone(); t3 = time.perf_counter()
b._parse(row); t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "connect_s": t2 - t1, "fetch_s": t3 - t2, "parse_s": t4 - t3}))
"""
SCENARIOS = {"nochange": ("no-change", 0), "churn": ("1 % churn", 2)}


@contextmanager
def postgres(server=None) -> Iterator:
    """A server of our own (removed at the end, on errors and SIGTERM too), or the one given."""
    if server is not None:
        yield server
        return
    from tests.support.postgres import MISSING, find_bindir, remove, started

    bindir = find_bindir()
    if not bindir:
        raise SystemExit(MISSING)

    def terminate(signum, frame):
        raise KeyboardInterrupt  # so that the finally below removes the server
    old = signal.signal(signal.SIGTERM, terminate)
    own = started(bindir)
    try:
        yield own
    finally:
        remove(own)
        signal.signal(signal.SIGTERM, old)


def timed(args: list[str], out: Path) -> dict:
    """One whole process (run.run_process: wall, CPU, peak RSS), the load average before and after."""
    before = os.getloadavg()[0]
    r = run_process(args, out)
    r["load_before"], r["load_after"] = before, r.pop("load")
    r["text"] = out.read_text(errors="replace")
    return r


def checked(args: list[str], out: Path, rc: int = 0) -> dict:
    r = timed(args, out)
    if r["rc"] != rc:
        err = Path(str(out) + ".err").read_text(errors="replace")
        raise RuntimeError(f"{' '.join(args[3:])} exited {r['rc']} (expected {rc}):\n{r['text'][-2000:]}{err[-2000:]}")
    return r


def pg_twin(src: Path, dst: Path, name: str) -> Path:
    """``src``'s specs and a ``backend:`` block naming pg workspace ``name`` (no local state)."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src / "specs", dst / "specs")
    (dst / "specs" / "zz-backend.yaml").write_text(BACKEND.format(name=name))
    return dst


def push(ws: Path, state_file: Path, out: Path) -> dict:
    return checked(ipamctl(ws, "state", "push", str(state_file)), out)


def versions(ws: Path, out: Path) -> int:
    return len(json.loads(checked(ipamctl(ws, "state", "history", "--json"), out)["text"])["versions"])


def alternated(pairs: dict[str, tuple[Path, Path]], rounds: int, work: Path, labels=("local", "pg")) -> dict:
    """Plan each scenario's A and B workspace ``rounds`` times, A first in odd rounds; outputs must match."""
    res: dict = {}
    for scen, (a, b) in pairs.items():
        for label, ws in zip(labels, (a, b)):  # one uncounted run each: caches, the server's buffers
            checked(ipamctl(ws, "plan", "--full", "--detailed-exitcode"), work / f"warm-{scen}-{label}.txt",
                    SCENARIOS[scen][1])
        res[scen] = {labels[0]: [], labels[1]: []}
    for rnd in range(1, rounds + 1):
        for scen, (a, b) in pairs.items():
            order = [(labels[0], a), (labels[1], b)]
            for label, ws in order if rnd % 2 else order[::-1]:
                r = checked(ipamctl(ws, "plan", "--full", "--detailed-exitcode"), work / f"plan-{scen}-{label}.txt",
                            SCENARIOS[scen][1])
                res[scen][label].append(r)
            log(f"round {rnd} {scen}: " + ", ".join(f"{k} {v[-1]['wall_s']:.2f} s" for k, v in res[scen].items()))
    out = {}
    for scen, by in res.items():
        texts = {label: {r["text"] for r in runs} for label, runs in by.items()}
        out[scen] = {"same_output": len(texts[labels[0]] | texts[labels[1]]) == 1,
                     "summary": _summary(by[labels[0]][0]["text"]),
                     **{label: _stats(runs) for label, runs in by.items()},
                     "ratio": _ratio(by[labels[1]], by[labels[0]])}
    return out


def _summary(text: str) -> str:
    lines = [x for x in text.splitlines() if x.startswith(("Plan:", "No changes"))]
    return lines[-1] if lines else ""


def _stats(runs: list[dict]) -> dict:
    walls = [r["wall_s"] for r in runs]
    return {"wall_median": statistics.median(walls), "wall_min": min(walls), "wall_max": max(walls),
            "walls": [round(w, 3) for w in walls], "cpu_median": statistics.median(r["cpu_s"] for r in runs),
            "rss_mb": max(r["rss_mb"] for r in runs),
            "load": [(round(r["load_before"], 2), round(r["load_after"], 2)) for r in runs]}


def _ratio(b: list[dict], a: list[dict]) -> dict:
    pairs = [y["wall_s"] / x["wall_s"] for x, y in zip(a, b)]
    return {"median": statistics.median(pairs), "min": min(pairs), "max": max(pairs),
            "of_medians": statistics.median(y["wall_s"] for y in b) / statistics.median(x["wall_s"] for x in a),
            "cpu": statistics.median(y["cpu_s"] for y in b) / statistics.median(x["cpu_s"] for x in a)}


def state_stage(ws: Path) -> float:
    """The ``read state`` stage alone, in process (``benchmarks.stages``)."""
    return run.json_process([PY, "-m", "benchmarks.stages", str(ws)])["times"]["state"]


def read_parts(conninfo: str, workspace: str, rounds: int) -> dict:
    runs = [json.loads(subprocess.run([PY, "-c", READ, conninfo, workspace], check=True, capture_output=True,
                                      text=True).stdout) for _ in range(rounds)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def apply_once(cold: Path, ws: Path, label: str, pg_name: str | None, work: Path, counts=None) -> dict:
    """A saved cold plan applied into a fresh sandbox (and a fresh pg workspace); the next plan must be empty."""
    if ws.exists():
        shutil.rmtree(ws)
    if pg_name:
        pg_twin(cold, ws, pg_name)
    else:
        shutil.copytree(cold / "specs", ws / "specs")
    plan = ws / "plan.json"
    p = checked(ipamctl(ws, "plan", "--out", str(plan)), work / f"apply-plan-{label}.txt")
    before = counts() if counts else None
    a = checked(ipamctl(ws, "apply", str(plan)), work / f"apply-{label}.txt")
    m = re.search(r"Apply complete: (\d+) actions", a["text"])
    if not m:
        raise RuntimeError(f"apply in {ws} did not complete:\n{a['text'][-2000:]}")
    again = timed(ipamctl(ws, "plan", "--detailed-exitcode"), work / f"apply-replan-{label}.txt")
    # the server's commits and journal rows: read after the re-plan, when the apply's sessions have surely
    # ended and reported their counts (the re-plan adds a few commits of its own)
    used = [x - y for x, y in zip(counts(), before)] if counts and before else [None, None]
    pulled = checked(ipamctl(ws, "state", "pull"), work / f"apply-pull-{label}.txt")["text"]
    resources = json.loads(pulled)["resources"]
    plan.unlink()
    return {"actions": int(m.group(1)), "commits": used[0], "journal_rows": used[1], "wall_s": a["wall_s"],
            "cpu_s": a["cpu_s"], "rss_mb": a["rss_mb"], "actions_per_s": int(m.group(1)) / a["wall_s"],
            "plan_out_s": p["wall_s"], "converged": again["rc"] == 0,
            "attributes": {k: v["attributes"] for k, v in resources.items()},
            "load": (round(a["load_before"], 2), round(a["load_after"], 2))}


def apply_pair(cold: Path, rounds: int, work: Path, counts) -> dict:
    runs: dict[str, list] = {"local": [], "pg": []}
    for rnd in range(1, rounds + 1):
        order = [("local", None), ("pg", f"apply-{rnd}")]
        for label, pg_name in order if rnd % 2 else order[::-1]:
            runs[label].append(apply_once(cold, work / f"apply-{label}", label, pg_name, work,
                                          counts if pg_name else None))
            log(f"apply round {rnd} {label}: {runs[label][-1]['actions_per_s']:,.0f} actions/s")
    same = all(r["attributes"] == runs["local"][0]["attributes"] for rs in runs.values() for r in rs)
    out: dict = {"same_state": same, "actions": runs["local"][0]["actions"]}
    for label, rs in runs.items():
        walls = [r["wall_s"] for r in rs]
        out[label] = {"wall_median": statistics.median(walls), "wall_min": min(walls), "wall_max": max(walls),
                      "actions_per_s": statistics.median(r["actions_per_s"] for r in rs),
                      "cpu_median": statistics.median(r["cpu_s"] for r in rs), "rss_mb": max(r["rss_mb"] for r in rs),
                      "converged": all(r["converged"] for r in rs), "load": [r["load"] for r in rs],
                      "actions": sorted({r["actions"] for r in rs})}
    out["ratio"] = out["pg"]["wall_median"] / out["local"]["wall_median"]
    out["pg"]["commits"] = statistics.median(r["commits"] for r in runs["pg"])
    out["pg"]["journal_rows"] = statistics.median(r["journal_rows"] for r in runs["pg"])
    return out


def build_history(ws: Path, converged: Path, count: int, work: Path) -> dict:
    """Push serials 2..count onto the version ``ws`` holds: one record changed in each, the last converged."""
    from reconciler.states.state import ResourceMap, State, parse_state

    base = parse_state(converged.read_bytes())
    plain = base.resources_dict()
    movable = sorted(a for a, r in plain.items() if r["type"] == "instance")
    walls, file = [], work / "history-state.json"
    for serial in range(base.serial + 1, base.serial + count):
        resources = dict(plain)
        if serial < base.serial + count - 1:
            addr = movable[serial % len(movable)]
            rec = resources[addr]
            resources[addr] = {**rec, "attributes": {**rec["attributes"], "description": f"history {serial}"}}
        file.write_bytes(State(base.lineage, serial, ResourceMap(resources)).to_json_bytes())
        walls.append(push(ws, file, work / "history-push.txt")["wall_s"])
    file.unlink()
    return {"pushes": len(walls), "push_median_s": statistics.median(walls) if walls else None,
            "push_max_s": max(walls, default=None)}


def measure(size: int, rounds: int, apply_size: int, apply_rounds: int, history: int, work: Path,
            server=None) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    res: dict = {"size": size, "rounds": rounds, "apply_size": apply_size, "apply_rounds": apply_rounds,
                 "history": history, "date": datetime.date.today().isoformat(), "load_start": os.getloadavg()}
    res["bytecode"] = run.bytecode()
    wss = run.workspaces(size, ["yaml"], work)["yaml"]
    res["resources"] = wss.resources
    state_file = wss.nochange / "state" / "state.json"
    with postgres(server) as pg:
        conninfo = os.environ["PG_CONN_STR"] = pg.new_database()  # no password: trust auth on loopback
        db = conninfo_to_dict(conninfo)["dbname"]
        res["server"] = pg.sql("SHOW server_version")[0][0]

        def counts() -> tuple[int, int]:
            return pg.sql("SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()), "
                          "(SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'journal')", db)[0]
        twins = {"nochange": pg_twin(wss.nochange, work / f"pg-n{size}-nochange", "bench"),
                 "churn": pg_twin(wss.churned, work / f"pg-n{size}-churn", "bench")}
        hist = pg_twin(wss.nochange, work / f"pg-n{size}-history", "bench-history")
        for ws in (twins["nochange"], hist):
            res.setdefault("load_push_s", []).append(push(ws, state_file, work / "push.txt")["wall_s"])
        log(f"plans at N={size:,}: local against pg, {rounds} rounds")
        res["plans"] = alternated({s: (getattr(wss, "churned" if s == "churn" else s), twins[s]) for s in SCENARIOS},
                                  rounds, work)
        stage = {"local": [], "pg": []}
        for rnd in range(rounds):
            for label, ws in (("local", wss.nochange), ("pg", twins["nochange"]))[:: 1 if rnd % 2 == 0 else -1]:
                stage[label].append(state_stage(ws))
        res["state_stage"] = {k: {"median": statistics.median(v), "min": min(v), "max": max(v)}
                              for k, v in stage.items()}
        res["read_parts"] = read_parts(conninfo, "bench", rounds)
        log(f"apply at N={apply_size:,}, {apply_rounds} rounds")
        awss = wss if apply_size == size else run.workspaces(apply_size, ["yaml"], work)["yaml"]
        res["apply"] = apply_pair(awss.cold, apply_rounds, work, counts)
        log(f"history: {history} versions")
        res["history_build"] = build_history(hist, state_file, history, work)
        res["versions"] = {"bench": versions(twins["nochange"], work / "v1.txt"),
                           "bench-history": versions(hist, work / "v100.txt")}
        res["history_plans"] = alternated({"nochange": (twins["nochange"], hist)}, rounds, work,
                                          labels=("1 version", f"{history} versions"))
        res["database_mb"] = pg.sql("SELECT pg_database_size(current_database())", db)[0][0] / 2**20
    res["load_end"] = os.getloadavg()
    res["elapsed_min"] = (time.perf_counter() - t0) / 60
    return res


# ---- the tables ---------------------------------------------------------------------------------------------
def _w(s: dict) -> str:
    return f"{run._s(s['wall_median'])} ({s['wall_min']:.2f}-{s['wall_max']:.2f})"


def _load(pairs: list) -> str:
    return f"{min(p[0] for p in pairs):.1f}-{max(p[0] for p in pairs):.1f} / {min(p[1] for p in pairs):.1f}-" \
           f"{max(p[1] for p in pairs):.1f}"


def _ok(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def markdown(r: dict, goal: float = 1.3) -> str:
    out = [f"N = {r['size']:,} ({r['resources']:,} resources, YAML), PostgreSQL {r['server']} on loopback; "
           f"{r['rounds']} counted rounds after one uncounted run of each; load average (1 min) "
           f"{r['load_start'][0]:.1f} at the start, {r['load_end'][0]:.1f} at the end "
           f"({r['elapsed_min']:.0f} min).", "",
           "| plan | local | pg | pg/local (pairs) | pg/local (medians) | CPU pg/local | peak RSS local / pg | "
           "load before / after | same output | within 1.3x |", "|---|---|---|---|---|---|---|---|---|---|"]
    for scen, p in r["plans"].items():
        q = p["ratio"]
        out.append(f"| {SCENARIOS[scen][0]} | {_w(p['local'])} | {_w(p['pg'])} | {q['median']:.2f} "
                   f"({q['min']:.2f}-{q['max']:.2f}) | {q['of_medians']:.2f} | {q['cpu']:.2f} | "
                   f"{p['local']['rss_mb']:,.0f} / {p['pg']['rss_mb']:,.0f} MB | "
                   f"{_load(p['local']['load'] + p['pg']['load'])} | {'yes' if p['same_output'] else 'NO'} | "
                   f"{_ok(q['median'] <= goal)} |")
    st = r["state_stage"]
    out += ["", "The `read state` stage alone (in process, `benchmarks.stages`): local "
            + f"{run._s(st['local']['median'])} ({st['local']['min']:.2f}-{st['local']['max']:.2f}), pg "
            + f"{run._s(st['pg']['median'])} ({st['pg']['min']:.2f}-{st['pg']['max']:.2f}); the pg read in a fresh "
            + "process: " + ", ".join(f"{k[:-2]} {run._s(v)}" for k, v in r["read_parts"].items()) + ".", ""]
    a = r["apply"]
    out += [f"Apply of a saved cold plan, N = {r['apply_size']:,} ({a['actions']:,} actions), {r['apply_rounds']} "
            "rounds alternated:", "",
            "| backend | apply wall | actions/s | CPU | peak RSS | load before / after | next plan empty |",
            "|---|---|---|---|---|---|---|"]
    for label in ("local", "pg"):
        s = a[label]
        out.append(f"| {label} | {_w(s)} | {s['actions_per_s']:,.0f} | {run._s(s['cpu_median'])} | "
                   f"{s['rss_mb']:,.0f} MB | {_load(s['load'])} | {'yes' if s['converged'] else 'NO'} |")
    out += ["", f"pg/local apply wall: {a['ratio']:.2f}; the applied states (attributes) identical: "
            f"{'yes' if a['same_state'] else 'NO'}; per pg apply the server committed {a['pg']['commits']:,.0f} "
            f"transactions and {a['pg']['journal_rows']:,.0f} journal rows.", ""]
    h, hb = r["history_plans"]["nochange"], r["history_build"]
    one, many = "1 version", f"{r['history']} versions"
    out += [f"History: {hb['pushes']} `state push` processes (median {run._s(hb['push_median_s'])}) brought "
            f"`bench-history` to {r['versions']['bench-history']} versions (`bench`: {r['versions']['bench']}); "
            f"database {r['database_mb']:,.0f} MB.", "",
            f"| no-change plan | {one} | {many} | ratio (pairs) | ratio (medians) | load before / after "
            "| same output |",
            "|---|---|---|---|---|---|---|",
            f"| pg | {_w(h[one])} | {_w(h[many])} | {h['ratio']['median']:.2f} ({h['ratio']['min']:.2f}-"
            f"{h['ratio']['max']:.2f}) | {h['ratio']['of_medians']:.2f} | {_load(h[one]['load'] + h[many]['load'])} | "
            f"{'yes' if h['same_output'] else 'NO'} |"]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--apply-size", type=int, default=None, help="default: --size")
    p.add_argument("--apply-rounds", type=int, default=3)
    p.add_argument("--history", type=int, default=100, help="versions the history workspace is brought to")
    p.add_argument("--work", default=str(run.HERE / ".work"))
    args = p.parse_args(argv)
    os.chdir(run.REPO)
    work = Path(args.work)
    res = measure(args.size, args.rounds, args.apply_size or args.size, args.apply_rounds, args.history, work)
    res["command"] = "python -m benchmarks.pg_backend " + " ".join(argv if argv is not None else sys.argv[1:])
    (work / "pg-backend.json").write_text(json.dumps(res, indent=1, default=str))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
