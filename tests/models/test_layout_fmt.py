"""`ipamctl fmt`: one canonical layout, comments kept, the document unchanged, idempotent."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from reconciler.models.layout import format_text

REPO = Path(__file__).resolve().parents[2]

MESSY = """\
# the header stays
vpcs:
  web:
    ipv4: {mask: 20, pool: hz}    # the pool's block
    region: cn-hangzhou
  db:
    description: the database VPC
    region: cn-hangzhou
    ipv4:
      pool: hz
      mask: 22

# vSwitches follow
vswitches:
  web-h: {zone: cn-hangzhou-h, vpc: web, cidr: {mask: 24}}
pools:
  hz: {cidrs: [{mask: 17}], source: root}
"""


def test_the_canonical_layout():
    out = format_text(MESSY)
    assert out == """\
# the header stays
pools:
  hz: {source: root, cidrs: [{mask: 17}]}
vpcs:
  web:
    region: cn-hangzhou
    ipv4: {pool: hz, mask: 20}    # the pool's block
  db: {region: cn-hangzhou, ipv4: {pool: hz, mask: 22}, description: the database VPC}

# vSwitches follow
vswitches:
  web-h: {vpc: web, zone: cn-hangzhou-h, cidr: {mask: 24}}
"""
    assert yaml.safe_load(out) == yaml.safe_load(MESSY)  # the same document
    assert format_text(out) == out  # idempotent


def test_long_entries_are_blocks_and_comments_inside_keep_them_blocks():
    text = ("enis:\n  e:\n    vswitch: a-very-long-vswitch-name-indeed\n    security_group: a-long-security-group-name\n"
            "    secondary_private_ips: {count: 2}\n    ipv4_prefixes: {count: 3}\n"
            "  f:\n    vswitch: v   # why\n    instance: i\n")
    out = format_text(text)
    assert out == text and format_text(out) == out


def test_the_bundled_specs_are_in_the_layout(tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(REPO / "specs", root / "specs")
    from tests.conftest import Workspace

    ws = Workspace(root)
    assert ws.run("fmt", "--check").returncode == 0
    for path in sorted((root / "specs").glob("*.yaml")):
        assert format_text(path.read_text()) == path.read_text()


def test_check_names_files_and_fmt_rewrites_them(tmp_path):
    from tests.conftest import Workspace

    ws = Workspace(tmp_path / "ws")
    ws.write("a.yaml", MESSY)
    ws.write("b.yaml", "pools:\n  hz: {source: root, cidrs: [{mask: 17}]}\n")
    ws.write("c.json", '{"vpcs": {}}')
    check = ws.run("fmt", "--check")
    assert check.returncode == 1 and check.stdout == "specs/a.yaml: not in the canonical layout (run `ipamctl fmt`)\n"
    assert ws.run("fmt", check=0).stdout == "specs/a.yaml: formatted\n"
    assert (ws.root / "specs" / "a.yaml").read_text() == format_text(MESSY)
    assert (ws.root / "specs" / "c.json").read_text() == '{"vpcs": {}}'
    assert ws.run("fmt", "--check").returncode == 0


def test_a_file_that_does_not_parse_is_named_and_left_alone(tmp_path):
    from tests.conftest import Workspace

    ws = Workspace(tmp_path / "ws")
    ws.write("bad.yaml", "vpcs:\n  a: {region: [\n")
    got = ws.run("fmt")
    assert got.returncode == 1 and "specs/bad.yaml:" in got.stderr and "Traceback" not in got.stderr
    assert (ws.root / "specs" / "bad.yaml").read_text() == "vpcs:\n  a: {region: [\n"
