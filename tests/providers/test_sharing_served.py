"""Two accounts, one address plan, end to end through `ipamctl sandbox serve` (its own process, real
HTTP, the official SDK clients): the owner plans and applies its pools and a share of one
(`resource_shares:`, CreateResourceShare through the ResourceSharing SDK), the principal accepts, then applies a VPC from the shared pool in its own workspace with its own key; its
plans are refused, at plan time, every row the seed's table denies it, and the served sandbox refuses
the same rows call by call; stopping
the share (in the owner's plan) hides the pool from the principal and keeps its VPC's allocation."""

from __future__ import annotations

import json
import subprocess

import pytest
from alibabacloud_resourcesharing20200110 import models as rs_models
from alibabacloud_resourcesharing20200110.client import Client as RsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config
from alibabacloud_vpcipam20230228 import models as ipam_models
from alibabacloud_vpcipam20230228.client import Client as IpamClient

from tests.support.crashkit import ipamctl
from tests.support.served import HZ
from tests.support.via import credentials, serve_process

OWNER_SPEC = """\
ipam: {name: corp, region: cn-hangzhou, operating_regions: [cn-hangzhou]}
pools:
  root: {scope: private, ip_version: IPv4, cidrs: [10.0.0.0/8]}
  hz-prod:
    source: root
    region: cn-hangzhou
    cidrs: [10.0.0.0/16]
    allocation: {min_mask: 16, default_mask: 24, max_mask: 28}
"""


def _clean(proc: subprocess.CompletedProcess) -> str:
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out[-3000:]
    return out


def _keys(created: dict) -> dict[str, str]:
    return {"ALIBABA_CLOUD_ACCESS_KEY_ID": created["AccessKeyId"],
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": created["AccessKeySecret"]}


def _config(port: int, keys: dict[str, str]) -> Config:
    return Config(access_key_id=keys["ALIBABA_CLOUD_ACCESS_KEY_ID"],
                  access_key_secret=keys["ALIBABA_CLOUD_ACCESS_KEY_SECRET"], region_id=HZ,
                  endpoint=f"127.0.0.1:{port}", protocol="http")


def _refused(fn, request) -> str:
    with pytest.raises(ClientException) as info:
        fn(request)
    return info.value.code


def test_owner_shares_a_pool_and_the_principal_builds_a_vpc_in_it(tmp_path):
    owner, principal = tmp_path / "network", tmp_path / "payments"
    (owner / "specs").mkdir(parents=True)
    (principal / "specs").mkdir(parents=True)
    (owner / "specs" / "plan.yaml").write_text(OWNER_SPEC)
    owner_keys = credentials()
    with serve_process(owner, owner_keys) as port:
        provider = f"provider: {{type: alibaba, region: cn-hangzhou, endpoint: '127.0.0.1:{port}', protocol: http}}\n"
        (owner / "specs" / "zz-provider.yaml").write_text(provider)
        (principal / "specs" / "zz-provider.yaml").write_text(provider)

        # the principal's account, made beside the served database; its key printed once
        made = ipamctl(owner, "sandbox", "account", "create", "--name", "payments")
        assert made.returncode == 0, _clean(made)
        biz = json.loads(made.stdout)
        biz_keys = _keys(biz)

        # the owner plans its pools and a share of one with any account, and applies
        (owner / "specs" / "share.yaml").write_text(
            f'resource_shares:\n  hz-prod-to-payments: {{resources: [ipam_pool.hz-prod], principals: ["{biz["AccountId"]}"]}}\n')
        planned = ipamctl(owner, "plan", env=owner_keys)
        assert planned.returncode == 0, _clean(planned)
        assert f"shares ipam_pool.hz-prod with {biz['AccountId']}" in planned.stdout
        applied = ipamctl(owner, "apply", "--auto-approve", env=owner_keys)
        assert applied.returncode == 0, _clean(applied)[-3000:]
        owner_state = json.loads((owner / "state" / "state.json").read_text())["resources"]
        pool = owner_state["ipam_pool.hz-prod"]["id"]
        share_id = owner_state["resource_share.hz-prod-to-payments"]["id"]
        drift = ipamctl(owner, "drift", "--detailed-exitcode", env=owner_keys)
        assert drift.returncode == 0 and "No drift." in drift.stdout, _clean(drift)

        # the principal accepts the invitation (the official ResourceSharing SDK)
        rs_owner, rs_biz = RsClient(_config(port, owner_keys)), RsClient(_config(port, biz_keys))
        listed_shares = rs_owner.list_resource_shares(rs_models.ListResourceSharesRequest(resource_owner="Self"))
        assert [s.resource_share_id for s in listed_shares.body.resource_shares] == [share_id]
        ipam_biz = IpamClient(_config(port, biz_keys))
        listed = ipam_models.ListIpamPoolsRequest(region_id=HZ, max_results=100)
        assert ipam_biz.list_ipam_pools(listed).body.ipam_pools == []  # not before it accepts
        invitations = rs_biz.list_resource_share_invitations(
            rs_models.ListResourceShareInvitationsRequest()).body.resource_share_invitations
        assert [(i.resource_share_id, i.status) for i in invitations] == [(share_id, "Pending")]
        rs_biz.accept_resource_share_invitation(rs_models.AcceptResourceShareInvitationRequest(
            resource_share_invitation_id=invitations[0].resource_share_invitation_id))
        rows = ipam_biz.list_ipam_pools(listed).body.ipam_pools
        assert [(p.ipam_pool_id, p.is_shared, str(p.owner_id)) for p in rows] == [(pool, True, "1000000000000000")]

        # the principal's workspace, its own key: a VPC from the shared pool
        (principal / "specs" / "app.yaml").write_text(
            f"external_pools:\n  prod: {{id: {pool}}}\n"
            "vpcs:\n  app: {region: cn-hangzhou, ipv4: {pool: prod, mask: 24}}\n")
        built = ipamctl(principal, "apply", "--auto-approve", env=biz_keys)
        assert built.returncode == 0, _clean(built)[-3000:]
        again = ipamctl(principal, "plan", env=biz_keys)
        assert again.returncode == 0 and "No changes." in again.stdout, _clean(again)
        vpc = json.loads((principal / "state" / "state.json").read_text())["resources"]["vpc.app"]
        assert vpc["attributes"]["ipv4"]["cidr"] == "10.0.0.0/24"
        # the owner's workspace does not see the principal's VPC, and its replan is clean
        replan = ipamctl(owner, "plan", env=owner_keys)
        assert replan.returncode == 0 and "No changes." in replan.stdout, _clean(replan)

        # at plan time, the principal's workspace is refused each row the table denies it, at its line
        app = (principal / "specs" / "app.yaml").read_text()
        (principal / "specs" / "app.yaml").write_text(app.replace(
            f"prod: {{id: {pool}}}", f"prod: {{id: {pool}, cidrs: [10.1.0.0/16], allocation: {{max_mask: 26}}, "
            "auto_import: true}"))
        refused = ipamctl(principal, "plan", "--json", env=biz_keys)
        assert refused.returncode == 1, _clean(refused)
        errors = json.loads(refused.stdout)["errors"]
        assert [(e["code"], e["line"]) for e in errors] == [("Forbidden.SharedIpamPool", 2)] * 4
        for row in (" provisioning 10.1.0.0/16", "deprovisioning 10.0.0.0/16", "modifying allocation rules",
                    "enabling auto import"):
            assert sum(row in e["message"] for e in errors) == 1, (row, errors)
        (principal / "specs" / "app.yaml").write_text(app)

        # the served sandbox refuses the principal, per call, what the table denies it
        denied = {
            "provision": (ipam_biz.add_ipam_pool_cidr, ipam_models.AddIpamPoolCidrRequest(
                region_id=HZ, ipam_pool_id=pool, cidr="10.1.0.0/16")),
            "deprovision": (ipam_biz.delete_ipam_pool_cidr, ipam_models.DeleteIpamPoolCidrRequest(
                region_id=HZ, ipam_pool_id=pool, cidr="10.0.0.0/16")),
            "rules": (ipam_biz.update_ipam_pool, ipam_models.UpdateIpamPoolRequest(
                region_id=HZ, ipam_pool_id=pool, allocation_max_cidr_mask=26)),
            "auto import": (ipam_biz.update_ipam_pool, ipam_models.UpdateIpamPoolRequest(
                region_id=HZ, ipam_pool_id=pool, auto_import=True)),
            "delete": (ipam_biz.delete_ipam_pool, ipam_models.DeleteIpamPoolRequest(region_id=HZ, ipam_pool_id=pool)),
            "resources": (ipam_biz.list_ipam_resource_cidrs, ipam_models.ListIpamResourceCidrsRequest(
                region_id=HZ, ipam_pool_id=pool)),
        }
        assert {row: _refused(fn, req) for row, (fn, req) in denied.items()} == \
            {row: "Forbidden.SharedIpamPool" for row in denied}
        # ... and allows it the name and description
        ipam_biz.update_ipam_pool(ipam_models.UpdateIpamPoolRequest(region_id=HZ, ipam_pool_id=pool,
                                                                    ipam_pool_description="payments use it"))

        # stopping the share, in the owner's plan: the principal no longer sees the pool; its allocation stays
        (owner / "specs" / "share.yaml").unlink()
        stop = ipamctl(owner, "plan", env=owner_keys)
        assert "stops sharing ipam_pool.hz-prod" in stop.stdout and "the allocations they made stay" in stop.stdout
        stopped = ipamctl(owner, "apply", "--auto-approve", env=owner_keys)
        assert stopped.returncode == 0 and "1 to destroy" in stopped.stdout, _clean(stopped)
        assert ipam_biz.list_ipam_pools(listed).body.ipam_pools == []
        ipam_owner = IpamClient(_config(port, owner_keys))
        allocations = ipam_owner.list_ipam_pool_allocations(ipam_models.ListIpamPoolAllocationsRequest(
            region_id=HZ, ipam_pool_id=pool, max_results=100)).body.ipam_pool_allocations
        assert [(a.resource_id, a.cidr, str(a.resource_owner_id)) for a in allocations] == \
            [(vpc["id"], "10.0.0.0/24", biz["AccountId"])]
        gone = ipamctl(principal, "plan", env=biz_keys)
        assert gone.returncode == 1 and "ExternalPool.NotFound" in gone.stderr, _clean(gone)
        # the secrets never reach the principal's state or plan output
        assert biz["AccessKeySecret"] not in (principal / "state" / "state.json").read_text()
        assert biz["AccessKeySecret"] not in built.stdout + built.stderr + gone.stdout + gone.stderr
