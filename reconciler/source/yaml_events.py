"""YAML spec text -> plain data, read from libyaml's event stream with every safety rule checked
on the way (nesting depth, alias count and expansion, duplicate and non-string keys, tags), and
the lines of the first two levels recorded; no node tree or marks kept."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from reconciler.errors import ReconcilerError, SpecError
from reconciler.source.limits import MAX_ALIAS_NODES, MAX_ALIASES, MAX_DEPTH
from reconciler.source.lines import _event_liner, _last_line, _line_at, _mark_liner
from reconciler.source.merge import _Parsed
from reconciler.source.messages import _describe, _show
from reconciler.source.yaml_scalars import (
    _IMPLICIT,
    _MERGE,
    _MERGE_TAG,
    _NOKEY,
    _TAG,
    _construct,
    _Report,
    ambiguous,
)

# libyaml when present; the pure-Python parser otherwise. Only the parser is used.
_Loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader

_MAP_TAGS = (None, "!", _TAG + "map")
_SEQ_TAGS = (None, "!", _TAG + "seq")


class _Abort(Exception):
    """Stops reading one file: the error is the file's only one."""

    def __init__(self, code: str, detail: str, line: int | None):
        super().__init__(detail)
        self.code, self.detail, self.line = code, detail, line


class _AliasBudget(Exception):
    pass


def _measure(value: Any, budget: int) -> tuple[int, int]:
    """(node count, nesting depth) of a built value; raises _AliasBudget past ``budget``."""
    size = 0
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        size += 1
        if size > budget:
            raise _AliasBudget
        kind = type(node)
        if kind is dict:
            if depth > deepest:
                deepest = depth
            stack.extend((child, depth + 1) for child in node.values())
        elif kind is list:
            if depth > deepest:
                deepest = depth
            stack.extend((child, depth + 1) for child in node)
    return size, deepest


def _clone(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: _clone(v) for k, v in value.items()}
    if kind is list:
        return [_clone(v) for v in value]
    return value


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    problem = _show(exc.problem or "invalid YAML")
    if exc.context:
        context = exc.context
        if exc.context_mark is not None and exc.problem_mark is not None and exc.context_mark.line != exc.problem_mark.line:
            context += f" started at line {exc.context_mark.line + 1}"
        return f"YAML syntax error: {problem} ({context})"
    return f"YAML syntax error: {problem}"


def _parse_yaml(text: str, display: str, errors: list[ReconcilerError], loader_class: Any = None) -> _Parsed | None:
    """Parse one YAML file's text (with ``loader_class``'s parser, libyaml's by default); its
    problems go to ``errors``. None when nothing usable came out."""
    loader_class = loader_class or _Loader
    loader = None
    try:
        loader = loader_class(text)  # the pure-Python reader checks characters here already
        return _build_yaml(loader, display, errors, _event_liner(text))
    except _Abort as abort:
        errors.append(SpecError(abort.code, abort.detail, file=display, line=abort.line))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and (mark is None or mark.index >= len(text.rstrip())):
            mark = exc.context_mark  # "unexpected end of stream": where the unclosed thing began
        line = None
        if mark is not None:
            line = min(_mark_liner(text)(mark), _last_line(text))
        problem_mark = exc.problem_mark
        long_key = _long_key(text, problem_mark.line) if problem_mark is not None else None
        if "maximum nesting depth" in (exc.problem or ""):  # libyaml >= 0.2.6 (PyYAML 6.0.4) stops at 1,000 levels
            errors.append(SpecError("Spec.TooDeep", f"nesting is deeper than {MAX_DEPTH} levels", file=display, line=line))
        elif long_key is not None and problem_mark is not None:
            errors.append(SpecError(
                "Spec.TooLarge",
                f"a key of {long_key:,} characters (YAML reads keys of at most {MAX_YAML_KEY:,} "
                f"characters; resource names have at most 128)", file=display, line=problem_mark.line + 1))
        else:
            errors.append(SpecError("Spec.Syntax", _yaml_problem(exc), file=display, line=line))
    except yaml.reader.ReaderError as exc:
        line = None
        if isinstance(exc.position, int) and exc.position >= 0:
            position = exc.position
            if loader_class is not yaml.SafeLoader:  # libyaml reports the offset in the UTF-8 bytes
                position = len(text.encode("utf-8")[:position].decode("utf-8", "ignore"))
            line = _line_at(text, position)
        character = exc.character
        shown = f"#x{character:04x}" if isinstance(character, int) else repr(character)
        errors.append(SpecError("Spec.Syntax", f"YAML syntax error: {exc.reason} (character {shown})",
                                file=display, line=line))
    except yaml.YAMLError as exc:
        errors.append(SpecError("Spec.Syntax", f"YAML syntax error: {exc}", file=display))
    finally:
        if loader is not None:
            try:
                loader.dispose()
            except Exception:  # pragma: no cover
                pass
    return None


#: YAML's limit on an implicit (simple) key: libyaml and PyYAML refuse a longer one as a syntax error.
MAX_YAML_KEY = 1024
_KEY_START = re.compile(r"^[ ]*(?:[-?][ ]+)*|[{,\[][ ]*")
_COLON = re.compile(r":(?= |$)")


def _long_key(text: str, number: int) -> int | None:
    """The length of a key over :data:`MAX_YAML_KEY` characters on line ``number`` (0-based), the
    cause of the syntax error there; None when there is none."""
    start = 0
    for _ in range(number):
        start = text.find("\n", start) + 1
        if not start:
            return None
    end = text.find("\n", start)
    line = text[start:] if end < 0 else text[start:end]
    if len(line) <= MAX_YAML_KEY:
        return None
    colons = [m.start() for m in _COLON.finditer(line)]
    for colon, previous in zip(colons, [-1, *colons]):
        before = line[previous + 1:colon]
        key = before[max((m.end() for m in _KEY_START.finditer(before)), default=0):].strip()
        if len(key) > MAX_YAML_KEY:
            return len(key)
    return None


def _build_yaml(
    loader: Any, display: str, errors: list[ReconcilerError], _line: Callable[[Any], int | None]
) -> _Parsed:
    """Build plain data from the event stream, checking every rule as it goes."""
    get_event = loader.get_event

    def err(code: str, detail: str, event: Any) -> None:
        errors.append(SpecError(code, detail, file=display, line=_line(event)))

    stack: list[tuple[Any, ...]] = []
    push = stack.append
    pop = stack.pop
    # the open collection ("frame"): container, is-mapping, pending key and where it came
    # from, key -> line (recorded for the first two levels only), merge sources, anchor,
    # and the event that opened it
    obj: Any = None
    is_map = False
    key: Any = _NOKEY
    key_event: Any = None
    lines: dict[str, int | None] | None = None
    merges: list[tuple[Any, Any]] | None = None  # (merged value, the '<<' key's event)
    anchor: str | None = None
    start: Any = None

    depth = 0
    anchors: dict[str, Any] = {}
    open_anchors: list[str] = []
    alias_uses = 0
    alias_budget = MAX_ALIAS_NODES
    documents = 0
    root: Any = None
    root_line: int | None = None
    kind_lines: dict[str, int | None] = {}
    name_lines: dict[str, dict[str, int | None]] = {}

    while True:
        event = get_event()
        etype = type(event)
        if etype is ScalarEvent:
            value = event.value
            tag = event.tag
            if tag is None:
                if event.implicit[0]:
                    text = value
                    resolvers = _IMPLICIT.get(text[:1])
                    if resolvers is not None:
                        for rtag, regexp in resolvers:
                            if regexp.match(text):
                                if rtag == _MERGE_TAG:
                                    if is_map and key is _NOKEY:
                                        value = _MERGE
                                else:
                                    value = _construct(rtag, event, err)
                                break
                    # a plain value that YAML 1.2 readers read otherwise (012, 1_6, 1:30, yes) is refused (a
                    # key that YAML 1.1 reads as no string is refused as that, below)
                    if value is not text and not (is_map and key is _NOKEY):
                        why = ambiguous(text, value)
                        if why is not None:
                            err("Spec.AmbiguousScalar", why, event)
            elif tag != "!":
                value = _construct(tag, event, err)
            if event.anchor is not None:
                anchors[event.anchor] = value
            source = event
        elif etype is MappingStartEvent or etype is SequenceStartEvent:
            depth += 1
            if depth > MAX_DEPTH:
                raise _Abort("Spec.TooDeep", f"nesting is deeper than {MAX_DEPTH} levels", _line(event))
            push((obj, is_map, key, key_event, lines, merges, anchor, start))
            if etype is MappingStartEvent:
                obj, is_map = {}, True
                lines = {} if depth <= 2 else None
                if event.tag not in _MAP_TAGS:
                    err("Spec.Syntax", f"unsupported tag {event.tag!r} on a mapping; use plain YAML mappings", event)
            else:
                obj, is_map, lines = [], False, None
                if event.tag not in _SEQ_TAGS:
                    err("Spec.Syntax", f"unsupported tag {event.tag!r} on a sequence; use plain YAML sequences", event)
            key = _NOKEY
            key_event = None
            merges = None
            anchor = event.anchor
            if anchor is not None:
                open_anchors.append(anchor)
            start = event
            continue
        elif etype is MappingEndEvent or etype is SequenceEndEvent:
            value = obj
            if merges is not None:
                value = _apply_merges(value, merges, err)
            if anchor is not None:
                anchors[anchor] = value
                open_anchors.remove(anchor)
            frame_lines = lines
            source = start
            obj, is_map, key, key_event, lines, merges, anchor, start = pop()
            depth -= 1
            if frame_lines is not None:
                if obj is None:
                    kind_lines = frame_lines
                elif depth == 1 and is_map and type(key) is str:
                    name_lines[key] = frame_lines
        elif etype is AliasEvent:
            name = event.anchor
            if name not in anchors:
                if name in open_anchors:
                    raise _Abort("Spec.AliasLimit",
                                 f"alias *{name} refers to a node that contains it; recursive aliases are not allowed",
                                 _line(event))
                raise _Abort("Spec.Syntax", f"YAML syntax error: found undefined alias *{name}", _line(event))
            alias_uses += 1
            if alias_uses > MAX_ALIASES:
                raise _Abort("Spec.AliasLimit",
                             f"more than {MAX_ALIASES} alias uses (*name) in one file; write the values out instead",
                             _line(event))
            value = anchors[name]
            if type(value) is dict or type(value) is list:
                try:
                    size, nested = _measure(value, alias_budget)
                except _AliasBudget:
                    raise _Abort("Spec.AliasLimit",
                                 f"aliases expand to more than {MAX_ALIAS_NODES} nodes in one file "
                                 f"(an alias bomb?); write the values out instead",
                                 _line(event)) from None
                alias_budget -= size
                if depth + nested > MAX_DEPTH:
                    raise _Abort("Spec.TooDeep",
                                 f"nesting is deeper than {MAX_DEPTH} levels once alias *{name} is expanded",
                                 _line(event))
                value = _clone(value)
            source = event
        elif etype is DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _Abort("Spec.Syntax",
                             "more than one YAML document ('---') in one file; split them into separate files",
                             _line(event))
            continue
        elif etype is StreamEndEvent:
            break
        else:
            continue

        # place the finished value into the open collection
        if obj is None:
            root = value
            root_line = _line(source)
        elif is_map:
            if key is _NOKEY:
                key = value
                key_event = source
            else:
                k = key
                key = _NOKEY
                if type(k) is str:
                    if k in obj:
                        first = f" (first at line {lines[k]})" if lines is not None and k in lines else ""
                        err("Spec.DuplicateKey",
                            f"key '{_show(k)}' appears twice in the same mapping{first}; each key may appear only once",
                            key_event)
                    obj[k] = value
                    if lines is not None:
                        lines[k] = _line(key_event)
                elif k is _MERGE:
                    if merges is None:
                        merges = []
                    merges.append((value, key_event))
                else:
                    _key_type_error(k, key_event, depth, err)
        else:
            obj.append(value)

    if documents == 0:
        return _Parsed(None, None, {}, {})
    return _Parsed(root, root_line, kind_lines, name_lines)


def _key_type_error(key: Any, event: Any, depth: int, err: _Report) -> None:
    where = "kind" if depth == 1 else "key"
    raw = getattr(event, "value", None)
    if isinstance(key, bool):
        err("Spec.KeyType",
            f"{where} {raw!r} was read as the boolean {str(key).lower()} (YAML 1.1 reads unquoted "
            f"yes/no/on/off/true/false as booleans); quote it: \"{raw}\"",
            event)
    elif raw == "" and key is None:
        err("Spec.KeyType", f"{where} is empty (null); keys must be non-empty strings", event)
    elif isinstance(raw, str) and not isinstance(key, (dict, list)):
        err("Spec.KeyType",
            f"{where} {raw!r} was read as {_describe(key)}; keys must be strings, quote it: \"{_show(raw)}\"",
            event)
    else:
        err("Spec.KeyType", f"{where} is {_describe(key)}; keys must be strings", event)


def _apply_merges(obj: dict[str, Any], merges: list[tuple[Any, Any]], err: _Report) -> dict[str, Any]:
    """YAML merge keys (``<<: *base``) as PyYAML applies them: explicit keys win, then
    later merge keys over earlier ones, then earlier list items over later ones."""
    combined: dict[str, Any] = {}
    for source, key_event in merges:
        if type(source) is dict:
            sources = [source]
        elif type(source) is list and all(type(item) is dict for item in source):
            sources = list(reversed(source))
        else:
            err("Spec.NotAMapping",
                f"the value of a merge key '<<' must be a mapping or a list of mappings, not {_describe(source)}",
                key_event)
            continue
        for item in sources:
            combined.update(item)
    if not combined:
        return obj
    combined.update(obj)
    return combined
