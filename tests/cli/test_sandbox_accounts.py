"""`ipamctl sandbox account ...` and `sandbox directory ...`: thin commands over the sandbox's own
account operations; a key's secret is printed once, by the command that makes it."""

from __future__ import annotations

import json

from tests.support.crashkit import ipamctl


def test_accounts_users_and_a_directory(tmp_path):
    (tmp_path / "specs").mkdir()
    made = ipamctl(tmp_path, "sandbox", "account", "create", "--name", "payments")
    assert made.returncode == 0, made.stderr
    biz = json.loads(made.stdout)
    assert biz["AccountName"] == "payments" and len(biz["AccountId"]) == 16 and len(biz["AccessKeySecret"]) == 30
    policy = tmp_path / "p.json"
    policy.write_text('{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "vpc:*", "Resource": "*"}]}')
    user = ipamctl(tmp_path, "sandbox", "account", "user", "create", biz["AccountId"], "ci", "--policy", "p.json")
    assert user.returncode == 0, user.stderr
    ci = json.loads(user.stdout)
    listed = ipamctl(tmp_path, "sandbox", "account", "list")
    accounts = json.loads(listed.stdout)["Accounts"]
    assert [a["AccountName"] for a in accounts] == ["default", "payments"]
    assert accounts[1]["AccessKeyIds"] == [biz["AccessKeyId"]]
    assert accounts[1]["Users"] == [{"UserName": "ci", "HasPolicy": True, "AccessKeyIds": [ci["AccessKeyId"]]}]
    assert biz["AccessKeySecret"] not in listed.stdout and ci["AccessKeySecret"] not in listed.stdout
    rd = ipamctl(tmp_path, "sandbox", "directory", "create", "--master", "1000000000000000")
    rd_id = json.loads(rd.stdout)["ResourceDirectoryId"]
    added = ipamctl(tmp_path, "sandbox", "directory", "add-member", rd_id, biz["AccountId"])
    assert added.returncode == 0 and json.loads(added.stdout)["AccountId"] == biz["AccountId"]


def test_refusals_are_clear_errors(tmp_path):
    (tmp_path / "specs").mkdir()
    bad = tmp_path / "bad.json"
    bad.write_text('{"Version": "2"}')
    refused = ipamctl(tmp_path, "sandbox", "account", "user", "create", "1000000000000000", "u", "--policy", "bad.json")
    assert refused.returncode == 1 and "Serve.Policy" in refused.stderr and "Traceback" not in refused.stderr
    unknown = ipamctl(tmp_path, "sandbox", "account", "user", "create", "1999999999999999", "u")
    assert unknown.returncode == 1 and "EntityNotExist.Account" in unknown.stderr
    twice = [ipamctl(tmp_path, "sandbox", "account", "user", "create", "1000000000000000", "u") for _ in range(2)]
    assert twice[0].returncode == 0 and "EntityAlreadyExists.User" in twice[1].stderr
