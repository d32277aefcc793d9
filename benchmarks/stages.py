"""One pass of ``ipamctl plan``'s pipeline, stage by stage, in a fresh process (run by benchmarks.run).

Stages call the pipeline's own functions, in the order :func:`reconciler.planner.make_plan` and the
``plan`` command call them: load (spec files -> document), state (read the recorded state),
validate (pydantic), graph (reference and cycle checks, topological order), resolve (every ``{mask}`` and
``{count}`` to a CIDR: the allocator), rules (the cloud's rules on the desired state), diff,
order (actions and their dependency graph, topological order), render (the text plan; what
``ipamctl plan`` prints) and, apart, render-json (the JSON plan of ``--json`` / ``--out``).

    python -m benchmarks.stages WS [--memory] [--gc {cli,default,disable,callbacks,freeze}]
        [--profile cprofile|pyinstrument --profile-out FILE]

prints one JSON object: seconds per stage, peak RSS after each stage, and with ``--memory`` the
peak of Python allocations during each stage above what was allocated when it started
(tracemalloc; slower, so timings of a ``--memory`` pass are not reported). The cyclic collector is
set up as ``ipamctl`` sets it (``--gc cli``: disabled, and ``gc.freeze()`` after the imports, as
in ``reconciler/cli/main.py``) unless ``--gc`` says otherwise.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from pathlib import Path

STAGES = ("load", "state", "validate", "graph", "resolve", "rules", "diff", "order", "render", "render-json")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def imports() -> dict:
    """The modules the pipeline calls (imported once, before any stage is timed)."""
    from reconciler.cli import render
    from reconciler.desired.graph import DependencyGraph
    from reconciler.desired.network import resolve
    from reconciler.errors import raise_all
    from reconciler.models.network import parse_spec
    from reconciler.planner import DEFAULT_IPV6_SUPPLY
    from reconciler.plans import planfile
    from reconciler.plans.diff import diff
    from reconciler.plans.order import build_plan
    from reconciler.rules.compute import check_compute
    from reconciler.rules.network import check
    from reconciler.workspace import Workspace, plan_lineage

    return dict(locals())


def pipeline(ws_path: Path, timer) -> dict:
    """Run every stage through ``timer(name, fn)``; returns facts about the plan."""
    m = imports()
    planfile, render, resolve, diff, check_compute = (m[k] for k in ("planfile", "render", "resolve", "diff",
                                                                      "check_compute"))
    raise_all, DependencyGraph, build_plan, DEFAULT_IPV6_SUPPLY = (m[k] for k in ("raise_all", "DependencyGraph",
                                                                                  "build_plan", "DEFAULT_IPV6_SUPPLY"))
    check, parse_spec, Workspace, plan_lineage = (m[k] for k in ("check", "parse_spec", "Workspace", "plan_lineage"))

    ws = Workspace(ws_path)
    doc = timer("load", ws.load_specs)
    state = timer("state", ws.read_state)
    recorded = state.resources.to_dict()  # one plain dict, as make_plan reads it
    settings = ws.provider_settings(doc)
    spec = timer("validate", lambda: parse_spec(doc))
    graph = timer("graph", lambda: DependencyGraph.build(spec, doc.locate, doc.order, recorded=recorded.keys(),
                                                        orders=doc.orders))
    desired = timer("resolve", lambda: resolve(spec, graph, recorded, supply=DEFAULT_IPV6_SUPPLY, locate=doc.locate,
                                               external={}))

    def rules():
        compute = check_compute(spec, desired, recorded, {}, doc.locate)
        errors = list(desired.errors) + check(spec, desired, doc.locate) + compute
        raise_all(errors)

    timer("rules", rules)
    changes = timer("diff", lambda: diff(desired.resources, recorded))

    def order():
        declaration = {a: graph.declaration(a) for a in desired.resources if a in graph}
        return build_plan(changes, desired.resources, recorded, lineage=plan_lineage(state), serial=state.serial,
                          chosen=desired.chosen, declaration=declaration)

    plan = timer("order", order)
    text = timer("render", lambda: render.render_plan(plan, False))
    data = timer("render-json", lambda: planfile.to_json(plan, settings["type"], settings))
    return {"resources": len(desired.resources), "recorded": len(recorded), "changes": len(changes),
            "actions": len(plan.actions), "has_changes": plan.has_changes, "text_bytes": len(text),
            "json_bytes": len(data)}


def cli_gc() -> None:
    """The collector as ``ipamctl`` sets it up (reconciler/cli/main.py, main(): after the imports)."""
    gc.disable()
    gc.freeze()


def run(ws: Path, memory: bool = False, gc_mode: str = "cli") -> dict:
    times: dict[str, float] = {}
    rss: dict[str, float] = {}
    heap: dict[str, int] = {}
    gc_time = [0.0, 0, None]  # seconds in collections, collections, start of the current one
    gc_by_stage: dict[str, float] = {}
    current = [None]

    if gc_mode == "disable":
        gc.disable()
    if gc_mode in ("callbacks", "cli"):
        def cb(phase, info):
            now = time.perf_counter()
            if phase == "start":
                gc_time[2] = now
            elif gc_time[2] is not None:
                spent = now - gc_time[2]
                gc_time[0] += spent
                gc_time[1] += 1
                gc_by_stage[current[0]] = gc_by_stage.get(current[0], 0.0) + spent
                gc_time[2] = None
        gc.callbacks.append(cb)
    if memory:
        import tracemalloc

        tracemalloc.start()

    def timer(name, fn):
        current[0] = name
        if memory:
            import tracemalloc

            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
        t = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - t
        if memory:
            heap[name] = tracemalloc.get_traced_memory()[1] - before
        rss[name] = _rss_mb()
        if gc_mode == "freeze" and name == "load":
            gc.freeze()  # what a one-line change in the CLI would do: spec data never collected again
        return out

    current[0] = "imports"
    t0 = time.perf_counter()
    imports()
    import_s = time.perf_counter() - t0
    if gc_mode == "cli":
        cli_gc()
    t0 = time.perf_counter()
    facts = pipeline(ws, timer)
    total = time.perf_counter() - t0
    result = {"times": times, "rss_mb": rss, "total_s": total, "imports_s": import_s, "facts": facts, "gc_mode": gc_mode,
              "gc_stats": gc.get_stats()}
    if memory:
        result["heap_peak_bytes"] = heap
    if gc_mode in ("callbacks", "cli"):
        result["gc_s"] = gc_time[0]
        result["gc_collections"] = gc_time[1]
        result["gc_by_stage_s"] = gc_by_stage
    return result


def profile(ws: Path, kind: str, out: Path) -> dict:
    """The whole pipeline under cProfile (stats saved to ``out``) or pyinstrument (text to ``out``)."""
    if kind == "cprofile":
        import cProfile
        import pstats

        imports()
        cli_gc()
        prof = cProfile.Profile()
        t = time.perf_counter()
        prof.enable()
        pipeline(ws, lambda name, fn: fn())
        prof.disable()
        wall = time.perf_counter() - t
        prof.dump_stats(str(out))
        stats = pstats.Stats(str(out))
        rows = []
        for (file, line, func), (cc, nc, tt, ct, _callers) in stats.stats.items():
            rows.append({"function": f"{_short(file)}:{line}({func})", "calls": nc, "tottime": tt, "cumtime": ct})
        return {"wall_s": wall, "total_tt": stats.total_tt, "rows": rows}
    if kind == "pyinstrument":
        from pyinstrument import Profiler

        imports()
        cli_gc()
        prof = Profiler(interval=0.001)
        t = time.perf_counter()
        prof.start()
        pipeline(ws, lambda name, fn: fn())
        prof.stop()
        wall = time.perf_counter() - t
        text = prof.output_text(unicode=False, color=False, show_all=False)
        out.write_text(text)
        return {"wall_s": wall, "text": text}
    raise ValueError(kind)


def _short(file: str) -> str:
    for marker in ("/reconciler/", "/site-packages/", "/lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1] if marker != "/reconciler/" else "reconciler/" + file.split(marker, 1)[1]
    return file


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("ws")
    p.add_argument("--memory", action="store_true")
    p.add_argument("--gc", default="cli", choices=["cli", "default", "disable", "callbacks", "freeze"],
                   help="cli (the default): as ipamctl sets it up; default: Python's thresholds")
    p.add_argument("--profile", choices=["cprofile", "pyinstrument"])
    p.add_argument("--profile-out")
    args = p.parse_args(argv)
    if args.profile:
        result = profile(Path(args.ws), args.profile, Path(args.profile_out))
    else:
        result = run(Path(args.ws), memory=args.memory, gc_mode=args.gc)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
