"""Issue 17: the sandbox counts an Available ENI's addresses and IPv4 prefixes together (10
addresses, 50 entries: the primary, secondary addresses and prefixes), as the planner does."""

from __future__ import annotations

from tests.support.sandbox import eni_row, make_net, new_eni, refused


def prefixes(r) -> list[str]:
    return [s["Ipv4Prefix"] for s in r["Ipv4PrefixSets"]["Ipv4PrefixSet"]]


def test_available_eni_takes_50_ipv4_entries_addresses_and_prefixes_together(cloud):
    net = make_net(cloud, "10.0.0.0/20")
    eni = new_eni(cloud, net, SecondaryPrivateIpAddressCount=9)  # ten addresses, the primary included
    for _ in range(4):
        cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": eni, "Ipv4PrefixCount": 10})
    assert len(prefixes(eni_row(cloud, eni))) == 40  # 10 + 40 = 50 entries
    refused(cloud, "InvalidOperation.Ipv4CountExceeded", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "Ipv4PrefixCount": 1})
    # and the other way: 49 prefixes leave no room for a secondary address
    other = new_eni(cloud, net, Ipv4PrefixCount=9)
    for _ in range(4):
        cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": other, "Ipv4PrefixCount": 10})
    refused(cloud, "InvalidOperation.Ipv4CountExceeded", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": other, "SecondaryPrivateIpAddressCount": 1})


def test_create_refuses_addresses_and_prefixes_over_50_entries(cloud):
    net = make_net(cloud, "10.0.0.0/20")
    eni = new_eni(cloud, net, SecondaryPrivateIpAddressCount=9, Ipv4PrefixCount=10)
    for _ in range(3):
        cloud.call("AssignPrivateIpAddresses", {"NetworkInterfaceId": eni, "Ipv4PrefixCount": 10})
    refused(cloud, "InvalidOperation.Ipv4CountExceeded", "AssignPrivateIpAddresses",
            {"NetworkInterfaceId": eni, "Ipv4PrefixCount": 1})
