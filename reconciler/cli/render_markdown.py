"""A plan as a pull-request comment (GitHub / GitLab Markdown): what a reviewer reads at a glance.

The summary line; a table of every block the plan provisions, allocates, assigns, releases,
deprovisions or unassigns, with the pool (or VPC, or vSwitch) it sits in and how it was chosen;
replacements with their reasons; warnings; and the whole plan in a collapsed section. The comment
fits ``limit`` characters (GitHub's comment limit by default): rows past it are left out whole and
counted in a note, the collapsed plan is cut at a line; a table is never cut in the middle.
Deterministic: the same plan gives the same bytes.
"""

from __future__ import annotations

from typing import Mapping

from reconciler.cli.render import SIGN, render_plan, summary_line
from reconciler.plans.diff import ChangeKind
from reconciler.plans.order import Action, Plan, PlannedAction

COMMENT_LIMIT = 65536  # characters of a GitHub issue or pull-request comment
_TAKES = frozenset({Action.CREATE, Action.PROVISION, Action.ALLOCATE, Action.ASSIGN})
_FREES = frozenset({Action.DELETE, Action.DEPROVISION, Action.RELEASE, Action.UNASSIGN})
_HEAD = ("| # | | Action | Resource | Block | In | How it was chosen, or why |\n"
         "|--:|:-:|---|---|---|---|---|\n")
_ROOM = 400  # characters kept for the notes and the collapsed section's frame


def cell(text: str) -> str:
    """Text safe in a table cell: pipes escaped, one line."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def code(text: str) -> str:
    return f"`{text}`" if text else ""


def parent(a: PlannedAction, record: Mapping | None) -> str:
    """Where a block sits: the pool, scope, VPC or vSwitch it is taken from. ``record``: the resource's
    attributes (desired, else as recorded before), as an action carries only what it changes."""
    rec: Mapping = record or a.after or a.before or {}
    if a.type == "ipam_pool":
        if rec.get("source"):
            return f"ipam_pool.{rec['source']}"
        return "the public IPv6 supply" if rec.get("ip_version") == "IPv6" else f"ipam_scope.{rec.get('scope')}"
    if a.type == "ipam_pool_allocation":
        return _pool(rec) if rec.get("pool") else ""
    if a.type == "vpc":
        blocks = [rec.get("ipv4"), rec.get("ipv6"), *(rec.get("secondary_cidrs") or ()), a.after, a.before]
        block = next((b for b in blocks if b and b.get("cidr") == a.cidr), None)
        return _pool(block) if block and block.get("pool") else "(no pool)"
    if a.type == "vswitch":
        return f"vpc.{rec.get('vpc')}" if rec.get("vpc") else ""
    if a.type in ("eni", "instance"):
        return f"vswitch.{rec.get('vswitch')}" if rec.get("vswitch") else ""
    return ""


def _pool(block: Mapping) -> str:
    if block.get("pool_id"):
        return f"external pool {block['pool']} ({block['pool_id']})"
    return f"ipam_pool.{block.get('pool')}"


def block_rows(plan: Plan) -> list[str]:
    rows = []
    for a in plan.actions:
        if not a.cidr or a.action not in _TAKES and a.action not in _FREES:
            continue
        sign = "-/+" if a.replace and a.action in (Action.CREATE, Action.DELETE) else SIGN[a.action]
        how = a.note or ("given in the spec" if a.action in _TAKES else "")
        # a block given back sits where the resource had it; one taken, where the resource will have it
        record = a.before if a.action in _FREES else (plan.desired.get(a.address) or {}).get("attributes")
        rows.append(f"| {a.order} | {cell(sign)} | {a.action.value} | {code(a.address)} | {code(a.cidr)} | "
                    f"{cell(parent(a, record))} | {cell(how)} |\n")
    return rows


def replacements(plan: Plan) -> list[str]:
    return [f"- {code(c.address)} must be replaced: {cell('; '.join(c.replace_reasons) or 'its settings change')}\n"
            for c in plan.changes if c.kind is ChangeKind.REPLACE]


def render_markdown(plan: Plan, limit: int = COMMENT_LIMIT, title: str = "ipamctl plan") -> str:
    """The comment; at most ``limit`` characters."""
    if not plan.has_changes:
        head = f"### {title}: no changes\n\nThe recorded state matches the specs.\n"
        return head + _warnings(plan)
    head = f"### {title}\n\n**{summary_line(plan)}**\n"
    parts = [head]
    budget = limit - len(head) - _ROOM
    rest = [*(["\n#### Replacements\n\n", *replacements(plan)] if replacements(plan) else []), _warnings(plan)]
    budget -= sum(map(len, rest))
    rows = block_rows(plan)
    if rows:
        table, shown = _HEAD, 0
        for row in rows:
            if len(table) + len(row) > budget:
                break
            table, shown = table + row, shown + 1
        parts += ["\n#### Blocks\n\n", table]
        if shown < len(rows):
            parts.append(f"\n_{len(rows) - shown} more block row(s) left out to fit the comment; the saved plan "
                         "has them all._\n")
        budget -= len(table)
    parts += rest
    parts.append(_collapsed(render_plan(plan), limit - sum(map(len, parts))))
    return "".join(parts)


def _warnings(plan: Plan) -> str:
    if not plan.warnings:
        return ""
    lines = [f"- **{cell(w.code)}** {code(w.address or '')}: {cell(w.message)}\n" for w in plan.warnings]
    return "\n#### Warnings\n\n" + "".join(lines)


def _collapsed(text: str, room: int) -> str:
    """The full plan in a <details> block, cut at a line to fit ``room`` characters."""
    frame_open = "\n<details><summary>Full plan</summary>\n\n```text\n"
    frame_close = "```\n\n</details>\n"
    cut_note = "... (cut to fit the comment; `ipamctl show PLANFILE` prints it whole)\n"
    space = room - len(frame_open) - len(frame_close) - len(cut_note)
    if space <= 0:
        return ""
    if len(text) > space:
        text = text[:text.rfind("\n", 0, space) + 1] + cut_note
    return frame_open + text.replace("```", "'''") + frame_close
