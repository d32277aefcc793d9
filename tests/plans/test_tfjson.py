"""The plan document in Terraform's plan representation (reconciler/plans/tfjson.py): what its sections
hold, that they are derived (never saved, outside the checksum, refused when edited), and the CLI's
``plan --json`` / ``show --json PLANFILE`` / ``--compact``. The tools themselves: test_terraform_tools.py."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from reconciler.errors import StateError
from reconciler.plans import planfile, tfjson
from tests.support.specs import BASE, converge, plan

KEY = b"a key from the environment"
MOVED = BASE.replace("ipv4: {pool: hz-prod, mask: 20}", "ipv4: {cidr: 10.0.32.0/20}")  # a replacement
# a saved plan's keys (format 2: the records table, resource_changes derived like the Terraform sections)
SAVED_KEYS = {"provider", "format_version", "lineage", "serial", "changes", "actions", "records",
              "summary", "desired", "change_set", "warnings", "checksum", "ipamctl_format_version"}
DATA = Path(__file__).parent / "data"  # plans of format 1, saved by the release before format 2


def _printed(p, key: bytes | None = None, compact: bool = False) -> bytes:
    return planfile.documents(p, key=key, printed=True, compact=compact)[1]  # type: ignore[return-value]


def _read(data: bytes, key: bytes | None = None) -> str | None:
    try:
        planfile.read(data, path="p.json", key=key)
    except StateError as exc:
        return exc.code
    return None


def _by_address(resources: list[dict]) -> dict[str, dict]:
    assert [r["address"] for r in resources] == sorted(r["address"] for r in resources)  # sorted: byte-stable
    return {r["address"]: r for r in resources}


def test_a_fresh_plan_in_terraforms_shape(tmp_path):
    p = plan(tmp_path, BASE)
    doc = orjson.loads(_printed(p))
    assert (doc["format_version"], doc["ipamctl_format_version"]) == ("1.2", "2")
    assert doc["terraform_version"] == "1.5.7+ipamctl"
    planned = _by_address(doc["planned_values"]["root_module"]["resources"])
    assert set(planned) == set(p.desired) and len(planned) == 8  # the default scopes come with the IPAM
    vpc = planned["vpc.prod"]
    assert vpc == {"address": "vpc.prod", "mode": "managed", "type": "vpc", "name": "prod",
                   "provider_name": "ipam-reconciler/sandbox", "schema_version": 0, "sensitive_values": {},
                   "values": dict(p.desired["vpc.prod"]["attributes"])}
    assert vpc["values"]["ipv4"] == {"pool": "hz-prod", "cidr": "10.0.0.0/20"}  # the concrete block, chosen now
    assert doc["prior_state"] == {"format_version": "1.0", "terraform_version": "1.5.7+ipamctl",
                                  "values": {"root_module": {"resources": []}}}  # nothing recorded yet
    config = doc["configuration"]
    assert config["provider_config"] == {"sandbox": {"name": "sandbox", "full_name": "ipam-reconciler/sandbox",
                                                     "expressions": {}}}
    configured = _by_address(config["root_module"]["resources"])
    assert set(configured) == set(planned)
    assert configured["vswitch.prod-h"] == {"address": "vswitch.prod-h", "mode": "managed", "type": "vswitch",
                                            "name": "prod-h", "provider_config_key": "sandbox",
                                            "expressions": {}, "schema_version": 0}


def test_prior_state_is_the_recorded_state_the_plan_was_made_against(tmp_path):
    recorded = converge(plan(tmp_path, BASE))
    p = plan(tmp_path, MOVED, recorded=recorded, serial=1)
    assert {c.address for c in p.changes} == {"vpc.prod", "vswitch.prod-h"}  # replaced, the vSwitch with it
    doc = orjson.loads(_printed(p))
    prior = _by_address(doc["prior_state"]["values"]["root_module"]["resources"])
    # every record, the default scopes and the unchanged pools included, as the state holds it
    assert {a: r["values"] for a, r in prior.items()} == {a: rec["attributes"] for a, rec in recorded.items()}
    assert prior["vpc.prod"]["values"]["ipv4"]["cidr"] == "10.0.0.0/20"
    planned = _by_address(doc["planned_values"]["root_module"]["resources"])
    assert planned["vpc.prod"]["values"]["ipv4"] == {"cidr": "10.0.32.0/20", "pool": None}


def test_the_sections_are_derived_never_saved_and_outside_the_checksum(tmp_path):
    p = plan(tmp_path, BASE)
    saved, printed = planfile.documents(p, saved=True, printed=True)
    assert saved == planfile.to_json(p) and set(planfile.load_document(saved)) == SAVED_KEYS  # no section
    doc = orjson.loads(printed)
    assert set(doc) == SAVED_KEYS | set(tfjson.DERIVED)
    assert {k: doc[k] for k in SAVED_KEYS} == planfile.load_document(saved)  # the same body and checksum
    assert _read(saved) is None and _read(printed) is None
    # the show --json path: the saved file with its sections is the printed document, byte for byte
    assert planfile.terraform_json(saved, path="p.tfplan") == printed
    assert planfile.terraform_json(printed, path="p.json") == printed
    assert planfile.terraform_json(saved, path="p.tfplan", compact=True) == _printed(p, compact=True)


@pytest.mark.parametrize("key", [None, KEY])
def test_edited_or_missing_sections_are_refused(tmp_path, key):
    doc = orjson.loads(_printed(plan(tmp_path, BASE), key=key))
    edited = json.loads(json.dumps(doc))
    edited["planned_values"]["root_module"]["resources"][-1]["values"]["cidr"] = "10.0.96.0/24"  # what a policy reads
    cut = {k: v for k, v in doc.items() if k != "planned_values"}  # a policy tool would see no resource at all
    faked = dict(doc, terraform_version="1.9.0")
    for bad in (edited, cut, faked):
        assert _read(orjson.dumps(bad), key) == "Plan.Tampered"
    assert _read(orjson.dumps(doc), key) is None


def test_plans_saved_before_the_split_version_are_read(tmp_path):
    old = orjson.loads((DATA / "plan-format-1.json").read_bytes())  # format 1, indented JSON
    del old["ipamctl_format_version"]  # (before the split, ipamctl's version sat in format_version)
    old["format_version"] = "1"
    old["checksum"] = planfile._checksum(old)
    assert _read(orjson.dumps(old)) is None
    newer = dict(planfile.to_document(plan(tmp_path, BASE)), ipamctl_format_version="3")
    newer["checksum"] = planfile._checksum(newer)
    with pytest.raises(StateError, match="plan format '3' is not one of 1, 2"):
        planfile.read(orjson.dumps(newer), path="p.json")


@pytest.mark.parametrize("name, texts", [("plan-format-1.json", (BASE,)),
                                         ("plan-format-1-replace.json", (BASE, MOVED))])
def test_plans_of_format_1_are_read_as_they_were_saved(tmp_path, name, texts):
    """A file saved by the release before format 2 reads as the plan made now from the same specs,
    and shows as the document a format-2 plan prints (its saved resource_changes, derived now)."""
    data = (DATA / name).read_bytes()
    assert orjson.loads(data)["ipamctl_format_version"] == "1"
    recorded = converge(plan(tmp_path / "base", BASE)) if len(texts) == 2 else None
    now = plan(tmp_path / "now", texts[-1], recorded=recorded, serial=1 if recorded else 0)
    back, settings = planfile.read(data, path=name)
    assert (back.actions, back.changes, back.warnings) == (now.actions, now.changes, now.warnings)
    assert {a: dict(r) for a, r in back.desired.items()} == {a: dict(r) for a, r in now.desired.items()}
    assert settings == {"type": "sandbox"}
    shown = orjson.loads(planfile.terraform_json(data, path=name))
    printed = orjson.loads(planfile.documents(now, printed=True)[1])  # type: ignore[arg-type]
    assert shown["resource_changes"] == orjson.loads(data)["resource_changes"] == printed["resource_changes"]
    for k in tfjson.DERIVED:
        assert shown[k] == printed[k], k
    edited = data.replace(b'"serial": 1', b'"serial": 2') if recorded else data.replace(b'"name": "prod"', b'"name": "dev"', 1)
    assert edited != data and _read(edited) == "Plan.Tampered"


def test_the_saved_plan_holds_each_record_once(tmp_path):
    """Format 2: the desired records, the change set and the actions refer to one records table; the
    file is one line of JSON, gzip-compressed; reading it gives the plan that was saved."""
    recorded = converge(plan(tmp_path / "base", BASE))
    p = plan(tmp_path / "now", MOVED, recorded=recorded, serial=1)
    data = planfile.to_json(p)
    assert data[:2] == b"\x1f\x8b"
    body = planfile.load_document(data)
    records = body["records"]
    assert body["desired"]["vpc.prod"]["attributes"] == "vpc.prod"  # a key, not the attributes again
    assert records["vpc.prod"] == orjson.loads(orjson.dumps(p.desired["vpc.prod"]["attributes"]))
    change = next(c for c in body["change_set"] if c["address"] == "vpc.prod")
    assert change["after"] == "vpc.prod" and records[change["before"]]["ipv4"]["cidr"] == "10.0.0.0/20"
    refs = [r for c in body["change_set"] for r in (c.get("before"), c.get("after")) if r is not None]
    refs += [r for a in body["actions"] for r in (a.get("before"), a.get("after")) if isinstance(r, str)]
    refs += [rec["attributes"] for rec in body["desired"].values()]
    assert set(refs) == set(records)  # every record is referred to, and every reference resolves
    serialized = [orjson.dumps(v, option=orjson.OPT_SORT_KEYS) for v in records.values()]
    assert len(serialized) == len(set(serialized))  # each record once
    back, _ = planfile.read(data, path="p.tfplan")
    assert (back.actions, back.changes, back.lineage, back.serial) == (p.actions, p.changes, p.lineage, p.serial)
    assert {a: dict(r) for a, r in back.desired.items()} == {a: dict(r) for a, r in p.desired.items()}
    assert planfile.to_json(back) == data  # read and saved again: the same bytes


def test_the_document_is_byte_identical_and_compact_is_one_line(tmp_path):
    p = plan(tmp_path, BASE)
    one, indented = _printed(p, compact=True), _printed(p)
    assert one == _printed(plan(tmp_path, BASE), compact=True)
    assert one.count(b"\n") == 1 and one.endswith(b"\n") and indented.count(b"\n") > 100
    assert orjson.loads(one) == orjson.loads(indented)


def test_cli_plan_json_show_json_and_compact(ws):
    ws.write("main.yaml", BASE)
    both = ws.run("plan", "--out", "p.tfplan", "--json", check=0).stdout
    assert both.count("\n") == 1  # not a terminal: one line unless --no-compact
    assert ws.run("show", "--json", "p.tfplan", check=0).stdout == both
    saved = planfile.load_document((ws.root / "p.tfplan").read_bytes())
    assert not set(saved) & set(tfjson.DERIVED)
    indented = ws.run("plan", "--json", "--no-compact", check=0).stdout
    assert indented.count("\n") > 100 and json.loads(indented) == json.loads(both)
    assert ws.run("show", "--json", "--no-compact", "p.tfplan", check=0).stdout == indented
    assert ws.run("show", "--json", check=0).stdout.count("\n") == 1  # the state too
    assert ws.run("show", "--json", "--no-compact", check=0).stdout.count("\n") > 1
    # the printed document applies, like the saved one (plan --out bound it to this workspace)
    (ws.root / "p.json").write_text(ws.run("plan", "--json", check=0).stdout)
    ws.run("apply", "p.json", check=0)
    assert ws.json("show")["resources"]["vpc.prod"]["attributes"]["ipv4"]["cidr"] == "10.0.0.0/20"
    after = json.loads(ws.run("plan", "--json", check=0).stdout)
    assert after["changes"] is False and after["resource_changes"] == []
    assert after["prior_state"]["values"] == after["planned_values"]  # nothing changes
