"""Side-by-side baselines: allocation (NetBox's IPSet method, a plain ``ipaddress`` first fit and a
naive lowest-address-first reference against :class:`reconciler.net.allocator.BlockAllocator`), diff
(one whole-document ``DeepDiff`` against :func:`reconciler.plans.diff.diff`) and parsing (PyYAML with
libyaml, ``yaml-rs``, ``json``/``orjson`` against :func:`reconciler.source.loader.load_specs`).

Both sides of a comparison run in one process, interleaved, and the best of several runs is
kept. Baselines whose cost per request grows with the number of blocks held (every one but the
project's) would take hours on 100,000 requests; they run under a time budget, and the ratio is
taken on exactly the requests they finished (the same prefix of the same workload, which the
project's allocator also runs). Since their cost per request only grows as more is held, the
ratio on the whole workload is at least the one reported.
"""

from __future__ import annotations

import bisect
import gc
import hashlib
import ipaddress
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

from reconciler.net.allocator import BlockAllocator
from reconciler.net.cidr import Cidr

FF, REL = 0, 1

V4_CONTAINER = "10.0.0.0/8"
V6_CONTAINER = "2408:4000::/32"
# prefix length -> weight: mostly small blocks, the odd large one (about 65 % of the /8 used at the end)
V4_MASKS = {20: 0.5, 22: 3.5, 24: 16, 26: 25, 28: 35, 29: 10, 32: 10}
V6_MASKS = {48: 1, 52: 4, 56: 30, 60: 15, 64: 40, 80: 10}
SEED_MASKS = {4: (20, 24), 6: (44, 52)}


@dataclass(frozen=True)
class Workload:
    version: int
    container: str
    seeds: tuple[str, ...]  # explicit blocks taken first (recorded blocks kept where they are)
    ops: tuple[tuple[int, int], ...]  # (FF, prefix) or (REL, index of the first-fit request whose block is released)

    @property
    def requests(self) -> int:
        return sum(1 for op, _ in self.ops if op == FF)


def workload(version: int, requests: int = 100_000, release_share: float = 0.10, seeds: int = 400,
             seed: int = 5) -> Workload:
    """``requests`` first-fit requests of mixed sizes with about ``release_share`` releases in between
    (each of a random earlier request's block), after ``seeds`` scattered explicit blocks."""
    rng = random.Random(f"alloc:{version}:{requests}:{seed}")
    container = Cidr.parse(V4_CONTAINER if version == 4 else V6_CONTAINER)
    bits = container.bits
    taken: list[tuple[int, int]] = []
    seed_blocks: list[str] = []
    lo, hi = SEED_MASKS[version]
    while len(seed_blocks) < seeds:
        prefix = rng.randint(lo, hi)
        size = 1 << (bits - prefix)
        start = container.start + rng.randrange(container.size // size) * size
        end = start + size - 1
        i = bisect.bisect_right(taken, (start, end))
        if (i > 0 and taken[i - 1][1] >= start) or (i < len(taken) and taken[i][0] <= end):
            continue
        taken.insert(i, (start, end))
        seed_blocks.append(str(Cidr(version, start, prefix)))
    masks = V4_MASKS if version == 4 else V6_MASKS
    keys, weights = list(masks), list(masks.values())
    ops: list[tuple[int, int]] = []
    live: list[int] = []  # first-fit request indexes whose block is still held
    n = 0
    while n < requests:
        if live and rng.random() < release_share:
            ops.append((REL, live.pop(rng.randrange(len(live)))))
            continue
        ops.append((FF, rng.choices(keys, weights)[0]))
        live.append(n)
        n += 1
    return Workload(version, str(container), tuple(seed_blocks), tuple(ops))


# ---- the allocators ---------------------------------------------------------------------------------------
class _Deadline(Exception):
    pass


def _check(deadline: float | None, done: int, marks: list) -> None:
    if done % 1000 == 0:
        marks.append((done, time.perf_counter()))
        if deadline is not None and marks[-1][1] > deadline:
            raise _Deadline


def run_project(w: Workload, limit: int | None = None, deadline: float | None = None, marks: list | None = None,
                results: list | None = None):
    """reconciler.net.allocator.BlockAllocator: take() the seeds, first_fit() / release()."""
    alloc = BlockAllocator(w.version, [Cidr.parse(w.container)])
    for s in w.seeds:
        alloc.take(Cidr.parse(s), "seed")
    results = [] if results is None else results
    first_fit, release = alloc.first_fit, alloc.release
    marks = [] if marks is None else marks
    for op, arg in w.ops:
        if op == FF:
            if limit is not None and len(results) >= limit:
                break
            results.append(first_fit(arg, "h"))
            _check(deadline, len(results), marks)
        else:
            block = results[arg]
            if block is not None:
                release(block)
    return results, marks


def run_ipset(w: Workload, limit: int | None = None, deadline: float | None = None, marks: list | None = None,
                results: list | None = None):
    """NetBox's method (ipam.models.Prefix.get_available_prefixes and the available-prefixes API view):
    the free space as ``IPSet(parent) - IPSet(children)``, then the first CIDR of ``iter_cidrs()``
    long enough for the request gives ``network/length``, which is removed from the set. As in the
    view's loop the set is kept between requests (a release adds the block back) rather than rebuilt
    from the database each time, which only favours the baseline."""
    import netaddr

    available = netaddr.IPSet([w.container]) - netaddr.IPSet(list(w.seeds))
    results = [] if results is None else results
    marks = [] if marks is None else marks
    for op, arg in w.ops:
        if op == FF:
            if limit is not None and len(results) >= limit:
                break
            got = None
            for cidr in available.iter_cidrs():
                if arg >= cidr.prefixlen:
                    got = netaddr.IPNetwork(f"{cidr.network}/{arg}")
                    break
            if got is not None:
                available.remove(got)
            results.append(got)
            _check(deadline, len(results), marks)
        else:
            block = results[arg]
            if block is not None:
                available.add(block)
    return results, marks


def run_ipaddress(w: Workload, limit: int | None = None, deadline: float | None = None, marks: list | None = None,
                results: list | None = None):
    """A plain first fit on the standard library: held blocks as a sorted list of ``ip_network``s,
    each request walks the gaps between them from the bottom of the container."""
    container = ipaddress.ip_network(w.container)
    cstart, cend = int(container.network_address), int(container.broadcast_address)
    bits = container.max_prefixlen
    held: list = sorted(ipaddress.ip_network(s) for s in w.seeds)
    results = [] if results is None else results
    marks = [] if marks is None else marks
    for op, arg in w.ops:
        if op == FF:
            if limit is not None and len(results) >= limit:
                break
            size = 1 << (bits - arg)
            pos = cstart
            got = None
            for net in held:
                cand = (pos + size - 1) & ~(size - 1)
                if cand + size - 1 < int(net.network_address):
                    break
                pos = max(pos, int(net.broadcast_address) + 1)
            cand = (pos + size - 1) & ~(size - 1)
            if cand + size - 1 <= cend:
                got = ipaddress.ip_network((cand, arg))
                bisect.insort(held, got)
            results.append(got)
            _check(deadline, len(results), marks)
        else:
            block = results[arg]
            if block is not None:
                held.pop(bisect.bisect_left(held, block))
    return results, marks


def run_naive(w: Workload, limit: int | None = None, deadline: float | None = None, marks: list | None = None,
                results: list | None = None):
    """The reference: lowest address first, by the definition. Every request sorts what is held and
    takes the first aligned block of the length asked that overlaps none of it."""
    c = Cidr.parse(w.container)
    held: dict[int, tuple[int, int]] = {}
    for s in w.seeds:
        b = Cidr.parse(s)
        held[-1 - len(held)] = (b.start, b.end)
    results = [] if results is None else results
    marks = [] if marks is None else marks
    for op, arg in w.ops:
        if op == FF:
            if limit is not None and len(results) >= limit:
                break
            size = 1 << (c.bits - arg)
            pos = c.start
            got = None
            for start, end in sorted(held.values()):
                cand = (pos + size - 1) // size * size
                if cand + size - 1 < start:
                    break
                if end + 1 > pos:
                    pos = end + 1
            cand = (pos + size - 1) // size * size
            if cand + size - 1 <= c.end:
                got = Cidr(w.version, cand, arg)
                held[len(results)] = (got.start, got.end)
            results.append(got)
            _check(deadline, len(results), marks)
        else:
            held.pop(arg, None)
    return results, marks


ALLOCATORS = {"project": run_project, "netbox-ipset": run_ipset, "ipaddress": run_ipaddress, "naive": run_naive}


def canonical(results) -> bytes:
    """One line per request: the block as text, or '-' when none was free."""
    return "\n".join("-" if r is None else str(r) for r in results).encode()


def digest(results) -> str:
    return hashlib.sha256(canonical(results)).hexdigest()


def _timed(fn, *args, **kw):
    gc.collect()
    t = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t, out


def allocation_benchmark(version: int, requests: int = 100_000, runs: int = 3, budget: float = 60.0,
                         project_budget: float = 600.0, sample: int = 2_000, log=print) -> dict:
    """The project's allocator against NetBox's IPSet method and a plain ``ipaddress`` first fit on one
    workload, interleaved, best of ``runs``.

    Every run records the time at each thousandth request, so one run gives the time to any prefix
    of the workload; a run stops at its time budget (``project_budget`` for the project's first run,
    so its whole-workload time is known, ``budget`` otherwise), and a method whose first run took
    more than half its budget is not run again. Ratios are taken at the largest prefix both sides
    reached. Results are checked identical on a shared sample against the naive reference, and
    between every method on the prefix they all reached."""
    w = workload(version, requests)
    out: dict = {"version": version, "container": w.container, "requests": w.requests, "ops": len(w.ops),
                 "releases": sum(1 for op, _ in w.ops if op == REL), "seeds": len(w.seeds), "methods": {},
                 "budget_s": budget, "project_budget_s": project_budget}
    # 1. identical results on the shared sample: every method against the naive reference
    ref = digest(run_naive(w, limit=sample)[0])
    out["sample"] = {"requests": sample, "identical": {
        name: digest(fn(w, limit=sample)[0]) == ref for name, fn in ALLOCATORS.items() if name != "naive"}}
    # 2. interleaved runs under budgets; best time per thousandth request
    names = ["project", "netbox-ipset", "ipaddress"]
    best: dict[str, dict[int, float]] = {n: {} for n in names}
    kept: dict[str, list] = {}
    info: dict[str, dict] = {n: {"runs": 0, "complete": False} for n in names}
    for r in range(runs):
        for name in names:
            i = info[name]
            if r > 0 and not i["again"]:
                continue
            limit_s = project_budget if (name == "project" and r == 0) else budget
            marks: list = []
            results: list = []
            gc.collect()
            start = time.perf_counter()
            try:
                ALLOCATORS[name](w, deadline=start + limit_s, marks=marks, results=results)
                complete, total = True, time.perf_counter() - start
            except _Deadline:
                complete, total = marks[-1][0] >= w.requests, marks[-1][1] - start
            for done, t in marks:
                best[name][done] = min(best[name].get(done, float("inf")), t - start)
            if complete:
                best[name][len(results)] = min(best[name].get(len(results), float("inf")), total)
            i["runs"] += 1
            i["complete"] = i["complete"] or complete
            i["again"] = complete and total < limit_s / 2
            if r == 0:
                kept[name] = results
                log(f"  IPv{version} {name}: {max(best[name]):,} of {w.requests:,} requests in "
                    f"{best[name][max(best[name])]:.2f} s" + ("" if complete else f" (stopped at the {limit_s:.0f} s budget)"))
    common = min(max(best[n]) for n in names)
    out["common_requests"] = common
    out["identical_on_common"] = len({digest(kept[n][:common]) for n in names}) == 1
    for name in names:
        reached = max(best[name])
        out["methods"][name] = {"requests": reached, "best_s": best[name][reached], "complete": info[name]["complete"],
                                "runs": info[name]["runs"],
                                "per_thousand": {k: round(v, 4) for k, v in sorted(best[name].items()) if k % 10_000 == 0}}
    p = best["project"]
    for name in names[1:]:
        b = best[name]
        at = max(k for k in b if k in p)
        m = out["methods"][name]
        m["compared_at"] = at
        m["project_s_same_requests"] = p[at]
        m["baseline_s_same_requests"] = b[at]
        m["ratio"] = b[at] / p[at] if p[at] else float("inf")
    # the same requests without releases: what the releases cost the project's allocator
    nw = workload(version, requests, release_share=0.0)
    t, _ = _timed(run_project, nw)
    out["project_without_releases_s"] = t
    return out


# ---- diff --------------------------------------------------------------------------------------------------
def _root_keys(dd) -> set[str]:
    keys = set()
    for key in dd.affected_root_keys:
        keys.add(key)
    return keys


def diff_benchmark(ws: Path, runs: int = 3, budget: float = 120.0, log=print) -> dict:
    """The project's diff against one whole-document ``DeepDiff`` of the same two documents: the
    recorded state and the desired state of ``ws`` (records as type, name, attributes: what the
    project's diff compares; ids exist on one side only and are left out)."""
    from deepdiff import DeepDiff

    from reconciler.planner import desired_state
    from reconciler.plans.diff import diff
    from reconciler.workspace import Workspace

    w = Workspace(ws)
    doc, state = w.load_specs(), w.read_state()
    recorded = state.resources
    desired, _v = desired_state(doc, recorded)
    before = {a: {"type": r["type"], "name": r["name"], "attributes": r["attributes"]} for a, r in recorded.items()}
    after = {a: {"type": r["type"], "name": r["name"], "attributes": r["attributes"]}
             for a, r in desired.resources.items()}
    best = {"project": float("inf"), "deepdiff": float("inf")}
    n = {"project": 0, "deepdiff": 0}
    changes = dd = None
    for r in range(runs):
        t, changes = _timed(diff, desired.resources, recorded)
        best["project"] = min(best["project"], t)
        n["project"] += 1
        if r == 0 or best["deepdiff"] * (r + 1) < budget:
            t, dd = _timed(DeepDiff, before, after)
            best["deepdiff"] = min(best["deepdiff"], t)
            n["deepdiff"] += 1
    project_addresses = {c.address for c in changes}
    deep_addresses = _root_keys(dd)
    log(f"  diff {ws.name}: project {best['project']:.3f} s, DeepDiff {best['deepdiff']:.2f} s")
    return {"ws": str(ws), "resources": len(after), "recorded": len(before), "changes": len(changes),
            "project_s": best["project"], "deepdiff_s": best["deepdiff"], "runs": n,
            "ratio": best["deepdiff"] / best["project"],
            "same_addresses": project_addresses == deep_addresses,
            "deepdiff_addresses": len(deep_addresses)}


# ---- parse ---------------------------------------------------------------------------------------------------
def parse_benchmark(ws: Path, runs: int = 3, log=print) -> dict:
    """The project's loader against PyYAML with libyaml (CSafeLoader), yaml-rs, and for JSON specs
    the standard json module and orjson, reading the same files; results checked equal."""
    import yaml

    from reconciler.source.loader import load_specs

    specs = ws / "specs"
    files = sorted(p for p in specs.iterdir() if p.suffix in (".yaml", ".json"))
    is_json = files[0].suffix == ".json"
    methods = {"project": lambda: load_specs(specs, display_base=ws).data}

    def merged(load):
        def run():
            data: dict = {}
            for f in files:
                doc = load(f.read_text(encoding="utf-8"))
                for kind, value in doc.items():
                    if kind in ("ipam", "provider"):
                        data[kind] = value
                    else:
                        data.setdefault(kind, {}).update(value)
            return data
        return run

    if is_json:
        import orjson

        methods["json"] = merged(json.loads)
        methods["orjson"] = merged(orjson.loads)
    else:
        methods["pyyaml-libyaml"] = merged(lambda text: yaml.load(text, Loader=yaml.CSafeLoader))
        try:
            import yaml_rs

            methods["yaml-rs"] = merged(yaml_rs.loads)
        except ImportError:
            pass
    best = {k: float("inf") for k in methods}
    data = {}
    for _ in range(runs):
        for name, fn in methods.items():
            t, data[name] = _timed(fn)
            best[name] = min(best[name], t)
    same = {name: data[name] == data["project"] for name in methods if name != "project"}
    log("  parse " + ", ".join(f"{k} {v:.2f} s" for k, v in best.items()))
    return {"ws": str(ws), "format": "json" if is_json else "yaml", "files": len(files),
            "bytes": sum(f.stat().st_size for f in files), "best_s": best, "same_data": same, "runs": runs}


# ---- overlap audit --------------------------------------------------------------------------------------------
def overlap_benchmark(count: int = 1_000_000, overlaps: int = 1_000, runs: int = 3, log=print) -> dict:
    """The report's sort-and-sweep overlap audit (``reconciler.report.ranges.overlapping_pairs``, used by
    ``reconciler.report.cidrs``) over ``count`` CIDRs, if it has landed: ``count - overlaps`` disjoint
    blocks (/26 to /28 laid end to end over the IPv4 space) and ``overlaps`` blocks that each overlap
    one of them, in random order. Timed twice: the sweep alone on (start, end, key) ranges, and the
    audit from CIDR text (``Cidr.parse`` of each, then the sweep), as the report does it."""
    import importlib.util

    if importlib.util.find_spec("reconciler.report.ranges") is None:
        return {"landed": False, "note": "reconciler.report.ranges (the report's overlap sweep) has not landed"}
    from reconciler.report.ranges import overlapping_pairs

    rng = random.Random(5)
    texts: list[str] = []
    pos = 0
    for _ in range(count - overlaps):
        prefix = rng.choice([26, 27, 28])
        size = 1 << (32 - prefix)
        pos = (pos + size - 1) // size * size
        texts.append(str(Cidr(4, pos, prefix)))
        pos += size
    for _ in range(overlaps):
        inside = Cidr.parse(texts[rng.randrange(len(texts))])
        texts.append(str(Cidr(4, inside.start, 30)))  # the first /30 of a block already there
    rng.shuffle(texts)
    ranges = []
    for i, t in enumerate(texts):
        c = Cidr.parse(t)
        ranges.append((c.start, c.end, i))

    def from_text():
        rows = []
        for i, t in enumerate(texts):
            c = Cidr.parse(t)
            rows.append((c.start, c.end, i))
        return overlapping_pairs(rows)

    best = {"sweep": float("inf"), "audit": float("inf")}
    found = None
    for _ in range(runs):
        t, pairs = _timed(overlapping_pairs, ranges)
        best["sweep"] = min(best["sweep"], t)
        from reconciler.net import cidr as _cidr
        _cidr._parse.cache_clear()
        t, pairs2 = _timed(from_text)
        best["audit"] = min(best["audit"], t)
        found = len(pairs)
    log(f"  overlap audit over {count:,} CIDRs: sweep {best['sweep']:.2f} s, from text {best['audit']:.2f} s, "
        f"{found} pairs")
    return {"landed": True, "function": "reconciler.report.ranges.overlapping_pairs", "cidrs": count,
            "planted_overlaps": overlaps, "pairs_found": found, "sweep_s": best["sweep"], "audit_s": best["audit"],
            "runs": runs}


def main(argv: list[str] | None = None) -> None:
    import argparse
    import sys

    p = argparse.ArgumentParser(description="One baseline comparison; prints JSON")
    p.add_argument("what", choices=["alloc", "diff", "parse", "overlap"])
    p.add_argument("--version", type=int, default=4)
    p.add_argument("--requests", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--budget", type=float, default=60.0)
    p.add_argument("--project-budget", type=float, default=600.0)
    p.add_argument("--sample", type=int, default=2_000)
    p.add_argument("--ws")
    p.add_argument("--count", type=int, default=1_000_000)
    args = p.parse_args(argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    if args.what == "alloc":
        out = allocation_benchmark(args.version, args.requests, args.runs, args.budget, args.project_budget,
                                   args.sample, log)
    elif args.what == "diff":
        out = diff_benchmark(Path(args.ws), args.runs, args.budget, log)
    elif args.what == "parse":
        out = parse_benchmark(Path(args.ws), args.runs, log)
    else:
        out = overlap_benchmark(args.count, runs=args.runs, log=log)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
