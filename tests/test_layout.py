"""The package layout's contracts, read from the code's own imports (every ``import`` statement,
those inside functions included): no import circle between modules, the pure core never reaching
the edges, and imports between stages running one way."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "reconciler"

# The pure core: planning is a function of (desired, recorded, cloud reads). It reads no files but
# the specs' (source), touches no state backend, provider, sandbox, terminal or CLI.
CORE = ("net", "source", "models", "desired", "rules", "plans")
EDGES = ("providers", "cloud", "states", "apply", "observe", "report", "cli", "workspace", "faults")

# Stages from the bottom up: a package may import only from packages before it (and itself).
LAYERS = ("errors", "frozen", "net", "source", "models", "desired", "plans", "rules", "planner",
          "faults", "states", "providers", "cloud", "serve", "apply", "observe", "report", "workspace", "cli",
          "__main__")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The reconciler modules ``path`` imports (a name imported from a package counts as its submodule
    when there is one)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("reconciler"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("reconciler"):
                continue
            out.add(target)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if (REPO / (sub.replace(".", "/") + ".py")).exists() or (REPO / sub.replace(".", "/")).is_dir():
                    out.add(sub)
    out.discard(me)
    return out


def graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for path in sorted(PACKAGE.rglob("*.py")):
        me = module_name(path)
        g.add_node(me)
        for target in imports_of(path):
            if target != "reconciler":  # the package's face (__version__) only
                g.add_edge(me, target)
    return g


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_the_layout_is_read_from_real_imports():
    g = graph()
    # a few arrows the code is known to have, so a reader that saw nothing cannot pass the tests below
    assert g.has_edge("reconciler.planner", "reconciler.desired.network")
    assert g.has_edge("reconciler.cli.plan", "reconciler.planner")
    assert g.number_of_edges() > 150


def test_no_import_circle():
    g = graph()
    circles = list(nx.simple_cycles(g))
    assert not circles, f"import circles: {circles[:5]}"


def test_the_core_imports_none_of_the_edges():
    g = graph()
    breaches = [(a, b) for a, b in g.edges if stage(a) in CORE and stage(b) in EDGES]
    assert not breaches, f"the pure core reaches an edge: {breaches}"


def test_stages_import_one_way():
    g = graph()
    rank = {name: i for i, name in enumerate(LAYERS)}
    unknown = sorted({stage(m) for m in g.nodes} - set(rank) - {"reconciler"})
    assert not unknown, f"packages without a place in LAYERS: {unknown}"
    upward = [(a, b) for a, b in g.edges if stage(a) != stage(b) and stage(a) in rank and rank[stage(b)] > rank[stage(a)]]
    assert not upward, f"imports that run up the stages: {upward}"


def test_few_modules_directly_in_the_package():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 12, top
