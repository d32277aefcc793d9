"""YAML 1.1 traps (issue 17, item 12): a plain scalar that YAML 1.1 (this tool) and YAML 1.2 (JSON
Schema tools, most other readers) read differently is refused, at its file:line, saying how to write
it, on both reading paths (the event-stream loader, and the yaml-rs fast path that must decline)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError, flatten
from reconciler.source.loader import load_specs
from reconciler.source.yaml_fast import parse_yaml_fast
from reconciler.source.yaml_scalars import ambiguous


def _errors(tmp_path: Path, text: str) -> list[ReconcilerError]:
    (tmp_path / "specs").mkdir(exist_ok=True)
    (tmp_path / "specs" / "a.yaml").write_text(text)
    try:
        load_specs(tmp_path / "specs")
    except ReconcilerError as exc:
        return flatten(exc)
    return []


@pytest.mark.parametrize("value, advice", [
    ("020", "write 16"), ("-012", "write -10"), ("1_6", "write 16"), ("1_000", "write 1000"), ("1:30", "write 90"),
    ("0b10", "write 2"), ("yes", "write true"), ("No", "write false"), ("on", "write true"), ("OFF", "write false"),
    ("1_0.5", "write 10.5"), ("1:30.5", "write 90.5"),
])
@pytest.mark.parametrize("where", ["block", "flow", "list", "deep"])
def test_ambiguous_plain_scalars_are_refused_at_their_line(tmp_path, value, advice, where):
    text = {
        "block": f"pools:\n  p:\n    source: root\n    mask: {value}\n",
        "flow": f"pools:\n  p: {{source: root,\n      region: cn-hangzhou,\n      mask: {value}}}\n",
        "list": f"pools:\n  p:\n    cidrs: [10.0.0.0/8,\n      {value}]\n",
        "deep": f"pools:\n  p:\n    tags:\n      a: {{b: [{value}]}}\n",
    }[where]
    assert parse_yaml_fast(text) is None  # the fast path declines: the loader decides
    found = [e for e in _errors(tmp_path, text) if e.code == "Spec.AmbiguousScalar"]
    assert [(e.file, e.line) for e in found] == [("specs/a.yaml", 4)], found
    assert advice in found[0].message and "YAML 1.2" in found[0].message


@pytest.mark.parametrize("value", ["16", "0", "-3", "+7", "0x1f", "true", "False", "TRUE", "1.5", ".5", ".inf",
                                   "-.Inf", ".nan", "~", "null", "'020'", '"yes"', "'1:30'", "10.0.0.0/16",
                                   "cn-hangzhou", "1a", "2408:4000::/56", "hz_1_prod", "a1_2"])
def test_what_both_read_alike_is_taken(tmp_path, value):
    text = f"pools:\n  p:\n    description: {value}\n"
    assert [e.code for e in _errors(tmp_path, text)] == []


def test_keys_keep_their_own_error(tmp_path):
    """A key YAML 1.1 reads as a boolean keeps its own error (Spec.KeyType), once."""
    assert [e.code for e in _errors(tmp_path, "pools:\n  p:\n    yes: 1\n")] == ["Spec.KeyType"]


def test_a_string_yaml_1_2_reads_as_a_number_is_let_be(tmp_path):
    """1e3 and 0o12 are strings to YAML 1.1 and PyYAML's own dump writes them unquoted: taken as strings
    (a field that needs a number refuses them as strings)."""
    assert [e.code for e in _errors(tmp_path, "pools:\n  p:\n    description: 1e3\n    x: 0o12\n")] == []


def test_the_mask_trap_of_the_issue(tmp_path):
    """``mask: 020`` allocated a /16 before: now an error that says to write 16."""
    found = _errors(tmp_path, "pools:\n  p: {source: root, cidrs: [{mask: 020}]}\n")
    assert [e.code for e in found] == ["Spec.AmbiguousScalar"] and "write 16" in found[0].message


def test_ambiguity_is_cheap_for_the_common_scalars():
    assert ambiguous("24", 24) is None and ambiguous("true", True) is None
    assert ambiguous("prod", "prod") is None and ambiguous("10.0.0.0/8", "10.0.0.0/8") is None
