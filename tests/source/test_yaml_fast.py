"""Tests for reconciler.source.yaml_fast: the yaml-rs fast path gives exactly what the event-stream
loader (reconciler.source.yaml_events) gives, data (types and order), root line and the recorded lines of
the first two levels, or declines and leaves the file to the loader.

``IPAM_FUZZ_EXAMPLES`` raises the number of generated documents (and makes the run random), as in
tests/test_fuzz.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reconciler.source import loader as source
from reconciler.source import yaml_events as source_yaml
from reconciler.source import yaml_fast as source_yaml_fast
from reconciler.source.yaml_fast import parse_yaml_fast

pytestmark = pytest.mark.skipif(source_yaml_fast.yaml_rs is None, reason="yaml-rs not installed")

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "bad_specs"
_LONG = os.environ.get("IPAM_FUZZ_EXAMPLES")
EXAMPLES = int(_LONG) if _LONG else 300


def loader_reads(text: str):
    errors: list = []
    parsed = source_yaml._parse_yaml(text, "specs/a.yaml", errors)
    return parsed, errors


def summary(parsed) -> tuple:
    return (repr(parsed.root), parsed.root_line, parsed.kind_lines, parsed.name_lines)


def same_as_loader(text: str) -> bool:
    """Whether the fast path took ``text``; when it did, it read what the loader reads."""
    fast = parse_yaml_fast(text)
    if fast is None:
        return False
    slow, errors = loader_reads(text)
    assert not errors, f"fast path read what the loader refuses: {[str(e) for e in errors]}\n{text!r}"
    assert summary(fast) == summary(slow), text
    return True


SPEC = """\
# the example's shape: kinds at the margin, names one level in, fields below (`& *! | > ? @ 012)
ipam: {name: corp, region: cn-hangzhou, operating_regions: [cn-hangzhou, cn-shanghai]}
scopes:
  private: {type: private}

pools:
  root: {scope: private, ip_version: IPv4, cidrs: [10.0.0.0/8]}
  hz:   # a comment
    source: root
    region: cn-hangzhou
    description: "quoted: with a colon, and 'single' quotes"
    note: 'it''s'
    cidrs:
      - 10.0.0.0/11
      - {mask: 17}
    tags: {env: prod, team: {name: net}, empty: "", none: ~, flag: true, n: -12}
  v6.x-y_z:
    cidrs:
    - {mask: 56}
    allocation: {min_mask: 48, default_mask: 56, max_mask: 64}
import: {vpc.legacy: vpc-2ze3e4, vsw.a: vsw-01}
empty: {}
nothing:
"""


def test_takes_a_plain_spec_and_reads_what_the_loader_reads():
    assert same_as_loader(SPEC)
    fast = parse_yaml_fast(SPEC)
    assert fast.kind_lines == {"ipam": 2, "scopes": 3, "pools": 6, "import": 21, "empty": 22, "nothing": 23}
    assert fast.name_lines["pools"] == {"root": 7, "hz": 8, "v6.x-y_z": 17}
    assert fast.name_lines["import"] == {"vpc.legacy": 21, "vsw.a": 21}
    assert fast.root_line == 2


def test_takes_the_benchmark_and_example_specs():
    files = sorted((REPO / "specs").rglob("*.yaml"))
    assert files
    for path in files:
        assert same_as_loader(path.read_text(encoding="utf-8")), path


# each line is added to the plain spec; YAML 1.1 (the loader) and yaml-rs read every one of these
# differently, or the loader checks a rule on it: the fast path must decline them all
DECLINED = [
    "x: yes", "x: No", "x: on", "x: OFF", "x: 'yes'", "yes: 1", "on: 1", "x: {y: off}",
    "x: 012", "x: 09", "x: 0o12", "x: 0x1A", "x: 0X1A", "x: 0b11", "x: -012", "x: [1, 012]", "x: {a: +0o7}",
    "x: _1", "x: __1", "x: -_1", "x: _1_", "x: 1:30", "x: 190:20:30", "x: -1:30",
    "x: 1e3", "x: 1.0e5", "x: .5e3", "x: +.5", "x: 1.5", "x: .inf", "x: .NaN",
    "x: 2024-01-02", "x: 2001-12-14t21:59:43.10-05:00", "x: '2024-01-02'",
    "x: '~'", "x: 'null'", "x: '1'", "1: a", "x: {1: a}", "null: a", "~: a", "x: {null: 1}",
    "x: &a 1", "y: *a", "x: {<<: {a: 1}}", "x: !!str 1", "x: !foo 1",
    "x: 'a\\tb'", "x: \"a\\u0041\"", "x: |\n  text", "x: >\n  text", "? x\n: y",
    "---", "...", "%YAML 1.1", "x: é", "x: a\tb", "x:\ta", "x: \x85", "x: a\rb",
    "x: `a`", "x: @a", "x: " + "a" * 1001, "x: 'a\n  # \\t'", "x: \"a\n  # \\t\"",
    "x: 1\nx: 2", "pools: {}",
    # issue 17: integers with underscores, which yaml-rs reads as YAML 1.1 does and the loader refuses
    "x: 1_6", "x: 1_000", "x: [1, 2_0]", "x: {a: -1_0}", "x: +1_2", "x: 0_1",
]


@pytest.mark.parametrize("line", DECLINED)
def test_declines_what_the_two_read_differently(line):
    text = SPEC + line + "\n"
    assert parse_yaml_fast(text) is None
    same_as_loader(text)


@pytest.mark.parametrize("text", [
    "x:\n  a: 1\n  b: {c: 2,\n    d: 3}\n",            # a flow mapping over two lines, deeper
    "x: {a: 1,\n  b: 2}\n",                           # names over two lines: not recorded by line
    "x:\n  a: 1\n   b: 2\n",                           # not a mapping's keys
    "x:\n    a: 1\n  b: 2\n",
    "x:\n  a:\n  - 1\n  b: 2\n",
    "x:\n- a\n- b\n",
    "x: [a,\n  b]\ny: {}\n",
    "x:\n  'a': 1\n",
    "x:\n  \"a\": 1\n",
    "x:\n  a b: 1\n",
    "x:\n  a : 1\n",
    "  x: 1\n",
    "x: 1\n  y\n",
    "x: a\n  b\n",
    "x: \"a\n  b\"\n",
    "x: \"a\nb\"\n",
    "x: 'a\n\n  b'\n",
    "x:\n  a: \"b\n  c: d\"\n",
    "x: a #b\ny: c#d\n",
    "x: [a, b, ]\n",
    "x: {a, b}\n",
    "x: {a: }\n",
    "x: [a: 1]\n",
    "x: a: b\n",
    "x:\n  a: b: c\n",
    "x: - a\n",
    "x: [\n",
    "x: }\n",
    "x: \"\n",
    "- a\n",
    "[a]\n",
    "a\n",
    "# only a comment\n",
    "",
    "x: {}\n\n\n",
    "pools: {a: 'a\n# & c', b: a}\n",
    "pools: {a: 'a\n\n  ', b: a}\n",
    "pools: {a: 'b: x\n', b: 1}\n",
    "pools:\n  a: 'x\n  b: 1'\n",
    "pools:\n  a: 'x\n#\n  b: 1'\n  b: 2\n",
    "pools:\n  a: 'x\nvpcs: y'\nvpcs: {}\n",
    "x: ~\ny: null\nz:\nw: ''\nv: =\nu: 1_000\nt: [True, FALSE, -0, +7, 1_2_]\n",
    "x:\n  a: 1\n# c\n  b: 2\n",
    "x:\n  a: 1\n\n  b: 2\n",
    "x:\n  a:\n    b:\n      c: [1, {d: e}]\n",
    "x: " + "[" * 40 + "]" * 40 + "\n",
    "x:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 40)),
])
def test_reads_what_the_loader_reads_or_declines(text):
    same_as_loader(text)


def test_bad_spec_corpus():
    texts = [p.read_text(encoding="utf-8", errors="surrogateescape") for p in sorted(CORPUS.rglob("*.y*ml"))
             if p.is_file() and not p.is_symlink()]
    assert len(texts) > 100
    taken = sum(same_as_loader(text) for text in texts)
    assert taken > 20  # many are refused later, by validation, and read fast


def test_deep_nesting_never_reaches_yaml_rs():
    """yaml-rs recurses: a file nested deeply enough crashes the process (it is tried here in
    another one). Lines of at most MAX_LINE characters bound the nesting far below that."""
    deep = "- " * 20000 + "x\n"
    assert parse_yaml_fast(deep) is None
    script = ("import sys, yaml_rs\n"
              "yaml_rs.loads(sys.stdin.read(), parse_datetime=False)\n")
    crash = subprocess.run([sys.executable, "-c", script], input=deep, text=True, capture_output=True)
    if crash.returncode >= 0:  # pragma: no cover - a yaml-rs that no longer recurses
        pytest.skip("yaml-rs reads deep nesting without crashing now")
    wide = "".join(" " * i + "- \n" for i in range(0, source_yaml_fast.MAX_LINE, 1)) + "x\n"
    ok = subprocess.run([sys.executable, "-c", script], input=wide, text=True, capture_output=True)
    assert ok.returncode >= 0, ok.stderr


# --------------------------------------------------------------------------------------------
# generated documents: spec-shaped, with tricky scalars, comments, styles and mutations

SCALARS = [
    "a", "x1", "hz-trade", "10.0.0.0/8", "vsw-01", "a b", "a #c", "a#b", "-1", "+1", "0", "7", "12", "1_000",
    "yes", "No", "on", "off", "true", "False", "TRUE", "null", "Null", "~", "", "012", "0o12", "0x1A", "0b11",
    "_1", "1:30", "1e3", "1.5", ".inf", "2024-01-02", "'yes'", '"012"', "'a b'", '"a: b"', "'it''s'", '"a\\"b"',
    "[1, 2]", "[]", "{}", "{a: 1}", "{a: [b, {c: d}]}", "[a, {b: c}]", "<<", "&x 1", "*x", "!!str 1", "=",
    "é", "a\tb", "@a", "`a`", "? a", "- a", "a: b", "a,b", "[a", "a]", "{a", "'", '"', "%", "|", ">-",
    "'a\n  b'", '"a\n\n    b "', "a\n    b", "'a\n# & c'", '"a\n  # \\t"', "[a,\n  b]", "{a: 1,\nb: 2}",
]
# what specs hold, so that most documents are read by the fast path (and mutations of them probe
# its edges)
BENIGN = ["a", "x1", "hz-trade", "10.0.0.0/8", "2408:4000::/32", "vsw-01", "a b", "a:b", "-1", "7", "1_000", "true",
          "False", "~", "null", "'a b'", '"a: b, [c]"', "'it''s'", "[1, 2]", "[]", "{}", "{a: 1}", "{a: [b, {c: d}]}",
          "[a, {b: c}]", "{mask: 16}", "a #c", "'a\n  b'", "a\n    b", "[a,\n    b]", "{a: 1,\n    b: 2}", '""']
BENIGN_KEYS = ["a", "b", "c", "source", "cidrs", "x-y", "x.y", "a_b", "v6"]
KEYS = ["a", "b", "c", "pools", "vpcs", "x-y", "x.y", "a_b", "1", "yes", "on", "null", "~", "'q'", '"k"', "_a",
        "a b", "a:b", "<<"]
KINDS = ["pools", "vpcs", "ipam", "scopes", "import", "x", "yes", "1"]


@st.composite
def documents(draw) -> str:
    lines: list[str] = []
    tricky = draw(st.booleans())
    scalars, keys = (SCALARS, KEYS) if tricky else (BENIGN, BENIGN_KEYS)
    indent = draw(st.sampled_from(["  ", "  ", " ", "    ", "   "]))

    def comment():
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(["", "# c", indent + "# c", "  ", "#"])))

    def fields(depth: int) -> None:
        for _ in range(draw(st.integers(0, 3))):
            comment()
            pad = indent * depth
            key = draw(st.sampled_from(keys))
            style = draw(st.integers(0, 4))
            if style == 0 and depth < 5:
                lines.append(f"{pad}{key}:")
                fields(depth + 1)
            elif style == 1:
                lines.append(f"{pad}{key}:")
                seq_pad = draw(st.sampled_from([pad, pad + indent]))
                for _ in range(draw(st.integers(1, 3))):
                    lines.append(f"{seq_pad}- {draw(st.sampled_from(scalars))}")
            else:
                lines.append(f"{pad}{key}: {draw(st.sampled_from(scalars))}")

    for _ in range(draw(st.integers(1, 4))):
        comment()
        kind = draw(st.sampled_from(KINDS))
        if draw(st.booleans()):
            names = draw(st.lists(st.sampled_from(keys), max_size=3))
            body = ", ".join(f"{n}: {draw(st.sampled_from(scalars))}" for n in names)
            lines.append(f"{kind}: {{{body}}}" + draw(st.sampled_from(["", " # c", "  "])))
        else:
            lines.append(f"{kind}:" + draw(st.sampled_from(["", " # c", " "])))
            for _ in range(draw(st.integers(0, 3))):
                comment()
                name = draw(st.sampled_from(keys))
                if draw(st.booleans()):
                    lines.append(f"{indent}{name}: {draw(st.sampled_from(scalars))}")
                else:
                    lines.append(f"{indent}{name}:")
                    fields(2)
    text = "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))
    for _ in range(draw(st.integers(0, 3))):  # mutations
        if not text:
            break
        at = draw(st.integers(0, len(text) - 1))
        what = draw(st.integers(0, 2))
        if what == 0:
            text = text[:at] + text[at + 1:]
        else:
            char = draw(st.sampled_from(list(" :-{}[],#'\"\n0_1ya")))
            text = text[:at] + char + text[at + (what == 2):]
    return text


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not _LONG, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(text=documents())
def test_generated_documents(text):
    event("fast" if same_as_loader(text) else "declined")


# tokens as in tests/test_fuzz.py (YAMLISH), and what specs hold, joined at random
TOKENS = [
    "pools", "ipam", "vpcs", "a", "b", "yes", "1", "~", "null", "<<", "=", "é", ":", ": ", "- ", "? ", "\n",
    "\n  ", "\n    ", "  ", " ", "\t", "{", "}", "[", "]", ", ", "&x ", "*x", "!!str ", "'q'", "'", '"', "#c",
    "---\n", "|\n", "0x1f", "2024-01-02", "1e3", "\\", "10.0.0.0/8", "{mask: 16}", "source", "7", "0", "_",
    "a:b", "hz-prod", "\n#", "\n\n", "1_6", "020", "1:30", "on",
]


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not _LONG, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(tokens=st.lists(st.sampled_from(TOKENS), max_size=50))
def test_token_soup(tokens):
    event("fast" if same_as_loader("".join(tokens)) else "declined")


def test_load_specs_uses_it_and_locates_lazily(tmp_path, monkeypatch):
    specs = tmp_path / "ws" / "specs"
    specs.mkdir(parents=True)
    (specs / "a.yaml").write_text(SPEC.replace("nothing:\n", ""), encoding="utf-8")
    taken = []
    real = source.parse_yaml_fast
    monkeypatch.setattr(source, "parse_yaml_fast", lambda text: taken.append(1) or real(text))
    doc = source.load_specs(specs)
    assert taken == [1]
    assert doc.locate(("pools", "hz")) == ("specs/a.yaml", 8)
    assert doc.locate(("pools", "hz", "cidrs", 1)) == ("specs/a.yaml", 15)
    assert doc.locate(("pools", "hz", "tags", "team", "name")) == ("specs/a.yaml", 16)


def test_allocator_setting_is_not_passed_on():
    """The mimalloc purge setting is for yaml-rs as it loads, not for the CLI's child processes."""
    if not source_yaml_fast._SET_PURGE:
        pytest.skip("MIMALLOC_PURGE_DELAY set by the caller")
    assert source_yaml_fast._PURGE not in os.environ
