"""The spec schema where editors find it: the shipped file equals the generated one, the bundled specs
point at it, and the real check-jsonschema validates them with it and flags malformed blocks."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

from reconciler.models.schema import SCHEMA_ID, schema_text

REPO = Path(__file__).resolve().parents[2]
LINK = REPO / "schema" / "ipamctl.schema.json"
LINE = "# yaml-language-server: $schema=../schema/ipamctl.schema.json\n"


def check(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--schemafile", str(LINK), *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


def test_the_shipped_schema_is_the_generated_one():
    shipped = files("reconciler").joinpath("data/ipamctl.schema.json").read_text()
    assert shipped == schema_text(), "run `ipamctl schema > reconciler/data/ipamctl.schema.json`"
    assert LINK.read_text() == shipped  # schema/ links to the package's copy
    doc = json.loads(shipped)
    assert doc["$schema"].endswith("2020-12/schema") and doc["$id"] == SCHEMA_ID and doc["title"] == "ipamctl specs"
    assert doc["properties"]["pools"]["propertyNames"]["pattern"].startswith("^[A-Za-z0-9]")
    assert doc["$defs"]["PoolSpec"]["properties"]["region"]["anyOf"][0]["description"].startswith("A region id")


def test_the_bundled_specs_point_at_it_and_validate():
    specs = sorted((REPO / "specs").glob("*.yaml"))
    assert specs and all(p.read_text().startswith(LINE) for p in specs)
    got = check(*specs)
    assert got.returncode == 0, got.stdout + got.stderr


def test_an_editor_flags_what_ipamctl_refuses(tmp_path):
    from tests.conftest import Workspace

    bad = {
        "cidr": "vpcs:\n  a: {region: cn-hangzhou, ipv4: {cidr: 10.0.0/16}}\n",
        "name": "vpcs:\n  'bad name': {region: cn-hangzhou, ipv4: {cidr: 10.0.0.0/16}}\n",
        "mask": "pools:\n  p: {cidrs: [{mask: 200}]}\n",
        "key": "vpcs:\n  a: {region: cn-hangzhou, ipv4: {cidr: 10.0.0.0/16}, colour: blue}\n",
    }
    for what, text in bad.items():
        ws = Workspace(tmp_path / what)
        path = ws.write("main.yaml", LINE + text)
        flagged = check(path)
        assert flagged.returncode == 1 and "main.yaml" in flagged.stdout, (what, flagged.stdout)
        assert ws.run("validate").returncode == 1, what
