"""Where things are in a YAML spec file: a light line map, built from the event stream only when
an error needs a line the loader did not record."""

from __future__ import annotations

from typing import Any, TypeAlias

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

from reconciler.source.limits import MAX_DEPTH
from reconciler.source.lines import _mark_liner
from reconciler.source.locate import SpecPath
from reconciler.source.yaml_events import _Loader as _DEFAULT_LOADER
from reconciler.source.yaml_scalars import _MERGE, _NOKEY

#: A node of the map: a mapping's {key: entry}, a sequence's [entry], None for a scalar.
_Node: TypeAlias = "dict[Any, _Entry] | list[_Entry] | None"
#: A node and the line that wrote it (a mapping entry's key, a sequence item).
_Entry: TypeAlias = "tuple[int | None, _Node]"


class _YamlLocator:
    """A light line map of one YAML file: mapping -> {key: (line, child)}, sequence ->
    [(line, child)], scalar -> None. Built once, on first use, from the event stream."""

    def __init__(self, text: str, loader: Any = None) -> None:
        self.root = self._build(text, loader or _DEFAULT_LOADER)

    @staticmethod
    def _build(text: str, loader_class: Any) -> _Entry | None:
        mark_line = _mark_liner(text)
        loader = loader_class(text)
        try:
            get_event = loader.get_event
            stack: list[tuple[Any, ...]] = []
            node: Any = None
            is_map = False
            key: Any = _NOKEY
            key_line: int | None = None
            merges: list[_Node] | None = None
            anchor: str | None = None
            start_line: int | None = None
            anchors: dict[str, _Node] = {}
            root: _Entry | None = None
            line: int | None
            child: _Node
            while True:
                event = get_event()
                etype = type(event)
                if etype is ScalarEvent:
                    child = None
                    line = mark_line(event.start_mark)
                    value: Any = event.value
                    if (is_map and key is _NOKEY and value == "<<" and event.tag is None
                            and event.implicit[0]):
                        value = _MERGE
                    if event.anchor is not None:
                        anchors[event.anchor] = None
                elif etype is MappingStartEvent or etype is SequenceStartEvent:
                    if len(stack) >= MAX_DEPTH:  # not what was loaded: give up
                        return None
                    stack.append((node, is_map, key, key_line, merges, anchor, start_line))
                    node, is_map = ({}, True) if etype is MappingStartEvent else ([], False)
                    key, key_line, merges = _NOKEY, None, None
                    anchor = event.anchor
                    start_line = mark_line(event.start_mark)
                    continue
                elif etype is MappingEndEvent or etype is SequenceEndEvent:
                    child = node
                    if merges:
                        for source in merges:
                            for item in (source if isinstance(source, list) else [source]):
                                if isinstance(item, tuple):
                                    item = item[1]
                                if isinstance(item, dict):
                                    for k, v in item.items():
                                        node.setdefault(k, v)  # (node is child: merges come in mappings only)
                    if anchor is not None:
                        anchors[anchor] = child
                    line = start_line
                    node, is_map, key, key_line, merges, anchor, start_line = stack.pop()
                    value = _NOKEY
                elif etype is AliasEvent:
                    child = anchors.get(event.anchor)
                    line = mark_line(event.start_mark)
                    value = _NOKEY
                elif etype is StreamEndEvent:
                    break
                elif etype is DocumentStartEvent and root is not None:
                    break
                else:
                    continue
                if node is None:
                    root = (line, child)
                elif is_map:
                    if key is _NOKEY:
                        key, key_line = (value if value is not _NOKEY else _NOKEY_COLLECTION), line
                    else:
                        if key is _MERGE:
                            if merges is None:
                                merges = []
                            merges.append(child)
                        else:
                            try:
                                node[key] = (key_line, child)
                            except TypeError:
                                pass
                        key = _NOKEY
                else:
                    node.append((line, child))
            return root
        finally:
            loader.dispose()

    def locate(self, path: SpecPath) -> int | None:
        if self.root is None:
            return None
        line, node = self.root
        found = None
        for element in path:
            if type(node) is dict:
                try:
                    entry = node.get(element)
                except TypeError:
                    break
            elif type(node) is list and type(element) is int and 0 <= element < len(node):
                entry = node[element]
            else:
                break
            if entry is None:
                break
            line, node = entry
            found = line
        return found


_NOKEY_COLLECTION = object()  # a mapping or sequence used as a key: never matches a path
