"""Saved plans through the real `ipamctl` process: bound to the workspace they were made in (even
before its first apply), and signed with ``IPAMCTL_PLAN_KEY`` when that is set."""

from __future__ import annotations

import json
import os

import orjson
import pytest

from reconciler.plans import planfile
from reconciler.states.local import LINEAGE
from tests.conftest import Workspace
from tests.support.specs import BASE

pytestmark = pytest.mark.both_providers  # embedded, and through `sandbox serve` (tests/support/via.py)

KEY = "s3cret-plan-key-0123456789"


@pytest.fixture
def two(tmp_path) -> tuple[Workspace, Workspace]:
    a, b = Workspace(tmp_path / "a"), Workspace(tmp_path / "b")
    a.write("main.yaml", BASE)
    b.write("main.yaml", BASE)
    return a, b


def _files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _forge(path, edits: dict[str, str]) -> None:
    """Edit the plan as a forger would: change CIDRs and recompute the unkeyed checksum."""
    text = orjson.dumps(planfile.load_document(path.read_bytes()))  # the JSON a saved plan compresses
    for old, new in edits.items():
        text = text.replace(old.encode(), new.encode())
    body = orjson.loads(text)
    body["checksum"] = planfile._checksum(body)
    path.write_bytes(orjson.dumps(body))


# -- item 4: a plan is bound to its workspace ---------------------------------------------------


def test_a_plan_made_on_an_empty_workspace_never_applies_in_another(two, tmp_path):
    a, b = two
    saved = tmp_path / "p.tfplan"
    a.run("plan", "--out", str(saved), check=0)
    lineage = planfile.load_document(saved.read_bytes())["lineage"]
    assert lineage and (a.root / "state" / LINEAGE).read_text().strip() == lineage
    refused = b.run("apply", str(saved))
    assert refused.returncode == 1 and "Plan.WrongWorkspace" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert b.json("show")["resources"] == {}
    assert not (b.root / "state" / "sandbox.db").exists()  # not one call was made in B
    # a fresh B that has fixed its own lineage (its own plan --out) refuses it too
    b.run("plan", "--out", str(tmp_path / "b.tfplan"), check=0)
    again = b.run("apply", str(saved))
    assert again.returncode == 1 and "Plan.WrongWorkspace" in again.stderr
    assert b.json("show")["resources"] == {}
    # and in A, where it was made, it applies; the state keeps the lineage the plan carried
    a.run("apply", str(saved), check=0)
    state = json.loads((a.root / "state" / "state.json").read_text())
    assert state["lineage"] == lineage and state["resources"]


def test_plans_saved_twice_on_an_empty_workspace_carry_the_same_lineage(ws, tmp_path):
    ws.write("main.yaml", BASE)
    ws.run("plan", "--out", str(tmp_path / "1.tfplan"), check=0)
    ws.run("plan", "--out", str(tmp_path / "2.tfplan"), check=0)
    one, two = (planfile.load_document((tmp_path / n).read_bytes()) for n in ("1.tfplan", "2.tfplan"))
    assert one["lineage"] == two["lineage"] is not None
    assert one["checksum"] == two["checksum"]  # the same plan, byte for byte
    ws.run("apply", str(tmp_path / "2.tfplan"), check=0)
    stale = ws.run("apply", str(tmp_path / "1.tfplan"))
    assert stale.returncode == 1 and "StalePlan" in stale.stderr


def test_a_plan_printed_without_out_on_an_empty_workspace_applies_nowhere(two, tmp_path):
    a, b = two
    printed = tmp_path / "p.json"
    printed.write_text(a.run("plan", "--json", check=0).stdout)
    assert json.loads(printed.read_text())["lineage"] is None
    for w in (a, b):
        refused = w.run("apply", str(printed))
        assert refused.returncode == 1 and "Plan.Unbound" in refused.stderr, refused.stderr
        assert "plan --out" in refused.stderr and "Traceback" not in refused.stderr
        assert w.json("show")["resources"] == {}


def test_plan_without_out_writes_nothing(ws):
    ws.write("main.yaml", BASE)
    before = _files(ws.root)
    ws.run("plan", check=0)
    ws.run("plan", "--json", check=0)
    assert _files(ws.root) == before  # no lineage file, no state folder: plan needs no write


# -- item 5: signed plans ----------------------------------------------------------------------


def test_a_forged_plan_applies_without_a_key_and_is_refused_with_one(ws, tmp_path, monkeypatch):
    ws.write("main.yaml", BASE)
    saved = tmp_path / "p.tfplan"
    monkeypatch.setenv("IPAMCTL_PLAN_KEY", KEY)
    ws.run("plan", "--out", str(saved), check=0)
    body = planfile.load_document(saved.read_bytes())
    assert body["signature"].startswith("hmac-sha256:")
    _forge(saved, {"10.0.0.0/20": "10.0.96.0/20", "10.0.0.0/24": "10.0.96.0/24"})
    refused = ws.run("apply", str(saved))
    assert refused.returncode == 1 and "Plan.BadSignature" in refused.stderr, refused.stderr
    assert ws.json("show")["resources"] == {}
    # the unkeyed checksum alone does not stop a forger (documented): without a key it applies
    monkeypatch.delenv("IPAMCTL_PLAN_KEY")
    ws.run("apply", str(saved), check=0)
    recorded = ws.json("show")["resources"]
    assert recorded["vpc.prod"]["attributes"]["ipv4"]["cidr"] == "10.0.96.0/20"
    assert recorded["vswitch.prod-h"]["attributes"]["cidr"] == "10.0.96.0/24"


def test_signed_plans_apply_with_the_key_only(ws, tmp_path, monkeypatch):
    ws.write("main.yaml", BASE)
    unsigned, signed = tmp_path / "unsigned.tfplan", tmp_path / "signed.tfplan"
    ws.run("plan", "--out", str(unsigned), check=0)
    assert "signature" not in planfile.load_document(unsigned.read_bytes())
    monkeypatch.setenv("IPAMCTL_PLAN_KEY", KEY)
    made = ws.run("plan", "--out", str(signed), check=0)
    printed = ws.run("plan", "--json", check=0)
    refused = ws.run("apply", str(unsigned))
    assert refused.returncode == 1 and "Plan.Unsigned" in refused.stderr, refused.stderr
    monkeypatch.setenv("IPAMCTL_PLAN_KEY", KEY + "x")
    wrong = ws.run("apply", str(signed))
    assert wrong.returncode == 1 and "Plan.BadSignature" in wrong.stderr, wrong.stderr
    monkeypatch.setenv("IPAMCTL_PLAN_KEY", "")
    empty = ws.run("apply", str(signed))
    assert empty.returncode == 1 and "Plan.EmptyKey" in empty.stderr and "Traceback" not in empty.stderr
    assert ws.json("show")["resources"] == {}
    monkeypatch.setenv("IPAMCTL_PLAN_KEY", KEY)
    applied = ws.run("apply", str(signed), check=0)
    # the key is in none of what was written or shown
    seen = [orjson.dumps(planfile.load_document(signed.read_bytes())).decode(), printed.stdout, made.stdout, made.stderr, refused.stderr, wrong.stderr,
            empty.stderr, applied.stdout, applied.stderr]
    seen += [p.read_text(errors="replace") for p in (ws.root / "state").iterdir() if p.is_file()
             and p.suffix != ".db"]
    assert not [s for s in seen if KEY in s]
    assert os.environ["IPAMCTL_PLAN_KEY"] == KEY
