"""`resource_shares:` applied into the embedded sandbox (the sandbox provider): the share made with
the pool's id and its principal, drift clean, an out-of-band deletion seen as missing, and stopping it."""

from __future__ import annotations

import json

from tests.support.crashkit import ipamctl

SPEC = """\
ipam: {name: corp, region: cn-hangzhou}
pools:
  root: {scope: private, ip_version: IPv4, cidrs: [10.0.0.0/8]}
"""


def test_a_share_applied_read_back_and_stopped(tmp_path):
    (tmp_path / "specs").mkdir()
    biz = json.loads(ipamctl(tmp_path, "sandbox", "account", "create").stdout)["AccountId"]
    (tmp_path / "specs" / "main.yaml").write_text(
        SPEC + f'resource_shares:\n  s: {{resources: [ipam_pool.root], principals: ["{biz}"]}}\n')
    applied = ipamctl(tmp_path, "apply", "--auto-approve")
    assert applied.returncode == 0, applied.stderr
    state = json.loads((tmp_path / "state" / "state.json").read_text())["resources"]
    share, pool = state["resource_share.s"]["id"], state["ipam_pool.root"]["id"]
    assoc = json.loads(ipamctl(tmp_path, "sandbox", "call", "ListResourceShareAssociations",
                               "AssociationType=Resource").stdout)["ResourceShareAssociations"]
    assert [(a["ResourceShareId"], a["EntityId"]) for a in assoc] == [(share, pool)]
    invitations = json.loads(ipamctl(tmp_path, "sandbox", "call", "ListResourceShareInvitations").stdout)
    assert invitations["ResourceShareInvitations"] == []  # the default account's own: the invitation is biz's
    clean = ipamctl(tmp_path, "drift", "--detailed-exitcode")
    assert clean.returncode == 0 and "No drift." in clean.stdout, clean.stdout + clean.stderr
    ipamctl(tmp_path, "sandbox", "call", "DeleteResourceShare", f"ResourceShareId={share}")
    drifted = ipamctl(tmp_path, "drift", "--detailed-exitcode")
    assert drifted.returncode == 2 and f"resource_share.s ({share}) is gone" in drifted.stdout
    ipamctl(tmp_path, "refresh")
    again = ipamctl(tmp_path, "plan")
    assert "+ create      resource_share.s" in again.stdout, again.stdout
    (tmp_path / "specs" / "main.yaml").write_text(SPEC)
    assert "No changes." in ipamctl(tmp_path, "plan").stdout
