"""Limits on what the spec loader reads: which files, how large, how deep, how many aliases."""

from __future__ import annotations

SPEC_SUFFIXES = (".yaml", ".yml", ".json")
#: Files larger than this are refused without being read.
MAX_FILE_BYTES = 32 * 1024 * 1024
#: Deepest nesting of mappings and sequences (the file's top-level mapping is level 1).
MAX_DEPTH = 32
#: Most YAML alias uses (``*name``, including those under merge keys ``<<``) in one file.
MAX_ALIASES = 100
#: Most nodes that alias uses may add to one file once expanded (stops "billion laughs").
MAX_ALIAS_NODES = 100_000
