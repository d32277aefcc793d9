"""The saved plan's integrity: the unkeyed checksum (accidental edits and truncation) and the
HMAC-SHA256 signature made with a key (deliberate edits), and the lineage a plan is bound to."""

from __future__ import annotations

import hashlib
import hmac

import orjson
import pytest

from reconciler.errors import StateError
from reconciler.plans import planfile
from tests.support.specs import BASE, plan

KEY = b"a key from the environment"


@pytest.fixture
def planned(tmp_path):
    made = plan(tmp_path, BASE)
    return type(made)("lineage-a", 0, made.actions, made.changes, made.desired)


def _canonical(body: dict) -> bytes:
    return orjson.dumps({k: v for k, v in body.items() if k not in ("checksum", "signature")},
                        option=orjson.OPT_SORT_KEYS)


def _code(data: bytes, key: bytes | None, lineage: str | None = "lineage-a", serial: int = 0) -> str | None:
    try:
        planfile.from_json(data, path="p.tfplan", lineage=lineage, serial=serial, key=key)
    except StateError as exc:
        assert KEY.decode() not in str(exc)
        return exc.code
    return None


def test_unkeyed_plans_are_as_before(planned):
    data = planfile.to_json(planned)
    body = planfile.load_document(data)
    assert "signature" not in body
    assert body["checksum"] == hashlib.sha256(_canonical(body)).hexdigest()
    assert body == planfile.to_document(planned)
    assert _code(data, None) is None


def test_a_keyed_plan_carries_an_hmac_of_its_content_and_not_the_key(planned):
    data = planfile.to_json(planned, key=KEY)
    body = planfile.load_document(data)
    assert body["signature"] == "hmac-sha256:" + hmac.new(KEY, _canonical(body), hashlib.sha256).hexdigest()
    assert body["checksum"] == hashlib.sha256(_canonical(body)).hexdigest()  # the checksum is as unkeyed
    assert body == planfile.to_document(planned, key=KEY)
    assert KEY not in data
    assert _code(data, KEY) is None
    assert _code(data, None) is None  # without a key, a signature is not checked (behaviour as before)


def test_forged_unsigned_and_wrongly_signed_plans_are_refused_with_a_key(planned):
    body = planfile.load_document(planfile.to_json(planned, key=KEY))
    forged = orjson.loads(orjson.dumps(body).replace(b"10.0.0.0/20", b"10.0.96.0/20"))
    assert forged != body
    forged["checksum"] = planfile._checksum(forged)
    assert _code(orjson.dumps(forged), None) is None  # the checksum alone does not stop a forger
    assert _code(orjson.dumps(forged), KEY) == "Plan.BadSignature"
    assert _code(planfile.to_json(planned), KEY) == "Plan.Unsigned"
    assert _code(planfile.to_json(planned, key=b"another key"), KEY) == "Plan.BadSignature"
    for bad in (None, 7, "", "hmac-sha256:", body["signature"].upper(), "hmac-sha256:\u00e9"):
        assert _code(orjson.dumps(dict(body, signature=bad)), KEY) in ("Plan.BadSignature", "Plan.Unsigned")
    # an edit without a recomputed checksum is still Plan.Tampered, keyed or not
    edited = orjson.dumps(dict(body, serial=3))
    assert _code(edited, KEY, serial=3) == _code(edited, None, serial=3) == "Plan.Tampered"


def test_a_plan_applies_only_to_the_lineage_it_was_made_for(planned, tmp_path):
    data = planfile.to_json(planned)
    assert _code(data, None, lineage="lineage-b") == "Plan.WrongWorkspace"
    assert _code(data, None, lineage=None) == "Plan.WrongWorkspace"  # a workspace with no lineage yet
    unbound = planfile.to_json(plan(tmp_path, BASE))  # made against a state never written: no lineage
    assert _code(unbound, None, lineage="lineage-a") == "Plan.Unbound"
