"""The alibaba provider end to end: the bundled example applied through the official SDKs to a
sandbox served over HTTP, and what goes wrong on the way -- a wrong secret, a throttled endpoint, a
server stopped in the middle of an apply, slow asynchronous creates, small pages, and a RAM policy:
each a clear error or a successful retry, never a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

from alibabacloud_vpc20160428 import models as vpc_models

from reconciler.cloud.realism import Realism
from tests.support.crashkit import converged, ipamctl, popen
from tests.support.served import HZ
from tests.support.via import credentials, provider_yaml, serve_process, serving

REPO = Path(__file__).resolve().parents[2]


def _example(tmp_path: Path, name: str = "ws") -> Path:
    root = tmp_path / name
    shutil.copytree(REPO / "specs", root / "specs")
    return root


def _clean(proc: subprocess.CompletedProcess) -> str:
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out[-3000:]
    return out


def test_the_example_applies_replans_and_drifts_clean_through_a_served_sandbox_process(tmp_path):
    """`ipamctl sandbox serve` as its own process, the example applied through it, then an out-of-band
    change made with the unmodified SDK that drift reports."""
    root = _example(tmp_path)
    with serve_process(root, credentials()) as port:
        (root / "specs" / "zz-provider.yaml").write_text(
            f"provider: {{type: alibaba, region: cn-hangzhou, endpoint: '127.0.0.1:{port}', protocol: http}}\n")
        creds = credentials()
        applied = ipamctl(root, "apply", "--auto-approve", env=creds)
        assert applied.returncode == 0, _clean(applied)[-3000:]
        assert "Apply complete: 60 actions." in applied.stdout
        replan = ipamctl(root, "plan", env=creds)
        assert replan.returncode == 0 and "No changes." in replan.stdout, _clean(replan)
        clean = ipamctl(root, "drift", "--detailed-exitcode", env=creds)
        assert clean.returncode == 0 and "No drift." in clean.stdout, _clean(clean)

        from alibabacloud_tea_openapi.models import Config
        from alibabacloud_vpc20160428.client import Client

        state = json.loads((root / "state" / "state.json").read_text())
        vpc_id = state["resources"]["vpc.trade-prod"]["id"]
        sdk = Client(Config(access_key_id=creds["ALIBABA_CLOUD_ACCESS_KEY_ID"],
                            access_key_secret=creds["ALIBABA_CLOUD_ACCESS_KEY_SECRET"], region_id=HZ,
                            endpoint=f"127.0.0.1:{port}", protocol="http"))
        sdk.modify_vpc_attribute(vpc_models.ModifyVpcAttributeRequest(region_id=HZ, vpc_id=vpc_id,
                                                                      description="changed by hand"))
        drifted = ipamctl(root, "drift", "--detailed-exitcode", env=creds)
        assert drifted.returncode == 2, _clean(drifted)
        assert "vpc.trade-prod" in drifted.stdout and "changed by hand" in drifted.stdout


def test_a_wrong_secret_is_a_clear_error_that_never_shows_the_secret(tmp_path):
    root = _example(tmp_path)
    with serving(root) as (_s, env):
        wrong = {**env, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "this-secret-is-wrong-0123456789"}
        proc = ipamctl(root, "apply", "--auto-approve", env=wrong)
        out = _clean(proc)
        assert proc.returncode == 1 and "SignatureDoesNotMatch" in out and "request id" in out
        assert "this-secret-is-wrong" not in out and env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] not in out
        assert not (root / "state" / "state.json").exists() or json.loads(
            (root / "state" / "state.json").read_text())["resources"] == {}
        unknown = ipamctl(root, "plan", env={**env, "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAInobodyhasthiskey"})
        assert unknown.returncode == 1 and "InvalidAccessKeyId.NotFound" in _clean(unknown)


def test_a_throttled_endpoint_is_retried_with_the_same_token_and_nothing_is_doubled(tmp_path):
    root = _example(tmp_path)
    with serving(root, throttle=8.0, log=tmp_path / "calls.log") as (s, env):
        applied = ipamctl(root, "apply", "--auto-approve", env=env, timeout=300)
        assert applied.returncode == 0, _clean(applied)[-3000:]
        codes = [c["code"] for c in s.calls()]
        assert codes.count("Throttling.User") > 0, "the rate was never reached: the test proves nothing"
        again = ipamctl(root, "plan", env=env, timeout=300)
        assert again.returncode == 0 and "No changes." in again.stdout, _clean(again)
    assert converged(root) == []


def test_slow_creates_and_small_pages_are_waited_for_and_paged_through(tmp_path):
    root = _example(tmp_path)
    with serving(root, realism=Realism(pending_seconds=0.4, max_page=2), log=tmp_path / "calls.log") as (s, env):
        applied = ipamctl(root, "apply", "--auto-approve", env=env, timeout=300)
        assert applied.returncode == 0, _clean(applied)[-3000:]
        calls = s.calls()
        assert any(c["code"] == "OK" and c["action"] == "DescribeVpcs" for c in calls)
        drift = ipamctl(root, "drift", "--detailed-exitcode", env=env)
        assert drift.returncode == 0 and "No drift." in drift.stdout, _clean(drift)
        paged = [c for c in s.calls()[len(calls):] if c["action"] in ("ListIpamPools", "DescribeVSwitches")]
        assert len(paged) > 4  # the example has 10 pools and 5 vSwitches: pages of 2
    assert converged(root) == []


def test_a_server_stopped_in_the_middle_of_an_apply(tmp_path):
    """A clear error and a record of what was done; the next apply, once the server is back, finishes."""
    root = _example(tmp_path)
    log = tmp_path / "calls.log"
    with serving(root, log=log) as (s, env):
        apply = popen(root, "apply", "--auto-approve", env=env)
        for _ in range(600):
            if log.exists() and len(log.read_bytes().splitlines()) >= 30:
                break
            time.sleep(0.02)
        s.server.close()
        port = s.port
        out, err = apply.communicate(timeout=120)
    assert apply.returncode == 1, out + err
    assert "Traceback" not in out + err
    assert "Provider.Unreachable" in err and "no answer from 127.0.0.1:" in err, err
    assert "carried out and are recorded in the state" in err
    # recovery re-issues the calls in flight to the endpoint they went to: the server comes back there
    with serving(root, port=port) as (_s2, env2):
        final = ipamctl(root, "apply", "--auto-approve", env=env2)
        assert final.returncode == 0, _clean(final)[-3000:]
        replan = ipamctl(root, "plan", env=env2)
        assert "No changes." in replan.stdout, _clean(replan)
    assert converged(root) == []


def test_no_server_at_all_is_a_clear_error(tmp_path):
    root = _example(tmp_path)
    (root / "specs" / "zz-provider.yaml").write_text(
        "provider: {type: alibaba, region: cn-hangzhou, endpoint: '127.0.0.1:9', protocol: http, retries: 1}\n")
    proc = ipamctl(root, "plan", env=credentials())
    out = _clean(proc)
    assert proc.returncode == 1 and "Provider.Unreachable" in out and "127.0.0.1:9" in out
