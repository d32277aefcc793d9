"""Reading a state snapshot's JSON without the parser's whole-document buffer.

orjson (yyjson underneath) parses a document into a buffer sized from the input before it builds
the Python objects: for a large snapshot that buffer is several times the size of the result
(docs/performance.md). :func:`load_document` parses the resources a piece of about 64 KB at a time
instead (cut before a resource's key; the snapshot is written one resource per block,
:meth:`reconciler.states.state.State.to_json_bytes`), so the buffer is that of one piece. Anything not laid out as written -- edited by hand, damaged, another writer --
falls back to one ``orjson.loads`` of the whole, which also reports the errors; so the result is
always exactly what ``orjson.loads(data)`` gives.

:func:`resources_checksum` hashes the canonical form of the resources a chunk at a time instead of
serialising all of them into one bytes object first.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

_OPEN = b'\n  "resources": {'  # the resources object of a snapshot as written (indent 2, sorted keys)
_CLOSE = b"\n  }"  # its end: the last line of exactly two spaces and a brace
_NEXT = b',\n    "'  # a structural comma (a raw newline is never inside a JSON string) before the next key
_PIECE = 1 << 16  # bytes of resources parsed at once (their buffer is about 15 times that)
_CHUNK = 2000  # resources serialised at once by resources_checksum


def load_document(data: bytes) -> Any:
    """``orjson.loads(data)``, resource by resource when the layout allows (see the module doc)."""
    try:
        doc = _load_by_resource(data)
    except (orjson.JSONDecodeError, ValueError):
        doc = None
    return doc if doc is not None else orjson.loads(data)


def _load_by_resource(data: bytes) -> dict | None:
    start = data.find(_OPEN)
    end = data.rfind(_CLOSE)
    if start < 0 or end < start + len(_OPEN) or data.find(_OPEN, start + 1) >= 0:
        return None
    head = orjson.loads(data[:start + len(_OPEN)] + b"}" + data[end + len(_CLOSE):])
    if not isinstance(head, dict) or head.get("resources") != {}:
        return None
    resources: dict = {}
    pos, stop = start + len(_OPEN), end
    while pos < stop:
        cut = data.find(_NEXT, min(pos + _PIECE, stop))
        cut = stop if cut < 0 or cut > stop else cut
        # every piece is a list of members: then "{" + the pieces joined by "," + "}" is exactly the
        # text of the resources object, and their members are exactly its members (a later duplicate
        # wins in both)
        part = orjson.loads(b"{" + data[pos:cut] + b"}")
        if not isinstance(part, dict) or not part:
            return None
        resources.update(part)
        pos = cut + 1  # after the comma
    if pos != stop + 1 and stop > start + len(_OPEN):
        return None
    head["resources"] = resources
    return head


def resources_checksum(resources: dict) -> str:
    """sha256 hex of ``canonical_bytes(resources)`` (compact, keys sorted at every level)."""
    digest = hashlib.sha256(b"{")
    keys = sorted(resources)  # code point order: orjson's OPT_SORT_KEYS order (UTF-8 byte order)
    for i in range(0, len(keys), _CHUNK):
        chunk = orjson.dumps({k: resources[k] for k in keys[i:i + _CHUNK]}, option=orjson.OPT_SORT_KEYS)
        if i:
            digest.update(b",")
        digest.update(memoryview(chunk)[1:-1])
    digest.update(b"}")
    return digest.hexdigest()
