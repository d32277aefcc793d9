"""The served sandbox's signature checks: what the SDK sends passes, anything else is refused with the
cloud's code. Raw requests are signed with the SDK's own helpers (tests/support/served.py)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from alibabacloud_vpc20160428 import models as vpc_models
from Tea.exceptions import TeaException

from reconciler.serve.signature import NonceCache, generate_key, key_from_env
from tests.support.served import HZ, VPC, Served, acs3_request, send, utc, v1_url

DESCRIBE = {"RegionId": HZ}


@pytest.mark.parametrize("v2", [False, True], ids=["ACS3-HMAC-SHA256", "HMAC-SHA1"])
def test_a_wrong_secret_is_signature_does_not_match(srv: Served, v2: bool):
    client = srv.vpc(v2=v2, secret="not-the-secret-at-all-000000000")
    with pytest.raises(TeaException) as info:
        client.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=HZ))
    assert (info.value.code, info.value.data["statusCode"]) == ("SignatureDoesNotMatch", 400)
    assert srv.key.secret not in str(info.value.data)
    assert [c["code"] for c in srv.calls()] == ["SignatureDoesNotMatch"]
    assert srv.key.secret.encode() not in srv.log.read_bytes()


@pytest.mark.parametrize("v2", [False, True], ids=["ACS3-HMAC-SHA256", "HMAC-SHA1"])
def test_an_unknown_key_is_not_found(srv: Served, v2: bool):
    client = srv.vpc(v2=v2, key_id="LTAI00000000000000000000")
    with pytest.raises(TeaException) as info:
        client.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=HZ))
    assert (info.value.code, info.value.data["statusCode"]) == ("InvalidAccessKeyId.NotFound", 404)


def test_a_replayed_v1_request_is_refused(srv: Served):
    target = v1_url(srv, "CreateVpc", VPC, {"RegionId": HZ, "CidrBlock": "10.0.0.0/16"})
    status, body = send(srv, target)
    assert status == 200 and body["VpcId"].startswith("vpc-")
    status, again = send(srv, target)
    assert (status, again["Code"]) == (400, "SignatureNonceUsed")
    status, listed = send(srv, v1_url(srv, "DescribeVpcs", VPC, DESCRIBE))
    assert status == 200 and listed["TotalCount"] == 1  # the replay created nothing


def test_a_replayed_acs3_request_is_refused(srv: Served):
    target, headers = acs3_request(srv, "CreateVpc", VPC, {"RegionId": HZ, "CidrBlock": "10.0.0.0/16"})
    assert send(srv, target, headers=headers)[0] == 200
    status, body = send(srv, target, headers=headers)
    assert (status, body["Code"]) == (400, "SignatureNonceUsed")


def test_a_bad_signature_does_not_spend_the_nonce(srv: Served):
    good = v1_url(srv, "DescribeVpcs", VPC, DESCRIBE, nonce="nonce-1")
    forged = v1_url(srv, "DescribeVpcs", VPC, DESCRIBE, nonce="nonce-1", secret="wrong-secret")
    assert send(srv, forged)[1]["Code"] == "SignatureDoesNotMatch"
    assert send(srv, good)[0] == 200


@pytest.mark.parametrize("minutes", [-20, 20])
def test_a_time_out_of_the_window_is_expired(srv: Served, minutes: int):
    old = utc(minutes * 60)
    status, body = send(srv, v1_url(srv, "DescribeVpcs", VPC, DESCRIBE, timestamp=old))
    assert (status, body["Code"]) == (400, "InvalidTimeStamp.Expired")
    target, headers = acs3_request(srv, "DescribeVpcs", VPC, DESCRIBE, date=old)
    status, body = send(srv, target, headers=headers)
    assert (status, body["Code"]) == (400, "InvalidTimeStamp.Expired")
    status, body = send(srv, v1_url(srv, "DescribeVpcs", VPC, DESCRIBE, timestamp=utc(10 * 60)))
    assert status == 200  # 10 minutes off is inside the 15-minute window


def test_a_malformed_time_is_a_format_error(srv: Served):
    status, body = send(srv, v1_url(srv, "DescribeVpcs", VPC, DESCRIBE, timestamp="yesterday"))
    assert (status, body["Code"]) == (400, "InvalidTimeStamp.Format")


def test_a_changed_parameter_breaks_the_signature(srv: Served):
    target = v1_url(srv, "CreateVpc", VPC, {"RegionId": HZ, "CidrBlock": "10.0.0.0/16"})
    status, body = send(srv, target.replace("10.0.0.0", "10.9.0.0"))
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    assert "server string to sign is:POST&%2F&" in body["Message"]
    target, headers = acs3_request(srv, "CreateVpc", VPC, {"RegionId": HZ, "CidrBlock": "10.0.0.0/16"})
    status, body = send(srv, target.replace("10.0.0.0", "10.9.0.0"), headers=headers)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    assert send(srv, v1_url(srv, "DescribeVpcs", VPC, DESCRIBE))[1]["TotalCount"] == 0


def test_the_acs3_body_hash_is_checked_and_form_bodies_are_parameters(srv: Served):
    form = urlencode({"RegionId": HZ, "CidrBlock": "10.4.0.0/16"}).encode()
    target, headers = acs3_request(srv, "CreateVpc", VPC, {}, body=form)
    status, body = send(srv, target, headers=headers, body=form)
    assert status == 200, body
    target, headers = acs3_request(srv, "CreateVpc", VPC, {}, body=form)
    tampered = form.replace(b"10.4", b"10.5")
    status, body = send(srv, target, headers=headers, body=tampered)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch") and "x-acs-content-sha256" in body["Message"]
    listed = send(srv, v1_url(srv, "DescribeVpcs", VPC, DESCRIBE))[1]["Vpcs"]["Vpc"]
    assert [v["CidrBlock"] for v in listed] == ["10.4.0.0/16"]


def test_missing_signing_parts_are_incomplete(srv: Served):
    status, body = send(srv, "/?" + urlencode({"Action": "DescribeVpcs", "Version": VPC, "RegionId": HZ}))
    assert (status, body["Code"]) == (400, "IncompleteSignature")
    target = v1_url(srv, "DescribeVpcs", VPC, DESCRIBE)
    status, body = send(srv, target.replace("SignatureNonce=", "Nonce="))
    assert (status, body["Code"]) == (400, "IncompleteSignature") and "SignatureNonce" in body["Message"]
    target, headers = acs3_request(srv, "DescribeVpcs", VPC, DESCRIBE)
    del headers["x-acs-signature-nonce"]
    status, body = send(srv, target, headers=headers)
    assert (status, body["Code"]) == (400, "IncompleteSignature")
    target, headers = acs3_request(srv, "DescribeVpcs", VPC, DESCRIBE)
    headers["x-acs-extra"] = "not signed"
    status, body = send(srv, target, headers=headers)
    assert (status, body["Code"]) == (400, "IncompleteSignature") and "x-acs-extra" in body["Message"]


def test_the_nonce_cache_forgets_by_time_and_stays_bounded():
    now = [1000.0]
    cache = NonceCache(limit=3, clock=lambda: now[0])
    assert cache.use("k", "a", 1100.0) and not cache.use("k", "a", 1100.0)
    assert cache.use("other-key", "a", 1100.0)  # nonces are per access key
    now[0] = 1101.0
    assert cache.use("k", "a", 2000.0)  # expired, so usable again
    for n in "bcdef":
        cache.use("k", n, 2000.0)
    assert len(cache) <= 4


def test_generated_keys_and_keys_from_the_environment():
    a, b = generate_key(), generate_key()
    assert a.id.startswith("LTAI") and len(a.id) == 24 and len(a.secret) == 30 and a != b
    assert a.secret not in repr(a)
    assert key_from_env({"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIx", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s"}).id == "LTAIx"
    assert key_from_env({"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIx"}) is None
