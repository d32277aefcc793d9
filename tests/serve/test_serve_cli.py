"""``ipamctl sandbox serve`` as a real process: it listens, writes its port file, answers the SDK
clients, and ends cleanly (exit 0) on SIGTERM or SIGINT; bad options fail before serving."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alibabacloud_tea_openapi.models import Config
from alibabacloud_vpc20160428 import models as vpc_models
from alibabacloud_vpc20160428.client import Client as VpcClient
from alibabacloud_vpcipam20230228 import models as ipam_models
from alibabacloud_vpcipam20230228.client import Client as IpamClient

from reconciler.cloud.sandbox import SandboxCloud
from tests.support.served import HZ

REPO = Path(__file__).resolve().parents[2]
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}


def start(ws: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int, Path]:
    """The server process on a free port, once its port file is there: (process, port, stderr file)."""
    port_file, err = ws / "port", ws.parent / f"serve-{len(list(ws.parent.iterdir()))}.err"
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "-C", str(ws), "sandbox", "serve", "--port", "0",
                             "--port-file", "port", *args], cwd=REPO, env={**CLEAN_ENV, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    deadline = time.monotonic() + 60
    while not (port_file.exists() and port_file.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the server did not start: {err.read_text()}")
        time.sleep(0.05)
    return proc, int(port_file.read_text()), err


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()


def config(port: int, key_id: str, secret: str, v2: bool = False) -> Config:
    cfg = Config(access_key_id=key_id, access_key_secret=secret, region_id=HZ, endpoint=f"127.0.0.1:{port}",
                 protocol="http")
    if v2:
        cfg.signature_algorithm = "v2"
    return cfg


def test_the_served_process_answers_the_sdk_and_stops_cleanly_on_sigterm(tmp_path: Path):
    ws = tmp_path / "ws"
    ws.mkdir()
    proc, port, err = start(ws, "--log", "calls.log")
    try:
        text = err.read_text()
        key_id = re.search(r"access key id: (LTAI\w{20})\n", text).group(1)
        secret = re.search(r"access key secret: (\w{30})\n", text).group(1)
        assert f"serving on http://127.0.0.1:{port}" in text
        made = [VpcClient(config(port, key_id, secret, v2)).create_vpc(vpc_models.CreateVpcRequest(
            region_id=HZ, cidr_block=f"10.{i}.0.0/16")).body.vpc_id for i, v2 in enumerate((False, True))]
        ipam = IpamClient(config(port, key_id, secret))
        assert ipam.create_ipam(ipam_models.CreateIpamRequest(region_id=HZ, operating_region_list=[HZ])).body.ipam_id
    finally:
        code = stop(proc)
    text = err.read_text()
    assert code == 0, text
    assert "Traceback" not in text and text.count(secret) == 1  # shown once, at the start
    assert not (ws / "state" / "sandbox.db-wal").exists()  # closed cleanly: SQLite folds the WAL in at the last close
    with SandboxCloud(ws / "state" / "sandbox.db") as cloud:  # the workspace's own sandbox
        assert [v["VpcId"] for v in cloud.store.all("vpc")] == made
    lines = [json.loads(line) for line in (ws / "calls.log").read_text().splitlines()]
    assert [(c["action"], c["code"], c["access_key_id"]) for c in lines] == [
        ("CreateVpc", "OK", key_id), ("CreateVpc", "OK", key_id), ("CreateIpam", "OK", key_id)]
    assert secret not in (ws / "calls.log").read_text()


def test_the_key_from_the_environment_the_options_and_sigint(tmp_path: Path):
    ws = tmp_path / "ws"
    ws.mkdir()
    key = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIenvironmentkey00001", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "env-secret"}
    proc, port, err = start(ws, "--db", "elsewhere/cloud.db", "--pending", "60", "--page-size", "1", env=key)
    try:
        vpc = VpcClient(config(port, key["ALIBABA_CLOUD_ACCESS_KEY_ID"], key["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]))
        for i in range(2):
            vpc.create_vpc(vpc_models.CreateVpcRequest(region_id=HZ, cidr_block=f"10.{i}.0.0/16"))
        body = vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=HZ, page_size=10)).body
        assert (body.total_count, body.page_size, [v.status for v in body.vpcs.vpc]) == (2, 1, ["Pending"])
    finally:
        code = stop(proc, signal.SIGINT)
    text = err.read_text()
    assert code == 0, text
    assert "access key" not in text and "env-secret" not in text  # nothing generated, nothing shown
    assert (ws / "elsewhere" / "cloud.db").is_file() and not (ws / "state" / "sandbox.db").exists()


@pytest.mark.parametrize("policy, words", [
    ('{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "vpc:*", "Resource": "acs:vpc:*"}]}',
     'only "*" is supported'),
    ("{broken", "is not JSON"),
])
def test_a_bad_policy_fails_before_serving(tmp_path: Path, policy: str, words: str):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "policy.json").write_text(policy)
    proc = subprocess.run([sys.executable, "-m", "reconciler", "-C", str(ws), "sandbox", "serve", "--port-file",
                           "port", "--policy", "policy.json"], cwd=REPO, env=CLEAN_ENV, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert "Serve.Policy" in proc.stderr and words in proc.stderr and "Traceback" not in proc.stderr
    assert not (ws / "port").exists()


@pytest.mark.parametrize("provider, db", [
    ("provider:\n  type: sandbox\n  path: state/other.db\n", "state/other.db"),
    ("provider:\n  type: alibaba\n  region: cn-hangzhou\n", "state/sandbox.db"),
    ("", "state/sandbox.db"),
])
def test_the_default_database_is_the_workspace_sandbox(tmp_path: Path, provider: str, db: str):
    from reconciler.cli.sandbox import _default_db
    from reconciler.workspace import Workspace

    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "00-provider.yaml").write_text(provider)
    assert _default_db(Workspace(tmp_path)) == (tmp_path / db).resolve()
