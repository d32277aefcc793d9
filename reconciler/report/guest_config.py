"""Guest configuration for an ENI's secondary private IPv4 addresses, as the ECS guide describes it.

The guide ("configure the assigned secondary private IPs inside the instance") gives one recipe per
OS family: ifcfg-ethN:M files (RHEL, CentOS, Alibaba Cloud Linux), an /etc/network/interfaces stanza
per address (Debian, Ubuntu), IPADDR_N / NETMASK_N / LABEL_N lines in ifcfg-ethN (SLES, openSUSE;
NETMASK_N is the prefix length there), and, for Windows, the addresses and the gateway added to the
adapter (here as netsh commands). The netmask is the vSwitch's; the gateway is the vSwitch's
third-last address (x.x.x.253 in a /24), which the cloud keeps for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.errors import ReconcilerError
from reconciler.net.cidr import Cidr, format_address

OS_FAMILIES = ("rhel", "debian", "sles", "windows")


@dataclass(frozen=True)
class GuestNetwork:
    device: str  # eth0 for an instance's primary ENI, eth1... for the others
    addresses: tuple[str, ...]  # secondary private IPv4 addresses
    vswitch: Cidr

    @property
    def netmask(self) -> str:
        return self.vswitch.netmask

    @property
    def gateway(self) -> str:
        return format_address(4, self.vswitch.end - 2)


def render(net: GuestNetwork, family: str, adapter: str = "Ethernet") -> str:
    if not net.addresses:
        return f"# {net.device} has no secondary private IPv4 address to configure\n"
    if family == "rhel":
        out = []
        for i, ip in enumerate(net.addresses):
            out += [f"# /etc/sysconfig/network-scripts/ifcfg-{net.device}:{i}", f"DEVICE={net.device}:{i}",
                    "TYPE=Ethernet", "BOOTPROTO=static", "ONBOOT=yes", f"IPADDR={ip}", f"NETMASK={net.netmask}",
                    f"GATEWAY={net.gateway}", ""]
        out.append("# then: systemctl restart network   (or: service network restart)")
    elif family == "debian":
        out = ["# /etc/network/interfaces"]
        for i, ip in enumerate(net.addresses):
            out += [f"auto {net.device}:{i}", f"iface {net.device}:{i} inet static", f"address {ip}",
                    f"netmask {net.netmask}", f"gateway {net.gateway}", ""]
        out.append("# then: systemctl restart networking   (or: service networking restart)")
    elif family == "sles":
        out = [f"# /etc/sysconfig/network/ifcfg-{net.device}"]
        for i, ip in enumerate(net.addresses):
            out += [f"IPADDR_{i}={ip}", f"NETMASK_{i}={net.vswitch.prefix}", f"LABEL_{i}='{i}'", ""]
        out.append("# then: systemctl restart network   (or: service network restart)")
    elif family == "windows":
        out = [f"REM Adapter \"{adapter}\": add each address with the vSwitch's mask, then the default gateway"]
        out += [f'netsh interface ipv4 add address name="{adapter}" address={ip} mask={net.netmask}'
                for ip in net.addresses]
        out.append(f'netsh interface ipv4 add address name="{adapter}" gateway={net.gateway} gwmetric=1')
    else:
        raise ReconcilerError("Spec.InvalidValue", f"--os must be one of {', '.join(OS_FAMILIES)}")
    return "\n".join(out).rstrip() + "\n"


def guest_network(resources, address: str, device: str | None = None) -> GuestNetwork:
    """The guest view of the ENI at ``address`` in the recorded state."""
    rec = resources.get(address)
    if rec is None or rec["type"] != "eni":
        raise ReconcilerError("State.NoSuchResource", f"{address} is not an ENI in the state (see `ipamctl state list`)",
                              address=address)
    a = rec["attributes"]
    vsw = resources.get(f"vswitch.{a['vswitch']}")
    if vsw is None:
        raise ReconcilerError("State.NoSuchResource", f"vswitch.{a['vswitch']} is not in the state", address=address)
    if device is None:
        device = "eth0"
        if not a.get("primary") and a.get("instance"):
            siblings = sorted(n for n, r in resources.items() if r["type"] == "eni" and not r["attributes"].get("primary")
                              and r["attributes"].get("instance") == a["instance"])
            device = f"eth{siblings.index(address) + 1}"
    return GuestNetwork(device, tuple(a.get("secondary_private_ips") or ()), Cidr.parse(vsw["attributes"]["cidr"]))
