"""`plan --markdown` / `show --markdown PLANFILE`: the pull-request comment. The two examples in
docs/examples/ are these tests' output (regenerate: IPAMCTL_REGENERATE=1 python -m pytest tests/cli/test_markdown.py)."""

from __future__ import annotations

import os
from pathlib import Path

from reconciler.cli.render_markdown import COMMENT_LIMIT, block_rows, render_markdown
from tests.support.specs import BASE, converge
from tests.support.specs import plan as plan_of

DOCS = Path(__file__).resolve().parents[2] / "docs" / "examples"
CHANGED = BASE.replace("prod: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 20}}",
                       "prod: {region: cn-hangzhou, ipv4: {pool: hz-prod, mask: 19}}")  # a new primary block


def _golden(name: str, text: str) -> None:
    path = DOCS / name
    if os.environ.get("IPAMCTL_REGENERATE") == "1":
        path.write_text(text)
    assert path.read_text() == text, f"{path} is not what the renderer makes now (IPAMCTL_REGENERATE=1 rewrites it)"


def _tables_whole(text: str) -> bool:
    """Every table line is a whole row."""
    return all(line.endswith("|") for line in text.splitlines() if line.startswith("|"))


def test_the_bundled_example_s_comment(example):
    example.run("plan", "--out", "p.json", check=0)
    shown = example.run("show", "--markdown", "p.json", check=0).stdout
    planned = example.run("plan", "--markdown", check=0).stdout
    assert shown == planned  # the comment of the saved plan is the comment of the plan
    assert shown.startswith("### ipamctl plan\n\n**Plan: 35 to add, 0 to change, 0 to replace, 0 to destroy.")
    assert "| 33 | + | create | `vpc.trade-prod` | `10.0.0.0/20` | ipam_pool.hz-trade-prod | lowest free /20 " in shown
    assert "| 4 | + | provision | `ipam_pool.root` | `10.0.0.0/8` | ipam_scope.private | given in the spec |" in shown
    assert "<details><summary>Full plan</summary>" in shown and "Actions, in the order apply runs them:" in shown
    assert len(shown) <= COMMENT_LIMIT and _tables_whole(shown)
    assert example.run("plan", "--markdown", check=0).stdout == planned  # deterministic
    if example.env == {}:  # (the served run names another provider: the example is the embedded one's)
        _golden("plan-comment-bundled.md", shown)


def test_a_replacement_and_a_release(tmp_path):
    state = converge(plan_of(tmp_path, BASE + "allocations:\n  idc: {pool: root, cidr: 10.200.0.0/16}\n"))
    got = plan_of(tmp_path, CHANGED, recorded=state, serial=1)
    text = render_markdown(got)
    assert "#### Replacements\n\n- `vpc.prod` must be replaced: ipv4.cidr changes" in text
    assert "| - | release | `ipam_pool_allocation.idc` | `10.200.0.0/16` | ipam_pool.root |" in text
    assert "| -/+ | delete | `vpc.prod` | `10.0.0.0/20` | ipam_pool.hz-prod |" in text
    assert "| -/+ | create | `vpc.prod` |" in text and _tables_whole(text)
    _golden("plan-comment-replace-release.md", text)


def test_sized_to_the_limit_rows_whole_and_counted(example):
    example.run("plan", "--out", "p.json", check=0)
    from reconciler.plans import planfile

    plan, _ = planfile.read((example.root / "p.json").read_bytes(), path="p.json")
    rows = block_rows(plan)
    for limit in (2500, 4000):
        text = render_markdown(plan, limit=limit)
        assert len(text) <= limit and _tables_whole(text)
        shown = sum(1 for line in text.splitlines() if line.startswith("| ") and "`" in line)
        assert 0 < shown < len(rows)
        assert f"_{len(rows) - shown} more block row(s) left out to fit the comment;" in text
    text = render_markdown(plan, limit=9000)  # every row, and the full plan cut at a line
    assert len(text) <= 9000 and sum(1 for line in text.splitlines() if line.startswith("| ") and "`" in line) == len(rows)
    assert "... (cut to fit the comment; `ipamctl show PLANFILE` prints it whole)\n```\n\n</details>\n" in text


def test_no_changes_and_usage(example):
    example.run("apply", "--auto-approve", check=0)
    assert example.run("plan", "--markdown", check=0).stdout == (
        "### ipamctl plan: no changes\n\nThe recorded state matches the specs.\n")
    both = example.run("plan", "--markdown", "--json")
    assert both.returncode == 2 and "choose one output" in both.stderr
    missing = example.run("show", "--markdown", "nope.json")
    assert missing.returncode == 1 and "Plan.NotFound" in missing.stderr and "Traceback" not in missing.stderr
