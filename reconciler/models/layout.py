"""The canonical layout of one spec file (``ipamctl fmt``): a round trip through ruamel.yaml that keeps comments.

The canonical layout, so that a pull request's diff shows only real changes:

* top-level sections, and the keys inside each resource (and inside its blocks), in the order the spec
  format declares them (``ipamctl schema``); keys it does not know stay, after the known ones;
* resources keep their order within a section: it is the order blocks are chosen in;
* a mapping or list with no comment inside is written on one line (``{pool: hz, mask: 20}``) when
  that line fits in :data:`WIDTH` characters, else as a block; one holding a comment is always a block;
* two-space indentation, list items indented under their key, quotes as they were written.

Only the layout changes: the document read back is equal to the one before, which
:func:`format_text` checks before it returns.
"""

from __future__ import annotations

import io
import types
import typing
from typing import Any, Union

from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from reconciler.errors import SpecError
from reconciler.models.network import Spec

WIDTH = 100  # characters a one-line mapping or list may take, indentation and key included


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never fold a long line: one-line or block is this module's choice
    y.indent(mapping=2, sequence=4, offset=2)
    y.brace_single_entry_mapping_in_flow_sequence = True  # [{mask: 15}], not [mask: 15]
    return y


def format_text(text: str, file: str = "<spec>") -> str:
    """``text`` in the canonical layout; SpecError (with the file and line) when it is not YAML."""
    y = _yaml()
    try:
        doc = y.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise SpecError("Spec.YamlSyntax", f"{exc.problem or exc.context}: fmt changes nothing in a file that "
                        "does not parse", file=file, line=line) from None
    if not isinstance(doc, CommentedMap):
        return text  # empty, or not a mapping: the loader reports it; nothing to lay out
    before = _plain(doc)
    _layout(doc, Spec, 0)
    out = io.StringIO()
    y.dump(doc, out)
    formatted = out.getvalue()
    if _plain(_yaml().load(formatted)) != before:  # never change what the file says
        raise SpecError("Spec.FmtMismatch", "the formatted file would read differently; it was left as it is "
                        "(please report this)", file=file)
    return formatted


def _plain(node: Any) -> Any:
    """The document as plain values, in order (what the layout must not change, order of keys aside)."""
    if isinstance(node, dict):
        return sorted(((str(k), _plain(v)) for k, v in node.items()), key=lambda kv: kv[0])
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    """Key (alias, as written) -> annotation, in layout order: the model's own fields as declared, then
    those it inherits (an instance's or an ENI's addresses), then ``description``."""
    own = model.__dict__.get("__annotations__", {})
    names = list(model.model_fields)
    names = ([n for n in names if n in own and n != "description"] + [n for n in names if n not in own]
             + [n for n in names if n == "description" and n in own])
    return {(model.model_fields[n].alias or n): model.model_fields[n].annotation for n in names}


def _reorder(node: CommentedMap, keys: list[Any]) -> None:
    """Put ``node``'s keys in ``keys``' order. What follows the old last entry on later lines (blank
    lines, the next section's comment), which ruamel keeps on that entry, stays at the end."""
    if list(node) == keys:
        return
    holder, key = _last_entry(node)
    token = holder.ca.items.get(key, [None, None, None, None])[2] if holder is not None else None
    rest = ""
    if token is not None and holder is not None:
        first, _, rest = token.value.partition("\n")
        if first.strip():
            token.value = first + "\n"
        else:
            holder.ca.items[key][2] = None
    for k in keys:
        node.move_to_end(k)
    if not rest:
        return
    holder, key = _last_entry(node)
    if holder is None:
        return
    entry = holder.ca.items.setdefault(key, [None, None, None, None])
    if entry[2] is not None:
        entry[2].value += rest
    else:
        assert token is not None  # (rest comes from it)
        token.value = "\n" + rest
        entry[2] = token


def _last_entry(node: CommentedMap) -> tuple[CommentedMap | None, Any]:
    """The mapping and key whose comment token holds what follows ``node`` (its deepest last entry)."""
    if not node:
        return None, None
    key = next(reversed(node))
    value = node[key]
    if isinstance(value, CommentedMap) and value and not value.fa.flow_style():
        return _last_entry(value)
    return node, key


def _models(annotation: Any) -> tuple[type[BaseModel] | None, type[BaseModel] | None, type[BaseModel] | None]:
    """(model, model of list items, model of dict values) an annotation holds, when it holds one."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        found = [m for a in args for m in _models(a)]
        pick = [next((m for m in found[i::3] if m is not None), None) for i in range(3)]
        return pick[0], pick[1], pick[2]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, None, None
    if origin is list and args:
        return None, _models(args[0])[0], None
    if origin is dict and len(args) == 2:
        return None, None, _models(args[1])[0]
    if origin is typing.Annotated:
        return _models(args[0])
    return None, None, None


def _layout(node: CommentedMap, model: type[BaseModel] | None, indent: int) -> None:
    """Order ``node``'s keys as ``model`` declares them, lay out its children, then choose its own style."""
    fields = _fields(model) if model is not None else {}
    _reorder(node, [k for k in fields if k in node] + [k for k in node if k not in fields])
    for key, value in node.items():
        one, items, values = _models(fields.get(str(key)))
        width = indent + len(str(key)) + 2
        if isinstance(value, CommentedMap):
            if values is not None:  # a section of named resources: each body laid out on its own
                for name, body in value.items():
                    if isinstance(body, CommentedMap):
                        _layout(body, values, indent + 2 + len(str(name)) + 2)
                        _lift(value, name, body)
                _style(value, width, allow_flow=False)
            else:
                _layout(value, one, width)
        elif isinstance(value, CommentedSeq):
            for item in value:
                if isinstance(item, CommentedMap):
                    _layout(item, items, indent + 4)
            _style(value, width)
        if isinstance(value, (CommentedMap, CommentedSeq)):
            _lift(node, key, value)
    if model is not Spec:
        _style(node, indent)


def _style(node: CommentedMap | CommentedSeq, used: int, allow_flow: bool = True) -> None:
    """One line when there is no comment inside and it fits, else a block. (A comment after a one-line
    node, which ruamel keeps on the node's last entry, is not inside it: the line stays one line.)"""
    if allow_flow and (_one_line(node) or not _commented(node)) and used + len(_flow_text(node)) <= WIDTH:
        node.fa.set_flow_style()
    else:
        node.fa.set_block_style()


def _lift(parent: CommentedMap, key: Any, child: CommentedMap | CommentedSeq) -> None:
    """A one-line child's trailing comment and following lines belong to its entry in ``parent`` (where
    ruamel writes them after the closing bracket), not to its own last entry (before the bracket)."""
    if not child.fa.flow_style():
        return
    holder, last = _final_entry(child)
    if holder is None:
        return
    slot = 2 if isinstance(holder, CommentedMap) else 0
    tokens = holder.ca.items.get(last)
    token = tokens[slot] if tokens and len(tokens) > slot else None
    if token is None:
        return
    tokens[slot] = None
    entry = parent.ca.items.setdefault(key, [None, None, None, None])
    if entry[2] is None:
        entry[2] = token
    else:
        entry[2].value += token.value.partition("\n")[2]


def _final_entry(node: Any) -> tuple[Any, Any]:
    """(collection, key or index) of the very last entry under ``node``."""
    if isinstance(node, CommentedMap) and node:
        key = next(reversed(node))
        deeper = _final_entry(node[key])
        return deeper if deeper[0] is not None else (node, key)
    if isinstance(node, CommentedSeq) and node:
        deeper = _final_entry(node[-1])
        return deeper if deeper[0] is not None else (node, len(node) - 1)
    return None, None


def _one_line(node: CommentedMap | CommentedSeq) -> bool:
    """Whether ``node`` was written on one line (so no comment can be inside it)."""
    if not node.fa.flow_style():
        return False
    lines = ([node.lc.key(k)[0] for k in node] if isinstance(node, CommentedMap)
             else [node.lc.item(i)[0] for i in range(len(node))])
    return all(line == node.lc.line for line in lines) and all(
        _one_line(c) for c in (node.values() if isinstance(node, CommentedMap) else node)
        if isinstance(c, (CommentedMap, CommentedSeq)))


def _commented(node: Any) -> bool:
    """Whether a comment sits inside ``node``: any but blank lines and comment lines that follow its last
    line (ruamel keeps those on its last entry; they stay after it in either style)."""
    final = _final(node)
    return _has_comment(node, final)


def _final(node: Any) -> tuple[int, Any] | None:
    """(id of the collection, key or index) of the very last entry under ``node``."""
    holder, key = _final_entry(node)
    return (id(holder), key) if holder is not None else None


def _has_comment(node: Any, final: tuple[int, Any] | None) -> bool:
    if not isinstance(node, (CommentedMap, CommentedSeq)):
        return False
    ca = node.ca
    if ca.comment or getattr(ca, "end", None):
        return True
    for key, tokens in ca.items.items():
        for token in tokens or ():
            if token is None:
                continue
            texts = token if isinstance(token, list) else [token]
            for t in texts:
                if t is None:
                    continue
                tail_only = not t.value.partition("\n")[0].strip()
                if not (tail_only and (id(node), key) == final):
                    return True
    children = node.values() if isinstance(node, CommentedMap) else node
    return any(_has_comment(c, final) for c in children)


def _flow_text(node: Any) -> str:
    """How ``node`` reads on one line (its scalars as they are written)."""
    if isinstance(node, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow_text(v)}" for k, v in node.items()) + "}"
    if isinstance(node, list):
        return "[" + ", ".join(_flow_text(v) for v in node) + "]"
    return _scalar(node)


def _scalar(value: Any) -> str:
    """The scalar as ruamel writes it, quotes included ("- VALUE" of a one-item list, plain indentation)."""
    y = YAML(typ="rt")
    y.width = 4096
    out = io.StringIO()
    y.dump([value], out)
    return out.getvalue().removeprefix("- ").rstrip("\n").removesuffix("\n...")
