"""Tests for reconciler.source.loader: reading, merging and locating spec files."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import ErrorGroup, SpecError, flatten
from reconciler.source import loader as source
from reconciler.source.loader import MAX_ALIASES, MAX_DEPTH, SpecDocument, load_specs

# ------------------------------------------------------------------------------------------
# helpers


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    folder = tmp_path / "ws" / "specs"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(params=["libyaml", "python"])
def loader(request, monkeypatch):
    """Runs a test with libyaml's parser and again with PyYAML's pure-Python one."""
    if request.param == "python":
        monkeypatch.setattr(source, "_Loader", yaml.SafeLoader)
    elif not getattr(yaml, "__with_libyaml__", False):  # pragma: no cover
        pytest.skip("libyaml not available")
    return request.param


def write(folder: Path, rel: str, content: str | bytes) -> Path:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def errors_of(folder: Path, **kwargs) -> list[SpecError]:
    with pytest.raises((SpecError, ErrorGroup)) as info:
        load_specs(folder, **kwargs)
    errors = flatten(info.value)
    assert errors and all(isinstance(e, SpecError) for e in errors)
    return errors


def only_error(folder: Path, code: str) -> SpecError:
    errors = errors_of(folder)
    assert [e.code for e in errors] == [code], [str(e) for e in errors]
    return errors[0]


MAIN = """\
ipam: {name: corp, region: cn-hangzhou, operating_regions: [cn-hangzhou, cn-shanghai]}
scopes:
  private: {type: private}
pools:
  root: {scope: private, ip_version: IPv4, cidrs: [10.0.0.0/8]}
  hz:
    source: root
    region: cn-hangzhou
    cidrs:
      - 10.0.0.0/11
      - 10.32.0.0/11
    tags: {env: prod, team: {name: net}}
"""


# ------------------------------------------------------------------------------------------
# loading and merging


def test_loads_example(specs, loader):
    write(specs, "main.yaml", MAIN)
    doc = load_specs(specs)
    assert doc.files == ("specs/main.yaml",)
    assert doc.data == {
        "ipam": {"name": "corp", "region": "cn-hangzhou", "operating_regions": ["cn-hangzhou", "cn-shanghai"]},
        "scopes": {"private": {"type": "private"}},
        "pools": {
            "root": {"scope": "private", "ip_version": "IPv4", "cidrs": ["10.0.0.0/8"]},
            "hz": {
                "source": "root",
                "region": "cn-hangzhou",
                "cidrs": ["10.0.0.0/11", "10.32.0.0/11"],
                "tags": {"env": "prod", "team": {"name": "net"}},
            },
        },
    }
    assert doc.data == yaml.safe_load(MAIN)


def test_merges_kinds_across_files_in_sorted_order(specs):
    write(specs, "b.yml", "pools:\n  b1: {x: 1}\nvpcs:\n  v1: {cidr: 10.0.0.0/16}\n")
    write(specs, "a.yaml", "pools:\n  a1: {x: 1}\n  a2: {x: 2}\n")
    write(specs, "c.json", json.dumps({"pools": {"c1": {"x": 3}}, "provider": {"region": "cn-hangzhou"}}))
    write(specs, "a/z.yaml", "vswitches:\n  s1: {vpc: v1}\n")
    doc = load_specs(specs)
    # sorted by relative path with '/' separators: "a.yaml" < "a/z.yaml" < "b.yml" < "c.json"
    assert doc.files == ("specs/a.yaml", "specs/a/z.yaml", "specs/b.yml", "specs/c.json")
    assert list(doc.data) == ["pools", "vswitches", "vpcs", "provider"]
    assert list(doc.data["pools"]) == ["a1", "a2", "b1", "c1"]
    assert doc.data["provider"] == {"region": "cn-hangzhou"}
    assert doc.origin("pools", "b1") == "specs/b.yml"
    assert doc.origin("pools", "c1") == "specs/c.json"
    assert doc.origin("provider") == "specs/c.json"
    assert doc.origin("pools") == "specs/a.yaml"  # a named kind: its first file
    assert doc.origin("pools", "nope") is None
    assert doc.origin("nope") is None


def test_accepts_any_kind_name(specs):
    write(specs, "a.yaml", "security_groups:\n  web: {vpc: main}\nimport:\n  x: {id: vpc-1}\nfuture_thing: {}\n")
    doc = load_specs(specs)
    assert doc.data == {"security_groups": {"web": {"vpc": "main"}}, "import": {"x": {"id": "vpc-1"}}, "future_thing": {}}


def test_declaration_order(specs):
    write(specs, "a.yaml", "pools:\n  p2: {}\n  p1: {}\nipam: {name: x}\nvpcs:\n  v1: {}\n")
    write(specs, "b.yaml", "vpcs:\n  v0: {}\npools:\n  p0: {}\n")
    doc = load_specs(specs)
    order = [("pools", None), ("pools", "p2"), ("pools", "p1"), ("ipam", None), ("vpcs", None),
             ("vpcs", "v1"), ("vpcs", "v0"), ("pools", "p0")]
    assert [doc.order(k, n) for k, n in order] == list(range(len(order)))
    with pytest.raises(KeyError):
        doc.order("pools", "missing")
    with pytest.raises(KeyError):
        doc.order("nothing")


def test_empty_and_comment_only_files_contribute_nothing(specs, loader):
    write(specs, "empty.yaml", "")
    write(specs, "comments.yaml", "# nothing here\n   # still nothing\n")
    write(specs, "blank.json", "  \n")
    write(specs, "main.yaml", "pools:\n  a: {}\n")
    doc = load_specs(specs)
    assert doc.data == {"pools": {"a": {}}}
    assert "specs/empty.yaml" in doc.files


def test_skips_hidden_and_other_files(specs):
    write(specs, ".hidden.yaml", "pools: [broken")
    write(specs, ".git/config.yaml", "pools: [broken")
    write(specs, "README.md", "# docs")
    write(specs, "notes.txt", "pools: [")
    write(specs, "sub/deeper/x.YAML", "pools:\n  x: {}\n")
    doc = load_specs(specs)
    assert doc.files == ("specs/sub/deeper/x.YAML",)


def test_display_base(specs, tmp_path):
    write(specs, "a.yaml", "pools:\n  a: {}\n")
    assert load_specs(specs, display_base=tmp_path).files == ("ws/specs/a.yaml",)
    assert load_specs(str(specs), display_base=specs).files == ("a.yaml",)


def test_bom_is_accepted(specs):
    write(specs, "a.yaml", b"\xef\xbb\xbfpools:\n  a: {}\n")
    write(specs, "b.json", b'\xef\xbb\xbf{"vpcs": {"v": {}}}')
    assert load_specs(specs).data == {"pools": {"a": {}}, "vpcs": {"v": {}}}


def test_yaml_values_follow_safe_loader(specs, loader):
    text = (
        "pools:\n  p:\n    a: true\n    b: 0x1f\n    c: 1000\n    d: ~\n    e: 1.5\n    f: 2024-01-02\n"
        "    g: '010'\n    h: !!str 12\n    i: =\n    j: [True, FALSE, null, '', 'yes']\n    k: \n    l: .inf\n"
    )  # (yes, on, off and 1_000 were here: YAML 1.2 reads them otherwise, refused since issue 17)
    write(specs, "a.yaml", text)
    data = load_specs(specs).data
    expected = yaml.safe_load(text.replace("i: =", "i: '='"))
    assert data == expected


def test_anchors_and_merge_keys(specs, loader):
    text = """\
pools:
  defaults: &d {region: cn-hangzhou, tags: {env: prod}}
  a: {<<: *d, cidrs: [10.0.0.0/8]}
  b: {<<: [*d, {region: x, size: 4}], region: y}
  c:
    <<: *d
    <<: {region: z}
"""
    write(specs, "a.yaml", text)
    data = load_specs(specs).data
    # the merge-key type's rules (yaml.org/type/merge.html): the mapping's own keys win, then earlier
    # items of a merge list over later ones; a later '<<' key over an earlier one. Spelled out, not
    # compared with the installed PyYAML: 6.0.3 follows these rules, 6.0.4 lets later list items win.
    defaults = {"region": "cn-hangzhou", "tags": {"env": "prod"}}
    assert data == {"pools": {
        "defaults": defaults,
        "a": {**defaults, "cidrs": ["10.0.0.0/8"]},
        "b": {"region": "y", "size": 4, "tags": {"env": "prod"}},
        "c": {"region": "z", "tags": {"env": "prod"}},
    }}
    assert [list(v) for v in data["pools"].values()] == [
        ["region", "tags"], ["region", "tags", "cidrs"], ["region", "size", "tags"], ["region", "tags"]]
    write(specs, "a.yaml", "pools:\n  b: {<<: [{region: first}, {region: second, size: 4}]}\n")
    assert load_specs(specs).data == {"pools": {"b": {"region": "first", "size": 4}}}
    # aliases are copies: changing one place does not change another
    data["pools"]["a"]["tags"]["env"] = "dev"
    assert data["pools"]["defaults"]["tags"]["env"] == "prod"


def test_hand_built_document():
    doc = SpecDocument(data={"ipam": {"name": "x"}, "pools": {"a": {}, "b": {}}})
    assert [doc.order("ipam"), doc.order("pools"), doc.order("pools", "a"), doc.order("pools", "b")] == [0, 1, 2, 3]
    assert doc.origin("pools", "a") is None
    assert doc.locate(("pools", "a")) == (None, None)


# ------------------------------------------------------------------------------------------
# error codes


def test_no_files(tmp_path, specs):
    err = only_error(tmp_path / "ws" / "missing", "Spec.NoFiles")
    assert "specs" not in err.detail and "missing" in err.detail and "does not exist" in err.detail
    err = only_error(specs, "Spec.NoFiles")
    assert "specs" in err.detail
    write(specs, "README.md", "hi")
    write(specs, ".hidden.yaml", "a: 1")
    only_error(specs, "Spec.NoFiles")
    afile = write(specs, "file.txt", "x")
    assert "not a folder" in only_error(afile, "Spec.NoFiles").detail


def test_yaml_syntax_error_has_line(specs, loader):
    write(specs, "a.yaml", "pools:\n  a: {x: 1}\n  b: [unclosed\n  c: {}\n")
    err = only_error(specs, "Spec.Syntax")
    assert err.file == "specs/a.yaml" and err.line in (3, 4, 5)
    assert "YAML syntax error" in err.detail
    write(specs, "a.yaml", "pools:\n  a: b: c\n")
    err = only_error(specs, "Spec.Syntax")
    assert err.line == 2 and "mapping values are not allowed" in err.detail


def test_json_syntax_error_has_line(specs):
    write(specs, "a.json", '{\n  "pools": {\n    "a": {"x": 1,}\n  }\n}\n')
    err = only_error(specs, "Spec.Syntax")
    assert (err.file, err.line) == ("specs/a.json", 3)
    assert "JSON syntax error" in err.detail


def test_json_error_at_end_of_input_names_the_last_line(specs):
    """Not the line after the last one: where an editor shows the end of the input."""
    write(specs, "a.json", '{\n  "pools": {\n    "x": {"source": "root"}\n\n  \n')
    err = only_error(specs, "Spec.Syntax")
    assert (err.file, err.line) == ("specs/a.json", 3)
    assert "(column 28)" in err.detail
    for text, line in (("[\n", 1), ("[\r\n\r\n", 1), ('{"a":\r\r', 1), ('{"a": [1,\n 2', 2), ('{"a": "open\n', 1)):
        write(specs, "a.json", text)
        assert only_error(specs, "Spec.Syntax").line == line, text


def test_unclosed_things_are_reported_where_they_open(specs, loader):
    write(specs, "a.yaml", 'pools:\n  x:\n    source: root\n    description: "never closed\n    cidrs: [10.1.0.0/16]\n\n')
    err = only_error(specs, "Spec.Syntax")
    assert err.line == 4 and "quoted scalar" in err.detail
    write(specs, "a.yaml", "pools:\n  x: {a: 1}\n  y: [1, 2,\n\n\n")
    assert only_error(specs, "Spec.Syntax").line == 3
    write(specs, "a.yaml", "pools:\n  x: {source: root, cidrs: [10.1.0.0/16}\nvpcs: {}\n")
    assert only_error(specs, "Spec.Syntax").line == 2


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_unicode_line_separators_do_not_count_as_lines(specs, loader, separator):
    text = f'pools:\n  x:\n    description: "one{separator}two"\n    d2: "a{separator}{separator}b"\n    cidrs: [1]\n  x: {{}}\n'
    write(specs, "a.yaml", text)
    assert only_error(specs, "Spec.DuplicateKey").line == 6
    write(specs, "a.yaml", text.replace("  x: {}\n", ""))
    doc = load_specs(specs)
    assert doc.locate(("pools", "x", "cidrs", 0)) == ("specs/a.yaml", 5)
    write(specs, "b.json", f'{{"vpcs": {{"v": {{"d": "x{separator}y",\n "e": [1,\n 2]}}}}}}')
    doc = load_specs(specs)
    assert doc.locate(("vpcs", "v", "e", 1)) == ("specs/b.json", 3)


@pytest.mark.parametrize("newline", ["\r", "\r\n"])
def test_cr_and_crlf_line_endings(specs, loader, newline):
    text = newline.join(["pools:", "  x:", "    a: 1", "    l: [1,", "      2]", "  y: {}", "  x: {}", ""])
    write(specs, "a.yaml", text)
    assert only_error(specs, "Spec.DuplicateKey").line == 7
    write(specs, "a.yaml", text.replace("  x: {}" + newline, ""))
    doc = load_specs(specs)
    assert doc.locate(("pools", "y")) == ("specs/a.yaml", 6)
    assert doc.locate(("pools", "x", "l")) == ("specs/a.yaml", 4)
    write(specs, "b.json", newline.join(["{", '"vpcs": {', '"v": {"e": [1,', "2]}}}"]))
    doc = load_specs(specs)
    assert doc.locate(("vpcs", "v", "e", 1)) == ("specs/b.json", 4)
    write(specs, "b.json", newline.join(["{", '"vpcs": {', '"v": {"e": [1,', "2,]}}}"]))
    assert only_error(specs, "Spec.Syntax").line == 4


def test_huge_json_integer_has_a_line(specs):
    write(specs, "a.json", '{\n "pools": {\n  "x": {"source": "root",\n   "mask": ' + "9" * 5000 + "}}}\n")
    err = only_error(specs, "Spec.Syntax")
    assert err.line == 4 and "digits" in err.detail
    write(specs, "a.json", "")
    write(specs, "a.yaml", "pools:\n  x:\n    mask: " + "9" * 5000 + "\n")
    assert only_error(specs, "Spec.Syntax").line == 3


def test_messages_never_carry_unprintable_characters(specs):
    write(specs, "a.json", '{\n "pools": {\n  "\\ud800": 5,\n  "a\\u001b[2J": {"k": 1, "k": 2}\n }\n}\n')
    errors = errors_of(specs)
    assert [(e.code, e.line) for e in errors] == [("Spec.NotAMapping", 3), ("Spec.DuplicateKey", 4)]
    assert "\\ud800" in errors[0].detail
    for error in errors:
        error.message.encode("utf-8")  # no lone surrogates
        assert all(ch.isprintable() or ch == "\n" for ch in error.message)
    write(specs, "a.json", '{"pools": {"\\ud800": {}, "b\\u0007": {}}}')
    assert list(load_specs(specs).data["pools"]) == ["\ud800", "b\x07"]  # the data is kept as written


@pytest.mark.skipif(os.name != "posix", reason="needs byte file names")
def test_file_names_that_are_not_utf8(specs):
    name = os.fsencode(specs) + b"/bad-\xff.yaml"
    fd = os.open(name, os.O_WRONLY | os.O_CREAT)
    os.write(fd, b"pools: [")
    os.close(fd)
    err = only_error(specs, "Spec.Syntax")
    err.message.encode("utf-8")
    assert err.file.startswith("specs/bad-")


def test_control_character_is_a_syntax_error(specs, loader):
    write(specs, "a.yaml", "pools:\n  ä: {}\n  b: {x: \"\x01\"}\n")
    err = only_error(specs, "Spec.Syntax")
    assert err.line == 3 and "characters are not allowed" in err.detail


def test_encoding(specs):
    write(specs, "a.yaml", b"pools:\n  a: {}\n  b: {x: \"\xff\"}\n")
    err = only_error(specs, "Spec.Encoding")
    assert err.line == 3 and "UTF-8" in err.detail and "offset 25" in err.detail
    write(specs, "a.yaml", "pools: {}".encode("utf-16"))
    assert "UTF-16" in only_error(specs, "Spec.Encoding").detail


@pytest.mark.parametrize(
    "text, line",
    [
        ("pools:\n  a: {}\npools:\n  b: {}\n", 3),  # a kind twice in one file
        ("pools:\n  a: {}\n  b: {}\n  a: {}\n", 4),  # a name twice
        ("pools:\n  a:\n    x: 1\n    y: 2\n    x: 3\n", 5),  # a field twice
        ("pools:\n  a: {t: {k: 1, k: 2}}\n", 2),  # deeper, flow style
        ("pools:\n  a:\n    l:\n      - {k: 1,\n         k: 2}\n", 5),  # inside a list
    ],
)
def test_duplicate_key_yaml(specs, loader, text, line):
    write(specs, "a.yaml", text)
    err = only_error(specs, "Spec.DuplicateKey")
    assert (err.file, err.line) == ("specs/a.yaml", line)


def test_duplicate_key_json(specs):
    write(specs, "a.json", '{\n "pools": {\n  "a": {\n   "x": [{"k": 1,\n     "k": 2}],\n   "y": 1,\n   "y": 2\n  }\n }\n}\n')
    errors = errors_of(specs)
    assert [(e.code, e.line) for e in errors] == [("Spec.DuplicateKey", 5), ("Spec.DuplicateKey", 7)]
    assert "'k'" in errors[0].detail and "'y'" in errors[1].detail


def test_duplicate_name_across_files(specs):
    write(specs, "a.yaml", "pools:\n  root: {}\n  hz: {x: 1}\n")
    write(specs, "b.yaml", "vpcs:\n  v: {}\npools:\n  other: {}\n  hz: {x: 2}\n")
    err = only_error(specs, "Spec.DuplicateName")
    assert (err.file, err.line) == ("specs/b.yaml", 5)
    assert "specs/a.yaml:3" in err.detail and "specs/b.yaml:5" in err.detail and "hz" in err.detail


def test_duplicate_name_with_json(specs):
    write(specs, "a.json", '{\n  "pools": {\n    "hz": {}\n  }\n}\n')
    write(specs, "b.json", '{"pools": {},\n "ipam": {},\n "vpcs": {"v": {}}}\n')
    write(specs, "c.yaml", "pools:\n  hz: {}\nvpcs:\n  v: {}\n")
    errors = errors_of(specs)
    assert [(e.code, e.file, e.line) for e in errors] == [
        ("Spec.DuplicateName", "specs/c.yaml", 2),
        ("Spec.DuplicateName", "specs/c.yaml", 4),
    ]
    assert "specs/a.json:3" in errors[0].detail
    assert "specs/b.json:3" in errors[1].detail


def test_singleton_in_two_files(specs):
    write(specs, "a.yaml", "ipam: {name: one}\n")
    write(specs, "b.yaml", "pools: {}\nipam: {name: two}\n")
    err = only_error(specs, "Spec.DuplicateName")
    assert (err.file, err.line) == ("specs/b.yaml", 2)
    assert "specs/a.yaml:1" in err.detail and "specs/b.yaml:2" in err.detail


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("- a\n- b\n", 1, "top level"),
        ("just a string\n", 1, "top level"),
        ("pools: [a, b]\n", 1, "a sequence"),
        ("pools:\n", 1, "null"),
        ("ipam: corp\n", 1, "a string ('corp')"),
        ("pools:\n  a: {}\n  b: 5\n", 3, "an integer"),
        ("pools:\n  a:\n", 2, "null"),
        ("pools:\n  a: [x]\n", 2, "a sequence"),
    ],
)
def test_not_a_mapping(specs, text, line, words):
    write(specs, "a.yaml", text)
    err = only_error(specs, "Spec.NotAMapping")
    assert err.line == line and words in err.detail


def test_not_a_mapping_json(specs):
    write(specs, "a.json", '[1, 2]')
    assert "top level" in only_error(specs, "Spec.NotAMapping").detail
    write(specs, "a.json", '{\n "pools": {\n  "a": 1\n }\n}')
    assert only_error(specs, "Spec.NotAMapping").line == 3


def test_merge_key_needs_mappings(specs):
    write(specs, "a.yaml", "pools:\n  a: {<<: [1, 2], x: 1}\n")
    assert "merge key" in only_error(specs, "Spec.NotAMapping").detail


def test_too_large_is_not_read(specs, monkeypatch):
    big = specs / "big.yaml"
    with open(big, "wb") as handle:
        handle.truncate(32 * 1024 * 1024 + 1)  # sparse: nothing to read
    write(specs, "ok.yaml", "pools: {a: {}}\n")
    reads = []
    real_read = source._read_bytes
    monkeypatch.setattr(source, "_read_bytes", lambda p: reads.append(p) or real_read(p))
    start = time.perf_counter()
    err = only_error(specs, "Spec.TooLarge")
    assert time.perf_counter() - start < 1
    assert err.file == "specs/big.yaml" and "32 MiB" in err.detail
    exactly = specs / "big.yaml"
    with open(exactly, "r+b") as handle:
        handle.truncate(32 * 1024 * 1024)  # at the limit: read (and then fails as YAML)
    assert only_error(specs, "Spec.Syntax").file == "specs/big.yaml"


def test_alias_limit(specs, loader):
    write(specs, "a.yaml", "pools:\n  x: {v: &v 1, l: [" + ", ".join(["*v"] * MAX_ALIASES) + "]}\n")
    assert len(load_specs(specs).data["pools"]["x"]["l"]) == MAX_ALIASES
    write(specs, "a.yaml", "pools:\n  x: {v: &v 1, l: [" + ", ".join(["*v"] * (MAX_ALIASES + 1)) + "]}\n")
    err = only_error(specs, "Spec.AliasLimit")
    assert err.line == 2 and str(MAX_ALIASES) in err.detail


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_billion_laughs_fails_fast(specs, loader):
    write(specs, "bomb.yaml", BILLION_LAUGHS)
    start = time.perf_counter()
    err = only_error(specs, "Spec.AliasLimit")
    assert time.perf_counter() - start < 1
    assert err.file == "specs/bomb.yaml"
    # the same with mappings and a wide fan-out, well under 100 alias uses
    bomb = "a: &a {" + ", ".join(f"k{i}: {i}" for i in range(1000)) + "}\n"
    bomb += "b: &b [" + ", ".join(["*a"] * 60) + "]\nc: [" + ", ".join(["*b"] * 30) + "]\n"
    write(specs, "bomb.yaml", bomb)
    start = time.perf_counter()
    only_error(specs, "Spec.AliasLimit")
    assert time.perf_counter() - start < 1


def test_recursive_and_undefined_alias(specs, loader):
    write(specs, "a.yaml", "pools:\n  a: &x {self: *x}\n")
    assert "recursive" in only_error(specs, "Spec.AliasLimit").detail
    write(specs, "a.yaml", "pools:\n  a: {x: *nope}\n")
    assert "undefined alias" in only_error(specs, "Spec.Syntax").detail


def nested_yaml(levels: int) -> str:
    """A top-level mapping (level 1) with mappings nested down to ``levels``."""
    lines = ["pools:", "  p:"]
    for i in range(levels - 3):
        lines.append("  " * (i + 2) + f"k{i}:")
    lines.append("  " * (levels - 1) + "leaf: 1")
    return "\n".join(lines) + "\n"


def test_too_deep_yaml_boundary(specs, loader):
    write(specs, "a.yaml", nested_yaml(MAX_DEPTH))
    load_specs(specs)
    write(specs, "a.yaml", nested_yaml(MAX_DEPTH + 1))
    err = only_error(specs, "Spec.TooDeep")
    assert err.line == MAX_DEPTH + 1 and "32" in err.detail
    write(specs, "a.yaml", "pools:\n  p: {x: " + "[" * (MAX_DEPTH - 3) + "]" * (MAX_DEPTH - 3) + "}\n")
    load_specs(specs)
    write(specs, "a.yaml", "pools:\n  p: {x: " + "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2) + "}\n")
    only_error(specs, "Spec.TooDeep")


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5_000_000,
        "a: " + "[" * 1_000_000 + "]" * 1_000_000,
        "{a: " * 200_000,
        "- " * 1_000_000 + "x\n",
        "".join(" " * i + "- \n" for i in range(3000)),
    ],
    ids=["unclosed-flow", "closed-flow", "flow-maps", "compact-block", "indented-block"],
)
def test_very_deep_yaml_fails_fast_without_crashing(specs, loader, text):
    # libyaml's own composer segfaults on such input and its parser slows down
    # quadratically: the loader must stop at the limit
    write(specs, "a.yaml", text)
    start = time.perf_counter()
    only_error(specs, "Spec.TooDeep")
    assert time.perf_counter() - start < 1


def test_too_deep_through_alias(specs):
    inner = "{x: " * 20 + "1" + "}" * 20
    write(specs, "a.yaml", f"pools:\n  p: {{a: &a {inner}}}\n  q: {{b: {{c: {{d: {{e: {{f: {{g: {{h: {{i: {{j: {{k: {{l: *a}}}}}}}}}}}}}}}}}}}}}}\n")
    err = only_error(specs, "Spec.TooDeep")
    assert err.line == 3 and "alias" in err.detail


def test_too_deep_json(specs):
    def nested(levels: int) -> str:
        return '{"pools": {"p": {"x": ' + '["]]", ' * (levels - 3) + "1" + "]" * (levels - 3) + "}}}"

    write(specs, "a.json", nested(MAX_DEPTH))
    load_specs(specs)
    write(specs, "a.json", nested(MAX_DEPTH + 1))
    only_error(specs, "Spec.TooDeep")
    write(specs, "a.json", "\n" + "[" * 2_000_000 + "]" * 2_000_000)
    start = time.perf_counter()
    assert only_error(specs, "Spec.TooDeep").line == 2
    assert time.perf_counter() - start < 1


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\ab'), kids, max_size=3),
                    max_leaves=40),
       st.integers(min_value=0, max_value=8))
def test_json_depth_check_matches_a_walk(value, limit):
    def depth(v):
        if isinstance(v, dict):
            return 1 + max((depth(c) for c in v.values()), default=0)
        if isinstance(v, list):
            return 1 + max((depth(c) for c in v), default=0)
        return 0

    for text in (json.dumps(value), json.dumps(value, indent=1, ensure_ascii=False)):
        assert source._json_depth_exceeds(text, limit) == (depth(value) > limit)


def test_symlinks(tmp_path, specs):
    workspace = specs.parent
    (tmp_path / "outside.yaml").write_text("pools:\n  evil: {}\n")
    (tmp_path / "outside_dir").mkdir()
    (tmp_path / "outside_dir" / "x.yaml").write_text("pools:\n  evil2: {}\n")
    write(workspace, "shared/common.yaml", "vpcs:\n  shared: {}\n")
    write(specs, "main.yaml", "pools:\n  ok: {}\n")
    os.symlink(workspace / "shared" / "common.yaml", specs / "common.yaml")  # inside: fine
    os.symlink(workspace / "shared", specs / "shared_dir")  # inside: fine (a second copy!)
    os.symlink(tmp_path / "outside.yaml", specs / "evil.yaml")
    os.symlink(tmp_path / "outside_dir", specs / "evil_dir")
    os.symlink(tmp_path / "outside.yaml", specs / "evil.txt")  # not a spec file: ignored
    errors = errors_of(specs)
    assert sorted((e.code, e.file) for e in errors) == [
        ("Spec.DuplicateName", "specs/shared_dir/common.yaml"),
        ("Spec.Symlink", "specs/evil.yaml"),
        ("Spec.Symlink", "specs/evil_dir"),
    ]
    assert all("outside the workspace" in e.detail for e in errors if e.code == "Spec.Symlink")
    (specs / "shared_dir").unlink()
    (specs / "evil.yaml").unlink()
    (specs / "evil_dir").unlink()
    doc = load_specs(specs)
    assert doc.data == {"vpcs": {"shared": {}}, "pools": {"ok": {}}}
    assert doc.origin("vpcs", "shared") == "specs/common.yaml"


def test_symlink_loop_and_broken_link(specs):
    write(specs, "main.yaml", "pools:\n  ok: {}\n")
    os.symlink(specs, specs / "loop")
    os.symlink(specs / "nowhere.yaml", specs / "broken.yaml")
    errors = errors_of(specs)
    assert sorted((e.code, e.file) for e in errors) == [
        ("Spec.NotAFile", "specs/broken.yaml"),
        ("Spec.Symlink", "specs/loop"),
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no fifos here")
def test_fifo_is_not_read(specs):
    write(specs, "main.yaml", "pools:\n  ok: {}\n")
    os.mkfifo(specs / "pipe.yaml")
    start = time.perf_counter()
    err = only_error(specs, "Spec.NotAFile")
    assert time.perf_counter() - start < 1
    assert err.file == "specs/pipe.yaml" and "fifo" in err.detail


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("pools:\n  yes: {}\n", 2, "boolean true"),
        ("pools:\n  a: {}\n  off: {}\n", 3, "quote it"),
        ("pools:\n  1: {}\n", 2, "an integer"),
        ("pools:\n  null: {}\n", 2, "null"),
        ("pools:\n  ?\n  : {}\n", 2, "empty"),
        ("pools:\n  p:\n    tags: {on: x}\n", 3, "boolean"),
        ("pools:\n  p:\n    l:\n      - {a: {b: {3.5: x}}}\n", 4, "a number"),
        ("pools:\n  [a, b]: {}\n", 2, "a sequence"),
        ("true: {}\n", 1, "kind"),
        ("pools:\n  2024-01-01: {}\n", 2, "date"),
    ],
)
def test_key_type(specs, loader, text, line, words):
    write(specs, "a.yaml", text)
    err = only_error(specs, "Spec.KeyType")
    assert err.line == line and words in err.detail


def test_unsupported_tags_and_bad_values(specs, loader):
    write(specs, "a.yaml", "pools:\n  a:\n    x: !foo 1\n    y: !!python/object:os.system x\n    z: !!int abc\n    w: !!set {a}\n")
    errors = errors_of(specs)
    assert [(e.code, e.line) for e in errors] == [("Spec.Syntax", n) for n in (3, 4, 5, 6)]


def test_multiple_documents(specs, loader):
    write(specs, "a.yaml", "pools:\n  a: {}\n---\nvpcs:\n  b: {}\n")
    err = only_error(specs, "Spec.Syntax")
    assert err.line == 3 and "document" in err.detail


def test_collects_all_errors_across_files(specs):
    write(specs, "a.yaml", "pools:\n  a: {x: 1, x: 2}\n  b: 3\n")
    write(specs, "b.yaml", "pools: [\n")
    write(specs, "c.json", '{"pools": {"a": {}}}')
    write(specs, "d.yaml", b"\xff")
    with pytest.raises(ErrorGroup) as info:
        load_specs(specs)
    got = [(e.code, e.file, e.line) for e in info.value.errors]
    assert got == [
        ("Spec.DuplicateKey", "specs/a.yaml", 2),
        ("Spec.NotAMapping", "specs/a.yaml", 3),
        ("Spec.Syntax", "specs/b.yaml", 1),  # where the unclosed '[' opens
        ("Spec.DuplicateName", "specs/c.json", 1),
        ("Spec.Encoding", "specs/d.yaml", 1),
    ]
    assert "specs/a.yaml:2" in info.value.errors[3].detail


# ------------------------------------------------------------------------------------------
# locate


def test_locate_yaml(specs, loader):
    write(specs, "main.yaml", MAIN)
    doc = load_specs(specs)
    f = "specs/main.yaml"
    assert doc.locate(("ipam",)) == (f, 1)
    assert doc.locate(("ipam", "operating_regions", 1)) == (f, 1)
    assert doc.locate(("pools",)) == (f, 4)
    assert doc.locate(("pools", "root")) == (f, 5)
    assert doc.locate(("pools", "hz")) == (f, 6)
    assert doc.locate(("pools", "hz", "region")) == (f, 8)
    assert doc.locate(("pools", "hz", "cidrs")) == (f, 9)
    assert doc.locate(("pools", "hz", "cidrs", 0)) == (f, 10)
    assert doc.locate(("pools", "hz", "cidrs", 1)) == (f, 11)
    assert doc.locate(("pools", "hz", "tags", "team", "name")) == (f, 12)
    # fallbacks to the nearest ancestor that exists
    assert doc.locate(("pools", "hz", "cidrs", 7)) == (f, 9)
    assert doc.locate(("pools", "hz", "cidrs", "x")) == (f, 9)
    assert doc.locate(("pools", "hz", "region", "deeper", 3)) == (f, 8)
    assert doc.locate(("pools", "hz", "nope")) == (f, 6)
    assert doc.locate(("pools", "nope", "cidrs")) == (f, 4)
    assert doc.locate(("scopes", "private", "type")) == (f, 3)
    assert doc.locate(("nope", "x")) == (None, None)
    assert doc.locate(()) == (None, None)
    assert doc.locate(([1], "x")) == (None, None)
    assert doc.locate(("pools", ["unhashable"])) == (f, 4)


def test_locate_multiline_list_items(specs):
    write(specs, "a.yaml", "pools:\n  p:\n    rules:\n      - name: a\n        port: 1\n      -\n        name: b\n        port: 2\n")
    doc = load_specs(specs)
    assert doc.locate(("pools", "p", "rules", 0)) == ("specs/a.yaml", 4)
    assert doc.locate(("pools", "p", "rules", 1, "port")) == ("specs/a.yaml", 8)


def test_locate_across_files(specs):
    write(specs, "a.yaml", "pools:\n  a: {x: 1}\n")
    write(specs, "b/b.yaml", "# comment\n\npools:\n  b:\n    x: 2\n")
    doc = load_specs(specs)
    assert doc.locate(("pools", "b", "x")) == ("specs/b/b.yaml", 5)
    assert doc.locate(("pools", "a", "x")) == ("specs/a.yaml", 2)
    assert doc.locate(("pools",)) == ("specs/a.yaml", 1)


def test_locate_json(specs):
    data = {
        "ipam": {"name": "corp", "operating_regions": ["a", "b"]},
        "pools": {"root": {"cidrs": ["10.0.0.0/8", "11.0.0.0/8"], "tags": {"k": {"v": [1, {"deep": True}]}}}},
    }
    write(specs, "a.json", json.dumps(data, indent=2))
    doc = load_specs(specs)
    assert doc.data == data
    text = (specs / "a.json").read_text().splitlines()

    def line_of(fragment: str, nth: int = 0) -> int:
        return [i for i, l in enumerate(text, 1) if fragment in l][nth]

    f = "specs/a.json"
    assert doc.locate(("ipam",)) == (f, line_of('"ipam"'))
    assert doc.locate(("ipam", "operating_regions", 1)) == (f, line_of('"b"'))
    assert doc.locate(("pools", "root")) == (f, line_of('"root"'))
    assert doc.locate(("pools", "root", "cidrs", 1)) == (f, line_of('"11.0.0.0/8"'))
    assert doc.locate(("pools", "root", "tags", "k", "v", 1, "deep")) == (f, line_of('"deep"'))
    assert doc.locate(("pools", "root", "tags", "k", "v", 5)) == (f, line_of('"v"'))
    assert doc.locate(("pools", "root", "nope")) == (f, line_of('"root"'))
    assert doc.locate(("pools", "nope")) == (f, line_of('"pools"'))
    assert doc.locate(("nope",)) == (None, None)


def test_locate_json_with_tricky_strings(specs):
    write(specs, "a.json", '{"pools": {"a\\"b": {"x": "}]\\\\", \n"y": [1,\n 2]}}}')
    doc = load_specs(specs)
    assert doc.locate(("pools", 'a"b', "y", 1)) == ("specs/a.json", 3)


def test_locate_is_lazy_and_cached(specs, monkeypatch):
    write(specs, "a.yaml", "pools:\n  a:\n    x: 1\n    y: [1, 2]\n")
    calls = []
    real = source._YamlLocator
    monkeypatch.setattr(source, "_YamlLocator", lambda text: calls.append(1) or real(text))
    doc = load_specs(specs)
    assert calls == []  # nothing composed while loading
    assert doc.locate(("pools", "a")) == ("specs/a.yaml", 2)  # recorded while loading
    assert calls == []
    assert doc.locate(("pools", "a", "y", 1)) == ("specs/a.yaml", 4)
    assert doc.locate(("pools", "a", "x")) == ("specs/a.yaml", 3)
    assert calls == [1]


def test_locate_when_file_changed_or_vanished(specs):
    write(specs, "a.yaml", "pools:\n  a:\n    x: 1\n")
    doc = load_specs(specs)
    (specs / "a.yaml").unlink()
    assert doc.locate(("pools", "a", "x")) == ("specs/a.yaml", 2)
    assert doc.locate(("pools",)) == ("specs/a.yaml", 1)


def test_locate_ignores_a_file_changed_since_loading(specs):
    path = write(specs, "a.yaml", "pools:\n  a:\n    x: 1\n")
    doc = load_specs(specs)
    path.write_text("# moved\n\n\npools:\n  a:\n    x: 1\n" + "[" * 1_000_000)
    start = time.perf_counter()
    assert doc.locate(("pools", "a", "x")) == ("specs/a.yaml", 2)  # the line recorded at load
    assert time.perf_counter() - start < 1


# ------------------------------------------------------------------------------------------
# no exception but SpecError, for any input


@pytest.fixture(scope="module")
def fuzz_dir():
    folder = Path(tempfile.mkdtemp()) / "specs"
    folder.mkdir()
    yield folder
    shutil.rmtree(folder.parent)


def assert_loads_or_spec_errors(folder: Path) -> SpecDocument | None:
    try:
        doc = load_specs(folder)
    except (SpecError, ErrorGroup) as exc:
        for error in flatten(exc):
            assert isinstance(error, SpecError)
            assert error.code.startswith("Spec.")
            assert source._INTERNAL not in error.detail, error.detail
            assert error.file
        return None
    for kind, value in doc.data.items():
        assert isinstance(kind, str) and isinstance(value, dict)
        for path in ((kind,), (kind, "x", 0)):
            doc.locate(path)
        for name in value:
            doc.locate((kind, name, "a", 0, "b"))
    return doc


def fill(folder: Path, name: str, content: bytes) -> None:
    for old in folder.iterdir():
        old.unlink()
    (folder / name).write_bytes(content)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=400), suffix=st.sampled_from([".yaml", ".json"]))
def test_fuzz_random_bytes(fuzz_dir, content, suffix):
    fill(fuzz_dir, "a" + suffix, content)
    assert_loads_or_spec_errors(fuzz_dir)


YAMLISH = [
    "pools", "ipam", "vpcs", "a", "b", "yes", "1", "~", "null", "<<", "=", "é", "\U0001F600",
    ":", ": ", "- ", "? ", "\n", "\n  ", "\n    ", "  ", " ", "\t", "{", "}", "[", "]", ", ",
    "&x ", "*x", "&y ", "*y", "!!str ", "!!int ", "!!binary ", "!!timestamp ", "!!set ", "!foo ", "! ",
    "'q'", '"d\\"q"', "'", '"', "#c", "---\n", "...\n", "|\n", ">-\n", "%YAML 1.1\n", "%TAG ! x\n",
    "\x00", "\x85", "\ufeff", "\r\n", "0x1f", "2024-01-02", "1e3", ".nan", "\\",
]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tokens=st.lists(st.sampled_from(YAMLISH), max_size=60), suffix=st.sampled_from([".yaml", ".yml", ".json"]))
def test_fuzz_yamlish_text(fuzz_dir, tokens, suffix):
    fill(fuzz_dir, "a" + suffix, "".join(tokens).encode("utf-8", "surrogatepass"))
    assert_loads_or_spec_errors(fuzz_dir)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tokens=st.lists(st.sampled_from(YAMLISH), max_size=40))
def test_fuzz_yamlish_text_python_parser(fuzz_dir, tokens, monkeypatch):
    monkeypatch.setattr(source, "_Loader", yaml.SafeLoader)
    fill(fuzz_dir, "a.yaml", "".join(tokens).encode("utf-8", "surrogatepass"))
    assert_loads_or_spec_errors(fuzz_dir)


# documents that are valid: the loader must read exactly what PyYAML and json read
_key = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)
_leaf = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
         | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=10))
_value = st.recursive(_leaf, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(_key, kids, max_size=3),
                      max_leaves=12)
_document = st.dictionaries(
    _key.filter(lambda k: k not in source.SINGLETON_KINDS),
    st.dictionaries(_key, st.dictionaries(_key, _value, max_size=4), max_size=4),
    max_size=4,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=_document, style=st.sampled_from(["block", "flow", "json", "json-indent"]))
def test_valid_documents_read_like_pyyaml(fuzz_dir, document, style):
    if style == "block":
        name, text = "a.yaml", yaml.safe_dump(document, default_flow_style=False, allow_unicode=True)
    elif style == "flow":
        name, text = "a.yaml", yaml.safe_dump(document, default_flow_style=True, width=40)
    elif style == "json":
        name, text = "a.json", json.dumps(document)
    else:
        name, text = "a.json", json.dumps(document, indent=2, ensure_ascii=False)
    fill(fuzz_dir, name, text.encode("utf-8"))
    doc = load_specs(fuzz_dir)
    expected = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
    assert doc.data == expected
    assert [list(v) for v in doc.data.values()] == [list(v) for v in expected.values()]
    for kind, resources in doc.data.items():
        file, line = doc.locate((kind,))
        assert file == "specs/" + name and line >= 1
        for resource, fields in resources.items():
            assert doc.locate((kind, resource))[1] >= line
            for field_name in fields:
                assert doc.locate((kind, resource, field_name))[1] >= line


# ------------------------------------------------------------------------------------------
# speed


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_large_spec_loads_quickly(specs, fmt):
    count = 100_000
    if fmt == "yaml":
        body = "".join(f"  p{i}: {{source: root, region: cn-hangzhou, cidrs: [10.{i >> 16}.{(i >> 8) & 255}.0/24]}}\n"
                       for i in range(count))
        write(specs, "pools.yaml", "ipam: {name: corp}\npools:\n" + body)
    else:
        write(specs, "pools.json", json.dumps(
            {"pools": {f"p{i}": {"source": "root", "region": "cn-hangzhou", "cidrs": [f"10.{i >> 16}.{(i >> 8) & 255}.0/24"]}
                       for i in range(count)}}, indent=1))
    start = time.perf_counter()
    doc = load_specs(specs)
    elapsed = time.perf_counter() - start
    assert len(doc.data["pools"]) == count
    assert elapsed < 4, f"{count} resources took {elapsed:.2f}s"
    file, line = doc.locate(("pools", f"p{count - 1}", "cidrs", 0))
    assert file.startswith("specs/pools.") and line > count


# ------------------------------------------------------------------------------------------
# files read two at a time (source._load_files)


def _many_files(specs: Path) -> list[str]:
    """Twelve files, every third broken: the fast YAML path, the loader's errors and JSON mixed."""
    names = []
    for i in range(12):
        name = f"f{i:02d}.json" if i % 4 == 3 else f"f{i:02d}.yaml"
        if i % 3 == 2:
            text = '{"pools": {' if name.endswith(".json") else f"pools:\n  p{i}: [unclosed\n"
        elif name.endswith(".json"):
            text = json.dumps({"pools": {f"p{i}": {"scope": "s", "cidrs": [f"10.{i}.0.0/16"]}}})
        else:
            text = f"pools:\n  p{i}: {{scope: s, cidrs: [10.{i}.0.0/16]}}\n"
        write(specs, name, text)
        names.append(name)
    return names


def test_files_read_in_parallel_report_in_file_order_and_leave_no_thread(specs):
    import threading

    names = _many_files(specs)
    errors = errors_of(specs)
    assert [e.file for e in errors] == [f"specs/{n}" for i, n in enumerate(names) if i % 3 == 2]
    assert threading.active_count() == 1
    for i in range(12):  # the good files alone: merged in file order
        if i % 3 == 2:
            (specs / names[i]).unlink()
    doc = load_specs(specs)
    assert list(doc.data["pools"]) == [f"p{i}" for i in range(12) if i % 3 != 2]
    assert [doc.locate(("pools", f"p{i}"))[0] for i in (0, 4, 7)] == ["specs/f00.yaml", "specs/f04.yaml", "specs/f07.json"]


def test_without_threads_files_are_read_one_by_one(specs, monkeypatch):
    # fault injection: no thread can be started (as under a tight address-space limit)
    import threading

    def refuse(self):
        raise RuntimeError("can't start new thread")

    names = _many_files(specs)
    expected = [(e.file, e.code, e.line) for e in errors_of(specs)]
    monkeypatch.setattr(threading.Thread, "start", refuse)
    assert [(e.file, e.code, e.line) for e in errors_of(specs)] == expected
    for i in range(12):
        if i % 3 == 2:
            (specs / names[i]).unlink()
    assert list(load_specs(specs).data["pools"]) == [f"p{i}" for i in range(12) if i % 3 != 2]
