"""render-os-config follows the seed (issue 17, item 15): only an attached ENI, a secondary ENI is its
own interface, and IPv4 prefixes, IPv6 addresses and IPv6 prefixes are rendered for every OS family."""

from __future__ import annotations

import pytest

from reconciler.errors import ReconcilerError
from reconciler.report.guest_config import OS_FAMILIES, guest_network, render

VSW = {"type": "vswitch", "id": "vsw-1", "attributes": {"cidr": "10.0.0.0/24", "ipv6_cidr": "2408:4000:0:1::/64"}}
INSTANCE = {"type": "instance", "id": "i-1", "attributes": {}}


def eni(**attrs):
    base = {"vswitch": "a", "primary": False, "instance": "web", "primary_ip": "10.0.0.3",
            "secondary_private_ips": [], "ipv4_prefixes": [], "ipv6_addresses": [], "ipv6_prefixes": []}
    return {"type": "eni", "id": "eni-x", "attributes": {**base, **attrs}}


def state(**enis):
    return {"vswitch.a": VSW, "instance.web": INSTANCE, **{f"eni.{k}": v for k, v in enis.items()}}


def test_an_eni_not_attached_is_refused_naming_it():
    resources = state(spare=eni(instance=None, secondary_private_ips=["10.0.0.9"]))
    with pytest.raises(ReconcilerError) as caught:
        guest_network(resources, "eni.spare")
    assert caught.value.code == "GuestConfig.EniNotAttached" and caught.value.address == "eni.spare"
    assert "eni-x" in caught.value.detail and "attached" in caught.value.detail


def test_secondary_enis_are_their_own_interfaces_in_address_order():
    resources = state(b=eni(), a=eni(), p=eni(primary=True, secondary_private_ips=["10.0.0.5"]))
    assert guest_network(resources, "eni.p").device == "eth0"
    assert guest_network(resources, "eni.a").device == "eth1"
    assert guest_network(resources, "eni.b").device == "eth2"
    rhel = render(guest_network(resources, "eni.b"), "rhel")
    assert "# /etc/sysconfig/network-scripts/ifcfg-eth2\nDEVICE=eth2\n" in rhel and "IPADDR=10.0.0.3" in rhel
    assert "eth0" not in rhel
    assert guest_network(resources, "eni.b", "ens6").device == "ens6"


@pytest.mark.parametrize("family", OS_FAMILIES)
def test_prefixes_and_ipv6_are_rendered(family):
    resources = state(e=eni(secondary_private_ips=["10.0.0.4"], ipv4_prefixes=["10.0.0.16/28"],
                            ipv6_addresses=["2408:4000:0:1::a", "2408:4000:0:1::b"],
                            ipv6_prefixes=["2408:4000:0:1:1::/80"]))
    net = guest_network(resources, "eni.e")
    assert net.addresses[0] == "10.0.0.4" and net.addresses[1:] == tuple(f"10.0.0.{i}" for i in range(16, 32))
    text = render(net, family)
    for ip in ("10.0.0.4", "10.0.0.16", "10.0.0.31", "2408:4000:0:1::a", "2408:4000:0:1::b",
               "2408:4000:0:1:1::/80"):
        assert ip in text, (family, ip)
    assert "10.0.0.32" not in text and "10.0.0.15" not in text
    if family != "windows":
        assert "2408:4000:0:1::a/64" in text
    if family in ("rhel", "debian"):
        assert "local 2408:4000:0:1:1::/80 dev eth1" in text


def test_an_eni_with_only_an_ipv6_prefix_is_not_empty():
    resources = state(p=eni(primary=True, ipv6_prefixes=["2408:4000:0:1:1::/80"]))
    assert "local 2408:4000:0:1:1::/80 dev eth0" in render(guest_network(resources, "eni.p"), "debian")
