"""Wrong words of the loader (issue 17, item 23): a UTF-32 file is named UTF-32 (not UTF-16), and a
key longer than YAML's 1,024-character limit on keys is said to be too long, with the limit, instead
of a bare YAML syntax error, on both YAML parsers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reconciler.errors import ReconcilerError, flatten
from reconciler.source.loader import load_specs
from reconciler.source.yaml_events import _parse_yaml

TEXT = "pools:\n  x: {source: root, cidrs: [{mask: 16}]}\n"


def _errors(tmp_path: Path, name: str, data: bytes) -> list[ReconcilerError]:
    (tmp_path / "specs").mkdir(exist_ok=True)
    (tmp_path / "specs" / name).write_bytes(data)
    try:
        load_specs(tmp_path / "specs")
    except ReconcilerError as exc:
        return flatten(exc)
    return []


@pytest.mark.parametrize("codec, name", [("utf-32", "UTF-32"), ("utf-32-be", "UTF-32"), ("utf-16", "UTF-16"),
                                         ("utf-16-be", "UTF-16")])
def test_the_encoding_is_named_by_its_byte_order_mark(tmp_path, codec, name):
    data = TEXT.encode(codec)
    if not codec.endswith(("32", "16")):
        data = ("\ufeff" + TEXT).encode(codec)
    [err] = _errors(tmp_path, "a.yaml", data)
    assert err.code == "Spec.Encoding" and f"looks like {name}" in err.message, err
    other = "UTF-16" if name == "UTF-32" else "UTF-32"
    assert other not in err.message


@pytest.mark.parametrize("loader", [None, yaml.SafeLoader], ids=["libyaml", "python"])
@pytest.mark.parametrize("text, line", [
    ("pools:\n  " + "a" * 10_000 + ": {source: root}\n", 2),
    ("pools:\n  x:\n    source: root\n    " + "k" * 2_000 + ": 1\n", 4),
    ("pools:\n  x: {source: root, " + "k" * 1_500 + ": 1}\n", 2),
    ("pools:\n  - \"" + "q" * 1_100 + "\": 1\n", 2),
])
def test_a_key_over_yamls_limit_is_too_large_with_the_limit(text, line, loader):
    errors: list[ReconcilerError] = []
    _parse_yaml(text, "a.yaml", errors, loader)
    assert [(e.code, e.line) for e in errors] == [("Spec.TooLarge", line)], errors
    assert "1,024" in errors[0].message and "names have at most 128" in errors[0].message


def test_a_long_value_is_no_long_key(tmp_path):
    errors: list[ReconcilerError] = []
    _parse_yaml("pools:\n  x: {a: " + "v" * 2000 + "\n", "a.yaml", errors)
    assert [e.code for e in errors] == ["Spec.Syntax"]
