"""Human-readable output of plans, apply progress, state and errors, Terraform-style.

Rendering returns strings; colour is applied only when the caller says the output is a terminal.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import click
import orjson

from reconciler.errors import ReconcilerError, flatten
from reconciler.plans.diff import ChangeKind
from reconciler.plans.order import Action, Plan, PlannedAction

SIGN = {
    Action.CREATE: "+", Action.PROVISION: "+", Action.ALLOCATE: "+", Action.ASSIGN: "+",
    Action.DELETE: "-", Action.DEPROVISION: "-", Action.RELEASE: "-", Action.UNASSIGN: "-",
    Action.UPDATE: "~", Action.REPLACE: "-/+", Action.IMPORT: "<=",
}
KIND_SIGN = {ChangeKind.CREATE: "+", ChangeKind.DELETE: "-", ChangeKind.UPDATE: "~", ChangeKind.REPLACE: "-/+"}
COLOUR = {"+": "green", "-": "red", "~": "yellow", "-/+": "cyan"}
KIND_TEXT = {
    ChangeKind.CREATE: "will be created",
    ChangeKind.DELETE: "will be destroyed",
    ChangeKind.UPDATE: "will be updated in place",
    ChangeKind.REPLACE: "must be replaced",
}


def paint(text: str, sign: str, colour: bool) -> str:
    """``text`` in the colour of ``sign`` (+, -, ~, -/+) when ``colour``."""
    return click.style(text, fg=COLOUR.get(sign), bold=sign == "-/+") if colour else text


def _blocks(attrs: Mapping | None, rtype: str) -> str:
    if not attrs:
        return ""
    if rtype == "ipam_pool":
        return ", ".join(attrs.get("cidrs", []))
    if rtype == "vpc":
        parts = [attrs["ipv4"]["cidr"]] + [b["cidr"] for b in attrs.get("secondary_cidrs", [])]
        if attrs.get("ipv6"):
            parts.append(attrs["ipv6"]["cidr"])
        return ", ".join(p for p in parts if p)
    if rtype in ("vswitch", "ipam_pool_allocation"):
        return attrs.get("cidr") or ""
    if rtype == "ipam":
        return "regions " + ", ".join(attrs.get("operating_regions", []))
    if rtype == "eni":
        parts = [attrs.get("primary_ip")]
        for k in ("secondary_private_ips", "ipv4_prefixes", "ipv6_addresses", "ipv6_prefixes"):
            items = attrs.get(k)
            if items:
                parts += items
        return ", ".join([p for p in parts if p])
    if rtype == "instance":
        return f"{attrs.get('instance_type')} {attrs.get('status')} {attrs.get('primary_ip') or ''}".strip()
    return ""


def action_line(a: PlannedAction, colour: bool = False, width: int = 34) -> str:
    action = a.action
    sign = "-/+" if a.replace and (action is Action.CREATE or action is Action.DELETE) else SIGN[action]
    text = f"{a.order:>4}  {sign:>3} {action._value_:<11} {a.address:<{width}} {a.cidr or '':<20} {a.api}"
    if a.note:
        text += f"  ({a.note})"
    return paint(text.rstrip(), sign, colour) if colour else text.rstrip()


def render_plan(plan: Plan, colour: bool = False) -> str:
    if not plan.has_changes:
        return "No changes. The recorded state matches the specs.\n" + warnings_text(plan, colour)
    out = ["ipamctl will perform the following changes:", ""]
    for a in plan.actions:
        if a.action is Action.IMPORT:
            out.append(paint(f"  <=  {a.address} will be imported ({(a.after or {}).get('id')})", "<=", colour))
    for c in plan.changes:
        sign = KIND_SIGN[c.kind]
        head = f"  {sign:>3} {c.address} {KIND_TEXT[c.kind]}"
        if c.replace_reasons:
            head += f" ({'; '.join(c.replace_reasons)})"
        out.append(paint(head, sign, colour))
        forced = [r[:-len(" changes")] for r in c.replace_reasons if r.endswith(" changes")]
        if forced:
            out.append(f"        # forces replacement: {', '.join(forced)}")
        if c.kind is ChangeKind.CREATE:  # (no blocks before)
            after = _blocks(c.after, c.type)
            if after:
                out.append(f"        {after}")
        elif c.kind is ChangeKind.DELETE:  # (none after)
            before = _blocks(c.before, c.type)
            if before:
                out.append(f"        {before}")
        else:
            before, after = _blocks(c.before, c.type), _blocks(c.after, c.type)
            if before != after:
                out.append(f"        {before or '(none)'}  ->  {after or '(none)'}")
        for key in c.changed:
            if c.kind is ChangeKind.UPDATE and key not in ("cidrs", "secondary_cidrs", "ipv6"):
                # an update has both records
                was, now = c.before.get(key), c.after.get(key)  # type: ignore[union-attr]
                out.append(f"        {key}: {_short(was)} -> {_short(now)}")
    width = max(len(a.address) for a in plan.actions) + 1
    out += ["", "Actions, in the order apply runs them:", ""]
    out += [action_line(a, colour, width) for a in plan.actions]
    out += ["", summary_line(plan)]
    return "\n".join(out) + "\n" + warnings_text(plan, colour)


def warnings_text(plan: Plan, colour: bool = False) -> str:
    """The plan's warnings (allowed by the cloud; the plan still applies), one ``Warning:`` line each."""
    if not plan.warnings:
        return ""
    lines = [click.style(f"Warning: {w.message}", fg="yellow") if colour else f"Warning: {w.message}"
             for w in plan.warnings]
    return "\n" + "\n".join(lines) + "\n"


def _short(value) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items() if v is not None) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return "null" if value is None else str(value)


def summary_line(plan: Plan) -> str:
    s = plan.summary()
    imports = f"{s['import']} to import, " if s.get("import") else ""
    text = (f"Plan: {imports}{s['create']} to add, {s['update']} to change, {s['replace']} to replace, "
            f"{s['delete']} to destroy.")
    blocks = [f"{s[k]} to {k}" for k in ("provision", "allocate", "assign", "deprovision", "release", "unassign")
              if s.get(k)]
    if blocks:
        text += " Blocks: " + ", ".join(blocks) + "."
    return text


def render_state(resources: Mapping[str, dict], lineage: str | None, serial: int) -> str:
    if not resources:
        return "The state is empty.\n"
    out = [f"State lineage {lineage}, serial {serial}, {len(resources)} resources", ""]
    width = max(len(a) for a in resources) + 1
    id_width = max(28, max(len(rec.get("id") or "-") for rec in resources.values()))  # allocation ids are long
    for address in sorted(resources, key=state_key):
        rec = resources[address]
        out.append(f"  {address:<{width}} {rec.get('id') or '-':<{id_width}} "
                   f"{_blocks(rec['attributes'], rec['type'])}".rstrip())
    return "\n".join(out) + "\n"


def state_key(address: str) -> tuple:
    """The order the state is listed in: by resource type (parents first), then address."""
    from reconciler.net.address import TYPE_RANK

    return (TYPE_RANK.get(address.split(".")[0], 99), address)


def render_record(address: str, rec: Mapping) -> str:
    out = [f"# {address}", f"id = {rec.get('id')}"]
    out += _lines(rec["attributes"], 0)
    return "\n".join(out) + "\n"


def _lines(value, depth: int) -> list[str]:
    pad = "  " * depth
    out = []
    for k, v in value.items():
        if isinstance(v, Mapping):
            out.append(f"{pad}{k} = {{")
            out += _lines(v, depth + 1)
            out.append(f"{pad}}}")
        else:
            out.append(f"{pad}{k} = {_short(v)}")
    return out


def render_errors(error: ReconcilerError) -> str:
    errors = flatten(error)
    lines = [f"Error: {e.message}" for e in errors]
    if len(errors) > 1:
        lines.append(f"{len(errors)} errors.")
    return "\n".join(lines) + "\n"


def errors_document(error: ReconcilerError) -> dict:
    return {"errors": [e.to_dict() for e in flatten(error)]}


def json_text(data: Any) -> str:
    """A JSON document as the commands print it: indented by 2, keys sorted."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def progress_line(a: PlannedAction, outcome: str) -> str:
    return f"{a.address}: {a.action.value}{' ' + a.cidr if a.cidr else ''} ({a.api}) {outcome}"


def join(lines: Iterable[str]) -> str:
    return "\n".join(lines) + "\n"
