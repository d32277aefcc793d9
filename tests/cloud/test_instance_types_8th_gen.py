"""The 8th-generation sizes above 8xlarge that a source gives (issue 17, item 16): ecs.g8i.48xlarge."""

from __future__ import annotations

import json

from reconciler.cloud.sandbox import SandboxCloud
from reconciler.net import eni_limits as L
from tests.support.sandbox import make_net, new_eni, new_instance


def test_g8i_48xlarge_is_in_the_table_with_its_source():
    t = L.load_instance_types()["ecs.g8i.48xlarge"]
    assert (t.eni_quantity, t.ipv4_per_eni, t.ipv6_per_eni) == (15, 50, 50)
    raw = json.loads(L.DATA_FILE.read_text())["instance_types"]["ecs.g8i.48xlarge"]
    assert "issue 17" in raw["notes"]
    # the sizes no source gives stay out (README says so)
    table = json.loads(L.DATA_FILE.read_text())["instance_types"]
    for family in ("g8i", "c8i", "r8i"):
        for size in ("12xlarge", "16xlarge", "24xlarge", "32xlarge"):
            assert f"ecs.{family}.{size}" not in table


def test_the_sandbox_takes_an_eni_with_50_addresses_on_g8i_48xlarge(tmp_path):
    cloud = SandboxCloud(tmp_path / "sandbox.db")
    net = make_net(cloud, "10.0.0.0/24")
    iid, _ = new_instance(cloud, net, "ecs.g8i.48xlarge")
    eni = new_eni(cloud, net)
    cloud.call("AttachNetworkInterface", {"RegionId": net.region, "NetworkInterfaceId": eni, "InstanceId": iid})
    for _ in range(4):
        cloud.call("AssignPrivateIpAddresses", {"RegionId": net.region, "NetworkInterfaceId": eni,
                                                "SecondaryPrivateIpAddressCount": "10"})
    got = cloud.call("AssignPrivateIpAddresses", {"RegionId": net.region, "NetworkInterfaceId": eni,
                                                  "SecondaryPrivateIpAddressCount": "9"})
    assert got
    cloud.close()
