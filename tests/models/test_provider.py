"""The ``provider:`` block: sandbox or alibaba, and never a credential in a spec file."""

from __future__ import annotations

BASE = "ipam: {name: corp, region: cn-hangzhou}\n"


def test_an_alibaba_provider_block_validates(ws):
    ws.write("main.yaml", BASE + "provider:\n  type: alibaba\n  region: cn-hangzhou\n  endpoint: 127.0.0.1:8080\n"
             "  protocol: http\n  endpoints: {ecs: ecs.cn-hangzhou.aliyuncs.com}\n")
    ws.run("validate", check=0)


def test_a_secret_in_the_provider_block_is_refused_without_echoing_it(ws):
    ws.write("main.yaml", BASE + "provider:\n  type: alibaba\n  region: cn-hangzhou\n"
             "  access_key_secret: s3cr3t-value-here\n")
    proc = ws.run("validate")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "Spec.ProviderSecret" in out and "specs/main.yaml:" in out
    assert "s3cr3t-value-here" not in out
    assert "Traceback" not in out


def test_alibaba_needs_a_region_and_sandbox_fields_stay_with_sandbox(ws):
    ws.write("main.yaml", BASE + "provider: {type: alibaba}\n")
    proc = ws.run("validate")
    assert proc.returncode != 0 and "Spec.ProviderRegion" in proc.stdout + proc.stderr
    ws.write("main.yaml", BASE + "provider: {type: sandbox, endpoint: 127.0.0.1:1}\n")
    proc = ws.run("validate")
    assert proc.returncode != 0 and "Spec.ProviderField" in proc.stdout + proc.stderr
    ws.write("main.yaml", BASE + "provider: {type: alibaba, region: cn-hangzhou, endpoint: 'http://x:1'}\n")
    proc = ws.run("validate")
    assert proc.returncode != 0 and "Spec.ProviderEndpoint" in proc.stdout + proc.stderr
