"""A fast path for plain YAML spec files: yaml-rs (a parser in Rust) reads the file, and its result
is kept only when it is exactly what the event-stream loader (``source_yaml``) would build;
anything else goes to that loader, which also makes every error message.

The two read different YAML: the loader reads YAML 1.1 as PyYAML does (``yes``/``off`` are
booleans, ``012`` is octal, ``1:30`` is 90, ``2024-01-01`` a date), yaml-rs mostly YAML 1.2. So
the fast path takes a file only when

* its text uses nothing where the two differ or where the loader enforces a rule: ASCII only; no
  control character but the line feed (no tab, CR or NEL); no escape (``\\``), directive or
  document marker (``%``, ``---``, ``...``); outside lines that hold only a comment, no anchor,
  alias, tag or merge key (``& * ! <<``), block scalar (``| >``), complex key (``?``), ``@`` or
  backquote, no colon followed by anything but a space unless between word characters
  (``a:b``), and no scalar that starts with ``0`` and a digit or letter, or with ``_``, or with
  digits and ``_`` (integers the two read differently, or that the loader refuses as YAML 1.1 and
  1.2 read them differently: ``012``, ``0o12``, ``_1``, ``1_6``); no line longer than 1,000 characters
  (libyaml's limit on a key; it also bounds how deep yaml-rs recurses: it crashes the process
  on nesting some 10,000 levels deep);
* the result holds only mappings whose keys are letters, digits and ``_ . / -`` (not starting
  with ``. / -``), sequences, strings, integers, booleans and nulls (no float: ``1e3`` is a
  string in YAML 1.1), nests at most ``MAX_DEPTH`` levels, and has no string, key or value, that
  YAML 1.1 would read as another type (quoted or not: the loader decides), but for the empty
  string, which yaml-rs reads only from quotes;
* the lines of the first two levels, which the loader records while reading, can be read off
  the text: every line at the left margin holds the next kind (``pools:``), every line at the
  first indentation under a kind the next name of that kind, in the same order as the data, or
  the kind's names are all in a flow mapping that its line alone holds whole.

Deeper lines are resolved only when an error needs one, as for every file (``source_yaml_lines``).
Without yaml-rs (not installed, or not CPython) every file goes to the loader.
"""

from __future__ import annotations

import os
import re
from typing import Any, Container

# yaml-rs allocates through its own mimalloc, which keeps freed memory for later use unless told
# to give it back at once (read when the library loads): else what it took for large specs stays
# taken for the whole run
_PURGE = "MIMALLOC_PURGE_DELAY"
_SET_PURGE = _PURGE not in os.environ
if _SET_PURGE:
    os.environ[_PURGE] = "0"
try:
    import yaml_rs
except ImportError:  # pragma: no cover - an optional speed-up
    yaml_rs = None  # type: ignore[assignment]  # an optional module: None when it cannot be had
finally:
    if _SET_PURGE:  # not passed on to child processes
        os.environ.pop(_PURGE, None)

from reconciler.source.limits import MAX_DEPTH
from reconciler.source.merge import _Parsed
from reconciler.source.yaml_scalars import _IMPLICIT

#: Longest line the fast path reads (libyaml refuses keys over 1,024 characters).
MAX_LINE = 1000

_MARKS = ("&", "*", "!", "<<", "|", ">", "?", "@", "`")
# a line holding only a comment (or, inside a quoted scalar over several lines, text where none
# of _MARKS means anything; the backslash, which does, is looked for in the whole text)
_COMMENT_LINE = re.compile(r"^ *#[^\n]*", re.M)
_STARTS = ("---", "...", "%")
_LINE_START = re.compile(rb"\n(?:---|\.\.\.|%)")  # one of _STARTS at the start of a line but the first
_PRINTABLE = bytes([10, *range(32, 127)])  # the line feed and printable ASCII
# integers the two read differently start with 0 and a digit or letter (012, 0o12, 0x1A) or
# with _ and a digit (_1): found by these, then checked for being at the start of a scalar
_ZERO = re.compile(r"0[0-9A-Za-z_]")
_UNDERSCORE = re.compile(r"_[0-9_]")
# a digit then an underscore (1_6, 1_000: integers to YAML 1.1 and yaml-rs, strings to YAML 1.2, which
# the loader refuses): found by this, then walked back over digits and underscores to a scalar start
_DIGIT_UNDERSCORE = re.compile(r"[0-9]_")
_DIGITS_UNDERSCORES = frozenset("0123456789_")
_SCALAR_START = frozenset(" \n[{,:?")
# a colon not followed by a space, where libyaml and yaml-rs differ in flow collections ([a:],
# [:b], {::}) unless it sits between two word characters (a:b, 10:20)
_TIGHT_COLON = re.compile(r":[^ \n]")
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-")
# the keys taken: names and fields as specs write them (a key folded from several lines, which
# libyaml refuses and yaml-rs reads, holds a space)
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")
# a block mapping key on its own line: ``name:`` then nothing, a comment or a value
_KEY_LINE = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_./-]*):(?: +(.*))?")


def parse_yaml_fast(text: str) -> _Parsed | None:
    """The file's content as the loader would read it, or None to let the loader read it."""
    if yaml_rs is None:
        return None
    try:
        if not _plain_text(text):
            return None
        lines = text.split("\n")
        if max(map(len, lines)) > MAX_LINE:
            return None
        root = yaml_rs.loads(text, parse_datetime=False)
        if type(root) is not dict or not root or not _plain_data(root):
            return None
        return _first_two_levels(lines, root)
    except Exception:  # whatever went wrong, the loader reads the file and says what it is
        return None


def _plain_text(text: str) -> bool:
    if not text.isascii():
        return False
    data = text.encode("ascii")  # (scans of bytes: several times quicker on text with a line feed every few characters)
    if data.translate(None, _PRINTABLE):
        return False  # printable ASCII and line feeds only: nothing is left once they are taken out
    if "\\" in text or text.startswith(_STARTS) or _LINE_START.search(data):
        return False
    return _plain_marks(text) or _plain_marks(_COMMENT_LINE.sub("", text))


def _plain_marks(text: str) -> bool:
    for mark in _MARKS:
        if mark[0] in text and mark in text:  # (a two-character search is slow; "<" alone is quick and rare)
            return False
    for pattern in (_ZERO, _UNDERSCORE):
        for match in pattern.finditer(text):
            if _starts_scalar(text, match.start(), "_"):
                return False
    for match in _DIGIT_UNDERSCORE.finditer(text):
        if _starts_scalar(text, match.start(), _DIGITS_UNDERSCORES):
            return False
    for match in _TIGHT_COLON.finditer(text):
        i = match.start()
        if not i or text[i - 1] not in _WORD or text[i + 1] not in _WORD:
            return False
    return True


def _typed(text: str) -> bool:
    """Whether YAML 1.1 reads ``text``, as a plain scalar, as something other than a string."""
    resolvers = _IMPLICIT.get(text[:1])
    if resolvers is not None:
        for _, regexp in resolvers:
            if regexp.match(text):
                return True
    return False


def _plain_data(root: dict[str, Any]) -> bool:
    implicit = _IMPLICIT
    plain_key = _PLAIN_KEY.fullmatch
    keys: set[str] = set()  # the keys checked already
    stack: list[tuple[Any, int]] = [(root, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if depth > MAX_DEPTH:
            return False
        if type(node) is dict:
            for key in node:
                if key not in keys:
                    if type(key) is not str or not plain_key(key) or (key[:1] in implicit and _typed(key)):
                        return False
                    keys.add(key)
            values = node.values()
        else:
            values = node
        for value in values:
            kind = type(value)
            if kind is str:
                if value and value[:1] in implicit and _typed(value):
                    return False
            elif kind is dict or kind is list:
                push((value, depth + 1))
            elif kind is not int and kind is not bool and value is not None:
                return False  # floats, dates, anything else
    return True


def _first_two_levels(lines: list[str], root: dict[str, Any]) -> _Parsed | None:
    """The lines of the kinds and of the names under each kind, as the loader records them."""
    kinds = list(root)
    kind_lines: dict[str, int] = {}
    name_lines: dict[str, dict[str, int]] = {}
    next_kind = 0
    kind: Any = None
    names: list[str] = []  # the names still to be found under the current kind
    found: dict[str, int] = {}
    wanted = False  # whether the current kind's value is a mapping (its names are recorded)
    indent: int | None = None  # the indentation of the current kind's names
    skip = "\n"  # lines starting with this need no look (deeper ones); no line starts with "\n"
    for number, line in enumerate(lines, 1):
        if not line or line.startswith(skip):
            continue
        if line[0] == " ":
            content = line.lstrip(" ")
            if not content or content[0] == "#":
                continue
            if kind is None:
                return None
            if not wanted:
                skip = " "  # a value that is not a mapping: no names to record
                continue
            depth = len(line) - len(content)
            if indent is None:
                if not names:
                    return None  # a flow mapping that goes on past its kind's line
                indent = depth
                skip = " " * (depth + 1)  # inside a name's value
            match = _KEY_LINE.fullmatch(content)
            if depth < indent or match is None or not names or match.group(1) != names[-1]:
                return None
            found[names.pop()] = number
            continue
        if line[0] == "#":
            continue
        if names:
            return None  # names of the previous kind not found
        match = _KEY_LINE.fullmatch(line)
        if match is None or next_kind >= len(kinds) or match.group(1) != kinds[next_kind]:
            return None
        kind = kinds[next_kind]
        next_kind += 1
        kind_lines[kind] = number
        value = root[kind]
        wanted = type(value) is dict
        indent = None
        skip = "\n"
        if wanted:
            found = name_lines[kind] = {}
            rest = match.group(2)
            if rest and rest[0] != "#":  # inline: a flow mapping, which must end on this line
                if rest[0] != "{" or yaml_rs.loads(line, parse_datetime=False) != {kind: value}:
                    return None
                for name in value:
                    found[name] = number
                names = []
            else:
                names = list(reversed(value))
                if not names:
                    return None  # an empty block mapping is not possible: let the loader see
    if names or next_kind != len(kinds):
        return None
    return _Parsed(root, kind_lines[kinds[0]], kind_lines, name_lines)


def _starts_scalar(text: str, i: int, skip: Container[str]) -> bool:
    """Whether the match at ``i``, once the characters of ``skip`` and a sign before it are passed
    over, begins a scalar (the text's start, or a character after which a plain scalar begins)."""
    while i and text[i - 1] in skip:
        i -= 1
    if i and text[i - 1] in "+-":
        i -= 1
    return not i or text[i - 1] in _SCALAR_START
